//! The pre-commit and pre-merge-commit hooks through real `git commit` and `git merge`:
//! what they block, with what message, and what they let through. Installation is in
//! hooks_install.rs, `git secrets check` in hooks_check.rs.

use std::path::{Path, PathBuf};

use crate::common::*;

pub(crate) const SECRET: &str = "hunter2-correct-horse-77";

/// A repository with one committed secret value, unlocked, hooks installed by `init`.
pub(crate) fn setup() -> (Env, PathBuf) {
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

pub(crate) fn head(env: &Env, repo: &Path) -> String {
    env.git(repo, &["rev-parse", "HEAD"]).ok().stdout
}

/// Stages `bytes` at `path` without any filter, as a GUI or a bypassed filter would.
/// The work tree is left alone (the filter would refuse to clean it again on commit,
/// which is its own defence, not the hook's).
pub(crate) fn stage_raw(env: &Env, repo: &Path, path: &str, bytes: &[u8]) {
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
pub(crate) fn commit_blocked(env: &Env, repo: &Path, expect: &[(&str, &str, &str)]) -> Out {
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

pub(crate) fn openssh_key() -> String {
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

// Guards: conflict markers left in a secret file and staged through the filter by a
// command other than `git add` (a script's `git update-index`; `git add` itself refuses
// them: bad_input.rs): a warning naming the file and line, the markers kept as markers
// (each side sealed, never a marker sealed as a value or a value in plaintext), and the
// commit refused naming the file, the reason and the fix.
#[test]
fn conflict_markers_added_through_the_filter_are_sealed_apart_and_blocked() {
    let (env, repo) = setup();
    let f = ".secrets/development.env";
    let conflicted =
        format!("<<<<<<< HEAD\nDB_PASS={SECRET}\n=======\nDB_PASS=other-value-12345\n>>>>>>> b\n");
    write(repo.join(f), &conflicted);
    let out = env.git(&repo, &["update-index", "--add", f]).ok();
    assert!(
        out.stderr
            .contains(&format!("{f} still has merge conflict markers (line 1)")),
        "{out:?}"
    );
    let staged = blob(&env, &repo, &format!(":{f}"));
    let lines: Vec<&str> = staged.lines().collect();
    assert_eq!(lines.len(), 5, "{staged}");
    assert_eq!(lines[0], "<<<<<<< HEAD");
    assert!(lines[1].starts_with("DB_PASS=gs1:"), "{staged}");
    assert_eq!(lines[2], "=======");
    assert!(lines[3].starts_with("DB_PASS=gs1:"), "{staged}");
    assert_eq!(lines[4], ">>>>>>> b");
    assert!(!staged.contains(SECRET) && !staged.contains("other-value"));
    commit_blocked(
        &env,
        &repo,
        &[(f, "conflict marker at line 1", "resolve the conflict")],
    );
}

/// The committed encrypted form of `f` with one character of its last sealed value
/// changed: still the right shape, but it no longer opens.
pub(crate) fn tampered(env: &Env, repo: &Path, f: &str) -> String {
    let sealed = blob(env, repo, &format!("HEAD:{f}"));
    let token = sealed.trim_end().rsplit('=').next().unwrap().to_owned();
    let mid = token.len() / 2;
    let c = if &token[mid..=mid] == "A" { "B" } else { "A" };
    let flipped = format!("{}{c}{}", &token[..mid], &token[mid + 1..]);
    sealed.replace(&token, &flipped)
}

// Guards: a sealed value that was tampered with is blocked (only detectable with a key).
#[test]
fn tampered_staged_secret_file_is_blocked() {
    let (env, repo) = setup();
    let f = ".secrets/development.env";
    stage_raw(&env, &repo, f, tampered(&env, &repo, f).as_bytes());
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
            "git does not route it to the secrets filter",
            "restore the line (`git secrets doctor --fix`)",
        )],
    );
}

/// Bob's clone of `repo`: no identity, no filter, no hooks.
pub(crate) fn bobs_clone(env: &Env, repo: &Path) -> (Env, PathBuf) {
    let bob = env.person("bob");
    bob.git(env.path(), &["clone", "-q", repo.to_str().unwrap(), "bob"])
        .ok();
    (bob, env.path().join("bob"))
}

// Guards: a clone without the filter still refuses a plaintext secret file, which git
// stages as it is there: after `lock`, and in a clone waiting for approval after `join`
// (where a locked git-crypt clone commits plaintext with exit 0).
#[test]
fn a_clone_without_the_filter_still_refuses_plaintext_secrets() {
    let (env, repo) = setup();
    let f = ".secrets/development.env";
    env.secrets(&repo, &["lock"]).ok();
    write(repo.join(f), &format!("DB_PASS={SECRET}\n"));
    env.git(&repo, &["add", f]).ok();
    assert_eq!(
        blob(&env, &repo, &format!(":{f}")),
        format!("DB_PASS={SECRET}\n"),
        "no filter: git staged the plaintext"
    );
    commit_blocked(
        &env,
        &repo,
        &[(f, "not in encrypted form", "git secrets unlock")],
    );
    env.git(&repo, &["reset", "-q", "--hard"]).ok();
    let (bob, b, _) = bob_joins(&env, &repo);
    write(b.join(f), "DB_PASS=typed-by-bob-1234\n");
    bob.git(&b, &["add", f]).ok();
    commit_blocked(
        &bob,
        &b,
        &[(f, "not in encrypted form", "git secrets join")],
    );
}

// Guards: a temporary file of git-secrets left behind by a crash (plaintext, named
// `.git-secrets-XXXXXX` beside the scope file it was to replace) is ignored by
// `git add -A`, refused by the pre-commit hook and `check` when staged anyway; `doctor`
// names it, and `--fix` deletes it and adds the ignore line to an older repository.
#[test]
fn a_leftover_temporary_file_is_never_committed() {
    const LEAK: &str = "crash-TMPLEAK-9f2";
    let (env, repo) = setup();
    let tmp = ".secrets/.git-secrets-Ab12Cd";
    write(
        repo.join(tmp),
        &format!("DB_PASS={SECRET}\nNEW_API_KEY={LEAK}\n"),
    );
    chmod(repo.join(tmp), 0o600);
    env.git(&repo, &["add", "-A"]).ok();
    let staged = env.git(&repo, &["ls-files", "--", tmp]).ok();
    assert_eq!(staged.stdout, "", "ignored by git add -A");

    env.git(&repo, &["add", "-f", "--", tmp]).ok();
    let out = commit_blocked(&env, &repo, &[(tmp, "temporary file", "git rm --cached")]);
    assert!(!out.stderr.contains(LEAK), "{}", out.stderr);
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "bypassed"])
        .ok();
    let out = env.secrets(&repo, &["check", "HEAD~1..HEAD"]).fails();
    assert!(
        out.stdout.contains(tmp) || out.stderr.contains(tmp),
        "{out:#?}"
    );
    assert!(!out.stdout.contains(LEAK) && !out.stderr.contains(LEAK));
    env.git(&repo, &["reset", "-q", "--hard", "HEAD~1"]).ok();

    // A repository whose .gitignore predates the line: doctor names it and adds it. The
    // leftovers, old or young, go with the first command (no running one holds their
    // directory: crate fsutil).
    let gitignore = read(repo.join(".gitignore"));
    write(
        repo.join(".gitignore"),
        &gitignore.replace(".git-secrets-*\n", ""),
    );
    let old = ".secrets/.git-secrets-Old123";
    write(repo.join(old), &format!("NEW_API_KEY={LEAK}\n"));
    env.run("touch", &repo, &["-d", "2 minutes ago", old]).ok();
    let young = ".git-secrets-Young1";
    write(repo.join(young), "x\n");
    // Ours are created 0600 (a user's file named so, open to others, is not ours).
    chmod(repo.join(old), 0o600);
    chmod(repo.join(young), 0o600);
    let out = env.secrets(&repo, &["doctor"]).fails();
    assert!(
        out.stdout.contains(".gitignore lacks `.git-secrets-*`"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains(old) && out.stderr.contains(young),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains(LEAK) && !out.stderr.contains(LEAK));
    assert!(!repo.join(old).exists() && !repo.join(young).exists());
    env.secrets(&repo, &["doctor", "--fix"]).ok();
    assert!(read(repo.join(".gitignore")).contains(".git-secrets-*\n"));
}

