//! `git secrets set [SERVICE] [ENV] KEY [VALUE]`: sets one key. A value not given on the
//! command line is read from stdin, or prompted for without echo at a terminal.

use std::io::{IsTerminal, Read};

use clap::Args;

use crate::dotenv::render_value;
use crate::error::Error;
use crate::secret::SecretString;

use super::{check_key, resolve_scope, ScopeArgs};

/// Set a key (the value from the command line, stdin, or a hidden prompt).
#[derive(Args, Debug)]
pub struct SetArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// [SERVICE] [ENV] KEY [VALUE]
    ///
    /// Without VALUE, the value is read from stdin (or prompted for, hidden, at a
    /// terminal). Read from stdin it is kept byte for byte, with one exception: a
    /// single-line value loses its one final newline (LF or CRLF), so `echo secret | git
    /// secrets set KEY` stores `secret`. A value of several lines (a PEM or OpenSSH private
    /// key, a certificate) keeps every byte, its final newline included: `git secrets set
    /// KEY < id_ed25519` stores the file exactly.
    #[arg(value_name = "WORDS", required = true, num_args = 1..)]
    words: Vec<String>,
}

/// Reads a value from stdin ([`from_stdin`]) or a no-echo prompt.
pub fn read_value(key: &str) -> Result<SecretString, Error> {
    let io = |source| Error::Io {
        path: "<stdin>".into(),
        source,
    };
    if std::io::stdin().is_terminal() {
        let v = rpassword::prompt_password(format!("value for {key}: ")).map_err(io)?;
        return Ok(SecretString::new(v));
    }
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin().read_to_end(&mut buf).map_err(io)?;
    let s = String::from_utf8(buf.to_vec()).map_err(|_| Error::Usage {
        message: format!("the value for {key} read from stdin is not valid UTF-8"),
        hint: Some("values must be text; encode binary data (e.g. base64) first".into()),
    })?;
    Ok(SecretString::new(from_stdin(s)))
}

/// The value meant by `text` read from stdin: a single line loses its one final LF or
/// CRLF (what `echo` and a here-string add); anything with another line break is a
/// multi-line value whose final newline is part of it (a PEM or OpenSSH key file does not
/// load without it), kept byte for byte.
pub fn from_stdin(mut text: String) -> String {
    let body = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if !body.contains('\n') {
        text.truncate(body.len());
    }
    text
}

pub fn render(key: &str, value: &SecretString) -> Result<SecretString, Error> {
    if value.expose().contains('\0') {
        return Err(Error::Usage {
            message: format!(
                "the value for {key} contains a NUL byte, which no environment variable can hold"
            ),
            hint: None,
        });
    }
    render_value(value.expose()).ok_or_else(|| Error::Usage {
        message: format!("the value for {key} cannot be written in dotenv syntax (it holds every kind of quote together with backslashes or line breaks)"),
        hint: Some("encode it (e.g. base64) and decode it in the program".into()),
    })
}

pub fn cmd_set(args: SetArgs) -> Result<(), Error> {
    let mut ws = super::open()?;
    let (scope, rest) = resolve_scope(&mut ws, &args.scope, &args.words, 2, true)?;
    let Some(key) = rest.first() else {
        return Err(super::usage("missing KEY".into()));
    };
    check_key(key)?;
    let mut file = ws.read_scope(&scope)?;
    let value = match rest.get(1) {
        Some(v) => SecretString::from(v.as_str()),
        None => read_value(key)?,
    };
    let raw = render(key, &value)?;
    let existed = file.set(key, raw, None)?;
    let path = ws.write_scope(&scope, &file)?;
    eprintln!(
        "{} {key} in {} ({})",
        if existed { "updated" } else { "set" },
        scope.label(),
        path.strip_prefix(ws.root()).unwrap_or(&path).display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::from_stdin;

    // Guards: `echo v | set` stores `v`; a key file keeps its final newline.
    #[test]
    fn only_a_single_line_loses_its_final_newline() {
        for (input, value) in [
            ("secret\n", "secret"),
            ("secret\r\n", "secret"),
            ("secret", "secret"),
            ("\n", ""),
            ("a\r", "a\r"),
            ("a\nb\n", "a\nb\n"),
            ("a\r\nb\r\n", "a\r\nb\r\n"),
            ("two\n\n", "two\n\n"),
            (
                "-----BEGIN K-----\nabc\n-----END K-----\n",
                "-----BEGIN K-----\nabc\n-----END K-----\n",
            ),
        ] {
            assert_eq!(from_stdin(input.into()), value, "{input:?}");
        }
    }
}
