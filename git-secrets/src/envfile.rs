//! The encrypted form of a dotenv file, reader and writer side by side.
//!
//! Each plaintext line becomes one line: a blank line stays as it is, a comment becomes
//! `#<token>`, an entry keeps its visible prefix (`export KEY=`) and gets `<token>` as
//! its value. A multiline value is one entry, so it becomes one line. The encrypted form
//! is itself a valid dotenv file. See FORMAT.md for the whole specification.

use crate::dotenv::{Document, Entry, Line, LineKind};
use crate::seal::{Kind, SealingKey, Token};
use crate::secret::SecretString;

/// Why an encrypted file could not be opened. No variant holds a secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("line {line}: not in encrypted form")]
    NotEncrypted { line: usize },
    #[error("line {line}{}: the encrypted value is damaged (cut short or edited)", key_suffix(.key))]
    Damaged { line: usize, key: Option<String> },
    #[error("line {line}{}: sealed with key {key_id}, which this identity does not hold", key_suffix(.key))]
    UnknownKey {
        line: usize,
        key: Option<String>,
        key_id: String,
    },
    #[error("line {line}{}: the value does not decrypt here{}", key_suffix(.key), .origin.as_ref().map(|o| format!(": it was sealed for {o}")).unwrap_or_else(|| ": it was tampered with, or copied from another key, scope or file".into()))]
    DoesNotOpen {
        line: usize,
        key: Option<String>,
        /// Where the token really belongs, when that could be found.
        origin: Option<String>,
    },
    /// Sealed with a key of another environment's chain: the file was moved or copied
    /// from there, or is an old name's file that a merge brought back after the name was
    /// given to a new environment (`env rename`, then `env add` of the old name).
    #[error("line {line}{}: the value does not decrypt here: it was sealed for environment `{env}` (key {key_id}), so the file was moved or copied from there", key_suffix(.key))]
    OtherEnvironment {
        line: usize,
        key: Option<String>,
        // Boxed: every `Result` carrying an `Error` is as large as its largest variant.
        env: Box<str>,
        key_id: Box<str>,
    },
}

fn key_suffix(key: &Option<String>) -> String {
    key.as_ref()
        .map(|k| format!(", key `{k}`"))
        .unwrap_or_default()
}

impl OpenError {
    pub fn line(&self) -> usize {
        match self {
            OpenError::NotEncrypted { line }
            | OpenError::Damaged { line, .. }
            | OpenError::UnknownKey { line, .. }
            | OpenError::DoesNotOpen { line, .. }
            | OpenError::OtherEnvironment { line, .. } => *line,
        }
    }
}

/// Seals a plaintext document for `scope` under `key`.
pub fn encrypt(doc: &Document, scope: &str, key: &SealingKey) -> String {
    let mut out = String::new();
    for line in &doc.lines {
        match &line.kind {
            LineKind::Blank(s) => out.push_str(s),
            LineKind::Comment(text) => {
                out.push('#');
                out.push_str(&key.seal(scope, Kind::Comment, text.expose()));
            }
            LineKind::Entry(e) => {
                out.push_str(&e.prefix);
                out.push_str(&key.seal(scope, Kind::Value(&e.key), e.raw.expose()));
            }
        }
        out.push_str(line.eol.as_str());
    }
    out
}

/// Whether a raw value (or a comment's text after `#`) starts like a token (`gs1:`),
/// complete or not: such a line is read as sealed, never as plaintext.
pub fn looks_like_token(raw: &str) -> bool {
    raw.starts_with(crate::seal::TOKEN_PREFIX)
}

/// Whether any line of `bytes` holds a token, even a damaged one: such a file is meant
/// to be encrypted and must not be read as plaintext.
pub fn looks_encrypted(bytes: &[u8]) -> bool {
    Document::parse(bytes).is_ok_and(|doc| looks_encrypted_doc(&doc))
}

