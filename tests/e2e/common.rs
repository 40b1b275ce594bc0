//! The hermetic test environment: a temporary directory holding HOME, XDG_CONFIG_HOME, a
//! global git config of the test's own (fixed author, committer and dates), and repos.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The built CLI (cargo builds it for this test target).
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-secrets"))
}

/// The output of one command: status, stdout and stderr as text.
#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    fn from(o: Output) -> Out {
        Out {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
    pub fn ok(self) -> Out {
        assert_eq!(self.code, Some(0), "expected success:\n{self:#?}");
        self
    }
    pub fn fails(self) -> Out {
        assert_ne!(self.code, Some(0), "expected failure:\n{self:#?}");
        self
    }
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
    /// Asserts the error on stderr names every one of `needles` and comes with a hint.
    pub fn error_names(&self, needles: &[&str]) {
        for n in needles {
            assert!(self.stderr.contains(n), "{n}: {}", self.stderr);
        }
        assert!(self.stderr.contains("hint:"), "{}", self.stderr);
    }
}

/// A test's world: one temporary directory; HOME and the identity live in `home/`.
pub struct Env {
    pub dir: std::sync::Arc<tempfile::TempDir>,
    /// Extra environment for every command (e.g. another identity).
    pub vars: Vec<(String, String)>,
    /// Variables removed from every command's environment (e.g. XDG_CONFIG_HOME).
    pub unset: Vec<String>,
    pub home: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(
            dir.path().join("gitconfig"),
            "[user]\n\tname = Alice Test\n\temail = alice@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n[protocol \"file\"]\n\tallow = always\n",
        )
        .unwrap();
        Env {
            dir: std::sync::Arc::new(dir),
            vars: Vec::new(),
            unset: Vec::new(),
            home,
        }
    }

    /// Another person in the same directory: own HOME, so own identity.
    pub fn person(&self, name: &str) -> Env {
        let home = self.dir.path().join(format!("home-{name}"));
        std::fs::create_dir_all(&home).unwrap();
        Env {
            dir: self.dir.clone(),
            vars: Vec::new(),
            unset: Vec::new(),
            home,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, program: &OsStr, cwd: &Path) -> Command {
        let mut c = Command::new(program);
        let bindir = bin().parent().unwrap().to_owned();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![bindir];
        paths.extend(std::env::split_paths(&path));
        c.current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::join_paths(paths).unwrap())
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.gitconfig())
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .env("LC_ALL", "C")
            .env("TZ", "UTC")
            .stdin(Stdio::null());
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        for k in &self.unset {
            c.env_remove(k);
        }
        c
    }

    /// Runs any `program args…` in `cwd` with this person's environment.
    pub fn run(&self, program: impl AsRef<OsStr>, cwd: &Path, args: &[&str]) -> Out {
        Out::from(
            self.command(program.as_ref(), cwd)
                .args(args)
                .output()
                .unwrap(),
        )
    }

    /// Runs `git secrets args…` at a terminal: `script` (util-linux) gives it a
    /// pseudo-terminal, and `input` is typed into it. Output is the terminal's (CR LF).
    pub fn secrets_at_terminal(&self, cwd: &Path, args: &[&str], input: &str) -> Out {
        use std::io::Write;
        let line = std::iter::once("git secrets")
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = self
            .command(OsStr::new("script"), cwd)
            .args(["-qec", &line, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script (util-linux) runs commands at a pseudo-terminal");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        Out::from(child.wait_with_output().unwrap())
    }

    /// The global git config every person of the test shares.
    pub fn gitconfig(&self) -> PathBuf {
        self.dir.path().join("gitconfig")
    }

    /// Runs `git args…` in `cwd`.
    pub fn git(&self, cwd: &Path, args: &[&str]) -> Out {
        Out::from(
            self.command(OsStr::new("git"), cwd)
                .args(args)
                .output()
                .unwrap(),
        )
    }

    /// Runs `git args…` and returns its stdout as bytes (binary blobs), asserting success.
    pub fn git_bytes(&self, cwd: &Path, args: &[&str]) -> Vec<u8> {
        let out = self
            .command(OsStr::new("git"), cwd)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?} failed");
        out.stdout
    }

    /// Runs `git secrets args…` (through git, as a user would).
    pub fn secrets(&self, cwd: &Path, args: &[&str]) -> Out {
        self.git(cwd, &[&["secrets"], args].concat())
    }

    /// Runs `git secrets args…` with `input` on stdin.
    /// `git secrets args…` with the test fault point `point` set: the process aborts
    /// there, as a `kill -9` would (rotation.rs, journal.rs). Asserts that it did not
    /// succeed.
    pub fn secrets_killed_at(&mut self, cwd: &Path, point: &str, args: &[&str]) -> Out {
        self.vars
            .push(("GIT_SECRETS_TEST_FAULT".into(), point.into()));
        let out = self.secrets(cwd, args);
        self.vars.pop();
        assert!(!out.success(), "{point}: the fault point aborts: {out:?}");
        out
    }

    pub fn secrets_stdin(&self, cwd: &Path, args: &[&str], input: &[u8]) -> Out {
        use std::io::Write;
        let mut child = self
            .command(OsStr::new("git"), cwd)
            .arg("secrets")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        Out::from(child.wait_with_output().unwrap())
    }

    /// Starts `git secrets args…` without waiting for it, stderr piped (stdout dropped).
    pub fn spawn_secrets(&self, cwd: &Path, args: &[&str]) -> std::process::Child {
        self.command(OsStr::new("git"), cwd)
            .arg("secrets")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Starts `git secrets args…` without waiting for it, stdin piped (to be written and
    /// closed by the test), stderr piped (stdout dropped).
    pub fn spawn_secrets_stdin(&self, cwd: &Path, args: &[&str]) -> std::process::Child {
        self.command(OsStr::new("git"), cwd)
            .arg("secrets")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// A new repository `name` with git-secrets initialised (`init_args` extra).
    pub fn repo(&self, name: &str, init_args: &[&str]) -> PathBuf {
        let repo = self.path().join(name);
        self.git(self.path(), &["init", "-q", name]).ok();
        self.secrets(&repo, &[&["init"], init_args].concat()).ok();
        repo
    }

    /// `git add -A && git commit -m msg`.
    pub fn commit_all(&self, repo: &Path, msg: &str) {
        self.git(repo, &["add", "-A"]).ok();
        self.git(repo, &["commit", "-q", "-m", msg]).ok();
    }
}

pub fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

pub fn write(path: impl AsRef<Path>, text: &str) {
    if let Some(p) = path.as_ref().parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// What a write of git-secrets holds while its temporary file exists (crate fsutil): a
/// shared flock(2) on the directory. Held here, it stands for a command still running.
pub fn writing_in(dir: &Path) -> std::fs::File {
    let f = std::fs::File::open(dir).unwrap();
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockShared).unwrap();
    f
}

/// Sets the permission bits of `path`.
/// Dates `path` five seconds ahead, as an edit after the index was written would date it:
/// `git mv` keeps an entry's stat data, so git sees a moved file's new content only when
/// its times differ from the entry's, which a second's granularity may hide.
pub fn dated_later(path: impl AsRef<Path>) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
}

pub fn chmod(path: impl AsRef<Path>, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The permission bits of `path`.
pub fn mode(path: impl AsRef<Path>) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path.as_ref())
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

/// The blob git stores for `path` at `rev`.
/// Puts back every file under `.secrets` as `rev` has it, in its encrypted form, and
/// stages it: what `git checkout REV -- .secrets` does, without the racy re-clean of a
/// file git may run in the same second (which a clone refusing to seal would fail).
pub fn restore_secrets_sealed(env: &Env, repo: &Path, rev: &str) {
    let files = env
        .git(
            repo,
            &["ls-tree", "-r", "--name-only", rev, "--", ".secrets"],
        )
        .ok()
        .stdout;
    for file in files.lines() {
        write(repo.join(file), &blob(env, repo, &format!("{rev}:{file}")));
    }
    env.git(repo, &["add", "--", ".secrets"]).ok();
}

pub fn blob(env: &Env, repo: &Path, rev_path: &str) -> String {
    env.git(repo, &["show", rev_path]).ok().stdout
}

/// Alice's repository with a value in development and production, committed.
pub fn alice_repo(env: &Env) -> PathBuf {
    let repo = env.repo("alice", &["--envs"]);
    env.secrets(&repo, &["set", "DB", "dev-password-1"]).ok();
    env.secrets(&repo, &["set", "production", "DB", "prod-password-1"])
        .ok();
    env.commit_all(&repo, "secrets");
    repo
}

/// `who` clones `from` into `<tmp>/name`.
pub fn clone(who: &Env, from: &Path, name: &str) -> PathBuf {
    who.git(who.path(), &["clone", "-q", from.to_str().unwrap(), name])
        .ok();
    who.path().join(name)
}

/// `who` pulls `main` from `from` into `repo`, with a merge.
pub fn pull(who: &Env, repo: &Path, from: &Path) {
    let from = from.to_str().unwrap();
    who.git(
        repo,
        &["pull", "-q", "--no-rebase", "--no-edit", from, "main"],
    )
    .ok();
}

/// The member id of the member called `name`, from `member list --json`.
pub fn member_id(env: &Env, repo: &Path, name: &str) -> String {
    let out = env.secrets(repo, &["member", "list", "--json"]).ok().stdout;
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let row = rows.as_array().unwrap().iter().find(|r| r["name"] == name);
    row.unwrap()["id"].as_str().unwrap().to_owned()
}

/// Bob joins from his clone, commits the request, Alice pulls it.
pub fn bob_joins(env: &Env, alice: &Path) -> (Env, PathBuf, String) {
    let bob = env.person("bob");
    let b = clone(&bob, alice, "bob");
    bob.secrets(&b, &["join", "--name", "bob"]).ok();
    bob.commit_all(&b, "bob asks to join");
    pull(env, alice, &b);
    let id = member_id(env, alice, "bob");
    (bob, b, id)
}

/// Alice approves Bob (`id`) for `env_name` and commits; Bob pulls it and unlocks.
pub fn approve_and_unlock(env: &Env, alice: &Path, bob: &Env, b: &Path, id: &str, env_name: &str) {
    env.secrets(alice, &["member", "approve", id, "--env", env_name])
        .ok();
    env.commit_all(alice, &format!("approve bob for {env_name}"));
    pull(bob, b, alice);
    bob.secrets(b, &["unlock"]).ok();
}

/// On a branch `feature`, a new service's production value (STRIPE), committed; then, on
/// main, member `id` removed (which rotates production) and committed: a scope file a
/// branch added under the key the removal retired.
pub fn payments_branch_then_remove(env: &Env, alice: &Path, id: &str) {
    env.git(alice, &["checkout", "-q", "-b", "feature"]).ok();
    env.secrets(
        alice,
        &[
            "set",
            "-s",
            "payments",
            "production",
            "STRIPE",
            "sk-live-value-0002",
        ],
    )
    .ok();
    env.commit_all(alice, "payments");
    env.git(alice, &["checkout", "-q", "main"]).ok();
    env.secrets(alice, &["member", "remove", id]).ok();
    env.git(alice, &["commit", "-q", "-m", "remove bob"]).ok();
}
