//! The masked diff: what git's `diff.secrets.textconv` prints for a secret file (FORMAT.md
//! §8.1), and the key-level plaintext comparison behind `git secrets diff --show`.
//!
//! git runs the textconv once per side of a diff, on a file it wrote (the blob, smudged
//! when the filter is configured) or on the work-tree file itself. Its output is diffed
//! line by line and may be cached in `refs/notes/textconv/secrets`, so it must hold no
//! value, nothing a value can be guessed from, and no ciphertext noise: one line per
//! entry, the value masked, and a fingerprint that changes exactly when the value does.

use std::fmt::Write as _;
use std::path::{Component, Path};

use sha2::{Digest, Sha256};

use crate::access::Access;
use crate::dotenv::{Document, LineKind};
use crate::seal::{KeyId, Kind, SealingKey, Token, FINGERPRINT_LEN};
use crate::secret::SecretString;

/// What every masked line shows in place of a value or comment text.
pub const MASK: &str = "********";

/// Printed instead of a fingerprint when no key for it is at hand.
pub const NO_FINGERPRINT: &str = "fp:?";

/// The environment of the file git hands the textconv, from its path:
///
/// - the work-tree file itself, which git passes (relative to the top level) when it
///   matches the blob: `.secrets/<env>.env` or `.secrets/<service>/<env>.env`;
/// - a blob git wrote to a temporary file named after the path's basename:
///   `$TMPDIR/git-blob-XXXXXX/<env>.env` (git's `prep_temp_blob()` with
///   `mks_tempfile_dt()`, current git), or `$TMPDIR/XXXXXX_<env>.env` (older git, with
///   `mks_tempfile_ts()`).
///
/// Anything else gives `None`. Only the environment can be learned from a temporary
/// file, not the service, which is why fingerprints are not bound to the scope.
pub fn env_of_textconv_path(path: &Path) -> Option<String> {
    let parts: Vec<&str> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let (&name, dirs) = parts.split_last()?;
    let parent = dirs.last().copied();
    let grandparent = dirs.len().checked_sub(2).map(|i| dirs[i]);
    let random = |s: &str| s.len() == 6 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let base = if parent == Some(crate::scope::SECRETS_DIR)
        || grandparent == Some(crate::scope::SECRETS_DIR)
        || parent
            .and_then(|p| p.strip_prefix("git-blob-"))
            .is_some_and(random)
    {
        name
    } else {
        match name.split_at_checked(7) {
            Some((head, rest)) if head.ends_with('_') && random(&head[..6]) => rest,
            _ => return None,
        }
    };
    let env = base.strip_suffix(".env")?;
    crate::config::is_valid_name(env).then(|| env.to_owned())
}

/// Which of the keys this identity holds for `env` makes its fingerprints: the oldest
/// key of the chain (the root, which replaced no other key), so fingerprints stay the
/// same across rotations and a re-sealed value shows no change. Every current member
/// reaches the root by walking the chain back; one that somehow can't uses the oldest
/// key it holds (stable for it, though its fingerprints then differ from others').
pub fn fingerprint_key<'k>(
    access: &Access,
    env: &str,
    held: &'k [SealingKey],
) -> Option<&'k SealingKey> {
    let records = access.keys.get(env);
    let replaces_another = |id: &KeyId| {
        records.is_some_and(|r| r.values().any(|rec| rec.superseded_by.contains_key(id)))
    };
    let created = |id: &KeyId| {
        records
            .and_then(|r| r.get(id))
            .map(|rec| rec.created_at.clone())
    };
    held.iter().min_by_key(|k| {
        (
            replaces_another(k.id()),
            created(k.id()).is_none(),
            created(k.id()),
            k.id().clone(),
        )
    })
}

/// The keys of an environment this identity holds, and which of them makes its
/// fingerprints (an index into the chain).
pub type FingerprintChain = (std::sync::Arc<Vec<SealingKey>>, usize);

