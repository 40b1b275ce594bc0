//! Base64 (standard or base64url) and hex, decoded for check 4's search
//! ([`super::encoded`]): each run of the encoding's characters, also when an encoder
//! wrapped it across lines, decoded at each of its possible alignments.
//!
//! Both encodings give each character a fixed number of bits, so a value inside a longer
//! encoded text (a whole `.env` file, or `KEY=value`, encoded at once; a hex dump of a
//! buffer) starts at a group boundary of one alignment of the run: decoded there, it is
//! the value itself, every byte of it fixed by characters of its own, so a match is as
//! unlikely by chance as the value (no shorter "core" of it is ever matched).
//!
//! A wrapped text goes on at the start of the next line (after any indentation): `base64`
//! wraps at 76, `openssl base64` and PEM at 64, `base64 -w N` at any N, `xxd -p` at 60.
//! A line of `-w 50` is not a whole number of 4-character groups, so the line break can
//! fall inside a group: the run is joined across it whatever its length, and only then
//! decoded. The line break may be written as an escape (`\n`, `\r\n`) in a JSON or
//! dotenv string. A run is joined to the next line's when it is at least
//! [`MIN_WRAPPED`] long and ends at the line break: joining lines that are not an
//! encoded text costs a decoding of characters that are decoded anyway, never a false
//! match (a value's bytes come from its own characters only).
//!
//! Cost: every character of a run is decoded once per alignment (4 for base64, 2 for
//! hex) and the decoded text searched; decoded text is 3/4 (base64) or 1/2 (hex) of
//! its characters, so the search reads at most 3 times (base64) and once (hex) the
//! length of the runs, in one pass each.

use zeroize::Zeroizing;

use super::encoded::Back;
use super::search::MIN_LEN;

/// A wrapped line is at least this long (`base64 -w 16`); a shorter run at a line's
/// end is never joined to the next line.
const MIN_WRAPPED: usize = 16;

const NOT: u8 = 0xFF;

/// An encoding in which each character stands for a fixed number of bits.
pub struct Encoding {
    /// The value of each character (`NOT` for a character that is not one).
    table: [u8; 256],
    /// Characters per group of whole bytes: the alignments a value may start at.
    group: usize,
    /// The fewest characters that can hold a searched value ([`MIN_LEN`] bytes).
    min_chars: usize,
    /// The bytes the characters' values encode, into `out` (a last byte whose bits are
    /// not all there is left out).
    decode: fn(&[u8], &mut Vec<u8>),
    /// The character (of a run decoded from a group boundary) decoded byte `d` starts in.
    char_of: fn(usize) -> usize,
}

// Decoded by hand, not with the `base64` or `hex` crates: their engines refuse a run
// that does not end on a group boundary, that mixes the two alphabets, or that starts
// mid-group, and each of those is what a value inside a longer encoded text looks like.

/// Base64, both alphabets in one table: base64url's `-` and `_` are 62 and 63, as `+`
/// and `/`, so it costs nothing more.
pub static BASE64: Encoding = Encoding {
    table: {
        let mut t = [NOT; 256];
        let mut i = 0;
        while i < 26 {
            t[b'A' as usize + i] = i as u8;
            t[b'a' as usize + i] = 26 + i as u8;
            if i < 10 {
                t[b'0' as usize + i] = 52 + i as u8;
            }
            i += 1;
        }
        t[b'+' as usize] = 62;
        t[b'-' as usize] = 62;
        t[b'/' as usize] = 63;
        t[b'_' as usize] = 63;
        t
    },
    group: 4,
    min_chars: (MIN_LEN * 8).div_ceil(6),
    decode: decode_base64,
    char_of: |d| d / 3 * 4 + d % 3,
};

/// Hex, lower- or upper-case digits (or both mixed).
pub static HEX: Encoding = Encoding {
    table: {
        let mut t = [NOT; 256];
        let mut i = 0;
        while i < 16 {
            let digit = if i < 10 { b'0' + i } else { b'a' + i - 10 };
            t[digit as usize] = i;
            t[digit.to_ascii_uppercase() as usize] = i;
            i += 1;
        }
        t
    },
    group: 2,
    min_chars: MIN_LEN * 2,
    decode: decode_hex,
    char_of: |d| d * 2,
};

