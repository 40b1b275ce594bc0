//! `git secrets set [SERVICE] [ENV] KEY [VALUE]`: sets one key. A value not given on the
//! command line is read from stdin, or prompted for without echo at a terminal.
//!
//! The word after KEY is the value, whatever it starts with: a generated password such
//! as `-sk9…` is never read as an option (which would name a service after the rest of
//! it). Options go before KEY. The value is stored literally unless `--expand` says its
//! `${NAME}`/`$NAME` are references.

use std::io::{IsTerminal, Read};

use clap::Args;

use crate::config::Config;
use crate::dotenv::{render_template, render_value};
use crate::error::Error;
use crate::secret::SecretString;

use super::{check_key, resolve_scope, ScopeArgs};

/// Set a key (the value from the command line, stdin, or a hidden prompt).
#[derive(Args, Debug)]
pub struct SetArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// Keep `${NAME}` and `$NAME` in the value as references to other keys (or the
    /// environment), resolved by `run` and `export`; `\$` is then a literal `$`. Without
    /// it the value is stored exactly as given.
    #[arg(long)]
    expand: bool,
    /// [SERVICE] [ENV] KEY [VALUE]
    ///
    /// Options go before KEY: the word after KEY is always the value, even when it starts
    /// with `-` (`--` right after KEY is skipped, so `set KEY -- --shared` stores
    /// `--shared`). A KEY in lowercase is taken for a misspelt service or environment
    /// when a VALUE follows it; give such a key its value on stdin.
    ///
    /// Without VALUE, the value is read from stdin (or prompted for, hidden, at a
    /// terminal); nothing on stdin is an error, never an empty value. Read from stdin it
    /// is kept byte for byte, with one exception: a single-line value loses its one final
    /// newline (LF or CRLF), so `echo secret | git secrets set KEY` stores `secret`. A
    /// value of several lines (a PEM or OpenSSH private key, a certificate) keeps every
    /// byte, its final newline included: `git secrets set KEY < id_ed25519` stores the
    /// file exactly. An empty value is set with `git secrets set KEY ''`.
    #[arg(value_name = "WORDS", required = true, num_args = 1.., allow_hyphen_values = true)]
    words: Vec<String>,
}

/// The words of `set`, told apart.
#[derive(Debug, Default)]
struct Words {
    /// The scope flags, those given among the words included.
    scope: ScopeArgs,
    expand: bool,
    /// The positional service and environment words.
    scope_words: Vec<String>,
    key: Option<String>,
    value: Option<String>,
    /// How many words came after the value (never shown: they may hold it).
    extra: usize,
}

/// Spellings of set's options: a VALUE spelt so was meant as the option.
const OPTIONS: &[&str] = &[
    "--shared",
    "--expand",
    "--env",
    "--service",
    "-s",
    "-e",
    "--help",
    "-h",
];

/// Tells the words apart: before KEY, options and scope words (a known service first,
/// then a known environment, as [`resolve_scope`] reads them); the first other word is
/// KEY; the word after it the value; `--` right after KEY is skipped.
fn split_words(args: &SetArgs, config: &Config) -> Result<Words, Error> {
    let mut w = Words {
        scope: args.scope.clone(),
        expand: args.expand,
        ..Words::default()
    };
    let mut tokens = args.words.iter();
    let mut dashdash = false;
    while let Some(t) = tokens.next() {
        if w.key.is_none() {
            let flag_value = |name: &str| -> Option<Option<String>> {
                let short = &name[1..3];
                if t == name || t == short {
                    Some(None)
                } else if let Some(v) = t.strip_prefix(&format!("{name}=")) {
                    Some(Some(v.to_owned()))
                } else {
                    // `-eproduction` and `-e=production`, as clap reads them for every
                    // other command (`get -e=production`).
                    t.strip_prefix(short)
                        .filter(|v| !v.is_empty() && !t.starts_with("--"))
                        .map(|v| Some(v.strip_prefix('=').unwrap_or(v).to_owned()))
                }
            };
            if t == "--shared" {
                w.scope.shared = true;
            } else if t == "--expand" {
                w.expand = true;
            } else if let Some(v) = flag_value("--service") {
                w.scope.service = Some(
                    v.or_else(|| tokens.next().cloned())
                        .ok_or_else(|| super::usage("`--service` needs a NAME".into()))?,
                );
            } else if let Some(v) = flag_value("--env") {
                w.scope.env = Some(
                    v.or_else(|| tokens.next().cloned())
                        .ok_or_else(|| super::usage("`--env` needs an ENV".into()))?,
                );
            } else if t.starts_with('-') && t.len() > 1 {
                return Err(Error::Usage {
                    message: "a word before KEY starts with `-` but is not an option of `set` (not repeated here: it may hold a value)".into(),
                    hint: Some("the options of `set` are -s/--service NAME, -e/--env ENV, --shared and --expand; the value comes after KEY".into()),
                });
            } else if is_scope_word(config, &w.scope_words, t) {
                w.scope_words.push(t.clone());
            } else {
                w.key = Some(t.clone());
            }
        } else if w.value.is_none() {
            if t == "--" && !dashdash {
                dashdash = true;
                continue;
            }
            if !dashdash
                && OPTIONS
                    .iter()
                    .any(|o| t == o || t.starts_with(&format!("{o}=")))
            {
                let shown = t
                    .split_once('=')
                    .map_or(t.clone(), |(o, _)| format!("{o}=…"));
                return Err(Error::Usage {
                    message: format!("the word after KEY is `{shown}`, an option of `set`: options go before KEY, and the word after KEY is its value"),
                    hint: Some(format!("put the option before KEY; to store `{shown}` as the value, write `git secrets set KEY -- VALUE`")),
                });
            }
            w.value = Some(t.clone());
        } else {
            w.extra += 1;
        }
    }
    Ok(w)
}

