//! The pre-commit and pre-merge-commit hooks through real `git commit` and `git merge`,
//! their installation beside other hooks, and `git secrets check` over commits.

use std::path::{Path, PathBuf};

use crate::common::*;

const SECRET: &str = "hunter2-correct-horse-77";

/// A repository with one committed secret value, unlocked, hooks installed by `init`.
fn setup() -> (Env, PathBuf) {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs"]);
    env.secrets(&repo, &["set", "DB_PASS", SECRET]).ok();
    env.secrets(
        &repo,
        &["set", "production", "API_TOKEN", "tok-prod-0042-xyz"],
    )
    .ok();
    env.commit_all(&repo, "secrets");
    (env, repo)
}

fn head(env: &Env, repo: &Path) -> String {
    env.git(repo, &["rev-parse", "HEAD"]).ok().stdout
}

/// Stages `bytes` at `path` without any filter, as a GUI or a bypassed filter would.
/// The work tree is left alone (the filter would refuse to clean it again on commit,
/// which is its own defence, not the hook's).
fn stage_raw(env: &Env, repo: &Path, path: &str, bytes: &[u8]) {
    let raw = env.path().join("raw-blob");
    std::fs::write(&raw, bytes).unwrap();
    let oid = env
        .git(
            repo,
            &[
                "hash-object",
                "-w",
                "--no-filters",
                "--",
                raw.to_str().unwrap(),
            ],
        )
        .ok()
        .stdout;
    let info = format!("100644,{},{path}", oid.trim());
    env.git(repo, &["update-index", "--add", "--cacheinfo", &info])
        .ok();
}

/// `git commit` fails, names each `(path, reason, fix)`, never shows `SECRET`, and
/// commits nothing.
fn commit_blocked(env: &Env, repo: &Path, expect: &[(&str, &str, &str)]) -> Out {
    let before = head(env, repo);
    let out = env.git(repo, &["commit", "-q", "-m", "bad"]).fails();
    for (path, reason, fix) in expect {
        let line = out
            .stderr
            .lines()
            .position(|l| l.trim_start().starts_with(&format!("{path}: ")))
            .unwrap_or_else(|| panic!("{path} not named:\n{}", out.stderr));
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert!(
            lines[line].contains(reason),
            "{path}: {reason}?\n{}",
            out.stderr
        );
        assert!(
            lines[line + 1].contains("fix:") && lines[line + 1].contains(fix),
            "{path}: fix {fix}?\n{}",
            out.stderr
        );
    }
    assert!(!out.stderr.contains(SECRET), "{}", out.stderr);
    assert_eq!(head(env, repo), before, "nothing committed");
    out
}

fn openssh_key() -> String {
    format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW".repeat(2)
    )
}

// Guards: plaintext .env files of every naming convention are blocked; examples pass.
#[test]
fn plaintext_env_files_are_blocked_and_examples_pass() {
    let (env, repo) = setup();
    for p in [".env", "api/.env.production", "deploy/prod.env"] {
        write(repo.join(p), "DB=postgres://u:pw@h/db\n");
        env.git(&repo, &["add", "-f", p]).ok();
    }
    let git_rm = "git rm --cached --";
    commit_blocked(
        &env,
        &repo,
        &[
            (".env", "is a plaintext .env file", git_rm),
            ("api/.env.production", "is a plaintext .env file", git_rm),
            ("deploy/prod.env", "is a plaintext .env file", git_rm),
        ],
    );
    env.git(&repo, &["reset", "-q"]).ok();
    for p in [".env.example", "api/.env.sample", ".env.template"] {
        write(repo.join(p), "DB=postgres://user:password@localhost/db\n");
        env.git(&repo, &["add", "-f", p]).ok();
    }
    env.git(&repo, &["commit", "-q", "-m", "examples"]).ok();
}

