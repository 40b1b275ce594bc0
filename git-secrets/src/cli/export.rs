//! `git secrets export [SERVICE] [ENV]`: prints (or writes, 0600) the scope's resolved
//! values, quoted so the output can be sourced. Asks first, like `get --show`.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::dotenv::render_value;
use crate::error::Error;
use crate::fsutil;
use crate::secret::SecretString;

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

/// The values as a dotenv file, and the warning to print when some of them read wrong
/// in node dotenv or dotenvx.
///
/// Each value is written literally: a resolved `${…}` or `$` in it is text now, and
/// reading the file back (git-secrets, dotenv, dotenvx) must not expand it. A value no
/// portable form holds gets the last resort, double quotes with `\` escapes
/// ([`render_value`]), which those readers misread: node dotenv keeps the `\` of every
/// `\\`, `\"` and `\$`, dotenvx that of `\\` and `\"`. Worse, a value ending in `\`
/// ends its line in `\\"`, which both read as an escaped quote: they run its value on
/// over the following lines, up to a `"` followed by a comment or a line's end (a later
/// `"#alerts"`), and the keys in between are lost. So those values are written after
/// every portable one (the ones ending in `\` last of all): a portable key reads the
/// same in every reader whatever else the file holds, and the warning names exactly the
/// keys each reader gets wrong (FORMAT.md §3.2).
fn dotenv_lines(
    values: &std::collections::BTreeMap<String, SecretString>,
) -> Result<(zeroize::Zeroizing<String>, Option<String>), Error> {
    let mut text = zeroize::Zeroizing::new(String::new());
    // (runs on, key, line) of the values in the last-resort form.
    let mut escaped: Vec<(bool, &str, zeroize::Zeroizing<String>)> = Vec::new();
    let mut dotenv_wrong = Vec::new();
    let mut dotenvx_wrong = Vec::new();
    let mut run_on = Vec::new();
    for (k, v) in values {
        let r = render_value(v.expose()).ok_or_else(|| Error::Usage {
            message: format!("the value of {k} holds a NUL byte, which a dotenv file cannot hold"),
            hint: Some("use --format json".into()),
        })?;
        let line = zeroize::Zeroizing::new(format!("{k}={}\n", r.raw.expose()));
        if r.portable {
            text.push_str(&line);
            continue;
        }
        let raw = r.raw.expose();
        dotenv_wrong.push(k.as_str());
        if raw.contains("\\\\") || raw.contains("\\\"") {
            dotenvx_wrong.push(k.as_str());
        }
        let runs_on = v.expose().ends_with('\\');
        if runs_on {
            run_on.push(k.as_str());
        }
        escaped.push((runs_on, k.as_str(), line));
    }
    if escaped.is_empty() {
        return Ok((text, None));
    }
    // Stable: in their own order, those ending in `\` after the others.
    escaped.sort_by_key(|(runs_on, _, _)| *runs_on);
    for (_, _, line) in &escaped {
        text.push_str(line);
    }
    let mut keys: Vec<&str> = escaped.iter().map(|(_, k, _)| *k).collect();
    keys.sort_unstable();
    let mut warning = format!(
        "warning: {} written last, in double quotes with `\\` escapes, the only dotenv form that holds them (a `\'` with a `$`, or every kind of quote with a line break or a final `\\`): git-secrets reads them back exactly, and every other key reads the same in node dotenv and dotenvx; but node dotenv reads {} wrong (it keeps the `\\` of `\\\\`, `\\\"` and `\\$`)",
        keys.join(", "),
        dotenv_wrong.join(", ")
    );
    if dotenvx_wrong.is_empty() {
        warning.push_str(", while dotenvx reads them right");
    } else {
        warning.push_str(&format!(
            ", and dotenvx reads {} wrong (it keeps the `\\` of `\\\\` and `\\\"`)",
            dotenvx_wrong.join(", ")
        ));
    }
    if !run_on.is_empty() {
        warning.push_str(&format!(
            "; {} end(s) in `\\`, which both take for an escaped closing quote, running the value on into the lines after it (so it is written after all the others)",
            run_on.join(", ")
        ));
    }
    warning.push_str("; --format json or shell keep any value");
    Ok((text, Some(warning)))
}

