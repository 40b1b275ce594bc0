//! HEAD's history of `.secrets/access.json`, for the decisions that must not take the
//! current file's word: anyone who can push can edit it, or `git revert` a removal.
//!
//! - A removal is final: a member that any version in HEAD's history marks removed (or
//!   that this clone saw removed) gets no new key again, whatever the current file says
//!   (it must join with a new identity).
//! - What a member could read is what was ever wrapped to it, not the environments its
//!   entry lists now: a removal rotates every environment whose key chain it was given.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Workspace, ACCESS_FILE};
use crate::access::{Access, Status};
use crate::git::Repo;

/// Every version of access.json in HEAD's history, newest first: (commit, its JSON).
/// `None` when git cannot list them (no commit yet, a broken repository). Versions are
/// read as plain JSON, not validated: an older version may predate a rule of today's
/// format (member ids were once derived from SSH comments too), and what it says about
/// removals and wraps still counts.
pub type History = Option<Vec<(String, Value)>>;

/// Reads the history: one `git log` over every path to HEAD (`--full-history`, so a side
/// branch whose version a merge did not keep is still seen; `-m`, so a version a merge
/// wrote is too), then every version in one `git cat-file --batch`. Versions that are not
/// JSON are skipped (no tool could have used them).
pub fn read(repo: &Repo) -> History {
    read_revs(repo, &["HEAD"])
}

/// [`read`] of the history of `revs` (commits, and `--not` before the ones whose history
/// is left out).
pub fn read_revs(repo: &Repo, revs: &[&str]) -> History {
    let mut args = vec![
        "log",
        "--full-history",
        "-m",
        "--format=%H",
        "--diff-filter=AM",
    ];
    args.extend(revs);
    args.extend(["--", ACCESS_FILE]);
    let out = repo.git(&args).ok()?;
    let mut seen = BTreeSet::new();
    // Only object ids: whatever else a user's configuration makes git print is not one.
    let commits: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .filter(|c| is_oid(c) && seen.insert(c.to_string()))
        .map(str::to_owned)
        .collect();
    let revs: Vec<String> = commits
        .iter()
        .map(|c| format!("{c}:{ACCESS_FILE}"))
        .collect();
    let blobs = repo
        .read_blobs(&revs.iter().map(String::as_str).collect::<Vec<_>>())
        .ok()?;
    Some(
        commits
            .into_iter()
            .zip(blobs)
            .filter_map(|(commit, text)| Some((commit, serde_json::from_slice(&text).ok()?)))
            .collect(),
    )
}

