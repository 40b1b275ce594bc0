//! Atomic, private file writes: a temporary file in the same directory, created 0600,
//! synced, then renamed over the target. A crash leaves the old file or the new one.

use std::io::Write;
use std::path::Path;

use crate::error::Error;

/// The name every temporary file of ours starts with. A crash between writing one and
/// renaming it leaves it behind, plaintext (0600) beside the scope file it was to
/// replace, so git must never take it: `.gitignore` lists `.git-secrets-*`
/// (cli::unlock::IGNORES) and the pre-commit check refuses a staged file so named
/// ([`is_temp_name`]).
pub const TEMP_PREFIX: &str = ".git-secrets-";

/// Whether the last component of `path` is named like one of our temporary files.
pub fn is_temp_name(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .unwrap_or(path)
        .starts_with(TEMP_PREFIX)
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
    // tempfile creates the file 0600 on Unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(path))?;
    tmp.as_file().sync_all().map_err(io(path))?;
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
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
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
