//! `env rename staging preprod`, then `env add staging` on main, and an edit of the old
//! `staging` on a branch, merged: the branch's `.secrets/api/staging.env` holds values
//! sealed under the old key, which `preprod` holds now, at a path of the new `staging`.
//! The edit is never lost and never sealed for the new `staging`'s readers: the merge
//! stops with one error naming `doctor --fix`, which merges the edit into preprod.env
//! and gives the path back to the new environment.

use std::path::{Path, PathBuf};

use crate::common::*;

const STAGING: &str = ".secrets/api/staging.env";

/// main: `api/staging` with A and B (unless `first_value`: then no api file at all),
/// renamed to `preprod`, `staging` added again (with `new_staging` set in api, if any).
/// Branch `feature`, before the rename: A changed, or (`first_value`) C added to a new
/// file. Returns on main, nothing merged.
fn reused(env: &Env, first_value: bool, new_staging: Option<(&str, &str)>) -> PathBuf {
    let repo = env.repo("alice", &["--envs", "development,staging,production"]);
    if first_value {
        env.secrets(&repo, &["set", "-s", "web", "-e", "staging", "W", "w-1"])
            .ok();
    } else {
        for (key, value) in [("A", "a-1"), ("B", "b-1")] {
            env.secrets(&repo, &["set", "-s", "api", "-e", "staging", key, value])
                .ok();
        }
    }
    env.commit_all(&repo, "secrets");
    env.git(&repo, &["checkout", "-q", "-b", "feature"]).ok();
    let (key, value) = if first_value {
        ("C", "c-feature")
    } else {
        ("A", "a-feature")
    };
    env.secrets(&repo, &["set", "-s", "api", "-e", "staging", key, value])
        .ok();
    env.commit_all(&repo, "feature edits staging");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    env.secrets(&repo, &["env", "rename", "staging", "preprod"])
        .ok();
    env.commit_all(&repo, "rename staging to preprod");
    env.secrets(&repo, &["env", "add", "staging"]).ok();
    if let Some((key, value)) = new_staging {
        env.secrets(&repo, &["set", "-s", "api", "-e", "staging", key, value])
            .ok();
    }
    env.commit_all(&repo, "a new staging");
    repo
}

fn get(env: &Env, repo: &Path, scope: &str, key: &str) -> Option<String> {
    let out = env.secrets(repo, &["get", "-s", "api", "-e", scope, key, "--yes"]);
    out.success().then(|| out.stdout.trim().to_owned())
}

/// After the fix and the commit: the edit is in preprod, never in the new staging, and
/// the history passes `check`.
fn landed_in_preprod(env: &Env, repo: &Path, key: &str, value: &str) {
    assert_eq!(get(env, repo, "preprod", key).as_deref(), Some(value));
    let staging = env
        .secrets(
            repo,
            &["get", "-s", "api", "-e", "staging", "--show", "--yes"],
        )
        .ok()
        .stdout;
    assert!(!staging.contains(value), "{staging}");
    env.secrets(repo, &["check"]).ok();
    let status = env.secrets(repo, &["status"]).ok().stdout;
    assert!(!status.contains("problem"), "{status}");
}

fn fixed(env: &Env, repo: &Path, needles: &[&str]) {
    let out = env.secrets(repo, &["doctor", "--fix"]).ok();
    for n in needles {
        assert!(out.stderr.contains(n), "{n}: {out:?}");
    }
}

// Case 0, clean: a first value of the old name merges in as a new file. Smudge leaves it
// sealed (it used to fail, aborting the merge), the merge commit is refused naming the
// fix, and `doctor --fix` moves the value home.
#[test]
fn a_first_value_under_a_reused_name_stops_the_merge_and_is_moved_home() {
    let env = Env::new();
    let repo = reused(&env, true, None);
    let out = env
        .git(&repo, &["merge", "-q", "--no-edit", "feature"])
        .fails();
    assert!(
        out.stderr
            .contains("holds values sealed for `preprod`, not for `staging`")
            && out.stderr.contains("`git secrets doctor --fix`")
            && !out.stderr.contains("smudge filter secrets failed"),
        "{out:?}"
    );
    let status = env.secrets(&repo, &["status"]).ok().stdout;
    assert!(
        status.contains(&format!(
            "{STAGING} holds values sealed for another environment"
        )) && status.contains("belong in .secrets/api/preprod.env"),
        "{status}"
    );
    fixed(
        &env,
        &repo,
        &["moved C from .secrets/api/staging.env to .secrets/api/preprod.env; removed"],
    );
    env.git(&repo, &["commit", "-q", "--no-edit"]).ok();
    assert!(!repo.join(STAGING).exists());
    landed_in_preprod(&env, &repo, "C", "c-feature");
}

