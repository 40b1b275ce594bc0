//! The three-way merge of access.json, for the merge driver. It never conflicts and is
//! symmetric: `merge(base, a, b) == merge(base, b, a)`.
//!
//! - Members are merged by id. A removal on either side wins over anything the other side
//!   did (a removed member never comes back through a merge); otherwise an approval wins
//!   over a request, so requests and approvals from both sides are kept.
//! - Sets (a member's environments) and maps (a key's wraps) are merged three-way: what
//!   one side added or removed relative to the base is applied, so a rotation's cleared
//!   wraps stay cleared while an approval made on the other side stays.
//! - Keys are merged by id; a key superseded on either side stays superseded. Two
//!   rotations of one environment leave two current keys, which `status` reports and
//!   which no command seals under until `rotate` gives the environment one new key.
//! - A scalar changed differently on both sides takes the greater value, so the result
//!   does not depend on which side is ours.

use std::collections::{BTreeMap, BTreeSet};

use super::{Access, KeyRecord, Member, Status};
use crate::seal::KeyId;

/// Picks one of two values three-way; both changed: the greater, for symmetry.
fn pick<T: Clone + Ord>(base: Option<&T>, a: &T, b: &T) -> T {
    if a == b || Some(b) == base {
        a.clone()
    } else if Some(a) == base {
        b.clone()
    } else {
        a.max(b).clone()
    }
}

fn merge_set(
    base: Option<&BTreeSet<String>>,
    a: &BTreeSet<String>,
    b: &BTreeSet<String>,
) -> BTreeSet<String> {
    let empty = BTreeSet::new();
    let base = base.unwrap_or(&empty);
    let both: BTreeSet<String> = a.intersection(b).cloned().collect();
    let added_a = a.difference(base).cloned();
    let added_b = b.difference(base).cloned();
    both.into_iter().chain(added_a).chain(added_b).collect()
}

/// Three-way merge of two maps: entries added, changed or removed on one side relative
/// to `base` are applied; `value` merges an entry present on both sides.
fn merge_map<K: Ord + Clone, V: Clone + PartialEq>(
    base: Option<&BTreeMap<K, V>>,
    a: &BTreeMap<K, V>,
    b: &BTreeMap<K, V>,
    value: impl Fn(Option<&V>, &V, &V) -> V,
) -> BTreeMap<K, V> {
    let empty = BTreeMap::new();
    let base = base.unwrap_or(&empty);
    let keys: BTreeSet<&K> = a.keys().chain(b.keys()).collect();
    let mut out = BTreeMap::new();
    for k in keys {
        let o = base.get(k);
        match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) => {
                out.insert(k.clone(), value(o, x, y));
            }
            // Present on one side only: dropped if the other side deleted it unchanged.
            (Some(x), None) | (None, Some(x)) => {
                if o.is_none() || o != Some(x) {
                    out.insert(k.clone(), x.clone());
                }
            }
            (None, None) => {}
        }
    }
    out
}

fn merge_member(base: Option<&Member>, a: &Member, b: &Member) -> Member {
    let status = a.status.max(b.status);
    let opt = |f: fn(&Member) -> Option<String>| -> Option<String> {
        match (f(a), f(b)) {
            (Some(x), Some(y)) => Some(pick(base.and_then(f).as_ref(), &x, &y)),
            (x, y) => x.or(y),
        }
    };
    Member {
        name: pick(base.map(|m| &m.name), &a.name, &b.name),
        kind: pick(base.map(|m| &m.kind), &a.kind, &b.kind),
        status,
        recipient: pick(base.map(|m| &m.recipient), &a.recipient, &b.recipient),
        requested_at: pick(
            base.map(|m| &m.requested_at),
            &a.requested_at,
            &b.requested_at,
        ),
        approved_at: if status >= Status::Active {
            opt(|m| m.approved_at.clone())
        } else {
            None
        },
        removed_at: if status == Status::Removed {
            opt(|m| m.removed_at.clone())
        } else {
            None
        },
        environments: merge_set(
            base.map(|m| &m.environments),
            &a.environments,
            &b.environments,
        ),
    }
}

