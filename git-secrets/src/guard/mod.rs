//! The guard: what must never reach a commit, checked on blobs as git stores them (the
//! pre-commit hook reads the index, `git secrets check` reads commits, and the trees and
//! blobs a ref names besides commits: [`objects`]), never on the work tree, whose
//! plaintext is expected in an unlocked clone. Every git command reads the objects as
//! they are, never through `refs/replace/*` (crate::git).
//!
//! Six checks, each giving a [`Finding`] that names the path, the reason and the fix:
//! 1. a `.env`, `.env.*` or `*.env` file, or a copy or backup of one
//!    ([`is_scope_copy_name`]: `git mergetool`'s `.orig`, an editor's `~`), that is not
//!    in encrypted form (examples and templates excepted);
//! 2. a path routed to the secrets filter whose blob is not in encrypted form (the filter
//!    is missing, was bypassed, or a tool skipped it);
//! 3. a private key (age, OpenSSH, PEM, PGP), and a temporary file git-secrets left
//!    behind (crate::fsutil::TEMP_PREFIX);
//! 4. the plaintext of a secret value this identity can read (in the work tree's scope
//!    files, or without a work tree in the checked commits' own; or in the parent's
//!    version of a scope file the commit deletes or changes), and a sealed value that
//!    does not open (tampered), both only when an identity is at hand ([`known`]). The
//!    messages of commits (the one being made, and those checked) and of annotated tags
//!    are searched for those values too, a value there refused only when it is likely a
//!    secret, else warned about ([`secrecy`]);
//! 5. a secret file the commit adds or changes holding a value sealed under a key that
//!    is not a current key of its environment in the commit's access.json: one a
//!    rotation retired, or one a removed member was given ([`keys`]);
//! 6. a scope file of an environment the commit's config.toml does not declare: a merge
//!    across an `env rename` or `env del` strands its values where no command reads them.
//!
//! The hooks (the index only) also refuse a commit that re-seals, unchanged, a value HEAD
//! holds under a key that is not current (an unverified value, crate::workspace) before
//! this clone has reviewed it ([`laundered`]): the clean filter re-seals a whole file
//! whenever git cleans it, which would make the value pass as verified unlooked at.
//! The hooks also refuse what concluding a merge would drop across an `env rename`
//! ([`merge`]), and they, `check` and pre-push a merge that lists a key of a scope file
//! more often than each side did ([`doubled`]). Checks 1, 2, 3, 5 and 6 need no key. No
//! finding ever holds a value: only paths, line numbers, key names, key ids and scopes.

pub mod doubled;
mod encoded;
mod history;
mod index;
pub mod install;
pub mod keys;
pub mod known;
mod laundered;
pub mod merge;
pub mod objects;
mod percent;
mod removals;
mod run;
pub mod scan;
pub mod search;
pub mod secrecy;
mod wrapped;

pub use history::{check_commits_keyless, check_history};
pub use index::{check_index, check_message};

use crate::envfile;

/// One problem with one blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The commit the blob was found in (`git secrets check`); none for the index.
    pub commit: Option<String>,
    pub path: String,
    pub reason: String,
    pub fix: String,
}

/// A blob and what git's attributes say about its path.
#[derive(Clone, Copy, Debug)]
pub struct Blob<'a> {
    pub path: &'a str,
    pub bytes: &'a [u8],
    /// `filter=secrets`: git must only ever store it in encrypted form.
    pub routed: bool,
    /// `-secrets-check` in .gitattributes: a fixture or document the team vouches for.
    /// It skips checks 1, 3 and 4, never 2 (a routed file is encrypted or it leaks).
    pub exempt: bool,
}

/// The gitattributes attribute that exempts a path (`tests/fixtures/** -secrets-check`).
pub const EXEMPT_ATTR: &str = "secrets-check";

/// Names that hold examples of a `.env` file, not values.
const EXAMPLE_SUFFIXES: &[&str] = &[".example", ".sample", ".template"];

