//! This device's identity: an age X25519 key kept outside the repository.
//!
//! Looked up in order: `GIT_SECRETS_IDENTITY` (the identity itself, for CI),
//! `GIT_SECRETS_IDENTITY_FILE` (a path), then `$XDG_CONFIG_HOME/git-secrets/identity.txt`
//! (or `~/.config/git-secrets/identity.txt`). A file readable by anyone but its owner is
//! refused, the way ssh refuses such a key.
//!
//! The default identity is written atomically (crate::fsutil::write_private: a 0600
//! temporary file in its folder, renamed in place); what a crash leaves of such a write
//! is removed the next time the identity is looked up there ([`load`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::fsutil;

pub const ENV_IDENTITY: &str = "GIT_SECRETS_IDENTITY";
pub const ENV_IDENTITY_FILE: &str = "GIT_SECRETS_IDENTITY_FILE";

/// Where an identity came from, for messages (never the identity itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Env,
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Env => write!(f, "${ENV_IDENTITY}"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

pub struct Identity {
    key: Key,
    pub origin: Origin,
}

/// A native age key, or an unencrypted SSH private key (ed25519 or RSA) whose public
/// key sits beside it as `<file>.pub`.
enum Key {
    Age(age::x25519::Identity),
    Ssh {
        key: age::ssh::Identity,
        recipient: String,
    },
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({}, {})", self.recipient(), self.origin)
    }
}

impl Identity {
    /// The public recipient string (`age1…`, or an SSH key without its comment), in
    /// canonical form ([`canonical_recipient`]), safe to share.
    pub fn recipient(&self) -> String {
        match &self.key {
            Key::Age(k) => k.to_public().to_string(),
            Key::Ssh { recipient, .. } => recipient.clone(),
        }
    }

    pub fn as_age(&self) -> &dyn age::Identity {
        match &self.key {
            Key::Age(k) => k,
            Key::Ssh { key, .. } => key,
        }
    }

    /// A fresh age identity, not yet stored.
    pub fn generate() -> Identity {
        Identity {
            key: Key::Age(age::x25519::Identity::generate()),
            origin: Origin::Env,
        }
    }

    /// The identity's secret string, for `keys create` to print once.
    pub fn secret_string(&self) -> crate::secret::SecretString {
        match &self.key {
            Key::Age(k) => {
                crate::secret::SecretString::new(k.to_string().expose_secret().to_owned())
            }
            Key::Ssh { .. } => crate::secret::SecretString::default(),
        }
    }

    fn parse_ssh(text: &str, path: &Path) -> Result<Identity, Error> {
        let origin = Origin::File(path.to_owned());
        let bad = |why: &str| Error::BadIdentity {
            origin: format!("{} ({why})", path.display()),
        };
        let key =
            age::ssh::Identity::from_buffer(text.as_bytes(), Some(path.display().to_string()))
                .map_err(|_| bad("not a readable SSH private key"))?;
        match key {
            age::ssh::Identity::Unencrypted(_) => {}
            age::ssh::Identity::Encrypted(_) => {
                return Err(bad(
                    "passphrase-protected SSH keys are not supported; use an age identity",
                ))
            }
            age::ssh::Identity::Unsupported(_) => {
                return Err(bad("only ed25519 and RSA SSH keys are supported"))
            }
        }
        let pub_path = PathBuf::from(format!("{}.pub", path.display()));
        let recipient = std::fs::read_to_string(&pub_path)
            .ok()
            .and_then(|t| t.trim().parse::<age::ssh::Recipient>().ok())
            .map(|r| r.to_string())
            .ok_or_else(|| bad("its public key must sit beside it as <file>.pub"))?;
        Ok(Identity {
            key: Key::Ssh { key, recipient },
            origin,
        })
    }