fn merge_key(base: Option<&KeyRecord>, a: &KeyRecord, b: &KeyRecord) -> KeyRecord {
    KeyRecord {
        created_at: pick(base.map(|r| &r.created_at), &a.created_at, &b.created_at),
        wrapped: merge_map(base.map(|r| &r.wrapped), &a.wrapped, &b.wrapped, pick),
        grants: merge_map(base.map(|r| &r.grants), &a.grants, &b.grants, pick),
        // A key superseded on either side stays superseded: a union, never a deletion.
        superseded_by: {
            let mut out = a.superseded_by.clone();
            for (k, v) in &b.superseded_by {
                out.entry(k.clone())
                    .and_modify(|x| {
                        if v > x {
                            x.clone_from(v)
                        }
                    })
                    .or_insert_with(|| v.clone());
            }
            out
        },
        left_out: {
            let mut out = a.left_out.clone();
            for (k, v) in &b.left_out {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
            out
        },
    }
}

/// Merges `ours` and `theirs` from their common `base` (None when the file is new on both).
pub fn merge(base: Option<&Access>, ours: &Access, theirs: &Access) -> Access {
    let mut members: BTreeMap<String, Member> = BTreeMap::new();
    let ids: BTreeSet<&String> = ours.members.keys().chain(theirs.members.keys()).collect();
    for id in ids {
        let o = base.and_then(|b| b.members.get(id));
        let merged = match (ours.members.get(id), theirs.members.get(id)) {
            (Some(a), Some(b)) => merge_member(o, a, b),
            // A member entry is never deleted by git-secrets: keep it from either side.
            (Some(x), None) | (None, Some(x)) => x.clone(),
            (None, None) => continue,
        };
        members.insert(id.clone(), merged);
    }
    let keys: BTreeMap<String, BTreeMap<KeyId, KeyRecord>> = merge_map(
        base.map(|b| &b.keys),
        &ours.keys,
        &theirs.keys,
        |o, x, y| merge_map(o, x, y, merge_key),
    );
    let mut merged = Access {
        version: ours.version.max(theirs.version),
        members,
        keys,
    };
    // Wraps and grants to members unknown after the merge would make the file invalid.
    for keys in merged.keys.values_mut() {
        for rec in keys.values_mut() {
            rec.wrapped.retain(|m, _| merged.members.contains_key(m));
            rec.grants.retain(|m, _| merged.members.contains_key(m));
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    //! The laws of the merge, as properties over small random access files that share a
    //! base: symmetric, removals win, requests and approvals survive, supersession sticks.
    use super::*;
    use proptest::prelude::*;

    const IDS: [&str; 4] = ["m1", "m2", "m3", "m4"];
    const ENVS: [&str; 3] = ["development", "test", "production"];
    const KEYS: [&str; 3] = ["k1", "k2", "k3"];

    fn member() -> impl Strategy<Value = Member> {
        (
            0u8..3,
            proptest::sample::subsequence(ENVS.to_vec(), 0..=3),
            "[a-c]{1,2}",
        )
            .prop_map(|(s, envs, name)| {
                let status = [Status::Pending, Status::Active, Status::Removed][s as usize];
                Member {
                    name,
                    kind: crate::access::MemberKind::Person,
                    status,
                    recipient: "age1example".into(),
                    requested_at: "2026-01-01T00:00:00Z".into(),
                    approved_at: (status >= Status::Active).then(|| "2026-01-02T00:00:00Z".into()),
                    removed_at: (status == Status::Removed).then(|| "2026-01-03T00:00:00Z".into()),
                    environments: envs.into_iter().map(String::from).collect(),
                }
            })
    }

    fn record() -> impl Strategy<Value = KeyRecord> {
        (
            proptest::sample::subsequence(IDS.to_vec(), 0..=4),
            proptest::sample::subsequence(KEYS.to_vec(), 0..=2),
        )
            .prop_map(|(wrapped, sup)| KeyRecord {
                created_at: "2026-01-01T00:00:00Z".into(),
                grants: wrapped
                    .iter()
                    .map(|m| (m.to_string(), format!("grant-{m}")))
                    .collect(),
                wrapped: wrapped
                    .into_iter()
                    .map(|m| (m.to_owned(), format!("wrap-{m}")))
                    .collect(),
                superseded_by: sup
                    .into_iter()
                    .map(|k| (KeyId(k.to_owned()), format!("sealed-{k}")))
                    .collect(),
                left_out: BTreeMap::new(),
            })
    }

    fn access() -> impl Strategy<Value = Access> {
        (
            proptest::collection::btree_map(
                proptest::sample::select(IDS.to_vec()),
                member(),
                0..=4,
            ),
            proptest::collection::btree_map(
                proptest::sample::select(KEYS.to_vec()),
                record(),
                1..=3,
            ),
        )
            .prop_map(|(members, keys)| {
                let mut a = Access {
                    version: 1,
                    members: members
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                    keys: BTreeMap::from([(
                        "development".to_owned(),
                        keys.into_iter()
                            .map(|(k, v)| (KeyId(k.to_owned()), v))
                            .collect(),
                    )]),
                };
                for rec in a.keys.values_mut().flat_map(|k| k.values_mut()) {
                    rec.wrapped.retain(|m, _| a.members.contains_key(m));
                    rec.grants.retain(|m, _| a.members.contains_key(m));
                }
                a
            })
    }

    /// A side derived from `base` the way commands change it: members added or moved
    /// forward (pending → active → removed), keys added or superseded.
    fn descendant(base: Access) -> impl Strategy<Value = Access> {
        (access(), proptest::collection::vec(0u8..3, 4)).prop_map(move |(extra, bumps)| {
            let mut a = base.clone();
            for (id, m) in extra.members {
                a.members.entry(id).or_insert(m);
            }
            for ((_, m), bump) in a.members.iter_mut().zip(bumps) {
                let status =
                    [Status::Pending, Status::Active, Status::Removed][bump as usize].max(m.status);
                m.status = status;
                if status >= Status::Active && m.approved_at.is_none() {
                    m.approved_at = Some("2026-02-01T00:00:00Z".into());
                }
                if status == Status::Removed && m.removed_at.is_none() {
                    m.removed_at = Some("2026-02-02T00:00:00Z".into());
                }
            }
            for (env, keys) in extra.keys {
                let mine = a.keys.entry(env).or_default();
                for (id, rec) in keys {
                    let entry = mine.entry(id).or_insert_with(|| rec.clone());
                    entry.superseded_by.extend(rec.superseded_by);
                }
            }
            let members = a.members.clone();
            for rec in a.keys.values_mut().flat_map(|k| k.values_mut()) {
                rec.wrapped.retain(|m, _| members.contains_key(m));
                rec.grants.retain(|m, _| members.contains_key(m));
            }
            a
        })
    }

    fn three() -> impl Strategy<Value = (Access, Access, Access)> {
        access().prop_flat_map(|base| {
            (
                Just(base.clone()),
                descendant(base.clone()),
                descendant(base),
            )
        })
    }

    proptest! {
        #[test]
        fn symmetric((base, a, b) in three()) {
            prop_assert_eq!(merge(Some(&base), &a, &b), merge(Some(&base), &b, &a));
            prop_assert_eq!(merge(None, &a, &b), merge(None, &b, &a));
        }

        #[test]
        fn removals_win_and_nobody_is_lost((base, a, b) in three()) {
            let m = merge(Some(&base), &a, &b);
            for side in [&a, &b] {
                for (id, member) in &side.members {
                    let merged = &m.members[id];
                    prop_assert!(merged.status >= member.status, "{} went back from {:?} to {:?}", id, member.status, merged.status);
                }
            }
        }

        #[test]
        fn grants_come_only_from_a_side((base, a, b) in three()) {
            let m = merge(Some(&base), &a, &b);
            for (env, keys) in &m.keys {
                for (id, rec) in keys {
                    for (member, tag) in &rec.grants {
                        let from_side = [&a, &b].iter().any(|side| {
                            side.keys.get(env).and_then(|k| k.get(id)).and_then(|r| r.grants.get(member)) == Some(tag)
                        });
                        prop_assert!(from_side, "grant of {} to {} made by the merge", id, member);
                    }
                }
            }
        }

        #[test]
        fn superseded_keys_stay_superseded((base, a, b) in three()) {
            let m = merge(Some(&base), &a, &b);
            for side in [&a, &b] {
                for (env, keys) in &side.keys {
                    for (id, rec) in keys {
                        for newer in rec.superseded_by.keys() {
                            prop_assert!(m.keys[env][id].superseded_by.contains_key(newer));
                        }
                    }
                }
            }
        }

        #[test]
        fn merging_a_side_with_the_base_gives_that_side((base, a, _b) in three()) {
            prop_assert_eq!(&merge(Some(&base), &a, &base), &a);
            prop_assert_eq!(&merge(Some(&base), &a, &a), &a);
        }
    }
}
