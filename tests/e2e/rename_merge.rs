//! `env rename` seals its files again under the new scope, so git sees no rename: an
//! edit of the old file on another branch is a modify/delete conflict, a first value
//! there merges in as a file of an environment config.toml lacks. The hooks refuse what
//! such a merge would strand or drop, and `doctor --fix` merges it home key by key from
//! the merge base, whatever either side did to the keys since.

use crate::common::*;

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
        out.stderr.contains("or strand their values")
            && out
                .stderr
                .contains(".secrets/development.env: is a file of `development`, an environment .secrets/config.toml does not have"),
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

/// An `env rename development dev` on main (and a change of OTHER there; of API too,
/// with `main_api`); on the branch `values`, `development` edited: API changed, NEW
/// added, OLD deleted, after `on_branch` ran there. Returns on main, nothing merged.
fn rename_and_edit(
    env: &Env,
    main_api: Option<&str>,
    on_branch: impl Fn(&std::path::Path),
) -> std::path::PathBuf {
    let repo = env.repo("alice", &["--envs"]);
    for (key, value) in [("API", "dev-api-1"), ("OLD", "old-1"), ("OTHER", "other-1")] {
        env.secrets(&repo, &["set", "development", key, value]).ok();
    }
    env.commit_all(&repo, "secrets");
    // Main's side first: a rotation on the branch (`on_branch`) is one this clone would
    // not let main's old key undo (crate::continuity) until it is merged.
    env.git(&repo, &["branch", "values"]).ok();
    env.secrets(&repo, &["env", "rename", "development", "dev"])
        .ok();
    env.secrets(&repo, &["set", "dev", "OTHER", "other-2"]).ok();
    if let Some(api) = main_api {
        env.secrets(&repo, &["set", "dev", "API", api]).ok();
    }
    env.commit_all(&repo, "rename");
    env.git(&repo, &["checkout", "-q", "values"]).ok();
    on_branch(&repo);
    env.secrets(&repo, &["set", "development", "API", "dev-api-2"])
        .ok();
    env.secrets(&repo, &["set", "development", "NEW", "new-1"])
        .ok();
    env.secrets(&repo, &["unset", "development", "OLD"]).ok();
    env.commit_all(&repo, "development values");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    repo
}

