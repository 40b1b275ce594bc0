//! Scope files of an environment that config.toml does not have: `env rename development
//! dev` on one branch and a first `set development …` on another merge without a
//! conflict, and the value lands in `.secrets/development.env`, which no command reads.
//! `status` and `doctor` name them; `doctor --fix` moves their values home.

use std::collections::BTreeSet;

use zeroize::Zeroizing;

use super::{FileState, Workspace};
use crate::config::SHARED;
use crate::dotenv::{Document, Eol, Line, LineKind};
use crate::envfile;
use crate::envmerge;
use crate::error::Error;
use crate::fsutil;
use crate::scope::Scope;
use crate::seal::SealingKey;

/// A scope file whose environment config.toml lacks.
pub struct Orphan {
    pub scope: Scope,
    /// The declared environment its values belong to: the one whose keys are kin to the
    /// keys that sealed it ([`crate::access::Access::kin_envs`]: a rename keeps the key,
    /// a rotation on either side chains a new one to it), when exactly one is.
    pub sealed_for: Option<String>,
    /// Every environment of access.json whose keys are kin to those that sealed it,
    /// declared or not: where the keys that open it are.
    pub(super) kin: Vec<String>,
    /// At a path of a declared environment: the old name's file, the name given to a
    /// new environment since (crate::workspace::strays).
    pub reused: bool,
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
    /// Keys deleted from the target: an orphan left by a merge conflict had them deleted
    /// since the common ancestor.
    pub deleted: Vec<String>,
    /// An orphan left by a merge conflict whose comments or order both sides changed:
    /// it stays as it is.
    pub layout_conflict: bool,
    /// The conflicts of an orphan left by a merge conflict (`kept`, or the layout) were
    /// written into the target's file as conflict markers, and the orphan removed.
    pub marked: bool,
    /// Conflicts as for `marked`, in a locked clone: nothing was written (the markers
    /// would be sealed); `unlock` first.
    pub locked: bool,
    /// The target held edits not staged before: what was merged into it is not staged
    /// either (the user stages the file once reviewed).
    pub unstaged: bool,
    /// For a reused path, what became of it once its values went home: `Some(Some(rev))`
    /// its own environment's version checked out from `rev`; `Some(None)` removed (no
    /// side has one); `None` left as it is (it holds an edit of its own environment's,
    /// or values stayed in it).
    pub given_back: Option<Option<String>>,
    /// A reused path whose work-tree file holds an edit of its own environment's: left
    /// as it is, not staged.
    pub left_edit: bool,
    /// The orphan is at a reused path (crate::workspace::strays).
    pub reused: bool,
    /// For a reused path not given back: the revision whose version of it is its own
    /// environment's, where the user finds it ([`Workspace::own_version`]).
    pub own_version: Option<String>,
}

impl Adopted {
    fn nothing(target: Scope) -> Adopted {
        Adopted {
            target,
            moved: Vec::new(),
            kept: Vec::new(),
            comments_moved: 0,
            comments_kept: 0,
            deleted: Vec::new(),
            layout_conflict: false,
            marked: false,
            locked: false,
            unstaged: false,
            given_back: None,
            left_edit: false,
            reused: false,
            own_version: None,
        }
    }
}

