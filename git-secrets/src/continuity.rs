//! Key continuity: a clone remembers the ids of the keys it has held, per environment, and
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
//! (`git-secrets/current-keys`, `<environment> <key id>` lines), and seals nothing new
//! under a current key that is not that one or a key it supersedes (reached from it by
//! links that open): the rotations this clone has seen cannot be undone by an
//! access.json, whether forged or on a branch made before them (merging the rotation in
//! is the fix). Reading stays possible. Commands that change keys here say so themselves
//! (a rotation, `env add`, `env del`, `env rename`, `env trust`).
//!
//! A fresh clone has nothing to compare with and trusts what it finds, as does a clone
//! for an environment it could not read before (trust on first use); `unlock` and
//! `status` open every environment this identity can, so that only environments added
//! or given since are new to it. The memory is plain files in the repository's common
//! git directory (`git-secrets/held-keys`: one `<environment> <key id>` line per key;
//! `git-secrets/removed-members`: one member id per line; nothing secret), shared by its
//! worktrees; a failure to write them only weakens the checks, never blocks a command.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::access::{Access, OpenChain};
use crate::error::Error;
use crate::fsutil;

const FILE: &str = "git-secrets/held-keys";
const CURRENT_FILE: &str = "git-secrets/current-keys";
const REMOVED_FILE: &str = "git-secrets/removed-members";
const WRAPPED_FILE: &str = "git-secrets/wrapped-to";
const TRACKED_FILE: &str = "git-secrets/tracked-files";
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

/// Where the clone of the work tree `root` keeps its memory.
fn memory(root: &Path) -> Option<PathBuf> {
    common_dir(root).map(|d| d.join(FILE))
}

/// Threads of one process open environments at once: one read-modify-write of the
/// memory at a time.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
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

fn load(path: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut held: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (env, id) in pairs(path) {
        held.entry(env).or_default().insert(id);
    }
    held
}

fn save(path: &Path, held: &BTreeMap<String, BTreeSet<String>>) {
    store_pairs(
        path,
        held.iter()
            .flat_map(|(env, ids)| ids.iter().map(move |id| (env, id))),
    );
}

/// The `<first> <second>` lines of one of the memory's files (none when it cannot be
/// read).
fn pairs(path: &Path) -> impl Iterator<Item = (String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let pairs: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    pairs.into_iter()
}

/// Writes `pairs` as the `<first> <second>` lines of one of the memory's files.
fn store_pairs<'a>(path: &Path, pairs: impl Iterator<Item = (&'a String, &'a String)>) {
    let text: String = pairs.map(|(a, b)| format!("{a} {b}\n")).collect();
    store(path, &text);
}

/// Writes one of the memory's files. Not synced: lost in a crash, the memory starts
/// again from what is found (as in a fresh clone); an fsync per environment would slow
/// every unlock. A failure only weakens the checks. Returns whether it was written.
fn store(path: &Path, text: &str) -> bool {
    path.parent()
        .is_some_and(|dir| fsutil::create_private_dir(dir).is_ok())
        && fsutil::replace_unsynced(path, text.as_bytes()).is_ok()
}

/// Checks that `chain` (the keys of `env` this identity opened) holds a key this clone
/// held before, when it held any; then remembers the chain's keys.
pub fn check(root: &Path, env: &str, chain: &OpenChain) -> Result<(), Error> {
    match check_all(root, &[(env, chain)]).pop() {
        Some(env) => Err(Error::KeysReplaced { env }),
        None => Ok(()),
    }
}

/// [`check`] of several environments at once, with one read and at most one write of
/// the memory: returns the environments whose keys are refused (the others are
/// remembered).
pub fn check_all(root: &Path, chains: &[(&str, &OpenChain)]) -> Vec<String> {
    let Some(path) = memory(root) else {
        return Vec::new();
    };
    let _one = one_at_a_time();
    let mut held = load(&path);
    let mut refused = Vec::new();
    let mut changed = false;
    for (env, chain) in chains {
        let ids: BTreeSet<String> = chain.keys.iter().map(|(id, _)| id.0.clone()).collect();
        let known = held.entry(env.to_string()).or_default();
        if !known.is_empty() && known.is_disjoint(&ids) {
            refused.push(env.to_string());
        } else if !ids.is_subset(known) {
            known.extend(ids);
            changed = true;
        }
    }
    if changed {
        save(&path, &held);
    }
    refused
}

