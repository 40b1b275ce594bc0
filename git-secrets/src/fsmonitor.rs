//! `core.fsmonitor` for secret files: lets `git status` skip the clean filter for a scope
//! file whose content is exactly the work-tree form of its staged blob.
//!
//! After a `touch`, git sees a changed mtime and runs the clean filter on the file to
//! learn whether its content changed: for a filter process that is a round trip per file
//! (FORMAT.md §8.3). git asks an fsmonitor hook which paths may have changed instead, and
//! does not look again at an entry it verified before and that the hook leaves out. This
//! hook watches nothing: it answers from the content. It leaves out a scope file only when
//! the filter has seen that file's staged blob and exactly its current bytes as the two
//! forms of one file (a *fact*, recorded by clean and smudge); it names every other path
//! of the index (outside `.secrets/`, by top-level directory), so git checks those as it
//! would without a hook. It answers only for the index file git read (the token git
//! passes must be the one that file stores). Untracked files are not
//! its business: with no untracked cache in the index, git scans for them anyway, and with
//! one, the hook gives the "everything may have changed" answer.
//!
//! Leaving a path out is safe when its bytes open to exactly what is staged, whatever git
//! last saw of it: the facts are about immutable blobs and exact bytes, so they never go
//! stale, and the hook keeps no other state than a cache of the digests of unchanged files.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Facts learned by the filter: `blob id (20 bytes) ‖ SHA-256 of the work-tree bytes`.
const FACTS_FILE: &str = "fsmonitor-facts";
/// Digests of scope files as last read by the hook, by path and stat data.
const DIGESTS_FILE: &str = "fsmonitor-digests";
/// Written by each query, for the file system's idea of the time.
const CLOCK_FILE: &str = "fsmonitor-clock";
const RECORD: usize = 20 + 32;
/// Past this size the facts file starts over (about 80,000 facts); the filter learns
/// again what it needs on the next `git status` that checks content.
const MAX_FACTS_BYTES: u64 = 4 << 20;
/// Every token this hook hands out starts so; any other (git's first timestamp, another
/// hook's token) gets the answer "everything may have changed".
const TOKEN_PREFIX: &str = "git-secrets:";
const SECRETS_PREFIX: &[u8] = b".secrets/";

fn state_dir(git_dir: &Path) -> PathBuf {
    git_dir.join("git-secrets")
}

/// The state directory, created 0700 when missing.
fn make_state_dir(git_dir: &Path) -> std::io::Result<PathBuf> {
    let dir = state_dir(git_dir);
    if !dir.is_dir() {
        crate::fsutil::create_private_dir(&dir)?;
    }
    Ok(dir)
}

/// Removes what the hook and the filter keep (`lock`).
pub fn forget(git_dir: &Path) {
    for f in [FACTS_FILE, DIGESTS_FILE, CLOCK_FILE] {
        let _ = std::fs::remove_file(state_dir(git_dir).join(f));
    }
}

/// The digest of a work-tree file: its path and its bytes. The path is part of it because
/// the sealed form is bound to its scope: a blob moved to another path (`git mv`) is not
/// the stored form of the same bytes there.
pub fn digest(path: &str, bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((path.len() as u32).to_be_bytes());
    h.update(path.as_bytes());
    h.update(bytes);
    h.finalize().into()
}

/// The facts one filter process learns, written when git closes it.
#[derive(Default)]
pub struct Learned {
    records: Vec<u8>,
}

impl Learned {
    /// `stored` (the blob's content) and the work-tree file of [`digest`] `worktree` are
    /// two forms of one file: one is what clean made of the other, or smudge.
    pub fn add(&mut self, stored: &[u8], worktree: [u8; 32]) {
        self.add_blob(crate::git::blob_id(stored), worktree);
    }

    /// [`Learned::add`] with the stored blob's id already known (crate::git::blob_id;
    /// `None` where git's SHA-1 refuses the content).
    pub fn add_blob(&mut self, stored: Option<[u8; 20]>, worktree: [u8; 32]) {
        if let Some(id) = stored {
            self.records.extend_from_slice(&id);
            self.records.extend_from_slice(&worktree);
        }
    }

