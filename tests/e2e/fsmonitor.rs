//! The `core.fsmonitor` hook `unlock` configures: after a touch, `git status` skips the
//! filter for secret files whose bytes are exactly the work-tree form of what the index
//! holds, and never hides a change, a deletion, a mode change or an untracked file.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::common::*;

const DEV: &str = ".secrets/development.env";
const PROD: &str = ".secrets/production.env";

/// An unlocked repository with two secret files and a README, committed, and one
/// `git status` run (git's first query gets "everything"; it hands out the hook's token).
fn setup() -> (Env, PathBuf) {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs"]);
    env.secrets(&repo, &["set", "DB", "dev-password-1"]).ok();
    env.secrets(&repo, &["set", "production", "DB", "prod-password-1"])
        .ok();
    write(repo.join("README"), "hello\n");
    write(repo.join("src/deep/code.txt"), "fn main() {}\n");
    write(repo.join("src/deep/gone.txt"), "soon gone\n");
    env.commit_all(&repo, "secrets");
    env.git(&repo, &["status", "--porcelain"]).ok();
    (env, repo)
}

/// [`setup`], and a `web` service whose directory holds only secret files (nothing in it
/// is ever named by the hook), committed.
fn setup_with_web() -> (Env, PathBuf) {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "--service", "web", "DB", "web-password-1"])
        .ok();
    env.commit_all(&repo, "web");
    (env, repo)
}

/// Moves the mtime of `path` to `secs` seconds from now, as a later `touch` would.
fn touch(path: &Path, secs: u64) {
    set_mtime(path, SystemTime::now() + Duration::from_secs(secs));
}

fn set_mtime(path: &Path, mtime: SystemTime) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(mtime).unwrap();
}

/// `git status --porcelain` in `dir`, and how many files git sent to the clean filter.
fn status(env: &Env, dir: &Path) -> (String, usize) {
    let trace = env.path().join("packet-trace");
    let _ = std::fs::remove_file(&trace);
    let arg = format!("GIT_TRACE_PACKET={}", trace.display());
    let out = env
        .run("env", dir, &[&arg, "git", "status", "--porcelain"])
        .ok();
    let cleans = std::fs::read_to_string(&trace)
        .unwrap_or_default()
        .matches("command=clean")
        .count();
    (out.stdout, cleans)
}

