//! This device's identity: an age X25519 key kept outside the repository.
//!
//! Looked up in order: `GIT_SECRETS_IDENTITY` (the identity itself, for CI),
//! `GIT_SECRETS_IDENTITY_FILE` (a path), then `$XDG_CONFIG_HOME/git-secrets/identity.txt`
//! (or `~/.config/git-secrets/identity.txt`). A file readable by anyone but its owner is
//! refused, the way ssh refuses such a key.

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
    /// The public recipient string (`age1…`), safe to share.
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
            .map(|t| t.trim().to_owned())
            .filter(|r| r.parse::<age::ssh::Recipient>().is_ok())
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
    if !path.exists() {
        return Ok(None);
    }
    load_file(&path).map(Some)
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
    let mode = std::fs::metadata(path)
        .map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?
        .permissions()
        .mode();
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

/// `SHA256:<base64>` of a recipient string, for checking it out of band (like ssh).
pub fn fingerprint(recipient: &str) -> String {
    use base64::Engine;
    let digest = Sha256::digest(recipient.trim().as_bytes());
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    )
}

/// The member id of a recipient: 16 hex digits (64 bits) of its SHA-256, so the same
/// device joining on two branches gets the same id and the two requests merge into one,
/// and finding another recipient with an existing member's id is out of reach.
pub fn member_id(recipient: &str) -> String {
    crate::hex(&Sha256::digest(recipient.trim().as_bytes())[..8])
}