    /// Appends the facts to the file in `git_dir`, in one write (records of concurrent
    /// filters do not interleave). Best effort: a fact not written only means the hook
    /// names that file, and git checks it through the filter.
    pub fn save(&self, git_dir: &Path) {
        if self.records.is_empty() {
            return;
        }
        let Ok(dir) = make_state_dir(git_dir) else {
            return;
        };
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let Ok(mut file) = options.open(dir.join(FACTS_FILE)) else {
            return;
        };
        if file.metadata().is_ok_and(|m| m.len() > MAX_FACTS_BYTES) {
            let _ = file.set_len(0);
        }
        let _ = file.write_all(&self.records);
    }
}

fn load_facts(git_dir: &Path) -> HashSet<[u8; RECORD]> {
    let bytes = std::fs::read(state_dir(git_dir).join(FACTS_FILE)).unwrap_or_default();
    // A torn or foreign record can only fail to match: a match needs a blob id and a
    // digest of exactly the bytes in the work tree.
    bytes
        .chunks_exact(RECORD)
        .filter_map(|r| r.try_into().ok())
        .collect()
}

/// The stat data the digest cache is keyed by: size, mtime, ctime, inode, mode.
type StatKey = [i64; 7];

#[cfg(unix)]
fn stat_key(meta: &std::fs::Metadata) -> Option<StatKey> {
    use std::os::unix::fs::MetadataExt;
    Some([
        meta.size() as i64,
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
        meta.ino() as i64,
        meta.mode() as i64,
    ])
}

#[cfg(not(unix))]
fn stat_key(_meta: &std::fs::Metadata) -> Option<StatKey> {
    None
}

/// Whether the file's last change is old enough that a later write must change its
/// stat data (timestamps can be as coarse as two seconds): only then is its digest
/// cached, so a second write within the same tick is never taken for no change. `now`
/// is the file system's time (see [`fs_now`]), not this machine's clock.
fn settled(key: &StatKey, now: Option<i64>) -> bool {
    now.is_some_and(|now| key[1].max(key[3]) + 2 < now)
}

/// The time as the file system stamps it: the mtime of a file written now in the state
/// directory (git's racy-entry check compares with the index file's mtime alike), so a
/// clock that differs from the file server's cannot make a fresh write look settled.
fn fs_now(git_dir: &Path) -> Option<i64> {
    let dir = make_state_dir(git_dir).ok()?;
    let file = std::fs::File::create(dir.join(CLOCK_FILE)).ok()?;
    let mtime = file.metadata().ok()?.modified().ok()?;
    let secs = mtime.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// The digest cache: one line per scope file, `<digest hex> <stat key…> <path>`.
fn load_digests(git_dir: &Path) -> HashMap<String, (StatKey, [u8; 32])> {
    let text = std::fs::read_to_string(state_dir(git_dir).join(DIGESTS_FILE)).unwrap_or_default();
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(9, ' ');
        let Some(hex) = parts.next() else { continue };
        let mut key = [0i64; 7];
        let mut ok = true;
        for k in &mut key {
            match parts.next().and_then(|p| p.parse().ok()) {
                Some(v) => *k = v,
                None => ok = false,
            }
        }
        let (Some(path), Some(d)) = (parts.next(), from_hex(hex)) else {
            continue;
        };
        if ok {
            out.insert(path.to_owned(), (key, d));
        }
    }
    out
}

fn from_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn save_digests(git_dir: &Path, digests: &HashMap<String, (StatKey, [u8; 32])>) {
    let mut text = String::new();
    for (path, (key, d)) in digests {
        let hex = crate::hex(d);
        let key: Vec<String> = key.iter().map(i64::to_string).collect();
        text.push_str(&format!("{hex} {} {path}\n", key.join(" ")));
    }
    // Atomic (a reader sees the old cache or the new one) but not synced: a cache lost
    // in a crash is read again, and a damaged line fails to parse and is skipped.
    let Ok(dir) = make_state_dir(git_dir) else {
        return;
    };
    let _ = crate::fsutil::replace_unsynced(&dir.join(DIGESTS_FILE), text.as_bytes());
}

fn new_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{TOKEN_PREFIX}{nanos}")
}

