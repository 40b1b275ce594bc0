//! A repository that uses git-secrets: its configuration, access file, this device's
//! identity and the environment keys it opens (each opened once, on first use).
//!
//! Scope files are read and written here whatever state the work tree is in: plaintext
//! in an unlocked clone, encrypted form in a locked one (decrypted in memory).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::access::Access;
use crate::config::Config;
use crate::dotenv::Document;
use crate::envfile;
use crate::error::Error;
use crate::fsutil;
use crate::git::Repo;
use crate::identity::{self, Identity};
use crate::scope::{Scope, SECRETS_DIR};
use crate::seal::SealingKey;
use crate::secret::SecretString;

mod files;
mod history;
mod lineage;
pub(crate) use history::{fold_head_history, is_oid, read_revs, removed_at, seen_in};
mod leftovers;
pub use history::{read as read_access_history, History, Recovered};
mod origin;
mod orphans;
mod sparse;
mod strays;
mod tokens;
mod unverified;

pub use orphans::{Adopted, Orphan};
pub use unverified::Unverified;
pub(crate) use unverified::{
    not_current, refusal as unverified_refusal, review_command, scope_words,
    warning as unverified_warning,
};

pub const CONFIG_FILE: &str = ".secrets/config.toml";
pub const ACCESS_FILE: &str = ".secrets/access.json";

/// How a scope file is stored in the work tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileState {
    Missing,
    Plain,
    Encrypted,
}

/// A scope's plaintext, and how to write it back.
#[derive(Debug)]
pub struct ScopeFile {
    pub doc: Document,
    pub state: FileState,
}

impl ScopeFile {
    /// Sets `key` to the rendered `raw` value (see [`Document::set_raw`]); `from` names
    /// the file it came from, if any. Refuses a raw value that starts with `gs1:`: it
    /// would be taken for a sealed value, so a file of such lines would be committed as
    /// it is, and one such line among plaintext makes the scope unreadable. (Quoted,
    /// `"gs1:…"`, it is plain text like any other.) Returns whether the key existed.
    pub fn set(&mut self, key: &str, raw: SecretString, from: Option<&str>) -> Result<bool, Error> {
        Ok(self.set_all(vec![(key.to_owned(), raw)], from)?[0])
    }

    /// [`ScopeFile::set`] for each of `entries` in turn (whether each key existed), in
    /// one pass over the file ([`Document::set_raw_all`]); nothing is set when one of
    /// them is refused.
    pub fn set_all(
        &mut self,
        entries: Vec<(String, SecretString)>,
        from: Option<&str>,
    ) -> Result<Vec<bool>, Error> {
        if let Some((key, _)) = entries
            .iter()
            .find(|(_, raw)| envfile::looks_like_token(raw.expose()))
        {
            return Err(Error::TokenLikeValue {
                key: key.clone(),
                from: from.map(str::to_owned),
            });
        }
        Ok(self.doc.set_raw_all(entries))
    }
}

/// One environment's key chain, opened on first use; its own lock, so threads open
/// different environments at once and the same one once.
type KeySlot = Arc<Mutex<Option<Arc<Vec<SealingKey>>>>>;

pub struct Workspace {
    pub repo: Repo,
    pub config: Config,
    pub access: Access,
    identity: OnceLock<Option<Identity>>,
    /// Shared by threads (unlock and the hook read scope files in parallel).
    keys: Mutex<HashMap<String, KeySlot>>,
    history: OnceLock<history::History>,
    /// Set once HEAD's history of access.json is in the clone's memory (see
    /// [`Workspace::seen`]).
    history_folded: OnceLock<()>,
    /// What this clone saw of its members (crate::continuity::Seen).
    seen: Mutex<crate::continuity::Seen>,
    /// Per environment whose chain was opened from `access`: whether its current key was
    /// refused for not descending from the one this clone remembers
    /// (crate::continuity::check_descent_all).
    descent: Mutex<HashMap<String, Option<crate::continuity::NotDescended>>>,
    /// Per environment: whether its current key was refused for not superseding a key
    /// HEAD's history made current (crate::continuity::lineage), decided once.
    lineage: Mutex<HashMap<String, Option<crate::continuity::LineageBroken>>>,
}

