//! Unverified values: a value whose token is sealed under a key of its environment that
//! the checked-out access.json does not list as current. A rotation re-seals every value
//! under the new key, so such a token was written by someone holding the old one, and a
//! removed member still holds it: a clone kept from before the removal seals a value
//! under the old key, commits with `--no-verify` and pushes, and the smudge opens it like
//! any other. Honest sources exist too (a branch made before the rotation and merged
//! without the merge driver, a rebase of one, a stash pop), so the value is not refused
//! for what it is: the commands that hand values to a program or a file (`run`,
//! `export`) refuse until a person has looked at it (`get`, which warns) and re-sealed it
//! under the current key. Key ids are public: which values are unverified is read from
//! the tokens, without opening them, except in an unlocked clone, where a value the user
//! changed in the work tree over such a token is their own and passes.
//!
//! The comparison is with the checked-out access.json, so an old commit checked out
//! (where that key was still current) reads as it did then.
//!
//! Review is acceptance: `get` showing such a value in plain text records its token
//! (crate::continuity::Reviewed), and until then the commit hook refuses a commit that
//! re-seals it unchanged (crate::guard), which any `git add` of its file would do.

use std::collections::{HashMap, HashSet};

use zeroize::Zeroizing;

use super::Workspace;
use crate::access::Access;
use crate::envfile;
use crate::error::Error;
use crate::scope::Scope;

/// One value of a scope file sealed under a key of its environment that is not current.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unverified {
    pub scope: Scope,
    /// The 1-based line of the sealed form (the staged blob in an unlocked clone).
    pub line: usize,
    pub key: String,
    pub key_id: String,
    /// The sealed token (public: what git stores), which `get` records as reviewed.
    pub token: String,
}

impl Unverified {
    /// `PATH line N: KEY under key ID`, never the value.
    pub fn describe(&self) -> String {
        format!(
            "{} line {}: `{}` is sealed with key {}, which is not a current key of `{}` in .secrets/access.json",
            self.scope.rel_path(),
            self.line,
            self.key,
            self.key_id,
            self.scope.env
        )
    }

    /// Why it matters and what to do, for one value.
    pub fn fix(&self) -> String {
        fix_text(std::slice::from_ref(self))
    }
}

/// The words that name `scope` on the command line.
pub(crate) fn scope_words(scope: &Scope) -> String {
    let service = scope
        .service
        .as_ref()
        .map(|s| format!("-s {s} "))
        .unwrap_or_default();
    if scope.is_shared() {
        format!("{service}--shared")
    } else {
        format!("{service}-e {}", scope.env)
    }
}

/// The command that shows (and so reviews) the value of `key` in `scope`.
pub(crate) fn review_command(scope: &Scope, key: &str) -> String {
    format!("`git secrets get {} {key} --show`", scope_words(scope))
}

/// The fix for `found` (not empty): review each value, then re-seal its file.
fn fix_text(found: &[Unverified]) -> String {
    let mut reviews: Vec<String> = found
        .iter()
        .map(|u| review_command(&u.scope, &u.key))
        .collect();
    reviews.dedup();
    let mut paths: Vec<String> = found.iter().map(|u| u.scope.rel_path()).collect();
    paths.sort();
    paths.dedup();
    format!(
        "anyone who held that key, a removed member included, may have written it: review it with {}, then, if it is right, re-seal it under the current key with `git add --renormalize -- {}` and commit (or `git secrets unset` it, or `set` it anew)",
        reviews.join(", "),
        paths.join(" ")
    )
}

/// The refusal of `run` and `export` when values they would pass on are unverified.
pub fn refusal(found: &[Unverified]) -> Error {
    let listed: Vec<String> = found.iter().map(Unverified::describe).collect();
    Error::Refused {
        message: format!("unverified value(s), not passed on: {}", listed.join("; ")),
        hint: fix_text(found),
    }
}

/// The warning `get` prints for `found` (not empty).
pub fn warning(found: &[Unverified]) -> String {
    let listed: Vec<String> = found.iter().map(Unverified::describe).collect();
    format!(
        "warning: unverified value(s): {}; {}",
        listed.join("; "),
        fix_text(found)
    )
}

