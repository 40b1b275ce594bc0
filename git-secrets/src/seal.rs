//! Sealing one value or comment: deterministic XChaCha20-Poly1305 with a synthetic nonce.
//!
//! A token looks like `gs1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`. The nonce is
//! HMAC-SHA256 over the associated data and the padded plaintext under a key of its own,
//! so sealing the same value again gives the same bytes (a SIV construction: equal
//! plaintexts are visible as equal only within one key name of one scope). The
//! associated data binds the format version, the scope, the kind of line and the key
//! name, so a token copied anywhere else does not open.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::secret::DataKey;

pub const TOKEN_PREFIX: &str = "gs1:";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Key ids are 8 hex digits; two keys of one chain that collide are both tried.
pub const KEY_ID_LEN: usize = 8;
/// Fingerprints are 6 bytes (12 hex digits): a changed value keeps its fingerprint only
/// by a 2^-48 accident.
pub const FINGERPRINT_LEN: usize = 6;

type HmacSha256 = Hmac<Sha256>;

/// What a token seals: an entry's value (bound to its key name), a comment line, or a
/// whole tracked file (`git secrets track`; its path is the scope).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind<'a> {
    Value(&'a str),
    Comment,
    File,
}

impl<'a> Kind<'a> {
    /// The kind's name and key name, as bound into the associated data.
    fn fields(self) -> (&'static str, &'a str) {
        match self {
            Kind::Value(name) => ("value", name),
            Kind::Comment => ("comment", ""),
            Kind::File => ("file", ""),
        }
    }
}

/// The short public name of a data key, written in every token sealed with it.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct KeyId(pub String);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A data key ready to seal and open: its derived subkeys and its id.
///
/// The two HMACs are kept keyed (their inner and outer hash states computed once) and
/// cloned per use: a value's nonce or fingerprint then costs two SHA-256 blocks fewer,
/// which is a third of the work on a short value. Like the AEAD's key schedule, they
/// are derived from the data key and live as long as it.
#[derive(Clone)]
pub struct SealingKey {
    id: KeyId,
    aead: XChaCha20Poly1305,
    nonce_mac: HmacSha256,
    /// For the masked diff's fingerprints (see [`SealingKey::fingerprint`]).
    fingerprint_mac: HmacSha256,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealingKey({})", self.id)
    }
}

