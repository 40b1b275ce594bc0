//! Tokens that outlive a key: reusing the stored token of an unchanged value (so a merge,
//! a checkout of history or a touch never makes an unchanged file look modified), and
//! finding a key that a branch being merged rotated to.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::{Workspace, ACCESS_FILE};
use crate::access::Access;
use crate::dotenv::{Document, LineKind};
use crate::envfile;
use crate::error::Error;
use crate::scope::Scope;
use crate::seal::SealingKey;

impl Workspace {
    /// Like [`Workspace::decrypt`], but when a value names a key this checkout's
    /// access.json does not know (a rotation on the branch being merged or rebased), the
    /// key is looked for in the access.json of the commits git is working with and of
    /// every branch, and used once it opens (a key is checked against its id).
    pub fn decrypt_with_history(&self, scope: &Scope, bytes: &[u8]) -> Result<Document, Error> {
        let mut tried = std::collections::HashSet::new();
        loop {
            match self.decrypt(scope, bytes) {
                Err(Error::Open {
                    source: envfile::OpenError::UnknownKey { key_id, .. },
                    ..
                }) if tried.insert(key_id.clone()) => {
                    if !self.learn_key(&scope.env, &key_id)? {
                        return self.decrypt(scope, bytes);
                    }
                }
                other => return other,
            }
        }
    }

