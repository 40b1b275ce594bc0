//! Atomic, private file writes: a temporary file in the same directory, created 0600,
//! synced, then renamed over the target. A crash leaves the old file or the new one, and
//! the temporary file ([`TEMP_PREFIX`]), which [`leftovers`] finds and removes.
//!
//! While a temporary file of ours exists, the process writing it holds a shared
//! `flock(2)` on its directory (taken before the file is created, released once it is
//! renamed or deleted); a lock dies with its process. So a temporary file in a directory
//! whose lock can be taken exclusive belongs to no running write: a crash left it. One
//! that cannot is left alone, whatever its age: a concurrent write never loses its file.

use std::io::Write;
use std::path::Path;

use crate::error::Error;

/// The name every temporary file of ours starts with. A crash between writing one and
/// renaming it leaves it behind, plaintext (0600) beside the scope file it was to
/// replace, so git must never take it: `.gitignore` lists `.git-secrets-*`
/// (cli::unlock::IGNORES) and the pre-commit check refuses a staged file so named
/// ([`is_temp_name`]).
pub const TEMP_PREFIX: &str = ".git-secrets-";

/// How many random characters follow [`TEMP_PREFIX`] (tempfile's alphanumerics).
const TEMP_RANDOM: usize = 6;

/// Whether the last component of `path` is named like one of our temporary files.
pub fn is_temp_name(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .unwrap_or(path)
        .starts_with(TEMP_PREFIX)
}

/// Whether `name` (a file name) is exactly one of ours: [`TEMP_PREFIX`] and the random
/// characters, nothing else. Only such files are ever deleted as leftovers.
pub fn is_our_temp_file(name: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX).is_some_and(|rest| {
        rest.len() == TEMP_RANDOM && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// Takes the shared lock on `dir`, held until the returned file is dropped (waiting while [`leftovers`] holds it exclusive, which
/// lasts a few unlinks). Without it (a file system without flock, say) the write still
/// happens; the directory then cannot be locked exclusive either, so nothing of it is
/// ever taken for a leftover.
fn writing_in(dir: &Path) -> Option<std::fs::File> {
    use rustix::fs::{flock, FlockOperation};
    let f = std::fs::File::open(dir).ok()?;
    flock(&f, FlockOperation::LockShared).is_ok().then_some(f)
}

/// Temporary files of ours in one directory (paths as given: `dir` joined with the name).
#[derive(Debug, Default)]
pub struct Leftovers {
    /// Left by a crash: no running write holds the directory (removed, when asked to).
    pub stale: Vec<std::path::PathBuf>,
    /// In a directory a running git-secrets command is writing to: maybe its file.
    pub busy: Vec<std::path::PathBuf>,
}

impl Leftovers {
    pub fn extend(&mut self, other: Leftovers) {
        self.stale.extend(other.stale);
        self.busy.extend(other.busy);
    }
}

/// Whether no one but the owner may read or write the file (mode 0600 or stricter), as
/// every temporary file of ours is.
#[cfg(unix)]
fn private_mode(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o077 == 0
}

#[cfg(not(unix))]
fn private_mode(_meta: &std::fs::Metadata) -> bool {
    true
}

/// Our temporary files in `dir` (regular files named by [`is_our_temp_file`], private
/// to their owner), sorted.
fn temp_files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(is_our_temp_file))
        // Not a symlink or a directory: tempfile creates regular files.
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        // Created 0600 ([`temp_file_in`]) and never opened up to others: a file of the
        // user's that happens to be so named (`.git-secrets-backup`, `-policy`, made by
        // an editor or a shell, 0644) is not one of ours.
        .filter(|e| e.metadata().is_ok_and(|m| private_mode(&m)))
        .map(|e| dir.join(e.file_name()))
        .collect();
    out.sort();
    out
}

/// The temporary files of ours in `dir`, split into those a crash left (no running write
/// holds the directory's lock) and those that may be a running write's. With `remove`,
/// the stale ones are deleted while the exclusive lock is held, so no write can start a
/// new one in between.
pub fn leftovers(dir: &Path, remove: bool) -> Result<Leftovers, Error> {
    use rustix::fs::{flock, FlockOperation};
    let found = temp_files_in(dir);
    if found.is_empty() {
        return Ok(Leftovers::default());
    }
    let lock = std::fs::File::open(dir)
        .ok()
        .filter(|f| flock(f, FlockOperation::NonBlockingLockExclusive).is_ok());
    if lock.is_none() {
        // Held by a running write (or not lockable here): nothing is known to be stale.
        return Ok(Leftovers {
            stale: Vec::new(),
            busy: found,
        });
    }
    // Listed again under the lock: what is there now, no write is in the middle of.
    let stale = temp_files_in(dir);
    if remove {
        for path in &stale {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(Error::Io {
                        path: path.clone(),
                        source,
                    })
                }
            }
        }
    }
    drop(lock);
    Ok(Leftovers {
        stale,
        busy: Vec::new(),
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates `dir` and its missing parents, 0700 (what is created).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// A new temporary file of ours in `dir`, created with mode 0600 (`open(2)` with that
/// mode: it is never readable by others, not even between its creation and a chmod), so
/// what a crash leaves of an identity or a plaintext scope file is the owner's alone.
/// The caller holds the directory's lock ([`writing_in`]).
fn temp_file_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(TEMP_PREFIX).rand_bytes(TEMP_RANDOM);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o600));
    }
    b.tempfile_in(dir)
}