/// `git mergetool` keeps the conflicted work-tree file as `.orig` (mergetool.keepBackup,
/// on by default): for a scope file, both sides' plaintext between conflict markers, at
/// a path the filter does not route. .gitignore keeps it out of `git add -A`, and the
/// hook refuses it added anyway, values too short for the plaintext search included;
/// so does `git secrets check` after `--no-verify`.
#[test]
fn a_mergetool_backup_of_a_secret_file_is_never_committed() {
    const OURS: &str = "Barracuda";
    const THEIRS: &str = "Marlin";
    let env = Env::new();
    let repo = env.repo("repo", &["--envs"]);
    env.secrets(&repo, &["set", "-e", "production", "PIN", "4711"])
        .ok();
    env.secrets(&repo, &["set", "-e", "production", "DB_PASS", "Swordfish"])
        .ok();
    env.commit_all(&repo, "base");
    env.git(&repo, &["checkout", "-q", "-b", "b"]).ok();
    env.secrets(&repo, &["set", "-e", "production", "DB_PASS", THEIRS])
        .ok();
    env.commit_all(&repo, "b");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    env.secrets(&repo, &["set", "-e", "production", "DB_PASS", OURS])
        .ok();
    env.commit_all(&repo, "main");
    env.git(&repo, &["merge", "-q", "b", "-m", "merge"]).fails();
    let resolve = format!("printf 'PIN=4711\\nDB_PASS={OURS}\\n' > \"$MERGED\"");
    env.git(&repo, &["config", "mergetool.fix.cmd", &resolve])
        .ok();
    env.git(&repo, &["config", "mergetool.fix.trustExitCode", "true"])
        .ok();
    env.git(&repo, &["mergetool", "-t", "fix", "--no-prompt"])
        .ok();
    let backup = ".secrets/production.env.orig";
    let text = read(repo.join(backup));
    assert!(text.contains(THEIRS) && text.contains("4711"), "{text}");

    env.git(&repo, &["add", "-A"]).ok();
    let staged = env.git(&repo, &["ls-files", "--", backup]).ok();
    assert_eq!(staged.stdout, "", "ignored by git add -A");
    env.git(&repo, &["add", "-f", "--", backup]).ok();
    let out = commit_blocked(
        &env,
        &repo,
        &[(backup, "copy or backup of a secret file", "git rm --cached")],
    );
    assert!(!out.stderr.contains(THEIRS) && !out.stderr.contains("4711"));
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "bypassed"])
        .ok();
    let out = env.secrets(&repo, &["check", "HEAD~1..HEAD"]).fails();
    assert!(
        out.stdout.contains(backup) || out.stderr.contains(backup),
        "{out:#?}"
    );
    assert!(!out.stdout.contains(THEIRS) && !out.stderr.contains(THEIRS));
}

