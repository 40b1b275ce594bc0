//! Rotation, made safe against a crash at any point.
//!
//! A rotation changes three things: `.secrets/access.json` (a new key per environment),
//! the staged blobs of the environments' scope files (re-sealed under it) and, in a
//! locked clone, those files in the work tree. Before touching any of them, a journal
//! is written to this checkout's own git directory holding the complete new
//! access.json (keys wrapped, nothing secret) and the state it applies to. The next
//! git-secrets command finds it and rolls back (when access.json was not replaced yet,
//! nothing else was touched either) or completes the rotation (re-sealing is
//! idempotent), also when HEAD moved since (a commit made without the pre-commit hook,
//! which refuses while a journal is pending, holds the rotation half done: completing
//! re-seals what it left under the old keys). A journal that names another checkout, or
//! an access.json that is neither the old nor the new one, is never applied: it is
//! reported.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::envfile;
use crate::error::Error;
use crate::fsutil;
use crate::git::Repo;
use crate::scope::Scope;
use crate::workspace::{Workspace, ACCESS_FILE};

use crate::journal::{fault, sha256_hex};

#[derive(Serialize, Deserialize)]
struct Journal {
    version: u32,
    work_tree: PathBuf,
    head: Option<String>,
    environments: Vec<String>,
    old_access_sha256: String,
    new_access: String,
    started_at: String,
}

const FILE: &str = "rotation.json";

fn journal_path(repo: &Repo) -> Result<PathBuf, Error> {
    crate::journal::state_path(repo, FILE)
}

fn head(repo: &Repo) -> Option<String> {
    repo.git(&["rev-parse", "--verify", "-q", "HEAD"])
        .ok()
        .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
}

/// What a rotation did, for the command to report.
pub struct Rotated {
    pub environments: Vec<String>,
    pub files: usize,
    /// (environment, member id) the entries allow but no holder of the old key granted:
    /// not given the new key.
    pub left_out: Vec<(String, String)>,
    /// (member id, commit) listed as not removed although HEAD's history removed them
    /// (an edit by hand, a revert): kept removed, given no new key.
    pub kept_removed: Vec<(String, String)>,
}

/// Rotates `envs` after `change` edits the access file (marking a member removed, say):
/// new keys wrapped to the members allowed after the change, every scope file of those
/// environments re-sealed in the index and (when encrypted there) in the work tree, and
/// access.json staged. Nothing is committed.
pub fn rotate(
    ws: &mut Workspace,
    envs: &[String],
    change: impl FnOnce(&mut Access) -> Result<(), Error>,
) -> Result<Rotated, Error> {
    // Every secret file is sealed again: one outside the sparse checkout could only be
    // re-sealed in the index, which would lose its skip-worktree bit (and `git commit
    // -a` would delete it).
    ws.refuse_outside_checkout(&[])?;
    ws.require_whole_history("a rotation")?;
    let mut next = ws.access.clone();
    let mut chains = BTreeMap::new();
    for env in envs {
        chains.insert(env.clone(), ws.open_chain(env)?);
    }
    change(&mut next)?;
    let kept_removed = ws.keep_removed(&mut next);
    let mut left_out = Vec::new();
    // The keys HEAD's history gave this member that a current key leaves behind (a
    // chain grown again from an older key, a rotation reverted, a forged key a repair
    // dropped) are recorded as left out by the new key, so fresh clones accept it; and
    // only members they were granted to as well are carried over, so a rotation never
    // hands the new key to a member only the chain that left them out vouches for.
    let mut behind = BTreeMap::new();
    for env in envs {
        behind.insert(env.clone(), ws.keys_left_behind(env, &chains[env])?);
    }
    for env in envs {
        let chain = &chains[env];
        let behind = behind.remove(env).unwrap_or_default();
        let also_granted = |member: &str| behind.iter().all(|r| r.granted.contains(member));
        left_out.extend(
            next.ungranted(env, chain)
                .into_iter()
                .chain(
                    next.readers(env)
                        .into_iter()
                        .map(|(id, _)| id)
                        .filter(|id| !also_granted(id)),
                )
                .filter(|id| *id != chain.member)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|id| (env.clone(), id)),
        );
        let new = next.rotate(env, chain, &also_granted)?;
        next.record_left_out(
            env,
            (&new.0, &new.1),
            behind.iter().map(|r| (&r.id, &r.key)),
        );
    }
    let journal = Journal {
        version: 1,
        work_tree: ws.root().to_owned(),
        head: head(&ws.repo),
        environments: envs.to_vec(),
        old_access_sha256: sha256_hex(&crate::journal::read(&ws.root().join(ACCESS_FILE))?),
        new_access: next.to_json(),
        started_at: crate::access::now(),
    };
    let path = journal_path(&ws.repo)?;
    crate::journal::write(&path, &journal)?;
    fault("after-journal");
    let done = apply(ws, &journal, &path)?;
    Ok(Rotated {
        left_out,
        kept_removed,
        ..done
    })
}

