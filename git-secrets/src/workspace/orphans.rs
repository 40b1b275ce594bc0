//! Scope files of an environment that config.toml does not have: `env rename development
//! dev` on one branch and a first `set development …` on another merge without a
//! conflict, and the value lands in `.secrets/development.env`, which no command reads.
//! `status` and `doctor` name them; `doctor --fix` moves their values home.

use std::collections::BTreeSet;

use zeroize::Zeroizing;

use super::{FileState, Workspace};
use crate::config::SHARED;
use crate::dotenv::{Eol, Line, LineKind};
use crate::envfile;
use crate::error::Error;
use crate::scope::Scope;

/// A scope file whose environment config.toml lacks.
pub struct Orphan {
    pub scope: Scope,
    /// The environment whose key sealed it (found by its tokens' key ids, which keep
    /// their ids through a rename), when that is known.
    pub sealed_for: Option<String>,
}

/// What [`Workspace::adopt`] did.
pub struct Adopted {
    pub target: Scope,
    /// Keys moved into the target's file.
    pub moved: Vec<String>,
    /// Keys the target already has with another value: the orphan then stays as it is
    /// (nothing is overwritten, nothing dropped).
    pub kept: Vec<String>,
    /// Comment lines moved with the entries they sit right above.
    pub comments_moved: usize,
    /// Comment lines that were not moved (above no moved entry) and that the target
    /// lacks: the orphan then stays as it is too.
    pub comments_kept: usize,
}

impl Workspace {
    /// The scope files of environments config.toml does not have.
    pub fn orphans(&self) -> Vec<Orphan> {
        self.scope_files()
            .into_iter()
            .filter(|s| s.env != SHARED && !self.config.has_env(&s.env))
            .map(|scope| {
                let sealed_for = self.sealed_form(&scope).and_then(|bytes| {
                    let ids: BTreeSet<String> = envfile::key_ids(&bytes).into_iter().collect();
                    let envs: BTreeSet<&str> =
                        ids.iter().filter_map(|id| self.env_of_key(id)).collect();
                    match envs.into_iter().collect::<Vec<_>>().as_slice() {
                        [one] if self.config.has_env(one) => Some(one.to_string()),
                        _ => None,
                    }
                });
                Orphan { scope, sealed_for }
            })
            .collect()
    }

    /// The encrypted form of `scope`'s file: the work tree's, or else the staged blob.
    fn sealed_form(&self, scope: &Scope) -> Option<Zeroizing<Vec<u8>>> {
        let bytes = Zeroizing::new(std::fs::read(scope.path(self.root())).ok()?);
        if envfile::is_encrypted(&bytes) && !bytes.is_empty() {
            return Some(bytes);
        }
        let staged = self
            .repo
            .git(&["cat-file", "blob", &format!(":{}", scope.rel_path())])
            .ok()?;
        Some(Zeroizing::new(staged))
    }

    /// Moves the entries of `orphan` into the same service's file of the environment
    /// whose key sealed it: keys that file lacks are added, each with the comment lines
    /// right above it, in order; a key it has with the same value is dropped from the
    /// orphan; a key it has with another value is left where it is and named. The orphan
    /// file is deleted (and its deletion staged) only when everything in it was moved or
    /// is already in the target as it is (other comments included); otherwise it stays
    /// whole, and what stayed is counted.
    pub fn adopt(&self, orphan: &Orphan) -> Result<Adopted, Error> {
        let env = orphan.sealed_for.as_deref().ok_or_else(|| Error::Refused {
            message: format!(
                "{}: no environment's key sealed it, so it has no home to move to",
                orphan.scope.rel_path()
            ),
            hint: "restore the environment in .secrets/config.toml, or delete the file".into(),
        })?;
        let path = orphan.scope.path(self.root());
        let bytes = Zeroizing::new(std::fs::read(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?);
        // Sealed under `env`'s key for the orphan's own scope label.
        let doc = if envfile::is_encrypted(&bytes) {
            let keys = self.keys(env)?;
            envfile::decrypt(&bytes, &orphan.scope.label(), &keys, &Vec::new).map_err(|source| {
                Error::Open {
                    path: orphan.scope.rel_path(),
                    scope: orphan.scope.label(),
                    source,
                }
            })?
        } else {
            self.parse_plain(&orphan.scope, &bytes)?
        };
        let target = Scope::new(orphan.scope.service.as_deref(), env);
        let mut file = self.read_scope(&target)?;
        let (mut moved, mut kept) = (Vec::new(), Vec::new());
        let mut comments_moved = 0;
        // Comment lines right above the entry being read (no blank line between): they
        // belong to it and go where it goes.
        let mut above: Vec<&Line> = Vec::new();
        // Comment lines left behind: neither moved with an entry nor already in the
        // target's file.
        let mut left: Vec<&Line> = Vec::new();
        let has_comment = |doc: &crate::dotenv::Document, line: &Line| {
            doc.lines.iter().any(|l| match (&l.kind, &line.kind) {
                (LineKind::Comment(a), LineKind::Comment(b)) => a.expose() == b.expose(),
                _ => false,
            })
        };
        for line in &doc.lines {
            let e = match &line.kind {
                LineKind::Comment(_) => {
                    above.push(line);
                    continue;
                }
                LineKind::Blank(_) => {
                    left.append(&mut above);
                    continue;
                }
                LineKind::Entry(e) => e,
            };
            match file.doc.get(&e.key) {
                None => {
                    // The file's last line may lack its newline.
                    if let Some(last) = file.doc.lines.last_mut() {
                        if last.eol == Eol::None {
                            last.eol = Eol::Lf;
                        }
                    }
                    comments_moved += above.len();
                    for l in above.drain(..).chain(std::iter::once(line)) {
                        file.doc.lines.push(Line {
                            kind: l.kind.clone(),
                            eol: Eol::Lf,
                        });
                    }
                    moved.push(e.key.clone());
                }
                Some(have) if have.raw.expose() == e.raw.expose() => left.append(&mut above),
                Some(_) => {
                    left.append(&mut above);
                    kept.push(e.key.clone());
                }
            }
        }
        left.append(&mut above);
        // Comments the target already holds as they are are not lost with the orphan.
        let comments_kept = left.iter().filter(|l| !has_comment(&file.doc, l)).count();
        if !moved.is_empty() {
            if file.state == FileState::Missing {
                file.state = FileState::Plain;
            }
            self.write_scope(&target, &file)?;
        }
        if kept.is_empty() && comments_kept == 0 {
            std::fs::remove_file(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            self.repo.git(&[
                "rm",
                "-q",
                "--cached",
                "--ignore-unmatch",
                "--",
                &orphan.scope.rel_path(),
            ])?;
        }
        Ok(Adopted {
            target,
            moved,
            kept,
            comments_moved,
            comments_kept,
        })
    }
}
