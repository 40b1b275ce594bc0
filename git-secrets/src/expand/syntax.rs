//! The syntax of references in a value: literal text, `$NAME`, `${NAME}` and the shell
//! forms `${NAME<op>word}` (op one of `:-` `-` `:+` `+` `:?` `?`, as POSIX sh and dotenvx
//! write them), whose word is text with references of its own.
//!
//! A value is parsed into sequences of parts: the first is the value itself, each other
//! is the word of one shell form, referred to by its index, so that a word is expanded
//! only when it is used (a default for a variable that is set is never looked at, as in
//! the shell). The parse keeps an explicit stack of the `${` still open, so forms nested
//! to any depth neither recurse nor exhaust the call stack.

use std::ops::Range;

use super::{is_withheld, ExpandError};
use crate::dotenv::{is_valid_key, Value};

/// What a shell form gives in place of the variable's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `${NAME:-word}`, `${NAME-word}`: the value when set, else the word.
    Default,
    /// `${NAME:+word}`, `${NAME+word}`: the word when set, else nothing.
    Alternate,
    /// `${NAME:?message}`, `${NAME?message}`: the value when set, else an error (which
    /// never shows the message: it is text of the value).
    Required,
}

/// A shell form's operator and word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Form {
    pub op: Op,
    /// With the colon an empty value counts as unset.
    pub colon: bool,
    /// The index of the word's sequence.
    pub word: usize,
}

/// A piece of a value: literal text (a range of the value's text) or a reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Lit(Range<usize>),
    /// `name` is a range of the text; `at` the 1-based character position of the `$`.
    Ref {
        name: Range<usize>,
        at: usize,
        form: Option<Form>,
    },
}

/// The operator at the start of `rest` (right after a name in `${`), and its length.
fn operator(rest: &str) -> Option<(Op, bool, usize)> {
    [
        (":-", Op::Default),
        (":+", Op::Alternate),
        (":?", Op::Required),
        ("-", Op::Default),
        ("+", Op::Alternate),
        ("?", Op::Required),
    ]
    .into_iter()
    .find(|(s, _)| rest.starts_with(s))
    .map(|(s, op)| (op, s.len() == 2, s.len()))
}

/// The length of the run of name characters at the start of `s`.
fn name_len(s: &str) -> usize {
    s.bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count()
}

/// A `${NAME<op>` whose `}` is not yet read.
struct Open {
    name: Range<usize>,
    at: usize,
    op: Op,
    colon: bool,
    word: usize,
}

/// Splits `value` (of `key`) into sequences of parts; the first is the value's. A
/// reference to a withheld name is an error here, wherever it is (a word that would
/// never be used included), so no form can ask about the identity.
pub fn parse(key: &str, value: &Value) -> Result<Vec<Vec<Part>>, ExpandError> {
    let text = value.text.expose();
    if !value.expands() {
        return Ok(vec![vec![Part::Lit(0..text.len())]]);
    }
    let err_at = |at, make: fn(String, usize) -> ExpandError| make(key.to_owned(), at);
    let mut seqs: Vec<Vec<Part>> = vec![Vec::new()];
    let mut open: Vec<Open> = Vec::new();
    let mut lit_start = 0;
    let mut i = 0;
    // The number of characters before byte `counted`, kept as `i` moves on, so a value
    // with many references is not counted again from its start for each.
    let (mut counted, mut chars) = (0, 0);
    let bytes = text.as_bytes();
    // Only ASCII bytes are acted on, so every index sliced at is a character boundary.
    while i < bytes.len() {
        let seq = open.last().map_or(0, |o| o.word);
        let flush = |seqs: &mut Vec<Vec<Part>>, end: usize| {
            if lit_start < end {
                seqs[seq].push(Part::Lit(lit_start..end));
            }
        };
        match bytes[i] {
            b'$' if !value.is_escaped(i) => {
                chars += text[counted..i].chars().count();
                counted = i;
                let at = chars + 1;
                let withheld = |name: &Range<usize>| {
                    if is_withheld(&text[name.clone()]) {
                        Err(err_at(at, |key, at| ExpandError::Withheld { key, at }))
                    } else {
                        Ok(())
                    }
                };
                if bytes.get(i + 1) == Some(&b'{') {
                    let start = i + 2;
                    let name = start..start + name_len(&text[start..]);
                    let rest = &text[name.end..];
                    if rest.is_empty() {
                        return Err(err_at(at, |key, at| ExpandError::Unclosed { key, at }));
                    }
                    let form = if rest.starts_with('}') {
                        None
                    } else {
                        operator(rest)
                    };
                    if !is_valid_key(&text[name.clone()])
                        || (form.is_none() && !rest.starts_with('}'))
                    {
                        return Err(err_at(at, |key, at| ExpandError::NotAName { key, at }));
                    }
                    withheld(&name)?;
                    flush(&mut seqs, i);
                    match form {
                        None => {
                            i = name.end + 1;
                            seqs[seq].push(Part::Ref {
                                name,
                                at,
                                form: None,
                            });
                        }
                        Some((op, colon, len)) => {
                            i = name.end + len;
                            seqs.push(Vec::new());
                            open.push(Open {
                                name,
                                at,
                                op,
                                colon,
                                word: seqs.len() - 1,
                            });
                        }
                    }
                    lit_start = i;
                    continue;
                }
                let starts = bytes
                    .get(i + 1)
                    .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_');
                if starts {
                    let name = i + 1..i + 1 + name_len(&text[i + 1..]);
                    withheld(&name)?;
                    flush(&mut seqs, i);
                    i = name.end;
                    seqs[seq].push(Part::Ref {
                        name,
                        at,
                        form: None,
                    });
                    lit_start = i;
                    continue;
                }
                i += 1;
            }
            // In a word `\}` is a literal `}` (the backslash dropped), as in the shell.
            b'\\' if !open.is_empty() && bytes.get(i + 1) == Some(&b'}') => {
                flush(&mut seqs, i);
                lit_start = i + 1;
                i += 2;
            }
            // The `}` that closes the innermost open form; outside one it is literal.
            b'}' if !open.is_empty() => {
                flush(&mut seqs, i);
                let o = open.pop().expect("a form is open");
                let parent = open.last().map_or(0, |p| p.word);
                seqs[parent].push(Part::Ref {
                    name: o.name,
                    at: o.at,
                    form: Some(Form {
                        op: o.op,
                        colon: o.colon,
                        word: o.word,
                    }),
                });
                i += 1;
                lit_start = i;
            }
            _ => i += 1,
        }
    }
    if let Some(o) = open.first() {
        return Err(err_at(o.at, |key, at| ExpandError::Unclosed { key, at }));
    }
    if lit_start < text.len() {
        seqs[0].push(Part::Lit(lit_start..text.len()));
    }
    Ok(seqs)
}