/// Whether the facts file pairs the staged blob of `rel` with the file's path and exact
/// bytes.
fn knows(env: &Env, repo: &Path, rel: &str) -> bool {
    use sha2::Digest;
    let oid = env
        .git(repo, &["rev-parse", &format!(":{rel}")])
        .ok()
        .stdout;
    let mut record = (0..40)
        .step_by(2)
        .map(|i| u8::from_str_radix(&oid[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>();
    let mut digest = sha2::Sha256::new();
    digest.update((rel.len() as u32).to_be_bytes());
    digest.update(rel.as_bytes());
    digest.update(std::fs::read(repo.join(rel)).unwrap());
    record.extend(digest.finalize());
    let facts = std::fs::read(repo.join(".git/git-secrets/fsmonitor-facts")).unwrap();
    facts.chunks_exact(52).any(|r| r == record.as_slice())
}

fn config(env: &Env, repo: &Path, key: &str) -> Option<String> {
    let out = env.git(repo, &["config", "--local", "--get", key]);
    out.success().then(|| out.stdout.trim_end().to_owned())
}

// Guards: the point of the hook: a touch of every secret file makes `git status` run
// no filter at all, and the status is clean.
#[test]
fn status_after_a_touch_runs_no_filter() {
    let (env, repo) = setup();
    assert!(config(&env, &repo, "core.fsmonitor").is_some_and(|v| v.ends_with("\" fsmonitor")));
    touch(&repo.join(DEV), 5);
    touch(&repo.join(PROD), 5);
    assert_eq!(status(&env, &repo), (String::new(), 0));
    assert_eq!(status(&env, &repo), (String::new(), 0));
    // A value that reached this clone by a pull, never cleaned here: the fact comes from
    // smudge. (git checks a file it just wrote itself once, by its stat data or, within
    // the same timestamp tick as the index, through the filter: the first status.)
    let copy = env.path().join("copy");
    env.git(env.path(), &["clone", "-q", repo.to_str().unwrap(), "copy"])
        .ok();
    env.secrets(&copy, &["unlock"]).ok();
    env.secrets(&copy, &["set", "DB", "pulled-password-1"]).ok();
    env.commit_all(&copy, "from the copy");
    env.git(
        &repo,
        &["pull", "-q", "--ff-only", copy.to_str().unwrap(), "main"],
    )
    .ok();
    assert_eq!(read(repo.join(DEV)), "DB=pulled-password-1\n");
    assert!(knows(&env, &repo, DEV), "smudge recorded no fact");
    assert_eq!(status(&env, &repo).0, "");
    touch(&repo.join(DEV), 7);
    assert_eq!(status(&env, &repo), (String::new(), 0));
}

// Guards: a token the index does not hold (git's first query, a temporary index, another
// hook's token) gets the answer "everything may have changed".
#[test]
fn a_token_the_index_does_not_hold_gets_everything() {
    let (env, repo) = setup();
    for token in ["git-secrets:1", "1795331872741195088", ""] {
        let out = env.secrets(&repo, &["fsmonitor", "2", token]).ok().stdout;
        assert!(
            out.starts_with("git-secrets:") && out.ends_with("\0/\0"),
            "{token}: {out:?}"
        );
    }
    let out = env.secrets(&repo, &["fsmonitor", "1", "0"]).fails();
    assert!(out.stderr.contains("version 1"), "{out:?}");
}

// Guards: a real edit after a touch is seen, staged by `git add -A` and committed with
// its new value.
#[test]
fn an_edit_after_a_touch_is_seen_and_committed() {
    let (env, repo) = setup();
    touch(&repo.join(DEV), 5);
    status(&env, &repo);
    write(repo.join(DEV), "DB=dev-password-2\n");
    touch(&repo.join(DEV), 6);
    assert_eq!(status(&env, &repo).0, format!(" M {DEV}\n"));
    env.commit_all(&repo, "new password");
    assert_eq!(status(&env, &repo).0, "");
    std::fs::remove_file(repo.join(DEV)).unwrap();
    env.git(&repo, &["checkout", "--", DEV]).ok();
    assert_eq!(read(repo.join(DEV)), "DB=dev-password-2\n");
    let stored = blob(&env, &repo, &format!("HEAD:{DEV}"));
    assert!(stored.starts_with("DB=gs1:"), "{stored}");
}

// Guards: the digest cache is keyed by ctime too: an edit that keeps the size and puts
// the old mtime back is still seen once the file's digest was cached.
#[test]
fn an_edit_hiding_behind_the_old_mtime_is_seen() {
    let (env, repo) = setup();
    let path = repo.join(DEV);
    let mtime = SystemTime::now() - Duration::from_secs(60);
    set_mtime(&path, mtime);
    // Digests are cached only for files last changed (ctime too) over two seconds ago.
    std::thread::sleep(Duration::from_millis(3100));
    assert_eq!(status(&env, &repo), (String::new(), 0));
    assert_eq!(status(&env, &repo), (String::new(), 0));
    let cache = read(repo.join(".git/git-secrets/fsmonitor-digests"));
    assert!(cache.contains(DEV), "the digest was not cached:\n{cache}");
    // The same size, in place (same inode), the old mtime put back.
    write(&path, "DB=dev-password-9\n");
    set_mtime(&path, mtime);
    assert_eq!(status(&env, &repo).0, format!(" M {DEV}\n"));
}

// Guards: everything the hook does not vouch for is git's to check: other files,
// deletions, a mode change, untracked files inside and outside .secrets.
#[test]
fn other_changes_are_all_seen() {
    let (env, repo) = setup();
    touch(&repo.join(DEV), 5);
    status(&env, &repo);
    write(repo.join("README"), "changed\n");
    write(repo.join("src/deep/code.txt"), "fn main() { changed() }\n");
    std::fs::remove_file(repo.join("src/deep/gone.txt")).unwrap();
    write(repo.join("new.txt"), "new\n");
    write(repo.join(".secrets/notes.txt"), "untracked\n");
    std::fs::remove_file(repo.join(PROD)).unwrap();
    chmod(repo.join(DEV), 0o700);
    let (out, _) = status(&env, &repo);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    let mut want = vec![
        " M README".to_owned(),
        " M src/deep/code.txt".to_owned(),
        " D src/deep/gone.txt".to_owned(),
        format!(" D {PROD}"),
        "?? .secrets/notes.txt".to_owned(),
        "?? new.txt".to_owned(),
    ];
    if cfg!(unix) {
        want.push(format!(" M {DEV}"));
    }
    want.sort();
    assert_eq!(lines, want, "{out}");
}

// Guards: a fact vouches only for the path it was learned on: a secret file moved to
// another scope (its blob still sealed for the old one) is checked by git, shows as
// needing the new scope's seal, and `git add` re-seals it.
#[test]
fn a_file_moved_to_another_scope_is_checked() {
    let (env, repo) = setup();
    std::fs::remove_file(repo.join(PROD)).unwrap();
    env.git(&repo, &["rm", "-q", "--cached", PROD]).ok();
    env.commit_all(&repo, "no production file");
    env.git(&repo, &["status", "--porcelain"]).ok();
    env.git(&repo, &["mv", DEV, PROD]).ok();
    let (out, _) = status(&env, &repo);
    assert_eq!(out, format!("RM {DEV} -> {PROD}\n"));
    env.git(&repo, &["add", PROD]).ok();
    let staged = blob(&env, &repo, &format!(":{PROD}"));
    let moved = blob(&env, &repo, &format!("HEAD:{DEV}"));
    assert_ne!(staged, moved, "still sealed for development");
    env.git(&repo, &["commit", "-q", "-m", "move"]).ok();
    assert_eq!(status(&env, &repo).0, "");
}

// Guards: a secret file under a directory replaced by a symbolic link is, for git,
// deleted; the hook does not read through the link and vouch for it.
#[cfg(unix)]
#[test]
fn a_file_behind_a_symlinked_directory_is_not_vouched_for() {
    let (env, repo) = setup_with_web();
    env.git(&repo, &["status", "--porcelain"]).ok();
    let real = env.path().join("web-real");
    std::fs::rename(repo.join(".secrets/web"), &real).unwrap();
    std::os::unix::fs::symlink(&real, repo.join(".secrets/web")).unwrap();
    let (out, _) = status(&env, &repo);
    assert!(out.contains(" D .secrets/web/development.env"), "{out}");
}

// Guards: with git's untracked cache the hook answers "everything may have changed"
// (it does not watch for new files), so a new file is still listed and the touched
// secret files go through the filter, still clean.
#[test]
fn an_untracked_cache_gets_the_full_answer() {
    let (env, repo) = setup_with_web();
    env.git(&repo, &["config", "core.untrackedCache", "true"])
        .ok();
    env.git(&repo, &["update-index", "--untracked-cache"]).ok();
    for _ in 0..3 {
        env.git(&repo, &["status", "--porcelain"]).ok();
    }
    write(repo.join(".secrets/web/staging.env"), "NEW=1\n");
    touch(&repo.join(DEV), 5);
    let (out, cleans) = status(&env, &repo);
    assert_eq!(out, "?? .secrets/web/staging.env\n");
    assert!(cleans >= 1, "the touched file was not checked");
}

// Guards: a linked worktree has its own index and state: a touch there runs no filter,
// an edit there is seen.
#[test]
fn a_linked_worktree_is_answered_from_its_own_index() {
    let (env, repo) = setup();
    let wt = env.path().join("wt");
    env.git(
        &repo,
        &["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "wt"],
    )
    .ok();
    assert_eq!(read(wt.join(DEV)), "DB=dev-password-1\n");
    env.git(&wt, &["status", "--porcelain"]).ok();
    touch(&wt.join(DEV), 5);
    assert_eq!(status(&env, &wt), (String::new(), 0));
    write(wt.join(DEV), "DB=dev-password-3\n");
    assert_eq!(status(&env, &wt).0, format!(" M {DEV}\n"));
    assert_eq!(status(&env, &repo).0, "");
}

// Guards: a monitor the user set up is kept by init/unlock and left by lock; ours is
// removed by lock with what it kept, and set again by unlock.
#[test]
fn the_users_own_monitor_is_kept_and_ours_is_removed_by_lock() {
    let (env, repo) = setup();
    assert!(repo.join(".git/git-secrets/fsmonitor-facts").is_file());
    let shown = env.secrets(&repo, &["status"]).ok().stdout;
    assert!(shown.contains("fsmonitor:    git-secrets"), "{shown}");
    env.secrets(&repo, &["lock"]).ok();
    assert_eq!(config(&env, &repo, "core.fsmonitor"), None);
    assert_eq!(config(&env, &repo, "core.fsmonitorHookVersion"), None);
    assert!(!repo.join(".git/git-secrets/fsmonitor-facts").exists());
    assert_eq!(status(&env, &repo).0, "");
    env.secrets(&repo, &["unlock"]).ok();
    assert!(config(&env, &repo, "core.fsmonitor").is_some());
    assert_eq!(status(&env, &repo).0, "");

    let theirs = env.path().join("their-monitor");
    write(&theirs, "#!/bin/sh\nprintf 'theirs\\0/\\0'\n");
    chmod(&theirs, 0o755);
    let other = env.path().join("other");
    env.git(env.path(), &["init", "-q", "other"]).ok();
    env.git(
        &other,
        &["config", "core.fsmonitor", theirs.to_str().unwrap()],
    )
    .ok();
    env.secrets(&other, &["init"]).ok();
    let kept = Some(theirs.to_str().unwrap().to_owned());
    assert_eq!(config(&env, &other, "core.fsmonitor"), kept);
    let shown = env.secrets(&other, &["status"]).ok().stdout;
    assert!(shown.contains("fsmonitor:    your own"), "{shown}");
    env.secrets(&other, &["lock"]).ok();
    assert_eq!(config(&env, &other, "core.fsmonitor"), kept);
}
