//! One git-secrets command writing in a checkout at a time.
//!
//! A command that changes secret files reads them, changes them in memory and writes them
//! back (atomically, so a reader never sees half a file). Two such commands at once in one
//! checkout (`git secrets set` run in parallel by a script, in two terminals, or beside a
//! `rotate`) would each write back what it read, and the second write would drop the
//! first command's change while both reported success. Each of them therefore holds an
//! exclusive lock, flock(2) on `<git dir>/git-secrets/command.lock`, from before it opens
//! the workspace (which also recovers what an interrupted command left) until it exits;
//! the next one waits, saying so. Commands that only read (`get`, `run`, `export`,
//! `status`), the filter, the hooks and the drivers take no lock: a git-secrets command
//! runs git, whose filter and hooks run git-secrets again, and they must not wait for it.
//!
//! The lock is best effort, like the shared lock of a temporary file's directory
//! (crate::fsutil): where it cannot be taken (no repository here, a file system without
//! flock), the command runs as before and reports its own error, if any.

use std::path::{Path, PathBuf};

const LOCK_FILE: &str = "command.lock";

/// The state directory of the checkout the current directory is in: found without
/// starting git (the `.git` of the nearest ancestor), asking git only when `GIT_DIR` is
/// set.
fn state_dir() -> Option<PathBuf> {
    if std::env::var_os("GIT_DIR").is_some() {
        let repo = crate::git::Repo::discover().ok()?;
        return crate::journal::state_dir(&repo).ok();
    }
    let cwd = std::env::current_dir().ok()?;
    let root = cwd.ancestors().find(|a| a.join(".git").exists())?;
    Some(crate::git::git_dir(root)?.join("git-secrets"))
}

/// Takes the checkout's command lock, waiting (and saying so) while another command holds
/// it. Held until the returned file is dropped (the process exits).
pub fn take() -> Option<std::fs::File> {
    take_in(&state_dir()?)
}

fn take_in(dir: &Path) -> Option<std::fs::File> {
    use rustix::fs::{flock, FlockOperation};
    crate::fsutil::create_private_dir(dir).ok()?;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let f = options.open(dir.join(LOCK_FILE)).ok()?;
    if flock(&f, FlockOperation::NonBlockingLockExclusive).is_ok() {
        return Some(f);
    }
    eprintln!(
        "git-secrets: waiting for another git-secrets command writing in this checkout to finish"
    );
    flock(&f, FlockOperation::LockExclusive)
        .is_ok()
        .then_some(f)
}