/// Writes the new access.json, re-seals, stages, and removes the journal. Idempotent.
fn apply(ws: &mut Workspace, journal: &Journal, journal_path: &Path) -> Result<Rotated, Error> {
    fsutil::write_public(&ws.root().join(ACCESS_FILE), journal.new_access.as_bytes())?;
    fault("after-access");
    ws.reload_access()?;
    // The new keys are what this clone seals under from now on (crate::continuity): they
    // supersede every head here, on a branch made before a rotation this clone saw too
    // (merging that branch then makes a fork, which the next rotation repairs).
    // Opened without the memory's checks (the new key need not descend from what it
    // remembers), to remember the key by its fingerprint.
    let identity = ws.identity()?;
    for env in &journal.environments {
        if let [head] = ws.access.heads(env).as_slice() {
            if let Some(key) = ws
                .access
                .open_chain(env, identity)
                .ok()
                .and_then(|chain| chain.get(head).cloned())
            {
                crate::continuity::set_current(ws.root(), env, head, &key);
            }
        }
    }
    let files = reseal(ws, &journal.environments)?;
    fault("after-reseal");
    ws.repo.git(&["add", "--", ACCESS_FILE])?;
    fault("before-journal-removal");
    std::fs::remove_file(journal_path).map_err(|source| Error::Io {
        path: journal_path.to_owned(),
        source,
    })?;
    Ok(Rotated {
        environments: journal.environments.clone(),
        files,
        left_out: Vec::new(),
        kept_removed: Vec::new(),
    })
}

/// What a re-sealed file is: a scope file, or a tracked whole file of an environment.
enum Sealed {
    Scope(Scope),
    File(String),
}

impl Sealed {
    /// `bytes` (in sealed form) sealed again under the current key; None when they are
    /// not in sealed form (plaintext committed by mistake is `check`'s business, not
    /// ours to seal silently).
    fn again(&self, ws: &Workspace, path: &str, bytes: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        match self {
            Sealed::Scope(scope) => {
                if bytes.is_empty() || !envfile::is_encrypted(bytes) {
                    return Ok(None);
                }
                let doc = ws.decrypt(scope, bytes)?;
                Ok(Some(ws.encrypt(scope, &doc)?.into_bytes()))
            }
            Sealed::File(env) => {
                if !crate::wholefile::looks_sealed(bytes) {
                    return Ok(None);
                }
                let plain = ws.open_file(path, env, bytes)?;
                Ok(Some(ws.seal_file(path, env, &plain)?))
            }
        }
    }
}

/// Re-seals the staged blob and the work-tree file of every scope file and tracked file
/// of `envs` under the environments' current keys.
fn reseal(ws: &Workspace, envs: &[String]) -> Result<usize, Error> {
    let in_envs = |s: &Scope| envs.contains(&s.env);
    let what = |path: &str| -> Option<Sealed> {
        match ws.tracked_env(path) {
            Some(env) => envs
                .iter()
                .any(|e| e == env)
                .then(|| Sealed::File(env.to_owned())),
            None => Scope::from_rel_path(path)
                .filter(|s| in_envs(s))
                .map(Sealed::Scope),
        }
    };
    // Staged blobs: read them all with one cat-file, write them with one fast-import.
    let staged: Vec<(String, String, String, Sealed)> = ws
        .repo
        .staged_blobs()?
        .into_iter()
        .filter_map(|(path, mode, oid)| {
            let kind = what(&path)?;
            Some((path, mode, oid, kind))
        })
        .collect();
    let contents = ws.repo.read_blobs(
        &staged
            .iter()
            .map(|(_, _, oid, _)| oid.as_str())
            .collect::<Vec<_>>(),
    )?;
    let mut new_blobs = Vec::new();
    for ((path, mode, _, kind), bytes) in staged.iter().zip(contents) {
        if let Some(sealed) = kind.again(ws, path, &bytes)? {
            if sealed != bytes {
                new_blobs.push((path.clone(), mode.clone(), sealed));
            }
        }
    }
    let oids = ws
        .repo
        .write_blobs(new_blobs.iter().map(|(_, _, b)| b.as_slice()))?;
    let mut info = Vec::new();
    for ((path, mode, _), oid) in new_blobs.iter().zip(&oids) {
        write!(info, "{mode} {oid}\t{path}\0").expect("writing to a Vec");
    }
    let mut count = new_blobs.len();
    if !info.is_empty() {
        ws.repo
            .git_with_input(&["update-index", "-z", "--index-info"], &info)?;
    }
    fault("mid-reseal");
    // Work-tree files in encrypted form (a locked clone, or files never unlocked).
    let mut paths: Vec<String> = ws.scope_files().iter().map(Scope::rel_path).collect();
    paths.extend(ws.config.files.keys().cloned());
    for rel in paths {
        let Some(kind) = what(&rel) else {
            continue;
        };
        let path = ws.root().join(&rel);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            // A tracked file need not exist in every checkout.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Io { path, source }),
        };
        if let Some(sealed) = kind.again(ws, &rel, &bytes)? {
            if sealed != bytes {
                fsutil::write_private(&path, &sealed, false)?;
                count += 1;
            }
        }
    }
    Ok(count)
}

