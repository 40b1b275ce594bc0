//! `git secrets lock`: puts the encrypted form back in the work tree and removes this
//! clone's filter configuration. Uncommitted edits are kept, encrypted.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::Error;
use crate::fsutil;
use crate::git::Repo;
use crate::workspace::{FileState, Workspace};

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
    // The configuration is shared by every worktree of the repository: removed while
    // another one still holds decrypted files, git there would take them for edits and
    // a `git stash` or `git add` would store the plaintext. The last lock removes it.
    let plain_elsewhere = other_worktrees_with_plaintext(&ws.repo)?;
    if plain_elsewhere.is_empty() {
        unconfigure(&ws.repo)?;
    }
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
    if plain_elsewhere.is_empty() {
        eprintln!(
            "locked: {} secret file(s) encrypted in the work tree; this clone's filter is removed (the pre-commit and pre-push checks stay)",
            writes.len()
        );
    } else {
        let list: Vec<String> = plain_elsewhere
            .iter()
            .map(|p| format!("  {}", p.display()))
            .collect();
        eprintln!(
            "locked this worktree: {} secret file(s) encrypted in it; the filter stays configured, because these other worktrees of the repository still hold decrypted secret files:\n{}\nhint: run `git secrets lock` in each of them; the last one removes the filter",
            writes.len(),
            list.join("\n")
        );
    }
    Ok(())
}

/// The other worktrees of this repository (`git worktree list`) whose work tree holds a
/// decrypted secret file: a scope file or a tracked file in plaintext. A worktree whose
/// configuration cannot be read counts as holding them (nothing proves otherwise).
pub(crate) fn other_worktrees_with_plaintext(repo: &Repo) -> Result<Vec<PathBuf>, Error> {
    let here = repo
        .root
        .canonicalize()
        .unwrap_or_else(|_| repo.root.clone());
    let out = repo.git(&["worktree", "list", "--porcelain"])?;
    let mut found = Vec::new();
    for path in worktree_paths(&String::from_utf8_lossy(&out)) {
        let same = path.canonicalize().is_ok_and(|p| p == here) || path == repo.root;
        if same || !path.is_dir() {
            continue;
        }
        if holds_plaintext(&path) {
            found.push(path);
        }
    }
    Ok(found)
}

/// The work-tree paths of `git worktree list --porcelain` (bare entries left out).
fn worktree_paths(porcelain: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for record in porcelain.split("\n\n") {
        let mut lines = record.lines();
        let Some(path) = lines.next().and_then(|l| l.strip_prefix("worktree ")) else {
            continue;
        };
        if !record.lines().any(|l| l == "bare") {
            out.push(PathBuf::from(path));
        }
    }
    out
}

/// Whether the work tree at `root` holds a secret file in plaintext.
fn holds_plaintext(root: &Path) -> bool {
    let ws = match Workspace::open_repo(Repo {
        root: root.to_owned(),
    }) {
        Ok(ws) => ws,
        // A branch without git-secrets has no secret files.
        Err(Error::NotInitialized) => return false,
        Err(_) => return true,
    };
    ws.holds_plaintext()
}

#[cfg(test)]
mod tests {
    #[test]
    fn worktree_list_paths() {
        let porcelain = "worktree /r/main\nHEAD 0123\nbranch refs/heads/main\n\nworktree /r/wt two\nHEAD 4567\ndetached\nprunable gitdir file points to non-existent location\n\nworktree /r/bare.git\nbare\n\n";
        assert_eq!(
            super::worktree_paths(porcelain),
            vec![
                std::path::PathBuf::from("/r/main"),
                std::path::PathBuf::from("/r/wt two")
            ]
        );
    }
}
