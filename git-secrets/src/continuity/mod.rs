//! Key continuity: a clone remembers the keys it has held, per environment, and
//! refuses to use an environment whose keys in access.json reach none of them.
//!
//! Why: grants (`access::grant`) stop someone who can push but holds no key from joining a
//! chain, but such a person can still replace an environment's keys wholesale with a key
//! of their own, wrapped to every member. Everything would still open, and every value
//! sealed afterwards (a `git add` re-seals a whole file under the current key) would be
//! readable to them, or chosen by them. A real rotation keeps the old key reachable (it is
//! sealed under the new one), so a clone that held any key of the environment still
//! reaches one; a replacement reaches none.
//!
//! It also remembers the members it has seen removed (in any access.json it loaded, or
//! in HEAD's history, read before anything is sealed or granted and at `unlock` and
//! `status`: `git-secrets/history-read` lists the commits whose history it holds, so
//! only newer versions are read), and refuses to seal a new value under a
//! current key wrapped to one of them: an access.json where they are back, whether a
//! `git revert` of their removal pushed by the removed member or a branch made before
//! it. (A routine rotation shuts nobody out, so a branch made before one is fine.)
//! Reading stays possible: old commits must still check out.
//!
//! Reaching an old key is not enough, though: someone who held it (a member since removed)
//! can grow the chain again from it, with a key of their own that supersedes it (a link
//! that opens, since they hold both) and the newer keys left out. So the clone also
//! remembers, per environment, the newest current key it accepted
//! (`git-secrets/current-keys`), and seals nothing new under a current key that is not
//! that one or a key it supersedes (reached from it by links that open), or that records
//! it as left out (`left_out`, opened: only a holder of both keys makes that record, as
//! with a link; the memory of held keys accepts it the same way, so an environment
//! deleted and added again elsewhere by a member who held its keys needs no `env
//! trust`): the rotations this clone has seen cannot be undone by an access.json,
//! whether forged or on a branch made before them (merging the rotation in is the fix).
//! Reading stays possible. Commands that change keys here say so themselves (a rotation,
//! `env add`, `env del`, `env rename`, `env trust`).
//!
//! A fresh clone has nothing to compare with and trusts what it finds, as does a clone
//! for an environment it could not read before (trust on first use), unless HEAD's
//! history shows a key it was given that the current key left out (`lineage`); `unlock` and
//! `status` open every environment this identity can, so that only environments added
//! or given since are new to it. The memory is plain files in the repository's common
//! git directory (`git-secrets/held-keys`: one `<environment> <key id> <fingerprint>`
//! line per key, see `keys`; `git-secrets/removed-members`: one member id per line;
//! nothing secret), shared by its worktrees; a failure to write them only weakens the
//! checks, never blocks a command.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::access::Access;
use crate::error::Error;
use crate::fsutil;

mod keys;
mod lineage;
mod reviewed;
mod tracked;

pub use keys::{
    check, check_all, check_descent, check_descent_all, forget, rename, set_current, NotDescended,
};
pub use lineage::{former_keys, lineage, Lineage, LineageBroken};
pub use reviewed::{remember_reviewed, Reviewed};
pub use tracked::{check_tracked, known_tracked, remember_tracked};

const REMOVED_FILE: &str = "git-secrets/removed-members";
const WRAPPED_FILE: &str = "git-secrets/wrapped-to";
const HEADS_FILE: &str = "git-secrets/former-heads";
const HISTORY_FILE: &str = "git-secrets/history-read";
/// How many commits [`remember_history_read`] keeps (a few branches switched between).
const HISTORY_TIPS: usize = 16;

/// The repository's common git directory (the main one's, for a linked worktree).
pub fn common_dir(root: &Path) -> Option<PathBuf> {
    let dir = crate::git::git_dir(root)?;
    match std::fs::read_to_string(dir.join("commondir")) {
        Ok(rel) => Some(dir.join(rel.trim())),
        Err(_) => Some(dir),
    }
}

/// Threads of one process open environments at once: one read-modify-write of the
/// memory at a time.
pub(super) fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static MEMORY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    MEMORY.lock().unwrap_or_else(|p| p.into_inner())
}

/// What this clone has seen of its members: who was removed, and to whom each key was
/// ever wrapped (`<key id> <member id>`), from every access.json it loaded and, at
/// `unlock` and `status`, from HEAD's history. A key once wrapped to a member later
/// removed is one that member may hold, even where the file no longer says so.
#[derive(Default, Clone)]
pub struct Seen {
    pub removed: BTreeSet<String>,
    pub wrapped: BTreeSet<String>,
    /// The keys versions in the histories read made current (`lineage`; lines as
    /// `history::heads` in crate::workspace writes them): every branch's, so a superset
    /// of HEAD's history's, which lets the common case (nothing left behind) be decided
    /// without reading that history whole.
    pub heads: BTreeSet<String>,
}

