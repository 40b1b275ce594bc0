//! Tracked whole files (`git secrets track`): sealing and opening them with their
//! environment's keys (the format is crate::wholefile).

use zeroize::Zeroizing;

use super::Workspace;
use crate::error::Error;
use crate::wholefile;

/// A tracked file read from the work tree: its path, its environment and its bytes.
pub type TrackedFile = (String, String, Zeroizing<Vec<u8>>);

impl Workspace {
    /// The environment whose key seals `path`, when it is a tracked file.
    pub fn tracked_env(&self, path: &str) -> Option<&str> {
        self.config.files.get(path).map(String::as_str)
    }

    /// The tracked files whose work-tree form is sealed (`sealed`) or not: (path,
    /// environment, bytes). Missing files are skipped: a tracked file need not exist in
    /// every checkout.
    pub fn read_tracked(&self, sealed: bool) -> Result<Vec<TrackedFile>, Error> {
        let mut out = Vec::new();
        for (path, env) in &self.config.files {
            let full = self.root().join(path);
            match std::fs::read(&full) {
                Ok(b) if wholefile::looks_sealed(&b) == sealed => {
                    out.push((path.clone(), env.clone(), Zeroizing::new(b)))
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(Error::Io { path: full, source }),
            }
        }
        Ok(out)
    }

    /// Seals the content of the tracked file `path` (of `env`) under the current key.
    pub fn seal_file(&self, path: &str, env: &str, plain: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(wholefile::seal(path, plain, &self.sealing_key(env)?))
    }

    /// Opens the sealed form of the tracked file `path` (of `env`).
    pub fn open_file(
        &self,
        path: &str,
        env: &str,
        bytes: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let keys = self.keys(env)?;
        let opened = match wholefile::open(path, bytes, &keys) {
            // A key from a branch or commit not merged here: look for it in history.
            Err(crate::envfile::OpenError::UnknownKey { key_id, .. })
                if self.learn_key(env, &key_id)? =>
            {
                wholefile::open(path, bytes, &self.keys(env)?)
            }
            other => other,
        };
        opened.map_err(|source| Error::Open {
            path: path.to_owned(),
            scope: env.to_owned(),
            source,
        })
    }
}
