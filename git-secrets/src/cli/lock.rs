//! `git secrets lock`: puts the encrypted form back in the work tree and removes this
//! clone's filter configuration. Uncommitted edits are kept, encrypted.

use clap::Args;

use crate::error::Error;
use crate::fsutil;
use crate::workspace::FileState;

/// Encrypt the secret files in the work tree and remove this clone's filter setup.
#[derive(Args, Debug)]
pub struct LockArgs {}

/// Removes what `unlock::configure` set that only an unlocked clone needs: the filter,
/// the fsmonitor hook, the masked diff driver (its cache, refs/notes/textconv/secrets,
/// holds no secret and is left alone) and the hooks that fill that cache. The merge
/// drivers stay: they merge the encrypted form without access too. So do the checks
/// (`guard::install::CHECKS`): without the filter, they are what refuses a plaintext
/// secret file written into the locked clone.
pub fn unconfigure(repo: &crate::git::Repo) -> Result<(), Error> {
    use crate::guard::install;
    repo.config_unset_section("filter.secrets")?;
    super::unlock::unconfigure_fsmonitor(repo)?;
    repo.config_unset_section("diff.secrets")?;
    let cache_hooks: Vec<&str> = install::HOOKS
        .iter()
        .copied()
        .filter(|h| !install::is_check(h))
        .collect();
    install::remove(repo, &cache_hooks)
}

pub fn cmd_lock(_args: LockArgs) -> Result<(), Error> {
    let ws = super::open()?;
    // Read and seal every plaintext file first, so a file that cannot be read or sealed
    // gives its own error before anything changes. Sealing is deterministic, so an
    // unedited file gets exactly the bytes git holds.
    let mut writes = Vec::new();
    for scope in ws.scope_files() {
        let file = ws.read_scope(&scope)?;
        if file.state == FileState::Plain {
            let sealed = ws.encrypt(&scope, &file.doc)?;
            writes.push((scope.rel_path(), sealed.into_bytes()));
        }
    }
    for (path, env, plain) in ws.read_tracked(false)? {
        let sealed = ws.seal_file(&path, &env, &plain)?;
        writes.push((path, sealed));
    }
    // Compared while the filter is still configured: real edits only.
    let (tracked, edited) = (ws.repo.tracked()?, ws.repo.edited_filtered()?);
    unconfigure(&ws.repo)?;
    for (rel, sealed) in &writes {
        let path = ws.root().join(rel);
        if tracked.contains(rel) && !edited.contains(rel) {
            fsutil::overwrite_committed(&path, sealed)?;
        } else {
            fsutil::write_private(&path, sealed, false)?;
        }
    }
    let paths: Vec<String> = writes.iter().map(|(p, _)| p.clone()).collect();
    ws.repo.restat(&paths, true)?;
    eprintln!(
        "locked: {} secret file(s) encrypted in the work tree; this clone's filter is removed (the pre-commit and pre-push checks stay)",
        writes.len()
    );
    Ok(())
}
