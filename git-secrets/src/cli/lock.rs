//! `git secrets lock`: puts the encrypted form back in the work tree and removes this
//! clone's filter configuration. Uncommitted edits are kept, encrypted.

use clap::Args;

use crate::error::Error;
use crate::fsutil;
use crate::workspace::{FileState, Workspace};

/// Encrypt the secret files in the work tree and remove this clone's filter setup.
#[derive(Args, Debug)]
pub struct LockArgs {}

pub fn cmd_lock(_args: LockArgs) -> Result<(), Error> {
    let ws = Workspace::open()?;
    let mut sealed = 0;
    // Seal everything first: if any file cannot be sealed, nothing is changed.
    let mut writes = Vec::new();
    for scope in ws.scope_files() {
        let file = ws.read_scope(&scope)?;
        if file.state == FileState::Plain {
            writes.push((scope.path(ws.root()), ws.encrypt(&scope, &file.doc)?));
        }
    }
    for (path, enc) in writes {
        fsutil::write_private(&path, enc.as_bytes(), false)?;
        sealed += 1;
    }
    ws.repo.config_unset_section("filter.secrets")?;
    ws.repo.refresh_index()?;
    eprintln!("locked: {sealed} secret file(s) encrypted in the work tree; this clone's filter is removed");
    Ok(())
}
