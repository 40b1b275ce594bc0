//! `git secrets env del test` on one branch, values set in `test` (or a file tracked under
//! it) on another, merged. The merged access.json has no key for `test` any more, so what
//! the other branch sealed there opens for no one: the commit concluding the merge is
//! refused, naming the values it would lose and how to keep them, until the user keeps
//! them (abort, bring the environment back, merge again) or drops them on purpose.

use std::path::{Path, PathBuf};

use crate::common::*;

const TEST: &str = ".secrets/test.env";
const API_TEST: &str = ".secrets/api/test.env";

/// A repository whose `main` deleted environment `test`, and whose branch `other` (made
/// before that) runs `change` on top of `test`'s base values (A, KEEP).
fn deleted_on_main(env: &Env, change: impl Fn(&Path)) -> PathBuf {
    let repo = env.repo("repo", &["--envs"]);
    env.secrets(&repo, &["set", "test", "A", "base-a-0000"])
        .ok();
    env.secrets(&repo, &["set", "test", "KEEP", "base-keep-0000"])
        .ok();
    env.commit_all(&repo, "base");
    env.git(&repo, &["checkout", "-q", "-b", "other"]).ok();
    change(&repo);
    env.commit_all(&repo, "other");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    env.secrets(&repo, &["env", "del", "test", "--yes"]).ok();
    env.commit_all(&repo, "delete test");
    repo
}

// Guards: resolving the merge as the deleting side (the modify/delete conflict by `git
// rm`, the file the other side added dropped too) would lose what the other side set in
// `test`: the commit is refused, naming the file and the keys set or changed there (not
// those it left as they were), and the fix. Bringing the environment back by reverting
// its deletion, then merging again, keeps every value.
#[test]
fn a_merge_dropping_values_set_in_a_deleted_environment_names_them() {
    let env = Env::new();
    let repo = deleted_on_main(&env, |repo| {
        env.secrets(repo, &["set", "test", "A", "other-a-1111"])
            .ok();
        env.secrets(repo, &["set", "test", "NEW", "other-new-2222"])
            .ok();
        env.secrets(repo, &["set", "-s", "api", "test", "K", "other-k-3333"])
            .ok();
    });
    let out = env.git(&repo, &["merge", "other"]).fails();
    assert!(out.stdout.contains("CONFLICT (modify/delete)"), "{out:#?}");
    env.git(&repo, &["rm", "-q", TEST]).ok();
    // The file `other` added merged in, sealed under the deleted key.
    let out = env.git(&repo, &["commit", "-q", "--no-edit"]).fails();
    assert!(
        out.stderr
            .contains(&format!("{API_TEST}: holds `K` sealed with key"))
            && out
                .stderr
                .contains("no environment in .secrets/access.json has")
            && out
                .stderr
                .contains("`git revert` the commit that deleted it"),
        "{out:#?}"
    );
    env.git(&repo, &["rm", "-q", "-f", API_TEST]).ok();
    let out = env.git(&repo, &["commit", "-q", "--no-edit"]).fails();
    for (path, keys) in [(TEST, "`A`, `NEW`,"), (API_TEST, "`K`,")] {
        let line = out
            .stderr
            .lines()
            .find(|l| {
                l.trim_start()
                    .starts_with(&format!("{path}: the commit drops"))
            })
            .unwrap_or_else(|| panic!("{path}: {out:#?}"));
        assert!(
            line.contains(&format!(
                "set or changed {keys} while the other side deleted environment `test`"
            )),
            "{line}"
        );
    }
    assert!(
        out.stderr.contains("git merge --abort") && !out.stderr.contains("value-"),
        "{out:#?}"
    );
    assert!(env
        .git(&repo, &["rev-parse", "-q", "--verify", "MERGE_HEAD"])
        .success());
    // The fix: abort, bring `test` back, merge again.
    env.git(&repo, &["merge", "--abort"]).ok();
    env.git(&repo, &["revert", "--no-edit", "HEAD"]).ok();
    env.git(&repo, &["merge", "-q", "--no-edit", "other"]).ok();
    for (scope, key, value) in [
        (&["test"][..], "A", "other-a-1111"),
        (&["test"], "NEW", "other-new-2222"),
        (&["test"], "KEEP", "base-keep-0000"),
        (&["api", "test"], "K", "other-k-3333"),
    ] {
        let args = [&["get"], scope, &[key, "--yes"]].concat();
        assert_eq!(env.secrets(&repo, &args).ok().stdout, format!("{value}\n"));
    }
}

// Guards: a file tracked under `test` on the other side, the config.toml conflict
// resolved with the deleting side's: the file, sealed under `test`'s key that the merged
// access.json lacks, is refused instead of committed where no one can open it.
#[test]
fn a_file_tracked_in_a_deleted_environment_is_not_committed_under_its_lost_key() {
    let env = Env::new();
    let repo = deleted_on_main(&env, |repo| {
        write(repo.join("cert.pem"), "cert-secret-4444\n");
        env.secrets(repo, &["track", "cert.pem", "-e", "test"]).ok();
    });
    env.git(&repo, &["merge", "other"]).fails();
    let config = ".secrets/config.toml";
    env.git(&repo, &["checkout", "--ours", "--", config]).ok();
    env.git(&repo, &["add", "-A"]).ok();
    let out = env.git(&repo, &["commit", "-q", "--no-edit"]).fails();
    assert!(
        out.stderr.contains("cert.pem: is sealed with key")
            && out.stderr.contains("no one can open it")
            && out.stderr.contains("`git secrets track cert.pem -e ENV`"),
        "{out:#?}"
    );
    assert!(env
        .git(&repo, &["rev-parse", "-q", "--verify", "MERGE_HEAD"])
        .success());
}
