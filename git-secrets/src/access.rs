//! `.secrets/access.json`: members, pending requests and each environment's data keys,
//! wrapped with age to every member allowed to read that environment.
//!
//! Written deterministically (maps sorted by key, one member per block), so git's own
//! line merge rarely conflicts even where the merge driver is not configured.
//! The pseudo-environment `shared` is readable by every member with any environment.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::config::SHARED;
use crate::error::Error;
use crate::identity::{self, Identity};
use crate::seal::{KeyId, SealingKey};
use crate::secret::DataKey;

pub const ACCESS_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberKind {
    Person,
    Ci,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Active,
    Removed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub name: String,
    pub kind: MemberKind,
    pub status: Status,
    pub recipient: String,
    pub requested_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<String>,
    /// The environments this member may read (ignored while pending).
    #[serde(default)]
    pub environments: BTreeSet<String>,
}

/// One data key of an environment, wrapped to each member who may read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    pub id: KeyId,
    pub created_at: String,
    /// Member id → base64 of an age file holding the 32-byte key.
    pub wrapped: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    pub version: u32,
    #[serde(default)]
    pub members: BTreeMap<String, Member>,
    /// Environment → its key chain, oldest first; the last key seals new values.
    #[serde(default)]
    pub keys: BTreeMap<String, Vec<KeyRecord>>,
}

pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn wrap(key: &DataKey, recipient: &str) -> Result<String, String> {
    let r = identity::parse_recipient(recipient).ok_or("not an age or SSH recipient")?;
    let enc = age::Encryptor::with_recipients(std::iter::once(&*r as &dyn age::Recipient))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).map_err(|e| e.to_string())?;
    w.write_all(key.expose()).map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    Ok(B64.encode(out))
}

fn unwrap(wrapped: &str, identity: &Identity) -> Option<DataKey> {
    let bytes = B64.decode(wrapped).ok()?;
    let dec = age::Decryptor::new_buffered(&bytes[..]).ok()?;
    let mut reader = dec.decrypt(std::iter::once(identity.as_age())).ok()?;
    let mut key = zeroize::Zeroizing::new(Vec::new());
    reader.read_to_end(&mut key).ok()?;
    let arr: [u8; 32] = key.as_slice().try_into().ok()?;
    Some(DataKey::from_bytes(arr))
}

impl Access {
    /// A new access file whose first member is `identity`, with a fresh key for every
    /// environment (and `shared`) wrapped to it.
    pub fn create(
        name: &str,
        identity: &Identity,
        environments: &[String],
    ) -> Result<Access, Error> {
        let recipient = identity.recipient();
        let id = identity::member_id(&recipient);
        let now = now();
        let mut access = Access {
            version: ACCESS_VERSION,
            members: BTreeMap::new(),
            keys: BTreeMap::new(),
        };
        access.members.insert(
            id,
            Member {
                name: name.to_owned(),
                kind: MemberKind::Person,
                status: Status::Active,
                recipient,
                requested_at: now.clone(),
                approved_at: Some(now),
                environments: environments.iter().cloned().collect(),
            },
        );
        for env in environments.iter().map(String::as_str).chain([SHARED]) {
            access.add_env_key(env)?;
        }
        Ok(access)
    }

