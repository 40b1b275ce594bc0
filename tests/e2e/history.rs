//! What a clone remembers and what HEAD's history says, against an access.json or a
//! config.toml that someone who can push rewrote: a revert of a removal, an entry
//! shrunk before its removal, keys of an environment with no file yet replaced, a
//! tracked file routed to another environment.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;
use crate::forged_access::{bob_approved_then_removed, edit_access};
use crate::hooks::{head, key_ids, stage_raw};

#[test]
fn a_revert_of_a_removal_does_not_seal_new_values_under_the_old_key() {
    let env = Env::new();
    let (alice, bob, b, id) = bob_approved_then_removed(&env);
    // Bob can still push: he reverts the removal (access.json and the re-sealed files
    // go back to the key he holds), and Alice fast-forwards to it.
    bob.git(&b, &["revert", "--no-edit", "HEAD"]).ok();
    pull(&env, &alice, &b);
    // Values already there still open for her (old commits must check out)...
    assert!(read(alice.join(".secrets/production.env")).contains("prod-password-1"));
    // ...but nothing new is sealed under a key wrapped to someone she saw removed.
    let out = env
        .secrets(&alice, &["set", "production", "DB", "prod-password-2"])
        .fails();
    out.error_names(&["whom this clone saw removed", "git pull"]);
    assert!(!out.stderr.contains("prod-password"), "{out:?}");
    let original = read(alice.join(".secrets/production.env"));
    write(
        alice.join(".secrets/production.env"),
        "DB=prod-password-2\n",
    );
    let out = env.git(&alice, &["add", ".secrets/production.env"]).fails();
    assert!(out.stderr.contains("saw removed"), "{out:?}");
    write(alice.join(".secrets/production.env"), &original);
    let status = env.secrets(&alice, &["status"]).ok().stdout;
    assert!(
        status.contains("whom this clone saw removed")
            && status.contains(&format!("bob ({id}) was removed (commit")),
        "{status}"
    );
    // The way out is to bring the rotation back; then values seal under the new key.
    env.git(&alice, &["revert", "--no-edit", "HEAD"]).ok();
    env.secrets(&alice, &["set", "production", "DB", "prod-password-2"])
        .ok();
    env.commit_all(&alice, "new production value");
    pull(&bob, &b, &alice);
    let out = bob
        .secrets(&b, &["get", "production", "DB", "--yes"])
        .fails();
    assert!(!out.stdout.contains("prod-password-2"), "{out:?}");
}

#[test]
fn a_rotation_keeps_a_member_removed_in_history_removed() {
    let env = Env::new();
    let (_alice, bob, b, id) = bob_approved_then_removed(&env);
    bob.git(&b, &["revert", "--no-edit", "HEAD"]).ok();
    // Alice's identity in a fresh clone, which has no memory of the keys: HEAD's
    // history still has the removal.
    let fresh = clone(&env, &b, "alice-fresh");
    env.secrets(&fresh, &["unlock"]).ok();
    let out = env.secrets(&fresh, &["rotate", "--env", "production"]).ok();
    assert!(
        out.stderr
            .contains(&format!("bob ({id}) was removed (commit"))
            && out.stderr.contains("kept removed"),
        "{out:?}"
    );
    let access: Value = serde_json::from_str(&read(fresh.join(".secrets/access.json"))).unwrap();
    assert_eq!(access["members"][&id]["status"], "removed");
}

