//! A lossless dotenv reader and printer, side by side: `print(parse(x)) == x` for every
//! file `parse` accepts.
//!
//! A document is a list of lines: blank lines, comments and entries (`KEY=VALUE`, where a
//! quoted value may span several physical lines). Each keeps its exact text and line
//! ending, so the encrypted form can mirror the plaintext line for line and the plaintext
//! comes back byte for byte. What an entry *means* (quotes removed, escapes applied) is
//! computed separately by [`Entry::value`], following the conventions of dotenv/dotenvx;
//! the differences are listed in FORMAT.md.

use crate::secret::SecretString;

mod index;
mod value;

pub use index::Index;
use value::find_closing;
pub use value::{
    double_quote_escape, render_template, render_value, value_of, Quote, Rendered, Value,
};

/// How a line ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Eol {
    /// The last line of a file without a final newline.
    None,
    Lf,
    CrLf,
}

impl Eol {
    pub fn as_str(self) -> &'static str {
        match self {
            Eol::None => "",
            Eol::Lf => "\n",
            Eol::CrLf => "\r\n",
        }
    }
}

/// `KEY=VALUE`, with everything needed to print it back exactly.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// Everything up to and including `=`: indentation, `export `, the key, spaces.
    pub prefix: String,
    pub key: String,
    /// Everything after `=` up to the entry's end: spaces, quotes, the value, an inline
    /// comment, and for a multiline value the line breaks inside it. Secret.
    pub raw: SecretString,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// Empty or only spaces and tabs: kept as it is, not secret.
    Blank(String),
    /// A full-line comment; its whole text (indentation and `#` included) is secret.
    Comment(SecretString),
    Entry(Entry),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub kind: LineKind,
    pub eol: Eol,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Document {
    pub lines: Vec<Line>,
}

/// Why a dotenv file could not be read. Line numbers are 1-based. No variant holds any
/// text of the file, not even a would-be key name: a line that does not parse is often
/// the continuation of a value pasted without quotes (the end of a base64 key, a URL
/// with `?a=b`), so its text is secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("line {line}: the file is not valid UTF-8")]
    NotUtf8 { line: usize },
    #[error("line {line}: the text before the first `=` is not a variable name (letters, digits and `_`, not starting with a digit)")]
    BadKey { line: usize },
    #[error("line {line}: expected `KEY=VALUE`, a `# comment` or a blank line")]
    NotAnEntry { line: usize },
    #[error("line {line}: a merge conflict marker was left in the file")]
    ConflictMarker { line: usize },
    #[error("line {line}: the quoted value that starts on this line is never closed")]
    Unterminated { line: usize },
    #[error("line {line}: unexpected text after the closing quote of a value (only a `# comment` may follow it)")]
    AfterQuote { line: usize },
    #[error("line {line}: a NUL byte is not allowed in a dotenv file")]
    Nul { line: usize },
    #[error("line {line}: a byte order mark (BOM, U+FEFF) starts the line")]
    Bom { line: usize },
}

impl ParseError {
    /// The 1-based line the error is about.
    pub fn line(&self) -> usize {
        match self {
            ParseError::NotUtf8 { line }
            | ParseError::BadKey { line }
            | ParseError::NotAnEntry { line }
            | ParseError::ConflictMarker { line }
            | ParseError::Unterminated { line }
            | ParseError::AfterQuote { line }
            | ParseError::Nul { line }
            | ParseError::Bom { line } => *line,
        }
    }

    /// How to fix it.
    pub fn hint(&self) -> &'static str {
        match self {
            ParseError::NotUtf8 { .. } => "save the file as UTF-8; encode binary values (e.g. base64) first",
            ParseError::BadKey { .. } | ParseError::NotAnEntry { .. } => "each line must be `KEY=VALUE`, `# comment` or blank; if that line continues the value above it (a pasted key or certificate), put the whole value in double quotes: KEY=\"first line…last line\"",
            ParseError::ConflictMarker { .. } => "resolve the conflict: keep one value per key, remove the `<<<<<<<`, `=======` and `>>>>>>>` lines (and a `|||||||` line with the base's lines after it), then `git add` the file",
            ParseError::Unterminated { .. } => "close the quote at the end of the value (a `\"` inside double quotes is written `\\\"`)",
            ParseError::AfterQuote { .. } => "end the value at its closing quote, or put the whole value in other quotes; a comment after it starts with ` #`",
            ParseError::Nul { .. } => "remove the NUL byte; encode binary values (e.g. base64) first",
            ParseError::Bom { line: 1 } => "save the file as UTF-8 without BOM (`import` and `sync` read a file with one; a scope file is kept byte for byte, so it may not start with one)",
            ParseError::Bom { .. } => "delete it: a BOM within a file comes from files joined together (`cat a.env b.env`), and no variable name starts with one",
        }
    }
}