/// Calls `search` with the text each run of `encoding`'s characters in `text` (joined
/// across wrapped lines) encodes, decoded at each alignment, and with where each of its
/// offsets comes from in the blob (`back` maps an offset of `text` there).
pub fn each_run(text: &[u8], encoding: &Encoding, back: Back, search: &mut dyn FnMut(&[u8], Back)) {
    let is = |b: u8| encoding.table[usize::from(b)] != NOT;
    // The characters' values of the current run, and where in `text` each of its
    // segments (one per line) starts: (index in `chars`, offset).
    // Both at their final size (a run is at most `text`, and decoded shorter): no copy
    // of a value is left behind by a growing buffer.
    let mut chars = Zeroizing::new(Vec::with_capacity(text.len()));
    let mut segments: Vec<(usize, usize)> = Vec::new();
    let mut decoded = Zeroizing::new(Vec::with_capacity(text.len()));
    let mut flush = |chars: &mut Vec<u8>, segments: &mut Vec<(usize, usize)>| {
        for skip in 0..encoding.group {
            if chars.len() < skip + encoding.min_chars {
                break;
            }
            (encoding.decode)(&chars[skip..], &mut decoded);
            let source = |d: usize| {
                let c = skip + (encoding.char_of)(d);
                let s = segments.partition_point(|&(at, _)| at <= c) - 1;
                back(segments[s].1 + (c - segments[s].0))
            };
            search(&decoded, &source);
        }
        chars.clear();
        segments.clear();
    };
    let mut i = 0;
    while i < text.len() {
        if !is(text[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len() && is(text[i]) {
            i += 1;
        }
        segments.push((chars.len(), start));
        chars.extend(
            text[start..i]
                .iter()
                .map(|&b| encoding.table[usize::from(b)]),
        );
        let next = (i - start >= MIN_WRAPPED)
            .then(|| next_line(text, i))
            .flatten();
        match next {
            Some(next) if text.get(next).is_some_and(|&b| is(b)) => i = next,
            _ => flush(&mut chars, &mut segments),
        }
    }
}

/// Where the text of the line after the line break at `at` starts (after its
/// indentation), if there is a line break at `at`: LF or CR LF, or their escapes in
/// a quoted string (`\n`, `\r\n`).
fn next_line(text: &[u8], at: usize) -> Option<usize> {
    let rest = &text[at..];
    let rest = [&b"\r\n"[..], b"\n", b"\\r\\n", b"\\n"]
        .iter()
        .find_map(|brk| rest.strip_prefix(*brk))?;
    let indent = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    Some(text.len() - rest.len() + indent)
}

fn decode_base64(chars: &[u8], out: &mut Vec<u8>) {
    out.clear();
    for group in chars.chunks(4) {
        let c = |i: usize| group.get(i).copied().unwrap_or(0);
        let bytes = [
            c(0) << 2 | c(1) >> 4,
            c(1) << 4 | c(2) >> 2,
            c(2) << 6 | c(3),
        ];
        out.extend_from_slice(&bytes[..group.len().saturating_sub(1)]);
    }
}

fn decode_hex(chars: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend(chars.chunks_exact(2).map(|pair| pair[0] << 4 | pair[1]));
}

#[cfg(test)]
mod tests {
    use super::super::encoded::each_decoded;
    use super::super::line_at;

    /// The line of `text` where `plain` is found decoded, if it is.
    fn found_at(text: &str, plain: &[u8]) -> Option<usize> {
        let mut line = None;
        each_decoded(text.as_bytes(), &mut |decoded, back| {
            if let Some(at) = decoded.windows(plain.len()).position(|w| w == plain) {
                line = line.or(Some(line_at(text.as_bytes(), back(at))));
            }
        });
        line
    }

    fn wrap(encoded: &str, width: usize, sep: &str) -> String {
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(width)
            .map(|l| std::str::from_utf8(l).unwrap())
            .collect();
        lines.join(sep)
    }

    // Guards: a text wrapped at any width (a line break inside a 4-character group, as
    // `base64 -w 50` writes it; hex as `xxd -p` writes it), with the line break as it
    // is or escaped in a quoted string, is decoded across it, the value at every byte
    // offset; and the match is said at the line its encoded form starts on.
    #[test]
    fn a_text_wrapped_at_any_width_is_decoded_across_its_lines() {
        use base64::Engine;
        let value = b"k8s-db-password-0042";
        for filler in 0..12 {
            let plain = [&b"#".repeat(40 + filler)[..], b"K=", value, b"\nB=2\n"].concat();
            let b64 = base64::engine::general_purpose::STANDARD.encode(&plain);
            let lower: String = plain.iter().map(|b| format!("{b:02x}")).collect();
            let upper = lower.to_uppercase();
            // The value's first byte starts in this character of the encoded text.
            let start = 40 + filler + 2;
            let b64_char = start / 3 * 4 + start % 3;
            for (encoded, width, char) in [
                (&b64, 50, b64_char),
                (&b64, 17, b64_char),
                (&lower, 60, start * 2),
                (&upper, 30, start * 2),
            ] {
                for sep in ["\n", "\r\n    ", "\\n", "\\r\\n"] {
                    let text = format!("x: a{}\nnext: line\n", wrap(encoded, width, sep));
                    let line = found_at(&text, value).unwrap_or_else(|| panic!("{text}"));
                    // With `\n` escapes, the text is one line.
                    let escaped = sep.contains('\\');
                    let want = if escaped { 1 } else { char / width + 1 };
                    assert_eq!(line, want, "{text}");
                }
            }
        }
        // A run shorter than a wrapped line is not joined to the next line.
        let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
        let text = format!("{}\n{}\n", &hex[..14], &hex[14..]);
        assert_eq!(found_at(&text, value), None);
    }

    // Guards: hex is decoded at both alignments, in either case or both mixed; a value
    // with one bit changed at either end is not what is decoded.
    #[test]
    fn hex_is_decoded_at_both_alignments_in_either_case() {
        let value = b"p@ss/w0rd:x-0042";
        for prefix in ["", "a", "0x", "deadbeef"] {
            let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
            let mixed: String = hex
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 3 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            for h in [&hex, &hex.to_uppercase(), &mixed] {
                assert_eq!(found_at(&format!("dump: {prefix}{h}\n"), value), Some(1));
            }
        }
        for near in [&b"q@ss/w0rd:x-0042"[..], b"p@ss/w0rd:x-0043"] {
            let hex: String = near.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(found_at(&hex, value), None);
        }
    }
}
