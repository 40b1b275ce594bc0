//! Running the real `git` for what it owns: repository discovery, this clone's config,
//! attributes, and checking files out again through the filter.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::Error;

/// The pathspec of files routed through the filter (attribute pathspec magic, git 2.13),
/// so no list of paths is ever passed on a command line.
const FILTERED: &str = ":(attr:filter=secrets)";

/// Tells git not to fetch an object a partial clone left on its promisor remote.
const NO_LAZY_FETCH: (&str, &str) = ("GIT_NO_LAZY_FETCH", "1");

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

/// The directory git keeps the state of the work tree `root` in, found without running
/// git (the filter and the fsmonitor hook run per git command): `$GIT_DIR`, or `.git` in
/// `root`, a directory or a file naming one (linked worktrees).
pub fn git_dir(root: &Path) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("GIT_DIR") {
        return Some(root.join(dir));
    }
    let dot_git = root.join(".git");
    if std::fs::metadata(&dot_git).ok()?.is_dir() {
        return Some(dot_git);
    }
    let text = std::fs::read_to_string(&dot_git).ok()?;
    Some(root.join(text.strip_prefix("gitdir:")?.trim()))
}

/// The HEAD file of the work tree `root`, trimmed: a commit id when HEAD is detached,
/// else `ref: <name>`. Read without starting git.
pub fn head_file(root: &Path) -> Option<String> {
    let head = std::fs::read_to_string(git_dir(root)?.join("HEAD")).ok()?;
    Some(head.trim().to_owned())
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

/// A git work tree.
#[derive(Clone, Debug)]
pub struct Repo {
    pub root: PathBuf,
}

/// The stage-0 entries of `git ls-files -s -z` output: (path, mode, object id).
pub(crate) fn stage0_entries(out: &[u8]) -> impl Iterator<Item = (String, String, String)> + '_ {
    out.split(|&b| b == 0).filter_map(|entry| {
        let tab = entry.iter().position(|&b| b == b'\t')?;
        let head = String::from_utf8_lossy(&entry[..tab]);
        let mut f = head.split(' ');
        match (f.next(), f.next(), f.next()) {
            (Some(mode), Some(oid), Some("0")) => Some((
                String::from_utf8_lossy(&entry[tab + 1..]).into_owned(),
                mode.to_owned(),
                oid.to_owned(),
            )),
            _ => None,
        }
    })
}

/// Every git command git-secrets runs reads the objects as they are, never through
/// `refs/replace/*`: a replace ref (pushed, or fetched with `+refs/replace/*:…`) would
/// otherwise make `check` and the hooks judge a clean stand-in instead of the commit a
/// branch really points at, and the history of access.json read for removals is the
/// real one too.
const NO_REPLACE: (&str, &str) = ("GIT_NO_REPLACE_OBJECTS", "1");

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

fn run(dir: &Path, args: &[&str], input: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    run_with_env(dir, args, input, &[])
}