// Guards: a secret file staged without the filter (bypassed, or a GUI that skips it) is
// blocked, and so is a non-scope path routed to the filter by .gitattributes.
#[test]
fn unencrypted_secret_files_are_blocked() {
    let (env, repo) = setup();
    stage_raw(
        &env,
        &repo,
        ".secrets/production.env",
        b"API_TOKEN=changed-1234567\n",
    );
    let mut attrs = read(repo.join(".gitattributes"));
    attrs.push_str("config/creds.json filter=secrets\n");
    write(repo.join(".gitattributes"), &attrs);
    env.git(&repo, &["add", ".gitattributes"]).ok();
    stage_raw(&env, &repo, "config/creds.json", b"{\"k\": \"v\"}\n");
    commit_blocked(
        &env,
        &repo,
        &[
            (
                ".secrets/production.env",
                "not in encrypted form",
                "--renormalize",
            ),
            (
                "config/creds.json",
                "not in encrypted form",
                "git secrets unlock",
            ),
        ],
    );
}

// Guards: age, OpenSSH and PEM private keys are blocked wherever they are.
#[test]
fn private_keys_are_blocked() {
    let (env, repo) = setup();
    write(repo.join("id_ed25519"), &openssh_key());
    let pem = openssh_key().replace("OPENSSH", "RSA");
    write(repo.join("certs/server.pem"), &format!("cert\n{pem}"));
    let age = format!(
        "# public key: age1…\nAGE-SECRET-KEY-1{}\n",
        "QPZRY9X8GF".repeat(6)
    );
    write(repo.join("ci/identity.txt"), &age);
    env.git(&repo, &["add", "."]).ok();
    let out = commit_blocked(
        &env,
        &repo,
        &[
            (
                "id_ed25519",
                "line 1 holds a private key (OpenSSH)",
                "outside the repository",
            ),
            (
                "certs/server.pem",
                "line 2 holds a private key (PEM RSA)",
                "git rm --cached",
            ),
            (
                "ci/identity.txt",
                "line 2 holds a private key (age identity)",
                "git rm --cached",
            ),
        ],
    );
    assert!(!out.stderr.contains("QPZRY9X8GF"), "{}", out.stderr);
}

// Guards: the plaintext of a value this user can read is blocked in any staged file,
// by key and scope, never by value; `commit -a` (a temporary index) is checked too.
#[test]
fn plaintext_of_a_readable_secret_is_blocked() {
    let (env, repo) = setup();
    write(repo.join("config.yaml"), "debug: false\n");
    env.commit_all(&repo, "config");
    write(
        repo.join("config.yaml"),
        &format!("debug: false\ntoken: tok-prod-0042-xyz\npassword: {SECRET}\n"),
    );
    let before = head(&env, &repo);
    let out = env
        .git(&repo, &["commit", "-q", "-a", "-m", "leak"])
        .fails();
    assert!(
        out.stderr.contains("config.yaml: line 2 contains the plaintext of the secret `API_TOKEN` (production), and 1 other secret value"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("git secrets run"), "{}", out.stderr);
    assert!(!out.stderr.contains("tok-prod") && !out.stderr.contains(SECRET));
    assert_eq!(head(&env, &repo), before);
    // A path the team marks as vouched for passes.
    let mut attrs = read(repo.join(".gitattributes"));
    attrs.push_str("config.yaml -secrets-check\n");
    write(repo.join(".gitattributes"), &attrs);
    env.git(&repo, &["commit", "-q", "-a", "-m", "vouched"])
        .ok();
}

// Guards: ordinary commits pass: secret changes (encrypted by the filter), other files.
#[test]
fn ordinary_commits_pass() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "DB_PASS", "another-long-value-99"])
        .ok();
    write(repo.join("src/main.rs"), "fn main() {}\n");
    write(
        repo.join("README.md"),
        "run with `git secrets run -- app`\n",
    );
    env.git(&repo, &["add", "-A"]).ok();
    env.git(&repo, &["commit", "-q", "-m", "ok"]).ok();
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
}