/// [`looks_encrypted`] of a file already parsed.
pub fn looks_encrypted_doc(doc: &Document) -> bool {
    doc.lines.iter().any(|l| match &l.kind {
        LineKind::Entry(e) => looks_like_token(e.raw.expose()),
        LineKind::Comment(c) => c.expose().strip_prefix('#').is_some_and(looks_like_token),
        LineKind::Blank(_) => false,
    })
}

/// The first entry of a plaintext document whose value is a sealed token (a line pasted
/// from the encrypted form): (line number, key). Sealing it again would hide the mistake.
pub fn pasted_token(doc: &Document) -> Option<(usize, String)> {
    let mut line_no = 1;
    for line in &doc.lines {
        match &line.kind {
            LineKind::Entry(e) => {
                if looks_like_token(e.raw.expose()) {
                    return Some((line_no, e.key.clone()));
                }
                line_no += e.raw.expose().matches('\n').count();
            }
            LineKind::Comment(c) => {
                if c.expose().strip_prefix('#').is_some_and(looks_like_token) {
                    return Some((line_no, "#".into()));
                }
            }
            LineKind::Blank(_) => {}
        }
        line_no += 1;
    }
    None
}

/// A piece of a file git left with merge conflict markers.
#[derive(Debug, PartialEq, Eq)]
pub enum Part<'a> {
    /// A marker line (`<<<<<<< ours`, `|||||||`, `=======`, `>>>>>>> theirs`) with its
    /// line ending: branch labels, nothing secret.
    Marker(&'a [u8]),
    /// The lines between two markers: one side's entries.
    Body(&'a [u8]),
}

/// Splits a file with conflict markers into marker lines and the runs between them, or
/// `None` when it has none. Each run can then be sealed or opened on its own, so a
/// conflict is stored encrypted and shown with plaintext values.
pub fn conflict_parts(bytes: &[u8]) -> Option<(usize, Vec<Part<'_>>)> {
    let is_marker = |l: &[u8]| {
        [&b"<<<<<<<"[..], b"|||||||", b"=======", b">>>>>>>"]
            .iter()
            .any(|m| l.starts_with(m))
    };
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    let first = lines.iter().position(|l| l.starts_with(b"<<<<<<<"))?;
    lines.iter().position(|l| l.starts_with(b">>>>>>>"))?;
    let mut parts = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for l in &lines {
        if is_marker(l) {
            if offset > start {
                parts.push(Part::Body(&bytes[start..offset]));
            }
            parts.push(Part::Marker(&bytes[offset..offset + l.len()]));
            start = offset + l.len();
        }
        offset += l.len();
    }
    if bytes.len() > start {
        parts.push(Part::Body(&bytes[start..]));
    }
    Some((first + 1, parts))
}

/// The two sides of a text with git's conflict markers ([`conflict_parts`]): (ours,
/// theirs), the lines outside the conflicts in both, the base section of the `diff3`
/// style in neither; a marker out of its place is a line like any other. `None` without
/// markers, or with a conflict left open.
pub fn conflict_sides(text: &str) -> Option<(String, String)> {
    #[derive(PartialEq)]
    enum In {
        Both,
        Ours,
        Base,
        Theirs,
    }
    let (_, parts) = conflict_parts(text.as_bytes())?;
    let (mut at, mut marked) = (In::Both, false);
    let (mut ours, mut theirs) = (String::new(), String::new());
    for part in parts {
        let (Part::Marker(run) | Part::Body(run)) = part;
        let next = match (&part, &at) {
            (Part::Marker(m), In::Both) if m.starts_with(b"<<<<<<<") => Some(In::Ours),
            (Part::Marker(m), In::Ours) if m.starts_with(b"|||||||") => Some(In::Base),
            (Part::Marker(m), In::Ours | In::Base) if m.starts_with(b"=======") => Some(In::Theirs),
            (Part::Marker(m), In::Theirs) if m.starts_with(b">>>>>>>") => {
                marked = true;
                Some(In::Both)
            }
            _ => None,
        };
        if let Some(next) = next {
            at = next;
            continue;
        }
        // Split at line ends of valid UTF-8: every run is valid UTF-8 too.
        let run = String::from_utf8_lossy(run);
        match at {
            In::Both => {
                ours.push_str(&run);
                theirs.push_str(&run);
            }
            In::Ours => ours.push_str(&run),
            In::Base => {}
            In::Theirs => theirs.push_str(&run),
        }
    }
    (marked && at == In::Both).then_some((ours, theirs))
}

/// A line of the encrypted form, its token not yet opened.
enum Sealed<'a> {
    Blank,
    Comment(Token<'a>),
    Entry(&'a Entry, Token<'a>),
}

/// Line numbers of the encrypted form equal its line index + 1 (every line is one line).
fn classify(doc: &Document) -> Result<Vec<Sealed<'_>>, OpenError> {
    doc.lines
        .iter()
        .enumerate()
        .map(|(i, line)| match &line.kind {
            LineKind::Blank(_) => Ok(Sealed::Blank),
            LineKind::Comment(text) => {
                let body = text.expose().strip_prefix('#').unwrap_or_default();
                Token::parse(body)
                    .map(Sealed::Comment)
                    .ok_or(if looks_like_token(body) {
                        OpenError::Damaged {
                            line: i + 1,
                            key: None,
                        }
                    } else {
                        OpenError::NotEncrypted { line: i + 1 }
                    })
            }
            LineKind::Entry(e) => Token::parse(e.raw.expose())
                .map(|t| Sealed::Entry(e, t))
                .ok_or(if looks_like_token(e.raw.expose()) {
                    OpenError::Damaged {
                        line: i + 1,
                        key: Some(e.key.clone()),
                    }
                } else {
                    OpenError::NotEncrypted { line: i + 1 }
                }),
        })
        .collect()
}