    fn parse(text: &str, origin: Origin) -> Result<Identity, Error> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'));
        let key = line
            .and_then(|l| age::x25519::Identity::from_str(l).ok())
            .ok_or_else(|| Error::BadIdentity {
                origin: origin.to_string(),
            })?;
        Ok(Identity {
            key: Key::Age(key),
            origin,
        })
    }
}

/// The default identity file of this user.
pub fn default_path() -> Result<PathBuf, Error> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => return Err(Error::NoHome),
        },
    };
    Ok(base.join("git-secrets").join("identity.txt"))
}

/// Loads the identity in effect, or `None` when there is none anywhere.
pub fn load() -> Result<Option<Identity>, Error> {
    if let Ok(text) = std::env::var(ENV_IDENTITY) {
        if !text.trim().is_empty() {
            let text = zeroize::Zeroizing::new(text);
            return Identity::parse(&text, Origin::Env).map(Some);
        }
    }
    if let Some(path) = std::env::var_os(ENV_IDENTITY_FILE).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        if !path.exists() {
            return Err(Error::IdentityFileMissing { path });
        }
        return load_file(&path).map(Some);
    }
    let path = default_path()?;
    remove_leftovers(&path);
    if !path.exists() {
        return Ok(None);
    }
    load_file(&path).map(Some)
}

/// Removes the temporary files of ours (crate::fsutil::TEMP_PREFIX) that a write of the
/// default identity `path` cut short left in its folder: each holds a secret key, 0600,
/// and nothing else ever removes it. Nothing refers to such a key (an identity is used
/// only once renamed in place), so they go without a word; one a running write may own
/// (the folder's lock, crate::fsutil) is kept. Every command loads the identity, the
/// filter and the hooks too: this costs one `read_dir` of the folder, once per process.
fn remove_leftovers(path: &Path) {
    static DONE: std::sync::Once = std::sync::Once::new();
    let Some(dir) = path.parent() else { return };
    DONE.call_once(|| {
        if let Err(e) = fsutil::leftovers(dir, true) {
            eprintln!(
                "git-secrets: warning: a temporary file an interrupted write of this device's identity left, which holds a secret key, could not be removed: {e}; delete the files named `{}*` in {}",
                fsutil::TEMP_PREFIX,
                dir.display()
            );
        }
    });
}