#[test]
fn a_removal_rotates_every_environment_the_member_was_given() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (bob, b, id) = bob_joins(&env, &alice);
    env.secrets(&alice, &["member", "approve", &id]).ok();
    env.commit_all(&alice, "approve bob");
    pull(&bob, &b, &alice);
    bob.secrets(&b, &["unlock"]).ok();
    assert!(read(b.join(".secrets/production.env")).contains("prod-password-1"));
    let before = key_ids(&blob(&env, &alice, "HEAD:.secrets/production.env"));
    // Bob, still a member, shrinks his entry and takes his production wraps out (from
    // a locked clone: his unlocked one already opened production).
    let edit = clone(&bob, &alice, "bob-edit");
    edit_access(&edit, |doc| {
        doc["members"][&id]["environments"] = serde_json::json!(["development"]);
        for record in doc["keys"]["production"]
            .as_object_mut()
            .unwrap()
            .values_mut()
        {
            for field in ["wrapped", "grants"] {
                if let Some(map) = record[field].as_object_mut() {
                    map.remove(&id);
                }
            }
        }
    });
    bob.commit_all(&edit, "tidy");
    pull(&env, &alice, &edit);
    let out = env.secrets(&alice, &["member", "remove", &id]).ok();
    let rotated = out
        .stderr
        .lines()
        .find(|l| l.starts_with("removed bob"))
        .unwrap();
    assert!(rotated.contains("production"), "{out:?}");
    assert!(out.stdout.contains("production"), "listed as seen: {out:?}");
    env.git(&alice, &["commit", "-q", "-m", "remove bob"]).ok();
    let after = key_ids(&blob(&env, &alice, "HEAD:.secrets/production.env"));
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(!before.contains(&after[0]), "production was not rotated");
}

#[test]
fn keys_of_an_environment_with_no_file_are_remembered_at_unlock() {
    let env = Env::new();
    let alice = env.repo("alice", &["--envs"]);
    env.secrets(&alice, &["set", "production", "DB", "prod-password-1"])
        .ok();
    env.commit_all(&alice, "secrets");
    let (bob, b, id) = bob_joins(&env, &alice);
    env.secrets(&alice, &["member", "approve", &id]).ok();
    env.commit_all(&alice, "approve bob");
    pull(&bob, &b, &alice);
    bob.secrets(&b, &["unlock"]).ok();
    // `test` has no file: its keys are replaced wholesale (here by a delete and add
    // whose record of the old key left out is taken off, which Bob's clone cannot tell
    // from a forgery).
    env.secrets(&alice, &["env", "del", "test", "--yes"]).ok();
    env.secrets(&alice, &["env", "add", "test"]).ok();
    crate::forged_access::edit_access(&alice, |doc| {
        for record in doc["keys"]["test"].as_object_mut().unwrap().values_mut() {
            assert!(record.as_object_mut().unwrap().remove("left_out").is_some());
        }
    });
    env.commit_all(&alice, "test again");
    pull(&bob, &b, &alice);
    let out = bob
        .secrets(&b, &["set", "test", "API", "test-secret"])
        .fails();
    out.error_names(&["reach none of the keys this clone held", "env trust test"]);
    let status = bob.secrets(&b, &["status"]).ok().stdout;
    assert!(
        status.contains("`test` in .secrets/access.json reach none"),
        "{status}"
    );
    // Accepting them is a decision, and then it works.
    bob.secrets(&b, &["env", "trust", "test"]).ok();
    bob.secrets(&b, &["set", "test", "API", "test-secret"]).ok();
}

fn tracked(env: &Env) -> std::path::PathBuf {
    let repo = env.repo("alice", &["--envs"]);
    env.secrets(&repo, &["set", "test", "DB", "test-password-1"])
        .ok();
    write(repo.join("prod.pem"), "PROD-CERT-1\n");
    env.secrets(&repo, &["track", "prod.pem", "-e", "production"])
        .ok();
    env.commit_all(&repo, "cert");
    repo
}

fn key_of_env(env: &Env, repo: &Path, name: &str) -> String {
    let access: Value = serde_json::from_str(&read(repo.join(".secrets/access.json"))).unwrap();
    let keys = access["keys"][name].as_object().unwrap();
    assert_eq!(keys.len(), 1);
    let _ = env;
    keys.keys().next().unwrap().clone()
}

