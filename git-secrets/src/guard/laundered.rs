//! The commit that would launder an unverified value: HEAD holds it sealed under a key
//! of its environment that is current neither in HEAD's access.json nor in the staged
//! one (a removed member's push, sealed under the key the removal retired; see
//! crate::workspace's unverified values), and the staged blob holds the same value
//! re-sealed under another key. The clean filter re-seals every value of a file
//! whenever git cleans it (an edit of another line, `commit -a`, `add --renormalize`, a
//! rotation), so without this check such a value would pass as verified from the next
//! commit on without anyone having looked at it. A value `get` showed in plain text
//! here is reviewed (crate::continuity::Reviewed) and passes; so does one the user
//! changed, which is their own.
//!
//! Comparing the values takes an identity: without one (a clone that cannot open the
//! file) the check is skipped, like the other checks that need a key. Only a staged
//! scope file whose HEAD version holds a token under such a key is opened, so a commit
//! of files sealed under the current key costs a parse of HEAD's versions and no more.

use std::collections::HashMap;

use super::run::LazyKnown;
use super::{Blob, Finding};
use crate::access::Access;
use crate::envfile;
use crate::scope::Scope;

/// The check for `blob`, a staged scope file, against `former` (HEAD's version of it);
/// `accesses`: the staged access.json, and HEAD's when the commit changes it.
pub fn laundered(
    blob: &Blob,
    former: &[u8],
    accesses: &[&Access],
    known: &LazyKnown,
) -> Option<Finding> {
    let scope = Scope::from_rel_path(blob.path)?;
    let suspect = crate::workspace::not_current(accesses, &scope.env);
    let olds: Vec<_> = envfile::tokens(former)?
        .into_iter()
        .filter(|t| t.key.is_some() && suspect(&t.key_id))
        .collect();
    if olds.is_empty() {
        return None;
    }
    let news: HashMap<String, envfile::SealedToken> = envfile::tokens(blob.bytes)?
        .into_iter()
        .filter_map(|t| Some((t.key.clone()?, t)))
        .collect();
    // Re-sealed under another key that is current: kept as it was (or under another
    // retired key) it stays unverified, and `run` still refuses it.
    let resealed: Vec<_> = olds
        .into_iter()
        .filter_map(|old| {
            let new = news.get(old.key.as_deref()?)?;
            (new.token != old.token && !suspect(&new.key_id)).then_some((old, new))
        })
        .collect();
    if resealed.is_empty() {
        return None;
    }
    let ws = known.get()?.workspace();
    let reviewed = crate::continuity::Reviewed::load(ws.root());
    let unreviewed: Vec<_> = resealed
        .into_iter()
        .filter(|(old, _)| {
            !reviewed.contains(blob.path, old.key.as_deref().unwrap_or(""), &old.token)
        })
        .collect();
    if unreviewed.is_empty() {
        return None;
    }
    let then = ws.decrypt(&scope, former).ok()?;
    let now = ws.decrypt(&scope, blob.bytes).ok()?;
    let same: Vec<_> = unreviewed
        .into_iter()
        .filter(|(old, new)| {
            let (was, is) = (then.raw_at(old.line), now.raw_at(new.line));
            was.is_some() && was == is
        })
        .collect();
    let (old, new) = same.first()?;
    let key = old.key.as_deref().unwrap_or("");
    let more = match same.len() {
        1 => String::new(),
        n => format!(" (and {} more value(s) like it)", n - 1),
    };
    let mut keys: Vec<String> = same
        .iter()
        .filter_map(|(o, _)| {
            o.key
                .as_ref()
                .map(|k| crate::workspace::review_command(&scope, k))
        })
        .collect();
    keys.dedup();
    Some(Finding {
        commit: None,
        path: blob.path.to_owned(),
        reason: format!(
            "line {} (`{key}`) re-seals, unchanged, a value HEAD holds sealed with key {}, which is not a current key of `{}` in .secrets/access.json{more}: anyone who held that key, a removed member included, may have written it, and once re-sealed under the current key it would pass as verified without anyone having reviewed it",
            new.line, old.key_id, scope.env
        ),
        fix: format!(
            "review it first ({}; showing it records the review in this clone), then commit again; or, if it is not yours, `git secrets unset {} {key}` (or `set` it anew) and commit",
            keys.join(", "),
            crate::workspace::scope_words(&scope)
        ),
    })
}
