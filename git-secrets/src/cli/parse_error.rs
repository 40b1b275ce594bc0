//! clap's errors about the command line, told without repeating what was typed where a
//! value goes: a secret typed in the wrong place (`get --show=hunter2`, `set --vaule=hunter2
//! KEY`, one word too many) must not be written to the terminal or a CI log again. An
//! option is named (up to its `=`), a value never, not even one of an option with a fixed
//! list (`--format`), whose possible values are listed instead: one rule, with no case
//! where a value is repeated because it was thought harmless. clap's usage line, its
//! suggestions of names this command defines, its `--help` hint and exit status 2 stay;
//! `--help` and `--version` are clap's own.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Said in place of what was typed.
const NOT_REPEATED: &str = "not repeated here: it may be a secret";

/// `e` as clap reports it, or, when clap's message would repeat typed text, the same
/// report without it.
pub(super) fn without_values(e: clap::Error, cmd: &clap::Command) -> clap::Error {
    let Some(message) = message(&e) else {
        return e;
    };
    let mut text = message;
    let mut tips = Vec::new();
    for (kind, what) in [
        (ContextKind::SuggestedSubcommand, "subcommand"),
        (ContextKind::SuggestedArg, "argument"),
        (ContextKind::SuggestedValue, "value"),
    ] {
        // Names and values this command defines, never the typed text.
        let names = match e.get(kind) {
            Some(ContextValue::String(s)) => vec![s.clone()],
            Some(ContextValue::Strings(s)) => s.clone(),
            _ => Vec::new(),
        };
        if !names.is_empty() {
            let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
            tips.push(if names.len() == 1 {
                format!("a similar {what} exists: {}", quoted[0])
            } else {
                format!("some similar {what}s exist: {}", quoted.join(", "))
            });
        }
    }
    // clap's other tips ("to pass '…' as a value, use '-- …'") repeat the typed text.
    if !tips.is_empty() {
        text.push('\n');
        for tip in tips {
            text.push_str(&format!("\n  tip: {tip}"));
        }
    }
    if let Some(ContextValue::StyledStr(usage)) = e.get(ContextKind::Usage) {
        text.push_str(&format!("\n\n{usage}"));
    }
    text.push_str("\n\nFor more information, try '--help'.\n");
    clap::Error::raw(e.kind(), text).with_cmd(cmd)
}

/// The message of `e` without typed text, when clap's would hold some.
fn message(e: &clap::Error) -> Option<String> {
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(a)) => a.as_str(),
        _ => "",
    };
    let value = match e.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) => v.as_str(),
        _ => "",
    };
    Some(match e.kind() {
        // clap says this one without a value.
        ErrorKind::InvalidValue if value.is_empty() => return None,
        ErrorKind::InvalidValue => {
            let mut m = format!("invalid value for '{arg}' ({NOT_REPEATED})");
            if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue) {
                if !valid.is_empty() {
                    m.push_str(&format!("\n  [possible values: {}]", valid.join(", ")));
                }
            }
            m
        }
        ErrorKind::ValueValidation => {
            let mut m = format!("invalid value for '{arg}' ({NOT_REPEATED})");
            // The parser's reason, unless it quotes the value.
            if let Some(reason) = std::error::Error::source(e).map(ToString::to_string) {
                if !reason.contains(value) {
                    m.push_str(&format!(": {reason}"));
                }
            }
            m
        }
        ErrorKind::TooManyValues => {
            format!("unexpected value for '{arg}' found; no more were expected ({NOT_REPEATED})")
        }
        ErrorKind::UnknownArgument => match option_name(arg) {
            Some((name, true)) => {
                format!("unexpected argument '{name}' found (what followed it is {NOT_REPEATED})")
            }
            Some((name, false)) => format!("unexpected argument '{name}' found"),
            None => format!(
                "unexpected argument found: a word this command does not take ({NOT_REPEATED})"
            ),
        },
        ErrorKind::InvalidSubcommand => {
            format!("unrecognized subcommand ({NOT_REPEATED})")
        }
        _ => return None,
    })
}

/// The option `typed` names, up to any `=`, and whether a value followed; None for a
/// word that is not an option. Of a short option, its letter alone (`-xhunter2` is
/// `-x` given `hunter2`).
fn option_name(typed: &str) -> Option<(String, bool)> {
    if typed.starts_with("--") && typed.len() > 2 {
        return Some(match typed.split_once('=') {
            Some((name, _)) => (name.to_owned(), true),
            None => (typed.to_owned(), false),
        });
    }
    let mut chars = typed.chars();
    match (chars.next(), chars.next()) {
        (Some('-'), Some(c)) if c != '-' => Some((format!("-{c}"), chars.next().is_some())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::option_name;

    #[test]
    fn an_option_is_named_without_its_value() {
        assert_eq!(
            option_name("--vaule=hunter2"),
            Some(("--vaule".into(), true))
        );
        assert_eq!(option_name("--vaule="), Some(("--vaule".into(), true)));
        assert_eq!(option_name("--show"), Some(("--show".into(), false)));
        assert_eq!(option_name("-xhunter2"), Some(("-x".into(), true)));
        assert_eq!(option_name("-x"), Some(("-x".into(), false)));
        assert_eq!(option_name("hunter2"), None);
        assert_eq!(option_name("-"), None);
        assert_eq!(option_name("--"), None);
    }
}