/// Whether the file name is a dotenv file by convention: `.env`, `.env.*` or `*.env`.
pub fn is_env_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let env_like = name == ".env" || name.starts_with(".env.") || name.ends_with(".env");
    env_like && !EXAMPLE_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Suffixes editors, merge tools and people give a backup copy of a file.
const BACKUP_SUFFIXES: &[&str] = &[
    ".orig", ".bak", ".backup", ".old", ".save", ".swp", ".swo", ".tmp", ".copy",
];

/// Whether the path is a copy or backup of a dotenv or scope file: `staging.env.orig`,
/// which `git mergetool` leaves with both sides' plaintext and the conflict markers;
/// `.bak`; an editor's `staging.env~`, `#staging.env#` or `.staging.env.swp`. Under
/// `.secrets/`, any name that continues `NAME.env` with `.`, `-` or `_` (`staging.env-old`)
/// counts; elsewhere only the backup suffixes do (`jest.env.js` is code). The filter does
/// not route such a name and `.env.*` in .gitignore does not match it, so check 1 is what
/// keeps its plaintext out. Example names are excepted, as elsewhere.
pub fn is_scope_copy_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    if EXAMPLE_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return false;
    }
    // Emacs: `staging.env~` and `#staging.env#`.
    let core = name.trim_start_matches('#').trim_end_matches(['~', '#']);
    let Some(at) = core.find(".env") else {
        return false;
    };
    let after = &core[at + ".env".len()..];
    if after.is_empty() {
        // The file itself (checks 1 and 2), unless an editor marked it a backup.
        return core.len() != name.len();
    }
    if path.starts_with(".secrets/") {
        after.starts_with(['.', '-', '_'])
    } else {
        BACKUP_SUFFIXES.contains(&after)
    }
}

/// Paths git-secrets itself encrypts: the scope files under `.secrets/`, whatever
/// .gitattributes says (a missing or malformed line there must not let them through).
pub fn is_secret_path(path: &str) -> bool {
    path.starts_with(".secrets/") && path.ends_with(".env")
}

/// Whether a blob is in a sealed form: a scope file sealed line by line, or a tracked
/// file sealed whole (crate::wholefile).
pub fn is_sealed(bytes: &[u8]) -> bool {
    envfile::is_encrypted(bytes) || crate::wholefile::is_sealed(bytes)
}

/// Like git (`buffer_is_binary`): a NUL byte in the first 8000 bytes.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8000).any(|&b| b == 0)
}

