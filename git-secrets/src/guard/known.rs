//! The checks that need an identity: the plaintext of a secret value this identity can
//! read, found anywhere in a blob (check 4, the values gathered here and searched for by
//! [`SecretIndex`]), and a sealed secret file that does not open (tampered). What cannot
//! be read is skipped silently: these checks add to the first three, which need no key.

use std::cell::OnceCell;
use std::collections::HashMap;

use super::search::SecretIndex;
use super::{Blob, Finding};
use crate::error::Error;
use crate::git::Repo;
use crate::scope::Scope;
use crate::secret::SecretString;
use crate::workspace::Workspace;

/// A scope file as the parent of a commit held it (HEAD's, for the index), at a path the
/// commit deletes or changes. Its values are searched for too: a commit that moves a
/// secret file out of `.secrets/` (`git mv`) or drops a value (`unset`) takes them out
/// of the work tree's scope files, while another file of the same commit may hold them.
pub struct Former<'a> {
    /// The commit that held it, as findings name it (`HEAD`, or a short id).
    pub rev: &'a str,
    pub path: &'a str,
    /// Its blob, as stored (sealed).
    pub bytes: &'a [u8],
    /// A scope file the checked commits themselves hold (or the commit before them),
    /// read where there is no work tree (a bare repository): named like the work
    /// tree's, by its scope, and searched for before the parents' versions.
    pub held: bool,
}

/// A repository's secrets as this identity can read them, opened on first need.
pub struct Known {
    ws: Workspace,
    index: OnceCell<SecretIndex>,
    /// The git blob ids of the tracked files' plaintext, by size.
    tracked: OnceCell<TrackedIds>,
}

/// Size → (git blob id of a tracked file's plaintext, its tracked path).
type TrackedIds = HashMap<usize, Vec<([u8; 20], String)>>;

impl Known {
    /// `None` when git-secrets is not set up in this work tree or there is no identity
    /// (a bare repository, CI without a key): then only the first three checks run. An
    /// identity that fails to load is said on stderr, since the user would want to know.
    pub fn open(repo: &Repo) -> Option<Known> {
        let ws = Workspace::open_repo(repo.clone()).ok()?;
        match ws.identity_opt() {
            Ok(Some(_)) => {}
            Ok(None) => return None,
            Err(e) => {
                eprintln!("git-secrets: note: secret values are not searched for: {e}");
                return None;
            }
        }
        Some(Known {
            ws,
            index: OnceCell::new(),
            tracked: OnceCell::new(),
        })
    }

