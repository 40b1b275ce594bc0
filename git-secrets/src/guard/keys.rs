//! Check 5: a secret blob a commit adds or changes holds values only under a current key
//! of its environment, as the commit's own access.json has it. A rotation (after
//! `member remove`) re-seals every file, but git can still bring back a blob sealed
//! under the key it replaced, which the removed member holds: a pathspec checkout of a
//! stash or an old commit writes it straight into the index, and a merge takes a file
//! an unpushed branch added as it is. Key ids are public, so this needs no key and
//! works in a locked clone and in CI.
//!
//! A current key is a head of the environment's chain (a merge of two rotations has
//! two, both fine) that no removed member was given: removed in the commit's access.json,
//! or in any version of it before the commit (a `git revert` of a removal, or an old
//! access.json checked out or cherry-picked, lists the member again and the key it
//! holds as current). A token the parent (HEAD) already holds in the same file is not
//! new: what a commit keeps, it does not reveal.

use std::collections::HashSet;

use super::{Blob, Finding};
use crate::access::Access;
use crate::envfile;
use crate::wholefile;

/// Why a key may not hold a new value.
enum Retired {
    /// A rotation replaced it.
    Replaced,
    /// A current key that removed members were given (their names).
    Exposed(Vec<String>),
    /// access.json does not list it for the environment.
    Unknown,
}

fn why(access: &Access, env: &str, key_id: &str, before: &[String]) -> Retired {
    let name = |m: &String| {
        access
            .members
            .get(m)
            .map_or_else(|| m.clone(), |x| x.name.clone())
    };
    if !before.is_empty() {
        return Retired::Exposed(before.iter().map(name).collect());
    }
    if let Some((_, members)) = access
        .exposed_heads(env)
        .into_iter()
        .find(|(id, _)| id.0 == key_id)
    {
        let names = members
            .iter()
            .map(|m| {
                access
                    .members
                    .get(m)
                    .map_or_else(|| m.clone(), |x| x.name.clone())
            })
            .collect();
        return Retired::Exposed(names);
    }
    match access.keys.get(env).and_then(|keys| {
        keys.iter()
            .find(|(id, _)| id.0 == key_id)
            .map(|(_, r)| !r.superseded_by.is_empty())
    }) {
        Some(true) => Retired::Replaced,
        _ => Retired::Unknown,
    }
}

/// The keys of `env` a new value may be sealed under; `None` when access.json has no
/// key for `env` (nothing to compare with: other checks speak for such a file).
fn usable(access: &Access, env: &str) -> Option<HashSet<String>> {
    access.keys.get(env)?;
    let exposed: HashSet<String> = access
        .exposed_heads(env)
        .into_iter()
        .map(|(id, _)| id.0)
        .collect();
    Some(
        access
            .heads(env)
            .into_iter()
            .map(|id| id.0.clone())
            .filter(|id| !exposed.contains(id))
            .collect(),
    )
}

/// Check 5 for `blob`, a sealed secret file of `env` that the commit adds or changes:
/// `whole` for a tracked file sealed whole, `former` the parent's blob at the same path;
/// `removed_before(key id)`: the members removed before the commit (in history) that key
/// was ever wrapped to.
pub fn retired_keys(
    blob: &Blob,
    env: &str,
    whole: bool,
    access: &Access,
    former: Option<&[u8]>,
    removed_before: &mut dyn FnMut(&str) -> Vec<String>,
) -> Option<Finding> {
    let usable = usable(access, env)?;
    // Asked once per key, and only of a key the commit's access.json lets hold values.
    let mut before: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut ok = |id: &str| {
        usable.contains(id)
            && before
                .entry(id.to_owned())
                .or_insert_with(|| removed_before(id))
                .is_empty()
    };
    let p = blob.path;
    let bad = new_tokens_outside(blob, whole, former, &mut ok)?;
    let (line, key, key_id) = bad.first()?;
    let what = match (line, key) {
        (Some(l), Some(k)) => format!("line {l} (`{k}`) is"),
        (Some(l), None) => format!("line {l} (a comment) is"),
        _ => "is".to_owned(),
    };
    let mut reason = format!("{what} sealed with key {key_id}, ");
    let none = Vec::new();
    let before_of = |id: &str| before.get(id).unwrap_or(&none).as_slice();
    let retired = why(access, env, key_id, before_of(key_id));
    reason.push_str(&match &retired {
        Retired::Replaced => format!(
            "which a rotation of `{env}` replaced: whoever held that key (a removed member too) can read it"
        ),
        Retired::Exposed(names) => format!(
            "the current key of `{env}`, which removed member(s) {} were given",
            names.join(", ")
        ),
        Retired::Unknown => format!("which access.json does not list as a key of `{env}`"),
    });
    if bad.len() > 1 {
        reason.push_str(&format!(", and {} more line(s) like it", bad.len() - 1));
    }
    let exposed = bad
        .iter()
        .any(|(_, _, id)| matches!(why(access, env, id, before_of(id)), Retired::Exposed(_)));
    let fix = if exposed {
        format!("give `{env}` a new key with `git secrets rotate --env {env}` (it re-seals and stages its files), then commit again")
    } else {
        // Whoever held the retired key, a removed member too, may have sealed it: a person
        // looks at it before it is re-sealed as the current key's own.
        let review = match (crate::scope::Scope::from_rel_path(p), key) {
            (Some(scope), Some(k)) if !whole => format!(
                "`git secrets get {} {k} --show`",
                crate::workspace::scope_words(&scope)
            ),
            _ => format!("{p} in the work tree of an unlocked clone"),
        };
        format!("anyone who held that key, a removed member included, may have written it: review it first ({review}), then, if it is right, re-seal it under the current key of `{env}`: `git add --renormalize -- {p}` in a clone that can read `{env}` (after `git secrets unlock`), then commit again")
    };
    Some(Finding {
        commit: None,
        path: p.to_owned(),
        reason,
        fix,
    })
}