/// Called by every command before it works: finishes or rolls back a rotation that was
/// interrupted in this checkout. Returns what it did, for a message.
pub fn recover(ws: &mut Workspace) -> Result<Option<String>, Error> {
    let path = journal_path(&ws.repo)?;
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let refuse = |why: String| {
        Error::Refused {
        message: format!("an interrupted rotation was found ({}) but {why}; nothing was applied", path.display()),
        hint: format!("if this checkout's state is what you want, remove {} and run `git secrets rotate` again", path.display()),
    }
    };
    let journal: Journal = serde_json::from_str(&text)
        .map_err(|e| refuse(format!("its journal cannot be read ({e})")))?;
    if journal.work_tree != ws.root() {
        return Err(refuse(format!(
            "it belongs to another checkout ({})",
            journal.work_tree.display()
        )));
    }
    // HEAD may have moved since (a `git commit --no-verify`, or hooks not installed,
    // committed the rotation half done): what decides is the work tree's access.json.
    let moved = journal.head != head(&ws.repo);
    let current = std::fs::read_to_string(ws.root().join(ACCESS_FILE)).unwrap_or_default();
    if sha256_hex(&current) == journal.old_access_sha256 {
        // access.json is written before anything else: nothing was changed yet.
        std::fs::remove_file(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        return Ok(Some(format!(
            "rolled back an interrupted rotation of {} (nothing had changed yet)",
            journal.environments.join(", ")
        )));
    }
    if current != journal.new_access {
        let why = ".secrets/access.json is neither the one before it nor the one it was writing";
        return Err(refuse(if moved {
            format!("{why} (HEAD has moved since it started)")
        } else {
            why.into()
        }));
    }
    // The new access.json is in place: completing is re-sealing what is not sealed under
    // the new keys yet (idempotent: nothing, when only the journal's removal was left).
    if moved {
        remember_replaced(ws, &journal.environments);
    }
    let done = apply(ws, &journal, &path)?;
    let mut text = format!(
        "completed an interrupted rotation of {} ({} file(s) re-sealed)",
        done.environments.join(", "),
        done.files
    );
    if moved && done.files > 0 {
        text.push_str("; HEAD has moved since it started, so a commit holds it half done: commit the re-sealed files");
    }
    Ok(Some(text))
}

/// A commit holds the rotation half done: HEAD's values are under the keys it replaced,
/// which were current when this clone started it, not a removed member's writing. They
/// are recorded as reviewed (crate::continuity::Reviewed), or the commit of the files
/// re-sealed now would be refused as re-sealing unverified values.
fn remember_replaced(ws: &Workspace, envs: &[String]) {
    let mut shown = Vec::new();
    for scope in ws
        .scope_files()
        .into_iter()
        .filter(|s| envs.contains(&s.env))
    {
        let heads = ws.access.heads(&scope.env);
        let replaced: BTreeSet<&str> = ws
            .access
            .keys
            .get(&scope.env)
            .into_iter()
            .flatten()
            .filter(|(_, r)| r.superseded_by.keys().any(|k| heads.contains(&k)))
            .map(|(id, _)| id.0.as_str())
            .collect();
        let rel = scope.rel_path();
        let Ok(head) = ws.repo.git(&["cat-file", "blob", &format!("HEAD:{rel}")]) else {
            continue;
        };
        for t in envfile::tokens(&head).unwrap_or_default() {
            if let (Some(key), true) = (t.key, replaced.contains(t.key_id.as_str())) {
                shown.push((rel.clone(), key, t.token));
            }
        }
    }
    if !shown.is_empty() {
        crate::continuity::remember_reviewed(ws.root(), &shown);
    }
}

/// The journal of a rotation interrupted in the checkout whose state directory is
/// `state` (crate::journal::state_dir), if any: a commit now would hold it half done
/// (the pre-commit hook refuses; any git-secrets command completes or rolls it back).
pub fn pending(state: &Path) -> Option<PathBuf> {
    let path = state.join(FILE);
    path.exists().then_some(path)
}