    pub fn load(path: &Path) -> Result<Access, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses the text of `path` (which may come from git's index rather than the disk).
    pub fn parse(text: &str, path: &Path) -> Result<Access, Error> {
        let access: Access = serde_json::from_str(text).map_err(|e| Error::Access {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        access.validate().map_err(|message| Error::Access {
            path: path.to_owned(),
            message,
        })?;
        Ok(access)
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("access serialises to JSON");
        s.push('\n');
        s
    }

    fn validate(&self) -> Result<(), String> {
        if self.version != ACCESS_VERSION {
            return Err(format!(
                "version {} is not supported (this git-secrets reads version {ACCESS_VERSION}); upgrade git-secrets",
                self.version
            ));
        }
        for (id, m) in &self.members {
            if identity::parse_recipient(&m.recipient).is_none() {
                return Err(format!(
                    "member {id} ({}): `{}` is not an age or SSH recipient",
                    m.name, m.recipient
                ));
            }
            if identity::member_id(&m.recipient) != *id {
                return Err(format!(
                    "member {id} ({}): the id does not match its recipient (expected {})",
                    m.name,
                    identity::member_id(&m.recipient)
                ));
            }
        }
        for (env, chain) in &self.keys {
            if chain.is_empty() {
                return Err(format!("environment `{env}` has an empty key list"));
            }
            for rec in chain {
                for member in rec.wrapped.keys() {
                    if !self.members.contains_key(member) {
                        return Err(format!(
                            "key {} of `{env}` is wrapped to unknown member {member}",
                            rec.id
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The member this identity is, if any.
    pub fn member_of(&self, identity: &Identity) -> Option<(&String, &Member)> {
        let recipient = identity.recipient();
        self.members.iter().find(|(_, m)| m.recipient == recipient)
    }

    /// Whether `member` may read `env` (`shared` needs any environment).
    pub fn may_read(member: &Member, env: &str) -> bool {
        member.status == Status::Active
            && if env == SHARED {
                !member.environments.is_empty()
            } else {
                member.environments.contains(env)
            }
    }

    /// Members (id, recipient) that may read `env`.
    fn readers(&self, env: &str) -> Vec<(String, String)> {
        self.members
            .iter()
            .filter(|(_, m)| Self::may_read(m, env))
            .map(|(id, m)| (id.clone(), m.recipient.clone()))
            .collect()
    }

    /// Generates a new data key for `env`, wrapped to every member who may read it, and
    /// appends it to the environment's chain. Returns the new key.
    pub fn add_env_key(&mut self, env: &str) -> Result<DataKey, Error> {
        let key = DataKey::generate();
        let mut wrapped = BTreeMap::new();
        for (id, recipient) in self.readers(env) {
            let w = wrap(&key, &recipient).map_err(|message| Error::Access {
                path: ".secrets/access.json".into(),
                message: format!("cannot wrap the key of `{env}` to member {id}: {message}"),
            })?;
            wrapped.insert(id, w);
        }
        self.keys
            .entry(env.to_owned())
            .or_default()
            .push(KeyRecord {
                id: SealingKey::new(&key).id().clone(),
                created_at: now(),
                wrapped,
            });
        Ok(key)
    }

    /// The id of the key that seals new values of `env` (the newest of its chain).
    pub fn current_key_id(&self, env: &str) -> Option<&KeyId> {
        self.keys
            .get(env)
            .and_then(|chain| chain.last())
            .map(|r| &r.id)
    }

    /// The key chain of `env` that `identity` can open, newest first.
    pub fn unlock_env(&self, env: &str, identity: &Identity) -> Result<Vec<SealingKey>, Error> {
        let no_access = || Error::NoAccess {
            env: env.to_owned(),
            recipient: identity.recipient(),
        };
        let (id, member) = self.member_of(identity).ok_or_else(no_access)?;
        if !Self::may_read(member, env) {
            return Err(no_access());
        }
        let chain = self.keys.get(env).ok_or_else(|| Error::Access {
            path: ".secrets/access.json".into(),
            message: format!("environment `{env}` has no key"),
        })?;
        let mut out = Vec::new();
        for rec in chain.iter().rev() {
            let Some(w) = rec.wrapped.get(id) else {
                continue;
            };
            let key = unwrap(w, identity).ok_or_else(|| Error::Access {
                path: ".secrets/access.json".into(),
                message: format!(
                    "key {} of `{env}` wrapped to member {id} does not open with {}",
                    rec.id, identity.origin
                ),
            })?;
            let sealing = SealingKey::new(&key);
            if sealing.id() != &rec.id {
                return Err(Error::Access {
                    path: ".secrets/access.json".into(),
                    message: format!("key {} of `{env}` opens to a key with another id ({}): the file was tampered with", rec.id, sealing.id()),
                });
            }
            out.push(sealing);
        }
        if out.is_empty() {
            return Err(no_access());
        }
        Ok(out)
    }

    /// Renames an environment's keys and every member's grant.
    pub fn rename_env(&mut self, from: &str, to: &str) {
        if let Some(chain) = self.keys.remove(from) {
            self.keys.insert(to.to_owned(), chain);
        }
        for m in self.members.values_mut() {
            if m.environments.remove(from) {
                m.environments.insert(to.to_owned());
            }
        }
    }

    pub fn delete_env(&mut self, env: &str) {
        self.keys.remove(env);
        for m in self.members.values_mut() {
            m.environments.remove(env);
        }
    }

    /// Grants a new environment to every active member who can read all of `existing`
    /// (members limited to some environments stay limited), then creates its key.
    pub fn add_env(&mut self, env: &str, existing: &[String]) -> Result<(), Error> {
        for m in self.members.values_mut() {
            if m.status == Status::Active && existing.iter().all(|e| m.environments.contains(e)) {
                m.environments.insert(env.to_owned());
            }
        }
        self.add_env_key(env)?;
        Ok(())
    }
}
