//! The pre-push hook: the checks of `git secrets check` over the commits being pushed,
//! for what a rebase or a cherry-pick made without the pre-commit hook; and the
//! post-rewrite hook's warning right after such a rebase.

use std::path::Path;

use crate::common::*;

/// A bare repository `origin.git` beside the others, added to `repo` as its `origin`.
fn add_bare_origin(env: &Env, repo: &Path) -> std::path::PathBuf {
    let origin = env.path().join("origin.git");
    let url = origin.to_str().unwrap();
    env.git(env.path(), &["init", "-q", "--bare", url]).ok();
    env.git(repo, &["remote", "add", "origin", url]).ok();
    origin
}

/// Pushes `refspec` to origin and asserts the push is refused for the secret file `file`
/// in `object` (a commit or a tree).
fn push_refused_for(env: &Env, repo: &Path, refspec: &str, object: &str, file: &str) {
    let out = env.git(repo, &["push", "origin", refspec]).fails();
    assert!(
        out.stderr
            .contains(&format!("{} {file}: is a secret file", &object[..12])),
        "{}",
        out.stderr
    );
}

fn head(env: &Env, repo: &Path, rev: &str) -> String {
    env.git(repo, &["rev-parse", rev])
        .ok()
        .stdout
        .trim()
        .to_owned()
}