/// The key `ws` makes `env`'s fingerprints with ([`fingerprint_key`]): the chain that
/// holds it and its index there. An error when the chain does not open (no identity, no
/// access); `None` when the identity holds no key of it.
pub fn fingerprint_chain(
    ws: &crate::workspace::Workspace,
    env: &str,
) -> Result<Option<FingerprintChain>, crate::Error> {
    let keys = ws.keys(env)?;
    let index = fingerprint_key(&ws.access, env, &keys)
        .and_then(|chosen| keys.iter().position(|k| std::ptr::eq(k, chosen)));
    Ok(index.map(|i| (keys, i)))
}

/// What the masked view of a blob depends on besides the blob: the identity, which
/// environments it opens (a current key wrapped to it) and the fingerprint keys (each
/// chain's root). Part of the textconv command line, because git keeps its textconv
/// cache only while that command stays the same: when access changes, the cached views
/// (`sealed:` ones from before an approval, say) are dropped instead of being compared
/// with new ones. Rotations keep it: they change neither readability nor roots.
pub fn view_id(access: &Access, recipient: &str) -> String {
    let member = access
        .member_by_recipient(recipient)
        .map(|(id, _)| id.as_str());
    let mut hash = Sha256::new();
    hash.update(b"git-secrets masked view 1\0");
    hash.update(recipient.as_bytes());
    for (env, records) in &access.keys {
        let newer: std::collections::BTreeSet<&KeyId> = records
            .values()
            .flat_map(|r| r.superseded_by.keys())
            .collect();
        let readable = member.is_some_and(|m| {
            access
                .heads(env)
                .iter()
                .any(|h| records.get(*h).is_some_and(|r| r.wrapped.contains_key(m)))
        });
        hash.update(format!("\0{env}\0{readable}").as_bytes());
        for root in records.keys().filter(|id| !newer.contains(id)) {
            hash.update(format!("\0{}", root.0).as_bytes());
        }
    }
    crate::hex(&hash.finalize()[..8])
}

/// The fingerprint of a sealed token: a hash of public bytes, so it reveals nothing the
/// token does not. A value re-sealed under another key gets another one.
fn sealed_fingerprint(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    format!("sealed:{}", crate::hex(&digest[..FINGERPRINT_LEN]))
}

