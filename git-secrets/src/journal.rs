//! `env rename` and `env del`, made safe against a crash at any point.
//!
//! Each changes several files: the scope files of the environment (written under the new
//! name, or deleted), `.secrets/access.json` (its keys) and `.secrets/config.toml` (its
//! declaration). Before touching any of them, a journal is written to this checkout's own
//! git directory (`<git dir>/git-secrets/env-change.json`, 0600) holding the complete new
//! access.json and config.toml (nothing secret: keys wrapped) and the hashes of the old
//! ones, and the scope files written and deleted. The steps then run in an order a crash
//! can be recovered from:
//!
//! 1. (rename) the scope files under the new name, each written atomically;
//! 2. access.json, then config.toml;
//! 3. the old scope files deleted, this clone's memory of keys updated;
//! 4. the journal removed.
//!
//! The next git-secrets command ([`recover`]) finds a journal and, while access.json and
//! config.toml are both still the old ones, rolls back (deletes the scope files step 1
//! wrote; nothing else was touched); once either is the new one, every file of step 1
//! exists, so it completes steps 2 to 4 (each idempotent). A journal for another
//! checkout, or files that are neither the old nor the new ones (a checkout of another
//! branch since), is never applied: it is reported. Scope file contents never go into
//! the journal: the new ones are on disk before anything depends on them. Until the
//! journal is gone, the pre-commit hook refuses a commit ([`pending`]): it would hold
//! the two files out of step, which recovery reads from the work tree, not from HEAD.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::access::Access;
use crate::config::Config;
use crate::error::Error;
use crate::fsutil;
use crate::git::Repo;
use crate::workspace::{Workspace, ACCESS_FILE, CONFIG_FILE};

/// Test-only fault points: `GIT_SECRETS_TEST_FAULT=<name>` aborts the process there, the
/// way a power loss or `kill -9` would, so tests can check recovery from each step (of
/// this journal's changes, of a rotation's, crate::rotation, and of an atomic write,
/// crate::fsutil's `before-rename:<file name>`).
pub(crate) fn fault(point: &str) {
    if std::env::var("GIT_SECRETS_TEST_FAULT").is_ok_and(|v| v == point) {
        std::process::abort();
    }
}

/// What is being changed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Change {
    Rename { from: String, to: String },
    Delete { name: String },
}

impl Change {
    fn describe(&self) -> String {
        match self {
            Change::Rename { from, to } => format!("`env rename {from} {to}`"),
            Change::Delete { name } => format!("`env del {name}`"),
        }
    }