fn hkdf(key: &DataKey, info: &str) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<Sha256>::new(None, key.expose())
        .expand(info.as_bytes(), out.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

/// The fingerprint a clone's memory of keys names a key by (crate::continuity): the first
/// 16 bytes, in hex, of a subkey derived for it alone. A key id is 32 bits, so a key of
/// someone's own with the id of a remembered key takes about 2^32 tries to find; only
/// the key itself has this fingerprint (FORMAT.md §6.7).
pub fn memory_fingerprint(key: &DataKey) -> String {
    crate::hex(&hkdf(key, "git-secrets/v1/memory")[..16])
}

impl SealingKey {
    pub fn new(key: &DataKey) -> SealingKey {
        let id_bytes = hkdf(key, "git-secrets/v1/key-id");
        let id = KeyId(crate::hex(&id_bytes[..KEY_ID_LEN / 2]));
        let enc = hkdf(key, "git-secrets/v1/seal");
        let mac = |info: &str| {
            <HmacSha256 as Mac>::new_from_slice(hkdf(key, info).as_ref())
                .expect("HMAC takes any key length")
        };
        SealingKey {
            id,
            aead: XChaCha20Poly1305::new(enc.as_ref().into()),
            nonce_mac: mac("git-secrets/v1/nonce"),
            fingerprint_mac: mac("git-secrets/v1/fingerprint"),
        }
    }

    /// A short keyed fingerprint of a value (or comment) for the masked diff: the first
    /// [`FINGERPRINT_LEN`] bytes, in hex, of HMAC-SHA256 under this key's fingerprint
    /// subkey over the kind, the key name and the text. It is keyed so that a
    /// low-entropy value can't be guessed from it without the data key; it is not bound
    /// to the scope, because git hands the diff driver only a file's basename (FORMAT.md
    /// §8.1).
    pub fn fingerprint(&self, kind: Kind<'_>, text: &str) -> String {
        let (kind, name) = kind.fields();
        let mut mac = self.fingerprint_mac.clone();
        mac.update(b"git-secrets/v1");
        for field in [kind, name, text] {
            mac.update(&(field.len() as u32).to_be_bytes());
            mac.update(field.as_bytes());
        }
        crate::hex(&mac.finalize().into_bytes()[..FINGERPRINT_LEN])
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// Seals `plaintext` for `kind` in `scope` and returns the token.
    pub fn seal(&self, scope: &str, kind: Kind<'_>, plaintext: &str) -> String {
        self.seal_bytes(scope, kind, plaintext.as_bytes())
    }

    /// Seals any bytes (a whole tracked file) for `kind` in `scope`.
    pub fn seal_bytes(&self, scope: &str, kind: Kind<'_>, plaintext: &[u8]) -> String {
        let aad = aad(scope, kind);
        // One buffer, `nonce ‖ padded plaintext ‖ tag`, sealed in place: its capacity is
        // reserved up front, so no reallocation leaves a copy of the plaintext behind.
        let padded_len = padded_len(plaintext.len());
        let mut blob = Zeroizing::new(Vec::with_capacity(NONCE_LEN + padded_len + TAG_LEN));
        blob.resize(NONCE_LEN, 0);
        blob.extend_from_slice(plaintext);
        blob.push(0x80);
        blob.resize(NONCE_LEN + padded_len, 0);
        let mut mac = self.nonce_mac.clone();
        mac.update(&aad);
        mac.update(&blob[NONCE_LEN..]);
        let synthetic = mac.finalize().into_bytes();
        let (nonce, body) = blob.split_at_mut(NONCE_LEN);
        nonce.copy_from_slice(&synthetic[..NONCE_LEN]);
        let tag = self
            .aead
            .encrypt_in_place_detached(XNonce::from_slice(nonce), &aad, body)
            .expect("XChaCha20-Poly1305 encryption of a bounded buffer cannot fail");
        blob.extend_from_slice(&tag);
        let mut token = String::with_capacity(
            TOKEN_PREFIX.len() + self.id.0.len() + 1 + (blob.len() * 4).div_ceil(3),
        );
        token.push_str(TOKEN_PREFIX);
        token.push_str(&self.id.0);
        token.push(':');
        B64.encode_string(&blob[..], &mut token);
        token
    }

    /// Opens a token body (already split by [`Token::parse`]) sealed for `kind` in `scope`.
    pub fn open(
        &self,
        scope: &str,
        kind: Kind<'_>,
        token: &Token<'_>,
    ) -> Option<Zeroizing<String>> {
        let mut plain = self.open_bytes(scope, kind, token)?;
        match String::from_utf8(std::mem::take(&mut *plain)) {
            Ok(text) => Some(Zeroizing::new(text)),
            Err(e) => {
                zeroize::Zeroize::zeroize(&mut e.into_bytes());
                None
            }
        }
    }

    /// Opens a token sealed by [`SealingKey::seal_bytes`].
    pub fn open_bytes(
        &self,
        scope: &str,
        kind: Kind<'_>,
        token: &Token<'_>,
    ) -> Option<Zeroizing<Vec<u8>>> {
        // Opened in place: the plaintext is moved to the front of the decoded buffer,
        // whose whole capacity is wiped when it is dropped.
        let mut blob = Zeroizing::new(B64.decode(token.body).ok()?);
        let sealed_len = blob.len().checked_sub(NONCE_LEN + TAG_LEN)?;
        let aad = aad(scope, kind);
        let nonce = *XNonce::from_slice(&blob[..NONCE_LEN]);
        let (body, tag) = blob[NONCE_LEN..].split_at_mut(sealed_len);
        let tag = *Tag::from_slice(tag);
        self.aead
            .decrypt_in_place_detached(&nonce, &aad, body, &tag)
            .ok()?;
        let len = unpad(body)?.len();
        blob.copy_within(NONCE_LEN..NONCE_LEN + len, 0);
        blob.truncate(len);
        Some(blob)
    }
}

/// A token split into its key id and body, without opening it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub key_id: &'a str,
    pub body: &'a str,
}

impl<'a> Token<'a> {
    /// Recognises `gs1:<8 hex>:<base64url>` exactly, nothing around it.
    pub fn parse(s: &'a str) -> Option<Token<'a>> {
        let rest = s.strip_prefix(TOKEN_PREFIX)?;
        let (key_id, body) = rest.split_once(':')?;
        let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
        (key_id.len() == KEY_ID_LEN
            && key_id.bytes().all(hex)
            && body.len() >= 4
            && body.bytes().all(|c| BASE64URL[usize::from(c)]))
        .then_some(Token { key_id, body })
    }
}

/// The bytes of base64url's alphabet, as a table: every value of every file is checked
/// against it (twice when a file opens), and a lookup is cheaper than four comparisons.
static BASE64URL: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        c += 1;
    }
    table
};