impl Workspace {
    pub fn open() -> Result<Workspace, Error> {
        Self::open_repo(Repo::discover()?)
    }

    pub fn open_repo(repo: Repo) -> Result<Workspace, Error> {
        let config_path = repo.root.join(CONFIG_FILE);
        if !config_path.exists() {
            // A sparse checkout may leave .secrets/ out of the work tree: read the
            // configuration from git then (NotInitialized when it is nowhere).
            return Self::open_for_filter(repo);
        }
        let config = Config::load(&config_path)?;
        let access = Access::load(&repo.root.join(ACCESS_FILE))?;
        Ok(Workspace {
            repo,
            config,
            access,
            identity: OnceLock::new(),
            keys: Mutex::default(),
            history: OnceLock::new(),
            history_folded: OnceLock::new(),
            seen: Mutex::default(),
            descent: Mutex::default(),
            lineage: Mutex::default(),
        }
        .note_seen())
    }

    /// For the filter: config and access come from the work tree, or, while a checkout
    /// has not written them yet (`git worktree add`, a branch switch), from git's index
    /// or HEAD.
    pub fn open_for_filter(repo: Repo) -> Result<Workspace, Error> {
        let read = |rel: &str| -> Result<Option<String>, Error> {
            let path = repo.root.join(rel);
            match std::fs::read_to_string(&path) {
                Ok(s) => return Ok(Some(s)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(Error::Io { path, source }),
            }
            for rev in [format!(":{rel}"), format!("HEAD:{rel}")] {
                if let Ok(bytes) = repo.git(&["cat-file", "blob", &rev]) {
                    return Ok(Some(String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
            Ok(None)
        };
        let config = read(CONFIG_FILE)?.ok_or(Error::NotInitialized)?;
        let access = read(ACCESS_FILE)?.ok_or(Error::NotInitialized)?;
        let config = match Config::parse(&config, Path::new(CONFIG_FILE)) {
            // git cleans secret files to compare them during a merge that left
            // config.toml in conflict (`git status`, `git diff`): read both sides.
            Err(e) => Config::parse_conflicted(&config, Path::new(CONFIG_FILE)).ok_or(e)?,
            ok => ok?,
        };
        Ok(Workspace {
            config,
            access: Access::parse(&access, Path::new(ACCESS_FILE))?,
            repo,
            identity: OnceLock::new(),
            keys: Mutex::default(),
            history: OnceLock::new(),
            history_folded: OnceLock::new(),
            seen: Mutex::default(),
            descent: Mutex::default(),
            lineage: Mutex::default(),
        }
        .note_seen())
    }

    /// A workspace for a repository being set up now.
    pub fn new(repo: Repo, config: Config, access: Access, identity: Identity) -> Workspace {
        Workspace {
            repo,
            config,
            access,
            identity: OnceLock::from(Some(identity)),
            keys: Mutex::default(),
            history: OnceLock::new(),
            history_folded: OnceLock::new(),
            seen: Mutex::default(),
            descent: Mutex::default(),
            lineage: Mutex::default(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.repo.root
    }

    /// The identity in effect, if any (loaded once).
    pub fn identity_opt(&self) -> Result<Option<&Identity>, Error> {
        if self.identity.get().is_none() {
            let loaded = identity::load()?;
            let _ = self.identity.set(loaded);
        }
        Ok(self.identity.get().and_then(Option::as_ref))
    }

    pub fn identity(&self) -> Result<&Identity, Error> {
        self.identity_opt()?.ok_or(Error::NoIdentity)
    }

    /// The keys of `env` this identity opens, checked against the keys this clone held
    /// before (see [`crate::continuity`]). Whether the current key descends from the one
    /// this clone remembers is noted for [`Workspace::check_current`]: reading does not
    /// depend on it.
    pub fn open_chain(&self, env: &str) -> Result<crate::access::OpenChain, Error> {
        let chain = self.access.open_chain(env, self.identity()?)?;
        crate::continuity::check(self.root(), env, &self.access, &chain)?;
        self.note_descent(&[(env, &chain)]);
        Ok(chain)
    }

    /// Checks the current keys of the `chains` opened from `access` against those this
    /// clone remembers (crate::continuity::check_descent_all), and notes the verdicts.
    fn note_descent(&self, chains: &[(&str, &crate::access::OpenChain)]) {
        let refused = crate::continuity::check_descent_all(self.root(), &self.access, chains);
        let mut descent = self.descent.lock().unwrap_or_else(|p| p.into_inner());
        for (env, _) in chains {
            let verdict = refused.iter().find(|r| r.env == *env).cloned();
            descent.insert(env.to_string(), verdict);
        }
    }

    /// Refuses to seal under a current key of `env` ever wrapped to a member this clone
    /// saw removed ([`crate::continuity::check_current`]), or one that does not descend
    /// from the current key this clone last accepted ([`crate::continuity`]).
    pub fn check_current(&self, env: &str) -> Result<(), Error> {
        crate::continuity::check_current(&self.seen(), env, &self.access)?;
        let noted = |ws: &Self| {
            ws.descent
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(env)
                .cloned()
        };
        let verdict = match noted(self) {
            Some(verdict) => verdict,
            // Not opened yet in this process. One this identity cannot open seals
            // nothing anyway (and its links were not checked).
            None if self.open_chain(env).is_ok() => noted(self).flatten(),
            None => None,
        };
        match verdict {
            Some(refused) => Err(refused.into()),
            None => self.check_lineage(env),
        }
    }

    /// What this clone has seen of its members (crate::continuity::Seen), HEAD's history
    /// of access.json included (read once per process, and only the part the clone's
    /// memory does not hold yet): what every decision to seal or grant consults.
    pub fn seen(&self) -> std::sync::MutexGuard<'_, crate::continuity::Seen> {
        self.fold_head_history();
        self.seen_now()
    }

    /// What this process knows the clone has seen, without reading history.
    fn seen_now(&self) -> std::sync::MutexGuard<'_, crate::continuity::Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers who this access.json marks removed and to whom it wraps each key
    /// (crate::continuity), so that a branch without a removal, checked out later, or an
    /// access.json edited since, seals nothing under a key the member may hold.
    fn note_seen(self) -> Self {
        self.remember_seen(&Default::default());
        crate::continuity::remember_tracked(self.root(), &self.config.files, false);
        self
    }

    /// Adds what this access.json shows and `more` to what the clone has seen. Returns
    /// whether the clone's memory holds it all (a failure to write only weakens checks).
    pub fn remember_seen(&self, more: &crate::continuity::Seen) -> bool {
        let (seen, stored) =
            crate::continuity::remember_seen(self.root(), Some(&self.access), more);
        *self.seen_now() = seen;
        stored
    }

    /// Opens every environment this identity can read, so the clone remembers their keys
    /// (crate::continuity): an environment it never opened would trust any keys it finds.
    /// Returns the environments whose keys it refuses (replaced keys).
    pub fn remember_keys(&self) -> Vec<String> {
        let Ok(identity) = self.identity() else {
            return Vec::new();
        };
        let envs: Vec<&str> = self
            .config
            .environments
            .iter()
            .map(String::as_str)
            .chain([crate::config::SHARED])
            .collect();
        // An age unwrap each, on every core; then one pass over the clone's memory.
        let opened: Vec<(&str, crate::access::OpenChain)> = envs
            .iter()
            .zip(crate::par::map(&envs, |env| {
                self.access.open_chain(env, identity).ok()
            }))
            .filter_map(|(env, chain)| Some((*env, chain?)))
            .collect();
        let checks: Vec<(&str, &crate::access::OpenChain)> =
            opened.iter().map(|(env, chain)| (*env, chain)).collect();
        let refused = crate::continuity::check_all(self.root(), &self.access, &checks);
        let kept: Vec<(&str, &crate::access::OpenChain)> = checks
            .iter()
            .filter(|(env, _)| !refused.iter().any(|r| r == env))
            .copied()
            .collect();
        self.note_descent(&kept);
        for (env, chain) in opened
            .iter()
            .filter(|(env, _)| !refused.iter().any(|r| r == env))
        {
            let slot = self.key_slot(env);
            let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                *slot = Some(Arc::new(chain.sealing_keys()));
            }
        }
        refused
    }

    /// The key chain of `env` (newest first), opened once per process.
    pub fn keys(&self, env: &str) -> Result<Arc<Vec<SealingKey>>, Error> {
        let slot = self.key_slot(env);
        // Held while the chain opens, so threads that need it open it once.
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = &*slot {
            return Ok(k.clone());
        }
        let chain = Arc::new(self.open_chain(env)?.sealing_keys());
        *slot = Some(chain.clone());
        Ok(chain)
    }

    /// The cache slot of `env`'s key chain.
    pub(crate) fn key_slot(&self, env: &str) -> KeySlot {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(env.to_owned())
            .or_default()
            .clone()
    }

    /// Drops cached keys and reads access.json again (after a checkout changed it).
    pub fn reload_access(&mut self) -> Result<(), Error> {
        self.access = Access::load(&self.repo.root.join(ACCESS_FILE))?;
        self.remember_seen(&Default::default());
        self.keys
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.descent
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.lineage
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(())
    }

    /// Whether this clone's filter is configured (an unlocked clone), and this worktree
    /// was not locked beside an unlocked one (crate::journal::worktree_locked: the
    /// filter stays for the others, but here files are written sealed, as in a locked
    /// clone).
    pub fn is_unlocked(&self) -> bool {
        self.filter_configured() && !crate::journal::worktree_locked(&self.repo)
    }

    /// Whether this clone's filter is configured, whether or not this worktree is locked.
    pub fn filter_configured(&self) -> bool {
        self.repo.config_get("filter.secrets.process").is_some()
    }

    /// Labels of every declared scope but `scope`, to explain a value moved between them.
    pub fn other_scopes(&self, scope: &Scope) -> Vec<String> {
        Scope::all(&self.config)
            .into_iter()
            .filter(|s| s != scope)
            .map(|s| s.label())
            .collect()
    }

    /// Decrypts the encrypted form of `scope`'s file.
    pub fn decrypt(&self, scope: &Scope, bytes: &[u8]) -> Result<Document, Error> {
        let doc = Document::parse(bytes).map_err(|e| Error::Open {
            path: scope.rel_path(),
            scope: scope.label(),
            source: envfile::OpenError::NotEncrypted { line: e.line() },
        })?;
        self.decrypt_doc(scope, &doc)
    }

    /// [`Workspace::decrypt`] of a file already parsed.
    pub fn decrypt_doc(&self, scope: &Scope, doc: &Document) -> Result<Document, Error> {
        let keys = self.keys(&scope.env)?;
        envfile::decrypt_doc(doc, &scope.label(), &keys, &|| self.other_scopes(scope)).map_err(
            |source| {
                // A key id of another environment means the file was moved or copied here.
                let source = match source {
                    envfile::OpenError::UnknownKey { line, key, key_id } => {
                        match self.env_of_key(&key_id) {
                            Some(env) if env != scope.env => envfile::OpenError::OtherEnvironment {
                                line,
                                key,
                                env: env.into(),
                                key_id: key_id.into(),
                            },
                            _ => envfile::OpenError::UnknownKey { line, key, key_id },
                        }
                    }
                    other => other,
                };
                Error::Open {
                    path: scope.rel_path(),
                    scope: scope.label(),
                    source,
                }
            },
        )
    }

    /// The environment whose key chain holds the key `key_id` (key ids are public).
    pub fn env_of_key(&self, key_id: &str) -> Option<&str> {
        self.access
            .keys
            .iter()
            .find(|(_, chain)| chain.keys().any(|id| id.0 == key_id))
            .map(|(env, _)| env.as_str())
    }

    /// The key that seals new values of `env`: the environment's one current key, and
    /// never one a removed member was given (after a merge of two rotations, or of a
    /// removal).
    pub fn sealing_key(&self, env: &str) -> Result<SealingKey, Error> {
        let keys = self.keys(env)?;
        let sealing = self.access.sealing_key_id(env)?;
        self.check_current(env)?;
        history::warn_if_shallow(&self.repo);
        keys.iter()
            .find(|k| k.id() == sealing)
            .cloned()
            .ok_or_else(|| Error::Refused {
                message: format!(
                    "the current key of {env} is not wrapped to this identity, so it cannot seal new values there"
                ),
                hint: "pull the latest .secrets/access.json, or ask a member to approve you again"
                    .into(),
            })
    }

    /// Seals a plaintext document of `scope` under its environment's newest key.
    pub fn encrypt(&self, scope: &Scope, doc: &Document) -> Result<String, Error> {
        let current = self.sealing_key(&scope.env)?;
        if let Some((line, key)) = envfile::pasted_token(doc) {
            let path = scope.rel_path();
            return Err(if key == "#" {
                Error::Refused {
                    message: format!("{path} line {line}: a comment starts with `#gs1:`, the form of a sealed comment, in a plaintext file"),
                    hint: format!("if it was pasted from the encrypted form, restore the file with `git checkout -- {path}`; otherwise put a space after the `#` (`# gs1:…`)"),
                }
            } else {
                Error::Refused {
                    message: format!("{path} line {line}: `{key}` holds an encrypted value (gs1:…) in a plaintext file"),
                    hint: format!("set the real value with `git secrets set {key}`, or restore the file with `git checkout -- {path}`; a value that really starts with `gs1:` is written quoted: {key}=\"gs1:…\""),
                }
            });
        }
        Ok(envfile::encrypt(doc, &scope.label(), &current))
    }

    /// Parses plaintext `bytes` of `scope`'s file.
    pub fn parse_plain(&self, scope: &Scope, bytes: &[u8]) -> Result<Document, Error> {
        Document::parse(bytes).map_err(|source| Error::Dotenv {
            path: scope.rel_path(),
            source,
        })
    }

    /// Reads a scope from the work tree, decrypting it in memory when it is encrypted.
    /// A file outside the sparse checkout is read from its staged blob (sealed).
    pub fn read_scope(&self, scope: &Scope) -> Result<ScopeFile, Error> {
        let bytes = match self.read_bytes(scope)? {
            Some(bytes) => Some(bytes),
            None => self.staged_outside_checkout(&scope.rel_path()),
        };
        match bytes {
            Some(bytes) => self.open_scope(scope, &bytes),
            None => Ok(ScopeFile {
                doc: Document::default(),
                state: FileState::Missing,
            }),
        }
    }

    /// Secret files (scope files and tracked files) in encrypted form in the work tree
    /// that this identity can read: what `unlock` would open.
    pub fn readable_but_encrypted(&self) -> Vec<String> {
        let Some((_, member)) = self
            .identity_opt()
            .ok()
            .flatten()
            .and_then(|id| self.access.member_of(id))
        else {
            return Vec::new();
        };
        let scopes = self
            .scope_files()
            .into_iter()
            .filter(|s| Access::may_read(member, &s.env))
            .filter(|s| {
                matches!(self.read_bytes(s), Ok(Some(b)) if !b.is_empty() && envfile::is_encrypted(&b) && !self.is_foreign(s, &b))
            })
            .map(|s| s.rel_path());
        let files = self
            .read_tracked(true)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, env, _)| Access::may_read(member, env))
            .map(|(rel, ..)| rel);
        scopes.chain(files).collect()
    }

    /// The bytes of `scope`'s work-tree file, in whichever form; `None` when it is missing.
    pub fn read_bytes(&self, scope: &Scope) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, Error> {
        let path = scope.path(self.root());
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(zeroize::Zeroizing::new(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// A scope file's work-tree bytes, parsed, or decrypted when they are encrypted.
    pub fn open_scope(&self, scope: &Scope, bytes: &[u8]) -> Result<ScopeFile, Error> {
        if bytes.is_empty() {
            let state = if self.is_unlocked() {
                FileState::Plain
            } else {
                FileState::Encrypted
            };
            return Ok(ScopeFile {
                doc: Document::default(),
                state,
            });
        }
        // The encrypted form is itself a dotenv file: one parse serves both states. A
        // file with any sealed value is read as encrypted, so a damaged token is an
        // error rather than a plaintext value. (The cheap look first: decrypting checks
        // every token anyway.)
        let doc = self.parse_plain(scope, bytes)?;
        if envfile::looks_encrypted_doc(&doc) || envfile::is_encrypted_doc(&doc) {
            Ok(ScopeFile {
                doc: self.decrypt_doc(scope, &doc)?,
                state: FileState::Encrypted,
            })
        } else {
            Ok(ScopeFile {
                doc,
                state: FileState::Plain,
            })
        }
    }

    /// Writes a scope back atomically in the state it was read in (a new file is
    /// plaintext in an unlocked clone, encrypted in a locked one).
    pub fn write_scope(&self, scope: &Scope, file: &ScopeFile) -> Result<PathBuf, Error> {
        let path = scope.path(self.root());
        // A file outside the sparse checkout is not rewritten from what was read, and no
        // new one is added beside a `.secrets/` left out of it.
        self.refuse_outside_checkout(&[&scope.rel_path(), CONFIG_FILE])?;
        // A locked clone has no filter to seal what `git add` stages, so it only ever
        // gets the encrypted form, whatever state the file was read in.
        let state = match file.state {
            _ if !self.is_unlocked() => FileState::Encrypted,
            FileState::Missing => FileState::Plain,
            s => s,
        };
        // Refuse here, not only at `git add`, when the environment cannot seal new values
        // (no single current key, one a removed member holds, or keys that replaced the
        // ones this clone held).
        self.access.sealing_key_id(&scope.env)?;
        self.keys(&scope.env)?;
        self.check_current(&scope.env)?;
        match state {
            FileState::Plain => {
                fsutil::write_private(&path, file.doc.print().expose().as_bytes(), true)?;
            }
            _ => {
                let previous = std::fs::read(&path).ok();
                let enc = self.encrypt_reusing(scope, &file.doc, previous.as_deref())?;
                fsutil::write_private(&path, enc.as_bytes(), true)?;
            }
        }
        Ok(path)
    }

    pub fn save_config(&self) -> Result<(), Error> {
        self.refuse_outside_checkout(&[CONFIG_FILE])?;
        fsutil::write_public(
            &self.root().join(CONFIG_FILE),
            self.config.to_toml().as_bytes(),
        )
    }

    pub fn save_access(&self) -> Result<(), Error> {
        self.refuse_outside_checkout(&[ACCESS_FILE])?;
        fsutil::write_public(
            &self.root().join(ACCESS_FILE),
            self.access.to_json().as_bytes(),
        )
    }

    /// The services that have scope files in the work tree but that config.toml does not
    /// declare (a service folder renamed with `git mv`), each with its files: no command
    /// reads them.
    pub fn undeclared_services(&self) -> Vec<(String, Vec<Scope>)> {
        let mut out: Vec<(String, Vec<Scope>)> = Vec::new();
        for scope in self.scope_files() {
            let Some(service) = scope.service.clone() else {
                continue;
            };
            if self.config.services.contains(&service) {
                continue;
            }
            match out.last_mut() {
                Some((s, files)) if *s == service => files.push(scope),
                _ => out.push((service, vec![scope])),
            }
        }
        out
    }

    /// Scope files present in the work tree (declared or not).
    pub fn scope_files(&self) -> Vec<Scope> {
        let mut out = Vec::new();
        let dir = self.root().join(SECRETS_DIR);
        let mut visit = |rel: String| {
            if let Some(s) = Scope::from_rel_path(&rel) {
                out.push(s);
            }
        };
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir() {
                    if let Ok(inner) = std::fs::read_dir(e.path()) {
                        for f in inner.flatten() {
                            visit(format!(
                                "{SECRETS_DIR}/{name}/{}",
                                f.file_name().to_string_lossy()
                            ));
                        }
                    }
                } else {
                    visit(format!("{SECRETS_DIR}/{name}"));
                }
            }
        }
        out.sort();
        out
    }
}
