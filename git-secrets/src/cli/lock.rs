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
    let tracked = ws.repo.filtered_files()?;
    // Compared through the filter while it is still configured: real edits only.
    let edited = ws.repo.modified(&tracked)?;
    let clean: Vec<String> = tracked
        .iter()
        .filter(|p| !edited.contains(p))
        .cloned()
        .collect();
    // Seal edited and untracked plaintext files first: if any cannot be sealed, nothing
    // has changed yet.
    let mut writes = Vec::new();
    for scope in ws.scope_files() {
        if clean.contains(&scope.rel_path()) {
            continue;
        }
        let file = ws.read_scope(&scope)?;
        if file.state == FileState::Plain {
            writes.push((scope.path(ws.root()), ws.encrypt(&scope, &file.doc)?));
        }
    }
    let sealed = writes.len();
    for (path, enc) in writes {
        fsutil::write_private(&path, enc.as_bytes(), false)?;
    }
    ws.repo.config_unset_section("filter.secrets")?;
    // Without the filter, checking out writes the stored (encrypted) bytes.
    ws.repo.checkout_again(&clean)?;
    eprintln!(
        "locked: {} secret file(s) encrypted in the work tree; this clone's filter is removed",
        clean.len() + sealed
    );
    Ok(())
}