fn run_with_env(
    dir: &Path,
    args: &[&str],
    input: Option<&[u8]>,
    envs: &[(&str, &str)],
) -> Result<Vec<u8>, Error> {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env(NO_REPLACE.0, NO_REPLACE.1)
        .envs(envs.iter().copied());
    // git-secrets reads the index and the objects, and compares the work tree only where
    // it must be exact: the fsmonitor hook (`crate::fsmonitor`) would only add its cost.
    // (Not for `git config`, which would read the override back.)
    // And git's output is parsed: a user's `log.showSignature` would add lines to it.
    if args.first() != Some(&"config") {
        cmd.args([
            "-c",
            "core.fsmonitor=false",
            "-c",
            "log.showSignature=false",
        ]);
    }
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().map_err(|source| Error::Io {
        path: "git".into(),
        source,
    })?;
    // stdin is written from a thread: with large input and output, writing it all before
    // reading would fill both pipes and deadlock.
    let writer = match (input, child.stdin.take()) {
        (Some(input), Some(mut stdin)) => {
            let input = input.to_vec();
            Some(std::thread::spawn(move || {
                use std::io::Write;
                stdin.write_all(&input)
            }))
        }
        _ => None,
    };
    let out = child.wait_with_output().map_err(|source| Error::Io {
        path: "git".into(),
        source,
    })?;
    if let Some(w) = writer {
        // A write error is git closing its stdin early; its exit status says what failed.
        let _ = w.join();
    }
    if !out.status.success() {
        return Err(Error::Git {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out.stdout)
}

/// The hooks directory of each work tree this process asked git about.
static HOOKS: std::sync::Mutex<Vec<(PathBuf, PathBuf)>> = std::sync::Mutex::new(Vec::new());

fn known_hooks(root: &Path) -> Option<PathBuf> {
    HOOKS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|(r, _)| r == root)
        .map(|(_, dir)| dir.clone())
}

fn remember_hooks(root: &Path, dir: PathBuf) {
    let mut known = HOOKS.lock().unwrap_or_else(|p| p.into_inner());
    if !known.iter().any(|(r, _)| r == root) {
        known.push((root.to_owned(), dir));
    }
}

/// `path` with `.` and `..` taken out by their names (git prints the hooks directory
/// relative to where it ran: `../.git/hooks` from a subdirectory).
fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // Above the root is the root.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    out
}

impl Repo {
    /// The work tree that contains the current directory. git tells its hooks
    /// directory in the same breath ([`Repo::hooks_dir`]).
    pub fn discover() -> Result<Repo, Error> {
        let cwd = std::env::current_dir().map_err(|source| Error::Io {
            path: ".".into(),
            source,
        })?;
        let out = run(
            &cwd,
            &["rev-parse", "--show-toplevel", "--git-path", "hooks"],
            None,
        )
        .map_err(|_| Error::NotARepo)?;
        let text = String::from_utf8_lossy(&out);
        // Two lines; a path holding a line break makes more: then the top level is asked
        // for on its own, and the hooks when they are needed.
        let lines: Vec<&str> = text.lines().collect();
        let root = match lines[..] {
            [root, hooks] => {
                remember_hooks(Path::new(root), lexically_normal(&cwd.join(hooks)));
                root.to_owned()
            }
            _ => {
                let out = run(&cwd, &["rev-parse", "--show-toplevel"], None)
                    .map_err(|_| Error::NotARepo)?;
                String::from_utf8_lossy(&out)
                    .trim_end_matches(['\n', '\r'])
                    .to_owned()
            }
        };
        if root.is_empty() {
            return Err(Error::NotARepo);
        }
        Ok(Repo {
            root: PathBuf::from(root),
        })
    }

    /// The directory git runs hooks from (`git rev-parse --git-path hooks`, which
    /// follows `core.hooksPath`), asked once per process and repository.
    pub fn hooks_dir(&self) -> Result<PathBuf, Error> {
        if let Some(dir) = known_hooks(&self.root) {
            return Ok(dir);
        }
        let out = self.git(&["rev-parse", "--git-path", "hooks"])?;
        let rel = String::from_utf8_lossy(&out).trim_end().to_owned();
        let dir = lexically_normal(&self.root.join(rel));
        remember_hooks(&self.root, dir.clone());
        Ok(dir)
    }

    pub fn git(&self, args: &[&str]) -> Result<Vec<u8>, Error> {
        run(&self.root, args, None)
    }

    pub fn git_with_input(&self, args: &[&str], input: &[u8]) -> Result<Vec<u8>, Error> {
        run(&self.root, args, Some(input))
    }

