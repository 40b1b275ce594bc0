//! Running the real `git` for what it owns: repository discovery, this clone's config,
//! attributes, and checking files out again through the filter. Reading and writing
//! objects is in `objects.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::Error;

mod objects;
pub use objects::{blob_id, BlobReader};

/// The pathspec of files routed through the filter (attribute pathspec magic, git 2.13),
/// so no list of paths is ever passed on a command line.
const FILTERED: &str = ":(attr:filter=secrets)";

/// Tells git not to fetch an object a partial clone left on its promisor remote.
const NO_LAZY_FETCH: (&str, &str) = ("GIT_NO_LAZY_FETCH", "1");

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

/// A git work tree.
#[derive(Clone, Debug)]
pub struct Repo {
    pub root: PathBuf,
}

/// The entries of `git ls-files -s -z` (or `-u -z`) output: (path, mode, object id,
/// stage: 0, or 1–3 for the base, ours and theirs of a conflict).
pub(crate) fn stage_entries(out: &[u8]) -> impl Iterator<Item = (String, String, String, u8)> + '_ {
    out.split(|&b| b == 0).filter_map(|entry| {
        let tab = entry.iter().position(|&b| b == b'\t')?;
        let head = String::from_utf8_lossy(&entry[..tab]);
        let mut f = head.split(' ');
        match (f.next(), f.next(), f.next()?.parse().ok()) {
            (Some(mode), Some(oid), Some(stage)) => Some((
                String::from_utf8_lossy(&entry[tab + 1..]).into_owned(),
                mode.to_owned(),
                oid.to_owned(),
                stage,
            )),
            _ => None,
        }
    })
}

/// The stage-0 entries of `git ls-files -s -z` output: (path, mode, object id).
pub(crate) fn stage0_entries(out: &[u8]) -> impl Iterator<Item = (String, String, String)> + '_ {
    stage_entries(out)
        .filter(|e| e.3 == 0)
        .map(|(path, mode, oid, _)| (path, mode, oid))
}

/// Every git command git-secrets runs reads the objects as they are, never through
/// `refs/replace/*`: a replace ref (pushed, or fetched with `+refs/replace/*:…`) would
/// otherwise make `check` and the hooks judge a clean stand-in instead of the commit a
/// branch really points at, and the history of access.json read for removals is the
/// real one too.
const NO_REPLACE: (&str, &str) = ("GIT_NO_REPLACE_OBJECTS", "1");

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