impl Workspace {
    /// The scope files of environments config.toml does not have, and those at a path
    /// of a declared environment that hold another environment's values (reused).
    pub fn orphans(&self) -> Vec<Orphan> {
        let reused = self.reused_paths();
        self.scope_files()
            .into_iter()
            .filter(|s| s.env != SHARED && !self.config.has_env(&s.env))
            .chain(reused)
            .map(|scope| {
                let reused = self.config.has_env(&scope.env);
                let kin: Vec<String> = self
                    .sealed_form(&scope)
                    .map(|bytes| {
                        let ids = if reused {
                            self.foreign_ids(&scope, &bytes)
                        } else {
                            envfile::key_ids(&bytes).into_iter().collect()
                        };
                        self.access
                            .kin_envs(&ids)
                            .into_iter()
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                let declared: Vec<&String> = kin
                    .iter()
                    .filter(|e| self.config.has_env(e) && **e != scope.env)
                    .collect();
                let sealed_for = match declared.as_slice() {
                    [one] => Some(one.to_string()),
                    _ => None,
                };
                Orphan {
                    scope,
                    sealed_for,
                    kin,
                    reused,
                }
            })
            .collect()
    }

    /// The encrypted form of `scope`'s file: the work tree's, or else the index's: the
    /// staged blob, or during a merge conflict on the path, a side's or the base's (all
    /// sealed with the same environment's key).
    fn sealed_form(&self, scope: &Scope) -> Option<Zeroizing<Vec<u8>>> {
        if self.config.has_env(&scope.env) {
            return self.foreign_form(scope);
        }
        if let Ok(bytes) = std::fs::read(scope.path(self.root())) {
            let bytes = Zeroizing::new(bytes);
            if envfile::is_encrypted(&bytes) && !bytes.is_empty() {
                return Some(bytes);
            }
        }
        ["0", "3", "2", "1"]
            .into_iter()
            .find_map(|stage| self.index_blob(stage, scope))
    }

    /// The blob at `stage` of `scope`'s path in the index (`0`: staged; `1`, `2`, `3`:
    /// the base and the two sides of a merge conflict).
    pub(super) fn index_blob(&self, stage: &str, scope: &Scope) -> Option<Zeroizing<Vec<u8>>> {
        self.blob_at(&format!(":{stage}:{}", scope.rel_path()))
    }

    /// The blob git names `rev` (`:1:path`, `commit:path`).
    pub(super) fn blob_at(&self, rev: &str) -> Option<Zeroizing<Vec<u8>>> {
        self.repo
            .git(&["cat-file", "blob", rev])
            .ok()
            .map(Zeroizing::new)
    }

    /// The keys of the environments `kin` (kin to the keys of an orphan whose home is
    /// `home`) that this identity opens: those of a declared one as any command opens
    /// them; of an undeclared one (the old name, kept by a merge with a rotation under
    /// it), when this identity may read `home`, only the keys a chain link proves kin to
    /// `home`'s ([`crate::access::Access::open_chain_kin`]). Either way the clone's
    /// memory of keys vets the chain (crate::continuity).
    pub fn kin_keys(&self, kin: &[impl AsRef<str>], home: &str) -> Vec<SealingKey> {
        let open = |env: &str| -> Result<Vec<SealingKey>, Error> {
            if self.config.has_env(env) {
                return Ok(self.keys(env)?.to_vec());
            }
            let trusted = self.open_chain(home)?;
            let chain = self
                .access
                .open_chain_kin(env, home, self.identity()?, &trusted)?;
            crate::continuity::check(self.root(), env, &self.access, &chain)?;
            Ok(chain.sealing_keys())
        };
        kin.iter()
            .filter_map(|env| open(env.as_ref()).ok())
            .flatten()
            .collect()
    }

    /// `bytes` of a file at `orphan`'s path (whose environment config.toml may lack),
    /// opened: sealed under one of `keys` for its own scope label, or plaintext.
    pub fn open_orphan(
        &self,
        orphan: &Scope,
        keys: &[SealingKey],
        bytes: &[u8],
    ) -> Result<Document, Error> {
        if !envfile::is_encrypted(bytes) {
            return self.parse_plain(orphan, bytes);
        }
        envfile::decrypt(bytes, &orphan.label(), keys, &Vec::new).map_err(|source| Error::Open {
            path: orphan.rel_path(),
            scope: orphan.label(),
            source,
        })
    }

    /// Moves the entries of `orphan` into the same service's file of the environment
    /// whose key sealed it: keys that file lacks are added, each with the comment lines
    /// right above it, in order; a key it has with the same value is dropped from the
    /// orphan; a key it has with another value is left where it is and named. The orphan
    /// file is deleted (and its deletion staged) only when everything in it was moved or
    /// is already in the target as it is (other comments included); otherwise it stays
    /// whole, and what stayed is counted. During the merge that made it an orphan, its
    /// changes since the merge base are merged instead ([`Workspace::adopt_merging`]).
    pub fn adopt(&self, orphan: &Orphan) -> Result<Adopted, Error> {
        let mut done = self.adopt_values(orphan)?;
        done.reused = orphan.reused;
        if orphan.reused && done.given_back.is_none() {
            done.own_version = self.own_version(&orphan.scope).map(|(rev, _)| rev);
        }
        Ok(done)
    }

    /// [`Workspace::adopt`], but for what is said of a reused path left as it is.
    fn adopt_values(&self, orphan: &Orphan) -> Result<Adopted, Error> {
        let env = orphan.sealed_for.as_deref().ok_or_else(|| Error::Refused {
            message: format!(
                "{}: no environment's key sealed it, so it has no home to move to",
                orphan.scope.rel_path()
            ),
            hint: "restore the environment in .secrets/config.toml, or delete the file".into(),
        })?;
        let path = orphan.scope.path(self.root());
        let bytes = match orphan.reused {
            true => self
                .foreign_form(&orphan.scope)
                .ok_or_else(|| Error::Refused {
                    message: format!(
                        "{}: no longer holds values of another environment",
                        orphan.scope.rel_path()
                    ),
                    hint: "run `git secrets doctor` again".into(),
                })?,
            false => Zeroizing::new(std::fs::read(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?),
        };
        let keys = self.kin_keys(&orphan.kin, env);
        let doc = self.open_orphan(&orphan.scope, &keys, &bytes)?;
        let target = Scope::new(orphan.scope.service.as_deref(), env);
        let mut file = self.read_scope(&target)?;
        // A merge that renamed the environment on one side and changed this file on the
        // other left it in conflict, or brought it in: the changes since the common
        // ancestor are merged key by key, as the merge driver would have, had git seen a
        // rename.
        if let Some((was, base)) = self.merge_base_blob(orphan) {
            let base = self.open_orphan(&was, &keys, &base)?;
            return self.adopt_merging(orphan, &base, &doc, target, file);
        }
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
        // A reused path is judged by the hooks against the staged target (crate::guard::
        // merge): what moved is staged, unless the target held edits not staged before.
        let unstaged = orphan.reused
            && self
                .repo
                .git(&["diff", "--quiet", "--", &target.rel_path()])
                .is_err();
        if !moved.is_empty() {
            if file.state == FileState::Missing {
                file.state = FileState::Plain;
            }
            self.write_scope(&target, &file)?;
            if orphan.reused && !unstaged {
                self.repo.git(&["add", "--", &target.rel_path()])?;
            }
        }
        let (mut given_back, mut left_edit) = (None, false);
        if kept.is_empty() && comments_kept == 0 {
            (given_back, left_edit) = self.settle(orphan, &doc)?;
        }
        Ok(Adopted {
            moved,
            kept,
            comments_moved,
            comments_kept,
            given_back,
            left_edit,
            unstaged,
            ..Adopted::nothing(target)
        })
    }

    /// Once its values went home: an orphan removed, a reused path given back to its own
    /// environment ([`Workspace::give_back`]; `moved`: the values that went home).
    /// Returns what [`Adopted::given_back`] and [`Adopted::left_edit`] say.
    fn settle(
        &self,
        orphan: &Orphan,
        moved: &Document,
    ) -> Result<(Option<Option<String>>, bool), Error> {
        if !orphan.reused {
            self.remove_orphan(&orphan.scope)?;
            return Ok((None, false));
        }
        Ok(match self.give_back(&orphan.scope, moved)? {
            Ok(back) => (Some(back), false),
            Err(()) => (None, true),
        })
    }

    /// Deletes the orphan file and stages its deletion (which also resolves a conflict
    /// on its path).
    pub(super) fn remove_orphan(&self, orphan: &Scope) -> Result<(), Error> {
        let path = orphan.path(self.root());
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::Io { path, source: e })
            }
            _ => {}
        }
        self.repo.git(&[
            "rm",
            "-q",
            "--cached",
            "--ignore-unmatch",
            "--",
            &orphan.rel_path(),
        ])?;
        Ok(())
    }