/// The 1-based line of byte `offset`.
pub fn line_at(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl Blob<'_> {
    fn finding(&self, reason: String, fix: String) -> Finding {
        Finding {
            commit: None,
            path: self.path.to_owned(),
            reason,
            fix,
        }
    }

    /// Checks 1 to 3: these need no key. At most one of 1 and 2 applies.
    pub fn check(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let encrypted = is_sealed(self.bytes);
        let p = self.path;
        if (self.routed || is_secret_path(p)) && !encrypted {
            out.push(self.unencrypted_secret());
        } else if is_scope_copy_name(p) && !encrypted && !self.exempt {
            out.push(self.finding(
                "is a copy or backup of a secret file (a `git mergetool` .orig, an editor's backup) not in encrypted form: it holds that file's plaintext".into(),
                format!("unstage and delete it (`git rm --cached -- {p}`, then `rm -- {p}`); a `git mergetool` backup is ignored by the `*.env.orig` line of .gitignore (`git secrets doctor --fix` adds it), and `git config mergetool.keepBackup false` stops making it; a file that holds no secret (a document) is exempted by a `{p} -secrets-check` line in .gitattributes"),
            ));
        } else if is_env_name(p) && !encrypted && !self.exempt {
            out.push(if is_binary(self.bytes) || std::str::from_utf8(self.bytes).is_err() {
                self.finding(
                    "is a binary file named like a .env file; a .env file must not be committed".into(),
                    format!("unstage it (`git rm --cached -- {p}`) and list it in .gitignore; if it is meant to be committed, rename it, or mark it `{p} -{EXEMPT_ATTR}` in .gitattributes"),
                )
            } else {
                self.finding(
                    "is a plaintext .env file".into(),
                    format!("unstage it (`git rm --cached -- {p}`), list it in .gitignore, and keep its values encrypted with `git secrets import --file {p}`; an example file is named .env.example"),
                )
            });
        }
        if !self.routed && !is_secret_path(p) && crate::wholefile::looks_sealed(self.bytes) {
            // Sealed whole, but at a path git does not route to the filter (`git mv`): a
            // checkout leaves it sealed, and the next `git add` of its plaintext would not
            // seal it again.
            out.push(self.finding(
                "is a tracked file's sealed form at a path that is not tracked (moved with `git mv`?)".into(),
                format!("track the new path (`git secrets track {p}`) and `git add` .gitattributes and .secrets/config.toml with it"),
            ));
        }
        if crate::fsutil::is_temp_name(p) {
            // Whatever its content: a write of ours that was interrupted (plaintext).
            out.push(self.finding(
                "is a temporary file git-secrets left behind when a command was interrupted; it may hold plaintext secrets".into(),
                format!("unstage and delete it (`git rm --cached -- {p}`, then `rm -- {p}`); `.gitignore` keeps such files out (`git secrets doctor --fix` adds the line)"),
            ));
        }
        if !self.exempt {
            if let Some((kind, line)) = private_key(self.bytes) {
                out.push(self.finding(
                    format!("line {line} holds a private key ({kind})"),
                    format!("unstage it (`git rm --cached -- {p}`) and keep the key outside the repository; if it was ever pushed, replace the key"),
                ));
            }
        }
        out
    }

    /// Check 2's finding, with the most likely cause.
    fn unencrypted_secret(&self) -> Finding {
        let p = self.path;
        let (what, fix) = if crate::wholefile::looks_sealed(self.bytes) {
            (
                "a sealed file that is damaged (cut short or edited)".into(),
                format!("restore it from the last commit (`git checkout HEAD -- {p}`)"),
            )
        } else if is_binary(self.bytes) && is_secret_path(p) {
            (
                "binary content, not a dotenv file".into(),
                format!("restore it (`git restore --staged --worktree -- {p}`), or remove it with `git rm --cached -- {p}`"),
            )
        } else if let Err(crate::dotenv::ParseError::ConflictMarker { line }) =
            crate::dotenv::Document::parse(self.bytes)
        {
            (
                format!("plaintext with a merge conflict marker at line {line}"),
                format!("resolve the conflict in the work tree (one value per key, no `<<<<<<<`/`|||||||`/`=======`/`>>>>>>>` lines), then `git add -- {p}` with the filter set up (`git secrets unlock`)"),
            )
        } else if envfile::looks_encrypted(self.bytes) {
            (
                "damaged: some lines are sealed and some are not, or a sealed value was cut or edited".into(),
                format!("restore it from the last commit (`git checkout HEAD -- {p}`) and set the values again with `git secrets set`"),
            )
        } else if !self.routed {
            // Its attributes, not this clone's set-up: unlocking would not route it.
            (
                "plaintext: git does not route it to the secrets filter (`git check-attr filter` does not say `secrets` for it): the `.secrets/**/*.env filter=secrets` line of .gitattributes is missing, or a line that applies later overrides it (`-filter`, `!filter` or another `filter=`, in a .gitattributes of its folder or above, or in .git/info/attributes)".into(),
                format!("restore the line (`git secrets doctor --fix`) and delete the line that overrides it (`git check-attr -a -- {p}` shows what applies), then `git add --renormalize -- {p}` so the filter encrypts it"),
            )
        } else {
            (
                "plaintext: the secrets filter did not encrypt it (not set up in this clone, bypassed, or skipped by a tool)".into(),
                format!("run `git secrets unlock` (or `git secrets join --name NAME` to ask for access), then `git add --renormalize -- {p}` so the filter encrypts it"),
            )
        };
        let kind = match self.routed {
            true => "routed to the secrets filter",
            false => "a scope file under .secrets/",
        };
        self.finding(
            format!("is a secret file ({kind}) but is not in encrypted form: {what}"),
            fix,
        )
    }
}

