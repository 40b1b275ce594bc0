//! The environment a clone first knew each tracked file in (`git-secrets/tracked-files`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{common_dir, one_at_a_time, pairs, store_pairs};
use crate::error::Error;

const TRACKED_FILE: &str = "git-secrets/tracked-files";

/// The environment this clone first knew each tracked file in (`<environment> <path>`
/// lines): `config.toml` says which key seals a tracked file, and anyone who can push can
/// change it, so a file moves to another environment only by a `track -e` on this clone.
fn tracked_memory(root: &Path) -> Option<PathBuf> {
    common_dir(root).map(|d| d.join(TRACKED_FILE))
}

fn load_tracked(path: &Path) -> BTreeMap<String, String> {
    pairs(path).map(|(env, p)| (p, env)).collect()
}

/// Remembers the environment of each tracked file this clone did not know yet
/// (`files`: path → environment); with `moved`, the given ones replace what was known
/// (`track -e` here). Returns what the clone knows.
pub fn remember_tracked<'a>(
    root: &Path,
    files: impl IntoIterator<Item = (&'a String, &'a String)>,
    moved: bool,
) -> BTreeMap<String, String> {
    let Some(path) = tracked_memory(root) else {
        return BTreeMap::new();
    };
    let _one = one_at_a_time();
    let mut known = load_tracked(&path);
    let before = known.clone();
    for (file, env) in files {
        if moved {
            known.insert(file.clone(), env.clone());
        } else {
            known.entry(file.clone()).or_insert_with(|| env.clone());
        }
    }
    if known != before {
        store_pairs(&path, known.iter().map(|(p, e)| (e, p)));
    }
    known
}

/// The environment this clone knows the tracked file `file` in.
pub fn known_tracked(root: &Path, file: &str) -> Option<String> {
    load_tracked(&tracked_memory(root)?).remove(file)
}

/// Refuses to seal the tracked file `file` for `env` when this clone knew it in another
/// environment (config.toml was changed since, not by `track -e` here).
pub fn check_tracked(root: &Path, file: &str, env: &str) -> Result<(), Error> {
    match known_tracked(root, file) {
        Some(was) if was != env => Err(Error::Refused {
            message: format!("{file} is tracked in `{was}` as far as this clone knows, but .secrets/config.toml now names `{env}` for it: sealing it with the key of `{env}` would give it to whoever reads `{env}`"),
            hint: format!("if the move is meant, run `git secrets track {file} -e {env}` (a member who reads both); otherwise put the line back (`git log -p .secrets/config.toml` shows who changed it)"),
        }),
        _ => Ok(()),
    }
}