/// Whether `bytes` is entirely in encrypted form (what a commit must hold). This checks
/// the shape only; it needs no key.
pub fn is_encrypted(bytes: &[u8]) -> bool {
    Document::parse(bytes).is_ok_and(|doc| is_encrypted_doc(&doc))
}

/// [`is_encrypted`] of a file already parsed.
pub fn is_encrypted_doc(doc: &Document) -> bool {
    classify(doc).is_ok()
}

/// The key ids a file's tokens name, each once.
pub fn key_ids(bytes: &[u8]) -> Vec<String> {
    let Ok(doc) = Document::parse(bytes) else {
        return Vec::new();
    };
    let Ok(lines) = classify(&doc) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = lines
        .iter()
        .filter_map(|l| match l {
            Sealed::Blank => None,
            Sealed::Comment(t) | Sealed::Entry(_, t) => Some(t.key_id.to_owned()),
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// One token of an encrypted file, not opened: where it is and which key sealed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedToken {
    /// The 1-based line (every line of the encrypted form is one line).
    pub line: usize,
    /// The entry's key name; `None` for a comment.
    pub key: Option<String>,
    pub key_id: String,
    /// The whole token (`gs1:<key id>:<body>`): ciphertext, nothing secret.
    pub token: String,
}

/// Every token of a file entirely in encrypted form, in line order (readable without
/// any key); `None` when the file is not entirely in encrypted form.
pub fn tokens(bytes: &[u8]) -> Option<Vec<SealedToken>> {
    let doc = Document::parse(bytes).ok()?;
    let lines = classify(&doc).ok()?;
    let token = |t: &Token| format!("{}{}:{}", crate::seal::TOKEN_PREFIX, t.key_id, t.body);
    Some(
        lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                let (key, t) = match l {
                    Sealed::Blank => return None,
                    Sealed::Comment(t) => (None, t),
                    Sealed::Entry(e, t) => (Some(e.key.clone()), t),
                };
                Some(SealedToken {
                    line: i + 1,
                    key,
                    key_id: t.key_id.to_owned(),
                    token: token(t),
                })
            })
            .collect(),
    )
}

/// The key names of an encrypted file (readable without any key).
pub fn key_names(bytes: &[u8]) -> Option<Vec<String>> {
    let doc = Document::parse(bytes).ok()?;
    classify(&doc).ok()?;
    Some(doc.keys())
}