// Case 0, modify/delete: the rename deleted the file the branch edited. `git rm`, the
// obvious resolution, must not lose the edit (why leaving such a file sealed was once
// reverted): the commit is refused, and the fix it names works.
#[test]
fn an_edit_of_a_reused_name_is_not_lost_to_git_rm() {
    let env = Env::new();
    let repo = reused(&env, false, None);
    let out = env
        .git(&repo, &["merge", "-q", "--no-edit", "feature"])
        .fails();
    assert!(out.stdout.contains("modify/delete"), "{out:?}");
    env.git(&repo, &["rm", "-q", STAGING]).ok();
    let out = env.git(&repo, &["commit", "-q", "--no-edit"]).fails();
    assert!(
        out.stderr.contains(&format!(
            "{STAGING}: the commit drops what MERGE_HEAD changed in this file, sealed for the environment now called `preprod`"
        )) && out
            .stderr
            .contains(&format!("`git checkout MERGE_HEAD -- {STAGING}`, then `git secrets doctor --fix`")),
        "{out:?}"
    );
    bring_back_and_fix(
        &env,
        &repo,
        "moved A from .secrets/api/staging.env to .secrets/api/preprod.env",
    );
    assert_eq!(get(&env, &repo, "preprod", "B").as_deref(), Some("b-1"));
}

/// The edit a refused commit dropped brought back (`git checkout MERGE_HEAD --
/// staging.env`), moved home by `doctor --fix` (which says `said`) and committed: the
/// feature's value of A is in preprod.env.
fn bring_back_and_fix(env: &Env, repo: &Path, said: &str) {
    env.git(repo, &["checkout", "MERGE_HEAD", "--", STAGING])
        .ok();
    fixed(env, repo, &[said]);
    env.git(repo, &["commit", "-q", "--no-edit"]).ok();
    landed_in_preprod(env, repo, "A", "a-feature");
}

// Case 1: the new staging has a file of its own (the same key, or another): the merge
// driver keeps our side and leaves the path in conflict; `doctor --fix` merges the edit
// into preprod.env and puts back the new staging's file.
#[test]
fn an_edit_of_a_reused_name_conflicting_with_the_new_environment_goes_to_the_renamed_one() {
    for (key, value) in [("A", "a-new"), ("Z", "z-new")] {
        let env = Env::new();
        let repo = reused(&env, false, Some((key, value)));
        let out = env
            .git(&repo, &["merge", "-q", "--no-edit", "feature"])
            .fails();
        assert!(
            out.stderr
                .contains("their side holds values sealed for `preprod`")
                && out.stderr.contains(
                    "`git secrets doctor --fix` merges the changes into .secrets/api/preprod.env"
                ),
            "{out:?}"
        );
        fixed(
            &env,
            &repo,
            &["moved A from .secrets/api/staging.env to .secrets/api/preprod.env; put back .secrets/api/staging.env as HEAD has it"],
        );
        env.git(&repo, &["commit", "-q", "--no-edit"]).ok();
        landed_in_preprod(&env, &repo, "A", "a-feature");
        assert_eq!(get(&env, &repo, "staging", key).as_deref(), Some(value));
        assert_eq!(get(&env, &repo, "preprod", "B").as_deref(), Some("b-1"));
    }
}

// Case 1 resolved the quick way, our side taken: the edit would be lost; refused, and
// the fix named brings it home.
#[test]
fn a_reused_name_conflict_resolved_to_our_side_is_refused() {
    let env = Env::new();
    let repo = reused(&env, false, Some(("Z", "z-new")));
    env.git(&repo, &["merge", "-q", "--no-edit", "feature"])
        .fails();
    env.git(&repo, &["checkout", "--ours", "--", STAGING]).ok();
    env.git(&repo, &["add", STAGING]).ok();
    let out = env.git(&repo, &["commit", "-q", "--no-edit"]).fails();
    assert!(
        out.stderr
            .contains("the commit drops what MERGE_HEAD changed in this file"),
        "{out:?}"
    );
    bring_back_and_fix(
        &env,
        &repo,
        "moved A from .secrets/api/staging.env to .secrets/api/preprod.env; put back",
    );
    assert_eq!(get(&env, &repo, "staging", "Z").as_deref(), Some("z-new"));
}

// Committed past the hooks: `check` flags the old name's values at the new name's path,
// naming the fix, and `doctor --fix` still moves them home without a merge in progress.
#[test]
fn check_flags_a_committed_file_of_another_environment_at_a_declared_path() {
    let env = Env::new();
    let repo = reused(&env, true, None);
    env.git(&repo, &["merge", "-q", "--no-edit", "feature"])
        .fails();
    env.git(&repo, &["commit", "-q", "--no-verify", "--no-edit"])
        .ok();
    let out = env.secrets(&repo, &["check"]).fails();
    assert!(
        out.stdout.contains(STAGING)
            && out.stdout.contains("sealed for environment `preprod`")
            && out.stdout.contains("`git secrets doctor --fix`"),
        "{out:?}"
    );
    fixed(
        &env,
        &repo,
        &["moved C from .secrets/api/staging.env to .secrets/api/preprod.env"],
    );
    env.commit_all(&repo, "the old staging's value moved home");
    landed_in_preprod(&env, &repo, "C", "c-feature");
}

