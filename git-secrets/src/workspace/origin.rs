//! Where an orphan came from, for `doctor --fix` to merge its changes home
//! (crate::workspace::orphans) and give a reused path back (crate::workspace::strays):
//! the merge (cherry-pick, rebase…) in progress; or, for a reused path with none in
//! progress, the merge commit that brought the old name's file in, committed past the
//! hooks (a clone without git-secrets set up resolves the conflict by taking a side).
//! Its parents then stand for HEAD and MERGE_HEAD, their merge base for the base.
//! FORMAT.md §8.4.

use std::collections::BTreeSet;

use zeroize::Zeroizing;

use super::orphans::Orphan;
use super::Workspace;
use crate::envfile;
use crate::scope::Scope;

/// How many merges touching the path are looked at, newest first, for the one that
/// brought the old name's file in.
const MERGES_LOOKED_AT: &str = "16";

/// The sides an orphan's file came from.
pub(super) struct Origin {
    /// The revisions that may hold the path's own version, as git is told them and the
    /// user is shown them: `HEAD` and the merge in progress's (`MERGE_HEAD`…), or the
    /// committed merge's parents (`HEAD^1`, `HEAD^2`, or `<commit>^1`…).
    pub sides: Vec<String>,
    /// The common ancestor the changes are taken against, when there is one.
    pub base: Option<String>,
}

impl Workspace {
    /// Where `orphan`'s file came from: the merge in progress; with none, for a reused
    /// path, the newest merge commit (of at most [`MERGES_LOOKED_AT`] that changed the
    /// path) whose version of it holds another environment's values. `None` for an
    /// orphan of an undeclared environment with no merge in progress: one older than
    /// the merge is none of its business.
    pub(super) fn origin(&self, scope: &Scope, reused: bool) -> Option<Origin> {
        if let Some(join) = crate::guard::merge::joining(&self.repo) {
            return Some(Origin {
                sides: vec!["HEAD".to_owned(), join.name],
                base: Some(join.base),
            });
        }
        if !reused {
            return None;
        }
        self.committed_merge(scope)
    }

    /// The merge commit that brought the foreign file at `scope`'s path into HEAD's
    /// history ([`Workspace::origin`]).
    fn committed_merge(&self, scope: &Scope) -> Option<Origin> {
        let rel = scope.rel_path();
        let text = |args: &[&str]| -> Option<String> {
            let out = self.repo.git(args).ok()?;
            Some(String::from_utf8_lossy(&out).trim().to_owned())
        };
        let head = text(&["rev-parse", "-q", "--verify", "HEAD^{commit}"])?;
        let listed = text(&[
            "log",
            "--full-history",
            "--merges",
            "-n",
            MERGES_LOOKED_AT,
            "--format=%H %P",
            "HEAD",
            "--",
            &format!(":(literal){rel}"),
        ])?;
        let (commit, parents) = listed.lines().find_map(|line| {
            let mut ids = line.split_whitespace();
            let commit = ids.next()?;
            let parents: Vec<&str> = ids.collect();
            let bytes = self.blob_at(&format!("{commit}:{rel}"))?;
            (parents.len() >= 2 && self.is_foreign(scope, &bytes)).then_some((commit, parents))
        })?;
        let name = if commit == head {
            "HEAD".to_owned()
        } else {
            commit.chars().take(12).collect()
        };
        let base = text(&["merge-base", parents[0], parents[1]]).filter(|b| !b.is_empty());
        Some(Origin {
            sides: (1..=parents.len()).map(|i| format!("{name}^{i}")).collect(),
            base,
        })
    }

    /// What `orphan` was in the common ancestor of where it came from
    /// ([`Workspace::origin`]), with the scope it was sealed for there: stage 1 of a
    /// conflict on its path; or else, in the base, the file of the same service and of
    /// an environment declared there but not now (renamed since), sealed under keys kin
    /// to the orphan's (its own path first: edited on one side; then another: both
    /// sides renamed it, to different names). `None` when it came from nowhere known or
    /// the base has no such file.
    pub(super) fn merge_base_blob(&self, orphan: &Orphan) -> Option<(Scope, Zeroizing<Vec<u8>>)> {
        if let Some(base) = self.index_blob("1", &orphan.scope) {
            return Some((orphan.scope.clone(), base));
        }
        let base = self.origin(&orphan.scope, orphan.reused)?.base?;
        let config = crate::config::Config::stored(&self.repo, Some(&base))?;
        let kin_ids: BTreeSet<&str> = orphan
            .kin
            .iter()
            .filter_map(|env| self.access.keys.get(env))
            .flat_map(|chain| chain.keys().map(|id| id.0.as_str()))
            .collect();
        let mut candidates: Vec<Scope> = config
            .environments
            .iter()
            .filter(|env| !self.config.has_env(env))
            .map(|env| Scope::new(orphan.scope.service.as_deref(), env))
            .collect();
        if orphan.reused {
            // The old name is declared again: its file in the base is at the same path.
            candidates = vec![orphan.scope.clone()];
        }
        candidates.sort_by_key(|s| *s != orphan.scope);
        candidates.into_iter().find_map(|scope| {
            let bytes = self.blob_at(&format!("{base}:{}", scope.rel_path()))?;
            let kin = envfile::key_ids(&bytes)
                .iter()
                .any(|id| kin_ids.contains(id.as_str()));
            kin.then_some((scope, bytes))
        })
    }
}
