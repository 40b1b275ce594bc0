//! HEAD's history of `.secrets/access.json`, for the decisions that must not take the
//! current file's word: anyone who can push can edit it, or `git revert` a removal.
//!
//! - A removal is final: a member that any version in HEAD's history marks removed (or
//!   that this clone saw removed) gets no new key again, whatever the current file says
//!   (it must join with a new identity).
//! - What a member could read is what was ever wrapped to it, not the environments its
//!   entry lists now: a removal rotates every environment whose key chain it was given.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{Workspace, ACCESS_FILE};
use crate::access::{Access, Status};
use crate::seal::KeyId;

/// Every version of access.json in HEAD's history, newest first: (commit, file). `None`
/// when git cannot list them (no commit yet, a broken repository).
pub type History = Option<Vec<(String, Access)>>;

/// Reads the history: one `git log` over every path to HEAD (`--full-history`, so a side
/// branch whose version a merge did not keep is still seen; `-m`, so a version a merge
/// wrote is too), then every version in one `git cat-file --batch`. Versions that do not
/// parse are skipped (they never held a key anyone could use).
pub(super) fn read(ws: &Workspace) -> History {
    let out = ws
        .repo
        .git(&[
            "log",
            "--full-history",
            "-m",
            "--format=%H",
            "--diff-filter=AM",
            "HEAD",
            "--",
            ACCESS_FILE,
        ])
        .ok()?;
    let mut seen = BTreeSet::new();
    let commits: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .filter(|c| !c.is_empty() && seen.insert(c.to_string()))
        .map(str::to_owned)
        .collect();
    let revs: Vec<String> = commits
        .iter()
        .map(|c| format!("{c}:{ACCESS_FILE}"))
        .collect();
    let blobs = ws
        .repo
        .read_blobs(&revs.iter().map(String::as_str).collect::<Vec<_>>())
        .ok()?;
    Some(
        commits
            .into_iter()
            .zip(blobs)
            .filter_map(|(commit, text)| {
                let access =
                    Access::parse(&String::from_utf8_lossy(&text), Path::new(ACCESS_FILE)).ok()?;
                Some((commit, access))
            })
            .collect(),
    )
}

impl Workspace {
    /// HEAD's history of access.json (read once per process).
    pub fn access_history(&self) -> &History {
        self.history.get_or_init(|| read(self))
    }

    /// Members removed in a version of access.json in HEAD's history, or seen removed by
    /// this clone (crate::continuity): member id → where (`commit <short id>`, or
    /// `seen by this clone` for a removal on a branch HEAD does not have). Those of the
    /// history are remembered by the clone from now on.
    pub fn removals(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (commit, access) in self.access_history().iter().flatten() {
            for (id, m) in &access.members {
                if m.status == Status::Removed {
                    out.entry(id.clone())
                        .or_insert_with(|| format!("commit {}", &commit[..commit.len().min(12)]));
                }
            }
        }
        crate::continuity::remember_removed(self.root(), out.keys().map(String::as_str));
        for id in crate::continuity::removed(self.root()) {
            out.entry(id).or_insert_with(|| "seen by this clone".into());
        }
        out
    }

    /// The environments (current names) whose key chain holds a key that was ever
    /// wrapped to `member`, in this access.json or any version in HEAD's history; `None`
    /// when the history cannot be read. Keys keep their ids through a rename, so a key
    /// given under an old name is found under the new one.
    pub fn environments_given(&self, member: &str) -> Option<BTreeSet<String>> {
        let history = self.access_history().as_ref()?;
        let mut given: BTreeSet<&KeyId> = BTreeSet::new();
        for access in std::iter::once(&self.access).chain(history.iter().map(|(_, a)| a)) {
            for records in access.keys.values() {
                given.extend(
                    records
                        .iter()
                        .filter(|(_, r)| r.wrapped.contains_key(member))
                        .map(|(id, _)| id),
                );
            }
        }
        Some(
            self.access
                .keys
                .iter()
                .filter(|(_, records)| records.keys().any(|id| given.contains(id)))
                .map(|(env, _)| env.clone())
                .collect(),
        )
    }

    /// Marks removed again, in `next`, every member removed before ([`Workspace::removals`])
    /// that `next` lists otherwise (an edit by hand, a revert), so no new key goes to it.
    /// Returns (member id, where it was removed) for each.
    pub fn keep_removed(&self, next: &mut Access) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (id, commit) in self.removals() {
            if let Some(m) = next.members.get_mut(&id) {
                if m.status != Status::Removed {
                    m.status = Status::Removed;
                    m.removed_at.get_or_insert_with(crate::access::now);
                    out.push((id, commit));
                }
            }
        }
        out
    }
}
