//! The text a blob holds in encoded form, decoded for check 4's search
//! ([`super::search`]): JSON's `\uXXXX` and `\/` escapes as any writer spells them;
//! base64 (standard or base64url) and hex, whole or line-wrapped, at any offset and
//! alignment ([`super::wrapped`]); and URL (percent) encoding ([`super::percent`]).
//!
//! Decoding the blob, not encoding each value, keeps the index as it is: the hook builds
//! it from every value this identity can read (20,000 in the benchmark) on each commit,
//! and each form filed per value costs about as much as the value itself, while a
//! commit's text is small and is decoded in one pass per encoding (plus, for a run of
//! base64 or hex characters, one decoding at each of its 4 or 2 possible alignments).
//! Every decoding is linear in the text: all together, the decoded texts searched are
//! at most about 7 times as long as the blob, and only as long as the parts of it that
//! can be an encoded text (a JSON escape, a run of base64 or hex characters, a word
//! holding `%XX` or `+`). So:
//! - JSON: every writer's escapes are brought to one spelling, the one git-secrets'
//!   own JSON form of a value has ([`super::search`]): `\u00E9` (.NET, Java), `\u00e9`
//!   (Python, PHP), `\u003c` (Go), `\u0022` for `"` and `\u002B` for `+` (.NET) and
//!   `\/` (PHP) all fall on the character or the short escape, where the value or its
//!   JSON form is found. Forms per writer would be as many as writers (and their options);
//! - base64, hex and URL encoding: decoded, a value is the value itself, every byte of
//!   it fixed, so a match is as unlikely by chance as the value (no shorter "core" of it
//!   is ever matched). They are looked for in the text with its JSON escapes rewritten
//!   (PHP's `\/` inside base64 does not cut it), and never in text they decoded (text
//!   encoded twice is not searched).
//!
//! The raw blob is still searched as it is (a value may hold `\u0041` itself). Each
//! offset of a decoded text maps back to the blob, so a match is said at the line of the
//! blob where its encoded form starts.

use zeroize::Zeroizing;

use super::{percent, wrapped};

/// The offset in the blob that an offset in a decoded text comes from (on the same line).
pub type Back<'a> = &'a dyn Fn(usize) -> usize;

/// Calls `search` with each text `bytes` holds in encoded form, decoded, and with where
/// each of its offsets comes from in `bytes`.
pub fn each_decoded(bytes: &[u8], search: &mut dyn FnMut(&[u8], Back)) {
    let unescaped = unescape(bytes);
    let (text, map): (&[u8], &[(usize, usize)]) = match &unescaped {
        Some((text, map)) => {
            search(text, &|o| back(map, o));
            (text, map)
        }
        None => (bytes, &[]),
    };
    let outer = |o| back(map, o);
    wrapped::each_run(text, &wrapped::BASE64, &outer, search);
    wrapped::each_run(text, &wrapped::HEX, &outer, search);
    percent::each_decoded(text, &outer, search);
}

/// The offset in the blob that offset `o` of the unescaped text comes from. `map` holds
/// (offset in the text, offset in the blob) after each escape replaced.
pub(super) fn back(map: &[(usize, usize)], o: usize) -> usize {
    match map.partition_point(|&(at, _)| at <= o) {
        0 => o,
        n => map[n - 1].1 + (o - map[n - 1].0),
    }
}

type Unescaped = (Zeroizing<Vec<u8>>, Vec<(usize, usize)>);

