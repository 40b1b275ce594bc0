//! What a clone remembers and what HEAD's history says, against an access.json or a
//! config.toml that someone who can push rewrote: a revert of a removal, an entry
//! shrunk before its removal, keys of an environment with no file yet replaced, a
//! tracked file routed to another environment.

use std::path::Path;

use serde_json::Value;

use crate::common::*;
use crate::forged_access::{bob_approved_then_removed, edit_access};
use crate::hooks::key_ids;

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
    // `test` has no file: its keys are replaced wholesale (here by a delete and add,
    // which Bob's clone cannot tell from a forgery).
    env.secrets(&alice, &["env", "del", "test", "--yes"]).ok();
    env.secrets(&alice, &["env", "add", "test"]).ok();
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

/// An `env rename` on one branch and a first value of the old name on another, merged
/// (`ours_renamed`: merged into the branch that renamed).
fn rename_meets_a_new_value(env: &Env, ours_renamed: bool) -> std::path::PathBuf {
    let repo = env.repo("alice", &["--envs"]);
    env.secrets(&repo, &["set", "production", "DB", "prod-password-1"])
        .ok();
    env.commit_all(&repo, "secrets");
    env.git(&repo, &["checkout", "-q", "-b", "values"]).ok();
    env.secrets(&repo, &["set", "development", "API", "dev-api-1"])
        .ok();
    env.commit_all(&repo, "a development value");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    env.secrets(&repo, &["env", "rename", "development", "dev"])
        .ok();
    env.commit_all(&repo, "rename");
    if !ours_renamed {
        env.git(&repo, &["checkout", "-q", "values"]).ok();
    }
    let from = if ours_renamed { "values" } else { "main" };
    // git merges it cleanly; the pre-merge-commit hook stops the commit.
    let out = env.git(&repo, &["merge", "-q", "--no-edit", from]).fails();
    assert!(
        out.stderr.contains("would lose or strand secret values")
            && out
                .stderr
                .contains(".secrets/development.env: a file of `development`, an environment .secrets/config.toml does not have"),
        "{out:?}"
    );
    repo
}

#[test]
fn a_value_set_under_a_renamed_environment_is_found_and_moved_home() {
    for ours_renamed in [true, false] {
        let env = Env::new();
        let repo = rename_meets_a_new_value(&env, ours_renamed);
        let status = env.secrets(&repo, &["status"]).ok().stdout;
        assert!(
            status.contains(".secrets/development.env is a file of `development`")
                && status.contains("belong in .secrets/dev.env"),
            "{status}"
        );
        let out = env.secrets(&repo, &["doctor"]).fails();
        assert!(
            out.stdout.contains("doctor --fix` moves the values"),
            "{out:?}"
        );
        let out = env.secrets(&repo, &["doctor", "--fix"]).ok();
        assert!(
            out.stderr
                .contains("moved API from .secrets/development.env to .secrets/dev.env"),
            "{out:?}"
        );
        assert!(!repo.join(".secrets/development.env").exists());
        let got = env
            .secrets(&repo, &["get", "-e", "dev", "API", "--yes"])
            .ok();
        assert_eq!(got.stdout.trim(), "dev-api-1");
        env.commit_all(&repo, "merge, the value moved home");
        assert!(env
            .git(&repo, &["ls-files", ".secrets/development.env"])
            .ok()
            .stdout
            .is_empty());
        let status = env.secrets(&repo, &["status"]).ok().stdout;
        assert!(!status.contains("problem"), "{status}");
    }
}

#[test]
fn an_orphan_older_than_the_merge_in_progress_is_moved_home_whole() {
    let env = Env::new();
    let repo = rename_meets_a_new_value(&env, true);
    // Committed past the hook: the stray file is now part of history.
    env.git(&repo, &["commit", "-q", "--no-verify", "--no-edit"])
        .ok();
    // A later merge, in progress (a conflict elsewhere), has nothing to do with it.
    env.git(&repo, &["checkout", "-q", "-b", "other"]).ok();
    write(repo.join("notes.txt"), "other\n");
    env.commit_all(&repo, "other");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    write(repo.join("notes.txt"), "main\n");
    env.commit_all(&repo, "main");
    env.git(&repo, &["merge", "-q", "--no-edit", "other"])
        .fails();
    let out = env.secrets(&repo, &["doctor", "--fix"]).ok();
    assert!(
        out.stderr
            .contains("moved API from .secrets/development.env to .secrets/dev.env"),
        "{out:?}"
    );
    let got = env
        .secrets(&repo, &["get", "-e", "dev", "API", "--yes"])
        .ok();
    assert_eq!(got.stdout.trim(), "dev-api-1");
}

/// An `env rename development dev` on main; on a branch, `development` edited (`edit`).
/// The branch merged (`ours_renamed`: into main, else main into the branch) conflicts:
/// git sees the renamed file deleted and the old one modified.
fn rename_meets_an_edit(
    env: &Env,
    ours_renamed: bool,
    main_api: Option<&str>,
) -> std::path::PathBuf {
    let repo = env.repo("alice", &["--envs"]);
    for (key, value) in [("API", "dev-api-1"), ("OLD", "old-1"), ("OTHER", "other-1")] {
        env.secrets(&repo, &["set", "development", key, value]).ok();
    }
    env.commit_all(&repo, "secrets");
    env.git(&repo, &["checkout", "-q", "-b", "values"]).ok();
    env.secrets(&repo, &["set", "development", "API", "dev-api-2"])
        .ok();
    env.secrets(&repo, &["set", "development", "NEW", "new-1"])
        .ok();
    env.secrets(&repo, &["unset", "development", "OLD"]).ok();
    env.commit_all(&repo, "development values");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    env.secrets(&repo, &["env", "rename", "development", "dev"])
        .ok();
    env.secrets(&repo, &["set", "dev", "OTHER", "other-2"]).ok();
    if let Some(api) = main_api {
        env.secrets(&repo, &["set", "dev", "API", api]).ok();
    }
    env.commit_all(&repo, "rename");
    let (into, from) = if ours_renamed {
        ("main", "values")
    } else {
        ("values", "main")
    };
    env.git(&repo, &["checkout", "-q", into]).ok();
    let out = env.git(&repo, &["merge", "-q", "--no-edit", from]).fails();
    assert!(out.stdout.contains("modify/delete"), "{out:?}");
    repo
}