#[test]
fn a_tracked_file_routed_to_another_environment_is_not_sealed_for_it() {
    let env = Env::new();
    let repo = tracked(&env);
    // Someone who reads only `test` routes the certificate there (a pull brings it).
    let config = read(repo.join(".secrets/config.toml"));
    assert!(config.contains("\"prod.pem\" = \"production\""), "{config}");
    write(
        repo.join(".secrets/config.toml"),
        &config.replace("\"prod.pem\" = \"production\"", "\"prod.pem\" = \"test\""),
    );
    env.commit_all(&repo, "tidy config");
    // The next edit of the file is not sealed with test's key.
    write(repo.join("prod.pem"), "PROD-CERT-2\n");
    let out = env.git(&repo, &["add", "prod.pem"]).fails();
    assert!(
        out.stderr.contains("sealed for `production`")
            && out.stderr.contains("track prod.pem -e test"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("PROD-CERT"), "{out:?}");
    let staged = blob(&env, &repo, ":prod.pem");
    assert!(
        staged.contains(&key_of_env(&env, &repo, "production")),
        "{staged}"
    );
    // A deliberate move by someone who reads both: re-sealed and staged, then add works.
    env.secrets(&repo, &["track", "prod.pem", "-e", "test"])
        .ok();
    let staged = blob(&env, &repo, ":prod.pem");
    assert!(
        staged.contains(&key_of_env(&env, &repo, "test")),
        "{staged}"
    );
    env.git(&repo, &["add", "prod.pem"]).ok();
    env.git(&repo, &["commit", "-q", "-m", "move the cert"])
        .ok();
    assert_eq!(read(repo.join("prod.pem")), "PROD-CERT-2\n");
}

#[test]
fn a_branch_made_before_a_removal_seals_nothing_until_it_has_the_removal() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (bob, b, id) = bob_joins(&env, &alice);
    env.secrets(&alice, &["member", "approve", &id]).ok();
    env.commit_all(&alice, "approve bob");
    env.git(&alice, &["branch", "feature"]).ok();
    env.secrets(&alice, &["member", "remove", &id]).ok();
    env.git(&alice, &["commit", "-q", "-m", "remove bob"]).ok();
    // On the branch, Bob is still active and holds the current key.
    env.git(&alice, &["checkout", "-q", "feature"]).ok();
    env.secrets(&alice, &["set", "production", "DB", "prod-password-2"])
        .fails()
        .error_names(&["whom this clone saw removed", "git pull"]);
    // With the removal merged in, the value is sealed under the new key.
    env.git(&alice, &["merge", "-q", "--no-edit", "main"]).ok();
    env.secrets(&alice, &["set", "production", "DB", "prod-password-2"])
        .ok();
    env.commit_all(&alice, "new value");
    env.git(&alice, &["checkout", "-q", "main"]).ok();
    env.git(&alice, &["merge", "-q", "--no-edit", "feature"])
        .ok();
    pull(&bob, &b, &alice);
    let out = bob
        .secrets(&b, &["get", "production", "DB", "--yes"])
        .fails();
    assert!(!out.stdout.contains("prod-password-2"), "{out:?}");
}

/// Signs every commit with a stand-in for ssh-keygen (no key needed) and shows
/// signatures in `git log`, as people who sign their commits often configure: git then
/// prints signature lines among a log's output.
fn sign_commits_and_show_signatures(env: &Env) {
    let signer = env.path().join("fake-ssh-keygen");
    write(
        &signer,
        "#!/bin/sh\ncase \"$*\" in\n  *\"-Y sign\"*) for last; do :; done; printf -- '-----BEGIN SSH SIGNATURE-----\\nZmFrZQ==\\n-----END SSH SIGNATURE-----\\n' > \"$last.sig\";;\n  *) echo 'Good signature'; exit 0;;\nesac\n",
    );
    chmod(&signer, 0o755);
    let key = env.path().join("signing.pub");
    write(
        &key,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFake test\n",
    );
    let mut config = read(env.gitconfig());
    config.push_str(&format!(
        "[gpg]\n\tformat = ssh\n[gpg \"ssh\"]\n\tprogram = {}\n[user]\n\tsigningkey = {}\n[commit]\n\tgpgsign = true\n[log]\n\tshowSignature = true\n",
        signer.display(),
        key.display()
    ));
    write(env.gitconfig(), &config);
}