/// Opens every line of an encrypted file for `scope`. `keys` is the environment's key
/// chain; a token is opened by every key whose id it names. `elsewhere` gives other
/// scopes to try when a token does not open (only then), so the error can say where
/// it came from.
pub fn decrypt(
    bytes: &[u8],
    scope: &str,
    keys: &[SealingKey],
    elsewhere: &dyn Fn() -> Vec<String>,
) -> Result<Document, OpenError> {
    let doc = Document::parse(bytes).map_err(|e| OpenError::NotEncrypted { line: e.line() })?;
    decrypt_doc(&doc, scope, keys, elsewhere)
}

/// [`decrypt`] of a file already parsed.
pub fn decrypt_doc(
    doc: &Document,
    scope: &str,
    keys: &[SealingKey],
    elsewhere: &dyn Fn() -> Vec<String>,
) -> Result<Document, OpenError> {
    let sealed = classify(doc)?;
    let mut lines = Vec::with_capacity(sealed.len());
    for (i, (s, line)) in sealed.iter().zip(&doc.lines).enumerate() {
        let (kind, token) = match s {
            Sealed::Blank => {
                lines.push(line.clone());
                continue;
            }
            Sealed::Comment(t) => (Kind::Comment, t),
            Sealed::Entry(e, t) => (Kind::Value(&e.key), t),
        };
        let key = || match s {
            Sealed::Entry(e, _) => Some(e.key.clone()),
            _ => None,
        };
        let sealed_with = |k: &&SealingKey| k.id().0 == token.key_id;
        let mut candidates = keys.iter().filter(sealed_with).peekable();
        if candidates.peek().is_none() {
            return Err(OpenError::UnknownKey {
                line: i + 1,
                key: key(),
                key_id: token.key_id.to_owned(),
            });
        }
        let Some(mut plain) = candidates.find_map(|k| k.open(scope, kind, token)) else {
            let candidates: Vec<&SealingKey> = keys.iter().filter(sealed_with).collect();
            let names: Vec<&str> = doc.entries().map(|e| e.key.as_str()).collect();
            return Err(OpenError::DoesNotOpen {
                line: i + 1,
                key: key(),
                origin: locate(token, &candidates, scope, &elsewhere(), &names),
            });
        };
        // Moved out of the opened buffer, which is left empty: one copy of the value.
        let plain = SecretString::new(std::mem::take(&mut *plain));
        lines.push(Line {
            kind: match s {
                Sealed::Comment(_) => LineKind::Comment(plain),
                Sealed::Entry(e, _) => LineKind::Entry(Entry {
                    prefix: e.prefix.clone(),
                    key: e.key.clone(),
                    raw: plain,
                }),
                Sealed::Blank => unreachable!("blank lines are handled above"),
            },
            eol: line.eol,
        });
    }
    Ok(Document { lines })
}

