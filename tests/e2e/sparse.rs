//! A sparse checkout that leaves `.secrets/` out (`git sparse-checkout set app` in a
//! monorepo): git keeps the secret files in the index (skip-worktree) but writes none.
//! They are read from git, and no command writes one: a new file would hold only what
//! the command set, and a `git commit -a` after widening would drop every other key.

use std::path::{Path, PathBuf};

use crate::common::*;

const STAGING: &str = ".secrets/staging.env";

/// A repository with three committed staging values and an `app/` directory, checked
/// out sparsely to `app/` only (cone mode).
fn sparse_repo(env: &Env) -> PathBuf {
    let repo = env.repo("r", &["--envs", "development,staging,production"]);
    for (k, v) in [
        ("K1", "value-1-abcdef"),
        ("K2", "value-2-abcdef"),
        ("K3", "value-3-abcdef"),
    ] {
        env.secrets(&repo, &["set", "-e", "staging", k, v]).ok();
    }
    write(repo.join("app/main.rs"), "fn main() {}\n");
    env.commit_all(&repo, "base");
    env.git(&repo, &["sparse-checkout", "set", "app"]).ok();
    assert!(
        !repo.join(".secrets").exists(),
        ".secrets/ is outside the cone"
    );
    repo
}

/// Asserts that `out` refused with the sparse-checkout message and that no secret file
/// appeared in the work tree.
fn assert_refused_outside(out: Out, repo: &Path) {
    let out = out.fails();
    out.error_names(&[
        "outside this sparse checkout",
        "git sparse-checkout add .secrets",
    ]);
    assert!(!repo.join(".secrets").exists(), "nothing written: {out:#?}");
}

/// Widens the checkout, commits everything, and asserts HEAD still holds every value.
fn assert_nothing_lost(env: &Env, repo: &Path) {
    env.git(repo, &["sparse-checkout", "disable"]).ok();
    env.git(repo, &["commit", "-qam", "after"]);
    let listed = env.secrets(repo, &["get", "-e", "staging"]).ok().stdout;
    assert_eq!(
        listed.lines().filter(|l| l.starts_with('K')).count(),
        3,
        "{listed}"
    );
    assert_eq!(
        env.secrets(repo, &["get", "-e", "staging", "K2", "--yes"])
            .ok()
            .stdout,
        "value-2-abcdef\n"
    );
    let stored = blob(env, repo, &format!("HEAD:{STAGING}"));
    assert!(
        stored.contains("K1=gs1:") && stored.contains("K3=gs1:"),
        "{stored}"
    );
}

// Guards: a scope file outside the sparse checkout is read from git: get, run and export
// see its committed values (not "no secrets yet"), and status says where they are.
#[test]
fn a_scope_file_outside_the_sparse_checkout_is_read_from_git() {
    let env = Env::new();
    let repo = sparse_repo(&env);
    let listed = env.secrets(&repo, &["get", "-e", "staging"]).ok().stdout;
    assert_eq!(
        listed.lines().filter(|l| l.starts_with('K')).count(),
        3,
        "{listed}"
    );
    assert!(!listed.contains("abcdef"), "masked: {listed}");
    let got = env.secrets(&repo, &["get", "-e", "staging", "K2", "--yes"]);
    assert_eq!(got.ok().stdout, "value-2-abcdef\n");
    let ran = env
        .secrets(
            &repo,
            &["run", "-e", "staging", "--", "sh", "-c", "echo $K3"],
        )
        .ok();
    assert_eq!(ran.stdout, "value-3-abcdef\n");
    let exported = env
        .secrets(&repo, &["export", "-e", "staging", "--yes"])
        .ok()
        .stdout;
    assert!(
        exported.contains("export K1='value-1-abcdef'"),
        "{exported}"
    );
    let status = env.secrets(&repo, &["status"]).ok().stdout;
    assert!(
        status.contains("outside the sparse checkout")
            && status.contains("git sparse-checkout add .secrets"),
        "{status}"
    );
    // lock and unlock neither write nor materialise a file there.
    env.secrets(&repo, &["lock"]).ok();
    env.secrets(&repo, &["unlock"]).ok();
    assert!(!repo.join(".secrets").exists());
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
    // A locked clone reads it the same way, decrypting in memory.
    let c = clone(&env, &repo, "c");
    env.git(&c, &["sparse-checkout", "set", "app"]).ok();
    let got = env.secrets(&c, &["get", "-e", "staging", "K1", "--yes"]);
    assert_eq!(got.ok().stdout, "value-1-abcdef\n");
}

// Guards: every command that would write a secret file refuses while `.secrets/` is
// outside the sparse checkout, naming the fix; afterwards `git commit -a` keeps every key.
#[test]
fn writes_outside_the_sparse_checkout_are_refused_and_nothing_is_lost() {
    let env = Env::new();
    let repo = sparse_repo(&env);
    let dotenv = env.path().join("in.env");
    write(&dotenv, "K9=imported-value-9\n");
    let dotenv = dotenv.to_str().unwrap();
    for args in [
        &["set", "-e", "staging", "K1", "Sparse-1-SSSS"][..],
        &["set", "-e", "development", "NEW", "new-value-1"],
        &["unset", "-e", "staging", "K1"],
        &["import", "-e", "staging", "--file", dotenv],
        &["env", "rename", "staging", "stage"],
        &["env", "del", "staging", "--yes"],
        &["env", "add", "qa"],
        &["rotate", "-e", "staging"],
    ] {
        assert_refused_outside(env.secrets(&repo, args), &repo);
    }
    write(repo.join("app/.env.example"), "K1=\nK8=example\n");
    let sync = env.secrets(&repo.join("app"), &["sync", "-e", "staging"]);
    assert_refused_outside(sync, &repo);
    assert_eq!(
        env.git(&repo, &["diff", "--cached", "--name-only"])
            .ok()
            .stdout,
        ""
    );
    assert_nothing_lost(&env, &repo);
    // Once `.secrets` is in the checkout, the same command works.
    env.secrets(&repo, &["set", "-e", "staging", "K1", "Sparse-1-SSSS"])
        .ok();
}