pub fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_blank(s: &str) -> bool {
    s.bytes().all(|b| b == b' ' || b == b'\t')
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1
}

/// Splits `text` at the first `\n`: (line without its ending, ending, rest).
fn split_line(text: &str) -> (&str, Eol, &str) {
    match text.find('\n') {
        Some(i) => {
            let (line, eol) = match text[..i].strip_suffix('\r') {
                Some(l) => (l, Eol::CrLf),
                None => (&text[..i], Eol::Lf),
            };
            (line, eol, &text[i + 1..])
        }
        None => (text, Eol::None, ""),
    }
}

/// The UTF-8 byte order mark some editors put at the start of a file.
pub const BOM: char = '\u{feff}';

/// `bytes` without a leading UTF-8 byte order mark: how `import` and `sync` read a file
/// saved "UTF-8 with BOM", as node dotenv does. (A scope file keeps its bytes exactly,
/// so [`Document::parse`] refuses one, naming it.)
pub fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes)
}

impl Document {
    /// Reads a dotenv file. Every byte of `bytes` is kept somewhere in the result.
    pub fn parse(bytes: &[u8]) -> Result<Document, ParseError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ParseError::NotUtf8 {
            line: line_of(bytes, e.valid_up_to()),
        })?;
        if text.starts_with(BOM) {
            return Err(ParseError::Bom { line: 1 });
        }
        if let Some(i) = text.find('\0') {
            return Err(ParseError::Nul {
                line: line_of(bytes, i),
            });
        }
        let mut lines = Vec::new();
        let mut rest = text;
        let mut line_no = 1;
        while !rest.is_empty() {
            let (line, eol, after) = split_line(rest);
            if line.starts_with(BOM) {
                return Err(ParseError::Bom { line: line_no });
            }
            if is_blank(line) {
                lines.push(Line {
                    kind: LineKind::Blank(line.to_owned()),
                    eol,
                });
                rest = after;
                line_no += 1;
                continue;
            }
            if line.trim_start_matches([' ', '\t']).starts_with('#') {
                lines.push(Line {
                    kind: LineKind::Comment(SecretString::new(line.to_owned())),
                    eol,
                });
                rest = after;
                line_no += 1;
                continue;
            }
            let (prefix_len, key) = parse_prefix(line, line_no)?;
            let key = key.to_owned();
            // The value starts after `=`; a quoted one may run over several lines.
            let value_start = prefix_len;
            let body = &rest[value_start..];
            let lead = body.len() - body.trim_start_matches([' ', '\t']).len();
            let quote = body[lead..]
                .chars()
                .next()
                .filter(|c| matches!(c, '"' | '\'' | '`'));
            let (raw_len, eol, consumed_lines) = match quote {
                None => (line.len() - value_start, eol, 1),
                Some(q) => {
                    let open = lead + 1;
                    let close = find_closing(&body[open..], q)
                        .ok_or(ParseError::Unterminated { line: line_no })?
                        + open;
                    // The rest of the physical line after the closing quote.
                    let (tail, eol, _) = split_line(&body[close + 1..]);
                    let tail_trim = tail.trim_start_matches([' ', '\t']);
                    if !(tail_trim.is_empty() || tail_trim.starts_with('#')) {
                        return Err(ParseError::AfterQuote {
                            line: line_no + body[..close].matches('\n').count(),
                        });
                    }
                    let raw_len = close + 1 + tail.len();
                    (raw_len, eol, 1 + body[..close].matches('\n').count())
                }
            };
            let raw = &body[..raw_len];
            lines.push(Line {
                kind: LineKind::Entry(Entry {
                    prefix: rest[..value_start].to_owned(),
                    key,
                    raw: SecretString::new(raw.to_owned()),
                }),
                eol,
            });
            rest = &body[raw_len + eol.as_str().len()..];
            line_no += consumed_lines;
        }
        Ok(Document { lines })
    }

    /// Prints the document back, byte for byte.
    pub fn print(&self) -> SecretString {
        let mut out = String::new();
        for line in &self.lines {
            match &line.kind {
                LineKind::Blank(s) => out.push_str(s),
                LineKind::Comment(s) => out.push_str(s.expose()),
                LineKind::Entry(e) => {
                    out.push_str(&e.prefix);
                    out.push_str(e.raw.expose());
                }
            }
            out.push_str(line.eol.as_str());
        }
        SecretString::new(out)
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.lines.iter().filter_map(|l| match &l.kind {
            LineKind::Entry(e) => Some(e),
            _ => None,
        })
    }

    /// The entry in effect for `key`: the last one, as dotenv loaders do.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries().filter(|e| e.key == key).last()
    }

    /// The raw text (as written, quotes included) of the value in effect for `key`: what
    /// a merge compares.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.get(key).map(|e| e.raw.expose())
    }

    /// The raw text of the entry on logical line `line` (1-based; one line of the
    /// encrypted form, whose lines match the plaintext's logical lines one to one), when
    /// that line is an entry.
    pub fn raw_at(&self, line: usize) -> Option<&str> {
        match &self.lines.get(line.checked_sub(1)?)?.kind {
            LineKind::Entry(e) => Some(e.raw.expose()),
            _ => None,
        }
    }

    /// Key names in file order, each once.
    pub fn keys(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        self.entries()
            .filter(|e| seen.insert(e.key.clone()))
            .map(|e| e.key.clone())
            .collect()
    }

    /// The line ending most lines use, for lines this program adds.
    fn dominant_eol(&self) -> Eol {
        let crlf = self.lines.iter().filter(|l| l.eol == Eol::CrLf).count();
        let lf = self.lines.iter().filter(|l| l.eol == Eol::Lf).count();
        if crlf > lf {
            Eol::CrLf
        } else {
            Eol::Lf
        }
    }

    /// Sets `key` to the already-rendered `raw` text: replaces the entry in effect, or
    /// appends a new one. Returns whether the key existed.
    pub fn set_raw(&mut self, key: &str, raw: SecretString) -> bool {
        self.set_raw_all(vec![(key.to_owned(), raw)])[0]
    }

    /// [`Document::set_raw`] for each of `entries` in turn, with the entries indexed once:
    /// setting n keys one by one scans the file n times, minutes for an import of
    /// 100,000 keys. Returns, for each, whether the key existed (set earlier in
    /// `entries` included).
    pub fn set_raw_all(&mut self, entries: Vec<(String, SecretString)>) -> Vec<bool> {
        // The entry in effect is the last of a key's duplicates.
        let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for (i, line) in self.lines.iter().enumerate() {
            if let LineKind::Entry(e) = &line.kind {
                at.insert(e.key.clone(), i);
            }
        }
        // What `set_raw` appends keeps this the dominant line end.
        let eol = self.dominant_eol();
        entries
            .into_iter()
            .map(|(key, raw)| {
                if let Some(&i) = at.get(&key) {
                    if let LineKind::Entry(e) = &mut self.lines[i].kind {
                        e.raw = raw;
                    }
                    return true;
                }
                if let Some(last) = self.lines.last_mut() {
                    if last.eol == Eol::None {
                        last.eol = eol;
                    }
                }
                at.insert(key.clone(), self.lines.len());
                self.lines.push(Line {
                    kind: LineKind::Entry(Entry {
                        prefix: format!("{key}="),
                        key,
                        raw,
                    }),
                    eol,
                });
                false
            })
            .collect()
    }

    /// Removes every entry for `key` (an earlier duplicate would otherwise take effect).
    /// Returns how many were removed.
    pub fn remove(&mut self, key: &str) -> usize {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(&l.kind, LineKind::Entry(e) if e.key == key));
        before - self.lines.len()
    }
}

