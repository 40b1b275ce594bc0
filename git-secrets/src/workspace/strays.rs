//! The old name's file at a reused name: `env rename staging preprod`, then `env add
//! staging` on one branch, and an edit of the old `staging` on another. Merged, the
//! edited `.secrets/api/staging.env` holds values sealed under the old `staging` key,
//! which `preprod` holds now, at a path config.toml gives to the new `staging`. Opening
//! it as the new environment's fails (and must: sealing those values again for `staging`
//! would hand `preprod`'s values to whoever reads the new environment), so smudge and the
//! merge driver leave it sealed, the hooks refuse a commit that keeps or drops it, and
//! `doctor --fix` treats it as an orphan of `preprod` (crate::workspace::orphans): its
//! changes merged into `preprod`'s file, then the path given back to the new `staging`
//! (its own side's version, or nothing). A merge committed past the hooks (by a clone
//! without git-secrets set up) is handled the same way, its parents standing for the
//! sides (crate::workspace::origin). FORMAT.md §8.4.

use std::collections::HashSet;

use zeroize::Zeroizing;

use super::Workspace;
use crate::config::SHARED;
use crate::envfile;
use crate::error::Error;
use crate::scope::Scope;

/// How many commits that changed a reused path are looked at, newest first, for its own
/// environment's version ([`Workspace::own_version`]).
const HISTORY_LOOKED_AT: &str = "16";

impl Workspace {
    /// The key ids of `bytes` (a file at `scope`'s path) that `scope`'s environment's
    /// chain does not hold but another environment's does.
    pub fn foreign_ids(&self, scope: &Scope, bytes: &[u8]) -> HashSet<String> {
        let own = self.access.keys.get(&scope.env);
        envfile::key_ids(bytes)
            .into_iter()
            .filter(|id| !own.is_some_and(|c| c.keys().any(|k| k.0 == *id)))
            .filter(|id| self.env_of_key(id).is_some())
            .collect()
    }

    /// Whether `bytes` at `scope`'s path (a declared environment's) hold values sealed
    /// for another environment.
    pub fn is_foreign(&self, scope: &Scope, bytes: &[u8]) -> bool {
        scope.env != SHARED
            && self.config.has_env(&scope.env)
            && !self.foreign_ids(scope, bytes).is_empty()
    }

    /// The sealed form of the file at a declared path that holds another environment's
    /// values: the work tree's (smudge left it sealed), or else, in the index, a side of
    /// a conflict on the path, or the staged blob during a merge.
    pub(super) fn foreign_form(&self, scope: &Scope) -> Option<Zeroizing<Vec<u8>>> {
        if let Ok(bytes) = std::fs::read(scope.path(self.root())) {
            let bytes = Zeroizing::new(bytes);
            if envfile::is_encrypted(&bytes) && self.is_foreign(scope, &bytes) {
                return Some(bytes);
            }
        }
        ["3", "2", "0"]
            .into_iter()
            .filter_map(|stage| self.index_blob(stage, scope))
            .find(|bytes| self.is_foreign(scope, bytes))
    }

    /// The paths of declared environments that may hold the old name's values: scope
    /// files of the work tree in sealed form, and, while a merge (cherry-pick…) is in
    /// progress or a path is in conflict, every scope file of the index.
    pub(super) fn reused_paths(&self) -> Vec<Scope> {
        let declared = |s: &Scope| s.env != SHARED && self.config.has_env(&s.env);
        let mut out: Vec<Scope> = self
            .scope_files()
            .into_iter()
            .filter(|s| declared(s))
            .filter(|s| {
                std::fs::read(s.path(self.root()))
                    .is_ok_and(|b| envfile::is_encrypted(&b) && !self.foreign_ids(s, &b).is_empty())
            })
            .collect();
        let Ok(listed) = self.repo.git(&["ls-files", "-s", "-z", "--", ".secrets"]) else {
            return out;
        };
        let unmerged = listed.split(|&b| b == 0).any(|e| {
            e.windows(3)
                .any(|w| matches!(w, b" 1\t" | b" 2\t" | b" 3\t"))
        });
        if !unmerged && crate::guard::merge::joining(&self.repo).is_none() {
            return out;
        }
        for entry in listed.split(|&b| b == 0) {
            let Some(tab) = entry.iter().position(|&b| b == b'\t') else {
                continue;
            };
            let path = String::from_utf8_lossy(&entry[tab + 1..]);
            let Some(scope) = Scope::from_rel_path(&path) else {
                continue;
            };
            if declared(&scope) && !out.contains(&scope) && self.foreign_form(&scope).is_some() {
                out.push(scope);
            }
        }
        out
    }

