//! clean and smudge of tracked whole files (`git secrets track`; crate::wholefile): the
//! same rules as scope files, for one token instead of one per line.

use super::{leaves_encrypted, Filter};
use crate::envfile::OpenError;
use crate::error::Error;
use crate::wholefile;

impl Filter {
    /// The environment of `path` when the configuration tracks it as a whole file.
    pub(super) fn tracked(&mut self, path: &str) -> Option<String> {
        self.workspace()?.tracked_env(path).map(str::to_owned)
    }

    pub(super) fn clean_whole(
        &mut self,
        path: &str,
        env: &str,
        input: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let ws = self.workspace().expect("tracked() loaded it");
        if wholefile::looks_sealed(input) {
            // Already sealed (a locked clone, or no access): keep the bytes, but never
            // pass on tampered content when this identity can tell.
            match ws.open_file(path, env, input) {
                Ok(_)
                | Err(Error::NoAccess { .. } | Error::NoIdentity | Error::KeysReplaced { .. })
                | Err(Error::Open {
                    source: OpenError::UnknownKey { .. },
                    ..
                }) => return Ok(input.to_vec()),
                Err(e) => return Err(e),
            }
        }
        // Unchanged since it was staged: the staged bytes, whichever key sealed them (a
        // rotation or a merge), so the file does not look modified.
        if let Some(staged) = self
            .index
            .staged_oid(path)
            .and_then(|oid| self.index.blob(&oid))
        {
            let ws = self.workspace.as_ref().expect("loaded above");
            if wholefile::is_sealed(&staged)
                && ws
                    .open_file(path, env, &staged)
                    .is_ok_and(|plain| plain.as_slice() == input)
            {
                return Ok(staged);
            }
        }
        let ws = self.workspace.as_ref().expect("loaded above");
        ws.seal_file(path, env, input).map_err(|e| match e {
            Error::NoAccess { env, recipient } => Error::Refused {
                message: format!("cannot encrypt {path}: this identity has no access to {env}, and the file is plaintext"),
                hint: format!("ask a member to approve this device for {env} (your public key: {recipient}), or restore the encrypted file with `git checkout -- {path}`"),
            },
            Error::NoIdentity => Error::Refused {
                message: format!("cannot encrypt {path}: this device has no identity"),
                hint: format!("run `git secrets join --name NAME` and ask for access, or restore the file with `git checkout -- {path}`"),
            },
            e => e,
        })
    }

    /// The work-tree form of a tracked file, and whether it was opened.
    pub(super) fn smudge_whole(
        &mut self,
        path: &str,
        env: &str,
        input: &[u8],
    ) -> Result<(Vec<u8>, bool), Error> {
        if !wholefile::looks_sealed(input) {
            self.warn_once(path, || {
                format!("{path} is committed in plaintext; run `git secrets check`")
            });
            return Ok((input.to_vec(), false));
        }
        let ws = self.workspace().expect("tracked() loaded it");
        let mut result = ws.open_file(path, env, input);
        if let Err(Error::Open {
            source: OpenError::UnknownKey { .. },
            ..
        }) = &result
        {
            // A checkout may have just written a newer access.json: read it once more.
            if ws.reload_access().is_ok() {
                result = ws.open_file(path, env, input);
            }
        }
        match result {
            Ok(plain) => Ok((plain.to_vec(), true)),
            Err(e) if leaves_encrypted(&e) => {
                self.warn_left_encrypted(path, &e);
                Ok((input.to_vec(), false))
            }
            Err(e) => Err(e),
        }
    }
}