/// The hook's answer to git (protocol version 2) for the work tree `root`: a new token,
/// then every index path that may differ from its entry, each NUL-terminated; or the
/// token and `/` ("everything may have changed").
pub fn query(root: &Path, token: &str) -> Vec<u8> {
    let token_out = new_token();
    let everything = || format!("{token_out}\0/\0").into_bytes();
    if !token.starts_with(TOKEN_PREFIX) {
        return everything();
    }
    let Some(git_dir) = crate::git::git_dir(root) else {
        return everything();
    };
    let index_path = std::env::var_os("GIT_INDEX_FILE")
        .map(|p| root.join(p))
        .unwrap_or_else(|| git_dir.join("index"));
    let Ok(data) = std::fs::read(&index_path) else {
        return everything();
    };
    // git asks about the index it holds in memory, read from a file; answering from
    // another file (a temporary index git reads by itself) could leave out a change.
    // The token git passes is the one stored in the file it read.
    if !stores_token(&data, token) {
        return everything();
    }
    let Ok((index, _)) = gix_index::State::from_bytes(
        &data,
        filetime::FileTime::zero(),
        gix_hash::Kind::Sha1,
        // One thread: starting others costs more than an index of this size takes.
        gix_index::decode::Options {
            thread_limit: Some(1),
            ..Default::default()
        },
    ) else {
        return everything();
    };
    // An untracked cache trusts the hook for new files too, which this one does not
    // watch; a split or sparse index is not read here.
    if index.untracked().is_some() || index.link().is_some() || index.is_sparse() {
        return everything();
    }
    let facts = load_facts(&git_dir);
    let cached = load_digests(&git_dir);
    let mut digests = HashMap::new();
    let now = fs_now(&git_dir);
    let mut real_dirs = HashMap::new();
    let mut out = format!("{token_out}\0").into_bytes();
    // Entries are sorted by path, so those under one directory come together.
    let mut last_dir: Option<Vec<u8>> = None;
    for entry in index.entries() {
        let path = entry.path(&index);
        let unchanged = !facts.is_empty()
            && entry.stage_raw() == 0
            && entry.mode == gix_index::entry::Mode::FILE
            && !entry.flags.intersects(
                gix_index::entry::Flags::INTENT_TO_ADD | gix_index::entry::Flags::SKIP_WORKTREE,
            )
            && std::str::from_utf8(path)
                .ok()
                .filter(|p| crate::scope::Scope::from_rel_path(p).is_some())
                .filter(|p| in_real_directories(root, p, &mut real_dirs))
                .and_then(|p| {
                    let d = current_digest(root, p, &cached, &mut digests, now)?;
                    let mut record = [0u8; RECORD];
                    record[..20].copy_from_slice(entry.id.as_bytes().get(..20)?);
                    record[20..].copy_from_slice(&d);
                    Some(facts.contains(&record))
                })
                .unwrap_or(false);
        if unchanged {
            continue;
        }
        // Outside .secrets, a whole top-level directory at once (`dir/`: git takes a
        // trailing slash as everything under it, 2.39 and 2.47 checked): a shorter answer
        // for git to apply than every path.
        let name = match path.iter().position(|&b| b == b'/') {
            Some(slash) if !path.starts_with(SECRETS_PREFIX) => &path[..=slash],
            _ => path,
        };
        if last_dir.as_deref() != Some(name) {
            out.extend_from_slice(name);
            out.push(0);
            if name.ends_with(b"/") {
                last_dir = Some(name.to_vec());
            }
        }
    }
    if digests != cached {
        save_digests(&git_dir, &digests);
    }
    out
}

/// Whether the index `data` has an fsmonitor extension (`FSMN`, version 2) holding
/// `token`. Any doubt (no extension, another version or token) is a no: the caller then
/// answers "everything".
fn stores_token(data: &[u8], token: &str) -> bool {
    // The extension is searched for by its signature, the last one in the file: the
    // extensions follow the entries. Hand-written because gix-index keeps the token
    // private. A false match needs the exact token after the exact header bytes.
    let Some(at) = data.windows(4).rposition(|w| w == b"FSMN") else {
        return false;
    };
    let Some(ext) = data.get(at + 8..) else {
        return false;
    };
    let mut want = vec![0, 0, 0, 2];
    want.extend_from_slice(token.as_bytes());
    want.push(0);
    ext.starts_with(&want)
}

