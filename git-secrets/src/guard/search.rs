//! Check 4's search: every value this identity can read, found in one pass over a blob
//! or a message, and what a finding says (which line, which key, in which scope).
//! [`super::known`] gathers the values; this module knows nothing of where they come from.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use super::{line_at, Blob, Finding};
use crate::secret::SecretString;

/// Values shorter than this are not searched for: too many false matches.
pub const MIN_LEN: usize = 8;

/// Whether `value` is searched for. Besides short values, two kinds are left out
/// because they are everywhere in ordinary files and would block every commit:
/// a single short word (`production`, `localhost`: an environment's name or a host is
/// often kept beside the secrets) and a bare reference (`${DATABASE_URL}`, as in a
/// compose file). A long passphrase of letters is still searched for.
pub fn is_searchable(value: &str) -> bool {
    let n = value.chars().count();
    if n < MIN_LEN {
        return false;
    }
    let word = n <= 16 && value.chars().all(|c| c.is_ascii_alphabetic());
    let reference = value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .or_else(|| value.strip_prefix('$'))
        .is_some_and(crate::dotenv::is_valid_key);
    !word && !reference
}

/// The forms `value` takes in other files, each one that differs from it, computed once
/// per value and searched for with it:
/// - inside a quoted string: a JSON string (`export --format json`, and YAML's and
///   TOML's double quotes, which escape alike), a dotenv file's double quotes (`export
///   --format dotenv`), a POSIX shell's single quotes (`export`). A value with a line
///   break, a quote or a `\` is written so by git-secrets' own `export`, and the hook
///   must find it there as it finds it in a file that holds it as it is;
/// - with CRLF line breaks (a multi-line value, or its shell form, in a file saved on
///   Windows).
///
/// The forms other encoders give it (other JSON writers' `\uXXXX` and `\/` escapes,
/// base64, base64url and hex, whole or within a longer encoded text, URL encoding) are
/// not filed here: the text searched is decoded instead ([`super::encoded`]), which
/// costs the index nothing.
///
/// So a value gets at most 5 forms (3 quoted, 2 CRLF), and none when it has no line
/// break, quote, `\`, `$` or other control character. Each is built at its final size,
/// so no copy of it is left behind by a growing buffer.
fn encoded_forms(value: &str) -> Vec<SecretString> {
    let mut forms: Vec<SecretString> = Vec::new();
    let mut keep = |form: SecretString| {
        if form.expose() != value && !forms.contains(&form) {
            forms.push(form);
        }
    };
    let special = |c: char| c.is_control() || matches!(c, '"' | '\\' | '\'' | '$');
    if value.contains(special) {
        keep(json(value));
        keep(escaped(value, 2, &|c, s| {
            crate::dotenv::double_quote_escape(c)
                .map(|escape| s.push_str(escape))
                .is_some()
        }));
        let shell = escaped(value, 4, &|c, s| {
            if c != '\'' {
                return false;
            }
            s.push_str("'\\''");
            true
        });
        if value.contains('\n') {
            keep(crlf(value));
            keep(crlf(shell.expose()));
        }
        keep(shell);
    }
    forms
}

/// `value` with each character `esc` writes (it returns whether it did) replaced, built
/// at most `size` times as long.
fn escaped(value: &str, size: usize, esc: &dyn Fn(char, &mut String) -> bool) -> SecretString {
    let mut s = String::with_capacity(value.len() * size);
    for c in value.chars() {
        if !esc(c, &mut s) {
            s.push(c);
        }
    }
    SecretString::new(s)
}

/// `value` inside a JSON string: `"`, `\` and the control characters escaped (lower-case
/// hex where there is no short escape, as Python and Go write them), the rest as it is.
/// [`super::encoded`] brings every JSON writer's escapes to this spelling.
pub(super) fn json(value: &str) -> SecretString {
    use std::fmt::Write;
    escaped(value, 6, &|c, s| {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\u{8}' => s.push_str("\\b"),
            '\u{c}' => s.push_str("\\f"),
            // Written in place: no temporary string holds a character of the value.
            c if u32::from(c) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", u32::from(c));
            }
            _ => return false,
        }
        true
    })
}

