//! `.secrets/access.json`: members, pending requests and each environment's key chain,
//! the current key wrapped with age to every member allowed to read that environment.
//!
//! Written deterministically (maps sorted by key, one member per block), so git's own
//! line merge rarely conflicts even where the merge driver is not configured. The
//! pseudo-environment `shared` is readable by every member with any environment.
//! [`chain`] holds the key operations (open, wrap, rotate), [`merge`] the three-way merge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::SHARED;
use crate::error::Error;
use crate::identity::{self, Identity};
use crate::seal::KeyId;

pub use chain::OpenChain;

pub mod chain;
pub mod grant;
pub mod health;
pub mod merge;
pub mod name;

pub const ACCESS_VERSION: u32 = 1;
const ACCESS_PATH: &str = ".secrets/access.json";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberKind {
    Person,
    Ci,
}

/// Ordered so that a merge can keep the strongest: a removal beats an approval beats a
/// request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_at: Option<String>,
    /// The environments this member may read (ignored while pending); kept after a
    /// removal as the record of what the member could read.
    #[serde(default)]
    pub environments: BTreeSet<String>,
}

impl Member {
    /// A request to join, not yet approved. The name is checked ([`name::check`]).
    pub fn request(name: &str, kind: MemberKind, recipient: &str) -> Result<Member, Error> {
        name::check(name)?;
        Ok(Member {
            name: name.to_owned(),
            kind,
            status: Status::Pending,
            recipient: recipient.to_owned(),
            requested_at: now(),
            approved_at: None,
            removed_at: None,
            environments: BTreeSet::new(),
        })
    }

    /// The name, escaped for printing ([`name::shown`]).
    pub fn shown_name(&self) -> name::Shown<'_> {
        name::shown(&self.name)
    }
}

/// One data key of an environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    pub created_at: String,
    /// Member id → base64 of an age file holding the 32-byte key. Only the current key
    /// is wrapped to members; a rotation clears this.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub wrapped: BTreeMap<String, String>,
    /// Member id → base64 of the HMAC that proves a holder of this key gave it to that
    /// member (see `chain`); cleared with the wraps by a rotation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grants: BTreeMap<String, String>,
    /// Id of a key that replaced this one → this key sealed under it (the key chain:
    /// whoever holds the newer key can open the older ones, and so read history).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub superseded_by: BTreeMap<KeyId, String>,
    /// Id of a key this one's maker left out of the chain on purpose → that key sealed
    /// under this one: proof that the maker held it, which a chain grown again from an
    /// older key by someone who never held the newer one cannot give
    /// (crate::continuity::lineage). Never used to open values: an environment
    /// made again under an old name must not read what the old one sealed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub left_out: BTreeMap<KeyId, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Access {
    pub version: u32,
    #[serde(default)]
    pub members: BTreeMap<String, Member>,
    /// Environment → its keys by id. The current key is the one no other key supersedes.
    #[serde(default)]
    pub keys: BTreeMap<String, BTreeMap<KeyId, KeyRecord>>,
}

pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn access_error(message: String) -> Error {
    Error::Access {
        path: ACCESS_PATH.into(),
        message,
    }
}