    /// Searches access.json in the commits a merge, rebase, cherry-pick or revert is
    /// using, then in history, for the key `key_id` of `env`; adds it to this session's
    /// keys when this identity can open it. Returns whether it was found.
    pub(super) fn learn_key(&self, env: &str, key_id: &str) -> Result<bool, Error> {
        let mut revs: Vec<String> = [
            "MERGE_HEAD",
            "REBASE_HEAD",
            "CHERRY_PICK_HEAD",
            "REVERT_HEAD",
            "AUTO_MERGE",
            "FETCH_HEAD",
            "ORIG_HEAD",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Ok(out) = self.repo.git(&[
            "log",
            "--all",
            "--format=%H",
            &format!("-S\"{key_id}\""),
            "--",
            ACCESS_FILE,
        ]) {
            revs.extend(String::from_utf8_lossy(&out).lines().map(str::to_owned));
        }
        let identity = self.identity()?;
        for rev in revs {
            let Ok(text) = self
                .repo
                .git(&["cat-file", "blob", &format!("{rev}:{ACCESS_FILE}")])
            else {
                continue;
            };
            let text = String::from_utf8_lossy(&text);
            if !text.contains(key_id) {
                continue;
            }
            let Ok(access) = Access::parse(&text, Path::new(ACCESS_FILE)) else {
                continue;
            };
            let Ok(chain) = access.open_chain(env, identity) else {
                continue;
            };
            let mut keys: Vec<SealingKey> = self
                .keys(env)
                .map(|k| k.iter().cloned().collect())
                .unwrap_or_default();
            let before = keys.len();
            for k in chain.sealing_keys() {
                if !keys.iter().any(|x| x.id() == k.id()) {
                    keys.push(k);
                }
            }
            if keys.len() > before && keys.iter().any(|k| k.id().0 == key_id) {
                *self.key_slot(env).lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(Arc::new(keys));
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Seals `doc` like [`Workspace::encrypt`]. When no key may seal now (two current
    /// keys after a merge of two rotations, or one a removed member holds), a value or
    /// comment whose plaintext equals the stored version's (`previous`, the same file's
    /// encrypted form) keeps its stored token, so read-only git commands that run the
    /// filter (status, diff) keep working on unchanged files; anything changed is
    /// refused. When a key may seal, the fresh seal is the answer: a value stored under
    /// a key a rotation retired (a stash or a pathspec checkout brought it back beside a
    /// newer access.json) is sealed again, never kept under a key a removed member may
    /// hold.
    pub fn encrypt_reusing(
        &self,
        scope: &Scope,
        doc: &Document,
        previous: Option<&[u8]>,
    ) -> Result<String, Error> {
        let refused = match self.encrypt(scope, doc) {
            Ok(fresh) => return Ok(fresh),
            Err(e) if previous.is_some() => e,
            Err(e) => return Err(e),
        };
        let mut sealed = doc.clone();
        let reusable = previous
            .filter(|p| envfile::is_encrypted(p))
            .and_then(|p| Some((self.decrypt(scope, p).ok()?, Document::parse(p).ok()?)));
        let Some((prev_plain, prev_sealed)) = reusable else {
            return Err(refused);
        };
        // Plaintext of each previous line → its sealed line.
        let mut entries: HashMap<(String, String), String> = HashMap::new();
        let mut comments: HashMap<String, String> = HashMap::new();
        for (p, sl) in prev_plain.lines.iter().zip(&prev_sealed.lines) {
            match (&p.kind, &sl.kind) {
                (LineKind::Entry(pe), LineKind::Entry(se)) => {
                    entries.insert(
                        (pe.key.clone(), pe.raw.expose().to_owned()),
                        se.raw.expose().to_owned(),
                    );
                }
                (LineKind::Comment(pc), LineKind::Comment(sc)) => {
                    comments.insert(pc.expose().to_owned(), sc.expose().to_owned());
                }
                _ => {}
            }
        }
        let mut all_reused = true;
        for (plain, line) in doc.lines.iter().zip(sealed.lines.iter_mut()) {
            match (&plain.kind, &mut line.kind) {
                (LineKind::Entry(pe), LineKind::Entry(se)) => {
                    match entries.get(&(pe.key.clone(), pe.raw.expose().to_owned())) {
                        Some(tok) => se.raw = crate::secret::SecretString::from(tok.as_str()),
                        None => all_reused = false,
                    }
                }
                (LineKind::Comment(pc), LineKind::Comment(sc)) => match comments.get(pc.expose()) {
                    Some(tok) => *sc = crate::secret::SecretString::from(tok.as_str()),
                    None => all_reused = false,
                },
                _ => {}
            }
        }
        if all_reused {
            Ok(sealed.print().expose().to_owned())
        } else {
            Err(refused)
        }
    }
}

impl Workspace {
    /// The key a merged scope file of `env` must be sealed under: the current key of the
    /// access.json the merge itself produces (this checkout's merged with the other
    /// side's), when it has exactly one, no removed member was given it, and this identity
    /// opens it. Sealing under this checkout's key instead could put a value from a branch
    /// that removed someone under a key that person holds.
    ///
    /// The other side's access.json comes from the commit git is merging (`GITHEAD_*` in
    /// a merge, the commit id that starts the label in a rebase, cherry-pick or revert,
    /// else REBASE_HEAD, CHERRY_PICK_HEAD, REVERT_HEAD, MERGE_HEAD or the stash), checked
    /// to know every key its side's values use; failing that, from history. `None` when
    /// no such key can be had: the caller then keeps every value's own token.
    pub fn merge_sealing_key(
        &self,
        env: &str,
        their_label: &str,
        their_key_ids: &[String],
    ) -> Option<SealingKey> {
        let known =
            |a: &Access, id: &str| a.keys.get(env).is_some_and(|k| k.keys().any(|k| k.0 == id));
        let unknown: Vec<&String> = their_key_ids
            .iter()
            .filter(|id| !known(&self.access, id))
            .collect();
        // vars_os: std::env::vars panics on a variable that is not UTF-8 (a directory
        // name in OLDPWD under a Latin-1 locale), and only the names matter here.
        let mut candidates: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.to_str()?.strip_prefix("GITHEAD_").map(str::to_owned))
            .collect();
        candidates.extend(their_label.split_whitespace().next().map(str::to_owned));
        candidates.extend(
            [
                "REBASE_HEAD",
                "CHERRY_PICK_HEAD",
                "REVERT_HEAD",
                "MERGE_HEAD",
                "refs/stash",
            ]
            .map(String::from),
        );
        if let Some(id) = unknown.first() {
            if let Ok(out) = self.repo.git(&[
                "log",
                "--all",
                "--format=%H",
                &format!("-S\"{id}\""),
                "--",
                ACCESS_FILE,
            ]) {
                candidates.extend(String::from_utf8_lossy(&out).lines().map(str::to_owned));
            }
        }
        let theirs = candidates.iter().find_map(|c| {
            let text = self
                .repo
                .git(&["cat-file", "blob", &format!("{c}:{ACCESS_FILE}")])
                .ok()?;
            let access =
                Access::parse(&String::from_utf8_lossy(&text), Path::new(ACCESS_FILE)).ok()?;
            unknown
                .iter()
                .all(|id| known(&access, id))
                .then_some(access)
        });
        if theirs.is_none() && !unknown.is_empty() {
            return None;
        }
        let merged = crate::access::merge::merge(
            None,
            &self.access,
            theirs.as_ref().unwrap_or(&self.access),
        );
        let head = merged.sealing_key_id(env).ok()?.clone();
        let chain = merged.open_chain(env, self.identity().ok()?).ok()?;
        crate::continuity::check(self.root(), env, &merged, &chain).ok()?;
        crate::continuity::check_current(&self.seen(), env, &merged).ok()?;
        crate::continuity::check_descent(self.root(), env, &merged, &chain).ok()?;
        self.lineage_of(env, &merged, &chain)
            .refused
            .is_none()
            .then_some(())?;
        chain.sealing_keys().into_iter().find(|k| *k.id() == head)
    }

    /// Seals merged plaintext (conflict markers allowed) under `key`.
    pub fn seal_merged(
        &self,
        scope: &Scope,
        text: &[u8],
        key: &SealingKey,
    ) -> Result<Vec<u8>, Error> {
        let seal = |bytes: &[u8]| -> Result<Vec<u8>, Error> {
            Ok(
                envfile::encrypt(&self.parse_plain(scope, bytes)?, &scope.label(), key)
                    .into_bytes(),
            )
        };
        match envfile::conflict_parts(text) {
            None => seal(text),
            Some((_, parts)) => {
                let mut out = Vec::new();
                for part in parts {
                    match part {
                        envfile::Part::Marker(m) => out.extend_from_slice(m),
                        envfile::Part::Body(b) => out.extend(seal(b)?),
                    }
                }
                Ok(out)
            }
        }
    }

    /// The work-tree form of a scope file git left with conflict markers around sealed
    /// runs (a merge in a locked clone, where no merge driver ran): each run between two
    /// markers opened on its own, the markers kept, as the smudge filter does, so the
    /// conflict is resolved between readable values and nothing the user already edited
    /// in the file is lost. A run in plaintext stays as it is. `None` when `bytes` has no
    /// conflict markers, or no sealed run (nothing to open).
    pub fn open_conflicted(
        &self,
        scope: &Scope,
        bytes: &[u8],
    ) -> Result<Option<crate::secret::SecretString>, Error> {
        let Some((_, parts)) = envfile::conflict_parts(bytes) else {
            return Ok(None);
        };
        let mut out = zeroize::Zeroizing::new(String::with_capacity(bytes.len()));
        let mut opened = false;
        for part in parts {
            match part {
                envfile::Part::Marker(m) => out.push_str(&String::from_utf8_lossy(m)),
                envfile::Part::Body(b) if envfile::is_encrypted(b) => {
                    // A side may be sealed under a key the other branch rotated to.
                    let doc = self.decrypt_with_history(scope, b)?;
                    out.push_str(doc.print().expose());
                    opened = true;
                }
                envfile::Part::Body(b) => match std::str::from_utf8(b) {
                    Ok(text) => out.push_str(text),
                    Err(_) => return Ok(None),
                },
            }
        }
        Ok(opened.then(|| crate::secret::SecretString::new(std::mem::take(&mut *out))))
    }
}
