//! Each environment's key chain: opening it with an identity, wrapping the current key
//! to members, and rotating to a new key.
//!
//! The current key (a *head*: no other key supersedes it) is wrapped with age to every
//! member allowed to read the environment. A rotation makes a new key, wraps it only to
//! the members still allowed, seals each old head under it (XChaCha20-Poly1305 with a
//! random nonce, under a subkey of the new key) and clears the old head's wraps. Whoever
//! holds the new key can walk back and open every older key, so history stays readable
//! to current members and never becomes readable to a removed one.
//!
//! Each wrap comes with a grant (see `grant`), and a rotation carries over only the
//! members the current keys grant.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::Sha256;

use super::grant::grant;
use super::{access_error, now, Access, KeyRecord, Status};
use crate::config::SHARED;
use crate::error::Error;
use crate::identity::{self, Identity};
use crate::seal::{KeyId, SealingKey};
use crate::secret::DataKey;

/// An environment's keys this identity could open: the current one first when there is
/// exactly one, then the others.
pub struct OpenChain {
    pub keys: Vec<(KeyId, DataKey)>,
    /// The member id of the identity that opened it.
    pub member: String,
}

impl OpenChain {
    pub fn sealing_keys(&self) -> Vec<SealingKey> {
        self.keys.iter().map(|(_, k)| SealingKey::new(k)).collect()
    }
    pub fn get(&self, id: &KeyId) -> Option<&DataKey> {
        self.keys.iter().find(|(i, _)| i == id).map(|(_, k)| k)
    }
}

pub fn wrap(key: &DataKey, recipient: &str) -> Result<String, String> {
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

/// Opens `wrapped`, an age file holding key `id` of `env`, with `identity`: the key,
/// when its bytes have that id.
pub(crate) fn open_wrapped(
    wrapped: &str,
    identity: &Identity,
    id: &KeyId,
    env: &str,
) -> Option<DataKey> {
    verified(unwrap(wrapped, identity)?, id, env).ok()
}

fn chain_cipher(newer: &DataKey) -> XChaCha20Poly1305 {
    let mut sub = zeroize::Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<Sha256>::new(None, newer.expose())
        .expand(b"git-secrets/v1/chain", sub.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    XChaCha20Poly1305::new(sub.as_ref().into())
}

/// What a sealed older key is: a link of the chain, or a key left out (`left_out`) that
/// must never open as a link.
#[derive(Clone, Copy)]
enum Sealed {
    Link,
    LeftOut,
}

fn chain_aad(what: Sealed, env: &str, older: &KeyId) -> Vec<u8> {
    let mut aad = match what {
        Sealed::Link => b"git-secrets/v1/chain".to_vec(),
        Sealed::LeftOut => b"git-secrets/v1/left-out".to_vec(),
    };
    for f in [env, &older.0] {
        aad.extend_from_slice(&(f.len() as u32).to_be_bytes());
        aad.extend_from_slice(f.as_bytes());
    }
    aad
}

/// `older` sealed under `newer`: base64(nonce ‖ ciphertext ‖ tag).
fn seal_older(newer: &DataKey, env: &str, older_id: &KeyId, older: &DataKey) -> String {
    seal_under(Sealed::Link, newer, env, older_id, older)
}

fn seal_under(
    what: Sealed,
    newer: &DataKey,
    env: &str,
    older_id: &KeyId,
    older: &DataKey,
) -> String {
    use rand::RngCore;
    let mut nonce = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ct = chain_cipher(newer)
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: older.expose(),
                aad: &chain_aad(what, env, older_id),
            },
        )
        .expect("encrypting 32 bytes cannot fail");
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&ct);
    B64.encode(blob)
}

fn open_older(newer: &DataKey, env: &str, older_id: &KeyId, sealed: &str) -> Option<DataKey> {
    open_under(Sealed::Link, newer, env, older_id, sealed)
}

/// Opens a key `left_out` records under `newer`: the key, when it has the id `older_id`.
fn open_left_out(newer: &DataKey, env: &str, older_id: &KeyId, sealed: &str) -> Option<DataKey> {
    let key = open_under(Sealed::LeftOut, newer, env, older_id, sealed)?;
    verified(key, older_id, env).ok()
}

fn open_under(
    what: Sealed,
    newer: &DataKey,
    env: &str,
    older_id: &KeyId,
    sealed: &str,
) -> Option<DataKey> {
    let blob = B64.decode(sealed).ok()?;
    if blob.len() < 24 {
        return None;
    }
    let (nonce, ct) = blob.split_at(24);
    let plain = zeroize::Zeroizing::new(
        chain_cipher(newer)
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: &chain_aad(what, env, older_id),
                },
            )
            .ok()?,
    );
    let arr: [u8; 32] = plain.as_slice().try_into().ok()?;
    Some(DataKey::from_bytes(arr))
}

