//! `git secrets sync [SERVICE] [ENV]`: adds the keys of `.env.example` that the scope
//! lacks, with the example's value. Never overwrites a key that is set, in the scope or
//! in the service's shared values under it.

use std::path::PathBuf;

use clap::Args;

use crate::dotenv::{strip_bom, Document};
use crate::error::Error;

use super::{resolve_scope, run::shared_of, ScopeArgs};

/// Add the keys of .env.example that a scope lacks (never overwrites).
#[derive(Args, Debug)]
pub struct SyncArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// [SERVICE] [ENV]
    #[arg(value_name = "SCOPE")]
    words: Vec<String>,
    /// The example file (default: .env.example here, else at the top of the work tree).
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
}

pub fn cmd_sync(args: SyncArgs) -> Result<(), Error> {
    let mut ws = super::open()?;
    let path = match args.from {
        Some(p) => p,
        None => {
            let here = PathBuf::from(".env.example");
            if here.exists() {
                here
            } else {
                ws.root().join(".env.example")
            }
        }
    };
    let bytes = std::fs::read(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let example = Document::parse(strip_bom(&bytes)).map_err(|source| Error::Dotenv {
        path: path.display().to_string(),
        source,
    })?;
    let (scope, _) = resolve_scope(&mut ws, &args.scope, &args.words, 0, true)?;
    let mut file = ws.read_scope(&scope)?;
    // A key the service's shared values give the scope is not lacking: a placeholder
    // added here would override the real value (`run` layers the scope over them).
    let shared = shared_of(&ws, &scope)?;
    // Indexed once: a scan of the file per key of a large example would be quadratic.
    let shared_index = shared.as_ref().map(|s| s.doc.index());
    let mut have: std::collections::HashSet<String> =
        file.doc.index().entries().map(|e| e.key.clone()).collect();
    let mut missing = Vec::new();
    for e in example.entries() {
        let from_shared = shared_index
            .as_ref()
            .is_some_and(|s| s.get(&e.key).is_some());
        // The first of an example's duplicates is the one added.
        if !from_shared && have.insert(e.key.clone()) {
            missing.push((e.key.clone(), e.raw.clone()));
        }
    }
    let added: Vec<String> = missing.iter().map(|(k, _)| k.clone()).collect();
    super::refuse_withheld_keys(
        added.iter().map(String::as_str),
        &path.display().to_string(),
    )?;
    file.set_all(missing, Some(&path.display().to_string()))?;
    if added.is_empty() {
        eprintln!(
            "{} already has every key of {}",
            scope.label(),
            path.display()
        );
        return Ok(());
    }
    ws.write_scope(&scope, &file)?;
    eprintln!("added to {}: {}", scope.label(), added.join(", "));
    Ok(())
}