/// `text` with each line break that is not one already as CR LF.
fn crlf(text: &str) -> SecretString {
    escaped(text, 2, &|c, s| {
        if c != '\n' || s.ends_with('\r') {
            return false;
        }
        s.push_str("\r\n");
        true
    })
}

/// Every searchable value this identity can read, found in one pass over a blob.
///
/// A Rabin-Karp-style search with a fixed window: every value has at least [`MIN_LEN`]
/// bytes, so each one is filed under its last 8 bytes, and each 8-byte window of the
/// blob is looked up (a bit table first, which rejects almost every window, then a hash
/// map), then the whole value compared. Building it is a hash insert per value: an
/// Aho-Corasick automaton of 20,000 values took ~190 ms to build, most of the hook's
/// budget, while its search speed is not needed for a commit's worth of text. For the
/// same reason, text that holds values encoded (JSON escapes, base64, hex, URL
/// encoding) is decoded and searched again rather than each value filed in each
/// encoding.
#[derive(Default)]
pub struct SecretIndex {
    /// Distinct values (moved in, never copied), and the encoded forms of values
    /// ([`encoded_forms`]).
    values: Vec<SecretString>,
    /// For each entry of `values`, the value it is a form of (its own id for a value).
    form_of: Vec<usize>,
    /// Scope labels, each once, and whether the scope is an earlier version of a file
    /// ([`super::known::Former`]).
    scopes: Vec<(String, bool)>,
    /// Where each value lives: (value id, scope id, key), in the order added.
    owners: Vec<(usize, usize, String)>,
    /// Value ids by their last 8 bytes (ends vary more than starts: `postgres://…`,
    /// `https://…` and `sk_live_…` share their first bytes).
    heads: HashMap<u64, Vec<usize>, BuildHasherDefault<HeadHasher>>,
    /// One bit per hashed head: most windows stop here.
    bits: Vec<u64>,
}

const BITS_LOG2: u32 = 20;

fn bit_of(head: u64) -> usize {
    (head.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BITS_LOG2)) as usize
}

/// The 8 bytes of `bytes` that end at `end`.
fn head_of(bytes: &[u8], end: usize) -> u64 {
    u64::from_le_bytes(bytes[end - 8..end].try_into().expect("8 bytes"))
}

/// The heads are 8 bytes of text: one multiply spreads them well enough for the map,
/// at a fraction of SipHash's cost (no attacker chooses them: they are our own values).
#[derive(Default)]
struct HeadHasher(u64);

impl std::hash::Hasher for HeadHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
}

impl SecretIndex {
    /// Makes room for about `n` more values (saves rehashing while the index grows).
    pub fn reserve(&mut self, n: usize) {
        self.values.reserve(n);
        self.owners.reserve(n);
        self.heads.reserve(n);
    }

    /// Declares a scope; returns its id for [`SecretIndex::add`].
    pub fn add_scope(&mut self, label: String) -> usize {
        self.scopes.push((label, false));
        self.scopes.len() - 1
    }

    /// Declares the scope of an earlier version of a file ([`super::known::Former`]).
    pub fn add_former_scope(&mut self, label: String) -> usize {
        self.scopes.push((label, true));
        self.scopes.len() - 1
    }

    /// Adds the value of `key` in scope `scope` (unless it is not searchable), and the
    /// forms it takes in other files ([`encoded_forms`]). Equal values are
    /// searched for once.
    pub fn add(&mut self, value: SecretString, scope: usize, key: String) {
        if !is_searchable(value.expose()) {
            return;
        }
        let forms = encoded_forms(value.expose());
        let id = self.insert(value, None, scope, key.clone());
        for form in forms {
            self.insert(form, Some(id), scope, key.clone());
        }
    }

