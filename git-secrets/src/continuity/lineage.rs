//! The keys HEAD's history made current, which the current key must still supersede.
//!
//! The memory of current keys (`keys`) protects a clone from a chain grown again from an
//! old key only once it has accepted a newer one. A fresh clone has not, and neither has
//! a clone that last sealed before a removal: they would take the word of the current
//! access.json. But HEAD's history holds every version: a key that was ever current there
//! and given to this member is one a real rotation keeps reachable (it is sealed under
//! the new key), so a current key that does not supersede it was not made by a rotation
//! of it. Each such key is checked by its bytes, not its id (32 bits): a grant of it in
//! that version of the history must verify under the key the current one reaches.
//!
//! Keys never given to this member are not required (an entry of someone's own, which
//! no member could open or rotate away, would otherwise block every clone for good).
//! A key left out on purpose is vouched for by whoever leaves it out while holding it:
//! sealed under the new key in its record's `left_out` (`Access::record_left_out`), by a
//! rotation that repairs a forged chain or follows a reverted one, and by `env add` of an
//! environment made again. A rotation is how a clone refused here moves on: it records
//! every key left behind and carries over only the members those keys granted too.
//! Otherwise only the user can excuse it: `env trust` (and `env add`/`env del` on this
//! clone) excuses those the next check finds (`git-secrets/excused-heads`,
//! `<environment> <key id>` lines).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{common_dir, one_at_a_time, pairs, store_pairs, Seen};
use crate::access::{grant::grant_holds, Access, OpenChain};
use crate::error::Error;
use crate::seal::KeyId;

const EXCUSED_FILE: &str = "git-secrets/excused-heads";
/// The key id of an excused line that excuses whatever the next check finds.
const NEXT: &str = "*";

/// A current key refused by [`check_lineage`]: it does not supersede `former`, a key
/// HEAD's history made current and gave to this member.
#[derive(Clone, Debug)]
pub struct LineageBroken {
    pub env: String,
    pub key: String,
    pub former: String,
}

impl From<LineageBroken> for Error {
    fn from(l: LineageBroken) -> Error {
        Error::LineageBroken {
            env: l.env,
            key: l.key,
            former: l.former,
        }
    }
}

/// What HEAD's history says of the current key of an environment.
#[derive(Clone, Debug, Default)]
pub struct Lineage {
    /// The keys HEAD's history made current and gave to this member that the current key
    /// neither is, supersedes, nor records as left out, each by its bytes.
    pub lost: Vec<KeyId>,
    /// The first of `lost` not excused: why nothing new is sealed under the current key.
    pub refused: Option<LineageBroken>,
}