/// Every value the scenarios set: none may appear in what a command says.
const VALUES: [&str; 5] = ["a-1", "b-1", "a-feature", "z-new", "c-feature"];

fn no_value(outs: &[&Out]) {
    for out in outs {
        for v in VALUES {
            assert!(
                !out.stdout.contains(v) && !out.stderr.contains(v),
                "{v}: {out:?}"
            );
        }
    }
}

/// The conflict on the reused path resolved to the side holding the old name's file
/// (`:3:`), the way a clone without git-secrets set up would: its blob staged and
/// checked out, no hook run.
fn take_theirs(env: &Env, repo: &Path) -> Out {
    let theirs = env
        .git(repo, &["rev-parse", &format!(":3:{STAGING}")])
        .ok()
        .stdout;
    let info = format!("100644,{},{STAGING}", theirs.trim());
    env.git(repo, &["update-index", "--cacheinfo", &info]).ok();
    env.git(repo, &["checkout", "--", STAGING])
}

// Case 1 committed past the hooks, the old name's side taken: no merge is in progress,
// but HEAD is the merge. `doctor --fix` merges the edit into preprod.env against the
// merge base of HEAD's parents, and gives the path back as HEAD^1 has it: the new
// staging's own value is not lost (it used to keep the file whole and advise deleting
// it, naming itself as the fix of what it had just failed to fix).
#[test]
fn a_committed_merge_that_took_the_old_name_is_fixed_from_its_parents() {
    let env = Env::new();
    let repo = reused(&env, false, Some(("Z", "z-new")));
    let merge = env.git(&repo, &["merge", "-q", "--no-edit", "feature"]);
    let checkout = take_theirs(&env, &repo);
    let commit = env
        .git(&repo, &["commit", "-q", "--no-verify", "--no-edit"])
        .ok();
    let out = env.secrets(&repo, &["doctor", "--fix"]).ok();
    assert!(
        out.stderr.contains(&format!(
            "moved A from {STAGING} to .secrets/api/preprod.env; put back {STAGING} as HEAD^1 has it"
        )),
        "{out:?}"
    );
    no_value(&[&merge, &checkout, &commit, &out]);
    env.commit_all(&repo, "the old staging's edit moved home");
    landed_in_preprod(&env, &repo, "A", "a-feature");
    assert_eq!(get(&env, &repo, "staging", "Z").as_deref(), Some("z-new"));
    assert_eq!(get(&env, &repo, "preprod", "B").as_deref(), Some("b-1"));
    let check = env.secrets(&repo, &["check"]).ok();
    no_value(&[&check]);
}

// The same taken by a committed cherry-pick: no merge says where the file came from, so
// no base to merge the edit against, and preprod.env has A otherwise. `doctor --fix`
// keeps the file, and says what to do by hand without advising its deletion (which
// would drop the new staging's value) nor naming itself as the fix; following it works.
#[test]
fn a_committed_cherry_pick_that_took_the_old_name_names_the_steps_by_hand() {
    let env = Env::new();
    let repo = reused(&env, false, Some(("Z", "z-new")));
    env.git(&repo, &["cherry-pick", "feature"]).fails();
    take_theirs(&env, &repo);
    env.git(&repo, &["commit", "-q", "--no-verify", "--no-edit"])
        .ok();
    let out = env.secrets(&repo, &["doctor", "--fix"]).fails();
    no_value(&[&out]);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !said.contains("delete it")
            && !said.contains("`git rm")
            && !said.contains("fix: `git secrets doctor --fix`"),
        "{out:?}"
    );
    let rev = env
        .git(&repo, &["rev-parse", "--short=12", "HEAD^1"])
        .ok()
        .stdout;
    let back = format!("`git checkout {} -- {STAGING}`", rev.trim());
    assert!(
        out.stderr
            .contains(&format!("kept {STAGING} whole: A differ there"))
            && out.stderr.contains(&back)
            && out.stdout.contains(&back)
            && out.stdout.contains("git secrets set -s api -e preprod KEY"),
        "{out:?}"
    );
    env.secrets(
        &repo,
        &["set", "-s", "api", "-e", "preprod", "A", "a-feature"],
    )
    .ok();
    env.git(&repo, &["checkout", rev.trim(), "--", STAGING])
        .ok();
    env.commit_all(&repo, "the old staging's edit set by hand");
    landed_in_preprod(&env, &repo, "A", "a-feature");
    assert_eq!(get(&env, &repo, "staging", "Z").as_deref(), Some("z-new"));
}
