//! git's long-running filter process (`filter.secrets.process`): one process per git
//! command, speaking the pkt-line protocol through gix-filter's server.
//!
//! clean (work tree → git): plaintext is sealed; content already in encrypted form is
//! passed through unchanged (after checking it opens, when this identity can). Without
//! access, plaintext is refused, so `filter.secrets.required` stops `git add`.
//! smudge (git → work tree): the encrypted form is opened when this identity can read the
//! environment, and left as it is otherwise, so a checkout never fails for lack of a key.
//! Tampered content fails loudly in both directions.

use std::collections::HashSet;
use std::io::{Read, Write};

use zeroize::Zeroizing;

use crate::envfile::{self, OpenError};
use crate::error::Error;
use crate::git::Repo;
use crate::scope::Scope;
use crate::workspace::Workspace;

/// The filter's state across the requests of one git command.
type FileState = Option<(std::time::SystemTime, u64)>;

pub struct Filter {
    root: std::path::PathBuf,
    loaded_state: Option<[FileState; 2]>,
    index: crate::git::BlobReader,
    workspace: Option<Workspace>,
    load_error: Option<String>,
    warned: HashSet<String>,
}

impl Filter {
    pub fn new(root: std::path::PathBuf) -> Filter {
        Filter {
            loaded_state: None,
            index: crate::git::BlobReader::new(root.clone()),
            root,
            workspace: None,
            load_error: None,
            warned: HashSet::new(),
        }
    }