/// Forgets the keys held for `env`, and its current key (it was deleted or added here, or
/// the user trusts its new keys).
pub fn forget(root: &Path, env: &str) {
    let Some(dir) = common_dir(root) else {
        return;
    };
    let _one = one_at_a_time();
    let path = dir.join(FILE);
    let mut held = load(&path);
    if held.remove(env).is_some() {
        save(&path, &held);
    }
    let path = dir.join(CURRENT_FILE);
    let mut current = load_current(&path);
    if current.remove(env).is_some() {
        save_current(&path, &current);
    }
}

/// Moves what was held for `from` to `to`, current key included (a rename keeps the
/// keys).
pub fn rename(root: &Path, from: &str, to: &str) {
    let Some(dir) = common_dir(root) else {
        return;
    };
    let _one = one_at_a_time();
    let path = dir.join(FILE);
    let mut held = load(&path);
    if let Some(ids) = held.remove(from) {
        held.insert(to.to_owned(), ids);
        save(&path, &held);
    }
    let path = dir.join(CURRENT_FILE);
    let mut current = load_current(&path);
    if let Some(id) = current.remove(from) {
        current.insert(to.to_owned(), id);
        save_current(&path, &current);
    }
}

/// The current key this clone last accepted for each environment.
fn load_current(path: &Path) -> BTreeMap<String, String> {
    pairs(path).collect()
}

fn save_current(path: &Path, current: &BTreeMap<String, String>) {
    store_pairs(path, current.iter());
}

/// A current key refused by [`check_descent_all`]: it does not descend from the one this
/// clone remembers.
#[derive(Clone)]
pub struct NotDescended {
    pub env: String,
    pub key: String,
    pub remembered: String,
}

impl From<NotDescended> for Error {
    fn from(n: NotDescended) -> Error {
        Error::KeyNotDescended {
            env: n.env,
            key: n.key,
            remembered: n.remembered,
        }
    }
}

/// Checks, for each `(env, chain)` (`chain`: the keys of `env` this identity opened from
/// `access`), that the one current key of `env` is the current key this clone remembers
/// for it, or supersedes it through links that open ([`Access::descends`]); then
/// remembers it as the newest (none yet: trust on first use). Returns those refused (see
/// the module's docs), whose memory is left as it was. Nothing is decided, or
/// remembered, for an environment with more than one current key (no new value is
/// sealed there until a rotation, which supersedes them all) or one whose current key
/// this identity did not open (it cannot seal under it, and its links were not checked).
pub fn check_descent_all(
    root: &Path,
    access: &Access,
    chains: &[(&str, &OpenChain)],
) -> Vec<NotDescended> {
    let Some(path) = common_dir(root).map(|d| d.join(CURRENT_FILE)) else {
        return Vec::new();
    };
    let _one = one_at_a_time();
    let mut current = load_current(&path);
    let mut refused = Vec::new();
    let mut changed = false;
    for (env, chain) in chains {
        let heads = access.heads(env);
        let [head] = heads.as_slice() else {
            continue;
        };
        if chain.get(head).is_none() {
            continue;
        }
        match current.get(*env) {
            Some(r) if *r == head.0 => {}
            Some(r) if !access.descends(env, head, r) => refused.push(NotDescended {
                env: env.to_string(),
                key: head.0.clone(),
                remembered: r.clone(),
            }),
            _ => {
                current.insert(env.to_string(), head.0.clone());
                changed = true;
            }
        }
    }
    if changed {
        save_current(&path, &current);
    }
    refused
}

/// [`check_descent_all`] of one environment.
pub fn check_descent(
    root: &Path,
    env: &str,
    access: &Access,
    chain: &OpenChain,
) -> Result<(), Error> {
    match check_descent_all(root, access, &[(env, chain)]).pop() {
        Some(refused) => Err(refused.into()),
        None => Ok(()),
    }
}

/// Remembers `key` as the current key of `env`: this clone rotated it (the new key
/// supersedes whatever it remembered, or this branch's old head, which is what this
/// clone now seals under).
pub fn set_current(root: &Path, env: &str, key: &str) {
    let Some(path) = common_dir(root).map(|d| d.join(CURRENT_FILE)) else {
        return;
    };
    let _one = one_at_a_time();
    let mut current = load_current(&path);
    if current.get(env).map(String::as_str) != Some(key) {
        current.insert(env.to_owned(), key.to_owned());
        save_current(&path, &current);
    }
}
