//! A value sealed under a key a rotation retired, pushed by a removed member who kept a
//! clone from before the removal: `run` and `export` refuse it until a person has
//! reviewed it (`get`, which warns) and re-sealed it under the current key.

use std::path::{Path, PathBuf};

use crate::common::*;

const EVIL: &str = "https://evil.example/x";

/// Alice's repository where Bob was approved (every environment) and then removed, and
/// where Bob, from the clone he kept, pushed EVIL sealed under the production key the
/// removal retired (committed with --no-verify); Alice pulled it. Returns Alice's clone
/// and the commit before the removal.
fn bob_injects(env: &Env) -> (PathBuf, String) {
    let alice = alice_repo(env);
    let (bob, b, id) = bob_joins(env, &alice);
    approve_and_unlock(env, &alice, &bob, &b, &id, "production");
    let before = env
        .git(&alice, &["rev-parse", "HEAD"])
        .ok()
        .stdout
        .trim()
        .to_owned();
    // Sealed while Bob still could, kept aside.
    bob.secrets(&b, &["set", "production", "EVIL", EVIL]).ok();
    bob.git(&b, &["add", "-A"]).ok();
    let staged = bob
        .git(&b, &["show", ":.secrets/production.env"])
        .ok()
        .stdout;
    let line = staged
        .lines()
        .find(|l| l.starts_with("EVIL=gs1:"))
        .unwrap()
        .to_owned();
    bob.git(&b, &["reset", "-q", "--hard"]).ok();
    env.secrets(&alice, &["member", "remove", &id]).ok();
    env.git(&alice, &["commit", "-q", "-m", "remove bob"]).ok();
    pull(&bob, &b, &alice);
    // Alice's re-sealed file, with Bob's line added, straight into git.
    let sealed = blob(&bob, &b, "HEAD:.secrets/production.env");
    write(
        b.join(".secrets/production.env"),
        &format!("{sealed}{line}\n"),
    );
    let oid = bob
        .git(
            &b,
            &[
                "hash-object",
                "-w",
                "--no-filters",
                ".secrets/production.env",
            ],
        )
        .ok()
        .stdout;
    let info = format!("100644,{},.secrets/production.env", oid.trim());
    bob.git(&b, &["update-index", "--cacheinfo", &info]).ok();
    bob.git(&b, &["commit", "-q", "--no-verify", "-m", "innocent"])
        .ok();
    pull(env, &alice, &b);
    (alice, before)
}

/// Asserts `out` refuses EVIL by name, file and line, with the fix, never its value.
fn refuses_evil(out: &Out) {
    out.error_names(&[
        "EVIL",
        ".secrets/production.env line",
        "not a current key of `production`",
        "a removed member included",
        "git secrets get -e production EVIL --show",
        "git add --renormalize -- .secrets/production.env",
    ]);
    assert!(
        !out.stdout.contains("evil.example") && !out.stderr.contains("evil.example"),
        "{out:?}"
    );
}

fn run_evil(env: &Env, repo: &Path) -> Out {
    env.secrets(repo, &["run", "-e", "production", "--", "printenv", "EVIL"])
}

