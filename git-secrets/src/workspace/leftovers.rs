//! Temporary files of ours (crate::fsutil::TEMP_PREFIX) that an interrupted write left
//! in the work tree (plaintext, for a scope file of an unlocked clone) or in this clone's
//! state directories (a journal, the clone's memory of keys, the fsmonitor's digests).
//! Every command removes those in the directories git-secrets writes to
//! (crate::cli::open); `lock` and `doctor` look through the whole work tree. Only files
//! no running write may own are removed (the directory lock of crate::fsutil). The
//! filter and the hooks never look: they run often, and the next command cleans up.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::Workspace;
use crate::error::Error;
use crate::fsutil::{self, Leftovers};
use crate::scope::SECRETS_DIR;

impl Workspace {
    /// The directories git-secrets writes to on its own: the top (.gitignore,
    /// .gitattributes), `.secrets/` and its service directories, those of tracked files,
    /// and the state directories ([`Workspace::state_dirs`]).
    fn written_dirs(&self) -> BTreeSet<PathBuf> {
        let root = self.root();
        let mut dirs = BTreeSet::from([root.to_owned(), root.join(SECRETS_DIR)]);
        dirs.extend(self.state_dirs());
        if let Ok(entries) = std::fs::read_dir(root.join(SECRETS_DIR)) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.insert(e.path());
                }
            }
        }
        for path in self.config.files.keys() {
            if let Some(dir) = root.join(path).parent() {
                dirs.insert(dir.to_owned());
            }
        }
        dirs
    }

    /// This clone's state directories: the checkout's own (`<git dir>/git-secrets/`:
    /// journals, crate::fsmonitor's files) and, in a linked worktree, the clone's
    /// (`<common git dir>/git-secrets/`: crate::continuity's memory).
    fn state_dirs(&self) -> Vec<PathBuf> {
        let own = crate::journal::state_dir(&self.repo).ok();
        let git_dir = crate::git::git_dir(self.root());
        let common = crate::continuity::common_dir(self.root())
            .filter(|c| git_dir.as_ref() != Some(c))
            .map(|c| {
                let dir = c.join("git-secrets");
                // `<git dir>/../..`, from a worktree's `commondir`, said plainly.
                std::fs::canonicalize(&dir).unwrap_or(dir)
            });
        own.into_iter().chain(common).collect()
    }

    /// Our temporary files in the directories git-secrets writes to, and with
    /// `whole_tree` in every directory of the work tree (an `export` to a file there,
    /// say), split into stale and busy ([`fsutil::leftovers`]); with `remove`, the stale
    /// ones are deleted.
    pub fn leftovers(&self, whole_tree: bool, remove: bool) -> Result<Leftovers, Error> {
        let mut dirs = self.written_dirs();
        if whole_tree {
            let pattern = format!(":(glob)**/{}*", fsutil::TEMP_PREFIX);
            // Untracked files, ignored ones included (no --exclude-standard).
            let out = self
                .repo
                .git(&["ls-files", "-z", "--others", "--", &pattern])?;
            for p in out.split(|&b| b == 0).filter(|p| !p.is_empty()) {
                let path = self.root().join(String::from_utf8_lossy(p).as_ref());
                if let Some(dir) = path.parent() {
                    dirs.insert(dir.to_owned());
                }
            }
        }
        let mut found = Leftovers::default();
        for dir in dirs {
            found.extend(fsutil::leftovers(&dir, remove)?);
        }
        Ok(found)
    }

    /// `path` relative to the top of the work tree, for messages.
    pub fn shown_path(&self, path: &std::path::Path) -> String {
        path.strip_prefix(self.root())
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }
}