impl Workspace {
    /// The unverified values of every file of `scopes` (one that cannot be read is left
    /// to the problems that say why), their staged blobs read in one `git cat-file
    /// --batch` (when a file is plaintext) rather than a git process each: `status`,
    /// `doctor`.
    pub fn unverified_all(&self, scopes: &[Scope]) -> Vec<Unverified> {
        let mut staged = self.lazy_staged(scopes);
        scopes
            .iter()
            .flat_map(|scope| self.unverified_in(scope, &mut staged).unwrap_or_default())
            .collect()
    }

    /// The staged blob of each file of `scopes` that has one, by path, in one batch.
    pub fn staged_scope_blobs(&self, scopes: &[Scope]) -> HashMap<String, Zeroizing<Vec<u8>>> {
        let mut staged = HashMap::new();
        let names = scopes
            .iter()
            .map(|s| format!(":{}", s.rel_path()))
            .collect();
        // Unreadable: every file counts as having none, as a new file does.
        let _ = self.repo.for_each_object(names, |i, _, bytes| {
            if let Some(bytes) = bytes {
                staged.insert(scopes[i].rel_path(), Zeroizing::new(bytes.to_vec()));
            }
            Ok(())
        });
        staged
    }

    /// Whether `sealed` (an encrypted form of `scope`'s file) holds a value under a key
    /// of its environment that is not current: read from the key ids, nothing opened.
    pub fn holds_unverified(&self, scope: &Scope, sealed: &[u8]) -> bool {
        self.suspect(scope)
            .is_some_and(|suspect| !under_keys(scope, sealed, suspect).is_empty())
    }