/// Writes the export to `path`, and says whether that made a file. A file is replaced
/// atomically, 0600 ([`fsutil::write_private`]). What is there and is no file (a FIFO,
/// `-o >(…)`'s `/dev/fd/N`, a terminal, `/dev/null`) is written into, as a shell's `>`
/// does: a file renamed over it would leave the values on disk where a pipe was meant
/// and, run as root (a CI container), replace the device node itself. A symbolic link
/// that ends at a file, or nowhere, is refused: the rename would replace the link, not
/// its file, and `/dev/stdout` redirected to a file is such a link, in `/dev`.
fn write_output(path: &Path, bytes: &[u8]) -> Result<bool, Error> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io)?;
        out.write_all(bytes).map_err(io)?;
        return Ok(false);
    }
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        let target = std::fs::canonicalize(path)
            .map(|t| format!("`-o {}`", t.display()))
            .unwrap_or_else(|_| "its target".into());
        return Err(Error::Usage {
            message: format!("{} is a symbolic link", path.display()),
            hint: Some(format!(
                "export writes a new file (mode 0600) in place of the one named, which would replace the link: name the file itself ({target}), or leave out -o to print to stdout"
            )),
        });
    }
    fsutil::write_private(path, bytes, false)?;
    Ok(true)
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
            let (lines, warning) = dotenv_lines(&values)?;
            text.push_str(&lines);
            if let Some(w) = warning {
                eprintln!("{w}");
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
            let file = write_output(&path, text.as_bytes())?;
            eprintln!(
                "wrote {} value(s) of {} to {}{}",
                values.len(),
                scope.label(),
                path.display(),
                if file { " (mode 0600)" } else { "" }
            );
            Ok(())
        }
        None => super::out(&text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(values: &[(&str, &str)]) -> (String, Option<String>) {
        let map = values
            .iter()
            .map(|(k, v)| (k.to_string(), SecretString::from(*v)))
            .collect();
        let (text, warning) = dotenv_lines(&map).unwrap();
        (text.to_string(), warning)
    }

    // Guards (red team 6, 01): a value only the escaped form holds never costs another key
    // in node dotenv or dotenvx: it is written after every portable one (one ending in
    // `\`, which those readers run on into the next lines, last of all), and the warning
    // names exactly the keys each reader gets wrong, never a value.
    #[test]
    fn escaped_values_come_last_and_are_named_per_reader() {
        let (text, warning) = lines(&[
            ("A_DIR", "C:\\$Recycle.Bin\\"),
            ("B_TOKEN", "tok-123"),
            ("C_CHANNEL", "#alerts"),
            ("D_PRICE", "it's $5"),
            ("E_QUOTES", "a'b\"c`d\ne"),
            ("F_PLAIN", "plain"),
        ]);
        let keys: Vec<&str> = text.lines().map(|l| l.split_once('=').unwrap().0).collect();
        assert_eq!(
            keys,
            [
                "B_TOKEN",
                "C_CHANNEL",
                "F_PLAIN",
                "D_PRICE",
                "E_QUOTES",
                "A_DIR"
            ]
        );
        assert!(
            text.ends_with("A_DIR=\"C:\\\\\\$Recycle.Bin\\\\\"\n"),
            "{text}"
        );
        let w = warning.unwrap();
        assert!(
            w.contains("node dotenv reads A_DIR, D_PRICE, E_QUOTES wrong")
                && w.contains("dotenvx reads A_DIR, E_QUOTES wrong")
                && w.contains("A_DIR end(s) in `\\`"),
            "{w}"
        );
        for other in ["B_TOKEN", "C_CHANNEL", "F_PLAIN", "Recycle", "$5", "alerts"] {
            assert!(!w.contains(other), "{other}: {w}");
        }
        let (_, warning) = lines(&[("D_PRICE", "it's $5"), ("B", "b")]);
        let w = warning.unwrap();
        assert!(
            w.contains("node dotenv reads D_PRICE wrong") && w.contains("dotenvx reads them right"),
            "{w}"
        );
        assert_eq!(lines(&[("B", "C:\\x\\"), ("C", "#a")]).1, None);
    }
}
