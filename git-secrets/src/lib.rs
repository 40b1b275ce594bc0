//! git-secrets: encrypted dotenv files in a git repository, per service and environment.
//!
//! The core library: the lossless dotenv reader and printer ([`dotenv`]), the sealing of
//! one value ([`seal`]) and of one file ([`envfile`]), identities ([`identity`]), the
//! access file with its wrapped environment keys ([`access`]), the configuration and
//! scopes ([`config`], [`scope`]), and a repository that uses them ([`workspace`]). The
//! git filter ([`filter`]) and the command line ([`cli`]) are thin layers over these.

pub mod access;
pub mod cli;
pub mod config;
pub mod continuity;
pub mod diffcache;
pub mod diffview;
pub mod dotenv;
pub mod doubled;
pub mod envfile;
pub mod envmerge;
pub mod error;
pub mod expand;
pub mod filter;
pub mod fsmonitor;
pub mod fsutil;
pub mod git;
pub mod gitconfig;
pub mod guard;
pub mod identity;
pub mod journal;
pub mod markers;
pub mod par;
pub mod rotation;
pub mod scope;
pub mod seal;
pub mod secret;
pub mod wholefile;
pub mod workspace;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod vectors;

pub use error::Error;

/// Lower-case hexadecimal of `bytes` (key ids, fingerprints, digests).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}
