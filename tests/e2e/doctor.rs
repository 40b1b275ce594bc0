//! `git secrets doctor [--fix]`: each problem named with its fix, `--fix` repairing what
//! needs no decision, and the repair checked by what git then does.

use std::path::Path;

use crate::common::*;

const DEV: &str = ".secrets/development.env";

fn repo_with_secret(env: &Env) -> std::path::PathBuf {
    let repo = env.repo("r", &["--envs"]);
    env.secrets(&repo, &["set", "DB", "dev-password-1"]).ok();
    env.commit_all(&repo, "secrets");
    repo
}

/// `doctor` fails naming every one of `needles`; `doctor --fix` then succeeds and a
/// second `doctor` finds nothing.
fn fixes(env: &Env, repo: &Path, needles: &[&str]) {
    let out = env.secrets(repo, &["doctor"]).fails();
    for n in needles {
        assert!(out.stdout.contains(n), "{n}: {}", out.stdout);
    }
    assert!(
        out.stdout.contains("fix: `git secrets doctor --fix`"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("problem(s) found"), "{}", out.stderr);
    let out = env.secrets(repo, &["doctor", "--fix"]).ok();
    assert!(out.stderr.contains("fixed:"), "{}", out.stderr);
    assert!(out.stdout.contains("no problems found"), "{}", out.stdout);
    env.secrets(repo, &["doctor"]).ok();
}

/// A changed value staged through git: must be sealed, never plaintext.
fn add_is_sealed(env: &Env, repo: &Path, value: &str) {
    write(repo.join(DEV), &format!("DB={value}\n"));
    env.git(repo, &["add", DEV]).ok();
    let staged = blob(env, repo, &format!(":{DEV}"));
    assert!(
        staged.starts_with("DB=gs1:") && !staged.contains(value),
        "{staged}"
    );
}

#[test]
fn a_healthy_clone_has_no_problems() {
    let env = Env::new();
    let repo = repo_with_secret(&env);
    let out = env.secrets(&repo, &["doctor"]).ok();
    assert!(out.stdout.contains("no problems found"), "{}", out.stdout);
    assert!(out.stdout.contains("ok: member"), "{}", out.stdout);
}

#[test]
fn a_moved_binary_is_found_and_the_clone_set_up_again() {
    let env = Env::new();
    let repo = repo_with_secret(&env);
    // The configuration still names where git-secrets was when it was set up.
    for key in ["filter.secrets.process", "diff.secrets.textconv"] {
        env.git(
            &repo,
            &[
                "config",
                key,
                "\"/nonexistent/bin/git-secrets\" filter-process",
            ],
        )
        .ok();
    }
    let hook = repo.join(".git/hooks/pre-commit");
    let exe = bin().to_string_lossy().into_owned();
    write(
        &hook,
        &read(&hook).replace(&exe, "/nonexistent/bin/git-secrets"),
    );
    let out = env.git(&repo, &["add", "--renormalize", DEV]);
    assert!(!out.success(), "a filter that cannot start stops git add");
    fixes(
        &env,
        &repo,
        &[
            "filter.secrets.process runs `/nonexistent/bin/git-secrets`, which does not exist",
            "diff.secrets.textconv runs",
            "the pre-commit hook runs `/nonexistent/bin/git-secrets`",
        ],
    );
    add_is_sealed(&env, &repo, "dev-password-2");
    assert!(read(&hook).contains(&exe) && !read(&hook).contains("/nonexistent"));
    env.git(&repo, &["commit", "-q", "-m", "through the hook"])
        .ok();
}

// Guards: a merge driver command an older version wrote (before `%S`, the base's label in
// diff3-style conflicts) is named by doctor, and `--fix` writes the current one.
#[test]
fn a_merge_driver_written_by_an_older_version_is_set_up_again() {
    let env = Env::new();
    let repo = repo_with_secret(&env);
    let config = |key: &str| env.git(&repo, &["config", key]).ok().stdout;
    let keys = ["merge.secrets.driver", "merge.secrets-config.driver"];
    let current: Vec<String> = keys.iter().map(|k| config(k)).collect();
    for (key, now) in keys.iter().zip(&current) {
        let old = now
            .trim_end()
            .strip_suffix(" %S")
            .expect("the command ends in %S");
        env.git(&repo, &["config", key, old]).ok();
    }
    fixes(
        &env,
        &repo,
        &[
            "merge.secrets.driver passes `env %O %A %B %L %P %X %Y`, not `env %O %A %B %L %P %X %Y %S`",
            "merge.secrets-config.driver passes `config %O %A %B %L %X %Y`, not",
        ],
    );
    for (key, now) in keys.iter().zip(&current) {
        assert_eq!(&config(key), now, "{key}");
    }
}

#[test]
fn lost_gitattributes_lines_and_hooks_are_restored() {
    let env = Env::new();
    let repo = repo_with_secret(&env);
    write(repo.join(".gitattributes"), "*.png binary\n");
    std::fs::remove_file(repo.join(".git/hooks/pre-commit")).unwrap();
    fixes(
        &env,
        &repo,
        &[
            ".gitattributes lacks `.secrets/**/*.env filter=secrets",
            "pre-commit",
        ],
    );
    let attributes = read(repo.join(".gitattributes"));
    assert!(
        attributes.starts_with("*.png binary\n"),
        "the user's lines stay: {attributes}"
    );
    add_is_sealed(&env, &repo, "dev-password-3");
    assert!(read(repo.join(".git/hooks/pre-commit")).contains("git-secrets"));
}

#[test]
fn files_left_encrypted_are_opened() {
    let env = Env::new();
    let repo = repo_with_secret(&env);
    let sealed = blob(&env, &repo, &format!("HEAD:{DEV}"));
    write(repo.join(DEV), &sealed);
    fixes(&env, &repo, &["still encrypted in the work tree", DEV]);
    assert_eq!(read(repo.join(DEV)), "DB=dev-password-1\n");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
}

#[test]
fn a_fork_is_rotated_and_a_claim_without_a_grant_is_left_to_a_person() {
    let env = Env::new();
    let repo = repo_with_secret(&env);
    env.git(&repo, &["branch", "other"]).ok();
    env.secrets(&repo, &["rotate", "--env", "development"]).ok();
    env.git(&repo, &["commit", "-q", "-m", "rotate on main"])
        .ok();
    env.git(&repo, &["checkout", "-q", "other"]).ok();
    env.secrets(&repo, &["rotate", "--env", "development"]).ok();
    env.git(&repo, &["commit", "-q", "-m", "rotate on other"])
        .ok();
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    env.git(&repo, &["merge", "-q", "--no-edit", "other"]).ok();
    fixes(&env, &repo, &["`development` has 2 current keys"]);
    env.git(&repo, &["commit", "-q", "-m", "repair"]).ok();
    env.secrets(&repo, &["set", "NEW", "value"]).ok();

    // A request that marked itself approved: reported, never fixed by a machine.
    let eve = env.person("eve");
    let e = clone(&eve, &repo, "eve");
    eve.secrets(&e, &["join", "--name", "eve"]).ok();
    let id = member_id(&eve, &e, "eve");
    let path = e.join(".secrets/access.json");
    let mut doc: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    doc["members"][&id]["status"] = "active".into();
    doc["members"][&id]["approved_at"] = "2026-01-01T00:00:00Z".into();
    doc["members"][&id]["environments"] = serde_json::json!(["production"]);
    write(&path, &serde_json::to_string_pretty(&doc).unwrap());
    eve.commit_all(&e, "eve");
    env.git(&repo, &["add", "-A"]).ok();
    env.git(&repo, &["commit", "-q", "-m", "new value"]).ok();
    pull(&env, &repo, &e);
    let out = env.secrets(&repo, &["doctor", "--fix"]).fails();
    assert!(
        out.stdout
            .contains(&format!("eve ({id}) is listed for `production`"))
            && out.stdout.contains("git secrets member approve"),
        "{}",
        out.stdout
    );
    let doc: serde_json::Value =
        serde_json::from_str(&read(repo.join(".secrets/access.json"))).unwrap();
    for record in doc["keys"]["production"].as_object().unwrap().values() {
        assert!(
            record["wrapped"].get(&id).is_none(),
            "nothing given to eve: {record}"
        );
        assert!(
            record["grants"].get(&id).is_none(),
            "nothing granted to eve: {record}"
        );
    }
}

#[test]
fn a_locked_clone_without_its_checks_gets_them_back() {
    let env = Env::new();
    let repo = repo_with_secret(&env);
    env.secrets(&repo, &["lock"]).ok();
    let out = env.secrets(&repo, &["doctor"]).ok();
    assert!(
        out.stdout.contains("this clone is locked"),
        "{}",
        out.stdout
    );
    std::fs::remove_file(repo.join(".git/hooks/pre-commit")).unwrap();
    std::fs::remove_file(repo.join(".git/hooks/pre-applypatch")).unwrap();
    fixes(
        &env,
        &repo,
        &[
            "the pre-commit, pre-applypatch hook(s) are not installed",
            "nothing stops a plaintext secret file",
        ],
    );
    assert!(read(repo.join(".git/hooks/pre-applypatch")).contains("hook pre-applypatch"));
    // Still locked: doctor does not decide to decrypt.
    assert!(read(repo.join(DEV)).starts_with("DB=gs1:"));
    write(repo.join(DEV), "DB=plaintext-now\n");
    env.git(&repo, &["add", DEV]).ok();
    let out = env.git(&repo, &["commit", "-q", "-m", "leak"]);
    assert!(!out.success(), "the check refuses the plaintext commit");
}

// Guards: a line of .git/info/attributes or of a nested .gitattributes that takes a
// tracked file out of the filter applies after any line of the top .gitattributes:
// `doctor --fix` cannot undo it, so it never says it did (nor changes .gitattributes
// for nothing); it names where the line is and the steps, and fails. A line in
// core.attributesFile applies before .gitattributes, so it overrides nothing.
#[test]
fn an_override_doctor_cannot_undo_is_never_said_fixed() {
    const CERT: &str = "certs/app.p12";
    let env = Env::new();
    let repo = repo_with_secret(&env);
    std::fs::create_dir_all(repo.join("certs")).unwrap();
    write(repo.join(CERT), "keystore-secret-marker\n");
    env.secrets(&repo, &["track", CERT]).ok();
    env.commit_all(&repo, "a certificate");
    let attributes = read(repo.join(".gitattributes"));
    let info = repo.join(".git/info/attributes");
    for (at, line) in [
        (info.clone(), "*.p12 filter=other\n"),
        (repo.join("certs/.gitattributes"), "*.p12 -filter\n"),
    ] {
        write(&at, line);
        let shown = if at == info {
            ".git/info/attributes"
        } else {
            "certs/.gitattributes"
        };
        for args in [&["doctor"][..], &["doctor", "--fix"]] {
            let out = env.secrets(&repo, args).fails();
            assert!(
                out.stdout.contains(&format!(
                    "tracked file(s) {CERT} are not routed to the secrets filter: a line in {shown} overrides theirs"
                )) && out.stdout.contains(&format!(
                    "fix: delete that line (`git check-attr -a -- {CERT}` shows what applies), then `git add --renormalize -- {CERT}`"
                )),
                "{args:?}: {out:#?}"
            );
            assert!(
                !out.stdout.contains("fix: `git secrets doctor --fix`"),
                "{out:#?}"
            );
            assert!(!out.stderr.contains("fixed"), "{args:?}: {}", out.stderr);
            assert_eq!(read(repo.join(".gitattributes")), attributes);
        }
        // The steps as said: routed again, and nothing left to fix.
        std::fs::remove_file(&at).unwrap();
        env.git(&repo, &["add", "--renormalize", "--", CERT]).ok();
        env.secrets(&repo, &["doctor"]).ok();
    }
    let global = env.path().join("attributes");
    write(&global, "*.p12 -filter\n*.env filter=other\n");
    let global = global.to_string_lossy().into_owned();
    env.git(&repo, &["config", "core.attributesFile", &global])
        .ok();
    let out = env.secrets(&repo, &["doctor"]).ok();
    assert!(out.stdout.contains("no problems found"), "{out:#?}");
}

// Guards: when a fix fails part-way, the fixes applied before it are said `fixed:` only
// once the repository is examined again and their problem is gone: restored
// .gitattributes lines are, hooks that could not be installed (a disabled hook of the
// user's is left as it is) are not; the failure itself is said, with what is left, and
// doctor exits 1.
#[test]
fn a_fix_that_fails_part_way_never_leaves_an_unchecked_fix_said_fixed() {
    let env = Env::new();
    let repo = repo_with_secret(&env);
    // A fork of the key (rotated on both sides of a merge): `--fix` rotates, last.
    env.git(&repo, &["branch", "other"]).ok();
    for branch in ["main", "other"] {
        env.git(&repo, &["checkout", "-q", branch]).ok();
        env.secrets(&repo, &["rotate", "--env", "development"]).ok();
        env.git(&repo, &["commit", "-q", "-m", "rotate"]).ok();
    }
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    env.git(&repo, &["merge", "-q", "--no-edit", "other"]).ok();
    write(repo.join(".gitattributes"), "*.png binary\n");
    let hook = repo.join(".git/hooks/pre-commit");
    write(&hook, "#!/bin/sh\necho the team's own check\n");
    chmod(&hook, 0o644);
    let out = env.secrets(&repo, &["doctor"]).fails();
    for problem in [
        ".gitattributes lacks",
        "pre-commit",
        "`development` has 2 current keys",
    ] {
        assert!(out.stdout.contains(problem), "{problem}: {}", out.stdout);
    }
    // The rotation cannot stage what it re-seals.
    write(repo.join(".git/index.lock"), "");
    let out = env.secrets(&repo, &["doctor", "--fix"]).fails();
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr
            .contains("fixed: added the lines back to .gitattributes"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("fixed: set this clone up again"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("not fixed: setting this clone up again: the problem is still there"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("index.lock"), "{}", out.stderr);
    assert!(!out.stderr.contains("fixed: rotated"), "{}", out.stderr);
    assert!(
        out.stdout.contains("pre-commit") && !out.stdout.contains(".gitattributes lacks"),
        "what is left is said: {}",
        out.stdout
    );
    assert!(read(repo.join(".gitattributes")).contains("filter=secrets"));
    assert!(read(&hook).contains("the team's own check"));
    // Nothing is lost: once git's lock is gone and the hook enabled, the next run
    // finishes the rotation that failed and leaves no problem.
    std::fs::remove_file(repo.join(".git/index.lock")).unwrap();
    chmod(&hook, 0o755);
    let out = env.secrets(&repo, &["doctor", "--fix"]).ok();
    assert!(out.stdout.contains("no problems found"), "{out:#?}");
    env.secrets(&repo, &["doctor"]).ok();
    let out = env.secrets(&repo, &["get", "DB", "--yes"]).ok();
    assert_eq!(out.stdout, "dev-password-1\n");
}