#[test]
fn an_edit_merged_with_a_rename_of_its_environment_is_merged_home() {
    for ours_renamed in [true, false] {
        let env = Env::new();
        let repo = rename_meets_an_edit(&env, ours_renamed, None);
        let status = env.secrets(&repo, &["status"]).ok().stdout;
        assert!(
            status.contains("belong in .secrets/dev.env")
                && status.contains("`git secrets doctor --fix` moves them there"),
            "{status}"
        );
        let out = env.secrets(&repo, &["doctor", "--fix"]).ok();
        assert!(
            out.stderr.contains(
                "moved API, NEW from .secrets/development.env to .secrets/dev.env, deleted OLD"
            ),
            "{out:?}"
        );
        // Each side's change is kept: the branch's edits, main's own.
        let get = |key: &str| {
            env.secrets(&repo, &["get", "-e", "dev", key, "--yes"])
                .ok()
                .stdout
                .trim()
                .to_owned()
        };
        assert_eq!(get("API"), "dev-api-2");
        assert_eq!(get("NEW"), "new-1");
        assert_eq!(get("OTHER"), "other-2");
        env.secrets(&repo, &["get", "-e", "dev", "OLD", "--yes"])
            .fails();
        assert!(!repo.join(".secrets/development.env").exists());
        assert!(env.git(&repo, &["ls-files", "-u"]).ok().stdout.is_empty());
        env.commit_all(&repo, "merge");
        let status = env.secrets(&repo, &["status"]).ok().stdout;
        assert!(!status.contains("problem"), "{status}");
    }
}

#[test]
fn a_merge_that_drops_an_edit_of_a_renamed_environment_is_refused() {
    let env = Env::new();
    let repo = rename_meets_an_edit(&env, true, None);
    // The obvious resolution of "deleted in main, modified in values": `git rm`.
    env.git(&repo, &["rm", "-q", ".secrets/development.env"])
        .ok();
    let out = env.git(&repo, &["commit", "-q", "--no-edit"]).fails();
    assert!(
        out.stderr.contains(
            ".secrets/development.env: the merge drops this file, which MERGE_HEAD changed, while the other side renamed its environment (.secrets/dev.env holds its values now)"
        ) && out.stderr.contains("`git checkout MERGE_HEAD -- .secrets/development.env`"),
        "{out:?}"
    );
    // The fix as said: the file back, merged home from the merge base.
    env.git(
        &repo,
        &["checkout", "MERGE_HEAD", "--", ".secrets/development.env"],
    )
    .ok();
    let out = env.secrets(&repo, &["doctor", "--fix"]).ok();
    assert!(
        out.stderr.contains(
            "moved API, NEW from .secrets/development.env to .secrets/dev.env, deleted OLD"
        ),
        "{out:?}"
    );
    env.commit_all(&repo, "merge");
    let got = env
        .secrets(&repo, &["get", "-e", "dev", "API", "--yes"])
        .ok();
    assert_eq!(got.stdout.trim(), "dev-api-2");
    let got = env
        .secrets(&repo, &["get", "-e", "dev", "OTHER", "--yes"])
        .ok();
    assert_eq!(got.stdout.trim(), "other-2");
}

#[test]
fn a_value_both_sides_of_a_rename_merge_changed_becomes_a_conflict_to_resolve() {
    let env = Env::new();
    let repo = rename_meets_an_edit(&env, true, Some("dev-api-3"));
    let out = env.secrets(&repo, &["doctor", "--fix"]).ok();
    assert!(
        out.stderr.contains(
            "merged .secrets/development.env into .secrets/dev.env, with conflict markers where both sides of the merge changed API"
        ),
        "{out:?}"
    );
    // The conflict is where git would have put it, had it seen the rename: in the
    // renamed file, each side's value, in plaintext for the user; the rest merged.
    assert!(!repo.join(".secrets/development.env").exists());
    let dev = read(repo.join(".secrets/dev.env"));
    assert!(
        dev.contains("<<<<<<< .secrets/dev.env\nAPI=dev-api-3\n=======\nAPI=dev-api-2\n>>>>>>> .secrets/development.env\n")
            && dev.contains("NEW=new-1")
            && dev.contains("OTHER=other-2")
            && !dev.contains("OLD="),
        "{dev}"
    );
    assert!(env.git(&repo, &["ls-files", "-u"]).ok().stdout.is_empty());
    env.git(&repo, &["add", ".secrets/dev.env"])
        .fails()
        .error_names(&["conflict marker"]);
    write(
        repo.join(".secrets/dev.env"),
        &dev.replace("<<<<<<< .secrets/dev.env\nAPI=dev-api-3\n=======\n", "")
            .replace(">>>>>>> .secrets/development.env\n", ""),
    );
    env.commit_all(&repo, "merge");
    let got = env
        .secrets(&repo, &["get", "-e", "dev", "API", "--yes"])
        .ok();
    assert_eq!(got.stdout.trim(), "dev-api-2");
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
