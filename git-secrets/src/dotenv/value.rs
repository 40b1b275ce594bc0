//! What an entry's raw text means (quotes removed, escapes applied), and the reverse:
//! writing a value so that it means exactly that, in a form node dotenv and dotenvx read
//! the same way wherever one exists.

use crate::secret::SecretString;

/// The quoting of a value, which decides escapes and reference expansion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quote {
    None,
    Single,
    Double,
    Backtick,
}

/// What an entry means: its value with quotes, escapes and comments removed. References
/// are not expanded here (see crate::expand).
#[derive(Clone, Debug)]
pub struct Value {
    pub text: SecretString,
    pub quote: Quote,
    /// Byte offsets in `text` of each `$` that was written `\$`: a literal dollar, never
    /// the start of a reference. Sorted.
    pub escaped: Vec<usize>,
}

impl Value {
    /// Whether references in it are expanded: every form but single quotes, as dotenvx.
    pub fn expands(&self) -> bool {
        self.quote != Quote::Single
    }

    /// Whether the `$` at byte `i` of the text was written `\$`.
    pub fn is_escaped(&self, i: usize) -> bool {
        self.escaped.binary_search(&i).is_ok()
    }

    /// Whether the value means its text literally: no `$` that could start a reference.
    pub fn is_literal(&self) -> bool {
        !self.expands()
            || self
                .text
                .expose()
                .match_indices('$')
                .all(|(i, _)| self.is_escaped(i))
    }
}

/// Finds the closing quote `q` in `s` (which starts right after the opening quote).
/// In double quotes a backslash escapes the next character; single quotes and
/// backticks are literal, as in the shell.
pub(super) fn find_closing(s: &str, q: char) -> Option<usize> {
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' && q == '"' {
            chars.next();
        } else if c == q {
            return Some(i);
        }
    }
    None
}

/// `s` with each `\$` made a literal `$`, whose offset is pushed to `escaped`.
fn unescape_dollars(s: &str, escaped: &mut Vec<usize>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\\$") {
        out.push_str(&rest[..i]);
        escaped.push(out.len());
        out.push('$');
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out
}

/// What a raw value (everything after `=`) means; FORMAT.md §3.2.
pub fn value_of(raw: &str) -> Value {
    let body = raw.trim_start_matches([' ', '\t']);
    let quote = match body.chars().next() {
        Some('"') => Quote::Double,
        Some('\'') => Quote::Single,
        Some('`') => Quote::Backtick,
        _ => Quote::None,
    };
    let mut escaped = Vec::new();
    let text = match quote {
        Quote::None => {
            let mut end = body.len();
            let mut prev_ws = true;
            for (i, c) in body.char_indices() {
                if c == '#' && prev_ws {
                    end = i;
                    break;
                }
                prev_ws = c == ' ' || c == '\t';
            }
            unescape_dollars(
                body[..end].trim_end_matches([' ', '\t', '\r']),
                &mut escaped,
            )
        }
        Quote::Single | Quote::Backtick => {
            let q = if quote == Quote::Single { '\'' } else { '`' };
            let inner = &body[1..];
            let close = find_closing(inner, q).unwrap_or(inner.len());
            if quote == Quote::Single {
                inner[..close].to_owned()
            } else {
                unescape_dollars(&inner[..close], &mut escaped)
            }
        }
        Quote::Double => {
            let inner = &body[1..];
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('n') => out.push('\n'),
                        Some('r') => out.push('\r'),
                        Some('t') => out.push('\t'),
                        Some('"') => out.push('"'),
                        Some('\\') => out.push('\\'),
                        Some('$') => {
                            escaped.push(out.len());
                            out.push('$');
                        }
                        Some(other) => {
                            out.push('\\');
                            out.push(other);
                        }
                        None => out.push('\\'),
                    },
                    c => out.push(c),
                }
            }
            out
        }
    };
    Value {
        text: SecretString::new(text),
        quote,
        escaped,
    }
}

/// A value written in dotenv syntax.
pub struct Rendered {
    pub raw: SecretString,
    /// Whether node dotenv and dotenvx read `raw` as the same value too (every form but
    /// the last resort, double quotes with `\\`, `\"` or `\$` escapes).
    pub portable: bool,
}

/// Characters a value may hold bare (unquoted) in every reader, and in git-secrets'
/// own first choice of form.
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_-./:@+,%=~^{}*?&!".contains(c)
}

/// How a dotenv file's double quotes write `c` when not as itself: the escapes
/// `render_value` writes (FORMAT.md §3.2), which the hook also searches for.
pub fn double_quote_escape(c: char) -> Option<&'static str> {
    Some(match c {
        '\n' => "\\n",
        '\r' => "\\r",
        '\\' => "\\\\",
        '"' => "\\\"",
        '$' => "\\$",
        _ => return None,
    })
}