    /// The command that starts it again, for a hint.
    fn command(&self) -> String {
        match self {
            Change::Rename { from, to } => format!("git secrets env rename {from} {to}"),
            Change::Delete { name } => format!("git secrets env del {name}"),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Journal {
    version: u32,
    work_tree: PathBuf,
    change: Change,
    old_access_sha256: String,
    new_access: String,
    old_config_sha256: String,
    new_config: String,
    /// Scope files (paths from the top of the work tree) written before access.json and
    /// config.toml: the environment's files under its new name.
    written: Vec<String>,
    /// Scope files deleted after them.
    removed: Vec<String>,
    started_at: String,
}

const VERSION: u32 = 1;

pub(crate) fn sha256_hex(text: &str) -> String {
    crate::hex(&Sha256::digest(text.as_bytes()))
}

/// The file `name` in this checkout's state directory ([`state_dir`]).
pub(crate) fn state_path(repo: &Repo, name: &str) -> Result<PathBuf, Error> {
    Ok(state_dir(repo)?.join(name))
}

/// This checkout's state directory (`<git dir>/git-secrets/`), where the journals live
/// (and crate::fsmonitor's files). Every command looks for them: the usual `.git` (a
/// directory, or the file a linked worktree has) is read without starting git; with
/// GIT_DIR set, git says.
pub(crate) fn state_dir(repo: &Repo) -> Result<PathBuf, Error> {
    let dir = match std::env::var_os("GIT_DIR") {
        None => crate::git::git_dir(&repo.root),
        Some(_) => None,
    };
    let dir = match dir {
        Some(dir) => dir,
        None => {
            let out = repo.git(&["rev-parse", "--absolute-git-dir"])?;
            PathBuf::from(String::from_utf8_lossy(&out).trim())
        }
    };
    Ok(dir.join("git-secrets"))
}

const FILE: &str = "env-change.json";

/// Written in a checkout's state directory by `lock` while the filter stays configured
/// for the repository's other worktrees (crate::cli::lock), removed by `unlock`: the
/// filter's smudge leaves secret files sealed in this worktree, so a later checkout,
/// merge or pull here does not decrypt them again.
const WORKTREE_LOCKED: &str = "worktree-locked";

/// Marks this checkout locked (or no longer locked) for the filter ([`WORKTREE_LOCKED`]).
pub(crate) fn set_worktree_locked(repo: &Repo, locked: bool) -> Result<(), Error> {
    let path = state_path(repo, WORKTREE_LOCKED)?;
    if locked {
        return crate::fsutil::write_private(
            &path,
            b"git secrets lock: secret files stay sealed in this worktree until `git secrets unlock`\n",
            true,
        );
    }
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io { path, source: e }),
        _ => Ok(()),
    }
}

/// Whether `lock` marked this checkout locked ([`WORKTREE_LOCKED`]).
pub(crate) fn worktree_locked(repo: &Repo) -> bool {
    state_path(repo, WORKTREE_LOCKED).is_ok_and(|p| p.exists())
}

fn journal_path(repo: &Repo) -> Result<PathBuf, Error> {
    state_path(repo, FILE)
}

/// The `env rename` or `env del` interrupted in the checkout whose state directory is
/// `state` ([`state_dir`]), if any: its journal, and the change as a command
/// (`env rename a b`; `None` when the journal cannot be read). A commit now would hold it
/// half done (the pre-commit hook refuses; any git-secrets command completes it or rolls
/// it back).
pub fn pending(state: &Path) -> Option<(PathBuf, Option<String>)> {
    let path = state.join(FILE);
    let text = std::fs::read_to_string(&path).ok()?;
    let change = serde_json::from_str::<Journal>(&text)
        .ok()
        .map(|j| j.change.describe());
    Some((path, change))
}

/// Writes a journal (this one's or a rotation's) to `path`, 0600 and atomically, before
/// the change it describes starts.
pub(crate) fn write(path: &Path, journal: &impl serde::Serialize) -> Result<(), Error> {
    fsutil::write_private(
        path,
        serde_json::to_string_pretty(journal)
            .expect("journal serialises")
            .as_bytes(),
        true,
    )
}

pub(crate) fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// A change whose journal is written; [`Pending::apply`] carries it out after the
/// caller wrote the scope files it named as written.
pub struct Pending {
    journal: Journal,
    path: PathBuf,
}

/// Writes the journal of `change`: `config` and `access` as they will be, the scope files
/// the caller writes next (`written`) and those deleted at the end (`removed`).
pub fn begin(
    ws: &Workspace,
    change: Change,
    config: &Config,
    access: &Access,
    written: Vec<String>,
    removed: Vec<String>,
) -> Result<Pending, Error> {
    let path = journal_path(&ws.repo)?;
    if path.exists() {
        // recover() ran when the workspace was opened: this one is being refused.
        return Err(Error::Refused {
            message: format!(
                "an interrupted environment change is still recorded in {}",
                path.display()
            ),
            hint: "run `git secrets status` to see why it was not applied".into(),
        });
    }
    let journal = Journal {
        version: VERSION,
        work_tree: ws.root().to_owned(),
        change,
        old_access_sha256: sha256_hex(&read(&ws.root().join(ACCESS_FILE))?),
        new_access: access.to_json(),
        old_config_sha256: sha256_hex(&read(&ws.root().join(CONFIG_FILE))?),
        new_config: config.to_toml(),
        written,
        removed,
        started_at: crate::access::now(),
    };
    write(&path, &journal)?;
    fault("env-after-journal");
    Ok(Pending { journal, path })
}

impl Pending {
    /// Writes access.json and config.toml, deletes the old scope files, updates this
    /// clone's memory of keys and removes the journal.
    pub fn apply(self, root: &Path) -> Result<(), Error> {
        apply(root, &self.journal, &self.path)
    }

