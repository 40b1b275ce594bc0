//! git's long-running filter process (`filter.secrets.process`): one process per git
//! command, speaking the pkt-line protocol ([`protocol`]).
//!
//! clean (work tree → git): plaintext is sealed; content already in encrypted form is
//! passed through unchanged (after checking it opens, when this identity can). Without
//! access, plaintext is refused, so `filter.secrets.required` stops `git add`.
//! smudge (git → work tree): the encrypted form is opened when this identity can read the
//! environment, and left as it is otherwise, so a checkout never fails for lack of a key.
//! `git archive` and `git checkout-index --prefix` get the encrypted form: what they
//! write leaves the repository.
//! Tampered content fails loudly in both directions.
//!
//! Here: the filter's state and the clean path. The smudge path is in [`smudge`], the
//! request loop in [`serve`], tracked whole files in [`files`], sealing the next file
//! ahead of git's request in [`ahead`], and how the filter waits for git in [`input`].

use std::collections::{HashMap, HashSet};

use zeroize::Zeroizing;

use crate::dotenv::Document;
use crate::envfile::{self, OpenError};
use crate::error::Error;
use crate::git::Repo;
use crate::scope::Scope;
use crate::workspace::Workspace;

mod ahead;
mod caller;
pub use caller::{conflict_style_given, favoured_side};
mod files;
pub mod input;
pub mod protocol;
mod serve;
pub use serve::{report, serve};
mod smudge;

/// The filter's state across the requests of one git command.
type FileState = Option<(std::time::SystemTime, u64)>;

pub struct Filter {
    root: std::path::PathBuf,
    loaded_state: Option<[FileState; 2]>,
    /// Whether `loaded_state` was compared with the files during the current request:
    /// nothing changes them while git waits for the answer.
    state_checked: bool,
    index: crate::git::BlobReader,
    workspace: Option<Workspace>,
    load_error: Option<String>,
    warned: HashSet<String>,
    checked_out: CheckedOut,
    /// What clean and smudge saw, for the fsmonitor hook (crate::fsmonitor).
    learned: crate::fsmonitor::Learned,
    /// Whether the git command this process serves is `git add` ([`caller::stages`]),
    /// asked the first time a file has conflict markers.
    staging: Option<bool>,
    /// Whether it is `git archive` or another export ([`caller::exports`]), asked at the
    /// first smudge.
    exporting: Option<bool>,
    /// Whether `lock` marked this worktree locked (crate::journal::worktree_locked),
    /// asked at the first smudge.
    locked_here: Option<bool>,
    /// Whether it is `git blame` ([`caller::blames`]), asked the first time clean is
    /// handed a masked view.
    blaming: Option<bool>,
    /// Counts the loads of `workspace` and of its access.json: what was sealed with one
    /// is given out only while it stays loaded ([`ahead`]).
    generation: u64,
    ahead: ahead::Ahead,
    /// Whether git lets this smudge be delayed (`can-delay=1`: a checkout, which asks
    /// again once it has written every other file).
    may_delay: bool,
    /// Set by a smudge that wants to wait for the rest of the checkout.
    delay_wanted: bool,
}

/// What this process last wrote to each path by smudge: the digest of the file
/// ([`crate::fsmonitor::digest`]) and the encrypted form it came from. git expects `clean(smudge(blob)) == blob`, and within
/// one git command the index on disk can be older than the one git holds in memory (git
/// am's 3-way fallback writes a merged file, then refreshes it against its in-memory
/// index): a file that still holds exactly what was written gets that blob back, whatever
/// key sealed it. This reveals nothing new: the blob is one git handed over, and it opens
/// to exactly the bytes being cleaned.
#[derive(Default)]
struct CheckedOut {
    by_path: HashMap<String, ([u8; 32], Vec<u8>)>,
    bytes: usize,
}

impl CheckedOut {
    /// Bounds the memory held (a checkout of a very large tree): past it, older entries
    /// are dropped, which only costs the fallback to the index.
    const MAX_BYTES: usize = 64 << 20;

    fn remember(&mut self, path: &str, digest: [u8; 32], sealed: &[u8]) {
        if self.bytes + sealed.len() > Self::MAX_BYTES {
            self.by_path.clear();
            self.bytes = 0;
        }
        self.bytes += sealed.len();
        if let Some((_, old)) = self
            .by_path
            .insert(path.to_owned(), (digest, sealed.to_vec()))
        {
            self.bytes -= old.len();
        }
    }

    fn sealed_form(&self, path: &str, digest: &[u8; 32]) -> Option<&[u8]> {
        let (known, sealed) = self.by_path.get(path)?;
        (known == digest).then_some(sealed.as_slice())
    }
}

impl Filter {
    pub fn new(root: std::path::PathBuf) -> Filter {
        Filter {
            loaded_state: None,
            state_checked: false,
            index: crate::git::BlobReader::new(root.clone()),
            root,
            workspace: None,
            load_error: None,
            warned: HashSet::new(),
            checked_out: CheckedOut::default(),
            learned: Default::default(),
            staging: None,
            exporting: None,
            locked_here: None,
            blaming: None,
            generation: 0,
            ahead: Default::default(),
            may_delay: false,
            delay_wanted: false,
        }
    }

