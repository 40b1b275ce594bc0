//! Whole files sealed as one (`git secrets track PATH`), git-crypt style, binary safe.
//!
//! The stored form is a header line and one token (FORMAT.md §4.6):
//!
//! ```text
//! #gs1:file
//! gs1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>
//! ```
//!
//! The token is a [`SealingKey::seal_bytes`] of the file's bytes for [`Kind::File`] with
//! the file's path as the scope, so sealing is deterministic (`git status` stays clean)
//! and a sealed file copied to another path, or into a scope file, does not open.

use zeroize::Zeroizing;

use crate::envfile::OpenError;
use crate::seal::{Kind, SealingKey, Token};

pub const HEADER: &[u8] = b"#gs1:file\n";

/// Whether `bytes` are a sealed whole file (the header, then a well-formed token).
pub fn is_sealed(bytes: &[u8]) -> bool {
    token_of(bytes).is_some()
}

fn token_of(bytes: &[u8]) -> Option<Token<'_>> {
    let rest = bytes.strip_prefix(HEADER)?;
    let line = std::str::from_utf8(rest).ok()?.strip_suffix('\n')?;
    Token::parse(line)
}

/// Whether `bytes` start like a sealed whole file (a damaged one is still refused as
/// damaged, never taken for plaintext).
pub fn looks_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(HEADER)
}

/// The key id a sealed file names.
pub fn key_id(bytes: &[u8]) -> Option<&str> {
    token_of(bytes).map(|t| t.key_id)
}

/// Seals `plain`, the content of the tracked file `path`, under `key`.
pub fn seal(path: &str, plain: &[u8], key: &SealingKey) -> Vec<u8> {
    let token = key.seal_bytes(path, Kind::File, plain);
    let mut out = Vec::with_capacity(HEADER.len() + token.len() + 1);
    out.extend_from_slice(HEADER);
    out.extend_from_slice(token.as_bytes());
    out.push(b'\n');
    out
}

/// Opens the sealed file `bytes` stored at `path` with whichever of `keys` it names.
pub fn open(
    path: &str,
    bytes: &[u8],
    keys: &[SealingKey],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let token = token_of(bytes).ok_or(OpenError::Damaged { line: 2, key: None })?;
    let mut named = keys.iter().filter(|k| k.id().0 == token.key_id).peekable();
    if named.peek().is_none() {
        return Err(OpenError::UnknownKey {
            line: 2,
            key: None,
            key_id: token.key_id.to_owned(),
        });
    }
    named
        .find_map(|k| k.open_bytes(path, Kind::File, &token))
        .ok_or(OpenError::DoesNotOpen {
            line: 2,
            key: None,
            origin: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::DataKey;

    fn key(b: u8) -> SealingKey {
        SealingKey::new(&DataKey::from_bytes([b; 32]))
    }

    #[test]
    fn binary_round_trips_deterministically() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let sealed = seal("certs/a.p12", &bytes, &key(1));
        assert_eq!(sealed, seal("certs/a.p12", &bytes, &key(1)));
        assert!(is_sealed(&sealed) && !is_sealed(&bytes));
        assert_eq!(&*open("certs/a.p12", &sealed, &[key(1)]).unwrap(), &bytes);
        assert_eq!(key_id(&sealed), Some(key(1).id().0.as_str()));
        for empty in [&b""[..], b"\0", b"\x80"] {
            let s = seal("f", empty, &key(1));
            assert_eq!(&*open("f", &s, &[key(1)]).unwrap(), empty);
        }
    }

    #[test]
    fn another_path_or_key_or_damage_is_refused() {
        let sealed = seal("certs/a.pem", b"secret", &key(1));
        assert!(matches!(
            open("certs/b.pem", &sealed, &[key(1)]),
            Err(OpenError::DoesNotOpen { .. })
        ));
        assert!(matches!(
            open("certs/a.pem", &sealed, &[key(2)]),
            Err(OpenError::UnknownKey { .. })
        ));
        let mut cut = sealed.clone();
        cut.truncate(sealed.len() - 5);
        cut.push(b'\n');
        assert!(open("certs/a.pem", &cut, &[key(1)]).is_err());
        assert!(looks_sealed(&cut));
    }
}