    /// Undoes step 1 after an error in it (what [`recover`] would do next time), and
    /// returns that error. A failure here leaves the journal for the next command.
    pub fn abandon(self, root: &Path, error: Error) -> Error {
        let undone = self
            .journal
            .written
            .iter()
            .try_for_each(|rel| remove(&root.join(rel)));
        if undone.is_ok() {
            let _ = remove(&self.path);
        }
        error
    }
}

fn remove(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Steps 2 to 4. Idempotent.
fn apply(root: &Path, journal: &Journal, journal_path: &Path) -> Result<(), Error> {
    fsutil::write_public(&root.join(ACCESS_FILE), journal.new_access.as_bytes())?;
    fault("env-after-access");
    fsutil::write_public(&root.join(CONFIG_FILE), journal.new_config.as_bytes())?;
    fault("env-after-config");
    for rel in &journal.removed {
        remove(&root.join(rel))?;
    }
    match &journal.change {
        Change::Rename { from, to } => crate::continuity::rename(root, from, to),
        Change::Delete { name } => crate::continuity::forget(root, name),
    }
    fault("env-before-journal-removal");
    remove(journal_path)
}

/// Called by every command before it works (after crate::rotation::recover): finishes or
/// rolls back an `env rename` or `env del` that was interrupted in this checkout, then
/// reloads the workspace. Returns what it did, for a message.
pub fn recover(ws: &mut Workspace) -> Result<Option<String>, Error> {
    let path = journal_path(&ws.repo)?;
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let refuse = |why: String, command: Option<String>| Error::Refused {
        message: format!(
            "an interrupted environment change was found ({}) but {why}; nothing was applied",
            path.display()
        ),
        hint: format!(
            "if this checkout's .secrets/ is what you want, remove {}{}",
            path.display(),
            command
                .map(|c| format!(" and run `{c}` again"))
                .unwrap_or_default()
        ),
    };
    let journal: Journal = serde_json::from_str(&text)
        .map_err(|e| refuse(format!("its journal cannot be read ({e})"), None))?;
    let what = journal.change.describe();
    if journal.version != VERSION {
        return Err(refuse(
            format!("its journal has version {}", journal.version),
            Some(journal.change.command()),
        ));
    }
    if journal.work_tree != ws.root() {
        return Err(refuse(
            format!(
                "it belongs to another checkout ({})",
                journal.work_tree.display()
            ),
            Some(journal.change.command()),
        ));
    }
    let current = |rel: &str| std::fs::read_to_string(ws.root().join(rel)).unwrap_or_default();
    let (access, config) = (current(ACCESS_FILE), current(CONFIG_FILE));
    let access_old = sha256_hex(&access) == journal.old_access_sha256;
    let config_old = sha256_hex(&config) == journal.old_config_sha256;
    let message = if access_old && config_old {
        // Nothing but the new scope files was written yet.
        for rel in &journal.written {
            remove(&ws.root().join(rel))?;
        }
        remove(&path)?;
        format!("rolled back an interrupted {what} (nothing had changed but the files it was writing, now removed)")
    } else {
        for (name, now, old, new) in [
            (ACCESS_FILE, &access, access_old, &journal.new_access),
            (CONFIG_FILE, &config, config_old, &journal.new_config),
        ] {
            if !old && now != new {
                return Err(refuse(
                    format!("{name} is neither the one before it nor the one it was writing (a checkout since?)"),
                    Some(journal.change.command()),
                ));
            }
        }
        // access.json or config.toml is the new one: every new scope file was written.
        let missing: Vec<&str> = journal
            .written
            .iter()
            .map(String::as_str)
            .filter(|rel| !ws.root().join(rel).exists())
            .collect();
        if !missing.is_empty() {
            return Err(refuse(
                format!("{} it had written are missing", missing.join(", ")),
                None,
            ));
        }
        apply(ws.root(), &journal, &path)?;
        format!("completed an interrupted {what}")
    };
    *ws = Workspace::open_repo(ws.repo.clone())?;
    Ok(Some(message))
}

/// What `status` and `doctor` say when .secrets/config.toml and .secrets/access.json are
/// out of step (an environment change cut short by a git-secrets without this journal, a
/// merge, an edit by hand): each declared environment without a key and, alongside, each
/// environment with keys that is not declared, as (problem, fix). Keys of an undeclared
/// environment alone are no problem: a rename merged with an edit under the old name
/// leaves them, and they tell `doctor --fix` where that edit's values belong
/// (crate::workspace::orphans).
pub fn out_of_step(config: &Config, access: &Access) -> Vec<(String, String)> {
    let keyed = |env: &str| access.keys.get(env).is_some_and(|k| !k.is_empty());
    let keyless: Vec<&str> = config
        .environments
        .iter()
        .map(String::as_str)
        .filter(|e| !keyed(e))
        .collect();
    let undeclared: Vec<&str> = access
        .keys
        .iter()
        .filter(|(e, k)| !k.is_empty() && e.as_str() != crate::config::SHARED && !config.has_env(e))
        .map(|(e, _)| e.as_str())
        .collect();
    if keyless.is_empty() {
        return Vec::new();
    }
    let cause = match (keyless.as_slice(), undeclared.as_slice()) {
        ([from], [to]) => format!(
            "`{from}` declared and `{to}` keyed look like an `env rename {from} {to}` done halfway"
        ),
        _ => "an `env rename` or `env del` done halfway, or a merge or an edit by hand".to_owned(),
    };
    let fix = format!(
        "{cause}: put the two files back in step with `git checkout HEAD -- {CONFIG_FILE} {ACCESS_FILE}` (the last commit's pair; an earlier commit's if that one is out of step too: `git log -- {ACCESS_FILE}`), then run `git secrets doctor` and the environment command again"
    );
    let mut out: Vec<(String, String)> = keyless
        .iter()
        .map(|env| {
            (
                format!("`{env}` is declared in {CONFIG_FILE} but {ACCESS_FILE} holds no key for it: its values can be neither read nor sealed"),
                fix.clone(),
            )
        })
        .collect();
    out.extend(undeclared.iter().map(|env| {
        (
            format!("{ACCESS_FILE} holds keys of `{env}`, which {CONFIG_FILE} does not declare: get, run and export never use them"),
            fix.clone(),
        )
    }));
    out
}
