//! Types that hold secret bytes: they never print their contents and are wiped on drop.
//!
//! Everything that carries a plaintext value, a data key or an identity goes through
//! these types, so a stray `{:?}` in an error or a log line prints `[redacted]`.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A secret string (a dotenv value, a whole plaintext file, an identity).
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: String) -> Self {
        SecretString(s)
    }
    /// The plaintext. Callers must not log or print it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The bytes, moved (not copied) into a buffer that is still wiped on drop.
    pub fn into_bytes(mut self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(std::mem::take(&mut self.0).into_bytes())
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        SecretString(s.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

/// Secret bytes (a plaintext file as git hands it to the filter).
pub type SecretBytes = Zeroizing<Vec<u8>>;

/// A 256-bit environment data key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        DataKey(k)
    }
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DataKey(bytes)
    }
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// Masks a value for display: its length class and nothing of its content.
pub fn mask(value: &str) -> String {
    if value.is_empty() {
        "(empty)".to_owned()
    } else {
        "********".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_secret() {
        let s = SecretString::from("hunter2-very-secret");
        assert!(!format!("{s:?}").contains("hunter2"));
        let k = DataKey::from_bytes([7; 32]);
        assert!(!format!("{k:?}").contains('7'));
    }
}
