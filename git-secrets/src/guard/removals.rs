//! Who was removed before each commit the hooks and `check` judge (check 5): a blob
//! sealed under a key wrapped to a member removed before its commit is refused.

use std::collections::HashMap;

use crate::access::Access;
use crate::git::Repo;

/// Versions of access.json: (commit, its JSON).
type Versions = Vec<(String, serde_json::Value)>;

/// Who was removed before each checked commit, for check 5, read on first need: for the
/// index, HEAD's history of access.json through the clone's memory (crate::continuity,
/// which reads only what it does not hold yet); for commits, the history of all of them
/// in one `git log`, a removal counting for the commits it is an ancestor of.
#[derive(Default)]
pub(super) struct Removals<'a> {
    /// The checked commits.
    commits: Vec<&'a str>,
    index: Option<crate::continuity::Seen>,
    /// The checked commits' history of access.json, and what it shows (`None` inside:
    /// git could not list it).
    history: Option<Option<(Versions, crate::continuity::Seen)>>,
    ancestor: HashMap<(String, &'a str), bool>,
}

impl<'a> Removals<'a> {
    /// For the checked `commits` (none: the index).
    pub(super) fn of(commits: Vec<&'a str>) -> Removals<'a> {
        Removals {
            commits,
            ..Default::default()
        }
    }

    /// The members removed before `commit` (the index: HEAD and this clone's memory) that
    /// `key` (a head of `env` in `access`, the commit's) was ever wrapped to.
    pub(super) fn before(
        &mut self,
        repo: &Repo,
        commit: Option<&'a str>,
        access: &Access,
        env: &str,
        key: &str,
    ) -> Vec<String> {
        let now: Vec<&str> = access
            .keys
            .get(env)
            .and_then(|k| k.iter().find(|(id, _)| id.0 == key))
            .map(|(_, r)| r.wrapped.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let Some(commit) = commit else {
            let seen = self.index.get_or_insert_with(|| {
                let mut folded = None;
                crate::workspace::fold_head_history(repo, None, |seen| {
                    let (all, stored) = crate::continuity::remember_seen(&repo.root, None, seen);
                    folded = Some(all);
                    stored
                });
                folded.unwrap_or_else(|| {
                    crate::continuity::remember_seen(&repo.root, None, &Default::default()).0
                })
            });
            let mut out: Vec<String> = now
                .into_iter()
                .chain(seen.wrapped_to(key))
                .filter(|m| seen.removed.contains(*m))
                .map(str::to_owned)
                .collect();
            out.sort();
            out.dedup();
            return out;
        };
        let commits = &self.commits;
        let Some((versions, seen)) = self
            .history
            .get_or_insert_with(|| {
                let versions = crate::workspace::read_revs(repo, commits)?;
                let seen = crate::workspace::seen_in(&versions);
                Some((versions, seen))
            })
            .as_ref()
        else {
            return Vec::new();
        };
        let mut candidates: Vec<&str> = now
            .into_iter()
            .chain(seen.wrapped_to(key))
            .filter(|m| seen.removed.contains(*m))
            .collect();
        candidates.sort();
        candidates.dedup();
        let ancestor = &mut self.ancestor;
        candidates
            .into_iter()
            .filter(|m| {
                crate::workspace::removed_at(versions, m).any(|r| {
                    r == commit
                        || *ancestor.entry((r.to_owned(), commit)).or_insert_with(|| {
                            repo.git(&["merge-base", "--is-ancestor", r, commit])
                                .is_ok()
                        })
                })
            })
            .map(str::to_owned)
            .collect()
    }
}