/// Whether `s` is a full object id.
pub(crate) fn is_oid(s: &str) -> bool {
    matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Adds what HEAD's history of access.json shows of the members (who was removed, to
/// whom each key was wrapped) to the clone's memory (crate::continuity) with `remember`,
/// which says whether it was stored: a fresh clone, or one whose access.json a revert, a
/// cherry-pick or `git checkout <old> -- .secrets/access.json` put back to before a
/// removal, must not take the current file's word. The memory records the commits whose
/// history it holds, so only versions newer than those are read (nothing at all while
/// HEAD is one of them); the full history when that fails. `full`: the whole history,
/// when it was read already.
pub fn fold_head_history(
    repo: &Repo,
    full: Option<&History>,
    remember: impl FnOnce(&crate::continuity::Seen) -> bool,
) {
    let Some(head) = head_commit(repo) else {
        return; // no commit yet: no history
    };
    let done = crate::continuity::history_read(&repo.root);
    if done.contains(&head) {
        return;
    }
    let versions = match full {
        Some(full) => full.clone(),
        None => {
            let mut revs = vec![head.as_str(), "--not"];
            revs.extend(done.iter().map(String::as_str));
            read_revs(repo, &revs).or_else(|| read_revs(repo, &[&head]))
        }
    };
    let Some(versions) = versions else {
        return;
    };
    // A shallow clone's history stops at its boundary: what it holds is remembered, but
    // not as HEAD's whole history, so it is read again once the clone is deepened.
    if remember(&seen_in(&versions)) && !is_shallow(repo) {
        crate::continuity::remember_history_read(&repo.root, &head, &done);
    }
}

/// Whether the clone is shallow (`git clone --depth`, as CI checkouts are by default):
/// its history stops at a boundary, and the versions of access.json before it, with any
/// removal they record, are not here. git records the boundary in `<common dir>/shallow`;
/// git is asked only when that directory cannot be read off the files.
pub(crate) fn is_shallow(repo: &Repo) -> bool {
    match crate::continuity::common_dir(&repo.root) {
        Some(dir) => dir.join("shallow").exists(),
        None => repo
            .git(&["rev-parse", "--is-shallow-repository"])
            .is_ok_and(|out| String::from_utf8_lossy(&out).trim() == "true"),
    }
}

/// Says once per process, before a value is sealed in a shallow clone, that a removal
/// before the clone's boundary goes unseen. Sealing is not refused there (a CI job that
/// sets a value would fail in every default checkout): giving keys is
/// ([`Workspace::require_whole_history`]), and the pre-push hook and `check` of any full
/// clone flag values sealed under a key a removed member holds.
pub(crate) fn warn_if_shallow(repo: &Repo) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if is_shallow(repo) {
            eprintln!("git-secrets: warning: this clone is shallow (`git clone --depth`): a member removed in the history before its first commit would go unseen, and could hold the key new values are sealed under; `git fetch --unshallow` lets git-secrets check");
        }
    });
}

/// HEAD's commit id: read from the files when HEAD names a loose branch or a commit (no
/// git started: every sealing command asks), else from `git rev-parse`.
fn head_commit(repo: &Repo) -> Option<String> {
    let from_files = || {
        let head = crate::git::head_file(&repo.root)?;
        if is_oid(&head) {
            return Some(head);
        }
        let name = head.strip_prefix("ref: ")?;
        if !name.starts_with("refs/heads/") || name.split('/').any(|p| p == ".." || p.is_empty()) {
            return None;
        }
        let common = crate::continuity::common_dir(&repo.root)?;
        let oid = std::fs::read_to_string(common.join(name)).ok()?;
        Some(oid.trim().to_owned()).filter(|o| is_oid(o))
    };
    from_files().or_else(|| {
        repo.git(&["rev-parse", "--verify", "-q", "HEAD^{commit}"])
            .ok()
            .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
            .filter(|h| is_oid(h))
    })
}

/// What `versions` show of the members: who was removed, to whom each key was wrapped.
pub fn seen_in(versions: &[(String, Value)]) -> crate::continuity::Seen {
    let mut seen = crate::continuity::Seen::default();
    for (_, version) in versions {
        seen.removed
            .extend(removed_members(version).map(|(id, _)| id.to_owned()));
        seen.wrapped.extend(wraps(version));
        seen.heads.extend(heads(version));
    }
    seen
}

/// The current keys of each environment of a version, each with one grant of it (the
/// first member's), as `<environment> <key id> <member id> <recipient> <grant>` (for
/// crate::continuity::lineage: the grant pins the key's bytes). A key with no grant (a
/// file written before grants) is left out: nothing would tell it from a key of
/// someone's own with its id.
pub(super) fn heads(version: &Value) -> impl Iterator<Item = String> + '_ {
    let members = version.get("members").and_then(Value::as_object);
    version
        .get("keys")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(env, records)| Some((env, records.as_object()?)))
        .flat_map(|(env, records)| records.iter().map(move |(id, r)| (env, id, r)))
        .filter(|(_, _, r)| superseded_by(r).is_none_or(|s| s.is_empty()))
        .filter_map(move |(env, id, r)| {
            let (member, grant) = r.get("grants")?.as_object()?.iter().next()?;
            let recipient = members?.get(member)?.get("recipient")?.as_str()?;
            let fields = [env.as_str(), id, member, recipient, grant.as_str()?];
            fields
                .iter()
                .all(|f| !f.is_empty() && !f.contains(char::is_whitespace))
                .then(|| fields.join(" "))
        })
}