    /// Whether this is a partial clone (`git clone --filter`): objects may be left on
    /// a promisor remote, and reading one makes git fetch it, a round trip each.
    pub fn is_partial_clone(&self) -> bool {
        let Ok(out) = self.git(&[
            "config",
            "--get-regexp",
            r"^(extensions\.partialclone|remote\..*\.promisor)$",
        ]) else {
            return false;
        };
        String::from_utf8_lossy(&out).lines().any(|line| {
            let value = line.split_once(' ').map_or("", |(_, v)| v.trim());
            line.starts_with("extensions.") || !matches!(value, "false" | "no" | "off" | "0")
        })
    }

    /// `git args…` reading only the objects this repository holds: in a partial clone,
    /// a missing one is an error instead of a fetch (see [`Repo::for_each_local_object`]).
    pub fn git_local(&self, args: &[&str]) -> Result<Vec<u8>, Error> {
        run_with_env(&self.root, args, None, &[NO_LAZY_FETCH])
    }

    pub fn config_get(&self, key: &str) -> Option<String> {
        self.git(&["config", "--local", "--get", key])
            .ok()
            .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
    }

    /// A config value from any level (local, global).
    pub fn config_get_any(&self, key: &str) -> Option<String> {
        self.git(&["config", "--get", key])
            .ok()
            .map(|o| String::from_utf8_lossy(&o).trim().to_owned())
    }

    pub fn config_set(&self, key: &str, value: &str) -> Result<(), Error> {
        self.git(&["config", "--local", key, value]).map(|_| ())
    }

