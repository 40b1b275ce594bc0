//! Sealing the next file while git works on this one.
//!
//! git cleans one file at a time and waits for each answer, and between two requests it
//! spends longer on the last answer (hashing, compressing and writing the object, then
//! reading the next file) than the filter takes to seal a file. A command over many
//! files asks for them in path order (`git add` of new files, and of changed ones in
//! index order). So after answering a clean of a scope file, with git's next request
//! not there yet, the filter reads the scope file that comes next in path order and
//! seals it on the CPU git is not using. When git's next request is for that path with
//! exactly those bytes, the answer is ready, and the sealing costs git nothing but the
//! comparison. With [`super::input`]'s polling, `git add` of bench/bench.sh's 1000 files
//! went from 282 to 225 ms on a RAM disk (plain git: 119 ms).
//!
//! The answer given is the one clean would give: sealing is a function of the path, the
//! bytes and the loaded workspace (synthetic nonces: the same plaintext seals to the same
//! bytes), and a guess is used only for the same path, byte for byte the same content,
//! and a workspace not reloaded since ([`Filter::generation`]). Only the common case is
//! sealed ahead (a plaintext scope file that parses, without conflict markers, sealed
//! under its environment's current key); anything else waits for git's request. After
//! [`MAX_MISSES`] wrong guesses in a row (git asks about a few changed files among many,
//! not all of them), the process stops guessing. The plaintext read ahead is held
//! zeroed on drop, like every request's content.

use zeroize::Zeroizing;

use super::Filter;
use crate::dotenv::Document;
use crate::envfile;
use crate::scope::{Scope, SECRETS_DIR};

/// Wrong guesses in a row after which a process stops guessing.
const MAX_MISSES: u32 = 3;

/// Files larger than this are not read ahead: one such file is not worth the memory.
const MAX_BYTES: u64 = 1 << 20;

#[derive(Default)]
pub(super) struct Ahead {
    /// The scope files of the work tree in git's order (paths compared byte by byte),
    /// listed when the second clean request comes: a command cleaning one file never
    /// pays for the listing.
    order: Option<Vec<String>>,
    cleans: u32,
    misses: u32,
    guess: Option<Guess>,
}

impl Ahead {
    /// The guess, when it was for `path` with exactly `input` and sealed with workspace
    /// `generation`; counts the clean requests, and the wrong guesses in a row (the
    /// process stops guessing after [`MAX_MISSES`]).
    fn take(&mut self, path: &str, input: &[u8], generation: u64) -> Option<Hit> {
        self.cleans = self.cleans.saturating_add(1);
        let guess = self.guess.take()?;
        if guess.path == path && guess.input.as_slice() == input && guess.generation == generation {
            self.misses = 0;
            trace("hit", path);
            return Some(Hit {
                digest: guess.digest,
                sealed: guess.sealed,
                blob: guess.blob,
            });
        }
        self.misses += 1;
        trace("miss", path);
        None
    }
}

/// A scope file sealed before git asked for it.
struct Guess {
    path: String,
    input: Zeroizing<Vec<u8>>,
    /// [`crate::fsmonitor::digest`] of `input`.
    digest: [u8; 32],
    sealed: Vec<u8>,
    /// The id of the blob `sealed` makes (crate::git::blob_id).
    blob: Option<[u8; 20]>,
    /// The workspace it was sealed with ([`Filter::generation`]).
    generation: u64,
}

/// What a guess gives the request it was right about.
pub(super) struct Hit {
    pub digest: [u8; 32],
    pub sealed: Vec<u8>,
    pub blob: Option<[u8; 20]>,
}

impl Filter {
    /// The guess made for this clean request of `path` with `input`, when it was right.
    pub(super) fn sealed_ahead(&mut self, path: &str, input: &[u8]) -> Option<Hit> {
        if self.ahead.guess.is_some() {
            // A reload of the workspace (access.json or config.toml changed) shows here.
            self.workspace();
        }
        self.ahead.take(path, input, self.generation)
    }

    /// After answering a clean of `path`, while git has not sent its next request:
    /// seals the scope file after `path` in git's order, for [`Filter::sealed_ahead`].
    /// An attempt that gives no guess (the next file is sealed already, say: a locked
    /// clone) counts as a wrong guess; a workspace that did not load is not loaded here.
    pub fn seal_next(&mut self, path: &str) {
        if self.ahead.cleans < 2 || self.ahead.misses >= MAX_MISSES || self.workspace.is_none() {
            return;
        }
        let root = self.root.clone();
        let order = self.ahead.order.get_or_insert_with(|| scope_files(&root));
        let Ok(at) = order.binary_search_by(|p| p.as_str().cmp(path)) else {
            return;
        };
        let Some(next) = order.get(at + 1).cloned() else {
            return;
        };
        self.ahead.guess = self.seal_ahead(next);
        if self.ahead.guess.is_none() {
            self.ahead.misses += 1;
        }
    }