#[test]
fn a_value_a_removed_member_sealed_under_the_retired_key_is_not_passed_on() {
    let env = Env::new();
    let (alice, _) = bob_injects(&env);
    // The smudge opened it; run and export refuse it.
    assert!(read(alice.join(".secrets/production.env")).contains(EVIL));
    refuses_evil(&run_evil(&env, &alice).fails());
    let out = env
        .secrets(&alice, &["run", "-e", "production", "--", "printenv", "DB"])
        .fails();
    refuses_evil(&out);
    let dumped = alice.join("dump.env");
    let out = env
        .secrets(
            &alice,
            &["export", "-e", "production", "-y", "-o", "dump.env"],
        )
        .fails();
    refuses_evil(&out);
    assert!(!dumped.exists());
    refuses_evil(
        &env.secrets(&alice, &["export", "-e", "production", "-y"])
            .fails(),
    );
    // check over Bob's commit says to review it before re-sealing it.
    let out = env.secrets(&alice, &["check", "HEAD~1..HEAD"]).fails();
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("review it first (`git secrets get -e production EVIL --show`)")
            && said.contains("git add --renormalize")
            && !said.contains("evil.example"),
        "{out:?}"
    );
    // status and doctor name it.
    let out = env.secrets(&alice, &["status"]).ok();
    assert!(
        out.stdout.contains("problem: .secrets/production.env line")
            && out.stdout.contains("`EVIL`")
            && !out.stdout.contains("evil.example"),
        "{out:?}"
    );
    let out = env.secrets(&alice, &["doctor"]).fails();
    assert!(
        out.stdout.contains("`EVIL`") || out.stderr.contains("`EVIL`"),
        "{out:?}"
    );
    // A locked clone of the same commits: the same refusal.
    let locked = clone(&env, &alice, "alice-locked");
    refuses_evil(&run_evil(&env, &locked).fails());
    // Locking this clone keeps what git holds: still refused.
    env.secrets(&alice, &["lock"]).ok();
    refuses_evil(&run_evil(&env, &alice).fails());
    env.secrets(&alice, &["unlock"]).ok();
    // get shows it, with the warning.
    let out = env
        .secrets(&alice, &["get", "production", "EVIL", "--show", "--yes"])
        .ok();
    assert_eq!(out.stdout, format!("{EVIL}\n"));
    assert!(
        out.stderr.contains("warning: unverified")
            && out.stderr.contains("`EVIL`")
            && out.stderr.contains("git add --renormalize"),
        "{out:?}"
    );
    // Reviewed and re-sealed: passed on.
    env.git(
        &alice,
        &["add", "--renormalize", "--", ".secrets/production.env"],
    )
    .ok();
    env.git(&alice, &["commit", "-q", "-m", "reviewed"]).ok();
    assert_eq!(run_evil(&env, &alice).ok().stdout, format!("{EVIL}\n"));
    assert!(!env
        .secrets(&alice, &["status"])
        .ok()
        .stdout
        .contains("EVIL"));
}

#[test]
fn a_value_edited_over_an_unverified_one_is_the_users_own() {
    let env = Env::new();
    let (alice, _) = bob_injects(&env);
    let path = alice.join(".secrets/production.env");
    let text = read(&path).replace(EVIL, "https://good.example/y");
    write(&path, &text);
    assert_eq!(
        run_evil(&env, &alice).ok().stdout,
        "https://good.example/y\n"
    );
}

#[test]
fn an_old_commit_where_the_key_was_current_still_runs() {
    let env = Env::new();
    let (alice, before) = bob_injects(&env);
    env.git(&alice, &["checkout", "-q", "-f", "--detach", &before])
        .ok();
    let out = env
        .secrets(&alice, &["run", "-e", "production", "--", "printenv", "DB"])
        .ok();
    assert_eq!(out.stdout, "prod-password-1\n");
}

/// Asserts `out` (a commit the hook refused) names EVIL's re-seal, never its value,
/// with the review as the fix.
fn refuses_laundering(out: &Out) {
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains(".secrets/production.env")
            && said.contains("(`EVIL`) re-seals, unchanged")
            && said.contains("not a current key of `production`")
            && said.contains("git secrets get -e production EVIL --show")
            && !said.contains("evil.example"),
        "{out:?}"
    );
}

/// Alice's edit of another line of the file, in the work tree.
fn edit_db(alice: &Path) {
    let path = alice.join(".secrets/production.env");
    write(
        &path,
        &read(&path).replace("prod-password-1", "prod-password-2"),
    );
}

