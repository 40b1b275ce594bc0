//! The keys a clone has held and the current key it last accepted, per environment (see
//! the parent module's docs): `git-secrets/held-keys` and `git-secrets/current-keys`,
//! `<environment> <key id> <fingerprint>` lines. A key is remembered by a fingerprint of
//! its bytes beside its id, since an id (32 bits) can be matched by a key of someone's own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{common_dir, one_at_a_time, pairs, store_pairs};
use crate::access::{Access, OpenChain};
use crate::error::Error;
use crate::seal::{memory_fingerprint, KeyId};
use crate::secret::DataKey;

const FILE: &str = "git-secrets/held-keys";
const CURRENT_FILE: &str = "git-secrets/current-keys";

/// Where the clone of the work tree `root` keeps the keys it held.
fn memory(root: &Path) -> Option<PathBuf> {
    common_dir(root).map(|d| d.join(FILE))
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

/// Checks that `chain` (the keys of `env` this identity opened from `access`) holds a
/// key this clone held before, or a key of it records one as left out (opened: only a
/// holder of both keys can make that record, as with a link), when it held any; then
/// remembers the chain's keys. An environment deleted and added again elsewhere by a
/// member who held its keys records them so (`env add`), and needs no `env trust` here.
pub fn check(root: &Path, env: &str, access: &Access, chain: &OpenChain) -> Result<(), Error> {
    match check_all(root, access, &[(env, chain)]).pop() {
        Some(env) => Err(Error::KeysReplaced { env }),
        None => Ok(()),
    }
}

/// [`check`] of several environments of `access` at once, with one read and at most one
/// write of the memory: returns the environments whose keys are refused (the others are
/// remembered).
pub fn check_all(root: &Path, access: &Access, chains: &[(&str, &OpenChain)]) -> Vec<String> {
    let Some(path) = memory(root) else {
        return Vec::new();
    };
    let _one = one_at_a_time();
    let mut held = load(&path);
    let mut refused = Vec::new();
    let mut changed = false;
    for (env, chain) in chains {
        let keys: Vec<(&str, String)> = chain
            .keys
            .iter()
            .map(|(id, key)| (id.0.as_str(), memory_fingerprint(key)))
            .collect();
        let left_out: Vec<(KeyId, String)> = chain
            .keys
            .iter()
            .flat_map(|(id, key)| access.left_out_by(env, id, key))
            .map(|(id, key)| (id, memory_fingerprint(&key)))
            .collect();
        let known = held.entry(env.to_string()).or_default();
        let holds_one = keys
            .iter()
            .map(|(id, fp)| (*id, fp.as_str()))
            .chain(left_out.iter().map(|(id, fp)| (id.0.as_str(), fp.as_str())))
            .any(|(id, fp)| known.iter().any(|line| names(line, id, fp)));
        if !known.is_empty() && !holds_one {
            refused.push(env.to_string());
            continue;
        }
        // Lines of the id alone (written before fingerprints) give way to full ones.
        let legacy: Vec<String> = known
            .iter()
            .filter(|line| !line.contains(' ') && keys.iter().any(|(id, _)| id == line))
            .cloned()
            .collect();
        let full: Vec<String> = keys.iter().map(|(id, fp)| format!("{id} {fp}")).collect();
        if !legacy.is_empty() || full.iter().any(|line| !known.contains(line)) {
            for line in &legacy {
                known.remove(line);
            }
            known.extend(full);
            changed = true;
        }
    }
    if changed {
        save(&path, &held);
    }
    refused
}

/// How the memory names a key: `<key id> <fingerprint>` ([`memory_fingerprint`]). A key
/// id is 32 bits: someone can find a key of their own with the id of a remembered one
/// in about 2^32 tries, so the memory is not satisfied by the id alone.
fn entry(id: &KeyId, key: &DataKey) -> String {
    format!("{} {}", id.0, memory_fingerprint(key))
}

/// Whether the remembered `line` names the key `id` whose fingerprint is `fingerprint`.
/// A line of the id alone, written before fingerprints, matches by id (and is written
/// again in full once matched).
fn names(line: &str, id: &str, fingerprint: &str) -> bool {
    match line.split_once(' ') {
        Some((i, f)) => i == id && f == fingerprint,
        None => line == id,
    }
}

/// The key id of a remembered line.
fn id_of(line: &str) -> &str {
    line.split_once(' ').map_or(line, |(id, _)| id)
}

/// Forgets the keys held for `env`, and its current key, and excuses the keys HEAD's
/// history made current that its new key does not supersede (`lineage`): it was deleted
/// or added here, or the user trusts its new keys.
pub fn forget(root: &Path, env: &str) {
    super::lineage::excuse_next(root, env);
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
        let Some(key) = chain.get(head) else {
            continue;
        };
        let now = entry(head, key);
        match current.get(*env) {
            Some(r) if *r == now => {}
            Some(r) if !supersedes_remembered(access, env, chain, head, r) => {
                refused.push(NotDescended {
                    env: env.to_string(),
                    key: head.0.clone(),
                    remembered: id_of(r).to_owned(),
                })
            }
            _ => {
                current.insert(env.to_string(), now);
                changed = true;
            }
        }
    }
    if changed {
        save_current(&path, &current);
    }
    refused
}