/// A token [`new_tokens_outside`] found: its line and key name (none for a whole file,
/// or a comment), and its key id.
type NewToken = (Option<usize>, Option<String>, String);

/// (line, key name, key id) of each token of `blob` (a sealed scope file, or a `whole`
/// sealed file: one token, no line) under a key `allowed` refuses, leaving out the tokens
/// `former` (the parent's version) already holds: those are not new. `None` when `blob`
/// is not in sealed form.
fn new_tokens_outside(
    blob: &Blob,
    whole: bool,
    former: Option<&[u8]>,
    allowed: &mut dyn FnMut(&str) -> bool,
) -> Option<Vec<NewToken>> {
    if whole {
        let id = wholefile::key_id(blob.bytes)?;
        return Some(match allowed(id) {
            true => Vec::new(),
            false => vec![(None, None, id.to_owned())],
        });
    }
    let kept: HashSet<String> = former
        .and_then(envfile::tokens)
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.token)
        .collect();
    Some(
        envfile::tokens(blob.bytes)?
            .into_iter()
            .filter(|t| !kept.contains(&t.token) && !allowed(&t.key_id))
            .map(|t| (Some(t.line), t.key, t.key_id))
            .collect(),
    )
}

/// Check 5 for `blob`, a sealed secret file whose environment access.json has no key for
/// (or a routed file config.toml no longer tracks): values under a key that no
/// environment of access.json lists are opened by no one once committed, the key left
/// only in history. A merge makes one: `git secrets env del X` on one side, values set
/// in X or a file tracked under X (`track -e X`) on the other, the conflicts resolved
/// by taking the deleting side's config.toml. Tokens the parent already holds are not
/// new, as in [`retired_keys`].
pub fn lost_keys(
    blob: &Blob,
    whole: bool,
    access: &Access,
    former: Option<&[u8]>,
) -> Option<Finding> {
    let mut listed = |id: &str| access.keys.values().any(|c| c.keys().any(|k| k.0 == id));
    let lost = new_tokens_outside(blob, whole, former, &mut listed)?;
    let (_, _, key_id) = lost.first()?;
    let keys: Vec<String> = lost
        .iter()
        .filter_map(|(_, k, _)| k.as_ref().map(|k| format!("`{k}`")))
        .collect();
    let what = match keys.is_empty() {
        true => "is sealed".to_owned(),
        false => format!("holds {} sealed", keys.join(", ")),
    };
    let p = blob.path;
    let (keep, drop) = match whole {
        true => (
            format!("`git secrets track {p} -e ENV`"),
            format!("`git rm --cached -- {p}` and delete its line from .gitattributes, then commit"),
        ),
        false => (
            "`git secrets export` its values and `git secrets import` them into another environment".to_owned(),
            format!("`git rm --cached -- {p}` and commit with --no-verify"),
        ),
    };
    Some(Finding {
        commit: None,
        path: p.to_owned(),
        reason: format!(
            "{what} with key {key_id}, which no environment in .secrets/access.json has (its environment deleted by `git secrets env del`, on the other side of a merge?): once committed, no one can open it"
        ),
        fix: format!(
            "to keep it, abort (`git merge --abort`) and either bring the environment back (`git revert` the commit that deleted it) or, on the branch that sealed it, move it to an environment that stays ({keep}), then merge again; if it is no longer needed, {drop}"
        ),
    })
}

/// A scope file of `env` (declared) holding values sealed under a key of another
/// environment's chain, and under none of `env`'s: `env rename staging preprod` then
/// `env add staging` on one branch, an edit of the old `staging` on another, merged. The
/// old values belong to `preprod` now; sealing them again for `staging` would hand them
/// to whoever reads the new environment, and no command of `staging` opens them. Key ids
/// are public: this needs no key. `home_of(env)` gives an environment's file for the
/// same service.
pub fn foreign_keys(
    blob: &Blob,
    env: &str,
    access: &Access,
    home_of: &dyn Fn(&str) -> String,
) -> Option<Finding> {
    let own = access.keys.get(env)?;
    let bad: Vec<(usize, Option<String>, String, &str)> = envfile::tokens(blob.bytes)?
        .into_iter()
        .filter(|t| !own.keys().any(|id| id.0 == t.key_id))
        .filter_map(|t| {
            let other = access
                .keys
                .iter()
                .find(|(e, chain)| *e != env && chain.keys().any(|id| id.0 == t.key_id))?;
            Some((t.line, t.key, t.key_id, other.0.as_str()))
        })
        .collect();
    let (line, key, key_id, other) = bad.first()?;
    let what = match key {
        Some(k) => format!("line {line} (`{k}`)"),
        None => format!("line {line} (a comment)"),
    };
    let more = match bad.len() {
        1 => String::new(),
        n => format!(" (and {} more line(s) like it)", n - 1),
    };
    let home = home_of(other);
    Some(Finding {
        commit: None,
        path: blob.path.to_owned(),
        reason: format!(
            "{what} is sealed with key {key_id} of environment `{other}`, not of `{env}`{more}: values of `{other}` at a path of `{env}` (an `env rename` merged with an edit of the old name, after the name went to a new environment?); no command of `{env}` opens them, and sealing them again for `{env}` would hand them to its readers"
        ),
        fix: format!(
            "`git secrets doctor --fix` merges them into {home} and puts back `{env}`'s own file (then commit)"
        ),
    })
}