/// Whether `t`, after the scope words `so_far`, is one too: a known service first, then a
/// known environment, as [`resolve_scope`] reads them.
fn is_scope_word(config: &Config, so_far: &[String], t: &str) -> bool {
    let has_env = so_far.iter().any(|s| config.has_env(s));
    (so_far.is_empty() && config.services.contains(t)) || (!has_env && config.has_env(t))
}

/// Reads a value from stdin ([`from_stdin`]) or a no-echo prompt. Nothing at all (an
/// empty stdin, or only Enter at the prompt) is refused: it is not a value someone gave.
pub fn read_value(key: &str) -> Result<SecretString, Error> {
    let io = |source| Error::Io {
        path: "<stdin>".into(),
        source,
    };
    let nothing = |what: &str| {
        Error::Usage {
        message: format!("no value for {key}: {what}; nothing was changed"),
        hint: Some(format!("give the value after the key, pipe it in (`… | git secrets set {key}`), or type it at the prompt; an empty value is set with `git secrets set {key} ''`")),
    }
    };
    if std::io::stdin().is_terminal() {
        let v = SecretString::new(
            rpassword::prompt_password(format!("value for {key}: ")).map_err(io)?,
        );
        if v.is_empty() {
            return Err(nothing("nothing was typed"));
        }
        return Ok(v);
    }
    let mut buf = zeroize::Zeroizing::new(Vec::new());
    std::io::stdin().read_to_end(&mut buf).map_err(io)?;
    if buf.is_empty() {
        return Err(nothing("stdin was empty"));
    }
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

/// The raw text that stores `value` for `key`: literally, or with `expand` as a
/// template whose references `run` resolves.
pub fn render(key: &str, value: &SecretString, expand: bool) -> Result<SecretString, Error> {
    let raw = if expand {
        render_template(value.expose())
    } else {
        render_value(value.expose()).map(|r| r.raw)
    };
    raw.ok_or_else(|| Error::Usage {
        message: format!(
            "the value for {key} contains a NUL byte, which no environment variable can hold"
        ),
        hint: Some("encode it (e.g. base64) and decode it in the program".into()),
    })
}

/// Whether `value` holds something that `--expand` would make a reference.
fn looks_like_reference(value: &str) -> bool {
    value
        .match_indices('$')
        .any(|(i, _)| matches!(value[i + 1..].chars().next(), Some(c) if c == '{' || c == '_' || c.is_ascii_alphabetic()))
}

pub fn cmd_set(args: SetArgs) -> Result<(), Error> {
    let mut ws = super::open()?;
    let w = split_words(&args, &ws.config)?;
    let Some(key) = w.key.clone() else {
        return Err(super::usage("missing KEY".into()));
    };
    // `set prod DATABASE_URL` (a misspelt `production`) is not key `prod` = "DATABASE_URL".
    if crate::config::is_valid_name(&key) && (w.value.is_some() || w.extra > 0) {
        let e = Error::UnknownScopeWord {
            word: Some(key.clone()),
            services: ws.config.services.iter().cloned().collect(),
            envs: ws.config.environments.clone(),
        };
        let hint = if ws.config.services.contains(&key) {
            // `set production api KEY v`: scope words are read service first.
            let env = w.scope_words.first().map_or("ENV", String::as_str);
            format!("write the service first: `git secrets set {key} {env} KEY VALUE` (or `-s {key} -e {env}`)")
        } else {
            "check the spelling (a new service is created only with `-s/--service NAME`); to set a key in lowercase, give its value on stdin: `echo VALUE | git secrets set KEY`".into()
        };
        return Err(Error::Usage {
            message: e.to_string(),
            hint: Some(hint),
        });
    }
    check_key(&key)?;
    super::refuse_withheld_keys([key.as_str()], "the KEY argument")?;
    if w.extra > 0 {
        return Err(Error::Usage {
            message: format!("`set` takes one VALUE after {key}, and more words followed it (not repeated here: they may hold the value)"),
            hint: Some("quote a value with spaces as one word; options go before KEY".into()),
        });
    }
    let (scope, _) = resolve_scope(&mut ws, &w.scope, &w.scope_words, 0, true)?;
    let value = match &w.value {
        Some(v) => SecretString::from(v.as_str()),
        None => {
            // The file is read once first so that what stops `set` (no access, a file
            // that does not parse) is said before the prompt, and read again once the
            // value is in: an editor may save the file while the prompt (or a slow pipe)
            // waits, and writing back what was read before would drop that edit.
            ws.read_scope(&scope)?;
            read_value(&key)?
        }
    };
    let mut file = ws.read_scope(&scope)?;
    // Most likely copied from the encrypted form (FORMAT.md §3.2, "Values that look
    // sealed"); a real one is written quoted in a file and imported.
    if value.expose().starts_with("gs1:") {
        return Err(Error::TokenLikeValue { key, from: None });
    }
    let raw = render(&key, &value, w.expand)?;
    if !w.expand && looks_like_reference(value.expose()) {
        eprintln!("note: the value of {key} holds `$`; it is stored literally, so programs get it exactly as given (with --expand, `${{NAME}}` and `$NAME` in it would be references)");
    }
    drop(value);
    let existed = file.set(&key, raw, None)?;
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
    use super::*;

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

    fn split(words: &[&str]) -> Result<Words, Error> {
        let config = Config::new(vec!["development".into(), "production".into()], false)
            .map(|mut c| {
                c.services.insert("api".into());
                c
            })
            .unwrap();
        let args = SetArgs {
            scope: ScopeArgs::default(),
            expand: false,
            words: words.iter().map(|w| w.to_string()).collect(),
        };
        split_words(&args, &config)
    }

    // Guards: the word after KEY is the value even when it starts with `-`; options and
    // scope words before KEY work as before.
    #[test]
    fn the_word_after_key_is_the_value() {
        for (words, value) in [
            (&["DB", "-sk9live2pw"][..], "-sk9live2pw"),
            (&["DB", "-ePw0rd9X"], "-ePw0rd9X"),
            (&["DB", "--"], ""),
            (&["DB", "--", "--shared"], "--shared"),
            (&["DB", "-"], "-"),
            (&["api", "--shared", "DB", "--x"], "--x"),
        ] {
            let w = split(words).unwrap();
            assert_eq!(w.key.as_deref(), Some("DB"), "{words:?}");
            assert_eq!(w.value.as_deref().unwrap_or(""), value, "{words:?}");
            assert_eq!(w.scope.service, None);
        }
        let w = split(&["api", "-e", "production", "--expand", "K", "v"]).unwrap();
        assert_eq!(w.scope_words, ["api"]);
        assert_eq!(w.scope.env.as_deref(), Some("production"));
        assert!(w.expand);
        let w = split(&["api", "production", "K"]).unwrap();
        assert_eq!(w.scope_words, ["api", "production"]);
        assert_eq!((w.key.as_deref(), w.value), (Some("K"), None));
    }

    // Guards (red team 6, 04): every spelling clap reads for `get`/`run`/`export` reads the
    // same before KEY (`-e=production` is `production`, not `=production`), and the word
    // after KEY is still the value whatever it starts with.
    #[test]
    fn scope_flags_read_as_clap_reads_them() {
        for words in [
            &["-e=production", "-s=api", "K", "-v"][..],
            &["-eproduction", "-sapi", "K", "-v"],
            &["-e", "production", "-s", "api", "K", "-v"],
            &["--env=production", "--service=api", "K", "-v"],
            &["--env", "production", "--service", "api", "K", "-v"],
        ] {
            let w = split(words).unwrap();
            assert_eq!(w.scope.env.as_deref(), Some("production"), "{words:?}");
            assert_eq!(w.scope.service.as_deref(), Some("api"), "{words:?}");
            assert_eq!(w.key.as_deref(), Some("K"), "{words:?}");
            assert_eq!(w.value.as_deref(), Some("-v"), "{words:?}");
        }
        let w = split(&["-e=production", "K", "-sk9=x"]).unwrap();
        assert_eq!(w.value.as_deref(), Some("-sk9=x"));
    }

    // Guards: an option spelt after KEY is refused (it was meant as the option), and an
    // unknown option before KEY is not repeated.
    #[test]
    fn options_after_key_are_refused_without_echo() {
        let e = split(&["K", "--shared"]).unwrap_err();
        assert!(e.to_string().contains("--shared"), "{e}");
        let e = split(&["K", "--env=Pw0rd9X"]).unwrap_err();
        assert!(!e.to_string().contains("Pw0rd9X"), "{e}");
        let e = split(&["api", "-xPw0rd9X", "K"]).unwrap_err();
        assert!(!format!("{e} {:?}", e.hint()).contains("Pw0rd9X"), "{e}");
    }
}
