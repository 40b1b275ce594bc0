//! URL (percent) encoding, decoded for check 4's search ([`super::encoded`]): a
//! password in a connection string (`postgres://app:p%40ss%2Fw0rd@db/app` in a compose
//! file or a config), a query string, a form body.
//!
//! Only the words (runs of bytes between white space) that hold an escape are decoded:
//! an encoder escapes white space itself, so an encoded value never spans two words.
//! `%XX` is read with hex digits of either case. `+` is a space in form encoding
//! (`application/x-www-form-urlencoded`, Python's `quote_plus`) but itself in a URL's
//! user info or path (Go's `url.UserPassword`, RFC 3986 leaves it), so a word holding a
//! `+` is decoded both ways. A match is the value itself, every byte of it, once decoded.
//!
//! Cost: one pass over the text to find the words; the decoded words (at most as long as
//! the words holding `%XX` or `+`) are searched once, and once more those holding a `+`.

use zeroize::Zeroizing;

use super::encoded::{back, Back};

/// Calls `search` with the words of `text` holding an escape, decoded (each followed by
/// a line break, so no match spans two), and with where each of its offsets comes from
/// in the blob (`outer` maps an offset of `text` there).
pub fn each_decoded(text: &[u8], outer: Back, search: &mut dyn FnMut(&[u8], Back)) {
    if !text.iter().any(|&b| b == b'%' || b == b'+') {
        return;
    }
    for plus_is_space in [false, true] {
        // Built at its final size (each word at most as long decoded, and a line break
        // after each): no copy of a value is left behind by a growing buffer.
        let mut out = Zeroizing::new(Vec::with_capacity(text.len() + 1));
        // (offset in `out`, offset in `text`) at each word's start and after each escape.
        let mut map = Vec::new();
        for (start, word) in words(text) {
            let escaped = word.windows(3).any(|w| escape(w).is_some());
            let plus = word.contains(&b'+');
            if !(if plus_is_space { plus } else { escaped }) {
                continue;
            }
            map.push((out.len(), start));
            let mut i = 0;
            while i < word.len() {
                if let Some(b) = escape(&word[i..]) {
                    out.push(b);
                    i += 3;
                    map.push((out.len(), start + i));
                } else {
                    out.push(if plus_is_space && word[i] == b'+' {
                        b' '
                    } else {
                        word[i]
                    });
                    i += 1;
                }
            }
            out.push(b'\n');
        }
        if !map.is_empty() {
            search(&out, &|o| outer(back(&map, o)));
        }
    }
}

/// Each run of bytes of `text` between white space (or control characters), with its
/// offset.
fn words(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
    text.split(|&b| b <= b' ' || b == 0x7F)
        .filter_map(move |word| {
            let start = at;
            at += word.len() + 1;
            (!word.is_empty()).then_some((start, word))
        })
}

/// The byte `%XX` at the start of `s` stands for.
fn escape(s: &[u8]) -> Option<u8> {
    let &[b'%', hi, lo, ..] = s else {
        return None;
    };
    let digit = |d: u8| char::from(d).to_digit(16);
    Some((digit(hi)? << 4 | digit(lo)?) as u8)
}

#[cfg(test)]
mod tests {
    use super::super::encoded::each_decoded;
    use super::super::line_at;

    /// The lines of `text` where `plain` is found decoded.
    fn found_at(text: &str, plain: &str) -> Vec<usize> {
        let mut lines = Vec::new();
        each_decoded(text.as_bytes(), &mut |decoded, back| {
            let p = plain.as_bytes();
            for at in (0..decoded.len()).filter(|&at| decoded[at..].starts_with(p)) {
                lines.push(line_at(text.as_bytes(), back(at)));
            }
        });
        lines.sort_unstable();
        lines.dedup();
        lines
    }

    // Guards: `%XX` with either case of hex digits, `+` as a space (form encoding) or as
    // itself (a URL's user info), and the match said at the line of its encoded form;
    // never across two words, and `%` without two hex digits after it is itself.
    #[test]
    fn percent_escapes_and_plus_are_decoded() {
        let value = "p@ss/w0rd:x";
        for text in [
            "a: 1\nurl: postgres://app:p%40ss%2Fw0rd%3Ax@db:5432/app\n",
            "a: 1\nurl: \"postgres://app:p%40ss%2fw0rd%3ax@db\"\n",
            "a: 1\n{\"u\": \"postgres:\\/\\/app:p%40ss%2fw0rd%3ax@db\"}\n",
        ] {
            assert_eq!(found_at(text, value), vec![2], "{text}");
        }
        let spaced = "my pass+word 0042";
        for text in [
            "x\nbody=user%3Dme&pw=my+pass%2Bword+0042\n",
            "x\nurl=https://me:my%20pass+word%200042@host\n",
        ] {
            assert_eq!(found_at(text, spaced), vec![2], "{text}");
        }
        assert_eq!(found_at("p%40ss%2F w0rd%3Ax\n", value), Vec::<usize>::new());
        assert_eq!(found_at("100%4Fpass%zz%4\n", "100Opass%zz%4"), vec![1]);
        assert_eq!(
            found_at("no escapes here\n", "escapes"),
            Vec::<usize>::new()
        );
    }
}
