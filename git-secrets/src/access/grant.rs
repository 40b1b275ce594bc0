//! Grants: proof, inside access.json, that a holder of a key gave it to a member.
//!
//! Anyone who can push can edit a member entry to say "active, may read production", and
//! no one but the member can check a wrap. The entry proves nothing; so each wrap comes
//! with a grant, an HMAC of the member's id and recipient under
//! a subkey of the key wrapped, which only a holder of that key can make. A rotation (and
//! `env add`) hands the new key only to members granted by every current key, so a removed
//! member who marks itself active again, or a request that approves itself, is left out.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::chain::OpenChain;
use super::Access;
use crate::secret::DataKey;

fn grant_mac(key: &DataKey, member: &str, recipient: &str) -> Hmac<Sha256> {
    let mut sub = zeroize::Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<Sha256>::new(None, key.expose())
        .expand(b"git-secrets/v1/grant", sub.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(sub.as_ref())
        .expect("HMAC takes a key of any length");
    mac.update(b"git-secrets/v1/grant");
    for f in [member, recipient] {
        mac.update(&(f.len() as u32).to_be_bytes());
        mac.update(f.as_bytes());
    }
    mac
}

/// The grant of `key` to `member` (with `recipient`): base64 of its HMAC-SHA256. Only a
/// holder of the key can make one.
pub fn grant(key: &DataKey, member: &str, recipient: &str) -> String {
    B64.encode(grant_mac(key, member, recipient).finalize().into_bytes())
}

/// Whether `tag` is the grant of `key` to `member` with `recipient` (in constant time).
pub(crate) fn grant_holds(key: &DataKey, member: &str, recipient: &str, tag: &str) -> bool {
    B64.decode(tag)
        .is_ok_and(|t| grant_mac(key, member, recipient).verify_slice(&t).is_ok())
}

impl Access {
    /// Whether every current key of `env` carries a grant to `member` that verifies under
    /// it: proof that holders of the keys gave it access, which the member entry alone is
    /// not. `chain` must hold every head (a head it lacks cannot vouch for anyone).
    pub fn granted(&self, env: &str, member: &str, chain: &OpenChain) -> bool {
        let (Some(keys), Some(m)) = (self.keys.get(env), self.members.get(member)) else {
            return false;
        };
        let heads = self.heads(env);
        !heads.is_empty()
            && heads
                .iter()
                .all(|h| match (chain.get(h), keys[*h].grants.get(member)) {
                    (Some(key), Some(tag)) => grant_holds(key, member, &m.recipient, tag),
                    _ => false,
                })
    }

    /// Members the entries say may read `env` but whom no holder of its current key
    /// granted it (an edit by hand, an approval merged with a rotation, a file written
    /// before grants): another member's rotation would not give them the new key.
    pub fn ungranted(&self, env: &str, chain: &OpenChain) -> Vec<String> {
        self.readers(env)
            .into_iter()
            .map(|(id, _)| id)
            .filter(|id| !self.granted(env, id, chain))
            .collect()
    }

    /// The members a new key of `env` goes to: those the entries allow whom the current
    /// keys granted it, and the identity that opened `chain`.
    pub fn granted_readers(&self, env: &str, chain: &OpenChain) -> Vec<(String, String)> {
        self.readers(env)
            .into_iter()
            .filter(|(id, _)| *id == chain.member || self.granted(env, id, chain))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECIPIENT: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

    #[test]
    fn grant_vector() {
        // Pins the grant's derivation (FORMAT.md §6): key 0x07 × 32, member id
        // "0011223344556677", the recipient above.
        let key = DataKey::from_bytes([7; 32]);
        assert_eq!(
            grant(&key, "0011223344556677", RECIPIENT),
            "A9n40PpIIDx5gmwmSA4Ra9/9crGZ/D428qsHhaSXWB8="
        );
    }

    #[test]
    fn a_grant_holds_only_for_its_key_member_and_recipient() {
        let key = DataKey::from_bytes([7; 32]);
        let tag = grant(&key, "0011223344556677", RECIPIENT);
        assert!(grant_holds(&key, "0011223344556677", RECIPIENT, &tag));
        let other_key = DataKey::from_bytes([8; 32]);
        assert!(!grant_holds(
            &other_key,
            "0011223344556677",
            RECIPIENT,
            &tag
        ));
        assert!(!grant_holds(&key, "0011223344556678", RECIPIENT, &tag));
        assert!(!grant_holds(&key, "0011223344556677", "age1other", &tag));
        assert!(!grant_holds(
            &key,
            "0011223344556677",
            RECIPIENT,
            "not base64!"
        ));
        assert!(!grant_holds(&key, "0011223344556677", RECIPIENT, ""));
    }
}