/// Whether `head` (the current key of `env` in `access`, opened in `chain`) is the key
/// the remembered line names, or supersedes it ([`Access::descends`]), or it or a key it
/// supersedes records it as left out ([`Access::left_out_by`]: an environment deleted and
/// added again by a member who held its key, a forged key a repair dropped): the key
/// found under that id must be the remembered key itself, by its fingerprint, not a key
/// of someone's own that merely has its id, and a left-out record must open.
fn supersedes_remembered(
    access: &Access,
    env: &str,
    chain: &OpenChain,
    head: &KeyId,
    remembered: &str,
) -> bool {
    let id = id_of(remembered);
    let is_remembered = |(kid, key): &(KeyId, DataKey)| {
        kid.0 == id && names(remembered, id, &memory_fingerprint(key))
    };
    let head_is = chain.keys.iter().any(|k| k.0 == *head && is_remembered(k));
    let in_line = |kid: &KeyId| kid == head || access.descends(env, head, &kid.0);
    let left_out = || {
        chain
            .keys
            .iter()
            .filter(|(kid, _)| in_line(kid))
            .flat_map(|(kid, key)| access.left_out_by(env, kid, key))
            .any(|k| is_remembered(&k))
    };
    head_is
        || (access.descends(env, head, id) && chain.keys.iter().any(is_remembered))
        || left_out()
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

/// Remembers `key` (with id `id`) as the current key of `env`: this clone rotated it
/// (the new key supersedes whatever it remembered, or this branch's old head, which is
/// what this clone now seals under).
pub fn set_current(root: &Path, env: &str, id: &KeyId, key: &DataKey) {
    let Some(path) = common_dir(root).map(|d| d.join(CURRENT_FILE)) else {
        return;
    };
    let _one = one_at_a_time();
    let mut current = load_current(&path);
    let now = entry(id, key);
    if current.get(env) != Some(&now) {
        current.insert(env.to_owned(), now);
        save_current(&path, &current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    const ENV: &str = "production";

    /// A work tree with a git directory (all the memory needs), and an access.json of one
    /// member whose chain of `production` is opened.
    fn setup() -> (tempfile::TempDir, Access, OpenChain, Identity) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let identity = Identity::generate();
        let access = Access::create("alice", &identity, &[ENV.to_owned()]).unwrap();
        let chain = access.open_chain(ENV, &identity).unwrap();
        (dir, access, chain, identity)
    }

    /// `chain` with each key's bytes replaced by a key of someone's own under the same
    /// id: what a key found by trying about 2^32 keys for a remembered id would give.
    fn same_ids_other_keys(chain: &OpenChain) -> OpenChain {
        OpenChain {
            keys: chain
                .keys
                .iter()
                .map(|(id, _)| (id.clone(), DataKey::generate()))
                .collect(),
            member: chain.member.clone(),
        }
    }

    fn memory_line(root: &Path, file: &str) -> String {
        std::fs::read_to_string(common_dir(root).unwrap().join(file)).unwrap()
    }

    #[test]
    fn a_key_with_a_remembered_id_but_other_bytes_is_not_the_remembered_key() {
        let (dir, access, chain, _) = setup();
        let root = dir.path();
        assert!(check_descent_all(root, &access, &[(ENV, &chain)]).is_empty());
        assert!(check_all(root, &access, &[(ENV, &chain)]).is_empty());
        let forged = same_ids_other_keys(&chain);

        let refused = check_descent_all(root, &access, &[(ENV, &forged)]);
        assert_eq!(
            refused.len(),
            1,
            "the current key is taken for the one remembered"
        );
        assert_eq!(refused[0].remembered, chain.keys[0].0 .0);
        assert_eq!(
            check_all(root, &access, &[(ENV, &forged)]),
            vec![ENV.to_owned()]
        );

        // The real keys are still accepted, and the memory was not changed by the refusal.
        assert!(check_descent_all(root, &access, &[(ENV, &chain)]).is_empty());
        assert!(check_all(root, &access, &[(ENV, &chain)]).is_empty());
        let line = memory_line(root, CURRENT_FILE);
        let fingerprint = memory_fingerprint(&chain.keys[0].1);
        assert_eq!(
            line,
            format!("{ENV} {} {fingerprint}\n", chain.keys[0].0 .0)
        );
    }

    /// `env` made again under a new key, recording `left_out` (id, bytes) as left out by
    /// it; with the new key opened.
    fn made_again(identity: &Identity, left_out: (&KeyId, &DataKey)) -> (Access, OpenChain) {
        let mut access = Access::create("alice", identity, &[ENV.to_owned()]).unwrap();
        let chain = access.open_chain(ENV, identity).unwrap();
        let (id, key) = chain.keys[0].clone();
        access.record_left_out(ENV, (&id, &key), [left_out]);
        let chain = access.open_chain(ENV, identity).unwrap();
        (access, chain)
    }

    #[test]
    fn a_key_that_records_the_remembered_one_as_left_out_is_accepted_only_when_it_opens() {
        let (dir, access, chain, identity) = setup();
        let root = dir.path();
        assert!(check_descent_all(root, &access, &[(ENV, &chain)]).is_empty());
        assert!(check_all(root, &access, &[(ENV, &chain)]).is_empty());
        let (old_id, old_key) = &chain.keys[0];

        // A key of someone's own under the remembered id: the record does not open.
        let other = DataKey::generate();
        let (forged, forged_chain) = made_again(&identity, (old_id, &other));
        assert_eq!(
            check_all(root, &forged, &[(ENV, &forged_chain)]),
            vec![ENV.to_owned()]
        );
        assert_eq!(
            check_descent_all(root, &forged, &[(ENV, &forged_chain)]).len(),
            1
        );

        // The remembered key itself: accepted, and remembered as current from then on.
        let (again, again_chain) = made_again(&identity, (old_id, old_key));
        assert!(check_all(root, &again, &[(ENV, &again_chain)]).is_empty());
        assert!(check_descent_all(root, &again, &[(ENV, &again_chain)]).is_empty());
        let new = &again_chain.keys[0];
        assert_eq!(
            memory_line(root, CURRENT_FILE),
            format!("{ENV} {} {}\n", new.0 .0, memory_fingerprint(&new.1))
        );
    }

    #[test]
    fn lines_of_the_id_alone_match_by_id_and_are_written_again_in_full() {
        let (dir, access, chain, _) = setup();
        let root = dir.path();
        let git = common_dir(root).unwrap().join("git-secrets");
        std::fs::create_dir_all(&git).unwrap();
        let id = &chain.keys[0].0 .0;
        std::fs::write(git.join("current-keys"), format!("{ENV} {id}\n")).unwrap();
        std::fs::write(git.join("held-keys"), format!("{ENV} {id}\n")).unwrap();

        assert!(check_descent_all(root, &access, &[(ENV, &chain)]).is_empty());
        assert!(check_all(root, &access, &[(ENV, &chain)]).is_empty());
        let full = format!("{ENV} {id} {}\n", memory_fingerprint(&chain.keys[0].1));
        assert_eq!(memory_line(root, CURRENT_FILE), full);
        assert_eq!(memory_line(root, FILE), full);
        // From then on, the bytes count.
        let forged = same_ids_other_keys(&chain);
        assert_eq!(check_descent_all(root, &access, &[(ENV, &forged)]).len(), 1);
    }

    #[test]
    fn a_rotation_remembered_here_is_remembered_by_its_bytes() {
        let (dir, mut access, chain, identity) = setup();
        let root = dir.path();
        assert!(check_descent_all(root, &access, &[(ENV, &chain)]).is_empty());
        let (new, key) = access.rotate(ENV, &chain, &|_| true).unwrap();
        let rotated = access.open_chain(ENV, &identity).unwrap();
        set_current(root, ENV, &new, &key);

        let forged = same_ids_other_keys(&rotated);
        let refused = check_descent_all(root, &access, &[(ENV, &forged)]);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].remembered, new.0);
        assert!(check_descent_all(root, &access, &[(ENV, &rotated)]).is_empty());
    }
}