/// Checks that the one current key of `env` in `access` (opened in `chain`) is, or
/// supersedes, or records as left out, every key HEAD's history made current in `env`
/// and gave to this member (`seen`, with `former`: see `Workspace::former_heads` in
/// crate::workspace), each by its bytes: a grant of it in each version that made it
/// current must verify under the key reached (a version's word alone is not enough: a
/// forged key can claim to supersede anything). Nothing is decided for an environment
/// with more than one current key, or one whose current key this identity did not open.
///
/// A lost key whose own chain leads back to the current key (`steps_back(lost, head)`:
/// a rotation reverted, the current key the one it superseded) is no regrowth: the
/// current key was trusted before it, and a key held by a member since removed is
/// refused anyway (`check_current`).
pub fn lineage(
    root: &Path,
    seen: &Seen,
    former: &BTreeSet<String>,
    env: &str,
    access: &Access,
    chain: &OpenChain,
    steps_back: &dyn Fn(&KeyId, &KeyId) -> bool,
) -> Lineage {
    let heads = access.heads(env);
    let [head] = heads.as_slice() else {
        return Lineage::default();
    };
    if chain.get(head).is_none() {
        return Lineage::default();
    }
    let in_line = |id: &KeyId| id == *head || access.descends(env, head, &id.0);
    // The bytes the current key vouches for under `id`: a key of its chain, or one a
    // key of its chain records as left out.
    let vouched: Vec<(KeyId, crate::secret::DataKey)> = chain
        .keys
        .iter()
        .filter(|(kid, _)| in_line(kid))
        .flat_map(|(kid, key)| {
            std::iter::once((kid.clone(), key.clone())).chain(access.left_out_by(env, kid, key))
        })
        .collect();
    let versions = former_heads(former, env);
    let given = |id: &str| seen.wrapped_to(id).any(|m| m == chain.member);
    let kept = |id: &str, v: &[Former]| {
        vouched.iter().any(|(kid, key)| {
            kid.0 == id
                && v.iter()
                    .all(|f| grant_holds(key, f.member, f.recipient, f.grant))
        })
    };
    let lost: Vec<KeyId> = versions
        .iter()
        .filter(|(id, v)| given(id) && !kept(id, v))
        .map(|(id, _)| KeyId(id.to_string()))
        .filter(|id| !steps_back(id, head))
        .collect();
    if lost.is_empty() {
        return Lineage::default();
    }
    let broken = |former: &KeyId| LineageBroken {
        env: env.to_owned(),
        key: head.0.clone(),
        former: former.0.clone(),
    };
    let Some(path) = common_dir(root).map(|d| d.join(EXCUSED_FILE)) else {
        let refused = Some(broken(&lost[0]));
        return Lineage { lost, refused };
    };
    let _one = one_at_a_time();
    let mut excused: BTreeSet<(String, String)> = pairs(&path).collect();
    if excused.remove(&(env.to_owned(), NEXT.to_owned())) {
        excused.extend(lost.iter().map(|id| (env.to_owned(), id.0.clone())));
        store_pairs(&path, excused.iter().map(|(e, id)| (e, id)));
    }
    let refused = lost
        .iter()
        .find(|id| !excused.contains(&(env.to_owned(), id.0.clone())))
        .map(broken);
    Lineage { lost, refused }
}

/// The keys of `env` that versions in HEAD's history made current and gave to `member`.
pub fn former_keys(seen: &Seen, former: &BTreeSet<String>, env: &str, member: &str) -> Vec<KeyId> {
    former_heads(former, env)
        .into_keys()
        .filter(|id| seen.wrapped_to(id).any(|m| m == member))
        .map(|id| KeyId(id.to_owned()))
        .collect()
}

/// One version's word on a key it made current (a line of `former`: see
/// crate::workspace::Workspace::former_heads).
struct Former<'a> {
    member: &'a str,
    recipient: &'a str,
    grant: &'a str,
}

/// The keys of `env` that versions in HEAD's history made current, by id, each with
/// what every such version says of it.
fn former_heads<'a>(former: &'a BTreeSet<String>, env: &str) -> BTreeMap<&'a str, Vec<Former<'a>>> {
    let mut versions: BTreeMap<&str, Vec<Former>> = BTreeMap::new();
    for line in former {
        let fields: Vec<&str> = line.split(' ').collect();
        if let [e, id, member, recipient, grant] = fields.as_slice() {
            if *e == env {
                versions.entry(id).or_default().push(Former {
                    member,
                    recipient,
                    grant,
                });
            }
        }
    }
    versions
}

/// Excuses, at the next check of `env`, every key HEAD's history made current that its
/// current key does not supersede (`env trust`, or `env add`/`env del` here: the user
/// says its keys were made anew on purpose).
pub fn excuse_next(root: &Path, env: &str) {
    let Some(path) = common_dir(root).map(|d| d.join(EXCUSED_FILE)) else {
        return;
    };
    let _one = one_at_a_time();
    let mut excused: BTreeSet<(String, String)> = pairs(&path).collect();
    if excused.insert((env.to_owned(), NEXT.to_owned())) {
        store_pairs(&path, excused.iter().map(|(e, id)| (e, id)));
    }
}