    /// The values of every scope file in the work tree this identity can read, then those
    /// of the `former` versions of scope files (built on first use: it reads every scope
    /// file, so it is skipped when no blob needs it).
    pub fn values<'a>(&self, former: &dyn Fn() -> Vec<Former<'a>>) -> &SecretIndex {
        self.index.get_or_init(|| {
            let ws = &self.ws;
            let scopes = ws.scope_files();
            // Read and parsed on every core; the index is filled here, in scope order.
            let docs = crate::par::map(&scopes, |scope| {
                // An unlocked clone holds plaintext: parsed once here, where
                // `read_scope` would parse it three times (this runs on every commit).
                let bytes = ws.read_bytes(scope).ok()??;
                let doc = match crate::dotenv::Document::parse(&bytes) {
                    Ok(doc) if !has_token(&doc) => doc,
                    _ => ws.read_scope(scope).ok()?.doc,
                };
                let values: Vec<(SecretString, String)> = doc
                    .entries()
                    .map(|e| (e.value().text, e.key.clone()))
                    .collect();
                Some(values)
            });
            let mut index = SecretIndex::default();
            index.reserve(scopes.len() * 16);
            for (scope, values) in scopes.iter().zip(docs) {
                let id = index.add_scope(scope.label());
                for (value, key) in values.into_iter().flatten() {
                    index.add(value, id, key);
                }
            }
            let mut former = former();
            // Held versions first: they stand for the work tree's files.
            former.sort_by_key(|f| !f.held);
            let docs = crate::par::map(&former, |f| {
                let scope = Scope::from_rel_path(f.path)?;
                let doc = match crate::dotenv::Document::parse(f.bytes) {
                    Ok(doc) if !has_token(&doc) => doc,
                    _ => ws.decrypt(&scope, f.bytes).ok()?,
                };
                let values: Vec<(SecretString, String)> = doc
                    .entries()
                    .map(|e| (e.value().text, e.key.clone()))
                    .collect();
                Some((scope, values))
            });
            for (f, opened) in former.iter().zip(docs) {
                let Some((scope, values)) = opened else {
                    continue;
                };
                let id = if f.held {
                    index.add_scope(scope.label())
                } else {
                    let label = format!("{}, as {} held it in {}", scope.label(), f.path, f.rev);
                    index.add_former_scope(label)
                };
                for (value, key) in values {
                    index.add_new(value, id, key);
                }
            }
            index
        })
    }

    /// The workspace the identity opened (its root, its keys).
    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }

    /// How many values were searched for, if the search ran.
    pub fn searched(&self) -> Option<usize> {
        self.index.get().map(SecretIndex::len)
    }

    /// A blob at a path not routed to the filter that is exactly the plaintext of a
    /// tracked file (a copy, or `git mv` of it followed by `git add`): it would be
    /// committed as it is there.
    pub fn tracked_copy(&self, blob: &Blob) -> Option<Finding> {
        let copies = self.tracked.get_or_init(|| {
            let ws = &self.ws;
            let mut by_size = TrackedIds::new();
            let mut add = |path: &str, bytes: &[u8]| {
                if let (false, Some(id)) = (bytes.is_empty(), crate::git::blob_id(bytes)) {
                    by_size
                        .entry(bytes.len())
                        .or_default()
                        .push((id, path.to_owned()));
                }
            };
            // The plaintext in the work tree, and what HEAD holds (a moved file is no
            // longer at its tracked path).
            for (path, _, bytes) in ws.read_tracked(false).unwrap_or_default() {
                add(&path, &bytes);
            }
            for (path, env) in &ws.config.files {
                let Ok(sealed) = ws.repo.git(&["cat-file", "blob", &format!("HEAD:{path}")]) else {
                    continue;
                };
                if let Ok(plain) = ws.open_file(path, env, &sealed) {
                    add(path, &plain);
                }
            }
            by_size
        });
        let candidates = copies.get(&blob.bytes.len())?;
        let id = crate::git::blob_id(blob.bytes)?;
        let (_, tracked) = candidates
            .iter()
            .find(|(i, p)| *i == id && p != blob.path)?;
        Some(Finding {
            commit: None,
            path: blob.path.to_owned(),
            reason: format!(
                "holds the plaintext of the tracked file {tracked} (a copy, or `git mv` of it)"
            ),
            fix: format!(
                "track this path too (`git secrets track {}`), then `git add --renormalize -- {}`; or unstage it (`git rm --cached -- {}`)",
                blob.path, blob.path, blob.path
            ),
        })
    }

    /// A staged or committed secret file in encrypted form that does not open with a
    /// key this identity holds: tampered, or copied from another key, scope or file.
    /// Files of environments this identity cannot read are not judged.
    pub fn verify(&self, blob: &Blob) -> Option<Finding> {
        let opened = match self.ws.tracked_env(blob.path) {
            Some(env) if crate::wholefile::looks_sealed(blob.bytes) => {
                self.ws.open_file(blob.path, env, blob.bytes).map(|_| ())
            }
            Some(_) => return None,
            None => {
                let scope = Scope::from_rel_path(blob.path)?;
                self.ws.decrypt(&scope, blob.bytes).map(|_| ())
            }
        };
        match opened {
            Err(e @ Error::Open { .. }) if !is_unknown_key(&e) => Some(Finding {
                commit: None,
                path: blob.path.to_owned(),
                reason: format!("does not decrypt: {}", open_reason(&e)),
                fix: e.hint().unwrap_or_default().replace("<file>", blob.path),
            }),
            _ => None,
        }
    }
}

/// A key id this identity does not hold may be a newer key it was not given: not a sign
/// of tampering.
fn is_unknown_key(e: &Error) -> bool {
    matches!(
        e,
        Error::Open {
            source: crate::envfile::OpenError::UnknownKey { .. },
            ..
        }
    )
}

fn open_reason(e: &Error) -> String {
    match e {
        Error::Open { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Whether any value or comment of a parsed file is a sealed token (the file is in
/// encrypted form, or damaged): such a file goes through `read_scope`, which decrypts.
fn has_token(doc: &crate::dotenv::Document) -> bool {
    use crate::dotenv::LineKind;
    doc.lines.iter().any(|l| match &l.kind {
        LineKind::Entry(e) => e.raw.expose().starts_with(crate::seal::TOKEN_PREFIX),
        LineKind::Comment(c) => c
            .expose()
            .starts_with(&format!("#{}", crate::seal::TOKEN_PREFIX)),
        LineKind::Blank(_) => false,
    })
}
