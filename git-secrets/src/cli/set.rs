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
    #[arg(value_name = "WORDS", required = true, num_args = 1..)]
    words: Vec<String>,
}

/// Reads a value from stdin (one trailing newline removed) or a no-echo prompt.
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
    let mut s = String::from_utf8(buf.to_vec()).map_err(|_| Error::Usage {
        message: format!("the value for {key} read from stdin is not valid UTF-8"),
        hint: Some("values must be text; encode binary data (e.g. base64) first".into()),
    })?;
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    Ok(SecretString::new(s))
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