    /// The revision whose version of `scope`'s path is sealed for its own environment,
    /// and that version: HEAD's, or else a side's of where the old name's file came from
    /// ([`Workspace::origin`]: the merge in progress, or the committed merge that brought
    /// it in), or else, when neither has one (a cherry-pick committed past the hooks),
    /// the newest version in the path's history ([`HISTORY_LOOKED_AT`] commits) sealed
    /// only under that environment's keys.
    pub(super) fn own_version(&self, scope: &Scope) -> Option<(String, Zeroizing<Vec<u8>>)> {
        let rel = scope.rel_path();
        let mut revs = vec!["HEAD".to_owned()];
        for side in self
            .origin(scope, true)
            .map(|o| o.sides)
            .unwrap_or_default()
        {
            if !revs.contains(&side) {
                revs.push(side);
            }
        }
        let found = revs.into_iter().find_map(|rev| {
            let bytes = self.blob_at(&format!("{rev}:{rel}"))?;
            (!self.is_foreign(scope, &bytes)).then_some((rev, bytes))
        });
        if found.is_some() {
            return found;
        }
        let listed = self
            .repo
            .git(&[
                "log",
                "-n",
                HISTORY_LOOKED_AT,
                "--format=%H",
                "HEAD",
                "--",
                &format!(":(literal){rel}"),
            ])
            .ok()?;
        let own = self.access.keys.get(&scope.env)?;
        String::from_utf8_lossy(&listed).lines().find_map(|commit| {
            let bytes = self.blob_at(&format!("{commit}:{rel}"))?;
            let ids = envfile::key_ids(&bytes);
            let sealed_for_it = envfile::is_encrypted(&bytes)
                && !ids.is_empty()
                && ids.iter().all(|id| own.keys().any(|k| k.0 == *id));
            sealed_for_it.then(|| (commit.chars().take(12).collect(), bytes))
        })
    }

    /// After the old name's values at `scope`'s path went home: the path given back to
    /// its own environment. Its own version ([`Workspace::own_version`]) is checked out
    /// (which resolves a conflict on it); with none, the file is removed. Returns the
    /// revision checked out. A work-tree file holding plaintext other than that
    /// version's or than `moved` (the old values, just moved home) is an edit of the new
    /// environment's: it is left alone and not staged (`Ok(Err(()))`).
    pub(super) fn give_back(
        &self,
        scope: &Scope,
        moved: &crate::dotenv::Document,
    ) -> Result<Result<Option<String>, ()>, Error> {
        let rel = scope.rel_path();
        let own = self.own_version(scope);
        if let Ok(Some(now)) = self.read_bytes(scope) {
            if !envfile::is_encrypted(&now) && !now.is_empty() {
                let old = moved.print().expose().as_bytes() == now.as_slice();
                let same = old
                    || own.as_ref().is_some_and(|(_, bytes)| {
                        self.decrypt(scope, bytes)
                            .is_ok_and(|doc| doc.print().expose().as_bytes() == now.as_slice())
                    });
                if !same {
                    return Ok(Err(()));
                }
            }
        }
        match own {
            Some((rev, _)) => {
                self.repo.git(&["checkout", &rev, "--", &rel])?;
                Ok(Ok(Some(rev)))
            }
            None => {
                self.remove_orphan(scope)?;
                Ok(Ok(None))
            }
        }
    }
}