    /// Whether a token of `scope` under key id `id` is unverified: the id is not a
    /// current key of its environment (and is not another environment's key, a moved
    /// file, which opening it reports). None when no token of `scope` can be: its
    /// environment has no key but current ones (never rotated: a token under an id
    /// access.json does not list opens for no one, and fails where it is opened), or
    /// none at all (the access checks speak for it). So `run` in a repository that never
    /// rotated reads nothing more than it did.
    fn suspect(&self, scope: &Scope) -> Option<impl Fn(&str) -> bool + '_> {
        let heads = self.access.heads(&scope.env).len();
        let known = self
            .access
            .keys
            .get(&scope.env)
            .map_or(0, |keys| keys.len());
        (heads > 0 && known > heads).then(|| not_current(&[&self.access], &scope.env))
    }

    /// The values of the files of `scopes` that HEAD holds under a key current neither in
    /// HEAD's access.json nor in the checked-out one, and that the work tree still holds
    /// as that token opens to. Once a `git add` (an edit of another line, a
    /// `--renormalize`, a rotation) has re-sealed such a value under the current key, the
    /// staged blob no longer shows it, but the commit hook refuses to commit it so until
    /// it is reviewed: `run` and `export` refuse it until then too, and `get` shows it
    /// with the same warning and records the review. None without an identity that opens
    /// HEAD's version. HEAD's files and access.json are read in one batch.
    pub fn unverified_at_head(&self, scopes: &[Scope]) -> Vec<Unverified> {
        // An environment that never rotated here has no key HEAD's values could be
        // retired under: no git process for `get` or `run` in such a repository.
        let scopes: Vec<&Scope> = scopes
            .iter()
            .filter(|s| self.suspect(s).is_some())
            .collect();
        if scopes.is_empty() {
            return Vec::new();
        }
        let mut names: Vec<String> = scopes
            .iter()
            .map(|s| format!("HEAD:{}", s.rel_path()))
            .collect();
        names.push(format!("HEAD:{}", super::ACCESS_FILE));
        let mut blobs: Vec<Option<Zeroizing<Vec<u8>>>> = vec![None; names.len()];
        let read = self.repo.for_each_local_object(names, |i, _, bytes| {
            blobs[i] = bytes.map(|b| Zeroizing::new(b.to_vec()));
            Ok(())
        });
        if read.is_err() {
            return Vec::new();
        }
        let head_access = blobs
            .pop()
            .flatten()
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
            .and_then(|t| Access::parse(&t, std::path::Path::new(super::ACCESS_FILE)).ok());
        let mut accesses = vec![&self.access];
        accesses.extend(head_access.as_ref());
        scopes
            .into_iter()
            .zip(blobs)
            .filter_map(|(scope, head)| Some((scope, head?)))
            .flat_map(|(scope, head)| self.unverified_in_head(scope, &head, &accesses))
            .collect()
    }

    /// [`Workspace::unverified_at_head`] of one file, HEAD's version of it `head`.
    fn unverified_in_head(
        &self,
        scope: &Scope,
        head: &[u8],
        accesses: &[&Access],
    ) -> Vec<Unverified> {
        let candidates = under_keys(scope, head, not_current(accesses, &scope.env));
        if candidates.is_empty() {
            return Vec::new();
        }
        let (Ok(then), Ok(now)) = (self.decrypt(scope, head), self.read_scope(scope)) else {
            return Vec::new();
        };
        let now = now.doc.index();
        candidates
            .into_iter()
            .filter(|u| {
                then.raw_at(u.line)
                    .is_some_and(|was| now.get(&u.key).is_some_and(|e| e.raw.expose() == was))
            })
            .collect()
    }

    /// Records `shown` (unverified values `get` has shown in plain text) as reviewed in
    /// this clone's memory ([`crate::continuity::Reviewed`]); says so when it cannot.
    pub fn record_reviewed(&self, shown: &[Unverified]) {
        if shown.is_empty() {
            return;
        }
        let lines: Vec<(String, String, String)> = shown
            .iter()
            .map(|u| (u.scope.rel_path(), u.key.clone(), u.token.clone()))
            .collect();
        if !crate::continuity::remember_reviewed(self.root(), &lines) {
            eprintln!("warning: could not record the review in the repository's git directory (git-secrets/reviewed): the commit hook will still refuse to re-seal these values");
        }
    }

    /// The unverified values of `scope`'s file as this checkout has it (see the module
    /// documentation). A sealed work-tree file (a locked clone), or a file outside the
    /// sparse checkout, is judged by its own tokens. A plaintext one is judged by the
    /// staged blob's tokens: a value there under a key that is not current is unverified
    /// while the work tree holds what that token opens to (one that does not open is
    /// counted too: nothing shows it is the user's own). `staged` gives the staged blob
    /// of a path.
    fn unverified_in(
        &self,
        scope: &Scope,
        staged: &mut dyn FnMut(&str) -> Option<Zeroizing<Vec<u8>>>,
    ) -> Result<Vec<Unverified>, Error> {
        let rel = scope.rel_path();
        let Some(suspect) = self.suspect(scope) else {
            return Ok(Vec::new());
        };
        let Some(bytes) = self.checkout_bytes(scope)? else {
            return Ok(Vec::new());
        };
        let found = |sealed: &[u8]| under_keys(scope, sealed, &suspect);
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        let doc = self.parse_plain(scope, &bytes)?;
        if envfile::looks_encrypted_doc(&doc) || envfile::is_encrypted_doc(&doc) {
            return Ok(found(&bytes));
        }
        // Plaintext: what git holds for it. None staged (a new file, a conflict): nothing
        // came from anyone else. (`staged` reads the blobs of the files asked about
        // together, in one batch.)
        let Some(staged) = staged(&rel) else {
            return Ok(Vec::new());
        };
        let suspects = found(&staged);
        if suspects.is_empty() {
            return Ok(suspects);
        }
        let opened = self.decrypt(scope, &staged).ok();
        let here = doc.index();
        Ok(suspects
            .into_iter()
            .filter(|u| {
                // A key no longer in the work tree is passed on to no one.
                let Some(now) = here.get(&u.key) else {
                    return false;
                };
                opened
                    .as_ref()
                    .and_then(|o| o.raw_at(u.line))
                    .is_none_or(|then| then == now.raw.expose())
            })
            .collect())
    }

    /// Of the values `run` passes on for `scope` (its own, and the shared ones it does
    /// not override), those that are unverified: in the checkout, or at HEAD and
    /// re-sealed since by a `git add` without a review
    /// ([`Workspace::unverified_at_head`]), which the commit hook would refuse to commit.
    pub fn unverified_passed_on(&self, scope: &Scope) -> Result<Vec<Unverified>, Error> {
        Ok(self.unverified_to_review(scope)?.0)
    }

    /// For `get`: [`Workspace::unverified_passed_on`] (what to warn about), and what to
    /// record as reviewed once shown: those and the values HEAD holds unverified that a
    /// `git add` re-sealed since, reviewed already or not.
    pub fn unverified_to_review(
        &self,
        scope: &Scope,
    ) -> Result<(Vec<Unverified>, Vec<Unverified>), Error> {
        let mut scopes = vec![scope.clone()];
        let overridden = if scope.is_shared() {
            HashSet::new()
        } else {
            scopes.push(scope.shared());
            self.read_keys(scope)?
        };
        let passed_on = |u: &Unverified| u.scope == *scope || !overridden.contains(&u.key);
        let mut staged = self.lazy_staged(&scopes);
        let mut found = Vec::new();
        for s in &scopes {
            found.extend(
                self.unverified_in(s, &mut staged)?
                    .into_iter()
                    .filter(passed_on),
            );
        }
        let at_head: Vec<Unverified> = self
            .unverified_at_head(&scopes)
            .into_iter()
            .filter(passed_on)
            .collect();
        let mut shown = at_head.clone();
        shown.extend(found.iter().cloned());
        if !at_head.is_empty() {
            let reviewed = crate::continuity::Reviewed::load(self.root());
            for u in at_head {
                let known = found.iter().any(|f| f.scope == u.scope && f.key == u.key);
                if !known && !reviewed.contains(&u.scope.rel_path(), &u.key, &u.token) {
                    found.push(u);
                }
            }
        }
        Ok((found, shown))
    }

    /// The staged blob of a path of `scopes`, all of them read in one batch the first
    /// time one is asked for (a locked clone asks for none).
    fn lazy_staged<'a>(
        &'a self,
        scopes: &'a [Scope],
    ) -> impl FnMut(&str) -> Option<Zeroizing<Vec<u8>>> + 'a {
        let mut staged = None;
        move |rel: &str| {
            staged
                .get_or_insert_with(|| self.staged_scope_blobs(scopes))
                .remove(rel)
        }
    }

    /// `scope`'s file as this checkout has it: the work tree's, or the staged one for a
    /// file outside the sparse checkout; None when there is neither.
    fn checkout_bytes(&self, scope: &Scope) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
        Ok(match self.read_bytes(scope)? {
            Some(bytes) => Some(bytes),
            None => self.staged_outside_checkout(&scope.rel_path()),
        })
    }

    /// The key names `scope`'s file holds (none when it is missing), read without
    /// opening a value.
    fn read_keys(&self, scope: &Scope) -> Result<HashSet<String>, Error> {
        let Some(bytes) = self.checkout_bytes(scope)? else {
            return Ok(HashSet::new());
        };
        Ok(self
            .parse_plain(scope, &bytes)?
            .keys()
            .into_iter()
            .collect())
    }
}