fn superseded_by(record: &Value) -> Option<&serde_json::Map<String, Value>> {
    record.get("superseded_by").and_then(Value::as_object)
}

/// A key HEAD's history gave this member that the current chain leaves behind
/// (crate::continuity::lineage).
pub struct Recovered {
    pub id: crate::seal::KeyId,
    pub key: crate::secret::DataKey,
    /// The members some version granted it to, by grants that verify under its bytes.
    pub granted: BTreeSet<String>,
}

/// Recovers key `id` of `env` from the first of `versions` that wraps it to `member`,
/// unwrapped with `identity` and checked against its id, with the members every
/// version that holds it granted it to.
pub fn recover_key(
    versions: &[(String, Value)],
    env: &str,
    id: &crate::seal::KeyId,
    member: &str,
    identity: &crate::identity::Identity,
) -> Option<Recovered> {
    let record = |version: &'_ Value| version.get("keys")?.get(env)?.get(&id.0).cloned();
    let key = versions.iter().find_map(|(_, version)| {
        let wrapped = record(version)?
            .get("wrapped")?
            .get(member)?
            .as_str()?
            .to_owned();
        crate::access::chain::open_wrapped(&wrapped, identity, id, env)
    })?;
    let mut granted = BTreeSet::new();
    for (_, version) in versions {
        let Some(grants) = record(version).and_then(|r| r.get("grants").cloned()) else {
            continue;
        };
        for (m, grant) in grants.as_object().into_iter().flatten() {
            let recipient = version["members"][m]["recipient"].as_str();
            if let (Some(recipient), Some(grant)) = (recipient, grant.as_str()) {
                if crate::access::grant::grant_holds(&key, m, recipient, grant) {
                    granted.insert(m.clone());
                }
            }
        }
    }
    Some(Recovered {
        id: id.clone(),
        key,
        granted,
    })
}

/// The commits of `versions` that mark `member` removed.
pub fn removed_at<'a>(
    versions: &'a [(String, Value)],
    member: &'a str,
) -> impl Iterator<Item = &'a str> {
    versions
        .iter()
        .filter(move |(_, v)| removed_members(v).any(|(id, _)| id == member))
        .map(|(c, _)| c.as_str())
}

/// The members of a version marked removed: (member id, recipient).
fn removed_members(version: &Value) -> impl Iterator<Item = (&str, &str)> {
    version
        .get("members")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, m)| m.get("status").and_then(Value::as_str) == Some("removed"))
        .map(|(id, m)| {
            let recipient = m.get("recipient").and_then(Value::as_str).unwrap_or("");
            (id.as_str(), recipient)
        })
}

/// Every key record of a version, each environment's: (key id, the members it is
/// wrapped to).
fn key_records(version: &Value) -> impl Iterator<Item = (&str, Vec<&str>)> {
    version
        .get("keys")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(_, records)| records.as_object())
        .flatten()
        .map(|(id, r)| {
            let members = r
                .get("wrapped")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(m, _)| m.as_str())
                .collect();
            (id.as_str(), members)
        })
}

/// The key ids of a version wrapped to `member`.
fn keys_wrapped_to<'a>(version: &'a Value, member: &'a str) -> impl Iterator<Item = &'a str> {
    key_records(version)
        .filter(move |(_, members)| members.contains(&member))
        .map(|(id, _)| id)
}

/// Every wrap of a version, as `<key id> <member id>`.
fn wraps(version: &Value) -> impl Iterator<Item = String> + '_ {
    key_records(version).flat_map(|(key, members)| {
        members
            .into_iter()
            .map(move |member| format!("{key} {member}"))
    })
}

