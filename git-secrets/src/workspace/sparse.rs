//! Secret files outside a sparse checkout: git keeps their index entry (with the
//! skip-worktree bit) but writes no file (`git sparse-checkout set app` in a monorepo
//! leaves `.secrets/` out). Such a file exists: it is read from its staged blob, the
//! encrypted form, decrypted in memory as in a locked clone, and nothing is written for
//! it. A write is refused rather than made: a new work-tree file would hold only what
//! the command set, and the next `git commit -a` after widening the checkout would
//! delete every other committed key; writing the index instead would stage a change
//! nobody sees in `git diff`.

use zeroize::Zeroizing;

use super::Workspace;
use crate::error::Error;
use crate::scope::SECRETS_DIR;

impl Workspace {
    /// Of `paths` (relative, `/`-separated), those git keeps in the index with the
    /// skip-worktree bit while the work tree has no file there: the ones outside the
    /// sparse checkout. Empty pathspecs ask about every file under `.secrets/` and every
    /// tracked file. Only files absent from the work tree are asked about, so a normal
    /// checkout starts no git process here for a file that exists.
    pub fn outside_checkout(&self, paths: &[&str]) -> Vec<String> {
        let all: Vec<String>;
        let asked: Vec<&str> = if paths.is_empty() {
            all = std::iter::once(format!("{SECRETS_DIR}/"))
                .chain(self.config.files.keys().cloned())
                .collect();
            all.iter().map(String::as_str).collect()
        } else {
            paths
                .iter()
                .copied()
                .filter(|p| !self.root().join(p).exists())
                .collect()
        };
        if asked.is_empty() {
            return Vec::new();
        }
        // `-t` tags an entry with the skip-worktree bit `S`; `--` keeps every path a path
        // (literal: no glob magic in a file name).
        let mut args = vec!["--literal-pathspecs", "ls-files", "-t", "-z", "--"];
        args.extend(asked.iter().copied());
        let Ok(out) = self.repo.git(&args) else {
            return Vec::new();
        };
        out.split(|&b| b == 0)
            .filter_map(|entry| entry.strip_prefix(b"S "))
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .filter(|p| !self.root().join(p).exists())
            .collect()
    }

    /// The staged (encrypted) bytes of `rel` when the file is outside the sparse
    /// checkout ([`Workspace::outside_checkout`]); `None` otherwise.
    pub fn staged_outside_checkout(&self, rel: &str) -> Option<Zeroizing<Vec<u8>>> {
        if self.outside_checkout(&[rel]).is_empty() {
            return None;
        }
        self.repo
            .git(&["cat-file", "blob", &format!(":{rel}")])
            .ok()
            .map(Zeroizing::new)
    }

    /// Refuses to write when a secret file among `paths` (every one under `.secrets/`
    /// and every tracked file when `paths` is empty) is outside the sparse checkout:
    /// a command that writes one file, or several together, changes nothing then.
    pub fn refuse_outside_checkout(&self, paths: &[&str]) -> Result<(), Error> {
        let outside = self.outside_checkout(paths);
        let Some(first) = outside.first() else {
            return Ok(());
        };
        let more = match outside.len() {
            1 => String::new(),
            n => format!(" (and {} more file(s) git-secrets keeps)", n - 1),
        };
        let include = if first.starts_with(&format!("{SECRETS_DIR}/")) {
            SECRETS_DIR
        } else {
            first.as_str()
        };
        Err(Error::Refused {
            message: format!(
                "{first}{more} is outside this sparse checkout: git holds it but the work tree has no file, so it cannot be written without dropping what it holds"
            ),
            hint: format!(
                "include it in the sparse checkout (`git sparse-checkout add {include}`) and run the command again; reading (`get`, `run`, `export`) works as it is"
            ),
        })
    }
}
