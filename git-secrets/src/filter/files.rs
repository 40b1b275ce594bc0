//! clean and smudge of tracked whole files (`git secrets track`; crate::wholefile): the
//! same rules as scope files, for one token instead of one per line.

use super::{leaves_encrypted, not_sealed, pass_sealed, Filter};
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
            return pass_sealed(ws.open_file(path, env, input), input);
        }
        // Unchanged since it was staged: the staged bytes, so the file does not look
        // modified, when they are under the key that seals now or no key may seal now (a
        // merge of two rotations, a key a removed member holds). A file brought back
        // under a key a rotation retired (a pathspec checkout of a stash) is sealed again.
        if let Some(staged) = self
            .index
            .staged_oid(path)
            .and_then(|oid| self.index.blob(&oid))
        {
            let ws = self.workspace.as_ref().expect("loaded above");
            // The environment whose key sealed it, which config.toml may no longer name.
            let sealed_for = wholefile::key_id(&staged)
                .and_then(|k| ws.env_of_key(k))
                .unwrap_or(env);
            // A blob config.toml routes elsewhere now stays as it is while unchanged
            // (see below).
            let current = ws.access.sealing_key_id(env).ok();
            let reusable = sealed_for != env
                || current.is_none_or(|id| wholefile::key_id(&staged) == Some(id.0.as_str()));
            if reusable
                && wholefile::is_sealed(&staged)
                && ws
                    .open_file(path, sealed_for, &staged)
                    .is_ok_and(|plain| plain.as_slice() == input)
            {
                return Ok(staged);
            }
            // config.toml says which key seals the file, and anyone who can push can
            // edit it: a file git holds sealed for another environment moves only by
            // `track -e` (which stages it re-sealed), never by a re-seal here.
            if let Some(other) = Some(sealed_for).filter(|other| *other != env) {
                return Err(Error::Refused {
                    message: format!("{path} is in git sealed for `{other}`, but .secrets/config.toml now names `{env}` for it: sealing it with the key of `{env}` would give it to whoever reads `{env}`"),
                    hint: format!("if the move is meant, a member who reads both runs `git secrets track {path} -e {env}`; otherwise put the line back (`git log -p .secrets/config.toml` shows who changed it)"),
                });
            }
        }
        let ws = self.workspace.as_ref().expect("loaded above");
        crate::continuity::check_tracked(ws.root(), path, env)?;
        ws.seal_file(path, env, input)
            .map_err(|e| not_sealed(path, e))
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
        match self.open_reloading(|ws| ws.open_file(path, env, input)) {
            Ok(plain) => Ok((plain.to_vec(), true)),
            Err(e) if self.delays(&e) => Ok((input.to_vec(), false)),
            Err(e) if leaves_encrypted(&e) => {
                self.warn_left_encrypted(path, &e);
                Ok((input.to_vec(), false))
            }
            Err(e) => Err(e),
        }
    }
}