/// Test-only fault point (crate::journal::fault): `GIT_SECRETS_TEST_FAULT=before-rename:NAME`
/// aborts a write of a file named NAME with its temporary file written and not renamed,
/// as a `kill -9` there would.
fn fault_before_rename(path: &Path) {
    let Some(point) = std::env::var_os("GIT_SECRETS_TEST_FAULT") else {
        return;
    };
    let name = point
        .to_str()
        .and_then(|p| p.strip_prefix("before-rename:"));
    if name.is_some_and(|n| path.file_name().is_some_and(|f| f == n)) {
        std::process::abort();
    }
}

/// Writes `bytes` to `path` atomically with mode 0600. With `create_dirs`, missing parent
/// directories are created (0700 for the identity's directory).
pub fn write_private(path: &Path, bytes: &[u8], create_dirs: bool) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if create_dirs && !dir.exists() {
        create_private_dir(dir).map_err(io(dir))?;
    }
    let _writing = writing_in(dir);
    let mut tmp = temp_file_in(dir).map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(path))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    fault_before_rename(path);
    // On failure the temporary file is deleted (dropped) before the lock is released.
    tmp.persist(path).map_err(|e| Error::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// Replaces `path` atomically (a reader sees the old content or the new), mode 0600,
/// without syncing: for state whose loss in a crash only costs time or is noticed (the
/// fsmonitor digests, the keys a clone held), where an fsync per write would cost more
/// than the state saves.
pub fn replace_unsynced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let _writing = writing_in(dir);
    let mut tmp = temp_file_in(dir)?;
    tmp.write_all(bytes)?;
    fault_before_rename(path);
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Overwrites an existing work-tree file in place (mode 0600, no fsync), for unlock and
/// lock rewriting many files whose content git already holds in the index: creating a
/// temporary file per file cost more than everything else together, and a file left
/// half-written by a crash here is restored by `git checkout -- <file>` with nothing lost.
/// Files with uncommitted edits must go through [`write_private`] instead.
pub fn overwrite_committed(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    // Not opened with O_TRUNC: ext4 writes out at close a file that was truncated to
    // zero (auto_da_alloc), which made these writes take half of unlock's time. The old
    // content is overwritten, then what is left of it cut off.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io(path))?;
    }
    f.write_all(bytes).map_err(io(path))?;
    f.set_len(bytes.len() as u64).map_err(io(path))
}

/// Like [`write_private`] but keeps the target's existing mode when it has one (for files
/// that are not secret, such as `.gitignore` or `config.toml`).
pub fn write_public(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_private(path, bytes, true)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).map_err(io(path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_named_exactly_like_ours_are_leftovers() {
        assert!(is_our_temp_file(".git-secrets-Ab12Cd"));
        for name in [
            ".git-secrets-",
            ".git-secrets-Ab12C",
            ".git-secrets-Ab12Cd7",
            ".git-secrets-Ab_2Cd",
            ".git-secrets-chained",
            "git-secrets-Ab12Cd",
        ] {
            assert!(!is_our_temp_file(name), "{name}");
        }
    }

    #[test]
    fn a_leftover_is_removed_only_when_no_write_holds_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let left = dir.path().join(".git-secrets-Ab12Cd");
        std::fs::write(&left, "x").unwrap();
        // A user's file named like ours, open to others as theirs are: never ours.
        let users = dir.path().join(".git-secrets-backup");
        std::fs::write(&users, "mine").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |m| std::fs::Permissions::from_mode(m);
            std::fs::set_permissions(&left, mode(0o600)).unwrap();
            std::fs::set_permissions(&users, mode(0o644)).unwrap();
        }
        std::fs::create_dir(dir.path().join(".git-secrets-Dir123")).unwrap();
        let writing = writing_in(dir.path()).expect("lockable");
        let found = leftovers(dir.path(), true).unwrap();
        assert_eq!((found.stale, found.busy), (vec![], vec![left.clone()]));
        assert!(left.exists());
        drop(writing);
        let found = leftovers(dir.path(), true).unwrap();
        assert_eq!((found.stale, found.busy), (vec![left.clone()], vec![]));
        assert!(!left.exists() && dir.path().join(".git-secrets-Dir123").is_dir());
        #[cfg(unix)]
        assert!(users.exists(), "a user's file is kept");
        // A write of ours leaves nothing behind.
        write_private(&dir.path().join("f"), b"y", false).unwrap();
        assert!(leftovers(dir.path(), false).unwrap().stale.is_empty());
    }
}