/// Finds the scope and key a token that does not open here was sealed for.
fn locate(
    token: &Token<'_>,
    keys: &[&SealingKey],
    scope: &str,
    scopes: &[String],
    names: &[&str],
) -> Option<String> {
    let all_scopes = std::iter::once(scope).chain(scopes.iter().map(String::as_str));
    for s in all_scopes {
        for name in names {
            if keys
                .iter()
                .any(|k| k.open(s, Kind::Value(name), token).is_some())
            {
                return Some(format!("key `{name}` of scope {s}"));
            }
        }
        if s != scope
            && keys
                .iter()
                .any(|k| k.open(s, Kind::Comment, token).is_some())
        {
            return Some(format!("a comment of scope {s}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::DataKey;

    #[test]
    fn conflict_parts_keep_every_byte() {
        let text = b"A=1\n<<<<<<< HEAD\nB=2\n=======\nB=3\n>>>>>>> other\nC=4";
        let (line, parts) = conflict_parts(text).unwrap();
        assert_eq!(line, 2);
        let joined: Vec<u8> = parts
            .iter()
            .flat_map(|p| match p {
                Part::Marker(b) | Part::Body(b) => b.to_vec(),
            })
            .collect();
        assert_eq!(joined, text);
        assert_eq!(parts[1], Part::Marker(b"<<<<<<< HEAD\n"));
        assert_eq!(parts[2], Part::Body(b"B=2\n"));
        assert!(conflict_parts(b"A=1\n=======\n").is_none());
    }

    fn key(b: u8) -> SealingKey {
        SealingKey::new(&DataKey::from_bytes([b; 32]))
    }

    #[test]
    fn round_trip_and_shape() {
        let plain = "# comment\n\nexport A=1\r\nB=\"multi\nline\" # c\nC=";
        let doc = Document::parse(plain.as_bytes()).unwrap();
        let k = key(1);
        let enc = encrypt(&doc, "api/production", &k);
        assert!(is_encrypted(enc.as_bytes()));
        assert!(!is_encrypted(plain.as_bytes()));
        assert_eq!(enc.lines().count(), 5);
        assert!(!enc.contains("multi") && !enc.contains("comment"));
        assert!(enc.contains("export A=gs1:"));
        let back = decrypt(enc.as_bytes(), "api/production", &[k], &Vec::new).unwrap();
        assert_eq!(back.print().expose(), plain);
    }

    #[test]
    fn moved_values_say_where_they_belong() {
        let k = key(1);
        let enc = encrypt(
            &Document::parse(b"A=1\nB=2\n").unwrap(),
            "api/production",
            &k,
        );
        let swapped = enc
            .replacen("A=", "X=", 1)
            .replacen("B=", "A=", 1)
            .replacen("X=", "B=", 1);
        let err = decrypt(swapped.as_bytes(), "api/production", &[key(1)], &Vec::new).unwrap_err();
        assert_eq!(
            err,
            OpenError::DoesNotOpen {
                line: 1,
                key: Some("B".into()),
                origin: Some("key `A` of scope api/production".into())
            }
        );
        let err = decrypt(enc.as_bytes(), "web/production", &[key(1)], &|| {
            vec!["api/production".into()]
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("sealed for key `A` of scope api/production"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_and_tamper() {
        let enc = encrypt(&Document::parse(b"A=1\n").unwrap(), "s", &key(1));
        assert!(matches!(
            decrypt(enc.as_bytes(), "s", &[key(2)], &Vec::new),
            Err(OpenError::UnknownKey { line: 1, .. })
        ));
        let body_start = enc.rfind(':').unwrap() + 3;
        let mut bytes = enc.into_bytes();
        bytes[body_start] = if bytes[body_start] == b'A' {
            b'B'
        } else {
            b'A'
        };
        assert!(matches!(
            decrypt(&bytes, "s", &[key(1)], &Vec::new),
            Err(OpenError::DoesNotOpen { line: 1, .. })
        ));
    }

    #[test]
    fn the_two_sides_of_a_conflict() {
        let sides = conflict_sides;
        let s = |a: &str, b: &str| Some((a.to_owned(), b.to_owned()));
        assert_eq!(sides("a\nb\n"), None);
        assert_eq!(
            sides("a\n<<<<<<< o\nx\n=======\ny\n>>>>>>> t\nb\n"),
            s("a\nx\nb\n", "a\ny\nb\n")
        );
        // diff3: the base section is in neither.
        assert_eq!(
            sides("<<<<<<< o\nx\n||||||| base\nz\n=======\ny\n>>>>>>> t\n"),
            s("x\n", "y\n")
        );
        // Unclosed: no sides.
        assert_eq!(sides("<<<<<<< o\nx\n=======\ny\n"), None);
        // A marker-like line out of place is content.
        assert_eq!(
            sides("=======\n<<<<<<< o\nx\n=======\ny\n>>>>>>> t\n>>>>>>> z\n"),
            s("=======\nx\n>>>>>>> z\n", "=======\ny\n>>>>>>> z\n")
        );
        // No final line break.
        assert_eq!(
            sides("<<<<<<< o\nx\n=======\ny\n>>>>>>> t"),
            s("x\n", "y\n")
        );
    }
}