fn short(commit: &str) -> String {
    format!("commit {}", &commit[..commit.len().min(12)])
}

impl Workspace {
    /// Refuses `what` in a shallow clone: it gives keys to members, and only the whole
    /// history of access.json shows who was removed (a revert, or an entry edited back
    /// to a request, takes the removal out of the current file). The history before the
    /// clone's boundary is not here, and a removal there would go unseen.
    pub fn require_whole_history(&self, what: &str) -> Result<(), crate::error::Error> {
        if !is_shallow(&self.repo) {
            return Ok(());
        }
        Err(crate::error::Error::Refused {
            message: format!(
                "{what} needs the whole history of {ACCESS_FILE} (a member removed there stays removed), and this clone is shallow (`git clone --depth`): the older versions are not here"
            ),
            hint: "fetch them with `git fetch --unshallow` (in CI, check out with the full history, e.g. `fetch-depth: 0`), then run it again".into(),
        })
    }

    /// HEAD's history of access.json (read once per process).
    pub fn access_history(&self) -> &History {
        self.history.get_or_init(|| read(&self.repo))
    }

    /// Takes `history`, read ahead by [`read`] in this repository (`unlock` reads it
    /// beside decrypting), unless it was read already.
    pub fn know_access_history(&self, history: History) {
        let _ = self.history.set(history);
    }

    /// Adds HEAD's history of access.json to this clone's memory, once per process (see
    /// [`fold_head_history`]).
    pub(super) fn fold_head_history(&self) {
        self.history_folded.get_or_init(|| {
            fold_head_history(&self.repo, self.history.get(), |seen| {
                self.remember_seen(seen)
            })
        });
    }

    /// Members removed in a version of access.json in HEAD's history, or seen removed by
    /// this clone (crate::continuity): member id → where (`commit <short id>`, or
    /// `seen by this clone` for a removal on a branch HEAD does not have). Those of the
    /// history are remembered by the clone from now on.
    pub fn removals(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let history = self.access_history().as_deref().unwrap_or_default();
        for (commit, version) in history {
            for (id, _) in removed_members(version) {
                out.entry(id.to_owned()).or_insert_with(|| short(commit));
            }
        }
        self.remember_seen(&seen_in(history));
        for id in self.seen().removed.iter() {
            out.entry(id.clone())
                .or_insert_with(|| "seen by this clone".into());
        }
        out
    }

    /// The environments (current names) whose key chain holds a key that was ever
    /// wrapped to `member`, in this access.json or any version in HEAD's history; `None`
    /// when the history cannot be read. Keys keep their ids through a rename, so a key
    /// given under an old name is found under the new one.
    pub fn environments_given(&self, member: &str) -> Option<BTreeSet<String>> {
        let history = self.access_history().as_ref()?;
        let mut given: BTreeSet<&str> = self
            .access
            .keys
            .values()
            .flat_map(|records| records.iter())
            .filter(|(_, r)| r.wrapped.contains_key(member))
            .map(|(id, _)| id.0.as_str())
            .collect();
        for (_, version) in history {
            given.extend(keys_wrapped_to(version, member));
        }
        Some(
            self.access
                .keys
                .iter()
                .filter(|(_, records)| records.keys().any(|id| given.contains(id.0.as_str())))
                .map(|(env, _)| env.clone())
                .collect(),
        )
    }

    /// The newest commit in HEAD's history whose access.json marks removed a member with
    /// the same key as `recipient` (compared as keys: an SSH comment or the case of an age
    /// recipient does not make another member).
    pub fn removed_in_history(&self, recipient: &str) -> Option<String> {
        let key = crate::identity::canonical_recipient(recipient)?;
        self.access_history()
            .iter()
            .flatten()
            .find(|(_, version)| {
                removed_members(version)
                    .any(|(_, r)| crate::identity::canonical_recipient(r).is_some_and(|r| r == key))
            })
            .map(|(commit, _)| commit.clone())
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