impl Seen {
    /// The members `key` was ever wrapped to, as seen.
    pub fn wrapped_to<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> {
        let prefix = format!("{key} ");
        self.wrapped
            .range(prefix.clone()..)
            .take_while(move |l| l.starts_with(&prefix))
            .filter_map(|l| l.split_once(' ').map(|(_, m)| m))
    }
}

fn read_lines(dir: &Path, file: &str) -> BTreeSet<String> {
    std::fs::read_to_string(dir.join(file))
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Adds what `access` shows (its removed members, its wraps) and `more` (the same from
/// elsewhere: history) to what this clone has seen, and returns it all, with whether the
/// memory holds it (false when it could not be written).
pub fn remember_seen(root: &Path, access: Option<&Access>, more: &Seen) -> (Seen, bool) {
    let _one = one_at_a_time();
    let Some(dir) = common_dir(root) else {
        return (more.clone(), false);
    };
    let stored = std::cell::Cell::new(true);
    let add = |file: &str, lines: BTreeSet<String>| {
        let mut known = read_lines(&dir, file);
        let before = known.len();
        known.extend(lines);
        if known.len() != before {
            let text: String = known.iter().map(|l| format!("{l}\n")).collect();
            if !store(&dir.join(file), &text) {
                stored.set(false);
            }
        }
        known
    };
    let mut removed = more.removed.clone();
    removed.extend(
        access
            .iter()
            .flat_map(|a| a.members.iter())
            .filter(|(_, m)| m.status == crate::access::Status::Removed)
            .map(|(id, _)| id.clone()),
    );
    let mut wrapped = more.wrapped.clone();
    for records in access.iter().flat_map(|a| a.keys.values()) {
        for (key, record) in records {
            wrapped.extend(record.wrapped.keys().map(|m| format!("{key} {m}")));
        }
    }
    let seen = Seen {
        removed: add(REMOVED_FILE, removed),
        wrapped: add(WRAPPED_FILE, wrapped),
        // Never the current file's: a key it makes current is what is being checked.
        heads: add(HEADS_FILE, more.heads.clone()),
    };
    (seen, stored.get())
}

/// The commits whose whole history of access.json this clone's memory holds
/// (`git-secrets/history-read`, one commit id a line, newest first).
pub fn history_read(root: &Path) -> Vec<String> {
    let Some(dir) = common_dir(root) else {
        return Vec::new();
    };
    std::fs::read_to_string(dir.join(HISTORY_FILE))
        .unwrap_or_default()
        .lines()
        .filter(|l| crate::workspace::is_oid(l))
        .map(str::to_owned)
        .collect()
}

/// Records that the memory now holds the history of `head` too (`before`: what
/// [`history_read`] returned). Call only once what that history shows is stored.
pub fn remember_history_read(root: &Path, head: &str, before: &[String]) {
    let Some(dir) = common_dir(root) else {
        return;
    };
    let _one = one_at_a_time();
    let text: String = std::iter::once(head)
        .chain(before.iter().map(String::as_str).filter(|c| *c != head))
        .take(HISTORY_TIPS)
        .map(|c| format!("{c}\n"))
        .collect();
    store(&dir.join(HISTORY_FILE), &text);
}

/// Refuses a current key of `env` in `access` that was ever wrapped to a member this
/// clone saw removed (see the module's docs): no new value is sealed under it.
pub fn check_current(seen: &Seen, env: &str, access: &Access) -> Result<(), Error> {
    let Some(keys) = access.keys.get(env) else {
        return Ok(());
    };
    for head in access.heads(env) {
        let now = keys[head].wrapped.keys().map(String::as_str);
        if let Some(member) = now
            .chain(seen.wrapped_to(&head.0))
            .find(|m| seen.removed.contains(*m))
        {
            return Err(Error::KeyHeldByRemoved {
                env: env.to_owned(),
                key: head.0.clone(),
                member: member.to_owned(),
            });
        }
    }
    Ok(())
}

/// The `<first> <second>` lines of one of the memory's files (none when it cannot be
/// read).
pub(super) fn pairs(path: &Path) -> impl Iterator<Item = (String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let pairs: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    pairs.into_iter()
}

/// Writes `pairs` as the `<first> <second>` lines of one of the memory's files.
pub(super) fn store_pairs<'a>(path: &Path, pairs: impl Iterator<Item = (&'a String, &'a String)>) {
    let text: String = pairs.map(|(a, b)| format!("{a} {b}\n")).collect();
    store(path, &text);
}

/// Writes one of the memory's files. Not synced: lost in a crash, the memory starts
/// again from what is found (as in a fresh clone); an fsync per environment would slow
/// every unlock. A failure only weakens the checks. Returns whether it was written.
pub(super) fn store(path: &Path, text: &str) -> bool {
    path.parent()
        .is_some_and(|dir| fsutil::create_private_dir(dir).is_ok())
        && fsutil::replace_unsynced(path, text.as_bytes()).is_ok()
}