    /// Loads the workspace on first use, and again whenever access.json or config.toml
    /// changed on disk (a rebase checks out another commit within one git command); a
    /// failure is retried on the next request, since the checkout in progress may be
    /// about to write the missing file.
    fn workspace(&mut self) -> Option<&mut Workspace> {
        let state = [crate::workspace::ACCESS_FILE, crate::workspace::CONFIG_FILE].map(|f| {
            std::fs::metadata(self.root.join(f))
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        });
        if self.loaded_state != Some(state) {
            self.workspace = None;
            self.loaded_state = Some(state);
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

    /// work tree → git.
    pub fn clean(&mut self, path: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        let scope = scope_of(path)?;
        // git runs clean during `git diff` and `git checkout` of a conflicted file too, and
        // a filter cannot tell those from `git add`: so a conflict is sealed side by side,
        // markers kept, and the commit is what gets refused (hooks, `check`).
        if let Some((line, parts)) = envfile::conflict_parts(input) {
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
        let encrypted = envfile::is_encrypted(input);
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
        if encrypted {
            // Already sealed (a locked clone, or a file this identity cannot read): keep
            // the bytes, but never pass on a tampered value when we can tell.
            match ws.decrypt(&scope, input) {
                Ok(_) => {}
                Err(Error::NoAccess { .. } | Error::NoIdentity) => {}
                Err(Error::Open {
                    source: OpenError::UnknownKey { .. },
                    ..
                }) => {}
                Err(e) => return Err(e),
            }
            return Ok(input.to_vec());
        }
        let doc = ws.parse_plain(&scope, input)?;
        // Where older keys exist, values may be stored under them: keep those tokens for
        // unchanged values, read from the index — unless the fresh seal is already exactly
        // the staged blob (the usual case, checked by its id without reading the blob).
        let previous = if ws.has_older_keys(&scope.env) || ws.access.heads(&scope.env).len() != 1 {
            let fresh = ws.encrypt(&scope, &doc).ok();
            let staged = self.index.staged_oid(path);
            if let (Some(f), Some(oid)) = (fresh, &staged) {
                if crate::git::blob_id(f.as_bytes()).as_ref() == Some(oid) {
                    return Ok(f.into_bytes());
                }
            }
            staged.and_then(|oid| self.index.blob(&oid))
        } else {
            None
        };
        let ws = self.workspace.as_ref().expect("loaded above");
        match ws.encrypt_reusing(&scope, &doc, previous.as_deref()) {
            Ok(enc) => Ok(enc.into_bytes()),
            Err(Error::NoAccess { env, recipient }) => Err(Error::Refused {
                message: format!("cannot encrypt {path}: this identity has no access to {env}, and the file is plaintext"),
                hint: format!("ask a member to approve this device for {env} (your public key: {recipient}), or restore the encrypted file with `git checkout -- {path}`"),
            }),
            Err(Error::NoIdentity) => Err(Error::Refused {
                message: format!("cannot encrypt {path}: this device has no identity"),
                hint: format!("run `git secrets join --name NAME` and ask for access, or restore the file with `git checkout -- {path}`"),
            }),
            Err(e) => Err(e),
        }
    }

    /// git → work tree.
    pub fn smudge(&mut self, path: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        let Ok(scope) = scope_of(path) else {
            return Ok(input.to_vec());
        };
        // A merge conflict of the encrypted form: open each side, keep the markers, so the
        // user resolves plaintext values.
        if let Some((_, parts)) = envfile::conflict_parts(input) {
            let mut out = Vec::with_capacity(input.len());
            for part in parts {
                match part {
                    envfile::Part::Marker(m) => out.extend_from_slice(m),
                    envfile::Part::Body(b) if envfile::is_encrypted(b) => {
                        match self.workspace().map(|ws| ws.decrypt(&scope, b)) {
                            Some(Ok(doc)) => out.extend_from_slice(doc.print().expose().as_bytes()),
                            _ => return Ok(input.to_vec()),
                        }
                    }
                    envfile::Part::Body(b) => out.extend_from_slice(b),
                }
            }
            return Ok(out);
        }
        if !envfile::is_encrypted(input) {
            self.warn_once(path, || {
                format!("{path} is committed in plaintext; run `git secrets check`")
            });
            return Ok(input.to_vec());
        }
        if input.is_empty() {
            return Ok(Vec::new());
        }
        if self.workspace().is_none() {
            let why = self.load_error.clone().unwrap_or_default();
            self.warn_once("load", || format!("leaving secret files encrypted: {why}"));
            return Ok(input.to_vec());
        }
        let mut result = self
            .workspace()
            .expect("loaded above")
            .decrypt(&scope, input);
        if let Err(Error::Open {
            source: OpenError::UnknownKey { .. },
            ..
        }) = &result
        {
            // A checkout may have just written a newer access.json: read it once more.
            if let Some(ws) = self.workspace() {
                if ws.reload_access().is_ok() {
                    result = ws.decrypt(&scope, input);
                }
            }
        }
        match result {
            Ok(doc) => Ok(doc.print().expose().as_bytes().to_vec()),
            Err(Error::NoAccess { env, .. }) => {
                self.warn_once(&format!("env:{env}"), || {
                    format!("no access to {env}: its files stay encrypted")
                });
                Ok(input.to_vec())
            }
            Err(Error::NoIdentity) => {
                self.warn_once("identity", || {
                    "no identity on this device: secret files stay encrypted".into()
                });
                Ok(input.to_vec())
            }
            Err(Error::Open {
                source: OpenError::UnknownKey { key_id, .. },
                ..
            }) => {
                self.warn_once(&format!("key:{key_id}"), || format!("{path}: sealed with key {key_id}, which this identity does not hold; left encrypted"));
                Ok(input.to_vec())
            }
            Err(e) => Err(e),
        }
    }
}

fn scope_of(path: &str) -> Result<Scope, Error> {
    Scope::from_rel_path(path).ok_or_else(|| Error::Refused {
        message: format!("{path} is routed to the secrets filter but is not a scope file (.secrets/<service>/<env>.env)"),
        hint: "only scope files can be encrypted; fix the `filter=secrets` line in .gitattributes".into(),
    })
}

/// Prints an error the way the CLI does, to stderr (stdout belongs to the protocol).
pub fn report(e: &Error) {
    eprintln!("git-secrets: error: {e}");
    if let Some(h) = e.hint() {
        eprintln!("git-secrets: hint: {h}");
    }
}

/// Serves git until it closes the pipe.
pub fn serve() -> Result<(), Error> {
    use gix_filter::driver::process::{Server, Status};
    let proto = |e: &dyn std::fmt::Display| Error::Refused {
        message: format!("filter protocol error: {e}"),
        hint:
            "this is a bug or a git version without the long-running filter protocol (git ≥ 2.11)"
                .into(),
    };
    let root = std::env::current_dir().map_err(|source| Error::Io {
        path: ".".into(),
        source,
    })?;
    let mut filter = Filter::new(root);
    let mut server = Server::handshake(
        std::io::stdin(),
        std::io::stdout(),
        "git-filter",
        &mut |versions| versions.contains(&2).then_some(2),
        &["clean", "smudge"],
    )
    .map_err(|e| proto(&e))?;
    let io = |source| Error::Io {
        path: "<git filter pipe>".into(),
        source,
    };
    while let Some(mut request) = server.next_request().map_err(|e| proto(&e))? {
        let path = request
            .meta
            .iter()
            .find(|(k, _)| k == "pathname")
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        let mut input = Zeroizing::new(Vec::new());
        request.as_read().read_to_end(&mut input).map_err(io)?;
        let result = match request.command.as_str() {
            "clean" => filter.clean(&path, &input),
            "smudge" => filter.smudge(&path, &input),
            other => Err(Error::Refused {
                message: format!("unknown filter command `{other}`"),
                hint: String::new(),
            }),
        };
        match result {
            Ok(out) => {
                let out = Zeroizing::new(out);
                request.write_status(Status::success()).map_err(io)?;
                request.as_write().write_all(&out).map_err(io)?;
                request.write_status(Status::Previous).map_err(io)?;
            }
            Err(e) => {
                report(&e);
                request.write_status(Status::error("error")).map_err(io)?;
            }
        }
    }
    Ok(())
}