    /// Files `value` (a form of value `form_of`, if given) under its last 8 bytes;
    /// returns its id.
    fn insert(
        &mut self,
        value: SecretString,
        form_of: Option<usize>,
        scope: usize,
        key: String,
    ) -> usize {
        if self.bits.is_empty() {
            self.bits = vec![0; 1 << (BITS_LOG2 - 6)];
        }
        // Equal values share their last 8 bytes, so they are found in the same bucket.
        let v = value.expose().as_bytes();
        let head = head_of(v, v.len());
        let bucket = self.heads.entry(head).or_default();
        let values = &self.values;
        let id = match bucket
            .iter()
            .find(|&&id| values[id].expose().as_bytes() == v)
        {
            Some(&id) => id,
            None => {
                let id = values.len();
                bucket.push(id);
                let b = bit_of(head);
                self.bits[b / 64] |= 1 << (b % 64);
                self.values.push(value);
                self.form_of.push(form_of.unwrap_or(id));
                id
            }
        };
        self.owners.push((id, scope, key));
        id
    }

    /// Like [`SecretIndex::add`], unless the value is searched for already: a value an
    /// earlier version of a file still shares with the work tree is named by the latter.
    pub fn add_new(&mut self, value: SecretString, scope: usize, key: String) {
        let v = value.expose().as_bytes();
        if v.len() >= MIN_LEN {
            let values = &self.values;
            let known = self
                .heads
                .get(&head_of(v, v.len()))
                .is_some_and(|ids| ids.iter().any(|&id| values[id].expose().as_bytes() == v));
            if known {
                return;
            }
        }
        self.add(value, scope, key);
    }

