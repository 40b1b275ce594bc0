//! Objects through git: the blobs the filter reads while a git command runs (one
//! long-lived `git cat-file --batch`), batches of blobs read in one process, and blobs
//! written with one `git fast-import`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{run, run_with_env, stage0_entries, Repo, FILTERED, NO_LAZY_FETCH, NO_REPLACE};
use crate::error::Error;

/// What the filter reads from the index while a git command runs: the staged object
/// ids (one `git ls-files -s`) and blobs on demand (one long-lived `git cat-file
/// --batch`). Both are started on first use and restarted when the index file changes
/// (a rebase checks out another commit within one git command).
pub struct BlobReader {
    root: PathBuf,
    child: Option<(
        std::process::Child,
        std::io::BufReader<std::process::ChildStdout>,
    )>,
    failed: bool,
    /// The index file and its state when what follows was read.
    index: Option<(PathBuf, FileState)>,
    /// Path → object id of the stage-0 entries routed through the filter.
    staged: Option<std::collections::HashMap<String, String>>,
}

type FileState = Option<(std::time::SystemTime, u64)>;

fn file_state(path: &Path) -> FileState {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// The id git gives `content` as a blob (SHA-1, git's default object format; in a
/// SHA-256 repository it never matches, which only costs speed where it is used).
pub fn blob_id(content: &[u8]) -> Option<[u8; 20]> {
    let mut h = gix_hash::hasher(gix_hash::Kind::Sha1);
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    h.try_finalize().ok()?.as_bytes().try_into().ok()
}

impl BlobReader {
    pub fn new(root: PathBuf) -> BlobReader {
        BlobReader {
            root,
            child: None,
            failed: false,
            index: None,
            staged: None,
        }
    }

    fn stop(&mut self) {
        if let Some((mut child, _)) = self.child.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }

    /// Forgets what was read when the index file changed since.
    fn check_index(&mut self) -> Option<()> {
        if self.index.is_none() {
            let args = ["rev-parse", "--path-format=absolute", "--git-path", "index"];
            let out = run(&self.root, &args, None).ok()?;
            self.index = Some((PathBuf::from(String::from_utf8_lossy(&out).trim()), None));
        }
        let (index_path, seen) = self.index.as_mut().expect("set above");
        let now = file_state(index_path);
        if *seen != now {
            *seen = now;
            self.staged = None;
            self.stop();
        }
        Some(())
    }

    /// The object id of `path`'s stage-0 index entry.
    pub fn staged_oid(&mut self, path: &str) -> Option<String> {
        self.check_index()?;
        if self.staged.is_none() {
            let out = run(&self.root, &["ls-files", "-s", "-z", "--", FILTERED], None).ok()?;
            let map = stage0_entries(&out)
                .map(|(path, _, oid)| (path, oid))
                .collect();
            self.staged = Some(map);
        }
        self.staged.as_ref()?.get(path).cloned()
    }

    /// The content of the object `rev` (an id, or `:path`), or None when it does not
    /// exist or git fails.
    pub fn blob(&mut self, rev: &str) -> Option<Vec<u8>> {
        use std::io::{BufRead, Read, Write};
        if self.failed || rev.contains('\n') {
            return None;
        }
        self.check_index()?;
        if self.child.is_none() {
            let mut child = cat_file_batch(&self.root, Stdio::null()).ok()?;
            let out = std::io::BufReader::new(child.stdout.take()?);
            self.child = Some((child, out));
        }
        let (child, out) = self.child.as_mut()?;
        let result = (|| -> std::io::Result<Option<Vec<u8>>> {
            let stdin = child.stdin.as_mut().ok_or(std::io::ErrorKind::BrokenPipe)?;
            writeln!(stdin, "{rev}")?;
            stdin.flush()?;
            let mut header = String::new();
            out.read_line(&mut header)?;
            let mut f = header.split_whitespace();
            let (Some(_), Some("blob"), Some(size)) = (f.next(), f.next(), f.next()) else {
                return Ok(None); // "<rev> missing"
            };
            let size: usize = size.parse().map_err(|_| std::io::ErrorKind::InvalidData)?;
            let mut data = vec![0u8; size + 1];
            out.read_exact(&mut data)?;
            data.pop();
            Ok(Some(data))
        })();
        result.unwrap_or_else(|_| {
            self.failed = true;
            None
        })
    }
}

impl Drop for BlobReader {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `git cat-file --batch` in `root`, its stdin and stdout piped.
fn cat_file_batch(root: &Path, stderr: Stdio) -> std::io::Result<std::process::Child> {
    cat_file_batch_with(root, stderr, &[])
}

/// [`cat_file_batch`] with extra environment (`envs`).
fn cat_file_batch_with(
    root: &Path,
    stderr: Stdio,
    envs: &[(&str, &str)],
) -> std::io::Result<std::process::Child> {
    Command::new("git")
        .current_dir(root)
        .env(NO_REPLACE.0, NO_REPLACE.1)
        .envs(envs.iter().copied())
        // A name like `:path` reads the index: never through the fsmonitor hook.
        .args(["-c", "core.fsmonitor=false", "cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
}

impl Repo {
    /// Reads each blob of `oids` with one `git cat-file --batch` and hands it to `each`,
    /// in order. A writer thread feeds the ids while the blobs are read, so a large batch
    /// cannot fill both pipes and hang.
    pub fn for_each_blob(
        &self,
        oids: Vec<String>,
        mut each: impl FnMut(usize, &[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.for_each_object(oids, |i, name, bytes| match bytes {
            Some(bytes) => each(i, bytes),
            None => Err(Error::Git {
                args: "cat-file --batch".into(),
                stderr: format!("cannot read object: {name} missing"),
            }),
        })
    }

    /// Like [`Repo::for_each_blob`], for names git resolves (`<commit>:<path>`,
    /// `:<path>` for the index) that may not exist: those are handed over as `None`.
    pub fn for_each_object(
        &self,
        oids: Vec<String>,
        each: impl FnMut(usize, &str, Option<&[u8]>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.for_each_object_in(oids, false, each)
    }

    /// Like [`Repo::for_each_object`], but only from the objects this repository holds:
    /// in a partial clone, an object left on the promisor remote is handed over as `None`
    /// instead of being fetched (`GIT_NO_LAZY_FETCH`, git 2.45; an older git fetches it),
    /// and git's messages about it are not shown.
    pub fn for_each_local_object(
        &self,
        oids: Vec<String>,
        each: impl FnMut(usize, &str, Option<&[u8]>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.for_each_object_in(oids, true, each)
    }

    fn for_each_object_in(
        &self,
        oids: Vec<String>,
        local: bool,
        mut each: impl FnMut(usize, &str, Option<&[u8]>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        use std::io::{BufRead, BufReader, Read, Write};
        if oids.is_empty() {
            return Ok(());
        }
        let io = |source| Error::Io {
            path: "git cat-file".into(),
            source,
        };
        let mut child = match local {
            true => cat_file_batch_with(&self.root, Stdio::null(), &[NO_LAZY_FETCH]),
            false => cat_file_batch(&self.root, Stdio::inherit()),
        }
        .map_err(io)?;
        let mut stdin = child.stdin.take().expect("piped");
        let count = oids.len();
        let names = std::sync::Arc::new(oids);
        let to_write = names.clone();
        let writer = std::thread::spawn(move || -> std::io::Result<()> {
            let mut w = std::io::BufWriter::new(&mut stdin);
            for oid in to_write.iter() {
                w.write_all(oid.as_bytes())?;
                w.write_all(b"\n")?;
            }
            w.flush()
        });
        let mut reader = BufReader::new(child.stdout.take().expect("piped"));
        let mut result = Ok(());
        let mut header = String::new();
        let mut blob = Vec::new();
        for i in 0..count {
            header.clear();
            reader.read_line(&mut header).map_err(io)?;
            // "<oid> <type> <size>", or "<oid> missing".
            let size = header
                .split(' ')
                .nth(2)
                .and_then(|s| s.trim().parse::<usize>().ok());
            let Some(size) = size else {
                if header.ends_with(" missing\n") || header.ends_with(" ambiguous\n") {
                    if let Err(e) = each(i, &names[i], None) {
                        result = Err(e);
                        break;
                    }
                    continue;
                }
                // git stopped (it prints why on its stderr): say which object.
                let what = match header.trim() {
                    "" => format!("git ended before reading object {}", names[i]),
                    header => format!("cannot read object: {header}"),
                };
                result = Err(Error::Git {
                    args: "cat-file --batch".into(),
                    stderr: what,
                });
                break;
            };
            blob.clear();
            blob.resize(size + 1, 0);
            reader.read_exact(&mut blob).map_err(io)?;
            blob.truncate(size);
            if let Err(e) = each(i, &names[i], Some(&blob)) {
                result = Err(e);
                break;
            }
        }
        // Wipe the last blob: it may be a plaintext secret file.
        zeroize::Zeroize::zeroize(&mut blob);
        drop(reader);
        let _ = writer.join();
        let _ = child.wait();
        result
    }

    /// The contents of blobs, in order (see [`Repo::for_each_blob`]).
    pub fn read_blobs(&self, oids: &[&str]) -> Result<Vec<Vec<u8>>, Error> {
        let mut out = Vec::with_capacity(oids.len());
        self.for_each_blob(oids.iter().map(|o| o.to_string()).collect(), |_, b| {
            out.push(b.to_vec());
            Ok(())
        })?;
        Ok(out)
    }

    /// Runs `git fast-import` on `stream` (with `args`, e.g. `--export-marks`), storing
    /// objects uncompressed. fast-import sets zlib up for every object, which costs more
    /// than it saves on the small ones git-secrets writes (`git gc` compresses them
    /// later). And glibc's malloc hands the memory of each set-up back to the kernel
    /// when it is freed, so the next one page-faults it in again: a high trim threshold
    /// keeps it (about half of fast-import's time for a thousand small objects; other C
    /// libraries ignore the variable).
    /// Returns what it wrote to stdout (the answers to `get-mark`).
    pub fn fast_import(&self, args: &[&str], stream: &[u8]) -> Result<Vec<u8>, Error> {
        let args = [
            &["-c", "pack.compression=0", "fast-import", "--quiet"],
            args,
        ]
        .concat();
        run_with_env(
            &self.root,
            &args,
            Some(stream),
            &[("MALLOC_TRIM_THRESHOLD_", "268435456")],
        )
    }

    /// Writes blobs to the object store in one `git fast-import` and returns their ids,
    /// in order (one process however many blobs). Nothing goes through a file: each id
    /// comes back on fast-import's stdout (`get-mark`), where a marks file
    /// (`--export-marks`) would have been written outside the git directory, in $TMPDIR,
    /// and left there by a crash.
    pub fn write_blobs<'a>(
        &self,
        blobs: impl Iterator<Item = &'a [u8]>,
    ) -> Result<Vec<String>, Error> {
        let mut stream = b"feature get-mark\n".to_vec();
        let mut n = 0;
        for (i, b) in blobs.enumerate() {
            stream
                .extend_from_slice(format!("blob\nmark :{}\ndata {}\n", i + 1, b.len()).as_bytes());
            stream.extend_from_slice(b);
            stream.extend_from_slice(format!("\nget-mark :{}\n", i + 1).as_bytes());
            n = i + 1;
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        stream.extend_from_slice(b"done\n");
        let out = self.fast_import(&["--done"], &stream)?;
        let oids: Vec<String> = String::from_utf8_lossy(&out)
            .lines()
            .map(str::to_owned)
            .collect();
        if oids.len() != n || oids.iter().any(|o| !crate::workspace::is_oid(o)) {
            return Err(Error::Git {
                args: "fast-import".into(),
                stderr: format!(
                    "{} object id(s) for {n} blob(s) written",
                    oids.iter().filter(|o| crate::workspace::is_oid(o)).count()
                ),
            });
        }
        Ok(oids)
    }
}