#[test]
fn a_removal_in_signed_history_is_still_read() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (bob, b, id) = bob_joins(&env, &alice);
    env.secrets(&alice, &["member", "approve", &id]).ok();
    env.commit_all(&alice, "approve bob");
    sign_commits_and_show_signatures(&env);
    env.secrets(&alice, &["member", "remove", &id]).ok();
    env.git(&alice, &["commit", "-q", "-m", "remove bob"]).ok();
    let log = env.git(&alice, &["log", "-1", "--format=%H"]).ok().stdout;
    assert!(log.lines().count() > 1, "the log shows signatures: {log}");
    pull(&bob, &b, &alice);
    bob.git(&b, &["revert", "--no-edit", "HEAD"]).ok();
    // A fresh clone knows the removal only from history.
    let fresh = clone(&env, &b, "alice-fresh");
    env.secrets(&fresh, &["unlock"]).ok();
    env.secrets(&fresh, &["set", "production", "DB", "prod-password-2"])
        .fails()
        .error_names(&["whom this clone saw removed"]);
}

#[test]
fn a_revert_that_also_strips_the_removed_members_wrap_is_still_refused() {
    let env = Env::new();
    let (alice, bob, b, id) = bob_approved_then_removed(&env);
    // Bob reverts his removal and takes his own wrap off the key he holds, so that the
    // file no longer says he has it.
    bob.git(&b, &["revert", "--no-edit", "HEAD"]).ok();
    edit_access(&b, |doc| {
        for records in doc["keys"].as_object_mut().unwrap().values_mut() {
            for record in records.as_object_mut().unwrap().values_mut() {
                for field in ["wrapped", "grants"] {
                    if let Some(map) = record[field].as_object_mut() {
                        map.remove(&id);
                    }
                }
            }
        }
    });
    bob.git(&b, &["commit", "-q", "-am", "tidy"]).ok();
    pull(&env, &alice, &b);
    env.secrets(&alice, &["set", "production", "DB", "prod-password-2"])
        .fails()
        .error_names(&["whom this clone saw removed"]);
    // A fresh clone learns it from history at unlock.
    let fresh = clone(&env, &b, "alice-fresh");
    env.secrets(&fresh, &["unlock"]).ok();
    env.secrets(&fresh, &["set", "production", "DB", "prod-password-2"])
        .fails()
        .error_names(&["whom this clone saw removed"]);
    let status = env.secrets(&fresh, &["status"]).ok().stdout;
    assert!(status.contains("whom this clone saw removed"), "{status}");
}