    /// How many distinct values are searched for (not counting their encoded forms).
    pub fn len(&self) -> usize {
        self.form_of
            .iter()
            .enumerate()
            .filter(|&(id, &of)| id == of)
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Every (offset, value id) where a value occurs in `bytes`, as it is or in the text
    /// `bytes` holds in encoded form ([`super::encoded`]: at the offset of its encoded
    /// form, on the same line), in offset order.
    fn matches(&self, bytes: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        if self.values.is_empty() {
            return out;
        }
        self.scan(bytes, &mut |offset, id| out.push((offset, id)));
        super::encoded::each_decoded(bytes, &mut |text, back| {
            self.scan(text, &mut |offset, id| out.push((back(offset), id)));
        });
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Calls `found` with (offset, value id) for each value that occurs in `bytes`; of
    /// the values that end at the same place, the longest only.
    fn scan(&self, bytes: &[u8], found: &mut dyn FnMut(usize, usize)) {
        for end in 8..=bytes.len() {
            let head = head_of(bytes, end);
            let b = bit_of(head);
            if self.bits[b / 64] & (1 << (b % 64)) == 0 {
                continue;
            }
            let Some(ids) = self.heads.get(&head) else {
                continue;
            };
            let best = ids
                .iter()
                .filter(|&&id| bytes[..end].ends_with(self.values[id].expose().as_bytes()))
                .max_by_key(|&&id| self.values[id].len());
            if let Some(&id) = best {
                found(end - self.values[id].len(), id);
            }
        }
    }

    /// The finding for `blob` if it holds any value: the first line, and which key.
    pub fn find(&self, blob: &Blob) -> Option<Finding> {
        let found = self.matches(blob.bytes);
        let (reason, former) = self.describe(blob.bytes, &found, &found, false)?;
        let p = blob.path;
        let fix = if former {
            // Most likely a secret file moved out of .secrets/ (`git mv`), or a value
            // dropped from one and kept here.
            format!("if it is a secret file moved or copied out of .secrets/, move it back (`git mv`) or unstage it (`git rm --cached -- {p}`); otherwise take the value out of {p} (programs get it from `git secrets run`) and `git add` it again")
        } else {
            format!("take the value out of {p} (programs get it from `git secrets run`), then `git add` it again; if the match is not a secret, mark the path `-{}` in .gitattributes", super::EXEMPT_ATTR)
        };
        Some(Finding {
            commit: None,
            path: p.to_owned(),
            reason,
            fix,
        })
    }

    /// The finding for text that is not a file ([`Where`]) if it holds any value. In a
    /// message, a value is refused only when it is likely a secret (its key's name or
    /// its form, [`super::secrecy`]); the others are warned about (FORMAT.md §8.4).
    pub fn find_in(&self, place: &Where, bytes: &[u8]) -> Option<TextFinding> {
        let found = self.matches(bytes);
        let (secret, plain): (Vec<_>, Vec<_>) = found
            .iter()
            .partition(|&&(_, id)| !place.is_message() || self.is_secret(id));
        let finding = |reason: String, fix: &str| Finding {
            commit: None,
            path: place.name().to_owned(),
            reason,
            fix: fix.to_owned(),
        };
        if let Some((reason, _)) = self.describe(bytes, &secret, &found, false) {
            return Some(TextFinding::Refused(finding(reason, place.fix())));
        }
        let (reason, _) = self.describe(bytes, &plain, &plain, true)?;
        let reason = format!("{reason}, which neither its key's name nor its form marks as a secret (like a region, a host or a port): let through");
        Some(TextFinding::Warned(finding(reason, place.warn_fix())))
    }

    /// Whether value `id` is likely a secret under any of the keys that hold it (an
    /// encoded form is judged by its value).
    fn is_secret(&self, id: usize) -> bool {
        let value = self.values[self.form_of[id]].expose();
        self.owners
            .iter()
            .filter(|o| o.0 == id)
            .any(|(_, _, key)| super::secrecy::is_secret(key, value))
    }

    /// Why text is refused, if `found` (some of the matches of [`SecretIndex::matches`]
    /// in `bytes`) holds any: the first line, and which key, with the other values of
    /// `all` counted; and whether that value is known from an earlier version of a file
    /// only.
    /// With `warn`, the value is named as one let through, not as a secret.
    fn describe(
        &self,
        bytes: &[u8],
        found: &[(usize, usize)],
        all: &[(usize, usize)],
        warn: bool,
    ) -> Option<(String, bool)> {
        let &(offset, first) = found.first()?;
        let found = all;
        let mut others: Vec<usize> = found
            .iter()
            .map(|&(_, id)| self.form_of[id])
            .filter(|&id| id != self.form_of[first])
            .collect();
        others.sort_unstable();
        others.dedup();
        let mut owners: Vec<&(usize, usize, String)> =
            self.owners.iter().filter(|o| o.0 == first).collect();
        // A value refused for its key's name is named by that key.
        let value = self.values[self.form_of[first]].expose();
        owners.sort_by_key(|o| !super::secrecy::is_secret(&o.2, value));
        let (_, scope, key) = owners[0];
        let (scope, former) = &self.scopes[*scope];
        let line = line_at(bytes, offset);
        let mut reason = if warn {
            format!("line {line} mentions the value of `{key}` ({scope})")
        } else {
            format!("line {line} contains the plaintext of the secret `{key}` ({scope})")
        };
        if owners.len() > 1 {
            reason.push_str(&format!(
                ", a value also set in {} other place(s)",
                owners.len() - 1
            ));
        }
        if !others.is_empty() {
            let what = if warn {
                "value(s) of that kind"
            } else {
                "secret value(s)"
            };
            reason.push_str(&format!(", and {} other {what}", others.len()));
        }
        Some((reason, *former))
    }
}

/// A value found in text that is not a file ([`SecretIndex::find_in`]).
#[derive(Debug)]
pub enum TextFinding {
    /// Likely a secret: the commit, push or check is refused.
    Refused(Finding),
    /// In a message, a value that is likely not a secret: said, and let through.
    Warned(Finding),
}

/// Text searched for values that is not a file of a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    /// The message of a commit being checked or pushed.
    CommitMessage,
    /// The message of an annotated tag being checked or pushed.
    TagMessage,
    /// A blob a ref names directly (no path).
    NamedBlob,
    /// The message of the commit being made (the commit-msg hook).
    NewMessage,
}

impl Where {
    /// What findings name in place of a path.
    pub fn name(&self) -> &'static str {
        match self {
            Where::CommitMessage | Where::NewMessage => "commit message",
            Where::TagMessage => "tag message",
            Where::NamedBlob => "blob named by a ref",
        }
    }