/// Parses `[ws][export ws]KEY[ws]=` and returns its length and the key.
fn parse_prefix(line: &str, line_no: usize) -> Result<(usize, &str), ParseError> {
    for marker in ["<<<<<<<", "=======", ">>>>>>>", "|||||||"] {
        if line.starts_with(marker) {
            return Err(ParseError::ConflictMarker { line: line_no });
        }
    }
    let Some(eq) = line.find('=') else {
        return Err(ParseError::NotAnEntry { line: line_no });
    };
    let mut name = line[..eq].trim_matches([' ', '\t']);
    if let Some(rest) = name.strip_prefix("export") {
        if rest.starts_with([' ', '\t']) {
            name = rest.trim_start_matches([' ', '\t']);
        }
    }
    if !is_valid_key(name) {
        return Err(ParseError::BadKey { line: line_no });
    }
    Ok((eq + 1, name))
}

impl Entry {
    /// What this entry means, following dotenv: surrounding whitespace trimmed, quotes
    /// removed, `\n` `\r` `\t` `\"` `\\` unescaped in double quotes, and in an unquoted
    /// value a `#` at its start or after whitespace starting a comment.
    pub fn value(&self) -> Value {
        value_of(self.raw.expose())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_named_where_it_is() {
        assert_eq!(
            Document::parse("\u{feff}A=1\n".as_bytes()),
            Err(ParseError::Bom { line: 1 })
        );
        assert_eq!(
            Document::parse("A=1\n\u{feff}B=2\n".as_bytes()),
            Err(ParseError::Bom { line: 2 })
        );
        // Inside a quoted value, it is the value's.
        let doc = Document::parse("A=\"x\n\u{feff}y\"\n".as_bytes()).unwrap();
        assert_eq!(doc.print().expose(), "A=\"x\n\u{feff}y\"\n");
    }

    #[test]
    fn setting_all_at_once_is_setting_each_in_turn() {
        let texts = [
            "",
            "A=1",
            "A=1\r\nB=2\r\n",
            "# c\nA=1\nA=2\nexport B=3\nC=4\r\n",
            "A=1\r\nB=2\nC=3",
        ];
        let sets = [("A", "x"), ("D", "y"), ("B", "'z'"), ("D", "w"), ("E", "")];
        for text in texts {
            let mut one = Document::parse(text.as_bytes()).unwrap();
            let each: Vec<bool> = sets
                .iter()
                .map(|(k, v)| one.set_raw(k, SecretString::new((*v).into())))
                .collect();
            let mut all = Document::parse(text.as_bytes()).unwrap();
            let existed = all.set_raw_all(
                sets.iter()
                    .map(|(k, v)| ((*k).to_owned(), SecretString::new((*v).into())))
                    .collect(),
            );
            assert_eq!(existed, each, "{text:?}");
            assert_eq!(all.print().expose(), one.print().expose(), "{text:?}");
        }
    }

    fn roundtrip(s: &str) -> Document {
        let doc = Document::parse(s.as_bytes()).unwrap();
        assert_eq!(doc.print().expose(), s);
        doc
    }

    fn val(doc: &Document, key: &str) -> String {
        doc.get(key).unwrap().value().text.expose().to_owned()
    }

    #[test]
    fn values_follow_dotenv() {
        let doc = roundtrip(concat!(
            "A=plain\n",
            "export B = 'single # not comment' # comment\n",
            "C=\"double\\nline\"\r\n",
            "D=`tick`\n",
            "E=\n",
            "F=a#b # comment\n",
            "G=\"multi\nline\nvalue\"\n",
            "  # indented comment\n",
            "\n",
            "H=  spaced value   ",
        ));
        assert_eq!(val(&doc, "A"), "plain");
        assert_eq!(val(&doc, "B"), "single # not comment");
        assert_eq!(val(&doc, "C"), "double\nline");
        assert_eq!(val(&doc, "D"), "tick");
        assert_eq!(val(&doc, "E"), "");
        assert_eq!(val(&doc, "F"), "a#b");
        assert_eq!(val(&doc, "G"), "multi\nline\nvalue");
        assert_eq!(val(&doc, "H"), "spaced value");
        assert_eq!(doc.lines.len(), 10);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            Document::parse(b"A=1\nnot an entry\n"),
            Err(ParseError::NotAnEntry { line: 2 })
        );
        assert_eq!(
            Document::parse(b"A=1\nMY KEY=2\n"),
            Err(ParseError::BadKey { line: 2 })
        );
        assert_eq!(
            Document::parse(b"A=1\nB=\"open\n\nC=3\n"),
            Err(ParseError::Unterminated { line: 2 })
        );
        assert_eq!(
            Document::parse(b"<<<<<<< ours\nA=1\n"),
            Err(ParseError::ConflictMarker { line: 1 })
        );
        assert_eq!(
            Document::parse(b"A=1\nB=\xff\n"),
            Err(ParseError::NotUtf8 { line: 2 })
        );
        assert_eq!(
            Document::parse(b"A='x' y\n"),
            Err(ParseError::AfterQuote { line: 1 })
        );
        let bom = b"\xef\xbb\xbfA=1\n";
        assert_eq!(Document::parse(bom), Err(ParseError::Bom { line: 1 }));
        let doc = Document::parse(strip_bom(bom)).unwrap();
        assert_eq!(doc.keys(), ["A"]);
    }

