//! `git secrets check [REV-RANGE]`: the same checks over commits, for CI and pre-receive
//! hooks, with and without an identity, in a work tree and in a bare repository.

use crate::common::*;
use crate::hooks::{bobs_clone, head, openssh_key, setup, stage_raw, tampered, SECRET};

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

// Guards: with an identity, `check` also finds the plaintext of readable values and
// sealed files that do not open, in history.
#[test]
fn check_with_identity_finds_values_and_tampering() {
    let (env, repo) = setup();
    let base = head(&env, &repo).trim().to_owned();
    write(
        repo.join("notes.txt"),
        &format!("the password is {SECRET}\n"),
    );
    env.git(&repo, &["add", "notes.txt"]).ok();
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "leak"])
        .ok();
    let out = env
        .secrets(&repo, &["check", &format!("{base}..HEAD")])
        .fails();
    assert!(
        out.stdout.contains(
            "notes.txt: line 1 contains the plaintext of the secret `DB_PASS` (development)"
        ),
        "{out:#?}"
    );
    assert!(
        out.stderr.contains("also searched for 2 secret value(s)"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains(SECRET) && !out.stderr.contains(SECRET));
    // Without an identity the same range passes checks 1-3: a value is only known with a key.
    let (bob, clone) = bobs_clone(&env, &repo);
    bob.secrets(&clone, &["check", &format!("{base}..HEAD")])
        .ok();
    // A tampered sealed value committed past the hook: only a key can tell.
    let leak = head(&env, &repo).trim().to_owned();
    let f = ".secrets/development.env";
    stage_raw(&env, &repo, f, tampered(&env, &repo, f).as_bytes());
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "tamper"])
        .ok();
    let out = env
        .secrets(&repo, &["check", &format!("{leak}..HEAD")])
        .fails();
    assert!(
        out.stdout.contains(&format!("{f}: does not decrypt")),
        "{out:#?}"
    );
}

// Guards: a commit that moved a scope file out of the filter's paths (committed past the
// hook) is found by `check`, with the values of the parent's secret files it deletes,
// over a range and for HEAD alone.
#[test]
fn check_finds_a_secret_file_moved_out_of_secrets() {
    let (env, repo) = setup();
    let base = head(&env, &repo).trim().to_owned();
    env.git(&repo, &["mv", ".secrets/production.env", "api-prod.txt"])
        .ok();
    // What `commit -a` stages once it sees the file changed (see hooks.rs).
    env.git(&repo, &["add", "--", "api-prod.txt"]).ok();
    env.git(&repo, &["commit", "-q", "-a", "--no-verify", "-m", "mv"])
        .ok();
    assert_eq!(
        blob(&env, &repo, "HEAD:api-prod.txt"),
        "API_TOKEN=tok-prod-0042-xyz\n",
        "git committed the plaintext"
    );
    let want = format!(
        "api-prod.txt: line 1 contains the plaintext of the secret `API_TOKEN` (production, as .secrets/production.env held it in {})",
        &base[..12]
    );
    for args in [
        vec!["check".to_owned(), format!("{base}..HEAD")],
        vec!["check".to_owned()],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env.secrets(&repo, &args).fails();
        assert!(out.stdout.contains(&want), "{args:?}: {out:#?}");
        assert!(!out.stdout.contains("tok-prod") && !out.stderr.contains("tok-prod"));
    }
}