/// Checks that `key` is the key `id` names, so a tampered access.json can't substitute one.
fn verified(key: DataKey, id: &KeyId, env: &str) -> Result<DataKey, Error> {
    let actual = SealingKey::new(&key).id().clone();
    if &actual != id {
        return Err(access_error(format!(
            "key {id} of `{env}` opens to a key with another id ({actual}): the file was tampered with"
        )));
    }
    Ok(key)
}

/// Checks every link between two keys of `open` (a key sealed under a newer one).
/// Walking back verifies the link it follows, but a key opened through a wrap of its own
/// needs no link, so a `superseded_by` entry naming a key of someone else's would go
/// unchecked, and that key would become the current one while the real one still opens
/// (keeping the clone's memory of keys satisfied): every new value sealed for whoever
/// wrote the entry. Only a holder of both keys can make a link that opens.
fn check_links(
    keys: &BTreeMap<KeyId, KeyRecord>,
    env: &str,
    open: &BTreeMap<KeyId, DataKey>,
) -> Result<(), Error> {
    for (id, older) in open {
        let Some(record) = keys.get(id) else {
            continue;
        };
        for (newer, sealed) in &record.superseded_by {
            let Some(nk) = open.get(newer) else {
                continue;
            };
            let opens = open_older(nk, env, id, sealed);
            if opens.is_none_or(|k| k.expose() != older.expose()) {
                return Err(access_error(format!("key {id} of `{env}` does not open under key {newer}: the file was tampered with")));
            }
        }
    }
    Ok(())
}