// Guards: a branch made before `member remove` that adds a scope file (sealed under the
// key the removal retired) is rebased onto the removal: rebase runs no pre-commit hook,
// so the post-rewrite hook warns at once and the pre-push hook refuses the push (to a
// new ref and to an existing one), naming the file and the fix, never the value. An
// ordinary push passes, and so does the push once the file is re-sealed.
// (The rebased file is pushed as `feature:main`: a checkout of main here would stop on
// the work tree's copy, which the filter re-seals under the new key.)
#[test]
fn a_push_of_a_rebased_branch_keeping_a_retired_key_is_refused() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (_bob, _b, id) = bob_joins(&env, &alice);
    env.secrets(&alice, &["member", "approve", &id]).ok();
    env.commit_all(&alice, "approve bob");
    let origin = add_bare_origin(&env, &alice);
    // An ordinary push (a new ref: every commit is checked) passes.
    env.git(&alice, &["push", "-q", "-u", "origin", "main"])
        .ok();

    payments_branch_then_remove(&env, &alice, &id);
    env.git(&alice, &["push", "-q", "origin", "main"]).ok();
    let pushed = head(&env, &origin, "main");

    env.git(&alice, &["checkout", "-q", "feature"]).ok();
    let p = ".secrets/payments/production.env";
    let out = env.git(&alice, &["rebase", "main"]).ok();
    assert!(
        out.stderr
            .contains("the rewritten commits hold secrets the push will refuse")
            && out
                .stderr
                .contains(&format!("{p}: line 1 (`STRIPE`) is sealed with key")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("sk-live"), "{}", out.stderr);

    // A new ref, and main fast-forwarded to it: both refused, nothing pushed.
    for (refspec, target) in [("feature", "feature"), ("feature:main", "main")] {
        let out = env.git(&alice, &["push", "origin", refspec]).fails();
        assert!(
            out.stderr.contains("this push would put secrets in git")
                && out.stderr.contains(&format!(
                    "{} {p}: line 1 (`STRIPE`) is sealed with key",
                    &head(&env, &alice, "feature")[..12]
                ))
                && out
                    .stderr
                    .contains("which a rotation of `production` replaced")
                && out
                    .stderr
                    .contains(&format!("git add --renormalize -- {p}"))
                && out.stderr.contains("push blocked: 1 problem(s)")
                && out.stderr.contains("git commit --amend"),
            "{refspec}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("sk-live"), "{}", out.stderr);
        assert_eq!(head(&env, &origin, "main"), pushed, "nothing pushed");
        let refs = env.git(&origin, &["branch", "--list", target]).ok().stdout;
        assert!(target == "main" || refs.is_empty(), "{refs}");
    }

    // Re-sealed and amended: refused until the value is reviewed (whoever held the
    // retired key may have written it), then the push goes through.
    env.git(&alice, &["add", "--renormalize", "--", p]).ok();
    let out = env
        .git(&alice, &["commit", "-q", "--amend", "--no-edit"])
        .fails();
    assert!(
        out.stderr.contains("(`STRIPE`) re-seals, unchanged") && !out.stderr.contains("sk-live"),
        "{}",
        out.stderr
    );
    env.secrets(
        &alice,
        &["get", "payments", "production", "STRIPE", "--yes"],
    )
    .ok();
    env.git(&alice, &["commit", "-q", "--amend", "--no-edit"])
        .ok();
    env.git(&alice, &["push", "-q", "origin", "feature:main"])
        .ok();
    assert_eq!(head(&env, &origin, "main"), head(&env, &alice, "feature"));
    // Deleting a ref checks nothing.
    env.git(&alice, &["push", "-q", "origin", "main:gone"]).ok();
    env.git(&alice, &["push", "-q", "origin", ":gone"]).ok();
}

// Guards: a pre-push hook of the user's (git lfs's reads the refs from stdin) still
// gets the refs git gave, after the check.
#[test]
fn a_shell_pre_push_hook_still_reads_the_refs() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let hook = alice.join(".git/hooks/pre-push");
    let seen = env.path().join("seen");
    write(
        &hook,
        &format!("#!/bin/sh\ncat > '{}'\n", seen.to_str().unwrap()),
    );
    chmod(&hook, 0o755);
    env.secrets(&alice, &["unlock"]).ok();
    assert!(
        read(&hook).contains("git-secrets hook pre-push"),
        "{}",
        read(&hook)
    );
    let origin = env.path().join("origin.git");
    env.git(
        env.path(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    )
    .ok();
    env.git(&alice, &["push", "-q", origin.to_str().unwrap(), "main"])
        .ok();
    let tip = head(&env, &alice, "main");
    assert_eq!(
        read(&seen),
        format!("refs/heads/main {tip} refs/heads/main {}\n", "0".repeat(40))
    );
}

// Guards: the pre-push hook checks what a push names besides commits: a tree pushed to
// a ref (its files, as a commit's), the commit a pushed replace ref stands in for, and
// the messages of the pushed commits (a secret's plaintext in one is refused).
#[test]
fn a_push_of_a_tree_a_replace_ref_or_a_secret_message_is_refused() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let origin = add_bare_origin(&env, &alice);
    env.git(&alice, &["push", "-q", "-u", "origin", "main"])
        .ok();
    let base = head(&env, &alice, "HEAD");
    // A tree with a plaintext secret file, pushed as a tag.
    let f = ".secrets/production.env";
    env.git(&alice, &["rm", "-q", "--cached", f]).ok();
    let raw = env.path().join("raw");
    write(&raw, "LEAKED=tree-leak-9999\n");
    let oid = env
        .git(
            &alice,
            &["hash-object", "-w", "--no-filters", raw.to_str().unwrap()],
        )
        .ok()
        .stdout;
    // Stages the plaintext blob at the scope file's path, past the filter.
    let stage_raw = || {
        env.git(
            &alice,
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("100644,{},{f}", oid.trim()),
            ],
        )
        .ok();
    };
    stage_raw();
    let tree = env
        .git(&alice, &["write-tree"])
        .ok()
        .stdout
        .trim()
        .to_owned();
    env.git(&alice, &["reset", "-q"]).ok();
    push_refused_for(
        &env,
        &alice,
        &format!("{tree}:refs/tags/snapshot"),
        &tree,
        f,
    );
    assert!(env.git(&origin, &["tag", "--list"]).ok().stdout.is_empty());

    // A commit made past the hooks, then a replace ref standing a clean one in for it.
    stage_raw();
    env.git(&alice, &["commit", "-q", "--no-verify", "-m", "bad"])
        .ok();
    let bad = head(&env, &alice, "HEAD");
    env.git(&alice, &["reset", "-q", "--hard", &base]).ok();
    push_refused_for(&env, &alice, &format!("{base}:refs/replace/{bad}"), &bad, f);

    // A secret's plaintext in a commit message (commit-msg skipped).
    let value = "dev-password-1"; // alice_repo's
    write(alice.join("a.txt"), "fine\n");
    env.git(&alice, &["add", "a.txt"]).ok();
    env.git(
        &alice,
        &[
            "commit",
            "-q",
            "--no-verify",
            "-m",
            &format!("the value is {value}"),
        ],
    )
    .ok();
    let out = env.git(&alice, &["push", "origin", "main"]).fails();
    assert!(
        out.stderr.contains(&format!(
            "{} commit message: line 1 contains the plaintext of the secret",
            &head(&env, &alice, "HEAD")[..12]
        )) && out
            .stderr
            .contains("`git commit --amend` for the last commit"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(value), "{}", out.stderr);
    assert_eq!(head(&env, &origin, "main"), base, "nothing pushed");
}