    /// [`Workspace::adopt`] of an orphan in conflict: `orphan_doc`'s changes since `base`
    /// are merged key by key into `file` (the target's, which holds the other side's),
    /// and the orphan removed. When the same key changed differently on both sides, or
    /// both changed comments or order, nothing is written and the orphan stays.
    fn adopt_merging(
        &self,
        orphan: &Orphan,
        base: &Document,
        orphan_doc: &Document,
        target: Scope,
        mut file: super::ScopeFile,
    ) -> Result<Adopted, Error> {
        let (base_lines, target_lines, orphan_lines) = (
            envmerge::plain_lines(base),
            envmerge::plain_lines(&file.doc),
            envmerge::plain_lines(orphan_doc),
        );
        let (ours, theirs) = (target.rel_path(), orphan.scope.rel_path());
        // Written as git would write the conflict it did not see: in this clone's style.
        let markers = crate::markers::Markers {
            style: crate::markers::Style::for_repo(&self.repo),
            ..crate::markers::Markers::new(&ours, "base", &theirs)
        };
        let merged = envmerge::merge(
            envmerge::Side {
                doc: base,
                out: &base_lines,
            },
            envmerge::Side {
                doc: &file.doc,
                out: &target_lines,
            },
            envmerge::Side {
                doc: orphan_doc,
                out: &orphan_lines,
            },
            &markers,
            None,
        );
        let text = Zeroizing::new(merged.text);
        if merged.conflicts > 0 {
            let kept = changed_on_both(base, &file.doc, orphan_doc);
            let mut done = Adopted {
                layout_conflict: kept.is_empty(),
                kept,
                ..Adopted::nothing(target)
            };
            // In plaintext, the conflict goes where git would have put it had it seen the
            // rename: into the target's file, as conflict markers around each side's
            // entries, for the user to resolve (the hooks refuse a commit of markers).
            // In a locked clone, both files stay as they are.
            if file.state == FileState::Plain {
                fsutil::write_private(&done.target.path(self.root()), text.as_bytes(), false)?;
                (done.given_back, done.left_edit) = self.settle(orphan, orphan_doc)?;
                done.marked = true;
            } else {
                done.locked = true;
            }
            return Ok(done);
        }
        let doc = self.parse_plain(&target, text.as_bytes())?;
        let moved: Vec<String> = doc
            .entries()
            .filter(|e| file.doc.raw(&e.key) != Some(e.raw.expose()))
            .map(|e| e.key.clone())
            .collect();
        let deleted: Vec<String> = file
            .doc
            .entries()
            .filter(|e| doc.get(&e.key).is_none())
            .map(|e| e.key.clone())
            .collect();
        // Edits of the target not staged before (an experiment in the work tree) must
        // not slip into the merge commit with what is merged here.
        let unstaged = self
            .repo
            .git(&["diff", "--quiet", "--", &target.rel_path()])
            .is_err();
        if !moved.is_empty() || !deleted.is_empty() || file.doc.lines != doc.lines {
            file.doc = doc;
            if file.state == FileState::Missing {
                file.state = FileState::Plain;
            }
            self.write_scope(&target, &file)?;
        }
        // Staged with the orphan's removal: the commit that concludes the merge is checked
        // against the staged file (crate::guard::merge).
        if !unstaged {
            self.repo.git(&["add", "--", &target.rel_path()])?;
        }
        let (given_back, left_edit) = self.settle(orphan, orphan_doc)?;
        Ok(Adopted {
            moved,
            deleted,
            unstaged,
            given_back,
            left_edit,
            ..Adopted::nothing(target)
        })
    }
}

/// The keys `a` and `b` each changed (or deleted) since `base`, differently.
fn changed_on_both(base: &Document, a: &Document, b: &Document) -> Vec<String> {
    let keys: BTreeSet<&str> = [base, a, b]
        .iter()
        .flat_map(|d| d.entries().map(|e| e.key.as_str()))
        .collect();
    keys.into_iter()
        .filter(|k| {
            let (was, x, y) = (base.raw(k), a.raw(k), b.raw(k));
            x != was && y != was && x != y
        })
        .map(str::to_owned)
        .collect()
}