/// The masked view of a secret file, plaintext or encrypted. `fingerprint` gives the
/// keyed fingerprint of a plaintext value or comment (`None` when there is no key for
/// it: then `fp:?`). One line per entry and per comment, in file order; blank lines are
/// left out. Never prints a value, a comment's text or a token.
pub fn masked(
    bytes: &[u8],
    fingerprint: &mut dyn FnMut(Kind<'_>, &str) -> Option<String>,
) -> String {
    // A conflicted file: each side masked on its own, the marker lines as they are.
    if let Some((_, parts)) = crate::envfile::conflict_parts(bytes) {
        let mut out = String::new();
        for part in parts {
            match part {
                crate::envfile::Part::Marker(m) => {
                    out.push_str(String::from_utf8_lossy(m).trim_end());
                    out.push('\n');
                }
                crate::envfile::Part::Body(b) => out.push_str(&masked(b, fingerprint)),
            }
        }
        return out;
    }
    let doc = match Document::parse(bytes) {
        Ok(doc) => doc,
        Err(e) => {
            // Half-resolved conflicts and the like: one line for the whole file, which
            // still changes whenever the file does (keyed under a key name no entry can
            // have). The parse error names only a line number.
            let line = e.line();
            let whole = zeroize::Zeroizing::new(String::from_utf8_lossy(bytes).into_owned());
            let f = fingerprint(Kind::Value(""), &whole)
                .map(|f| format!("fp:{f}"))
                .unwrap_or_else(|| NO_FINGERPRINT.into());
            return format!("(not a dotenv file: line {line}) {MASK} {f}\n");
        }
    };
    masked_doc(&doc, fingerprint)
}

/// Whether `bytes` is a masked view as [`masked`] prints it, and nothing else: every line
/// an entry, a comment or a whole-file line with the mask and a fingerprint, or a
/// conflict marker. (`git blame FILE` hands the textconv of the work-tree file to the
/// clean filter: see crate::filter.) A real secret file has values, not masks.
pub fn is_masked_view(bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    !text.is_empty() && text.ends_with('\n') && text.lines().all(is_view_line)
}

fn is_view_line(line: &str) -> bool {
    if ["<<<<<<<", "|||||||", "=======", ">>>>>>>"]
        .iter()
        .any(|m| line.starts_with(m))
    {
        return true;
    }
    let Some((head, f)) = line.rsplit_once(' ') else {
        return false;
    };
    let hex = |h: &str| h.len() == 2 * FINGERPRINT_LEN && h.bytes().all(|b| b.is_ascii_hexdigit());
    let fingerprint = f == NO_FINGERPRINT
        || f.strip_prefix("fp:")
            .or_else(|| f.strip_prefix("sealed:"))
            .is_some_and(hex);
    let Some(head) = head.strip_suffix(MASK).and_then(|h| h.strip_suffix(' ')) else {
        return false;
    };
    let entry = |h: &str| {
        h.strip_prefix("export ")
            .unwrap_or(h)
            .strip_suffix(" =")
            .is_some_and(crate::dotenv::is_valid_key)
    };
    let whole = |h: &str| {
        h.strip_prefix("(not a dotenv file: line ")
            .and_then(|r| r.strip_suffix(')'))
            .is_some_and(|n| n.parse::<usize>().is_ok())
    };
    fingerprint && (head == "#" || entry(head) || whole(head))
}

/// The masked view of a parsed secret file (see [`masked`]).
pub fn masked_doc(
    doc: &Document,
    fingerprint: &mut dyn FnMut(Kind<'_>, &str) -> Option<String>,
) -> String {
    let mut fp = |kind: Kind<'_>, text: &str| match Token::parse(text) {
        Some(_) => sealed_fingerprint(text),
        None => fingerprint(kind, text)
            .map(|f| format!("fp:{f}"))
            .unwrap_or_else(|| NO_FINGERPRINT.into()),
    };
    let mut out = String::new();
    for line in &doc.lines {
        match &line.kind {
            LineKind::Blank(_) => {}
            LineKind::Comment(text) => {
                let text = text.expose();
                let f = match text.strip_prefix('#').filter(|b| Token::parse(b).is_some()) {
                    Some(token) => sealed_fingerprint(token),
                    None => fp(Kind::Comment, text),
                };
                let _ = writeln!(out, "# {MASK} {f}");
            }
            LineKind::Entry(e) => {
                let export = if e.prefix.trim_start().starts_with("export") {
                    "export "
                } else {
                    ""
                };
                let f = fp(Kind::Value(&e.key), e.raw.expose());
                let _ = writeln!(out, "{export}{} = {MASK} {f}", e.key);
            }
        }
    }
    out
}

/// The plaintext change between two versions of a scope file, key by key: each removed
/// key as `-` lines, each added one as `+` lines, a changed one as both, printed as in
/// the file (prefix and raw value; every line of a multi-line value marked). Keys are
/// compared by the entry in effect (the last of duplicates). Comments are not shown,
/// only noted when they changed. Empty when no key changed.
pub fn reveal_changes(old: &Document, new: &Document) -> SecretString {
    let (old_doc, new_doc) = (old, new);
    let (old, new) = (old.index(), new.index());
    let text = |d: &crate::dotenv::Index, key: &str| {
        d.get(key)
            .map(|e| SecretString::new(format!("{}{}", e.prefix, e.raw.expose())))
    };
    let mut keys: Vec<&str> = new.entries().map(|e| e.key.as_str()).collect();
    keys.extend(
        old.entries()
            .map(|e| e.key.as_str())
            .filter(|k| new.get(k).is_none()),
    );
    let mut out = String::new();
    let mut push = |sign: char, entry: &SecretString| {
        for line in entry.expose().split('\n') {
            out.push(sign);
            out.push_str(line.strip_suffix('\r').unwrap_or(line));
            out.push('\n');
        }
    };
    for key in &keys {
        let (before, after) = (text(&old, key), text(&new, key));
        if before == after {
            continue;
        }
        if let Some(b) = &before {
            push('-', b);
        }
        if let Some(a) = &after {
            push('+', a);
        }
    }
    let comments = |d: &Document| -> Vec<SecretString> {
        d.lines
            .iter()
            .filter_map(|l| match &l.kind {
                LineKind::Comment(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    };
    if comments(old_doc) != comments(new_doc) {
        out.push_str(" (comments changed)\n");
    }
    SecretString::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_views_are_recognised_and_files_are_not() {
        let doc = Document::parse(b"# db\nexport A=1\nB='two'\n\nC=3\n").unwrap();
        let view = masked_doc(&doc, &mut |_, _| Some("0123456789ab".into()));
        assert!(is_masked_view(view.as_bytes()), "{view}");
        let unkeyed = masked_doc(&doc, &mut |_, _| None);
        assert!(is_masked_view(unkeyed.as_bytes()), "{unkeyed}");
        let whole = masked(
            b"<<<<<<< ours\nA=1\n=======\nA=2\n>>>>>>> theirs\n",
            &mut |_, _| Some("0123456789ab".into()),
        );
        assert!(is_masked_view(whole.as_bytes()), "{whole}");
        for file in [
            "A=1\n",
            "A = ******** fp:0123456789ab\nB=real\n",
            "A = ******** fp:0123\n",
            "A = ******** fp:0123456789ab",
            "",
            "A B = ******** fp:0123456789ab\n",
            "PASSWORD = ******** hunter2hunter2\n",
        ] {
            assert!(!is_masked_view(file.as_bytes()), "{file:?}");
        }
    }
    use crate::secret::DataKey;

    #[test]
    fn environment_from_the_paths_git_uses() {
        let env = |p: &str| env_of_textconv_path(Path::new(p));
        assert_eq!(
            env("/tmp/git-blob-Ab12Cd/production.env").as_deref(),
            Some("production")
        );
        assert_eq!(
            env("/tmp/Ab12Cd_production.env").as_deref(),
            Some("production")
        );
        assert_eq!(env(".secrets/api/test.env").as_deref(), Some("test"));
        assert_eq!(env(".secrets/shared.env").as_deref(), Some("shared"));
        assert_eq!(env("/tmp/production.env"), None);
        assert_eq!(env("/tmp/git-blob-Ab12/production.env"), None);
        assert_eq!(env("/tmp/Ab12C_production.env"), None);
        assert_eq!(env("/tmp/git-blob-Ab12Cd/notes.txt"), None);
        assert_eq!(env("/tmp/git-blob-Ab12Cd/Bad Name.env"), None);
    }

    #[test]
    fn masked_prints_names_and_fingerprints_only() {
        let k = SealingKey::new(&DataKey::from_bytes([4; 32]));
        let plain = b"# the db\nDB=hunter2\n\nexport API='sk-live'\n";
        let mut fp = |kind: Kind<'_>, t: &str| Some(k.fingerprint(kind, t));
        let out = masked(plain, &mut fp);
        assert!(!out.contains("hunter2") && !out.contains("sk-live") && !out.contains("the db"));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].starts_with("# ******** fp:"), "{out}");
        assert!(lines[1].starts_with("DB = ******** fp:"), "{out}");
        assert!(lines[2].starts_with("export API = ******** fp:"), "{out}");
        // The same value encrypted gives token fingerprints, never the token.
        let enc = crate::envfile::encrypt(&Document::parse(plain).unwrap(), "s", &k);
        let out2 = masked(enc.as_bytes(), &mut |_, _| panic!("no key needed"));
        assert!(
            !out2.contains("gs1:") && out2.contains("DB = ******** sealed:"),
            "{out2}"
        );
        // Without a key, plaintext gets no fingerprint at all.
        let out3 = masked(plain, &mut |_, _| None);
        assert!(
            out3.contains("DB = ******** fp:?") && !out3.contains("hunter2"),
            "{out3}"
        );
    }

    #[test]
    fn reveal_lists_changed_keys_only() {
        let old = Document::parse(b"A=1\nB=2\nC=\"x\ny\"\n#c\n").unwrap();
        let new = Document::parse(b"A=1\nB=3\nD=4\n#c\n").unwrap();
        let out = reveal_changes(&old, &new);
        assert_eq!(out.expose(), "-B=2\n+B=3\n+D=4\n-C=\"x\n-y\"\n");
    }
}
