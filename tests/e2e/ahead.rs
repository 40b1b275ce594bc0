//! The filter seals the next file while git works on this one (filter/ahead.rs): what
//! git stores through a guess is what sealing each file on its own stores, and a wrong
//! guess is never used. `GIT_SECRETS_TEST_AHEAD=1` makes the filter guess even when
//! git's next request is already there (a debug build is too slow to get there first)
//! and say whether each guess was right.

use std::path::{Path, PathBuf};

use crate::common::*;

/// Scope files of three scopes per environment, in git's (byte) order.
const FILES: [&str; 9] = [
    ".secrets/api/development.env",
    ".secrets/api/production.env",
    ".secrets/api/test.env",
    ".secrets/development.env",
    ".secrets/production.env",
    ".secrets/test.env",
    ".secrets/web/development.env",
    ".secrets/web/production.env",
    ".secrets/web/test.env",
];

/// A new repository with a different plaintext in each of [`FILES`], nothing staged.
fn project(env: &Env) -> PathBuf {
    let repo = env.repo("repo", &["--envs"]);
    for service in ["api", "web"] {
        env.secrets(&repo, &["set", "-s", service, "development", "K", "v"])
            .ok();
    }
    for (i, file) in FILES.iter().enumerate() {
        write(
            repo.join(file),
            &format!("# file {i}\nPASSWORD=secret-{i}-value\nexport B=\"two {i}\nlines\"\n"),
        );
    }
    repo
}

fn guessing(env: &mut Env) {
    env.vars.push(("GIT_SECRETS_TEST_AHEAD".into(), "1".into()));
}

/// The blob each file makes when the filter cleans it alone (one `hash-object` each).
fn alone(env: &Env, repo: &Path, file: &str) -> String {
    env.git(repo, &["hash-object", file])
        .ok()
        .stdout
        .trim()
        .to_owned()
}

fn staged(env: &Env, repo: &Path, file: &str) -> String {
    env.git(repo, &["rev-parse", &format!(":{file}")])
        .ok()
        .stdout
        .trim()
        .to_owned()
}

fn count(out: &Out, what: &str) -> usize {
    out.stderr
        .matches(&format!("sealed ahead, {what}:"))
        .count()
}

#[test]
fn add_of_many_files_stores_what_cleaning_each_alone_stores() {
    let mut env = Env::new();
    let repo = project(&env);
    guessing(&mut env);
    let out = env.git(&repo, &["add", "-A"]).ok();
    // From the third file on, each was sealed before git asked for it.
    assert_eq!(count(&out, "hit"), FILES.len() - 2, "{out:?}");
    assert_eq!(count(&out, "miss"), 0, "{out:?}");
    for file in FILES {
        assert_eq!(
            staged(&env, &repo, file),
            alone(&env, &repo, file),
            "{file}"
        );
        let blob = blob(&env, &repo, &format!(":{file}"));
        assert!(
            !blob.contains("secret-") && blob.contains("PASSWORD=gs1:"),
            "{blob}"
        );
    }
    env.git(&repo, &["commit", "-q", "-m", "secrets"]).ok();
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
}

#[test]
fn a_guess_for_a_file_git_does_not_ask_for_is_not_used() {
    let mut env = Env::new();
    let repo = project(&env);
    guessing(&mut env);
    // Every other file: each guess is the file git skips.
    let some: Vec<&str> = FILES.iter().copied().step_by(2).collect();
    let out = env.git(&repo, &[&["add", "--"], &some[..]].concat()).ok();
    assert_eq!(count(&out, "hit"), 0, "{out:?}");
    assert!(count(&out, "miss") >= 2, "{out:?}");
    for file in &some {
        assert_eq!(
            staged(&env, &repo, file),
            alone(&env, &repo, file),
            "{file}"
        );
    }
    // A file edited since the others were staged: git asks for it alone.
    write(repo.join(FILES[1]), "PASSWORD=changed\n");
    let out = env.git(&repo, &["add", "-A"]).ok();
    for file in FILES {
        assert_eq!(
            staged(&env, &repo, file),
            alone(&env, &repo, file),
            "{file}: {out:?}"
        );
    }
}

#[test]
fn files_that_are_not_plain_scope_files_are_never_read_ahead() {
    let mut env = Env::new();
    let repo = project(&env);
    // Next in git's order after the second and third files git cleans: a FIFO (opening
    // it to read would block the filter) and a symlink to a plaintext file outside
    // `.secrets/`, both named as scope files.
    let fifo = repo.join(".secrets/api/productionx.env");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    write(repo.join("outside.txt"), "PASSWORD=outside\n");
    std::fs::create_dir(repo.join(".secrets/apj")).unwrap();
    std::os::unix::fs::symlink(
        repo.join("outside.txt"),
        repo.join(".secrets/apj/development.env"),
    )
    .unwrap();
    guessing(&mut env);
    let out = env.git(&repo, &[&["add", "--"], &FILES[..4]].concat()).ok();
    assert_eq!(
        count(&out, "hit") + count(&out, "miss"),
        0,
        "no guess: {out:?}"
    );
    for file in &FILES[..4] {
        assert_eq!(
            staged(&env, &repo, file),
            alone(&env, &repo, file),
            "{file}"
        );
    }
}