    /// Removes `key` from the local config; a key that is not there is no error.
    pub fn config_unset(&self, key: &str) -> Result<(), Error> {
        match self.git(&["config", "--local", "--unset-all", key]) {
            Ok(_) => Ok(()),
            Err(_) if self.config_get(key).is_none() => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn config_unset_section(&self, section: &str) -> Result<(), Error> {
        // Exit status 128 means the section did not exist: nothing to remove.
        match self.git(&["config", "--local", "--remove-section", section]) {
            Ok(_) => Ok(()),
            Err(Error::Git { .. })
                if self.config_get(&format!("{section}.process")).is_none()
                    && self.config_get(&format!("{section}.required")).is_none() =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Files routed through the filter whose work-tree bytes differ from the index,
    /// compared as the filter is configured now (raw bytes when it is not).
    pub fn edited_filtered(&self) -> Result<std::collections::HashSet<String>, Error> {
        let out = self.git(&["diff", "--name-only", "-z", "--", FILTERED])?;
        Ok(out
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect())
    }

    /// Files routed through the filter that have an entry in the index.
    pub fn tracked(&self) -> Result<std::collections::HashSet<String>, Error> {
        let out = self.git(&["ls-files", "-z", "--", FILTERED])?;
        Ok(out
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect())
    }

    /// Stage-0 index entries routed through the filter: (path, mode, object id).
    pub fn staged_blobs(&self) -> Result<Vec<(String, String, String)>, Error> {
        let out = self.git(&["ls-files", "-s", "-z", "--", FILTERED])?;
        Ok(stage0_entries(&out).collect())
    }

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
    pub fn fast_import(&self, args: &[&str], stream: &[u8]) -> Result<(), Error> {
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
        )?;
        Ok(())
    }

    /// Writes blobs to the object store in one `git fast-import` and returns their ids,
    /// in order (one process however many blobs; nothing goes through a temporary file).
    pub fn write_blobs<'a>(
        &self,
        blobs: impl Iterator<Item = &'a [u8]>,
    ) -> Result<Vec<String>, Error> {
        let mut stream = Vec::new();
        let mut n = 0;
        for (i, b) in blobs.enumerate() {
            stream
                .extend_from_slice(format!("blob\nmark :{}\ndata {}\n", i + 1, b.len()).as_bytes());
            stream.extend_from_slice(b);
            stream.push(b'\n');
            n = i + 1;
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let marks = tempfile::NamedTempFile::new().map_err(|source| Error::Io {
            path: "marks".into(),
            source,
        })?;
        let arg = format!("--export-marks={}", marks.path().display());
        self.fast_import(&["--done", &arg], &[stream, b"done\n".to_vec()].concat())?;
        let text = std::fs::read_to_string(marks.path()).map_err(|source| Error::Io {
            path: marks.path().to_owned(),
            source,
        })?;
        let mut by_mark = std::collections::HashMap::new();
        for line in text.lines() {
            if let Some((m, oid)) = line.strip_prefix(':').and_then(|l| l.split_once(' ')) {
                by_mark.insert(m.parse::<usize>().unwrap_or(0), oid.to_owned());
            }
        }
        (1..=n)
            .map(|i| {
                by_mark.remove(&i).ok_or_else(|| Error::Git {
                    args: "fast-import".into(),
                    stderr: format!("no object id for blob {i}"),
                })
            })
            .collect()
    }

    /// Makes git look at `paths` again after they were rewritten in the work tree
    /// (unlock and lock convert them in place). Their index entries keep their blob but
    /// lose their stat data, which git reads as "unknown" (size 0) and so compares their
    /// content through the filter as now configured, recording the new stat data when
    /// it matches. A rewritten file whose content really changed stays modified. With
    /// `refresh`, git does so now; without, at the next command that looks (`git
    /// status`): for unlock, whose files are compared through the filter, doing it now
    /// was mostly wasted, since files written in the same second as the index are
    /// "racily clean" to git and compared once more anyway.
    pub fn restat(&self, paths: &[String], refresh: bool) -> Result<(), Error> {
        self.restat_staged(&self.staged_blobs()?, paths, refresh)
    }

    /// [`Repo::restat`] with the stage-0 entries of the secret files already read
    /// ([`Repo::staged_blobs`]: path, mode, object id). Conflicted entries are left alone.
    pub fn restat_staged(
        &self,
        staged: &[(String, String, String)],
        paths: &[String],
        refresh: bool,
    ) -> Result<(), Error> {
        if paths.is_empty() {
            return Ok(());
        }
        let wanted: std::collections::HashSet<&str> = paths.iter().map(String::as_str).collect();
        let mut info = Vec::new();
        for (path, mode, oid) in staged {
            if wanted.contains(path.as_str()) {
                info.extend_from_slice(format!("{mode} {oid}\t{path}\0").as_bytes());
            }
        }
        self.git_with_input(&["update-index", "-z", "--index-info"], &info)?;
        if refresh {
            // Exit status 1 means some file differs: it is then rightly shown as modified.
            let _ = self.git(&["update-index", "-q", "--refresh"]);
        }
        Ok(())
    }
}

/// `git args…` in `dir` with no system or global configuration, for unit tests: its
/// stdout, the command asserted to succeed.
#[cfg(test)]
pub(crate) fn hermetic_git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_by_name() {
        let n = |p: &str| lexically_normal(Path::new(p));
        assert_eq!(n("/r/a/b/../../.git/hooks"), PathBuf::from("/r/.git/hooks"));
        assert_eq!(n("/r/./.githooks"), PathBuf::from("/r/.githooks"));
        assert_eq!(n("/abs/h"), PathBuf::from("/abs/h"));
        assert_eq!(n("/.."), PathBuf::from("/"));
        assert_eq!(n("../x"), PathBuf::from("../x"));
    }

    /// From a subdirectory, the hooks directory git names relative to it is the one
    /// under the top level.
    #[test]
    fn discovery_learns_the_hooks_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        hermetic_git(&root, &["init", "-q"]);
        hermetic_git(&root, &["config", "core.hooksPath", ".githooks"]);
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        let out = run(
            &root.join("a/b"),
            &["rev-parse", "--show-toplevel", "--git-path", "hooks"],
            None,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let hooks = text.lines().nth(1).unwrap();
        assert_eq!(
            lexically_normal(&root.join("a/b").join(hooks)),
            root.join(".githooks")
        );
    }
}
