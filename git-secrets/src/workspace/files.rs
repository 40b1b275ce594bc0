//! The secret files of the work tree: whether any is in plaintext, and tracked whole
//! files (`git secrets track`), sealed and opened with their environment's keys (the
//! format is crate::wholefile).

use zeroize::Zeroizing;

use super::Workspace;
use crate::dotenv::{Document, LineKind};
use crate::envfile;
use crate::error::Error;
use crate::wholefile;

/// A tracked file read from the work tree: its path, its environment and its bytes.
pub type TrackedFile = (String, String, Zeroizing<Vec<u8>>);

impl Workspace {
    /// Whether this work tree holds a secret file in plaintext: a scope file (one that
    /// cannot be read counts) or a tracked file.
    pub fn holds_plaintext(&self) -> bool {
        let plain_scope = self
            .scope_files()
            .iter()
            .any(|scope| match self.read_bytes(scope) {
                Ok(Some(bytes)) => is_plain_scope(&bytes),
                Ok(None) => false,
                Err(_) => true,
            });
        plain_scope
            || self
                .read_tracked(false)
                .map_or(true, |files| !files.is_empty())
    }

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

/// Whether a scope file's bytes are its decrypted form: a value or comment not sealed
/// (a file of blank lines holds nothing; one that does not parse may hold anything).
fn is_plain_scope(bytes: &[u8]) -> bool {
    match Document::parse(bytes) {
        Ok(doc) => {
            doc.lines
                .iter()
                .any(|l| !matches!(l.kind, LineKind::Blank(_)))
                && !envfile::is_encrypted_doc(&doc)
                && !envfile::looks_encrypted_doc(&doc)
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_and_sealed_scope_files() {
        assert!(super::is_plain_scope(b"A=1\n"));
        assert!(super::is_plain_scope(b"# a note\n"));
        assert!(!super::is_plain_scope(b"\n\n"));
        assert!(!super::is_plain_scope(b""));
    }
}