#[test]
fn an_edit_of_another_line_does_not_re_seal_an_unreviewed_value() {
    let env = Env::new();
    let (alice, _) = bob_injects(&env);
    edit_db(&alice);
    let out = env.git(&alice, &["commit", "-a", "-q", "-m", "db"]).fails();
    refuses_laundering(&out);
    // Masked, it is not reviewed.
    env.secrets(&alice, &["get", "production"]).ok();
    refuses_laundering(&env.git(&alice, &["commit", "-a", "-q", "-m", "db"]).fails());
    // Shown in plain text, it is.
    let out = env
        .secrets(
            &alice,
            &["get", "-e", "production", "EVIL", "--show", "--yes"],
        )
        .ok();
    assert_eq!(out.stdout, format!("{EVIL}\n"));
    // The record: the token's digest, never the value; private.
    let record = alice.join(".git/git-secrets/reviewed");
    let text = read(&record);
    assert!(text.contains(" EVIL .secrets/production.env\n") && !text.contains("evil.example"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&record).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    env.git(&alice, &["commit", "-a", "-q", "-m", "db"]).ok();
    assert_eq!(run_evil(&env, &alice).ok().stdout, format!("{EVIL}\n"));
}

// The window between a `git add` that re-sealed the value and the commit the hook
// refuses: the staged blob no longer shows it, HEAD does, and run still refuses it.
#[test]
fn a_value_re_sealed_by_git_add_is_not_passed_on_until_reviewed() {
    let env = Env::new();
    let (alice, _) = bob_injects(&env);
    edit_db(&alice);
    env.git(&alice, &["add", ".secrets/production.env"]).ok();
    refuses_evil(&run_evil(&env, &alice).fails());
    let out = env
        .secrets(&alice, &["export", "-e", "production", "--yes"])
        .fails();
    refuses_evil(&out);
    env.secrets(
        &alice,
        &["get", "-e", "production", "EVIL", "--show", "--yes"],
    )
    .ok();
    assert_eq!(run_evil(&env, &alice).ok().stdout, format!("{EVIL}\n"));
}

#[test]
fn a_value_the_user_changes_over_an_unverified_one_is_committed_without_review() {
    let env = Env::new();
    let (alice, _) = bob_injects(&env);
    let path = alice.join(".secrets/production.env");
    write(&path, &read(&path).replace(EVIL, "https://good.example/y"));
    env.git(&alice, &["commit", "-a", "-q", "-m", "mine"]).ok();
    assert_eq!(
        run_evil(&env, &alice).ok().stdout,
        "https://good.example/y\n"
    );
}

#[test]
fn a_renormalize_is_refused_until_the_value_is_reviewed() {
    let env = Env::new();
    let (alice, _) = bob_injects(&env);
    let renormalize = ["add", "--renormalize", "--", ".secrets/production.env"];
    env.git(&alice, &renormalize).ok();
    refuses_laundering(&env.git(&alice, &["commit", "-q", "-m", "re-seal"]).fails());
    // Reviewed after the re-seal was staged: `get` still finds it (in HEAD) and warns.
    let out = env
        .secrets(&alice, &["get", "production", "EVIL", "--yes"])
        .ok();
    assert_eq!(out.stdout, format!("{EVIL}\n"));
    assert!(
        out.stderr.contains("warning: unverified") && out.stderr.contains("`EVIL`"),
        "{out:?}"
    );
    env.git(&alice, &["commit", "-q", "-m", "re-seal"]).ok();
    assert_eq!(run_evil(&env, &alice).ok().stdout, format!("{EVIL}\n"));
}

#[test]
fn a_rotation_warns_and_its_commit_is_refused_until_the_value_is_reviewed() {
    let env = Env::new();
    let (alice, _) = bob_injects(&env);
    let out = env.secrets(&alice, &["rotate", "-e", "production"]).ok();
    assert!(
        out.stderr.contains("warning: unverified")
            && out.stderr.contains("`EVIL`")
            && out.stderr.contains("refuses")
            && !out.stderr.contains("evil.example"),
        "{out:?}"
    );
    refuses_laundering(&env.git(&alice, &["commit", "-q", "-m", "rotate"]).fails());
    // The other values, under the key the rotation replaces, are not in question.
    env.secrets(&alice, &["get", "production", "EVIL", "--show", "--yes"])
        .ok();
    env.git(&alice, &["commit", "-q", "-m", "rotate"]).ok();
    assert_eq!(run_evil(&env, &alice).ok().stdout, format!("{EVIL}\n"));
}