impl Access {
    /// The current keys of `env`: those no other key supersedes. More than one means two
    /// rotations were merged and the environment needs a new key (`rotate`).
    pub fn heads(&self, env: &str) -> Vec<&KeyId> {
        self.keys
            .get(env)
            .map(|keys| {
                keys.iter()
                    .filter(|(_, r)| r.superseded_by.is_empty())
                    .map(|(id, _)| id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `older` is a key `newer` supersedes in `env`: reached from it by walking
    /// back `superseded_by` links. Only proof of descent for a chain opened with
    /// [`Access::open_chain`] holding `newer`: walking back from an open key opens every
    /// key it supersedes, each link checked (a link that does not open is an error), so
    /// every step of the walk was made by a holder of both keys.
    pub fn descends(&self, env: &str, newer: &KeyId, older: &str) -> bool {
        let Some(keys) = self.keys.get(env) else {
            return false;
        };
        let mut reached: std::collections::BTreeSet<&KeyId> = std::collections::BTreeSet::new();
        let mut todo = vec![newer];
        while let Some(next) = todo.pop() {
            for (id, record) in keys {
                if record.superseded_by.contains_key(next) && reached.insert(id) {
                    if id.0 == older {
                        return true;
                    }
                    todo.push(id);
                }
            }
        }
        false
    }

    /// Heads of `env` that a removed member was given (so may hold): no new value may be
    /// sealed under them.
    pub fn exposed_heads(&self, env: &str) -> Vec<(KeyId, Vec<String>)> {
        let Some(keys) = self.keys.get(env) else {
            return Vec::new();
        };
        self.heads(env)
            .into_iter()
            .filter_map(|id| {
                let removed: Vec<String> = keys[id]
                    .wrapped
                    .keys()
                    .filter(|m| {
                        self.members
                            .get(*m)
                            .is_some_and(|m| m.status == Status::Removed)
                    })
                    .cloned()
                    .collect();
                (!removed.is_empty()).then(|| (id.clone(), removed))
            })
            .collect()
    }

    /// The key that seals new values of `env`: its only head, held by no removed member.
    pub fn sealing_key_id(&self, env: &str) -> Result<&KeyId, Error> {
        let heads = self.heads(env);
        let refuse = |message: String| Error::Refused {
            message,
            hint: format!("run `git secrets rotate --env {env}` to give it a new key, then commit"),
        };
        match heads.as_slice() {
            [] => Err(access_error(format!("environment `{env}` has no key"))),
            [one] => {
                if let Some((_, removed)) = self.exposed_heads(env).first() {
                    return Err(refuse(format!(
                        "the current key of `{env}` was given to removed member(s) {}, so no new value is sealed under it",
                        removed.join(", ")
                    )));
                }
                Ok(one)
            }
            _ => Err(refuse(format!(
                "environment `{env}` has {} current keys (two rotations were merged)",
                heads.len()
            ))),
        }
    }

    /// Opens every key of `env` this identity can reach: the heads wrapped to it, then,
    /// walking back, every key sealed under a key already open.
    pub fn open_chain(&self, env: &str, identity: &Identity) -> Result<OpenChain, Error> {
        self.open_chain_granted(env, env, identity)
    }

    /// [`Access::open_chain`] of `env` for a member granted `granted`: an environment
    /// `env` was renamed to, whose grants moved with it while a merge brought back keys
    /// of the old name (a rotation on the other side). Nothing opens that is not wrapped
    /// to the member.
    pub fn open_chain_granted(
        &self,
        env: &str,
        granted: &str,
        identity: &Identity,
    ) -> Result<OpenChain, Error> {
        let no_access = |removed: Option<&str>, ci_key: Option<&str>| Error::NoAccess {
            env: granted.to_owned(),
            recipient: identity.recipient(),
            removed: removed.map(str::to_owned),
            ci_key: ci_key.map(str::to_owned),
        };
        let (me, member) = self
            .member_of(identity)
            .ok_or_else(|| no_access(None, None))?;
        if !Self::may_read(member, granted) {
            let removed = (member.status == Status::Removed).then_some(me);
            let ci_key = (member.kind == super::MemberKind::Ci).then_some(member.name.as_str());
            return Err(no_access(removed.map(String::as_str), ci_key));
        }
        let keys = self
            .keys
            .get(env)
            .ok_or_else(|| access_error(format!("environment `{env}` has no key")))?;
        let mut open: BTreeMap<KeyId, DataKey> = BTreeMap::new();
        for (id, rec) in keys {
            if let Some(w) = rec.wrapped.get(me) {
                let key = unwrap(w, identity).ok_or_else(|| {
                    access_error(format!(
                        "key {id} of `{env}` wrapped to member {me} does not open with {}",
                        identity.origin
                    ))
                })?;
                open.insert(id.clone(), verified(key, id, env)?);
            }
        }
        loop {
            let mut found = Vec::new();
            for (id, rec) in keys.iter().filter(|(id, _)| !open.contains_key(*id)) {
                for (newer, sealed) in &rec.superseded_by {
                    if let Some(nk) = open.get(newer) {
                        let key = open_older(nk, env, id, sealed).ok_or_else(|| {
                            access_error(format!("key {id} of `{env}` does not open under key {newer}: the file was tampered with"))
                        })?;
                        found.push((id.clone(), verified(key, id, env)?));
                        break;
                    }
                }
            }
            if found.is_empty() {
                break;
            }
            open.extend(found);
        }
        if open.is_empty() {
            return Err(no_access(None, None));
        }
        check_links(keys, env, &open)?;
        let heads = self.heads(env);
        let mut ordered: Vec<(KeyId, DataKey)> = open.into_iter().collect();
        // The sealing key first; then newest first by creation time.
        ordered.sort_by(|(a, _), (b, _)| {
            let head = |id: &KeyId| heads.len() == 1 && heads[0] == id;
            head(b)
                .cmp(&head(a))
                .then_with(|| keys[b].created_at.cmp(&keys[a].created_at))
        });
        Ok(OpenChain {
            keys: ordered,
            member: me.clone(),
        })
    }

    /// [`Access::open_chain_granted`] of `env`, an environment that is not declared (the
    /// old name of one renamed, kept by a merge), keeping only the keys proven kin to
    /// `trusted` (the keys of the environment it was renamed to, opened): those (the same
    /// id and the same bytes: an id is 32 bits, and can be matched by a key of one's own
    /// in about 2^32 tries), and keys that
    /// supersede or are superseded by a proven key, as shown by a chain link that opens
    /// (the older key sealed under the newer, which only a holder of both could make).
    /// Key ids are public, so a record of a trusted key copied beside a key of one's own
    /// proves nothing: without the link, that key stays out, and nothing sealed under it
    /// is taken for a value of the environment.
    pub fn open_chain_kin(
        &self,
        env: &str,
        granted: &str,
        identity: &Identity,
        trusted: &OpenChain,
    ) -> Result<OpenChain, Error> {
        let chain = self.open_chain_granted(env, granted, identity)?;
        let records = &self.keys[env];
        let links = |older: &KeyId, newer: &KeyId| {
            let (Some(sealed), Some(newer_key), Some(older_key)) = (
                records.get(older).and_then(|r| r.superseded_by.get(newer)),
                chain.get(newer),
                chain.get(older),
            ) else {
                return false;
            };
            open_older(newer_key, env, older, sealed)
                .is_some_and(|k| k.expose() == older_key.expose())
        };
        let mut proven: std::collections::HashSet<&KeyId> = chain
            .keys
            .iter()
            .filter(|(id, key)| trusted.get(id).is_some_and(|t| t.expose() == key.expose()))
            .map(|(id, _)| id)
            .collect();
        loop {
            let found: Vec<&KeyId> = chain
                .keys
                .iter()
                .map(|(id, _)| id)
                .filter(|id| !proven.contains(id))
                .filter(|id| proven.iter().any(|p| links(p, id) || links(id, p)))
                .collect();
            if found.is_empty() {
                break;
            }
            proven.extend(found);
        }
        let keep: std::collections::HashSet<KeyId> = proven.into_iter().cloned().collect();
        Ok(OpenChain {
            keys: chain
                .keys
                .into_iter()
                .filter(|(id, _)| keep.contains(id))
                .collect(),
            member: chain.member,
        })
    }

    /// A fresh key for an environment that has none (init, env add), wrapped and granted
    /// to `readers` (member id, recipient).
    pub fn new_key(&mut self, env: &str, readers: &[(String, String)]) -> Result<DataKey, Error> {
        let key = DataKey::generate();
        let id = SealingKey::new(&key).id().clone();
        let record = Self::record_for(&key, env, readers)?;
        self.keys
            .entry(env.to_owned())
            .or_default()
            .insert(id, record);
        Ok(key)
    }

    /// A new key record: `key` wrapped and granted to each of `readers`.
    fn record_for(
        key: &DataKey,
        env: &str,
        readers: &[(String, String)],
    ) -> Result<KeyRecord, Error> {
        let mut record = KeyRecord {
            created_at: now(),
            wrapped: BTreeMap::new(),
            grants: BTreeMap::new(),
            superseded_by: BTreeMap::new(),
            left_out: BTreeMap::new(),
        };
        for (id, recipient) in readers {
            let w = wrap(key, recipient).map_err(|message| {
                access_error(format!(
                    "cannot wrap the key of `{env}` to member {id}: {message}"
                ))
            })?;
            record.wrapped.insert(id.clone(), w);
            record.grants.insert(id.clone(), grant(key, id, recipient));
        }
        Ok(record)
    }

    /// Rotates `env`: a new key wrapped only to the members allowed now and granted by
    /// every current head (see [`Access::granted_readers`]) and `also_granted`, every
    /// current head sealed under it and unwrapped from everyone. `chain` must hold every
    /// head. Returns the new key, with its id.
    pub fn rotate(
        &mut self,
        env: &str,
        chain: &OpenChain,
        also_granted: &dyn Fn(&str) -> bool,
    ) -> Result<(KeyId, DataKey), Error> {
        let heads: Vec<KeyId> = self.heads(env).into_iter().cloned().collect();
        let mut held = Vec::new();
        for h in &heads {
            let key = chain.get(h).ok_or_else(|| Error::Refused {
                message: format!(
                    "cannot rotate `{env}`: this identity cannot open its current key {h}"
                ),
                hint: "a member who can read this environment must run the rotation".into(),
            })?;
            held.push((h.clone(), key.clone()));
        }
        let key = DataKey::generate();
        let id = SealingKey::new(&key).id().clone();
        let mut readers = self.granted_readers(env, chain);
        readers.retain(|(id, _)| *id == chain.member || also_granted(id));
        if readers.is_empty() {
            // Nobody would hold the new key: every value sealed from now on would be lost.
            return Err(Error::Refused {
                message: format!("no member would get the new key of `{env}`: none left may read it with a grant from its current key"),
                hint: format!("approve someone for `{env}` first (`git secrets member approve ID --env {env}`)"),
            });
        }
        let record = Self::record_for(&key, env, &readers)?;
        let keys = self.keys.entry(env.to_owned()).or_default();
        for (h, old) in held {
            let rec = keys.get_mut(&h).expect("heads come from this map");
            rec.superseded_by
                .insert(id.clone(), seal_older(&key, env, &h, &old));
            rec.wrapped.clear();
            rec.grants.clear();
        }
        keys.insert(id.clone(), record);
        Ok((id, key))
    }

    /// Records, on the current key `head` of `env` (its bytes `head_key`), that its maker
    /// left each of `keys` (id, bytes) out of the chain on purpose: sealed under it, in
    /// `left_out`. A key HEAD's history made current and gave to this member that the
    /// chain no longer holds: a forged key dropped by a repair, the key of an environment
    /// deleted and made again. Only a holder of both keys can make the record, so a fresh
    /// clone finds the key left out by someone who held it, where a chain grown again by
    /// a member who never held the newer key cannot (crate::continuity::lineage).
    /// The key does not join the chain: nothing it sealed opens under `head`.
    pub fn record_left_out<'a>(
        &mut self,
        env: &str,
        (head, head_key): (&KeyId, &DataKey),
        keys: impl IntoIterator<Item = (&'a KeyId, &'a DataKey)>,
    ) {
        if let Some(record) = self.keys.get_mut(env).and_then(|k| k.get_mut(head)) {
            for (id, key) in keys {
                let sealed = seal_under(Sealed::LeftOut, head_key, env, id, key);
                record.left_out.insert(id.clone(), sealed);
            }
        }
    }

    /// The keys the record of key `id` of `env` (whose bytes are `key`) records as left
    /// out, each opened under `key` and checked against its id: keys its maker held when
    /// leaving them out of the chain (see [`Access::record_left_out`]). What the clone's
    /// memory and HEAD's history accept in place of a key the chain no longer reaches
    /// (crate::continuity); never used to open values.
    pub fn left_out_by(&self, env: &str, id: &KeyId, key: &DataKey) -> Vec<(KeyId, DataKey)> {
        let Some(record) = self.keys.get(env).and_then(|k| k.get(id)) else {
            return Vec::new();
        };
        record
            .left_out
            .iter()
            .filter_map(|(older, sealed)| {
                open_left_out(key, env, older, sealed).map(|k| (older.clone(), k))
            })
            .collect()
    }

    /// Wraps the current key(s) of `env` to `member`, from `chain`.
    pub fn wrap_heads(&mut self, env: &str, member: &str, chain: &OpenChain) -> Result<(), Error> {
        let recipient = self.members[member].recipient.clone();
        let heads: Vec<KeyId> = self.heads(env).into_iter().cloned().collect();
        for h in heads {
            let key = chain.get(&h).ok_or_else(|| Error::Refused {
                message: format!(
                    "cannot give `{env}`: this identity cannot open its current key {h}"
                ),
                hint: "a member who can read this environment must approve".into(),
            })?;
            let w = wrap(key, &recipient).map_err(|message| {
                access_error(format!(
                    "cannot wrap the key of `{env}` to member {member}: {message}"
                ))
            })?;
            let record = self
                .keys
                .get_mut(env)
                .and_then(|k| k.get_mut(&h))
                .expect("head exists");
            record.wrapped.insert(member.to_owned(), w);
            record
                .grants
                .insert(member.to_owned(), grant(key, member, &recipient));
        }
        Ok(())
    }

    /// Active members allowed to read an environment whose current key is not wrapped to
    /// them (an approval merged with a rotation): (member id, environment).
    pub fn missing_wraps(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (id, m) in &self.members {
            for env in m.environments.iter().map(String::as_str).chain([SHARED]) {
                if !Self::may_read(m, env) {
                    continue;
                }
                let Some(keys) = self.keys.get(env) else {
                    continue;
                };
                if self
                    .heads(env)
                    .iter()
                    .any(|h| !keys[*h].wrapped.contains_key(id))
                {
                    out.push((id.clone(), env.to_owned()));
                }
            }
        }
        out
    }
}

impl Access {
    /// Seals every older key of `env` again under the keys that superseded it. Each seal
    /// binds the environment's name, so a rename must redo them; `chain` (opened under the
    /// old name) must hold every key.
    pub fn reseal_chain(&mut self, env: &str, chain: &OpenChain) -> Result<(), Error> {
        let Some(keys) = self.keys.get_mut(env) else {
            return Ok(());
        };
        for (id, rec) in keys.iter_mut() {
            if rec.superseded_by.is_empty() {
                continue;
            }
            let older = chain.get(id).ok_or_else(|| Error::Refused {
                message: format!(
                    "cannot carry key {id} of `{env}` over: this identity cannot open it"
                ),
                hint: "a member who can read the whole environment must run this".into(),
            })?;
            for (newer_id, sealed) in rec.superseded_by.iter_mut() {
                let newer = chain.get(newer_id).ok_or_else(|| Error::Refused {
                    message: format!(
                        "cannot carry key {newer_id} of `{env}` over: this identity cannot open it"
                    ),
                    hint: "a member who can read the whole environment must run this".into(),
                })?;
                *sealed = seal_older(newer, env, id, older);
            }
        }
        Ok(())
    }
}