    /// Loads the workspace on first use, and again whenever access.json or config.toml
    /// changed on disk (a rebase checks out another commit within one git command); a
    /// failure is retried on the next request, since the checkout in progress may be
    /// about to write the missing file.
    fn workspace(&mut self) -> Option<&mut Workspace> {
        if !std::mem::replace(&mut self.state_checked, true) {
            let state = [crate::workspace::ACCESS_FILE, crate::workspace::CONFIG_FILE].map(|f| {
                std::fs::metadata(self.root.join(f))
                    .ok()
                    .and_then(|m| Some((m.modified().ok()?, m.len())))
            });
            if self.loaded_state != Some(state) {
                self.workspace = None;
                self.loaded_state = Some(state);
                self.generation += 1;
            }
        }
        if self.workspace.is_none() {
            match Workspace::open_for_filter(Repo {
                root: self.root.clone(),
            }) {
                Ok(ws) => {
                    self.workspace = Some(ws);
                    self.load_error = None;
                }
                Err(e) => self.load_error = Some(e.to_string()),
            }
        }
        self.workspace.as_mut()
    }

    fn warn_once(&mut self, topic: &str, message: impl FnOnce() -> String) {
        if self.warned.insert(topic.to_owned()) {
            eprintln!("git-secrets: warning: {}", message());
        }
    }

    /// Starts a request: the configuration files are compared with the loaded ones again
    /// at its first use of the workspace.
    pub fn begin_request(&mut self) {
        self.state_checked = false;
    }

    /// work tree → git.
    pub fn clean(&mut self, path: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        // `git blame FILE` reads the work-tree file through the textconv (the masked
        // view), then cleans that: given back as it is, it matches the committed blobs'
        // views, so unchanged lines are blamed on their commits. blame keeps the result
        // in memory only; it holds masks and fingerprints, no value.
        if crate::diffview::is_masked_view(input)
            && *self.blaming.get_or_insert_with(caller::blames)
        {
            return Ok(input.to_vec());
        }
        let hit = self.sealed_ahead(path, input);
        let digest = match &hit {
            Some(hit) => hit.digest,
            None => crate::fsmonitor::digest(path, input),
        };
        if let Some(sealed) = self.checked_out.sealed_form(path, &digest) {
            let out = sealed.to_vec();
            self.learned.add(&out, digest);
            return Ok(out);
        }
        if let Some(hit) = hit {
            self.learned.add_blob(hit.blob, digest);
            return Ok(hit.sealed);
        }
        let out = self.clean_file(path, input)?;
        self.learned.add(&out, digest);
        Ok(out)
    }

    fn clean_file(&mut self, path: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        if let Some(env) = self.tracked(path) {
            return self.clean_whole(path, &env, input);
        }
        if crate::wholefile::looks_sealed(input) && Scope::from_rel_path(path).is_none() {
            // A tracked file while the configuration cannot load: keep the sealed bytes.
            return Ok(input.to_vec());
        }
        let scope = scope_of(path)?;
        // A file with conflict markers is refused by `git add`. git also cleans it to
        // compare (`git diff`, `git status`, `git commit`'s refresh), which must keep
        // working during a conflict: there each side is sealed apart, markers kept, and
        // the commit is what gets refused (hooks, `check`).
        if let Some((line, parts)) = envfile::conflict_parts(input) {
            if *self.staging.get_or_insert_with(caller::stages) {
                return Err(Error::Dotenv {
                    path: path.to_owned(),
                    source: crate::dotenv::ParseError::ConflictMarker { line },
                });
            }
            self.warn_once(&format!("conflict:{path}"), || {
                format!("{path} still has merge conflict markers (line {line}); each side is sealed, but a commit of it is refused until they are resolved")
            });
            let mut out = Vec::with_capacity(input.len() * 2);
            for part in parts {
                match part {
                    envfile::Part::Marker(m) => out.extend_from_slice(m),
                    envfile::Part::Body(b) => out.extend(self.clean_body(path, &scope, b)?),
                }
            }
            return Ok(out);
        }
        self.clean_body(path, &scope, input)
    }