impl Access {
    /// A new access file whose first member is `identity`, with a fresh key for every
    /// environment (and `shared`) wrapped to it.
    pub fn create(
        name: &str,
        identity: &Identity,
        environments: &[String],
    ) -> Result<Access, Error> {
        name::check(name)?;
        let recipient = identity.recipient();
        let me = identity::member_id(&recipient);
        let now = now();
        let mut access = Access {
            version: ACCESS_VERSION,
            members: BTreeMap::new(),
            keys: BTreeMap::new(),
        };
        access.members.insert(
            me.clone(),
            Member {
                name: name.to_owned(),
                kind: MemberKind::Person,
                status: Status::Active,
                recipient: recipient.clone(),
                requested_at: now.clone(),
                approved_at: Some(now),
                removed_at: None,
                environments: environments.iter().cloned().collect(),
            },
        );
        for env in environments.iter().map(String::as_str).chain([SHARED]) {
            access.new_key(env, &[(me.clone(), recipient.clone())])?;
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
        let err = |message| Error::Access {
            path: path.to_owned(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        check_duplicates(text).map_err(err)?;
        let access: Access = serde_json::from_value(value).map_err(|e| err(e.to_string()))?;
        access.validate().map_err(err)?;
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
                    m.shown_name(),
                    name::shown(&m.recipient)
                ));
            }
            if identity::member_id(&m.recipient) != *id {
                return Err(format!(
                    "member {id} ({}): the id does not match its recipient (expected {})",
                    m.shown_name(),
                    identity::member_id(&m.recipient)
                ));
            }
            if m.status == Status::Removed && m.removed_at.is_none() {
                return Err(format!(
                    "member {id} ({}) is removed but has no removed_at",
                    m.shown_name()
                ));
            }
            if m.status != Status::Removed && m.removed_at.is_some() {
                return Err(format!(
                    "member {id} ({}) has a removed_at but is marked {}",
                    m.shown_name(),
                    format!("{:?}", m.status).to_lowercase()
                ));
            }
        }
        for (env, keys) in &self.keys {
            if keys.is_empty() {
                return Err(format!("environment `{env}` has no keys"));
            }
            for (id, rec) in keys {
                for member in rec.wrapped.keys() {
                    if !self.members.contains_key(member) {
                        return Err(format!(
                            "key {id} of `{env}` is wrapped to unknown member {member}"
                        ));
                    }
                }
                for member in rec.grants.keys() {
                    if !self.members.contains_key(member) {
                        return Err(format!(
                            "key {id} of `{env}` is granted to unknown member {member}"
                        ));
                    }
                }
                for newer in rec.superseded_by.keys() {
                    if !keys.contains_key(newer) {
                        return Err(format!(
                            "key {id} of `{env}` is superseded by unknown key {newer}"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The environments whose keys are kin to the key ids `ids`: those holding one of
    /// them, and those sharing a key with these. `env rename` moves an environment's keys
    /// to its new name, and a rotation on either side of a merge extends one copy of the
    /// chain, so a file sealed under the old name finds its environment this way whatever
    /// either side did since. Key ids are public: no key is opened.
    pub fn kin_envs(&self, ids: &std::collections::HashSet<String>) -> Vec<&str> {
        let holding: Vec<&BTreeMap<KeyId, KeyRecord>> = self
            .keys
            .values()
            .filter(|chain| chain.keys().any(|id| ids.contains(&id.0)))
            .collect();
        let related: std::collections::HashSet<&str> = holding
            .iter()
            .flat_map(|chain| chain.keys().map(|id| id.0.as_str()))
            .collect();
        self.keys
            .iter()
            .filter(|(_, chain)| chain.keys().any(|id| related.contains(id.0.as_str())))
            .map(|(env, _)| env.as_str())
            .collect()
    }

    /// The member this identity is, if any.
    pub fn member_of(&self, identity: &Identity) -> Option<(&String, &Member)> {
        self.member_by_recipient(&identity.recipient())
    }

    /// The member whose key is `recipient`'s, however either is written (an SSH
    /// comment, upper case): found by id, then checked by comparing the keys.
    pub fn member_by_recipient(&self, recipient: &str) -> Option<(&String, &Member)> {
        self.members
            .get_key_value(&identity::member_id(recipient))
            .filter(|(_, m)| identity::same_key(&m.recipient, recipient))
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

    /// Active members (id, recipient) that may read `env`.
    pub fn readers(&self, env: &str) -> Vec<(String, String)> {
        self.members
            .iter()
            .filter(|(_, m)| Self::may_read(m, env))
            .map(|(id, m)| (id.clone(), m.recipient.clone()))
            .collect()
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

    /// Gives a new environment to every active member who can read all the existing ones
    /// (members limited to some environments stay limited), then creates its key.
    /// `chains` holds each existing environment, opened by the caller: a member counts
    /// only if those keys granted it (see [`Access::granted`]), so an entry edited by hand
    /// to claim them all gains nothing.
    pub fn add_env(
        &mut self,
        env: &str,
        chains: &BTreeMap<String, OpenChain>,
    ) -> Result<crate::secret::DataKey, Error> {
        let readers: Vec<(String, String)> = self
            .members
            .iter()
            .filter(|(id, m)| {
                m.status == Status::Active
                    && chains.iter().all(|(e, chain)| {
                        m.environments.contains(e)
                            && (**id == chain.member || self.granted(e, id, chain))
                    })
            })
            .map(|(id, m)| (id.clone(), m.recipient.clone()))
            .collect();
        for (id, _) in &readers {
            self.members
                .get_mut(id)
                .expect("a member of this file")
                .environments
                .insert(env.to_owned());
        }
        self.new_key(env, &readers)
    }

    /// Finds a member by id, or by a unique prefix of it, or by a unique name.
    pub fn find_member(&self, query: &str) -> Result<String, Error> {
        if self.members.contains_key(query) {
            return Ok(query.to_owned());
        }
        let hits: Vec<&String> = self
            .members
            .iter()
            .filter(|(id, m)| (query.len() >= 4 && id.starts_with(query)) || m.name == query)
            .map(|(id, _)| id)
            .collect();
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::Usage {
                message: format!("no member `{query}`"),
                hint: Some("`git secrets member list` shows every member's id".into()),
            }),
            _ => Err(Error::Usage {
                message: format!("`{query}` matches several members"),
                hint: Some("give the full id from `git secrets member list`".into()),
            }),
        }
    }
}

/// serde_json keeps the last of two equal keys in an object; in access.json that would
/// silently drop a member or a key, so duplicates are refused.
fn check_duplicates(text: &str) -> Result<(), String> {
    use serde::de::{Deserializer, MapAccess, Visitor};
    struct Strict;
    impl<'de> Visitor<'de> for Strict {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = BTreeSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    return Err(serde::de::Error::custom(format!(
                        "`{key}` appears twice in one object"
                    )));
                }
                map.next_value_seed(StrictSeed)?;
            }
            Ok(())
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(StrictSeed)?.is_some() {}
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    struct StrictSeed;
    impl<'de> serde::de::DeserializeSeed<'de> for StrictSeed {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(Strict)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_any(Strict).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_to_an_unknown_member_is_refused() {
        let me = Identity::generate();
        let access = Access::create("me", &me, &["development".to_owned()]).unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(&access.to_json()).unwrap();
        let record = doc["keys"]["development"]
            .as_object_mut()
            .unwrap()
            .values_mut()
            .next()
            .unwrap();
        record["grants"]["00000000000000ff"] = "AAAA".into();
        let err = Access::parse(&doc.to_string(), Path::new("access.json")).unwrap_err();
        assert!(
            err.to_string()
                .contains("granted to unknown member 00000000000000ff"),
            "{err}"
        );
    }

    #[test]
    fn duplicate_member_ids_are_refused() {
        let text = r#"{"version":1,"members":{"a":{},"a":{}},"keys":{}}"#;
        let err = Access::parse(text, Path::new("access.json")).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }
}