/// `bytes` with each JSON escape `\uXXXX` (hex digits in either case; a UTF-16 pair as
/// one character) and `\/` written as git-secrets' JSON form of a value has the
/// character ([`push_json`]), and where each replaced escape ended; `None` if there is
/// none. `\\` is kept as it is, so the `u` after an escaped `\` is not read as an escape.
fn unescape(bytes: &[u8]) -> Option<Unescaped> {
    if !bytes
        .windows(2)
        .any(|w| w[0] == b'\\' && matches!(w[1], b'u' | b'/'))
    {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut map = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escape = match (b, bytes.get(i + 1)) {
            (b'\\', Some(b'\\')) => {
                out.extend_from_slice(b"\\\\");
                i += 2;
                continue;
            }
            (b'\\', Some(b'/')) => Some(('/', 2)),
            (b'\\', Some(b'u')) => unicode(&bytes[i..]),
            _ => None,
        };
        match escape {
            Some((c, len)) => {
                push_json(c, &mut out);
                i += len;
                map.push((out.len(), i));
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    (!map.is_empty()).then_some((out, map))
}

/// The character `\uXXXX` at the start of `s` stands for (with the `\uXXXX` of a low
/// surrogate after a high one), and how many bytes it takes; `None` for a lone
/// surrogate or no escape.
fn unicode(s: &[u8]) -> Option<(char, usize)> {
    let unit = |at: usize| -> Option<u32> {
        let hex = s.get(at..at + 6)?.strip_prefix(b"\\u")?;
        let hex = std::str::from_utf8(hex).ok()?;
        u32::from_str_radix(hex, 16)
            .ok()
            .filter(|_| hex.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let high = unit(0)?;
    if let Some(c) = char::from_u32(high) {
        return Some((c, 6));
    }
    let low = unit(6).filter(|u| (0xDC00..0xE000).contains(u))?;
    if !(0xD800..0xDC00).contains(&high) {
        return None;
    }
    char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)).map(|c| (c, 12))
}

/// `c` as git-secrets' JSON form of a value writes it (`super::search`'s `json`): `"`,
/// `\` and the control characters escaped, the rest as it is (UTF-8).
fn push_json(c: char, out: &mut Vec<u8>) {
    let short: &[u8] = match c {
        '"' => b"\\\"",
        '\\' => b"\\\\",
        '\n' => b"\\n",
        '\r' => b"\\r",
        '\t' => b"\\t",
        '\u{8}' => b"\\b",
        '\u{c}' => b"\\f",
        c if u32::from(c) < 0x20 => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let n = u32::from(c) as usize;
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&[HEX[n >> 4], HEX[n & 15]]);
            return;
        }
        c => {
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            return;
        }
    };
    out.extend_from_slice(short);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<usize>)> {
        let mut out = Vec::new();
        each_decoded(bytes, &mut |text, back| {
            out.push((text.to_vec(), (0..text.len()).map(back).collect()));
        });
        out
    }

    // Guards: every writer's escape falls on the spelling of git-secrets' own JSON form.
    #[test]
    fn json_escapes_are_brought_to_one_spelling() {
        let text =
            br#"{"a": "p\u00E4ss\u00f6\/\u002B\u0022\u000A\ud83d\uDE00 \\u0041 \u0001 \uD800x"}"#;
        let d = decoded(text);
        assert_eq!(
            String::from_utf8_lossy(&d[0].0),
            r#"{"a": "pässö/+\"\n😀 \\u0041 \u0001 \uD800x"}"#
        );
        // Offsets map back into the blob, in order.
        assert!(d[0].1.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*d[0].1.last().unwrap(), text.len() - 1);
        for c in (0..0x80u8).map(char::from).chain(['é', '\u{2028}', '😀']) {
            let mut out = Vec::new();
            push_json(c, &mut out);
            let json = super::super::search::json(&c.to_string());
            assert_eq!(out, json.expose().as_bytes(), "{c:?}");
        }
        assert!(decoded(br#"C:\\users\n"#).is_empty());
    }

    // Guards: base64 is decoded at each alignment, across wrapped lines, from either
    // alphabet, and each decoded byte maps back to the line it was on.
    #[test]
    fn base64_is_decoded_at_every_alignment() {
        use base64::Engine;
        let plain = b"A=1\nTOKEN=tok_live_0042~~>>??\nB=2\n".repeat(3);
        for (engine, wrap, url) in [
            (base64::engine::general_purpose::STANDARD, 0, false),
            (base64::engine::general_purpose::URL_SAFE_NO_PAD, 0, true),
            (base64::engine::general_purpose::STANDARD, 16, false),
        ] {
            for prefix in ["x: ", "x: /ab", "x: _a"] {
                let mut b64 = engine.encode(&plain);
                if wrap > 0 {
                    let lines: Vec<String> = b64
                        .as_bytes()
                        .chunks(wrap)
                        .map(|l| String::from_utf8(l.to_vec()).unwrap())
                        .collect();
                    b64 = lines.join("\r\n  ");
                }
                let text = format!("{prefix}{b64}\nnext: line\n");
                let d = decoded(text.as_bytes());
                let (found, back) = d
                    .iter()
                    .find(|(t, _)| t.windows(plain.len()).any(|w| w == plain))
                    .unwrap_or_else(|| panic!("{text}"));
                let at = found.windows(plain.len()).position(|w| w == plain).unwrap();
                let own = if url { ['-', '_'] } else { ['+', '/'] };
                assert!(b64.contains(own), "{b64}");
                let line = super::super::line_at(text.as_bytes(), back[at + plain.len() - 1]);
                let lines = if wrap > 0 { b64.lines().count() } else { 1 };
                assert_eq!(line, lines, "{text}");
            }
        }
        // Too short to hold a searched value: not decoded.
        assert!(decoded(b"abcdefghij").is_empty());
    }
}