/// The private key markers, with the name said in a finding. Each must be followed by
/// a line break and key material (see [`has_body`]), so a marker quoted in a string or
/// a document is not mistaken for a key.
const PEM_MARKERS: &[(&str, &str)] = &[
    ("-----BEGIN OPENSSH PRIVATE KEY-----", "OpenSSH"),
    ("-----BEGIN PRIVATE KEY-----", "PEM PKCS#8"),
    ("-----BEGIN RSA PRIVATE KEY-----", "PEM RSA"),
    ("-----BEGIN EC PRIVATE KEY-----", "PEM EC"),
    ("-----BEGIN DSA PRIVATE KEY-----", "PEM DSA"),
    (
        "-----BEGIN ENCRYPTED PRIVATE KEY-----",
        "PEM encrypted PKCS#8",
    ),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----", "PGP"),
];
const AGE_PREFIX: &str = "AGE-SECRET-KEY-1";
/// An age identity is `AGE-SECRET-KEY-1` and 58 bech32 characters (upper case).
const AGE_BODY: usize = 58;
const BECH32: &[u8] = b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";

fn searcher() -> &'static aho_corasick::AhoCorasick {
    static AC: std::sync::OnceLock<aho_corasick::AhoCorasick> = std::sync::OnceLock::new();
    AC.get_or_init(|| {
        let patterns = PEM_MARKERS.iter().map(|(m, _)| *m).chain([AGE_PREFIX]);
        aho_corasick::AhoCorasick::new(patterns).expect("fixed patterns build")
    })
}

/// The first private key in `bytes`: (kind, line).
pub fn private_key(bytes: &[u8]) -> Option<(&'static str, usize)> {
    for m in searcher().find_iter(bytes) {
        let rest = &bytes[m.end()..];
        let kind = match PEM_MARKERS.get(m.pattern().as_usize()) {
            Some((_, kind)) if has_body(rest) => *kind,
            Some(_) => continue,
            None if rest.len() >= AGE_BODY
                && rest[..AGE_BODY].iter().all(|b| BECH32.contains(b)) =>
            {
                "age identity"
            }
            None => continue,
        };
        return Some((kind, line_at(bytes, m.start())));
    }
    None
}

/// Whether a PEM marker is followed by a line break (a real one, or `\n` escaped in a
/// JSON or YAML string, as in cloud service account files) and, within the next few
/// lines, a run of base64 key material.
fn has_body(rest: &[u8]) -> bool {
    let after = if let Some(r) = rest.strip_prefix(b"\r\n") {
        r
    } else if let Some(r) = rest
        .strip_prefix(b"\n")
        .or_else(|| rest.strip_prefix(b"\\n"))
    {
        r
    } else {
        return false;
    };
    let window = &after[..after.len().min(256)];
    let mut run = 0;
    for &b in window {
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' {
            run += 1;
            if run >= 20 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// The report of a run: what was found, and what could not be looked at.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// How many readable secret values were searched for (check 4), if any.
    pub values_searched: Option<usize>,
    /// How many commits were looked at (`git secrets check` of a range).
    pub commits: usize,
    /// How many trees and blobs a ref names besides commits were looked at.
    pub objects: usize,
    /// The staged secret files (path, blob id) that differ from HEAD (the hook's check).
    pub staged_secrets: Vec<(String, String)>,
    /// Values found in a message that are likely not secrets (FORMAT.md §8.4): said,
    /// never refused.
    pub warnings: Vec<Finding>,
}

#[cfg(test)]
mod tests;
