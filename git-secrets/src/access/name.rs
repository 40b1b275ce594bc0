//! Member names: free text that anyone who can push may edit in access.json, printed to
//! the terminal of an approver who checks fingerprints by them. A name with a carriage
//! return, an escape sequence or a bidi override could redraw the row it sits in (show
//! another member's name and fingerprint over its own), so git-secrets refuses such a
//! name where it writes one ([`check`]) and escapes it wherever it prints one ([`shown`]),
//! since the file may have been written by hand.

use std::fmt;

use crate::error::Error;

/// Characters a terminal does not just draw: control characters (C0, DEL, C1) and the
/// Unicode characters that reorder or break the text around them (bidi embeddings,
/// overrides, isolates and marks; line and paragraph separators).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// The longest name accepted, in characters: enough for a full name and a device, short
/// enough that a row of `member list` still shows the fingerprint.
pub const MAX_LEN: usize = 64;

/// Refuses a name git-secrets is about to write: empty, too long, or holding a character
/// of [`is_unsafe`]. The error shows the name escaped.
pub fn check(name: &str) -> Result<(), Error> {
    let refuse = |what: String| {
        Error::Usage {
        message: format!("the member name `{}` {what}", shown(name)),
        hint: Some(
            "give a plain name with --name (letters, digits, spaces and punctuation), e.g. --name \"Bob (laptop)\"".into(),
        ),
    }
    };
    if name.trim().is_empty() {
        return Err(Error::Usage {
            message: "the member name is empty".into(),
            hint: Some("give a name with --name, e.g. --name \"Bob (laptop)\"".into()),
        });
    }
    if let Some(c) = name.chars().find(|&c| is_unsafe(c)) {
        return Err(refuse(format!(
            "holds the character {}, which a terminal would not print as text (a control character or a bidi override)",
            Escaped(c)
        )));
    }
    if name.chars().count() > MAX_LEN {
        return Err(refuse(format!("is longer than {MAX_LEN} characters")));
    }
    Ok(())
}

/// A name as git-secrets prints it: every character of [`is_unsafe`] escaped (`\x1b`,
/// `\n`, `\u{202e}`), and `\` written `\\` so an escape cannot be faked. Supports width
/// and alignment (`{:<16}`) like a `str`.
pub fn shown(name: &str) -> Shown<'_> {
    Shown(name)
}

pub struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.0.chars().any(|c| is_unsafe(c) || c == '\\') {
            return f.pad(self.0);
        }
        let escaped: String = self.0.chars().map(|c| Escaped(c).to_string()).collect();
        f.pad(&escaped)
    }
}

/// One character, escaped when it is unsafe to print.
struct Escaped(char);

impl fmt::Display for Escaped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            '\\' => f.write_str("\\\\"),
            '\t' => f.write_str("\\t"),
            '\n' => f.write_str("\\n"),
            '\r' => f.write_str("\\r"),
            c if c.is_ascii() && is_unsafe(c) => write!(f, "\\x{:02x}", u32::from(c)),
            c if is_unsafe(c) => write!(f, "\\u{{{:x}}}", u32::from(c)),
            c => write!(f, "{c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Guards: a name cannot redraw the terminal row it is printed in.
    #[test]
    fn unsafe_characters_are_escaped() {
        assert_eq!(shown("bob").to_string(), "bob");
        assert_eq!(shown("Zoë Ünal").to_string(), "Zoë Ünal");
        assert_eq!(
            shown("bob\r\x1b[2Kalice\n").to_string(),
            "bob\\r\\x1b[2Kalice\\n"
        );
        assert_eq!(
            shown("a\u{202e}b\u{2066}").to_string(),
            "a\\u{202e}b\\u{2066}"
        );
        assert_eq!(shown("\u{85}\x7f").to_string(), "\\u{85}\\x7f");
        assert_eq!(shown("dom\\bob").to_string(), "dom\\\\bob");
        assert_eq!(format!("[{:<6}]", shown("a\x1b")), "[a\\x1b ]");
        let s = "bob\r\x1b[2K\u{202e}\u{2069}\u{200f}\u{2028}\u{9b}x";
        assert!(!shown(s).to_string().chars().any(is_unsafe));
    }

    #[test]
    fn check_refuses_what_would_be_escaped() {
        assert!(check("Bob (laptop)").is_ok());
        assert!(check("Zoë").is_ok());
        for bad in [
            "",
            "  ",
            "bob\r",
            "a\x1b[8m",
            "x\u{202e}y",
            "x\u{2067}",
            "\t",
        ] {
            let e = check(bad).unwrap_err().to_string();
            assert!(!e.chars().any(is_unsafe), "{e:?}");
        }
        assert!(check(&"n".repeat(MAX_LEN)).is_ok());
        assert!(check(&"n".repeat(MAX_LEN + 1)).is_err());
    }
}
