//! The checks that need an identity: the plaintext of a secret value this identity can
//! read, found anywhere in a blob (check 4), and a sealed secret file that does not
//! open (tampered). What cannot be read is skipped silently: these checks add to the
//! first three, which need no key.

use std::cell::OnceCell;
use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};

use super::{line_at, Blob, Finding};
use crate::error::Error;
use crate::git::Repo;
use crate::scope::Scope;
use crate::secret::SecretString;
use crate::workspace::Workspace;

/// Values shorter than this are not searched for: too many false matches.
pub const MIN_LEN: usize = 8;

/// Whether `value` is searched for. Besides short values, two kinds are left out
/// because they are everywhere in ordinary files and would block every commit:
/// a single short word (`production`, `localhost`: an environment's name or a host is
/// often kept beside the secrets) and a bare reference (`${DATABASE_URL}`, as in a
/// compose file). A long passphrase of letters is still searched for.
pub fn is_searchable(value: &str) -> bool {
    let n = value.chars().count();
    if n < MIN_LEN {
        return false;
    }
    let word = n <= 16 && value.chars().all(|c| c.is_ascii_alphabetic());
    let reference = value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .or_else(|| value.strip_prefix('$'))
        .is_some_and(crate::dotenv::is_valid_key);
    !word && !reference
}

/// Every searchable value this identity can read, in one automaton.
pub struct SecretIndex {
    ac: Option<AhoCorasick>,
    /// For each pattern, where its value lives: (scope label, key), first one first.
    owners: Vec<Vec<(String, String)>>,
}

impl SecretIndex {
    /// `values`: (value, scope label, key). Equal values become one pattern.
    pub fn new(values: Vec<(SecretString, String, String)>) -> SecretIndex {
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut patterns: Vec<&str> = Vec::new();
        let mut owners: Vec<Vec<(String, String)>> = Vec::new();
        for (value, scope, key) in &values {
            if !is_searchable(value.expose()) {
                continue;
            }
            let id = *ids.entry(value.expose()).or_insert_with(|| {
                patterns.push(value.expose());
                owners.push(Vec::new());
                patterns.len() - 1
            });
            owners[id].push((scope.clone(), key.clone()));
        }
        // Leftmost-longest: a value that is a prefix of another reports the longer one.
        let ac = (!patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .expect("literal patterns build")
        });
        SecretIndex { ac, owners }
    }

    /// How many distinct values are searched for.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// The finding for `blob` if it holds any value: the first line, and which key.
    pub fn find(&self, blob: &Blob) -> Option<Finding> {
        let ac = self.ac.as_ref()?;
        let mut hits = ac.find_iter(blob.bytes);
        let first = hits.next()?;
        let mut others: Vec<usize> = hits
            .map(|m| m.pattern().as_usize())
            .filter(|&p| p != first.pattern().as_usize())
            .collect();
        others.sort_unstable();
        others.dedup();
        let owners = &self.owners[first.pattern().as_usize()];
        let (scope, key) = &owners[0];
        let mut reason = format!(
            "line {} contains the plaintext of the secret `{key}` ({scope})",
            line_at(blob.bytes, first.start())
        );
        if owners.len() > 1 {
            reason.push_str(&format!(
                ", a value also set in {} other place(s)",
                owners.len() - 1
            ));
        }
        if !others.is_empty() {
            reason.push_str(&format!(", and {} other secret value(s)", others.len()));
        }
        Some(Finding {
            commit: None,
            path: blob.path.to_owned(),
            reason,
            fix: format!("take the value out of {} (programs get it from `git secrets run`), then `git add` it again; if the match is not a secret, mark the path `-{}` in .gitattributes", blob.path, super::EXEMPT_ATTR),
        })
    }
}

/// A repository's secrets as this identity can read them, opened on first need.
pub struct Known {
    ws: Workspace,
    index: OnceCell<SecretIndex>,
}

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
        })
    }

    /// The values of every scope file in the work tree this identity can read (built on
    /// first use: it reads every scope file, so it is skipped when no blob needs it).
    pub fn index(&self) -> &SecretIndex {
        self.index.get_or_init(|| {
            let mut values = Vec::new();
            for scope in self.ws.scope_files() {
                let Ok(file) = self.ws.read_scope(&scope) else {
                    continue;
                };
                let label = scope.label();
                for e in file.doc.entries() {
                    values.push((e.value().text, label.clone(), e.key.clone()));
                }
            }
            SecretIndex::new(values)
        })
    }

    /// How many values were searched for, if the search ran.
    pub fn searched(&self) -> Option<usize> {
        self.index.get().map(SecretIndex::len)
    }

    /// A staged or committed secret file in encrypted form that does not open with a
    /// key this identity holds: tampered, or copied from another key, scope or file.
    /// Files of environments this identity cannot read are not judged.
    pub fn verify(&self, blob: &Blob) -> Option<Finding> {
        let scope = Scope::from_rel_path(blob.path)?;
        match self.ws.decrypt(&scope, blob.bytes) {
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