// Guards: a merge that would bring in a plaintext .env is stopped by pre-merge-commit.
#[test]
fn merge_of_a_branch_with_plaintext_env_is_blocked() {
    let (env, repo) = setup();
    env.git(&repo, &["checkout", "-q", "-b", "feature"]).ok();
    write(repo.join("svc/.env"), &format!("DB_PASS={SECRET}\n"));
    env.git(&repo, &["add", "-f", "svc/.env"]).ok();
    // The branch was made where no hook ran (another clone, or --no-verify).
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "oops"])
        .ok();
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    write(repo.join("other.txt"), "main moves on\n");
    env.commit_all(&repo, "main");
    let before = head(&env, &repo);
    let out = env
        .git(&repo, &["merge", "--no-ff", "-m", "merge", "feature"])
        .fails();
    assert!(
        out.stderr.contains("merge commit would put secrets in git"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("svc/.env: is a plaintext .env file"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(SECRET));
    assert_eq!(head(&env, &repo), before, "no merge commit");
}

/// A hand-written hook that records each run.
const THEIRS: &str =
    "#!/bin/sh\n# my own checks\necho ran >> \"$(git rev-parse --git-dir)/theirs.log\"\nexit 0\n";

fn runs(repo: &Path) -> usize {
    std::fs::read_to_string(repo.join(".git/theirs.log"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A fresh repository with `hook_text` as pre-commit, then `init` and `unlock` twice.
fn repo_with_hook(env: &Env, hook_text: &str) -> PathBuf {
    let repo = env.path().join("repo");
    env.git(env.path(), &["init", "-q", "repo"]).ok();
    let hook = repo.join(".git/hooks/pre-commit");
    write(&hook, hook_text);
    make_executable(&hook);
    env.secrets(&repo, &["init"]).ok();
    env.secrets(&repo, &["unlock"]).ok();
    env.secrets(&repo, &["unlock"]).ok();
    env.secrets(&repo, &["set", "DB_PASS", SECRET]).ok();
    env.commit_all(&repo, "init");
    repo
}

// Guards: a hand-written shell hook keeps running after init + unlock twice, our check
// is in it once, and lock gives the file back byte for byte.
#[test]
fn hand_written_hook_keeps_running_and_lock_restores_it() {
    let env = Env::new();
    let repo = repo_with_hook(&env, THEIRS);
    let hook = repo.join(".git/hooks/pre-commit");
    let text = read(&hook);
    assert_eq!(text.matches("# >>> git-secrets >>>").count(), 1, "{text}");
    assert!(text.ends_with(&THEIRS["#!/bin/sh\n".len()..]), "{text}");
    assert_eq!(runs(&repo), 1, "their hook ran for the first commit");
    write(repo.join(".env"), "A=b\n");
    env.git(&repo, &["add", "-f", ".env"]).ok();
    commit_blocked(
        &env,
        &repo,
        &[(".env", "plaintext .env", "git rm --cached")],
    );
    env.git(&repo, &["rm", "-q", "--cached", ".env"]).ok();
    write(repo.join("a.txt"), "a\n");
    env.commit_all(&repo, "fine");
    assert_eq!(runs(&repo), 2, "their hook ran again");
    env.secrets(&repo, &["lock"]).ok();
    assert_eq!(read(&hook), THEIRS, "lock leaves their hook as it was");
    assert!(
        !repo.join(".git/hooks/pre-merge-commit").exists(),
        "ours removed"
    );
}

// Guards: a hook in another language is chained (moved aside, run after the check) and
// restored by lock.
#[test]
fn non_shell_hook_is_chained_and_restored() {
    let env = Env::new();
    let theirs = "#!/usr/bin/env python3\nimport subprocess\nd = subprocess.check_output(['git', 'rev-parse', '--git-dir'], text=True).strip()\nopen(d + '/theirs.log', 'a').write('ran\\n')\n";
    let repo = repo_with_hook(&env, theirs);
    let hook = repo.join(".git/hooks/pre-commit");
    assert_eq!(
        read(repo.join(".git/hooks/pre-commit.git-secrets-chained")),
        theirs
    );
    assert_eq!(
        read(&hook).matches("hook pre-commit").count(),
        2,
        "{}",
        read(&hook)
    );
    assert_eq!(runs(&repo), 1, "their hook ran after ours");
    write(repo.join("key"), &openssh_key());
    env.git(&repo, &["add", "key"]).ok();
    commit_blocked(&env, &repo, &[("key", "private key", "git rm --cached")]);
    assert_eq!(runs(&repo), 1, "a blocked commit stops before their hook");
    env.secrets(&repo, &["lock"]).ok();
    assert_eq!(read(&hook), theirs);
    assert!(!repo
        .join(".git/hooks/pre-commit.git-secrets-chained")
        .exists());
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
    make_executable(&repo.join(".husky/pre-commit"));
    env.commit_all(&repo, "husky");
    env.git(&repo, &["config", "core.hooksPath", ".husky"]).ok();
    let out = env.secrets(&repo, &["init"]).ok();
    assert!(
        out.stderr
            .contains("add the line `git secrets hook pre-commit`"),
        "{}",
        out.stderr
    );
    assert_eq!(
        read(repo.join(".husky/pre-commit")),
        "#!/bin/sh\nnpm test\n"
    );
    assert!(
        !repo.join(".husky/pre-merge-commit").exists(),
        "no new file in the repo"
    );
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
    make_executable(&repo.join(".husky/_/pre-commit"));
    env.git(&repo, &["config", "core.hooksPath", ".husky/_"])
        .ok();
    env.secrets(&repo, &["unlock"]).ok();
    assert!(read(repo.join(".husky/_/pre-commit")).contains("hook pre-commit"));
    write(repo.join(".env"), "A=b\n");
    env.git(&repo, &["add", "-f", ".env"]).ok();
    commit_blocked(
        &env,
        &repo,
        &[(".env", "plaintext .env", "git rm --cached")],
    );
    env.git(&repo, &["rm", "-q", "--cached", ".env"]).ok();
    env.commit_all(&repo, "setup");
    assert_eq!(runs(&repo), 1, "husky's script still runs");
    env.secrets(&repo, &["lock"]).ok();
    assert_eq!(
        read(repo.join(".husky/_/pre-commit")),
        "#!/usr/bin/env sh\n. \"$(dirname \"$0\")/h\"\n"
    );
}

// Guards: a hooks directory outside the repository (a shared core.hooksPath).
#[test]
fn shared_hooks_path_outside_the_repo() {
    let env = Env::new();
    let shared = env.path().join("shared-hooks");
    write(shared.join("pre-commit"), THEIRS);
    make_executable(&shared.join("pre-commit"));
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
    env.commit_all(&repo, "init");
    assert_eq!(runs(&repo), 1);
    env.secrets(&repo, &["lock"]).ok();
    assert_eq!(read(shared.join("pre-commit")), THEIRS);
    assert!(!shared.join("pre-merge-commit").exists());
}

/// Bob's clone of `repo`: no identity, no filter, no hooks.
fn bobs_clone(env: &Env, repo: &Path) -> (Env, PathBuf) {
    let bob = env.person("bob");
    bob.git(env.path(), &["clone", "-q", repo.to_str().unwrap(), "bob"])
        .ok();
    (bob, env.path().join("bob"))
}

// Guards: `check` over a range fails naming the bad commit, path and reason, with no
// identity; a clean range and a clean HEAD pass.
#[test]
fn check_finds_the_bad_commit_without_identity() {
    let (env, repo) = setup();
    let base = head(&env, &repo).trim().to_owned();
    write(repo.join("a.txt"), "fine\n");
    env.commit_all(&repo, "fine");
    let clean = head(&env, &repo).trim().to_owned();
    write(repo.join(".env"), "X=plaintext-value\n");
    env.git(&repo, &["add", "-f", ".env"]).ok();
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "bad"])
        .ok();
    let bad = head(&env, &repo).trim().to_owned();
    env.git(&repo, &["rm", "-q", "--cached", ".env"]).ok();
    env.git(&repo, &["commit", "-q", "-m", "remove"]).ok();
    let (bob, clone) = bobs_clone(&env, &repo);
    let out = bob
        .secrets(&clone, &["check", &format!("{base}..HEAD")])
        .fails();
    assert!(
        out.stdout
            .contains(&format!("{} .env: is a plaintext .env file", &bad[..12])),
        "{out:#?}"
    );
    assert_eq!(out.stdout.matches(": is a").count(), 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("1 problem(s) in 1 commit(s)"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("plaintext-value"));
    let ok = bob
        .secrets(&clone, &["check", &format!("{base}..{clean}")])
        .ok();
    assert!(
        ok.stderr
            .contains("checked 1 commit(s): no plaintext secrets"),
        "{}",
        ok.stderr
    );
    // The whole of HEAD is clean (the .env was removed again); HEAD~1 is not.
    bob.secrets(&clone, &["check"]).ok();
    bob.secrets(&clone, &["check", "--not", "--all"]).ok();
    // A pre-receive hook runs in a bare repository.
    bob.git(
        env.path(),
        &["clone", "-q", "--bare", repo.to_str().unwrap(), "bare.git"],
    )
    .ok();
    let out = bob
        .secrets(
            &env.path().join("bare.git"),
            &["check", &format!("{base}..{bad}")],
        )
        .fails();
    assert!(
        out.stdout.contains(".env: is a plaintext .env file"),
        "{out:#?}"
    );
}

// Guards: `check` sees a secret file committed in plaintext and a private key in history.
#[test]
fn check_finds_unencrypted_secret_files_and_keys() {
    let (env, repo) = setup();
    let base = head(&env, &repo).trim().to_owned();
    stage_raw(
        &env,
        &repo,
        ".secrets/production.env",
        b"API_TOKEN=plain-1234567\n",
    );
    write(repo.join("deploy_key"), &openssh_key());
    env.git(&repo, &["add", "deploy_key"]).ok();
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "bad"])
        .ok();
    let (bob, clone) = bobs_clone(&env, &repo);
    let out = bob
        .secrets(&clone, &["check", &format!("{base}..HEAD")])
        .fails();
    assert!(
        out.stdout
            .contains(".secrets/production.env: is a secret file"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("deploy_key: line 1 holds a private key"),
        "{}",
        out.stdout
    );
    let out = bob.secrets(&clone, &["check"]).fails();
    assert!(out.stdout.contains("deploy_key"), "{}", out.stdout);
    let out = bob.secrets(&clone, &["check", "--output=x"]).fails();
    assert!(
        out.stderr.contains("not a revision range"),
        "{}",
        out.stderr
    );
}

// Guards: a binary file staged as .env, and conflict markers in a staged secret file.
#[test]
fn binary_env_and_conflict_markers_are_blocked() {
    let (env, repo) = setup();
    std::fs::write(repo.join("blob.env"), b"\x00\x01binary\xff").unwrap();
    env.git(&repo, &["add", "-f", "blob.env"]).ok();
    let conflicted =
        format!("<<<<<<< HEAD\nDB_PASS={SECRET}\n=======\nDB_PASS=other-value-1\n>>>>>>> b\n");
    stage_raw(
        &env,
        &repo,
        ".secrets/development.env",
        conflicted.as_bytes(),
    );
    commit_blocked(
        &env,
        &repo,
        &[
            (
                "blob.env",
                "is a binary file named like a .env file",
                "git rm --cached",
            ),
            (
                ".secrets/development.env",
                "conflict marker at line 1",
                "resolve the conflict",
            ),
        ],
    );
}

// Guards: a sealed value that was tampered with is blocked (only detectable with a key).
#[test]
fn tampered_staged_secret_file_is_blocked() {
    let (env, repo) = setup();
    let f = ".secrets/development.env";
    let sealed = blob(&env, &repo, &format!("HEAD:{f}"));
    let token = sealed.trim_end().rsplit('=').next().unwrap().to_owned();
    // Flip one character in the middle of the sealed value, keeping its shape.
    let mid = token.len() / 2;
    let c = if &token[mid..=mid] == "A" { "B" } else { "A" };
    let flipped = format!("{}{c}{}", &token[..mid], &token[mid + 1..]);
    stage_raw(&env, &repo, f, sealed.replace(&token, &flipped).as_bytes());
    commit_blocked(&env, &repo, &[(f, "does not decrypt", "trusted commit")]);
}

// Guards: a malformed filter line in .gitattributes does not let a secret file through.
#[test]
fn malformed_gitattributes_line_does_not_let_plaintext_through() {
    let (env, repo) = setup();
    let attrs = read(repo.join(".gitattributes")).replace("filter=secrets", "filter secrets");
    write(repo.join(".gitattributes"), &attrs);
    env.secrets(&repo, &["set", "DB_PASS", "changed-value-1234"])
        .ok();
    env.git(&repo, &["add", "-A"]).ok();
    commit_blocked(
        &env,
        &repo,
        &[(
            ".secrets/development.env",
            "not in encrypted form",
            "git secrets unlock",
        )],
    );
}
