//! smudge (git → work tree): the encrypted form is opened when this identity can read
//! the environment and left as it is otherwise, so a checkout never fails for lack of a
//! key; `git archive` and `git checkout-index --prefix` get the encrypted form. A file
//! git writes before `access.json` (services named before it), or sealed with a key the
//! loaded access.json lacks, waits for the end of a checkout (git's `delay` capability),
//! so that it is opened with the access.json of the commit checked out.

use super::{caller, leaves_encrypted, scope_of, Filter};
use crate::dotenv::Document;
use crate::envfile::{self, OpenError};
use crate::error::Error;
use crate::scope::Scope;
use crate::workspace::Workspace;

impl Filter {
    /// git → work tree; for `git archive` or `git checkout-index --prefix`, git → files
    /// that leave the repository (a release tarball, a build directory): there secret
    /// files keep the encrypted form git stores.
    pub fn smudge(&mut self, path: &str, input: &[u8]) -> Result<Vec<u8>, Error> {
        self.smudge_or_delay(path, input, false)
            .map(|out| out.unwrap_or_else(|| input.to_vec()))
    }

    /// [`Filter::smudge`]; with `can_delay`, `None` when the file is better written at
    /// the end of the checkout, once access.json is. git writes files in path order, and
    /// the scope files of services named before `access.json` (`a`, `ab`, `Billing`,
    /// `2fa`…) and tracked files such as `.aws/credentials` come first: across a rotation
    /// they are sealed with a key the access.json on disk lacks, and across an approval
    /// or a removal, read backwards (`git bisect`), that access.json grants a key the
    /// checked-out one does not. Any other file sealed with a key the loaded access.json
    /// lacks waits too. By the time git asks again, access.json is written.
    pub fn smudge_or_delay(
        &mut self,
        path: &str,
        input: &[u8],
        can_delay: bool,
    ) -> Result<Option<Vec<u8>>, Error> {
        if *self.exporting.get_or_insert_with(caller::exports) {
            return Ok(Some(input.to_vec()));
        }
        // `git secrets lock` here, with the filter kept for another worktree: the files
        // of this one stay sealed through any checkout, merge or pull.
        let root = &self.root;
        if *self.locked_here.get_or_insert_with(|| {
            crate::journal::worktree_locked(&crate::git::Repo { root: root.clone() })
        }) {
            return Ok(Some(input.to_vec()));
        }
        // A file git writes before access.json, during a checkout that may change it,
        // waits for it: opened with the access.json being left (which may grant a key
        // the new one does not), it would be plaintext that no clean could seal again.
        if can_delay && path.as_bytes() < crate::workspace::ACCESS_FILE.as_bytes() {
            return Ok(None);
        }
        self.may_delay = can_delay;
        self.delay_wanted = false;
        let smudged = self.smudge_file(path, input);
        self.may_delay = false;
        if std::mem::take(&mut self.delay_wanted) {
            return Ok(None);
        }
        let (out, opened) = smudged?;
        let digest = crate::fsmonitor::digest(path, &out);
        if opened {
            self.checked_out.remember(path, digest, input);
        }
        self.learned.add(input, digest);
        Ok(Some(out))
    }

    /// Whether a smudge that failed with `e` waits for the end of the checkout instead
    /// of leaving the file sealed ([`Filter::smudge_or_delay`]); notes it when so.
    pub(super) fn delays(&mut self, e: &Error) -> bool {
        let unknown_key = matches!(
            e,
            Error::Open {
                source: OpenError::UnknownKey { .. },
                ..
            }
        );
        self.delay_wanted = self.may_delay && unknown_key;
        self.delay_wanted
    }