// Guards: an editor's backup of a scope file (Emacs `~` and `#…#`, a copy named by hand)
// and a `.bak` copy outside .secrets/ hold its plaintext, and are never committed.
#[test]
fn editor_backups_and_copies_of_a_secret_file_are_never_committed() {
    let (env, repo) = setup();
    let plain = "PIN=4711\nDB_PASS=Old-Db-Password-2024!\n";
    let backups = [
        ".secrets/production.env~",
        ".secrets/#production.env#",
        ".secrets/production.env-old",
        "backup/production.env.bak",
    ];
    for b in backups {
        write(repo.join(b), plain);
    }
    env.git(&repo, &["add", "-A"]).ok();
    let staged = env.git(&repo, &["ls-files", "--", backups[0]]).ok();
    assert_eq!(staged.stdout, "", "`*.env~` is ignored by git add -A");
    env.git(&repo, &["add", "-f", "--", backups[0]]).ok();
    let expected: Vec<(&str, &str, &str)> = backups
        .iter()
        .map(|b| (*b, "copy or backup of a secret file", "git rm --cached"))
        .collect();
    let out = commit_blocked(&env, &repo, &expected);
    assert!(!out.stderr.contains("4711") && !out.stderr.contains("Old-Db"));
}

/// The key id of every token of a sealed scope file, or of a sealed whole file.
pub(crate) fn key_ids(sealed: &str) -> Vec<String> {
    let mut ids: Vec<String> = sealed
        .split("gs1:")
        .skip(1)
        .filter_map(|t| {
            t.get(..8)
                .filter(|id| id.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

// Guards: `git mv` of a scope file out of the filter's paths (any path outside
// .secrets/) then `git commit -a` stages the plaintext work-tree file: the values of
// HEAD's secret files the commit deletes are searched for too, so it is refused. Moved
// to `.secrets/x.env.bak`, it is refused before any value is looked at, as a plaintext
// copy of a scope file. And a value `unset` in the same commit that another file keeps
// is refused too.
#[test]
fn values_of_secret_files_the_commit_removes_are_still_searched_for() {
    let (env, repo) = setup();
    env.git(
        &repo,
        &[
            "mv",
            ".secrets/production.env",
            ".secrets/production.env.bak",
        ],
    )
    .ok();
    env.git(&repo, &["mv", ".secrets/development.env", "dev-config.txt"])
        .ok();
    // `commit -a` stages the plaintext work-tree files once git sees them changed (the
    // rename changed their ctime, which a second's granularity may hide): dated later and
    // staged here so the test does not depend on the clock.
    dated_later(repo.join(".secrets/production.env.bak"));
    dated_later(repo.join("dev-config.txt"));
    env.git(
        &repo,
        &["add", "--", ".secrets/production.env.bak", "dev-config.txt"],
    )
    .ok();
    let before = head(&env, &repo);
    let out = env
        .git(&repo, &["commit", "-q", "-a", "-m", "backup"])
        .fails();
    let (path, key, scope, from) = (
        "dev-config.txt",
        "DB_PASS",
        "development",
        ".secrets/development.env",
    );
    let want = format!(
        "{path}: line 1 contains the plaintext of the secret `{key}` ({scope}, as {from} held it in HEAD)"
    );
    assert!(out.stderr.contains(&want), "{want}?\n{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "move it back (`git mv`) or unstage it (`git rm --cached -- {path}`)"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(".secrets/production.env.bak: is a copy or backup of a secret file"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(SECRET) && !out.stderr.contains("tok-prod"));
    assert_eq!(head(&env, &repo), before, "nothing committed");
    // Moved back, the commit is an ordinary one.
    env.git(&repo, &["reset", "-q", "--hard"]).ok();
    assert_eq!(
        read(repo.join(".secrets/production.env")),
        "API_TOKEN=tok-prod-0042-xyz\n"
    );

    // `unset` of a value that a file staged in the same commit still holds.
    env.secrets(&repo, &["unset", "production", "API_TOKEN"])
        .ok();
    write(repo.join("deploy.yaml"), "token: tok-prod-0042-xyz\n");
    env.git(&repo, &["add", "-A"]).ok();
    commit_blocked(
        &env,
        &repo,
        &[(
            "deploy.yaml",
            "line 1 contains the plaintext of the secret `API_TOKEN` (production, as .secrets/production.env held it in HEAD)",
            "git rm --cached -- deploy.yaml",
        )],
    );
    // Without the copy, the unset commits.
    write(repo.join("deploy.yaml"), "token: from git secrets run\n");
    env.git(&repo, &["add", "-A"]).ok();
    env.git(&repo, &["commit", "-q", "-m", "unset"]).ok();
}

// Guards: after `member remove` (which rotates), a blob sealed under the retired key,
// which the removed member holds, is refused: one a pathspec checkout of a stash puts
// straight into the index (pre-commit), and a scope file an unpushed branch added
// before the removal (pre-merge-commit). `git add --renormalize` re-seals each under the
// current key, and `check` finds such a commit with no key at all.
#[test]
fn values_under_a_key_a_removal_retired_are_not_committed() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (_bob, _b, id) = bob_joins(&env, &alice);
    env.secrets(&alice, &["member", "approve", &id]).ok();
    env.commit_all(&alice, "approve bob");
    let old_key = key_ids(&blob(&env, &alice, "HEAD:.secrets/production.env"));
    // Work prepared before the removal: a stashed value, an unpushed branch.
    env.secrets(&alice, &["set", "production", "LATE", "stashed-value-0001"])
        .ok();
    env.git(&alice, &["add", "-A"]).ok();
    env.git(&alice, &["stash", "-q"]).ok();
    payments_branch_then_remove(&env, &alice, &id);
    let new_key = key_ids(&blob(&env, &alice, "HEAD:.secrets/production.env"));
    assert_eq!(new_key.len(), 1);
    assert_ne!(new_key, old_key, "the removal rotated production");

    // (a) The stashed blob, put in the index as it is.
    let f = ".secrets/production.env";
    env.git(&alice, &["checkout", "stash@{0}", "--", f]).ok();
    assert_eq!(key_ids(&blob(&env, &alice, &format!(":{f}"))), old_key);
    let out = commit_blocked(
        &env,
        &alice,
        &[(
            f,
            &format!(
                "(`DB`) is sealed with key {}, which a rotation of `production` replaced",
                old_key[0]
            ),
            &format!("git add --renormalize -- {f}"),
        )],
    );
    assert!(out.stderr.contains("and 1 more line(s)"), "{}", out.stderr);
    assert!(!out.stderr.contains("stashed-value"), "{}", out.stderr);
    env.git(&alice, &["add", "--renormalize", "--", f]).ok();
    env.git(&alice, &["commit", "-q", "-m", "late value"]).ok();
    assert_eq!(key_ids(&blob(&env, &alice, &format!("HEAD:{f}"))), new_key);
    assert_eq!(
        env.secrets(&alice, &["get", "production", "LATE", "--yes"])
            .ok()
            .stdout,
        "stashed-value-0001\n"
    );

    // (b) A branch that added a scope file before the removal.
    let p = ".secrets/payments/production.env";
    let before = head(&env, &alice);
    let out = env
        .git(&alice, &["merge", "--no-ff", "--no-edit", "feature"])
        .fails();
    assert!(
        out.stderr.contains("merge commit would put secrets in git")
            && out.stderr.contains(&format!(
                "{p}: line 1 (`STRIPE`) is sealed with key {}",
                old_key[0]
            )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("sk-live"), "{}", out.stderr);
    assert_eq!(head(&env, &alice), before, "no merge commit");
    // Committed past the hook, `check` finds it in a clone with no identity.
    env.git(&alice, &["commit", "-q", "--no-verify", "--no-edit"])
        .ok();
    let carol = env.person("carol");
    let c = clone(&carol, &alice, "carol");
    let out = carol
        .secrets(&c, &["check", &format!("{}..HEAD", before.trim())])
        .fails();
    let merge = head(&env, &alice);
    assert!(
        out.stdout.contains(&format!(
            "{} {p}: line 1 (`STRIPE`) is sealed with key {}",
            &merge[..12],
            old_key[0]
        )),
        "{out:#?}"
    );
    assert_eq!(
        out.stdout.matches("is sealed with key").count(),
        1,
        "{}",
        out.stdout
    );
    // Repaired: the merge made again, the file re-sealed before committing it.
    env.git(&alice, &["reset", "-q", "--hard", before.trim()])
        .ok();
    env.git(&alice, &["merge", "--no-ff", "--no-edit", "feature"])
        .fails();
    env.git(&alice, &["add", "--renormalize", "--", p]).ok();
    env.git(&alice, &["commit", "-q", "--no-edit"]).ok();
    assert_eq!(key_ids(&blob(&env, &alice, &format!("HEAD:{p}"))), new_key);
    env.secrets(&alice, &["check", &format!("{}..HEAD", before.trim())])
        .ok();
}

// Guards: while an environment's only key is one a removed member was given (a removal
// recorded where no rotation followed), a commit may keep the tokens its parent holds
// (an `unset`), but a token new to the file under that key is refused, with `rotate` as
// the fix.
#[test]
fn under_an_exposed_key_a_commit_keeps_old_tokens_and_takes_no_new_one() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (_bob, _b, id) = bob_joins(&env, &alice);
    env.secrets(&alice, &["member", "approve", &id]).ok();
    env.secrets(&alice, &["set", "production", "OTHER", "other-value-0004"])
        .ok();
    env.commit_all(&alice, "approve bob");
    let first = head(&env, &alice).trim().to_owned();
    env.secrets(&alice, &["set", "production", "DB", "prod-password-2"])
        .ok();
    env.commit_all(&alice, "new DB");
    // Bob marked removed by hand: his key stays the current one until `rotate`.
    let path = alice.join(".secrets/access.json");
    let mut doc: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    doc["members"][&id]["status"] = serde_json::json!("removed");
    doc["members"][&id]["removed_at"] = serde_json::json!("2026-01-02T00:00:00Z");
    write(&path, &(serde_json::to_string_pretty(&doc).unwrap() + "\n"));
    env.commit_all(&alice, "bob removed");
    let f = ".secrets/production.env";
    let key = key_ids(&blob(&env, &alice, &format!("HEAD:{f}")));
    // Keeping what HEAD holds is no news to anyone: a line deleted by hand (`unset`
    // refuses to seal under the exposed key) is staged with the other tokens kept.
    assert_eq!(
        read(alice.join(f)),
        "DB=prod-password-2\nOTHER=other-value-0004\n"
    );
    write(alice.join(f), "DB=prod-password-2\n");
    env.git(&alice, &["add", f]).ok();
    env.git(&alice, &["commit", "-q", "-m", "unset"]).ok();
    // An older value under the same key is news to the file.
    env.git(&alice, &["checkout", &first, "--", f]).ok();
    commit_blocked(
        &env,
        &alice,
        &[(
            f,
            &format!(
                "line 1 (`DB`) is sealed with key {}, the current key of `production`, which removed member(s) bob were given",
                key[0]
            ),
            "git secrets rotate --env production",
        )],
    );
    env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    env.git(&alice, &["commit", "-q", "-m", "rotate"]).ok();
    assert_ne!(key_ids(&blob(&env, &alice, &format!("HEAD:{f}"))), key);
}

/// A patch as `git format-patch` writes it, adding `path` with `line`, with `subject`.
fn patch_adding(path: &str, line: &str, subject: &str) -> String {
    format!(
        "From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001\n\
         From: Bob <b@example.com>\n\
         Date: Mon, 1 Jan 2024 00:00:00 +0000\n\
         Subject: [PATCH] {subject}\n\
         \n\
         ---\n\
         \x20{path} | 1 +\n\
         \x201 file changed, 1 insertion(+)\n\
         \x20create mode 100644 {path}\n\
         \n\
         diff --git a/{path} b/{path}\n\
         new file mode 100644\n\
         index 0000000..1111111\n\
         --- /dev/null\n\
         +++ b/{path}\n\
         @@ -0,0 +1 @@\n\
         +{line}\n\
         -- \n\
         2.47.3\n\n"
    )
}

// Guards: `git am` writes the patched blobs into the index without the filter and runs
// pre-applypatch (not pre-commit) and applypatch-msg (not commit-msg): both are
// installed, so a patch adding a plaintext secret file, or whose message holds a secret,
// stops `git am` and nothing is committed; a harmless patch applies.
#[test]
fn git_am_of_a_plaintext_secret_file_or_a_secret_message_is_refused() {
    let (env, repo) = setup();
    let before = head(&env, &repo);
    let p = env.path().join("leak.patch");
    write(
        &p,
        &patch_adding(
            ".secrets/staging.env",
            "PROD_PASS=am-plaintext-9999",
            "add staging",
        ),
    );
    let out = env.git(&repo, &["am", p.to_str().unwrap()]).fails();
    assert!(
        out.stderr
            .contains("this patch (git am) would put secrets in git")
            && out
                .stderr
                .contains(".secrets/staging.env: is a secret file (routed to the secrets filter) but is not in encrypted form"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("am-plaintext"), "{}", out.stderr);
    assert_eq!(head(&env, &repo), before, "nothing committed");
    env.git(&repo, &["am", "--abort"]).ok();

    write(
        &p,
        &patch_adding("notes.txt", "fine", &format!("set DB_PASS to {SECRET}")),
    );
    let out = env.git(&repo, &["am", p.to_str().unwrap()]).fails();
    assert!(
        out.stderr.contains(
            "commit message: line 1 contains the plaintext of the secret `DB_PASS` (development)"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(SECRET), "{}", out.stderr);
    assert_eq!(head(&env, &repo), before, "nothing committed");
    env.git(&repo, &["am", "--abort"]).ok();

    write(&p, &patch_adding("notes.txt", "fine", "add notes"));
    env.git(&repo, &["am", "-q", p.to_str().unwrap()]).ok();
    assert_ne!(head(&env, &repo), before);
}

// Guards (red team 6, 05): a message that mentions a stored value that is likely not a
// secret (a region, a host and port, under keys not named like secrets) is let through
// with a warning naming the key and scope, never the value; a password (by its key's
// name), a URL with a password and a token-like value are still refused; `check` of the
// commits and of an annotated tag saying the same only warns too (FORMAT.md §8.4).
#[test]
fn a_message_naming_configuration_is_warned_about_not_refused() {
    let (env, repo) = setup();
    for (k, v) in [
        ("AWS_REGION", "us-east-1"),
        ("DB_HOSTPORT", "localhost:5432"),
        ("DB_PASSWORD", "S3cr3t-pw-99"),
        ("DB_HOST", "db-01.prod.internal"),
        ("DATABASE_URL", "postgres://app:pw-in-url@db.internal/app"),
        ("STRIPE", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ] {
        env.secrets(&repo, &["set", k, v]).ok();
    }
    env.commit_all(&repo, "values");
    let before = head(&env, &repo);
    for (message, key) in [
        ("Move the db to db-01.prod.internal", "`DB_HOST`"),
        ("Deploy the app to us-east-1", "`AWS_REGION`"),
        ("Point at localhost:5432 and us-east-1", "`DB_HOSTPORT`"),
    ] {
        write(repo.join("a.txt"), key);
        env.git(&repo, &["add", "a.txt"]).ok();
        let out = env.git(&repo, &["commit", "-q", "-m", message]).ok();
        assert!(
            out.stderr
                .contains("warning: a message mentions a stored value")
                && out.stderr.contains(&format!(
                    "commit message: line 1 mentions the value of {key} (development)"
                ))
                && out.stderr.contains("let through"),
            "{message}: {}",
            out.stderr
        );
        for v in ["us-east-1", "localhost:5432", "db-01.prod"] {
            assert!(!out.stderr.contains(v), "{}", out.stderr);
        }
    }
    let after = head(&env, &repo);
    assert_ne!(after, before, "committed");
    for (message, key) in [
        ("the db password is S3cr3t-pw-99", "`DB_PASSWORD`"),
        ("in us-east-1 the password is S3cr3t-pw-99", "`DB_PASSWORD`"),
        (
            "url postgres://app:pw-in-url@db.internal/app",
            "`DATABASE_URL`",
        ),
        ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "`STRIPE`"),
    ] {
        write(repo.join("a.txt"), key);
        env.git(&repo, &["add", "a.txt"]).ok();
        let out = env.git(&repo, &["commit", "-q", "-m", message]).fails();
        assert!(
            out.stderr.contains(&format!(
                "commit message: line 1 contains the plaintext of the secret {key} (development)"
            )) && !out.stderr.contains("warning:"),
            "{message}: {}",
            out.stderr
        );
        for v in ["S3cr3t", "pw-in-url", "4eC39Hq", "us-east-1"] {
            assert!(!out.stderr.contains(v), "{}", out.stderr);
        }
    }
    assert_eq!(head(&env, &repo), after, "nothing committed");
    env.git(&repo, &["reset", "-q", "--hard"]).ok();
    env.git(&repo, &["tag", "-a", "-m", "release to us-east-1", "v1"])
        .ok();
    let out = env
        .secrets(&repo, &["check", &format!("{}..v1", before.trim()), "v1"])
        .ok();
    assert!(
        out.stderr
            .contains("tag message: line 1 mentions the value of `AWS_REGION` (development)")
            && out.stderr.contains("no plaintext secrets"),
        "{out:#?}"
    );
}

// Guards: the commit-msg hook refuses a message holding the plaintext of a secret this
// identity can read (the new value of a rotation too, and one the commit removes), with
// the matching rules of the staged files (a single short word is not searched for); the
// diff `git commit -v` adds below the scissors line is not the message.
#[test]
fn a_commit_message_holding_a_secret_is_refused() {
    let (env, repo) = setup();
    let before = head(&env, &repo);
    env.secrets(&repo, &["set", "DB_PASS", "Tr0ub4dor-Horse-77"])
        .ok();
    let out = env
        .git(
            &repo,
            &[
                "commit",
                "-q",
                "-am",
                "rotate DB_PASS to Tr0ub4dor-Horse-77",
            ],
        )
        .fails();
    assert!(
        out.stderr.contains("this commit message would put a secret in git")
            && out.stderr.contains(
                "commit message: line 1 contains the plaintext of the secret `DB_PASS` (development)"
            )
            && out.stderr.contains("name the key in the message, not its value"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("Tr0ub4dor"), "{}", out.stderr);
    // The old value, which the commit takes out of the work tree, is still a secret.
    let out = env
        .git(&repo, &["commit", "-q", "-am", &format!("was {SECRET}")])
        .fails();
    assert!(out.stderr.contains("`DB_PASS`"), "{}", out.stderr);
    assert_eq!(head(&env, &repo), before, "nothing committed");
    let msg = env.path().join("msg");
    write(
        &msg,
        &format!(
            "rotate DB_PASS\n# ------------------------ >8 ------------------------\n+{SECRET}\n"
        ),
    );
    env.git(
        &repo,
        &[
            "commit",
            "-q",
            "-a",
            "--cleanup=scissors",
            "-F",
            msg.to_str().unwrap(),
        ],
    )
    .ok();
    assert_ne!(head(&env, &repo), before);
}