    // Guards: a line that does not parse is often the rest of a value pasted without
    // quotes; no error, nor its Debug form, quotes any of it.
    #[test]
    fn errors_quote_no_text_of_the_file() {
        for bad in [
            "K=\nhttps://hooks.example/T01/SECRETxyz?x=1\n",
            "K=MIIEv\nk9+ab/SECRETxyz==\n",
            "K=MIIEv\nSECRETxyz\n",
            "K=\"SECRETxyz\n",
            "K='a' SECRETxyz\n",
            "SECRETxyz-1=2\n",
        ] {
            let e = Document::parse(bad.as_bytes()).unwrap_err();
            let shown = format!("{e} {e:?} {}", e.hint());
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(shown.contains(&format!("line {}", e.line())), "{shown}");
        }
    }

    #[test]
    fn set_and_remove_keep_the_rest() {
        let mut doc = roundtrip("# head\r\nA=1\r\nB=2");
        doc.set_raw("B", SecretString::from("3"));
        doc.set_raw("C", SecretString::from("'x y'"));
        assert_eq!(doc.print().expose(), "# head\r\nA=1\r\nB=3\r\nC='x y'\r\n");
        assert_eq!(doc.remove("A"), 1);
        assert_eq!(doc.print().expose(), "# head\r\nB=3\r\nC='x y'\r\n");
    }
}