/// Length-prefixed fields, so no two (scope, kind, name) triples share an encoding.
fn aad(scope: &str, kind: Kind<'_>) -> Vec<u8> {
    let (kind, name) = kind.fields();
    let mut out = b"git-secrets/v1".to_vec();
    for field in [scope, kind, name] {
        out.extend_from_slice(&(field.len() as u32).to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

/// The length `len` bytes are padded to: 32, 64, 128 or 256 bytes, then a multiple of
/// 256, with ISO/IEC 7816-4 padding (0x80 then zeros), so short values all look alike.
fn padded_len(len: usize) -> usize {
    match len + 1 {
        0..=32 => 32,
        33..=64 => 64,
        65..=128 => 128,
        need => need.div_ceil(256) * 256,
    }
}

fn unpad(padded: &[u8]) -> Option<&[u8]> {
    let end = padded.iter().rposition(|&b| b != 0)?;
    (padded[end] == 0x80).then_some(&padded[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SealingKey {
        SealingKey::new(&DataKey::from_bytes([b; 32]))
    }

    #[test]
    fn seal_is_deterministic_and_opens() {
        let k = key(1);
        let t1 = k.seal("api/production", Kind::Value("DB"), "secret");
        let t2 = k.seal("api/production", Kind::Value("DB"), "secret");
        assert_eq!(t1, t2);
        let tok = Token::parse(&t1).unwrap();
        assert_eq!(tok.key_id, k.id().0);
        let out = k.open("api/production", Kind::Value("DB"), &tok).unwrap();
        assert_eq!(out.as_str(), "secret");
    }

    #[test]
    fn a_token_moved_elsewhere_does_not_open() {
        let k = key(1);
        let t = k.seal("api/production", Kind::Value("DB"), "secret");
        let tok = Token::parse(&t).unwrap();
        assert!(k
            .open("api/production", Kind::Value("OTHER"), &tok)
            .is_none());
        assert!(k.open("web/production", Kind::Value("DB"), &tok).is_none());
        assert!(k.open("api/production", Kind::Comment, &tok).is_none());
        assert!(key(2)
            .open("api/production", Kind::Value("DB"), &tok)
            .is_none());
    }

    #[test]
    fn short_values_have_equal_lengths() {
        let k = key(3);
        let a = k.seal("s", Kind::Value("A"), "");
        let b = k.seal("s", Kind::Value("A"), "0123456789abcdef0123456789");
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn fingerprints_are_keyed_and_bound_to_the_name() {
        let (k1, k2) = (key(1), key(2));
        let fp = k1.fingerprint(Kind::Value("A"), "v");
        assert_eq!(fp.len(), FINGERPRINT_LEN * 2);
        assert_eq!(fp, k1.fingerprint(Kind::Value("A"), "v"));
        assert_ne!(fp, k1.fingerprint(Kind::Value("A"), "w"));
        assert_ne!(fp, k1.fingerprint(Kind::Value("B"), "v"));
        assert_ne!(fp, k1.fingerprint(Kind::Comment, "v"));
        assert_ne!(fp, k2.fingerprint(Kind::Value("A"), "v"));
        // Pinned: FORMAT.md §8.1 defines these bytes.
        assert_eq!(fp, "b55fd7aba89b");
    }

    #[test]
    fn same_value_under_other_key_name_differs() {
        let k = key(3);
        assert_ne!(
            k.seal("s", Kind::Value("A"), "v").split(':').nth(2),
            k.seal("s", Kind::Value("B"), "v").split(':').nth(2)
        );
    }
}