    /// The work-tree form of `input`, and whether it was opened (not passed through).
    fn smudge_file(&mut self, path: &str, input: &[u8]) -> Result<(Vec<u8>, bool), Error> {
        if let Some(env) = self.tracked(path) {
            return self.smudge_whole(path, &env, input);
        }
        let Ok(scope) = scope_of(path) else {
            return Ok((input.to_vec(), false));
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
                            _ => return Ok((input.to_vec(), false)),
                        }
                    }
                    envfile::Part::Body(b) => out.extend_from_slice(b),
                }
            }
            return Ok((out, true));
        }
        let Some(doc) = Document::parse(input)
            .ok()
            .filter(envfile::is_encrypted_doc)
        else {
            self.warn_once(path, || {
                format!("{path} is committed in plaintext; run `git secrets check`")
            });
            return Ok((input.to_vec(), false));
        };
        if input.is_empty() {
            return Ok((Vec::new(), false));
        }
        if self.workspace().is_none() {
            let why = self.load_error.clone().unwrap_or_default();
            self.warn_once("load", || format!("leaving secret files encrypted: {why}"));
            return Ok((input.to_vec(), false));
        }
        match self.open_reloading(|ws| ws.decrypt_doc(&scope, &doc)) {
            Ok(doc) => Ok((doc.print().expose().as_bytes().to_vec(), true)),
            Err(e) if self.delays(&e) => Ok((input.to_vec(), false)),
            Err(e) if leaves_encrypted(&e) => {
                self.warn_left_encrypted(path, &e);
                Ok((input.to_vec(), false))
            }
            // The old name's file, the name given to a new environment since (a merge of
            // `env rename` with an edit of the old name): left sealed, never opened as the
            // new environment's. Failing would stop the merge with nothing to fix; the
            // hooks refuse a commit that keeps it or drops it (crate::guard::keys,
            // crate::guard::merge), and `doctor --fix` moves it home.
            Err(Error::Open {
                source: OpenError::OtherEnvironment { env, .. },
                ..
            }) => {
                let home = Scope::new(scope.service.as_deref(), &env).rel_path();
                self.warn_once(&format!("other:{path}"), || {
                    format!("{path} holds values sealed for `{env}`, not for `{}` (an `env rename` merged with an edit of the old name, after the name went to a new environment?): left encrypted; `git secrets doctor --fix` merges them into {home} and puts back `{}`'s own file", scope.env, scope.env)
                });
                Ok((input.to_vec(), false))
            }
            Err(e) => Err(e),
        }
    }

    /// `open` with the loaded workspace; on a key this identity does not know, once more
    /// after reading access.json again (a checkout may have just written a newer one).
    pub(super) fn open_reloading<T>(
        &mut self,
        open: impl Fn(&Workspace) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let ws = self.workspace().expect("loaded by the caller");
        let first = open(ws);
        if let Err(Error::Open {
            source: OpenError::UnknownKey { .. },
            ..
        }) = &first
        {
            if ws.reload_access().is_ok() {
                self.generation += 1;
                let ws = self.workspace.as_ref().expect("loaded above");
                return open(ws);
            }
        }
        first
    }

    /// Says once per cause why files stay encrypted (`e` is one [`leaves_encrypted`] takes).
    pub(super) fn warn_left_encrypted(&mut self, path: &str, e: &Error) {
        let (topic, message) = match e {
            Error::NoAccess { env, .. } => (
                format!("env:{env}"),
                format!("no access to {env}: its files stay encrypted"),
            ),
            Error::KeysReplaced { env } => (
                format!("env:{env}"),
                format!(
                    "{e}; its files stay encrypted ({})",
                    e.hint().unwrap_or_default()
                ),
            ),
            Error::Open {
                source: OpenError::UnknownKey { key_id, .. },
                ..
            } => (
                format!("key:{key_id}"),
                format!("{path}: sealed with key {key_id}, which this identity does not hold; left encrypted"),
            ),
            _ => (
                "identity".into(),
                "no identity on this device: secret files stay encrypted".into(),
            ),
        };
        self.warn_once(&topic, || message);
    }
}
