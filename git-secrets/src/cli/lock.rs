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
    // Read every scope file first, so a file that cannot be read or sealed gives its
    // own error (not one wrapped in a failed `git diff`), before anything changes.
    let mut sealed_forms = Vec::new();
    for scope in ws.scope_files() {
        let file = ws.read_scope(&scope)?;
        if file.state == FileState::Plain {
            sealed_forms.push((
                scope.rel_path(),
                scope.path(ws.root()),
                ws.encrypt(&scope, &file.doc)?,
            ));
        }
    }
    let tracked = ws.repo.filtered_files()?;
    // Compared through the filter while it is still configured: real edits only.
    let edited = ws.repo.modified(&tracked)?;
    let clean: Vec<String> = tracked
        .iter()
        .filter(|p| !edited.contains(p))
        .cloned()
        .collect();
    // Edited and untracked plaintext files are replaced by their sealed form in place;
    // unedited tracked ones are checked out again below.
    let mut sealed = 0;
    for (_, path, enc) in sealed_forms.iter().filter(|(rel, ..)| !clean.contains(rel)) {
        fsutil::write_private(path, enc.as_bytes(), false)?;
        sealed += 1;
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