/// [`rename_and_edit`], merged (`ours_renamed`: into main, else main into the branch):
/// git sees the renamed file deleted and the old one modified.
fn rename_meets_an_edit(
    env: &Env,
    ours_renamed: bool,
    main_api: Option<&str>,
) -> std::path::PathBuf {
    let repo = rename_and_edit(env, main_api, |_| {});
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

fn get(env: &Env, repo: &std::path::Path, key: &str) -> String {
    env.secrets(repo, &["get", "-e", "dev", key, "--yes"])
        .ok()
        .stdout
        .trim()
        .to_owned()
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
            ".secrets/development.env: the commit drops this file, which MERGE_HEAD changed, while the other side renamed its environment (.secrets/dev.env holds its values now)"
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
    // git sees no conflict left, but the commit waits for the markers to be resolved.
    let out = env.git(&repo, &["commit", "-q", "--no-edit"]).fails();
    assert!(
        out.stderr.contains(
            ".secrets/dev.env: still has the conflict markers of merging .secrets/development.env into it"
        ) && out.stderr.contains("`git add .secrets/dev.env`"),
        "{out:?}"
    );
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

/// `values` merged into main (a modify/delete conflict); after `git rm` of the stray
/// file, the commit is refused and `doctor` says why; the file checked out again,
/// `doctor --fix` merges it home, and the commit goes through.
fn merge_values_then_drop_and_fix(env: &Env, repo: &std::path::Path) {
    let out = env
        .git(repo, &["merge", "-q", "--no-edit", "values"])
        .fails();
    assert!(out.stdout.contains("modify/delete"), "{out:?}");
    env.git(repo, &["rm", "-q", ".secrets/development.env"])
        .ok();
    let out = env.git(repo, &["commit", "-q", "--no-edit"]).fails();
    assert!(
        out.stderr.contains(
            ".secrets/development.env: the commit drops this file, which MERGE_HEAD changed"
        ),
        "{out:?}"
    );
    let out = env.secrets(repo, &["doctor"]).fails();
    assert!(out.stdout.contains("the commit drops this file"), "{out:?}");
    env.git(
        repo,
        &["checkout", "MERGE_HEAD", "--", ".secrets/development.env"],
    )
    .ok();
    env.secrets(repo, &["doctor", "--fix"]).ok();
    // doctor staged what it merged: a plain `git commit` concludes the merge.
    env.git(repo, &["commit", "-q", "--no-edit"]).ok();
    assert_eq!(get(env, repo, "API"), "dev-api-2");
    assert_eq!(get(env, repo, "NEW"), "new-1");
    assert_eq!(get(env, repo, "OTHER"), "other-2");
    env.secrets(repo, &["get", "-e", "dev", "OLD", "--yes"])
        .fails();
}

// Guards: the branch rotated the old environment's key before its edit, so the edit is
// sealed under a key the renaming side never had; the key chain still leads home.
#[test]
fn an_edit_under_a_key_rotated_since_still_finds_its_renamed_home() {
    let env = Env::new();
    let repo = rename_and_edit(&env, None, |repo| {
        env.secrets(repo, &["rotate", "--env", "development"]).ok();
        env.commit_all(repo, "rotate development");
    });
    merge_values_then_drop_and_fix(&env, &repo);
}

// Guards: the same, with the rotation on the renaming side.
#[test]
fn an_edit_merged_after_the_renamed_key_was_rotated_finds_its_home() {
    let env = Env::new();
    let repo = rename_and_edit(&env, None, |_| {});
    env.secrets(&repo, &["rotate", "--env", "dev"]).ok();
    env.commit_all(&repo, "rotate dev");
    merge_values_then_drop_and_fix(&env, &repo);
}

// Guards: `git merge --squash` writes no MERGE_HEAD; the commit is judged all the same.
#[test]
fn a_squash_merge_that_drops_an_edit_is_refused() {
    let env = Env::new();
    let repo = rename_and_edit(&env, None, |_| {});
    env.git(&repo, &["merge", "-q", "--squash", "values"])
        .fails();
    env.git(&repo, &["rm", "-q", ".secrets/development.env"])
        .ok();
    let out = env.git(&repo, &["commit", "-q", "-m", "squash"]).fails();
    assert!(
        out.stderr
            .contains(".secrets/development.env: the commit drops this file"),
        "{out:?}"
    );
}

// Guards: a key both sides changed, resolved by keeping either value, is a resolution,
// not a loss: the commit goes through.
#[test]
fn a_rename_conflict_resolved_either_way_is_committed() {
    for keep in ["dev-api-3", "dev-api-2"] {
        let env = Env::new();
        let repo = rename_meets_an_edit(&env, true, Some("dev-api-3"));
        env.secrets(&repo, &["doctor", "--fix"]).ok();
        let dev = read(repo.join(".secrets/dev.env"));
        let resolved: String = dev
            .lines()
            .filter(|l| {
                !l.starts_with("<<<<<<<") && !l.starts_with("=======") && !l.starts_with(">>>>>>>")
            })
            .filter(|l| !l.starts_with("API=") || *l == format!("API={keep}"))
            .map(|l| format!("{l}\n"))
            .collect();
        write(repo.join(".secrets/dev.env"), &resolved);
        env.commit_all(&repo, "merge");
        assert_eq!(get(&env, &repo, "API"), keep);
        assert_eq!(get(&env, &repo, "NEW"), "new-1");
    }
}

// Guards: both sides renamed the environment, to different names. The team keeps one
// name; the other side's file is merged into it from the common ancestor.
#[test]
fn renames_to_two_names_merge_into_the_one_kept() {
    let env = Env::new();
    let repo = env.repo("alice", &["--envs"]);
    for (key, value) in [("API", "dev-api-1"), ("OTHER", "other-1")] {
        env.secrets(&repo, &["set", "development", key, value]).ok();
    }
    env.commit_all(&repo, "secrets");
    env.git(&repo, &["checkout", "-q", "-b", "values"]).ok();
    env.secrets(&repo, &["env", "rename", "development", "devel"])
        .ok();
    env.secrets(&repo, &["set", "devel", "API", "dev-api-2"])
        .ok();
    env.commit_all(&repo, "rename to devel");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    env.secrets(&repo, &["env", "rename", "development", "dev"])
        .ok();
    env.secrets(&repo, &["set", "dev", "OTHER", "other-2"]).ok();
    env.commit_all(&repo, "rename to dev");
    env.git(&repo, &["merge", "-q", "--no-edit", "values"])
        .fails();
    // The team keeps main's name.
    env.git(&repo, &["checkout", "--ours", "--", ".secrets/config.toml"])
        .ok();
    env.git(&repo, &["add", ".secrets/config.toml"]).ok();
    let out = env.secrets(&repo, &["doctor", "--fix"]).ok();
    assert!(
        out.stderr
            .contains("moved API from .secrets/devel.env to .secrets/dev.env"),
        "{out:?}"
    );
    env.git(&repo, &["add", "-A", ".secrets"]).ok();
    env.git(&repo, &["commit", "-q", "--no-edit"]).ok();
    assert_eq!(get(&env, &repo, "API"), "dev-api-2");
    assert_eq!(get(&env, &repo, "OTHER"), "other-2");
    assert!(!repo.join(".secrets/devel.env").exists());
}

// Guards: edits of the renamed file that were not staged (an experiment) stay unstaged:
// doctor merges into the file but stages nothing of it, and says so.
#[test]
fn doctor_leaves_unstaged_edits_of_the_renamed_file_unstaged() {
    let env = Env::new();
    let repo = rename_and_edit(&env, None, |_| {});
    env.secrets(&repo, &["set", "dev", "DEBUG", "true-just-trying"])
        .ok();
    let out = env
        .git(&repo, &["merge", "-q", "--no-edit", "values"])
        .fails();
    assert!(out.stdout.contains("modify/delete"), "{out:?}");
    let out = env.secrets(&repo, &["doctor", "--fix"]).ok();
    assert!(
        out.stderr.contains("also holds edits you had not staged")
            && out.stderr.contains("`git add .secrets/dev.env`"),
        "{out:?}"
    );
    assert_eq!(get(&env, &repo, "API"), "dev-api-2");
    let staged = env
        .git(&repo, &["diff", "--cached", "--name-only"])
        .ok()
        .stdout;
    assert!(!staged.contains(".secrets/dev.env"), "{staged}");
}

// Guards: the hooks judge a commit's scope files by the config.toml it stages, not the
// work tree's: an edit of config.toml in progress, not staged, does not refuse a commit
// of a value (nor a merge that strands nothing).
#[test]
fn an_unstaged_config_edit_does_not_refuse_a_commit() {
    let env = Env::new();
    let repo = env.repo("alice", &["--envs"]);
    env.secrets(&repo, &["set", "test", "DB", "test-db-1"]).ok();
    env.commit_all(&repo, "values");
    env.secrets(&repo, &["set", "test", "DB", "test-db-2"]).ok();
    env.git(&repo, &["add", ".secrets/test.env"]).ok();
    let config = repo.join(".secrets/config.toml");
    let text = read(&config);
    assert!(text.contains("\"test\", "), "{text}");
    write(&config, &text.replace("\"test\", ", ""));
    env.git(&repo, &["commit", "-q", "-m", "test value"]).ok();
}

// Guards: the branch revoked a CI key (a removal: its environment rotated) before its
// edit, and the other side renamed the environment, whose key the CI key held. The
// renamed environment needs a rotation before anything may be sealed there: `doctor
// --fix` rotates first, then merges the edit home.
#[test]
fn doctor_rotates_before_merging_home_across_a_removal() {
    let env = Env::new();
    let repo = env.repo("alice", &["--envs"]);
    env.secrets(&repo, &["set", "development", "API", "dev-api-1"])
        .ok();
    env.secrets(
        &repo,
        &["keys", "create", "--name", "deploy", "--env", "development"],
    )
    .ok();
    env.commit_all(&repo, "values, ci key");
    // Renamed first: this clone has not seen the removal yet (in life, another clone).
    env.secrets(&repo, &["env", "rename", "development", "dev"])
        .ok();
    env.commit_all(&repo, "rename");
    env.git(&repo, &["checkout", "-q", "-b", "values", "HEAD~1"])
        .ok();
    let id = member_id(&env, &repo, "deploy");
    env.secrets(&repo, &["keys", "revoke", &id]).ok();
    env.secrets(&repo, &["set", "development", "API", "dev-api-2"])
        .ok();
    env.commit_all(&repo, "revoke, then a value");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    env.git(&repo, &["merge", "-q", "--no-edit", "values"])
        .fails();
    let out = env.secrets(&repo, &["doctor", "--fix"]).ok();
    assert!(
        out.stderr.contains("fixed: rotated dev")
            && out
                .stderr
                .contains("moved API from .secrets/development.env to .secrets/dev.env"),
        "{out:?}"
    );
    env.commit_all(&repo, "merge");
    assert_eq!(get(&env, &repo, "API"), "dev-api-2");
}

// Guards: a revert of an `env rename` made before a later edit of the renamed file is
// a rename the other way: the edit, dropped by `git rm` of the conflict, is refused, and
// `doctor --fix` merges it back under the old name (the revert's base is the reverted
// commit, its other side that commit's parent).
#[test]
fn a_reverted_rename_keeps_the_edits_made_since() {
    let env = Env::new();
    let repo = env.repo("alice", &["--envs"]);
    env.secrets(&repo, &["set", "development", "API", "dev-api-1"])
        .ok();
    env.commit_all(&repo, "values");
    env.secrets(&repo, &["env", "rename", "development", "dev"])
        .ok();
    env.commit_all(&repo, "rename");
    env.secrets(&repo, &["set", "dev", "API", "dev-api-2"]).ok();
    env.commit_all(&repo, "edit");
    let out = env.git(&repo, &["revert", "--no-edit", "HEAD~1"]).fails();
    assert!(out.stdout.contains("modify/delete"), "{out:?}");
    env.git(&repo, &["rm", "-q", ".secrets/dev.env"]).ok();
    let out = env.git(&repo, &["commit", "-q", "--no-edit"]).fails();
    assert!(
        out.stderr
            .contains(".secrets/dev.env: the commit drops this file, which HEAD changed"),
        "{out:?}"
    );
    env.git(&repo, &["checkout", "HEAD", "--", ".secrets/dev.env"])
        .ok();
    let out = env.secrets(&repo, &["doctor", "--fix"]).ok();
    assert!(
        out.stderr
            .contains("moved API from .secrets/dev.env to .secrets/development.env"),
        "{out:?}"
    );
    env.git(&repo, &["commit", "-q", "--no-edit"]).ok();
    let got = env
        .secrets(&repo, &["get", "-e", "development", "API", "--yes"])
        .ok();
    assert_eq!(got.stdout.trim(), "dev-api-2");
}
