//! `git secrets export [SERVICE] [ENV]`: prints (or writes, 0600) the scope's resolved
//! values, quoted so the output can be sourced. Asks first, like `get --show`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::dotenv::render_value;
use crate::error::Error;
use crate::fsutil;

use super::{confirm, resolve_scope, run::resolved_values, ScopeArgs};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// `export KEY='value'` lines for sh/bash/zsh `source`.
    Shell,
    /// A dotenv file.
    Dotenv,
    /// A JSON object.
    Json,
}

/// Print a scope's values (shared ones and references resolved).
#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// [SERVICE] [ENV]
    #[arg(value_name = "SCOPE")]
    words: Vec<String>,
    #[arg(long, value_enum, default_value = "shell")]
    format: Format,
    /// Write to this file (created 0600) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Do not ask before revealing.
    #[arg(long, short = 'y')]
    yes: bool,
}

/// Single-quotes for POSIX shells: `'` becomes `'\''`.
fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "'\\''"))
}

pub fn cmd_export(args: ExportArgs) -> Result<(), Error> {
    let mut ws = super::open()?;
    let (scope, _) = resolve_scope(&mut ws, &args.scope, &args.words, 0, false)?;
    let values = resolved_values(&ws, &scope)?;
    confirm(
        &format!("reveal every value of {}?", scope.label()),
        args.yes,
    )?;
    let mut text = zeroize::Zeroizing::new(String::new());
    match args.format {
        Format::Shell => {
            for (k, v) in &values {
                text.push_str(&format!("export {k}={}\n", shell_quote(v.expose())));
            }
        }
        Format::Dotenv => {
            // Each value written literally: a resolved `${…}` or `$` in it is text now,
            // and reading the file back (git-secrets, dotenv, dotenvx) must not expand it.
            let mut not_portable = Vec::new();
            for (k, v) in &values {
                let r = render_value(v.expose()).ok_or_else(|| Error::Usage {
                    message: format!(
                        "the value of {k} holds a NUL byte, which a dotenv file cannot hold"
                    ),
                    hint: Some("use --format json".into()),
                })?;
                if !r.portable {
                    not_portable.push(k.as_str());
                }
                text.push_str(&format!("{k}={}\n", r.raw.expose()));
            }
            if !not_portable.is_empty() {
                eprintln!(
                    "warning: {} written in double quotes with `\\` escapes, the only dotenv form that holds them (a `'` with a `$`, or every kind of quote with a line break or a final `\\`): git-secrets reads them back exactly, node dotenv and dotenvx may not; --format json or shell keep any value",
                    not_portable.join(", ")
                );
            }
        }
        Format::Json => {
            let map: std::collections::BTreeMap<&str, &str> = values
                .iter()
                .map(|(k, v)| (k.as_str(), v.expose()))
                .collect();
            text.push_str(&serde_json::to_string_pretty(&map).expect("strings serialise"));
            text.push('\n');
        }
    }
    match args.output {
        Some(path) => {
            fsutil::write_private(&path, text.as_bytes(), false)?;
            eprintln!(
                "wrote {} value(s) of {} to {} (mode 0600)",
                values.len(),
                scope.label(),
                path.display()
            );
            Ok(())
        }
        None => super::out(&text),
    }
}