    fn seal_ahead(&mut self, path: String) -> Option<Guess> {
        let scope = Scope::from_rel_path(&path)?;
        if self.tracked(&path).is_some() {
            return None;
        }
        let input = read_regular(&self.root.join(&path))?;
        if envfile::conflict_parts(&input).is_some() || crate::diffview::is_masked_view(&input) {
            return None;
        }
        let doc = Document::parse(&input).ok()?;
        if envfile::is_encrypted_doc(&doc) {
            return None;
        }
        let sealed = self.workspace()?.encrypt(&scope, &doc).ok()?.into_bytes();
        Some(Guess {
            digest: crate::fsmonitor::digest(&path, &input),
            blob: crate::git::blob_id(&sealed),
            path,
            input,
            sealed,
            generation: self.generation,
        })
    }
}

/// Test-only (as crate::journal::fault): with `GIT_SECRETS_TEST_AHEAD=1`, the filter
/// seals ahead even when git's next request is already there (a debug build is too slow
/// to get there first), and says on stderr whether each guess was right, so tests can
/// tell that what they check went through a guess.
pub(super) fn forced() -> bool {
    static FORCED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FORCED.get_or_init(|| std::env::var_os("GIT_SECRETS_TEST_AHEAD").is_some_and(|v| v == "1"))
}

fn trace(what: &str, path: &str) {
    if forced() {
        eprintln!("git-secrets: test: sealed ahead, {what}: {path}");
    }
}

/// The scope files under `.secrets/` of the work tree at `root`, sorted.
fn scope_files(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |rel: String| {
        if Scope::from_rel_path(&rel).is_some() {
            out.push(rel);
        }
    };
    let Ok(top) = std::fs::read_dir(root.join(SECRETS_DIR)) else {
        return Vec::new();
    };
    for entry in top.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            let Ok(files) = std::fs::read_dir(entry.path()) else {
                continue;
            };
            for file in files.flatten() {
                if let Ok(f) = file.file_name().into_string() {
                    add(format!("{SECRETS_DIR}/{name}/{f}"));
                }
            }
        } else {
            add(format!("{SECRETS_DIR}/{name}"));
        }
    }
    out.sort_unstable();
    out
}

/// The content of the regular file at `path`, into a buffer zeroed on drop; `None` for
/// anything else (a symlink, a FIFO, which must not block the filter) or a file that
/// changes size while it is read.
fn read_regular(path: &std::path::Path) -> Option<Zeroizing<Vec<u8>>> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32);
    }
    let mut file = options.open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_BYTES {
        return None;
    }
    // Exactly the size announced: a `Vec` that grows would leave copies it never zeroes.
    let mut buf = Zeroizing::new(vec![0; meta.len() as usize]);
    file.read_exact(&mut buf).ok()?;
    (file.read(&mut [0u8; 1]).ok()? == 0).then_some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guessed(path: &str, input: &[u8], generation: u64) -> Ahead {
        Ahead {
            cleans: 2,
            guess: Some(Guess {
                path: path.into(),
                input: Zeroizing::new(input.to_vec()),
                digest: [7; 32],
                sealed: b"A=gs1:sealed\n".to_vec(),
                blob: None,
                generation,
            }),
            ..Ahead::default()
        }
    }

    #[test]
    fn a_guess_serves_only_its_path_its_bytes_and_its_workspace() {
        const PATH: &str = ".secrets/api/test.env";
        let hit = guessed(PATH, b"A=1\n", 4).take(PATH, b"A=1\n", 4);
        assert_eq!(hit.map(|h| h.sealed), Some(b"A=gs1:sealed\n".to_vec()));
        for (path, input, generation) in [
            (".secrets/api/prod.env", &b"A=1\n"[..], 4),
            (PATH, b"A=2\n", 4),
            (PATH, b"A=1\n\n", 4),
            (PATH, b"A=1\n", 5),
        ] {
            let mut ahead = guessed(PATH, b"A=1\n", 4);
            assert!(
                ahead.take(path, input, generation).is_none(),
                "{path} {input:?} {generation}"
            );
            assert_eq!(ahead.misses, 1);
            assert!(ahead.guess.is_none(), "a guess is used once at most");
        }
    }

    #[test]
    fn guessing_stops_after_misses_in_a_row_and_a_hit_resets_the_count() {
        let mut ahead = guessed("a", b"1", 0);
        ahead.misses = MAX_MISSES - 1;
        assert!(ahead.take("a", b"1", 0).is_some());
        assert_eq!(ahead.misses, 0);
        for _ in 0..MAX_MISSES {
            ahead.guess = guessed("a", b"1", 0).guess;
            assert!(ahead.take("b", b"1", 0).is_none());
        }
        assert_eq!(ahead.misses, MAX_MISSES);
        assert_eq!(ahead.cleans, 2 + 1 + MAX_MISSES);
    }
}