/// Whether a token of `env` under key id `id` is sealed under a key that is current in
/// none of `accesses` (each access.json a commit is judged by: HEAD's and the staged
/// one, so that a rotation being committed does not make the values HEAD sealed under
/// the key it replaces suspect), and that is `env`'s (or no environment's: another
/// environment's is a moved file, which opening it reports). Never, for an environment
/// with no current key: the access checks speak for it.
pub fn not_current<'a>(accesses: &[&'a Access], env: &str) -> impl Fn(&str) -> bool + 'a {
    let current: HashSet<String> = accesses
        .iter()
        .flat_map(|a| a.heads(env))
        .map(|id| id.0.clone())
        .collect();
    let own: Vec<&'a Access> = accesses.to_vec();
    let env = env.to_owned();
    move |id: &str| {
        !current.is_empty()
            && !current.contains(id)
            && own.iter().all(|a| {
                a.keys
                    .iter()
                    .find(|(_, chain)| chain.keys().any(|k| k.0 == id))
                    .is_none_or(|(e, _)| *e == env)
            })
    }
}

/// The values of `sealed` (an encrypted form of `scope`'s file) whose tokens are under a
/// key id `suspect` names; comments are not values and are left out.
fn under_keys(scope: &Scope, sealed: &[u8], suspect: impl Fn(&str) -> bool) -> Vec<Unverified> {
    envfile::tokens(sealed)
        .unwrap_or_default()
        .into_iter()
        .filter(|t| suspect(&t.key_id))
        .filter_map(|t| {
            Some(Unverified {
                scope: scope.clone(),
                line: t.line,
                key: t.key?,
                key_id: t.key_id,
                token: t.token,
            })
        })
        .collect()
}
