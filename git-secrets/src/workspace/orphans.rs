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
    /// whose key sealed it: keys that file lacks are added; a key it has with the same
    /// value is dropped from the orphan; a key it has with another value is left where
    /// it is and named. The orphan file is deleted (and its deletion staged) once nothing
    /// is left in it.
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
        for line in &doc.lines {
            let LineKind::Entry(e) = &line.kind else {
                continue;
            };
            match file.doc.get(&e.key) {
                None => {
                    // The file's last line may lack its newline.
                    if let Some(last) = file.doc.lines.last_mut() {
                        if last.eol == Eol::None {
                            last.eol = Eol::Lf;
                        }
                    }
                    file.doc.lines.push(Line {
                        kind: line.kind.clone(),
                        eol: Eol::Lf,
                    });
                    moved.push(e.key.clone());
                }
                Some(have) if have.raw.expose() == e.raw.expose() => {}
                Some(_) => kept.push(e.key.clone()),
            }
        }
        if !moved.is_empty() {
            if file.state == FileState::Missing {
                file.state = FileState::Plain;
            }
            self.write_scope(&target, &file)?;
        }
        if kept.is_empty() {
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
        })
    }
}