#[test]
fn a_tracked_file_deleted_and_routed_elsewhere_is_not_sealed_there_when_it_comes_back() {
    let env = Env::new();
    let repo = tracked(&env);
    // Someone who reads only `test` routes the certificate there and deletes it, so no
    // staged blob says where it belonged.
    let config = read(repo.join(".secrets/config.toml"));
    write(
        repo.join(".secrets/config.toml"),
        &config.replace("\"prod.pem\" = \"production\"", "\"prod.pem\" = \"test\""),
    );
    env.git(&repo, &["rm", "-q", "prod.pem"]).ok();
    env.commit_all(&repo, "tidy");
    // The renewed certificate is not sealed with test's key.
    write(repo.join("prod.pem"), "PROD-CERT-2\n");
    let out = env.git(&repo, &["add", "prod.pem"]).fails();
    assert!(
        out.stderr
            .contains("tracked in `production` as far as this clone knows")
            && out.stderr.contains("track prod.pem -e test"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("PROD-CERT"), "{out:?}");
    // Put back where it belongs, it is sealed for production again.
    env.secrets(&repo, &["track", "prod.pem", "-e", "production"])
        .ok();
    env.git(&repo, &["add", "prod.pem", ".secrets/config.toml"])
        .ok();
    let staged = blob(&env, &repo, ":prod.pem");
    assert!(
        staged.contains(&key_of_env(&env, &repo, "production")),
        "{staged}"
    );
}

/// `doctor --fix` moving a renamed environment's stray values home brings the comment
/// lines right above each entry along, in order (they are sealed content, as secret as
/// values), and never deletes the stray file while it holds anything not moved: a comment
/// above no entry keeps it whole, and the output says so without the comment's text.
#[test]
fn moving_values_home_keeps_their_comments() {
    for (orphan, moved_whole) in [
        (
            "# rotated monthly, old-comment-secret-1\nDB_PASS=hunter2-value\n# vault path kv/comment-secret-2\n# second line\nAPI=k-123456789\n",
            true,
        ),
        (
            "# above DB, comment-secret-1\nDB_PASS=hunter2-value\n\n# a note on its own, comment-secret-3\n",
            false,
        ),
    ] {
        let env = Env::new();
        let repo = env.repo("alice", &["--envs"]);
        env.commit_all(&repo, "init");
        env.git(&repo, &["checkout", "-q", "-b", "values"]).ok();
        write(repo.join(".secrets/development.env"), orphan);
        env.commit_all(&repo, "development values");
        env.git(&repo, &["checkout", "-q", "main"]).ok();
        env.secrets(&repo, &["env", "rename", "development", "dev"])
            .ok();
        env.commit_all(&repo, "rename");
        env.git(&repo, &["merge", "-q", "--no-edit", "values"])
            .fails();
        let stray = repo.join(".secrets/development.env");
        let before = read(&stray);
        let out = env.secrets(&repo, &["doctor", "--fix"]);
        assert!(!out.stderr.contains("comment-secret"), "{out:?}");
        assert!(!out.stdout.contains("comment-secret"), "{out:?}");
        let home = read(repo.join(".secrets/dev.env"));
        if moved_whole {
            assert!(out.stderr.contains("with 3 comment line(s)"), "{out:?}");
            assert_eq!(home, orphan);
            assert!(!stray.exists());
        } else {
            assert!(
                out.stderr.contains("kept .secrets/development.env whole")
                    && out.stderr.contains("1 comment line(s)"),
                "{out:?}"
            );
            assert_eq!(home, "# above DB, comment-secret-1\nDB_PASS=hunter2-value\n");
            assert_eq!(read(&stray), before, "the stray file is kept as it was");
        }
    }
}

/// Bob reverts his removal; Alice clones anew (a second device, a CI checkout).
fn reverted_removal_fresh_clone(env: &Env) -> (PathBuf, Env, PathBuf) {
    let (_alice, bob, b, _id) = bob_approved_then_removed(env);
    bob.git(&b, &["revert", "--no-edit", "HEAD"]).ok();
    let fresh = clone(env, &b, "alice-fresh");
    (fresh, bob, b)
}

#[test]
fn a_fresh_clone_reads_the_removal_in_history_before_it_seals_anything() {
    let env = Env::new();
    let (fresh, _bob, _b) = reverted_removal_fresh_clone(&env);
    // No `unlock` or `status` first: the first command that seals reads HEAD's history.
    env.secrets(&fresh, &["set", "production", "DB", "prod-password-2"])
        .fails()
        .error_names(&["whom this clone saw removed", "rotate --env production"]);
    let file = env.path().join("new.env");
    write(&file, "DB=prod-password-2\n");
    let out = env
        .secrets(
            &fresh,
            &["import", "production", "--file", file.to_str().unwrap()],
        )
        .fails();
    out.error_names(&["whom this clone saw removed"]);
    assert!(!out.stderr.contains("prod-password"), "{out:?}");
    // Nor is the key the removed member holds given to anyone new.
    env.secrets(
        &fresh,
        &["keys", "create", "--name", "ci", "--env", "production"],
    )
    .fails()
    .error_names(&["whom this clone saw removed"]);
    // The clone remembers which history it read: a second command reads none of it.
    let common = fresh.join(".git/git-secrets");
    let tips = read(common.join("history-read"));
    assert_eq!(tips.trim(), head(&env, &fresh).trim(), "{tips}");
    // The way out: a rotation gives production a key Bob never had.
    env.secrets(&fresh, &["unlock"]).ok();
    env.secrets(&fresh, &["rotate", "--env", "production"]).ok();
    env.secrets(&fresh, &["set", "production", "DB", "prod-password-2"])
        .ok();
}

#[test]
fn an_old_access_json_checked_out_over_a_removal_seals_nothing_under_the_old_key() {
    let env = Env::new();
    let (alice, _bob, _b, _id) = bob_approved_then_removed(&env);
    let fresh = clone(&env, &alice, "alice-fresh");
    // The access.json from before the removal (and a file sealed under its key), put
    // back by a pathspec checkout.
    env.git(
        &fresh,
        &[
            "checkout",
            "HEAD~1",
            "--",
            ".secrets/access.json",
            ".secrets/production.env",
        ],
    )
    .ok();
    env.secrets(&fresh, &["set", "production", "DB", "prod-password-2"])
        .fails()
        .error_names(&["whom this clone saw removed"]);
}

#[test]
fn check_flags_a_value_sealed_under_a_key_a_reverted_removal_gave_back() {
    let env = Env::new();
    let (fresh, _bob, b) = reverted_removal_fresh_clone(&env);
    // A clone still at the commit before the removal seals a new value under the key
    // Bob holds (there rightly: he is a member on that commit)...
    let stale = clone(&env, &b, "alice-stale");
    env.git(&stale, &["checkout", "-q", "HEAD~2"]).ok();
    env.secrets(&stale, &["set", "production", "DB", "prod-password-2"])
        .ok();
    let sealed = read(stale.join(".secrets/production.env"));
    assert!(sealed.contains("gs1:"), "{sealed}");
    // ...and that file is committed on top of the revert, hooks skipped.
    write(fresh.join(".secrets/production.env"), &sealed);
    env.git(
        &fresh,
        &["commit", "-q", "--no-verify", "-am", "new production value"],
    )
    .ok();
    let out = env.secrets(&fresh, &["check", "HEAD~1..HEAD"]).fails();
    let all = format!("{}{}", out.stdout, out.stderr);
    for needle in [
        ".secrets/production.env",
        "removed member(s) bob",
        "rotate --env production",
    ] {
        assert!(all.contains(needle), "{needle}: {all}");
    }
    assert!(!all.contains("prod-password"), "{all}");
    // A commit from before the removal is not judged by it: the same blob, committed on
    // the stale branch, passes.
    env.git(
        &stale,
        &["commit", "-q", "--no-verify", "-am", "on the old branch"],
    )
    .ok();
    env.secrets(&stale, &["check", "HEAD~1..HEAD"]).ok();
    // The pre-commit hook judges the index by HEAD's history too.
    env.git(&fresh, &["reset", "-q", "--hard", "HEAD~1"]).ok();
    env.secrets(&fresh, &["unlock"]).ok();
    stage_raw(&env, &fresh, ".secrets/production.env", sealed.as_bytes());
    // (Left in the work tree, the file would be cleaned again, and the filter refuses.)
    std::fs::remove_file(fresh.join(".secrets/production.env")).unwrap();
    let out = env.git(&fresh, &["commit", "-q", "-m", "bad"]).fails();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains(".secrets/production.env") && all.contains("removed member(s) bob"),
        "{all}"
    );
}