/// Writes `value` so that it means exactly `value`, literally: no part of it is a
/// reference, and [`value_of`] gives it back. The first of these that holds it (FORMAT.md
/// §3.2, "Writing values"): bare when every character is plain; double quotes when it has
/// no `"`, `\` or `$`; single quotes when it has no `'` or CR and does not end in `\`;
/// backticks likewise without `` ` `` or `$`; bare when it is one line with no `$` or `#`,
/// no quote at its start and no space at either end; else double quotes with escapes.
/// `None` only for a value holding a NUL, which no dotenv file (nor environment) holds.
pub fn render_value(value: &str) -> Option<Rendered> {
    if value.contains('\0') {
        return None;
    }
    // A bare value starting `gs1:` would be taken for a sealed one (FORMAT.md §3.2).
    let token_like = value.starts_with("gs1:");
    let no = |chars: &[char]| !value.contains(chars);
    let double = || {
        let mut s = String::from("\"");
        for c in value.chars() {
            match double_quote_escape(c) {
                Some(escape) => s.push_str(escape),
                None => s.push(c),
            }
        }
        s.push('"');
        s
    };
    let quoted_literally = |q: char| !value.contains(q) && no(&['\r']) && !value.ends_with('\\');
    let one_line_bare = !value.is_empty()
        && no(&['\n', '\r', '$', '#'])
        && !value.starts_with(['"', '\'', '`', ' ', '\t'])
        && !value.ends_with([' ', '\t']);
    let candidates = [
        (!token_like && value.chars().all(plain)).then(|| value.to_owned()),
        no(&['"', '\\', '$']).then(double),
        quoted_literally('\'').then(|| format!("'{value}'")),
        (quoted_literally('`') && no(&['$'])).then(|| format!("`{value}`")),
        (!token_like && one_line_bare).then(|| value.to_owned()),
    ];
    let means_value = |raw: &str| {
        let v = value_of(raw);
        v.text.expose() == value && v.is_literal()
    };
    if let Some(raw) = candidates.into_iter().flatten().find(|r| means_value(r)) {
        return Some(Rendered {
            raw: SecretString::new(raw),
            portable: true,
        });
    }
    let raw = double();
    debug_assert!(means_value(&raw));
    Some(Rendered {
        raw: SecretString::new(raw),
        portable: false,
    })
}

/// Writes a template: `${NAME}` and `$NAME` in it stay references, `\$` is a literal
/// `$`. Bare when every character is plain (or `$`); else double quotes with escapes.
/// `None` for a NUL.
pub fn render_template(template: &str) -> Option<SecretString> {
    if template.contains('\0') {
        return None;
    }
    let mut escaped = Vec::new();
    let text = unescape_dollars(template, &mut escaped);
    let bare = (!template.starts_with("gs1:") && template.chars().all(|c| plain(c) || c == '$'))
        .then(|| template.to_owned());
    let double = || {
        let mut s = String::from("\"");
        for (i, c) in text.char_indices() {
            match c {
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '$' if escaped.binary_search(&i).is_ok() => s.push_str("\\$"),
                c => s.push(c),
            }
        }
        s.push('"');
        s
    };
    let raw = bare.unwrap_or_else(double);
    let back = value_of(&raw);
    debug_assert!(back.text.expose() == text && back.escaped == escaped);
    Some(SecretString::new(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(raw: &str) -> (String, bool) {
        let v = value_of(raw);
        (v.text.expose().to_owned(), v.is_literal())
    }

    // Guards: `\$` is a literal dollar wherever references expand, as in dotenvx.
    #[test]
    fn backslash_dollar_is_a_literal_dollar() {
        assert_eq!(lit(r#""cost\${AMOUNT}""#), ("cost${AMOUNT}".into(), true));
        assert_eq!(lit(r"\${AMOUNT}"), ("${AMOUNT}".into(), true));
        assert_eq!(lit(r#""\$HOME""#), ("$HOME".into(), true));
        assert_eq!(lit(r"`\$X`"), ("$X".into(), true));
        assert_eq!(lit(r"'\$X'"), (r"\$X".into(), true));
        assert_eq!(lit(r"\\$X"), (r"\$X".into(), true));
        assert_eq!(lit("${X}"), ("${X}".into(), false));
        assert_eq!(lit("`${X}`"), ("${X}".into(), false));
        assert_eq!(lit("'${X}'"), ("${X}".into(), true));
    }

    // Guards: every value is written so that it reads back literally, portably when a
    // form exists that node dotenv and dotenvx read the same.
    #[test]
    fn render_round_trips_awkward_values() {
        for (v, portable) in [
            ("", true),
            ("plain", true),
            ("with space", true),
            ("a#b", true),
            ("quote\"d", true),
            ("it's", true),
            ("line\nbreak", true),
            ("back\\slash", true),
            ("${REF}/x", true),
            ("Hello ${NAME}!", true),
            ("pa$$word", true),
            ("tab\there", true),
            ("ü", true),
            ("C:\\build\\", true),
            ("Xk'9\"q`2", true),
            ("-sk9live2pw", true),
            ("gs1:abc", true),
            ("a'b\"c`d e", true),
            ("a'b\"c`d\ne", false),
            ("it's $5 \"ok\"", false),
            ("a'\"`\nb\\", false),
        ] {
            let r = render_value(v).unwrap();
            assert_eq!(
                lit(r.raw.expose()),
                (v.to_owned(), true),
                "{:?}",
                r.raw.expose()
            );
            assert_eq!(r.portable, portable, "{v:?} as {:?}", r.raw.expose());
            assert!(!r.raw.expose().starts_with("gs1:"));
        }
        assert!(render_value("nul\0").is_none());
    }

    #[test]
    fn templates_keep_references() {
        for (t, text, escaped) in [
            ("pg://${HOST}/db", "pg://${HOST}/db", vec![]),
            ("a b $X", "a b $X", vec![]),
            (r"cost \$5 ${N}", "cost $5 ${N}", vec![5]),
            ("q\"\\\n$X", "q\"\\\n$X", vec![]),
        ] {
            let raw = render_template(t).unwrap();
            let v = value_of(raw.expose());
            assert_eq!(v.text.expose(), text, "{:?}", raw.expose());
            assert_eq!(v.escaped, escaped);
            assert!(v.expands());
        }
    }
}
