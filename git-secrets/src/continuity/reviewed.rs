//! The unverified values this clone's user has reviewed (`git-secrets/reviewed`): `get`
//! showing one in plain text records its token, and the commit hook then lets a commit
//! re-seal that value under the current key (crate::guard's laundering check). Without
//! the record, any `git add` of its file (an edit of another line, `commit -a`, a
//! rotation) would re-seal a value a removed member may have written, unlooked at, and
//! from then on it would pass as verified everywhere.
//!
//! One line per token: `<SHA-256 of the sealed token> <key> <path>`. Tokens are public
//! (what git stores), so nothing secret is kept; the digest only keeps lines short.

use std::collections::HashSet;
use std::path::Path;

use super::{common_dir, one_at_a_time, store};

const REVIEWED_FILE: &str = "git-secrets/reviewed";

/// The line that records `token`, the sealed value of `key` in the scope file `path`.
fn line(path: &str, key: &str, token: &str) -> String {
    format!("{} {key} {path}", crate::journal::sha256_hex(token))
}

/// What this clone has reviewed (empty when nothing, or the memory cannot be read).
#[derive(Default)]
pub struct Reviewed(HashSet<String>);

impl Reviewed {
    pub fn load(root: &Path) -> Reviewed {
        let Some(dir) = common_dir(root) else {
            return Reviewed::default();
        };
        let text = std::fs::read_to_string(dir.join(REVIEWED_FILE)).unwrap_or_default();
        Reviewed(text.lines().map(str::to_owned).collect())
    }

    /// Whether `token` (the sealed value of `key` in `path`) was reviewed here.
    pub fn contains(&self, path: &str, key: &str, token: &str) -> bool {
        self.0.contains(&line(path, key, token))
    }
}

/// Records the tokens of `shown` (path, key, token) as reviewed; returns whether the
/// memory holds them (false when it could not be written: the commit hook will then
/// ask for the review again).
pub fn remember_reviewed(root: &Path, shown: &[(String, String, String)]) -> bool {
    let Some(dir) = common_dir(root) else {
        return false;
    };
    let _one = one_at_a_time();
    let mut known = Reviewed::load(root).0;
    let before = known.len();
    known.extend(shown.iter().map(|(p, k, t)| line(p, k, t)));
    if known.len() == before {
        return true;
    }
    let mut lines: Vec<&String> = known.iter().collect();
    lines.sort();
    let text: String = lines.into_iter().map(|l| format!("{l}\n")).collect();
    store(&dir.join(REVIEWED_FILE), &text)
}