    fn clean_body(&mut self, path: &str, scope: &Scope, input: &[u8]) -> Result<Vec<u8>, Error> {
        let scope = scope.clone();
        // One parse serves both forms (the encrypted form is itself a dotenv file).
        let parsed = Document::parse(input).ok();
        let encrypted = parsed.as_ref().is_some_and(envfile::is_encrypted_doc);
        let Some(ws) = self.workspace() else {
            if encrypted {
                return Ok(input.to_vec());
            }
            return Err(Error::Refused {
                message: format!(
                    "cannot encrypt {path}: {}",
                    self.load_error.clone().unwrap_or_default()
                ),
                hint: "fix the error above, then `git add` again".into(),
            });
        };
        let doc = match parsed {
            Some(doc) if encrypted => {
                let opened = ws.decrypt_doc(&scope, &doc);
                // The old name's file that smudge left sealed (above), cleaned as git has
                // it (`git status`, a refresh): given back, nothing new is stored. The
                // hooks judge the commit.
                if let Err(Error::Open {
                    source: OpenError::OtherEnvironment { .. },
                    ..
                }) = opened
                {
                    let staged = self
                        .index
                        .staged_oid(path)
                        .and_then(|oid| self.index.blob(&oid));
                    if staged.as_deref() == Some(input) {
                        return Ok(input.to_vec());
                    }
                }
                return pass_sealed(opened, input);
            }
            Some(doc) => doc,
            None => ws.parse_plain(&scope, input)?,
        };
        let result = match ws.encrypt(&scope, &doc) {
            Ok(fresh) => Ok(fresh),
            // No key may seal now (two current keys after a merge, or one a removed member
            // holds): unchanged values keep the tokens staged in the index.
            Err(_) => {
                let previous = self
                    .index
                    .staged_oid(path)
                    .and_then(|oid| self.index.blob(&oid));
                let ws = self.workspace.as_ref().expect("loaded above");
                ws.encrypt_reusing(&scope, &doc, previous.as_deref())
            }
        };
        result
            .map(String::into_bytes)
            .map_err(|e| not_sealed(path, e))
    }

    /// Writes the facts learned to the git directory (when git closes the filter).
    pub fn finish(&self) {
        if let Some(git_dir) = crate::git::git_dir(&self.root) {
            self.learned.save(&git_dir);
        }
    }
}

/// Content clean got already sealed (a locked clone, a file this identity cannot read),
/// `opened` being the attempt to open it: kept as it is, unless it is tampered with.
fn pass_sealed<T>(opened: Result<T, Error>, input: &[u8]) -> Result<Vec<u8>, Error> {
    match opened {
        Err(e) if !leaves_encrypted(&e) => Err(e),
        _ => Ok(input.to_vec()),
    }
}

/// Why clean cannot seal the plaintext file `path`, said for `git add`.
fn not_sealed(path: &str, e: Error) -> Error {
    match e {
        Error::NoAccess { env, recipient, .. } => Error::Refused {
            message: format!("cannot encrypt {path}: this identity has no access to {env}, and the file is plaintext"),
            hint: format!("ask a member to approve this device for {env} (your public key: {recipient}), or restore the encrypted file with `git checkout -- {path}`"),
        },
        Error::NoIdentity => Error::Refused {
            message: format!("cannot encrypt {path}: this device has no identity"),
            hint: format!("run `git secrets join --name NAME` and ask for access, or restore the file with `git checkout -- {path}`"),
        },
        e => e,
    }
}

/// Whether smudge leaves a file in encrypted form on this error, instead of failing the
/// checkout: no identity, no access to the environment, or a key this identity lacks.
/// Anything else (a tampered value, a file moved between scopes) fails loudly.
pub fn leaves_encrypted(e: &Error) -> bool {
    matches!(
        e,
        Error::NoAccess { .. }
            | Error::NoIdentity
            | Error::KeysReplaced { .. }
            | Error::Open {
                source: OpenError::UnknownKey { .. },
                ..
            }
    )
}

/// The work-tree form smudge gives `input` at `path` when the workspace is `ws`, for
/// those who must see a blob as git's textconv does (the masked diff's cache): `None`
/// where smudge would fail, and for a conflicted blob, which is left to the filter.
pub fn smudged_form(ws: &Workspace, path: &str, input: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let scope = scope_of(path).ok()?;
    if envfile::conflict_parts(input).is_some() {
        return None;
    }
    if input.is_empty() || !envfile::is_encrypted(input) {
        return Some(Zeroizing::new(input.to_vec()));
    }
    match ws.decrypt(&scope, input) {
        Ok(doc) => Some(Zeroizing::new(doc.print().expose().as_bytes().to_vec())),
        Err(e) if leaves_encrypted(&e) => Some(Zeroizing::new(input.to_vec())),
        Err(_) => None,
    }
}

fn scope_of(path: &str) -> Result<Scope, Error> {
    Scope::from_rel_path(path).ok_or_else(|| Error::Refused {
        message: format!("{path} is routed to the secrets filter but is not a scope file (.secrets/<service>/<env>.env)"),
        // git-secrets' own .gitattributes line routes every `.secrets/**/*.env`: such a
        // name is a file out of place (deeper than a service, a name that is no
        // environment's) or a tool's copy (Emacs' `.#NAME.env`), more often than a
        // line the user wrote.
        hint: "secret files are .secrets/<env>.env or .secrets/<service>/<env>.env, with names of lowercase letters, digits, `-` and `_` that start with a letter: move its values there (`git secrets import`), or delete it if an editor or a tool left it; a `filter=secrets` line of your own in .gitattributes that routes it must go".into(),
    })
}