    /// Whether it is a message (where a value that is likely not a secret is only
    /// warned about), not a blob.
    pub fn is_message(&self) -> bool {
        !matches!(self, Where::NamedBlob)
    }

    /// The advice with a warning ([`TextFinding::Warned`]).
    fn warn_fix(&self) -> &'static str {
        match self {
            Where::NewMessage => "nothing to do if it is not a secret; if it is, reword the commit (`git commit --amend`) and change the secret (a key named like one, e.g. …_PASSWORD, …_TOKEN, …_KEY, is always refused)",
            Where::CommitMessage => "nothing to do if it is not a secret; if it is, reword the commit (`git rebase -i` and `reword`) and change the secret",
            Where::TagMessage => "nothing to do if it is not a secret; if it is, make the tag again (`git tag -d NAME`, then `git tag -a NAME`) and change the secret",
            Where::NamedBlob => "",
        }
    }

    fn fix(&self) -> &'static str {
        match self {
            Where::CommitMessage => "reword the commit so its message names the key, not its value (`git commit --amend` for the last commit, `git rebase -i` and `reword` for an older one); if it was pushed, change the secret",
            Where::TagMessage => "make the tag again with a message that names the key, not its value (`git tag -d NAME`, then `git tag -a NAME`); if it was pushed, change the secret",
            Where::NamedBlob => "delete the ref that names this blob (`git tag -d NAME`, or `git update-ref -d REF`); if it was pushed, change the secret",
            Where::NewMessage => "write the message again naming the key, not its value (`git commit` opens an editor; for `git am`, edit the patch's message); nothing was committed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{encoded_forms, SecretIndex};
    use crate::guard::Blob;
    use crate::secret::SecretString;

    fn forms(value: &str) -> Vec<String> {
        encoded_forms(value)
            .iter()
            .map(|f| f.expose().to_owned())
            .collect()
    }

    // Guards: the forms filed with a value, byte for byte as git-secrets' `export`
    // writes them, and no more: a plain value is filed once.
    #[test]
    fn the_forms_filed_with_a_value() {
        let f = forms("it's\nline two\r\nthree");
        assert!(f.contains(&"it's\r\nline two\r\nthree".to_owned()), "{f:?}");
        assert!(
            f.contains(&"it'\\''s\r\nline two\r\nthree".to_owned()),
            "{f:?}"
        );
        assert!(f.contains(&r"it's\nline two\r\nthree".to_owned()), "{f:?}");
        for v in [
            "pässwörd-0042-😀",
            "tok<0042>&x\u{2028}",
            "k8s-db-password-0042",
        ] {
            assert_eq!(forms(v), Vec::<String>::new(), "{v:?}");
        }
        // At most 5, and distinct.
        for v in ["é<\n'\"\\$x-0042", "a\r\nb\r\nc-0042"] {
            let f = forms(v);
            assert!(f.len() <= 5, "{v:?}: {f:?}");
            let mut d = f.clone();
            d.sort();
            d.dedup();
            assert_eq!(d.len(), f.len(), "{v:?}");
            assert!(!f.contains(&v.to_owned()));
        }
    }

    fn index(values: &[(&str, &str)]) -> SecretIndex {
        let mut index = SecretIndex::default();
        let scope = index.add_scope("production".into());
        for (key, value) in values {
            index.add(SecretString::new((*value).to_owned()), scope, (*key).into());
        }
        index
    }

    fn found(index: &SecretIndex, text: &str) -> Option<String> {
        let blob = Blob {
            path: "f.txt",
            bytes: text.as_bytes(),
            routed: false,
            exempt: false,
        };
        index.find(&blob).map(|f| f.reason)
    }

    fn b64(engine: &base64::engine::GeneralPurpose, bytes: &[u8]) -> String {
        base64::Engine::encode(engine, bytes)
    }

    // Guards: a value is found as other encoders write it, each byte for byte as they do:
    // JSON as Python, Go, .NET (upper-case hex, `+` and `"` escaped) and PHP (`\/`) write
    // it; base64 of the value (padded, unpadded, of `echo VALUE | base64`), base64url,
    // and base64 of a longer text holding it at each of the 3 byte alignments, wrapped
    // or not; and said at the line its encoded form is on.
    #[test]
    fn a_value_is_found_as_other_encoders_write_it() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let values = [
            ("DB_PASS", "pässwörd-0042-😀"),
            ("API_TOKEN", "tok<0042>&x\u{2028}\"+q"),
            ("DB_URL", "https://app:s3cr3t-0042@db.internal/app"),
            ("K8S_PASS", "k8s-db-password-0042"),
        ];
        let index = index(&values);
        let said = |key: &str, line: usize| {
            format!("line {line} contains the plaintext of the secret `{key}` (production)")
        };
        for (text, key) in [
            (
                r#"{"p": "p\u00e4ssw\u00f6rd-0042-\ud83d\ude00"}"#,
                "DB_PASS",
            ),
            (
                r#"{"p": "p\u00E4ssw\u00F6rd-0042-\uD83D\uDE00"}"#,
                "DB_PASS",
            ),
            (
                r#"{"t": "tok\u003c0042\u003e\u0026x\u2028\"+q"}"#,
                "API_TOKEN",
            ),
            (
                r#"{"t": "tok\u003C0042\u003E\u0026x\u2028\u0022\u002Bq"}"#,
                "API_TOKEN",
            ),
            (
                r#"{"u": "https:\/\/app:s3cr3t-0042@db.internal\/app"}"#,
                "DB_URL",
            ),
        ] {
            let text = format!("x\n{text}\n");
            assert_eq!(found(&index, &text), Some(said(key, 2)), "{text}");
        }
        for (key, value) in values {
            let v = value.as_bytes();
            let line = [v, b"\n"].concat();
            let env = [b"A=1\n", &format!("{key}=").into_bytes()[..], v, b"\nB=2\n"].concat();
            let mut texts = vec![
                b64(&STANDARD, v),
                b64(&STANDARD, v).trim_end_matches('=').to_owned(),
                b64(&STANDARD, &line),
                b64(&URL_SAFE_NO_PAD, v),
                b64(&URL_SAFE_NO_PAD, &env),
            ];
            for filler in ["", "a", "ab"] {
                texts.push(b64(&STANDARD, &[filler.as_bytes(), &env].concat()));
            }
            for encoded in texts {
                let text = format!("kind: Secret\ndata:\n  .env: {encoded}\n");
                assert_eq!(found(&index, &text), Some(said(key, 3)), "{text}");
            }
            // `base64 FILE`: wrapped at 76, the value on a line after the first.
            let long = [&b"#".repeat(100)[..], &env].concat();
            let wrapped = b64(&STANDARD, &long);
            let lines: Vec<&str> = wrapped
                .as_bytes()
                .chunks(76)
                .map(|l| std::str::from_utf8(l).unwrap())
                .collect();
            let text = lines.join("\n");
            let reason = found(&index, &text).unwrap_or_else(|| panic!("{key}: {text}"));
            assert!(
                reason.starts_with("line 2 ") || reason.starts_with("line 3 "),
                "{reason}"
            );
        }
    }

    // Guards: decoding never matches what is not the value: base64 of a value with one
    // bit changed at either end, at every alignment, is not found.
    #[test]
    fn a_near_value_in_base64_is_not_found() {
        use base64::engine::general_purpose::STANDARD;
        let index = index(&[("K8S_PASS", "k8s-db-password-0042")]);
        for near in ["j8s-db-password-0042", "k8s-db-password-0043"] {
            for filler in ["", "a", "ab"] {
                let text = b64(&STANDARD, format!("{filler}{near}\n").as_bytes());
                assert_eq!(found(&index, &text), None, "{near} {filler:?}");
            }
        }
    }
}