/// Whether every directory above `rel` (`.secrets`, `.secrets/<service>`) is a real
/// directory: git takes a path under a symbolic link for deleted, so the hook must not
/// read through one. Memoized per directory.
fn in_real_directories(root: &Path, rel: &str, memo: &mut HashMap<String, bool>) -> bool {
    let mut dir = rel;
    while let Some((parent, _)) = dir.rsplit_once('/') {
        let real = *memo.entry(parent.to_owned()).or_insert_with(|| {
            std::fs::symlink_metadata(root.join(parent)).is_ok_and(|m| m.is_dir())
        });
        if !real {
            return false;
        }
        dir = parent;
    }
    true
}

/// The digest of the regular, non-executable file `rel` in `root`: from the cache when
/// its stat data is unchanged, else read (and cached once settled).
fn current_digest(
    root: &Path,
    rel: &str,
    cached: &HashMap<String, (StatKey, [u8; 32])>,
    digests: &mut HashMap<String, (StatKey, [u8; 32])>,
    now: Option<i64>,
) -> Option<[u8; 32]> {
    let path = root.join(rel);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let key = stat_key(&meta);
    #[cfg(unix)]
    if std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0 {
        // git records the executable bit: a change of it must be seen.
        return None;
    }
    if let (Some(key), Some((k, d))) = (key, cached.get(rel)) {
        if *k == key {
            digests.insert(rel.to_owned(), (key, *d));
            return Some(*d);
        }
    }
    let bytes = zeroize::Zeroizing::new(std::fs::read(&path).ok()?);
    let d = digest(rel, &bytes);
    // The stat data after the read: a write during it shows as a change next time.
    let after = std::fs::symlink_metadata(&path)
        .ok()
        .and_then(|m| stat_key(&m));
    if let (Some(key), Some(after)) = (key, after) {
        if key == after && settled(&key, now) {
            digests.insert(rel.to_owned(), (key, d));
        }
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_cache_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = HashMap::new();
        d.insert(
            ".secrets/api/production.env".to_owned(),
            ([1, 2, 3, 4, 5, 6, 0o100644], [7u8; 32]),
        );
        save_digests(dir.path(), &d);
        assert_eq!(load_digests(dir.path()), d);
    }

    #[test]
    fn a_foreign_token_gets_everything() {
        let dir = tempfile::tempdir().unwrap();
        let out = query(dir.path(), "1795331872741195088");
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(TOKEN_PREFIX) && text.ends_with("\0/\0"),
            "{text:?}"
        );
    }

    #[test]
    fn the_token_must_be_the_one_the_index_stores() {
        let mut index = b"DIRC....entries....TREE\0\0\0\x01xFSMN\0\0\0\x20".to_vec();
        index.extend_from_slice(b"\0\0\0\x02git-secrets:42\0\0\0\0\0");
        assert!(stores_token(&index, "git-secrets:42"));
        assert!(!stores_token(&index, "git-secrets:4"));
        assert!(!stores_token(&index, "git-secrets:421"));
        assert!(!stores_token(b"DIRC....no extension", "git-secrets:42"));
        let v1 = b"DIRCFSMN\0\0\0\x20\0\0\0\x01git-secrets:42\0";
        assert!(!stores_token(v1, "git-secrets:42"));
    }

    #[test]
    fn facts_are_blob_id_and_digest() {
        let dir = tempfile::tempdir().unwrap();
        let mut learned = Learned::default();
        let plain = digest(".secrets/development.env", b"DB=plain\n");
        learned.add(b"DB=gs1:sealed\n", plain);
        learned.save(dir.path());
        learned.save(dir.path());
        let facts = load_facts(dir.path());
        assert_eq!(facts.len(), 1);
        let mut record = [0u8; RECORD];
        // git hash-object of "DB=gs1:sealed\n"
        record[..20].copy_from_slice(&crate::git::blob_id(b"DB=gs1:sealed\n").unwrap());
        record[20..].copy_from_slice(&digest(".secrets/development.env", b"DB=plain\n"));
        assert!(facts.contains(&record));
    }
}
