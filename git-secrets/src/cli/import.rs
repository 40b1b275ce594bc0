//! `git secrets import --file F [SERVICE] [ENV]`: sets every key of a dotenv file,
//! keeping each value's exact text (quotes, escapes).

use std::path::PathBuf;

use clap::Args;

use crate::dotenv::{strip_bom, Document};
use crate::error::Error;

use super::{resolve_scope, ScopeArgs};

/// Import the keys of a dotenv file into a scope.
#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// [SERVICE] [ENV]
    #[arg(value_name = "SCOPE")]
    words: Vec<String>,
    /// The dotenv file to read.
    #[arg(long, short = 'f', value_name = "FILE")]
    file: PathBuf,
}

pub fn cmd_import(args: ImportArgs) -> Result<(), Error> {
    let mut ws = super::open()?;
    let bytes = zeroize::Zeroizing::new(std::fs::read(&args.file).map_err(|source| Error::Io {
        path: args.file.clone(),
        source,
    })?);
    // A file saved "UTF-8 with BOM" reads as node dotenv reads it.
    let source = Document::parse(strip_bom(&bytes)).map_err(|source| Error::Dotenv {
        path: args.file.display().to_string(),
        source,
    })?;
    let (scope, _) = resolve_scope(&mut ws, &args.scope, &args.words, 0, true)?;
    let mut file = ws.read_scope(&scope)?;
    let (mut added, mut replaced) = (Vec::new(), Vec::new());
    let from = args.file.display().to_string();
    // Each key once, with the value in effect (the last of duplicates, as dotenv reads
    // the file), set in one pass over the scope's file.
    let entries: Vec<(String, crate::secret::SecretString)> = source
        .index()
        .entries()
        .map(|e| (e.key.clone(), e.raw.clone()))
        .collect();
    let keys: Vec<String> = entries.iter().map(|(k, _)| k.clone()).collect();
    super::refuse_withheld_keys(keys.iter().map(String::as_str), &from)?;
    for (key, existed) in keys.into_iter().zip(file.set_all(entries, Some(&from))?) {
        if existed {
            replaced.push(key);
        } else {
            added.push(key);
        }
    }
    ws.write_scope(&scope, &file)?;
    eprintln!(
        "imported {} key(s) into {}",
        added.len() + replaced.len(),
        scope.label()
    );
    if !replaced.is_empty() {
        eprintln!("replaced: {}", replaced.join(", "));
    }
    Ok(())
}