fn load_file(path: &Path) -> Result<Identity, Error> {
    check_permissions(path)?;
    let text =
        zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?);
    if text.contains("PRIVATE KEY-----") {
        return Identity::parse_ssh(&text, path);
    }
    Identity::parse(&text, Origin::File(path.to_owned()))
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    // Its mode would be reported, with `chmod 600` of the directory as the fix.
    if meta.is_dir() {
        return Err(Error::BadIdentity {
            origin: format!("{} (a directory, not a file)", path.display()),
        });
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(Error::IdentityPermissions {
            path: path.to_owned(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), Error> {
    Ok(())
}

/// Loads the identity in effect, creating the default one (0600) when there is none.
/// Returns whether it was created.
pub fn load_or_create() -> Result<(Identity, bool), Error> {
    if let Some(id) = load()? {
        return Ok((id, false));
    }
    let path = default_path()?;
    let id = Identity::generate();
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let mut body = zeroize::Zeroizing::new(Vec::new());
    writeln!(body, "# git-secrets device identity, created {now}").ok();
    writeln!(body, "# public key: {}", id.recipient()).ok();
    writeln!(body, "{}", id.secret_string().expose()).ok();
    fsutil::write_private(&path, &body, true)?;
    Ok((
        Identity {
            key: id.key,
            origin: Origin::File(path),
        },
        true,
    ))
}

/// A recipient that an environment key can be wrapped to.
pub fn parse_recipient(s: &str) -> Option<Box<dyn age::Recipient + Send>> {
    if let Ok(r) = age::x25519::Recipient::from_str(s) {
        return Some(Box::new(r));
    }
    age::ssh::Recipient::from_str(s)
        .ok()
        .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
}

/// The canonical form of a recipient: the text that names its key, however the key was
/// written. An age recipient is its bech32 string in lower case (bech32 also reads it in
/// upper case); an SSH public key is its type, a space and the base64 of its key blob,
/// without the comment (the first two fields of the `.pub` line, as `ssh-keygen` writes
/// them). Ids, fingerprints and every comparison of recipients use this form, so a key
/// whose comment changed is still the same member (and a removed one stays removed).
pub fn canonical_recipient(recipient: &str) -> Option<String> {
    let s = recipient.trim();
    if let Ok(r) = age::x25519::Recipient::from_str(s) {
        return Some(r.to_string());
    }
    age::ssh::Recipient::from_str(s).ok().map(|r| r.to_string())
}

/// Whether two recipients name the same key ([`canonical_recipient`]).
pub fn same_key(a: &str, b: &str) -> bool {
    match (canonical_recipient(a), canonical_recipient(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// The form of `recipient` that ids and fingerprints hash: canonical, or trimmed when it
/// is no recipient at all (access.json refuses such an entry anyway).
fn canonical_or_trimmed(recipient: &str) -> String {
    canonical_recipient(recipient).unwrap_or_else(|| recipient.trim().to_owned())
}

/// `SHA256:<base64, no padding>` of a recipient, for checking it out of band. For an SSH
/// key it is what `ssh-keygen -lf key.pub` prints (the SHA-256 of the key blob); for an
/// age recipient, the SHA-256 of its canonical string.
pub fn fingerprint(recipient: &str) -> String {
    use base64::Engine;
    let canonical = canonical_or_trimmed(recipient);
    let blob = canonical
        .strip_prefix("ssh-")
        .and_then(|_| canonical.split(' ').nth(1))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok());
    let digest = match blob {
        Some(blob) => Sha256::digest(&blob),
        None => Sha256::digest(canonical.as_bytes()),
    };
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// The member id of a recipient: 16 hex digits (64 bits) of the SHA-256 of its canonical
/// form, so the same key gets the same id however it is written (an SSH comment changed,
/// an age recipient in upper case), the same device joining on two branches gets one id
/// and the two requests merge into one, and finding another key with an existing
/// member's id is out of reach.
pub fn member_id(recipient: &str) -> String {
    crate::hex(&Sha256::digest(canonical_or_trimmed(recipient).as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICu3PqpbX8TgIdY46pdCwTYthPVEKW1ssg9WJAfUItVH";

    // Guards: a key is one member however its comment or case is written.
    #[test]
    fn ids_and_fingerprints_follow_the_key_not_its_text() {
        let with_comment = format!("{ED25519} bob@laptop");
        let other_comment = format!("  {ED25519}   mal (new laptop)\n");
        assert_eq!(canonical_recipient(&with_comment).unwrap(), ED25519);
        assert_eq!(member_id(&with_comment), member_id(&other_comment));
        assert_eq!(member_id(&with_comment), member_id(ED25519));
        assert_eq!(fingerprint(&with_comment), fingerprint(&other_comment));
        // What `ssh-keygen -lf tests/fixtures/ssh/id_ed25519.pub` prints.
        assert_eq!(
            fingerprint(&with_comment),
            "SHA256:BYQA0/1X4xLmtEHnrDLqqFFA/f5TAURQFgxGgSCIeeg"
        );
        let age = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
        let upper = age.to_uppercase();
        assert_eq!(canonical_recipient(&upper).unwrap(), age);
        assert_eq!(member_id(&upper), member_id(age));
        assert_eq!(fingerprint(&upper), fingerprint(age));
        assert!(same_key(&upper, age));
        assert!(!same_key(age, ED25519));
        // Canonical recipients keep the ids they had when ids hashed the whole string.
        assert_eq!(
            member_id(age),
            crate::hex(&Sha256::digest(age.as_bytes())[..8])
        );
    }
}
