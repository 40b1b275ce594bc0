//! `git secrets get [SERVICE] [ENV] [KEY]`: lists keys with masked values; `--show`, or
//! naming one KEY, reveals values after a `y` at a terminal (or `--yes`).

use clap::Args;

use crate::dotenv::render_value;
use crate::error::Error;
use crate::secret::mask;
use crate::workspace::FileState;

use super::{confirm, resolve_scope, ScopeArgs};

/// List keys with masked values, or reveal them.
#[derive(Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// [SERVICE] [ENV] [KEY]
    #[arg(value_name = "WORDS")]
    words: Vec<String>,
    /// Reveal the values.
    #[arg(long)]
    show: bool,
    /// Do not ask before revealing.
    #[arg(long, short = 'y')]
    yes: bool,
}

pub fn cmd_get(args: GetArgs) -> Result<(), Error> {
    let mut ws = super::open()?;
    let (scope, rest) = resolve_scope(&mut ws, &args.scope, &args.words, 1, false)?;
    let file = ws.read_scope(&scope)?;
    if let Some(key) = rest.first() {
        super::check_key(key)?;
        let entry = file.doc.get(key).ok_or_else(|| Error::KeyNotFound {
            key: key.clone(),
            scope: scope.label(),
        })?;
        confirm(&format!("reveal {key} of {}?", scope.label()), args.yes)?;
        return super::out(&format!("{}\n", entry.value().text.expose()));
    }
    if file.state == FileState::Missing {
        eprintln!(
            "{} has no secrets yet ({})",
            scope.label(),
            scope.rel_path()
        );
        return Ok(());
    }
    if args.show {
        confirm(
            &format!("reveal every value of {}?", scope.label()),
            args.yes,
        )?;
    }
    let mut text = String::new();
    for key in file.doc.keys() {
        let value = file
            .doc
            .get(&key)
            .expect("key listed from the document")
            .value();
        if args.show {
            let raw = render_value(value.text.expose()).unwrap_or_else(|| value.text.clone());
            text.push_str(&format!("{key}={}\n", raw.expose()));
        } else {
            text.push_str(&format!("{key}={}\n", mask(value.text.expose())));
        }
    }
    super::out(&text)
}
