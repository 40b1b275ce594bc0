//! `git secrets unset [SERVICE] [ENV] KEY`.

use clap::Args;

use crate::error::Error;

use super::{check_key, resolve_scope, ScopeArgs};

/// Remove a key.
#[derive(Args, Debug)]
pub struct UnsetArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// [SERVICE] [ENV] KEY
    #[arg(value_name = "WORDS", required = true, num_args = 1..)]
    words: Vec<String>,
}

pub fn cmd_unset(args: UnsetArgs) -> Result<(), Error> {
    let mut ws = super::open()?;
    let (scope, rest) = resolve_scope(&mut ws, &args.scope, &args.words, 1, false)?;
    let Some(key) = rest.first() else {
        return Err(super::usage("missing KEY".into()));
    };
    check_key(key)?;
    let mut file = ws.read_scope(&scope)?;
    if file.doc.remove(key) == 0 {
        return Err(Error::KeyNotFound {
            key: key.clone(),
            scope: scope.label(),
        });
    }
    ws.write_scope(&scope, &file)?;
    eprintln!("removed {key} from {}", scope.label());
    Ok(())
}
