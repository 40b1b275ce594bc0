//! Installing the hooks beside other hooks (hand-written, non-shell, symlinked, husky,
//! core.hooksPath), idempotently; `git secrets lock` keeps the checks (a locked clone has
//! no filter, and they still refuse plaintext) and removes exactly the cache hooks.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::hooks::{commit_blocked, openssh_key, SECRET};

/// A hand-written hook that records each run.
const THEIRS: &str =
    "#!/bin/sh\n# my own checks\necho ran >> \"$(git rev-parse --git-dir)/theirs.log\"\nexit 0\n";

fn runs(repo: &Path) -> usize {
    std::fs::read_to_string(repo.join(".git/theirs.log"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// A fresh repository with `hook_text` as its pre-commit and post-commit hooks, then
/// `init` and `unlock` twice.
fn repo_with_hook(env: &Env, hook_text: &str) -> PathBuf {
    let repo = env.path().join("repo");
    env.git(env.path(), &["init", "-q", "repo"]).ok();
    for name in ["pre-commit", "post-commit"] {
        let hook = repo.join(".git/hooks").join(name);
        write(&hook, hook_text);
        chmod(&hook, 0o755);
    }
    env.secrets(&repo, &["init"]).ok();
    env.secrets(&repo, &["unlock"]).ok();
    env.secrets(&repo, &["unlock"]).ok();
    env.secrets(&repo, &["set", "DB_PASS", SECRET]).ok();
    env.commit_all(&repo, "init");
    repo
}

// Guards: a hand-written shell hook keeps running after init + unlock twice, our block
// is in it once; lock keeps the check in pre-commit (it still blocks, now without the
// filter) and gives their post-commit back byte for byte.

/// Our hook runs: a staged plaintext .env is refused, then unstaged again.
fn our_hook_blocks_a_plaintext_env(env: &Env, repo: &Path) {
    write(repo.join(".env"), "A=b\n");
    env.git(repo, &["add", "-f", ".env"]).ok();
    commit_blocked(env, repo, &[(".env", "plaintext .env", "git rm --cached")]);
    env.git(repo, &["rm", "-q", "--cached", ".env"]).ok();
}
#[test]
fn hand_written_hook_keeps_running_and_lock_keeps_only_the_check() {
    let env = Env::new();
    let repo = repo_with_hook(&env, THEIRS);
    let hooks = repo.join(".git/hooks");
    for name in ["pre-commit", "post-commit"] {
        let text = read(hooks.join(name));
        assert_eq!(text.matches("# >>> git-secrets >>>").count(), 1, "{text}");
        assert!(text.ends_with(&THEIRS["#!/bin/sh\n".len()..]), "{text}");
    }
    assert_eq!(
        runs(&repo),
        2,
        "both of their hooks ran for the first commit"
    );
    our_hook_blocks_a_plaintext_env(&env, &repo);
    write(repo.join("a.txt"), "a\n");
    env.commit_all(&repo, "fine");
    assert_eq!(runs(&repo), 4, "their hooks ran again");
    env.secrets(&repo, &["lock"]).ok();
    let text = read(hooks.join("pre-commit"));
    assert_eq!(text.matches("hook pre-commit").count(), 2, "{text}");
    assert!(text.ends_with(&THEIRS["#!/bin/sh\n".len()..]), "{text}");
    for check in [
        "pre-merge-commit",
        "pre-applypatch",
        "commit-msg",
        "applypatch-msg",
    ] {
        assert!(
            read(hooks.join(check)).contains(&format!("hook {check}")),
            "the checks stay: {check}"
        );
    }
    assert!(
        read(hooks.join("pre-push")).contains("hook pre-push"),
        "the checks stay"
    );
    assert_eq!(
        read(hooks.join("post-commit")),
        THEIRS,
        "given back as it was"
    );
    for ours in ["post-merge", "post-rewrite"] {
        assert!(!hooks.join(ours).exists(), "{ours} removed");
    }
    our_hook_blocks_a_plaintext_env(&env, &repo);
    write(repo.join("b.txt"), "b\n");
    env.commit_all(&repo, "locked");
    assert_eq!(runs(&repo), 6, "their hooks still run");
}

// Guards: a hook in another language is chained (moved aside, run after ours); lock
// keeps the chained check and restores their post-commit.
#[test]
fn non_shell_hook_is_chained_and_restored() {
    let env = Env::new();
    let theirs = "#!/usr/bin/env python3\nimport subprocess\nd = subprocess.check_output(['git', 'rev-parse', '--git-dir'], text=True).strip()\nopen(d + '/theirs.log', 'a').write('ran\\n')\n";
    let repo = repo_with_hook(&env, theirs);
    let hook = repo.join(".git/hooks/pre-commit");
    for name in ["pre-commit", "post-commit"] {
        assert_eq!(
            read(repo.join(format!(".git/hooks/{name}.git-secrets-chained"))),
            theirs
        );
    }
    assert_eq!(
        read(&hook).matches("hook pre-commit").count(),
        2,
        "{}",
        read(&hook)
    );
    assert_eq!(runs(&repo), 2, "their hooks ran after ours");
    write(repo.join("key"), &openssh_key());
    env.git(&repo, &["add", "key"]).ok();
    commit_blocked(&env, &repo, &[("key", "private key", "git rm --cached")]);
    assert_eq!(runs(&repo), 2, "a blocked commit stops before their hook");
    env.secrets(&repo, &["lock"]).ok();
    assert_eq!(read(repo.join(".git/hooks/post-commit")), theirs);
    assert!(!repo
        .join(".git/hooks/post-commit.git-secrets-chained")
        .exists());
    assert!(read(&hook).contains("hook pre-commit"), "the check stays");
    commit_blocked(&env, &repo, &[("key", "private key", "git rm --cached")]);
}

// Guards: core.hooksPath is where the hooks go; a committed hooks directory (husky) is
// never written, and the user is told the line to add; an ignored one (husky 9's
// `.husky/_`) gets the block.
#[test]
fn core_hooks_path_is_respected() {
    let env = Env::new();
    let repo = env.path().join("repo");
    env.git(env.path(), &["init", "-q", "repo"]).ok();
    // husky 5-8: a committed .husky/pre-commit.
    write(repo.join(".husky/pre-commit"), "#!/bin/sh\nnpm test\n");
    chmod(repo.join(".husky/pre-commit"), 0o755);
    env.commit_all(&repo, "husky");
    env.git(&repo, &["config", "core.hooksPath", ".husky"]).ok();
    let out = env.secrets(&repo, &["init"]).ok();
    assert!(
        out.stderr
            .contains("add the line `git secrets hook pre-commit`"),
        "{}",
        out.stderr
    );
    // The hooks that only cache the diff are not worth a file for everyone.
    assert!(!out.stderr.contains("hook post-"), "{}", out.stderr);
    assert_eq!(
        read(repo.join(".husky/pre-commit")),
        "#!/bin/sh\nnpm test\n"
    );
    for ours in ["pre-merge-commit", "post-commit"] {
        assert!(
            !repo.join(".husky").join(ours).exists(),
            "no new file in the repo"
        );
    }
    assert!(
        !repo.join(".git/hooks/pre-commit").exists(),
        "not where git won't look"
    );
    // husky 9: hooks run from .husky/_, which git ignores.
    write(repo.join(".husky/_/.gitignore"), "*\n");
    write(
        repo.join(".husky/_/pre-commit"),
        "#!/usr/bin/env sh\n. \"$(dirname \"$0\")/h\"\n",
    );
    write(
        repo.join(".husky/_/h"),
        "#!/usr/bin/env sh\necho husky-ran >> \"$(git rev-parse --git-dir)/theirs.log\"\n",
    );
    chmod(repo.join(".husky/_/pre-commit"), 0o755);
    env.git(&repo, &["config", "core.hooksPath", ".husky/_"])
        .ok();
    env.secrets(&repo, &["unlock"]).ok();
    assert!(read(repo.join(".husky/_/pre-commit")).contains("hook pre-commit"));
    our_hook_blocks_a_plaintext_env(&env, &repo);
    env.commit_all(&repo, "setup");
    assert_eq!(runs(&repo), 1, "husky's script still runs");
    env.secrets(&repo, &["lock"]).ok();
    let text = read(repo.join(".husky/_/pre-commit"));
    assert!(
        text.contains("hook pre-commit") && text.ends_with(". \"$(dirname \"$0\")/h\"\n"),
        "the check stays, husky's line too: {text}"
    );
    assert!(!repo.join(".husky/_/post-commit").exists());
}

// Guards: a hooks directory outside the repository (a shared core.hooksPath).
#[test]
fn shared_hooks_path_outside_the_repo() {
    let env = Env::new();
    let shared = env.path().join("shared-hooks");
    write(shared.join("pre-commit"), THEIRS);
    chmod(shared.join("pre-commit"), 0o755);
    let repo = env.path().join("repo");
    env.git(env.path(), &["init", "-q", "repo"]).ok();
    env.git(
        &repo,
        &["config", "core.hooksPath", shared.to_str().unwrap()],
    )
    .ok();
    env.secrets(&repo, &["init"]).ok();
    assert!(read(shared.join("pre-commit")).contains("hook pre-commit"));
    assert!(shared.join("pre-merge-commit").exists());
    assert!(read(shared.join("post-commit")).contains("hook post-commit"));
    env.commit_all(&repo, "init");
    assert_eq!(runs(&repo), 1);
    env.secrets(&repo, &["lock"]).ok();
    let text = read(shared.join("pre-commit"));
    assert!(
        text.contains("hook pre-commit") && text.ends_with(&THEIRS["#!/bin/sh\n".len()..]),
        "{text}"
    );
    assert!(shared.join("pre-merge-commit").exists());
    assert!(!shared.join("post-commit").exists());
}

// Guards: a hook that is a symlink to a shared script stays a symlink and runs after the
// check; a symlinked post-commit comes back as it was after lock.
#[cfg(unix)]
#[test]
fn symlinked_hook_is_chained_not_edited() {
    let env = Env::new();
    let shared = env.path().join("team-hook.sh");
    write(&shared, THEIRS);
    chmod(&shared, 0o755);
    let repo = env.path().join("repo");
    env.git(env.path(), &["init", "-q", "repo"]).ok();
    let hook = repo.join(".git/hooks/pre-commit");
    let post = repo.join(".git/hooks/post-commit");
    std::os::unix::fs::symlink(&shared, &hook).unwrap();
    std::os::unix::fs::symlink(&shared, &post).unwrap();
    env.secrets(&repo, &["init"]).ok();
    env.secrets(&repo, &["unlock"]).ok();
    assert_eq!(read(&shared), THEIRS, "the shared script is not edited");
    env.commit_all(&repo, "init");
    assert_eq!(runs(&repo), 2, "the shared script still runs, for both");
    env.secrets(&repo, &["lock"]).ok();
    assert_eq!(std::fs::read_link(&post).unwrap(), shared);
    let chained = repo.join(".git/hooks/pre-commit.git-secrets-chained");
    assert_eq!(std::fs::read_link(&chained).unwrap(), shared);
    write(repo.join("c.txt"), "c\n");
    env.commit_all(&repo, "locked");
    assert_eq!(runs(&repo), 4, "still run after lock");
}

// Guards: status says whether the hooks are in place, and how to put them back.
#[test]
fn status_reports_the_hooks() {
    let env = Env::new();
    let repo = env.repo("repo", &[]);
    let status = env.secrets(&repo, &["status"]).ok().stdout;
    assert!(
        status.contains(
            "pre-commit, pre-merge-commit, pre-applypatch, commit-msg, applypatch-msg, pre-push, post-commit, post-merge, post-rewrite installed"
        ),
        "{status}"
    );
    // Without a hook that caches the diff: said, but not as a problem.
    std::fs::remove_file(repo.join(".git/hooks/post-merge")).unwrap();
    let status = env.secrets(&repo, &["status"]).ok().stdout;
    assert!(
        status.contains("the checks are installed; not post-merge (they cache")
            && !status.contains("problem"),
        "{status}"
    );
    std::fs::remove_file(repo.join(".git/hooks/pre-commit")).unwrap();
    std::fs::remove_file(repo.join(".git/hooks/pre-applypatch")).unwrap();
    let status = env.secrets(&repo, &["status"]).ok().stdout;
    assert!(
        status.contains(
            "problem: the pre-commit, pre-applypatch, post-merge hook(s) are not installed"
        ) && status.contains("git secrets unlock"),
        "{status}"
    );
}
