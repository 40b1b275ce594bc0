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
    // What `commit -a` stages once it sees the file changed (see hooks.rs). `git mv`
    // keeps the sealed blob and the stat data, so git sees the change only by time:
    // the file is dated later than the index, as an edit would date it.
    dated_later(repo.join("api-prod.txt"));
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

/// A bare clone of `repo` beside it, as a server's pre-receive hook sees it.
fn bare_clone(env: &Env, repo: &std::path::Path, name: &str) -> std::path::PathBuf {
    env.git(
        env.path(),
        &["clone", "-q", "--bare", repo.to_str().unwrap(), name],
    )
    .ok();
    env.path().join(name)
}

// Guards: a ref may name a tree or a blob, which `git rev-list` passes over in silence:
// `check` judges a tree's files as a commit's (also through a tag, in a bare repository
// and through `--tags`), a blob named by a ref by its content (a plaintext `KEY=VALUE`
// line or a private key refused, other text passes), and says how many it looked at.
#[test]
fn check_judges_the_trees_and_blobs_a_ref_names() {
    let (env, repo) = setup();
    stage_raw(
        &env,
        &repo,
        ".secrets/production.env",
        b"LEAKED=tree-leak-9999\n",
    );
    let tree = env
        .git(&repo, &["write-tree"])
        .ok()
        .stdout
        .trim()
        .to_owned();
    env.git(&repo, &["reset", "-q"]).ok();
    env.git(&repo, &["tag", "snapshot", &tree]).ok();
    let out = env.secrets(&repo, &["check", &tree]).fails();
    assert!(
        out.stdout.contains(&format!(
            "{} .secrets/production.env: is a secret file (routed to the secrets filter) but is not in encrypted form",
            &tree[..12]
        )),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains("0 commit(s) and 1 tree(s) or blob(s) named by the range"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("tree-leak") && !out.stderr.contains("tree-leak"));
    let bare = bare_clone(&env, &repo, "tree.git");
    for args in [vec!["check", "snapshot"], vec!["check", "--tags"]] {
        let out = env.secrets(&bare, &args).fails();
        assert!(
            out.stdout
                .contains(".secrets/production.env: is a secret file"),
            "{args:?}: {out:#?}"
        );
    }
    // The tree of a commit that is fine passes.
    env.secrets(&repo, &["check", "HEAD^{tree}"]).ok();

    // Blobs: dotenv lines and private keys are refused, through a tag too.
    let hash = |text: &str| {
        let f = env.path().join("blob");
        write(&f, text);
        env.git(&repo, &["hash-object", "-w", f.to_str().unwrap()])
            .ok()
            .stdout
            .trim()
            .to_owned()
    };
    let dotenv = hash("# prod\nexport PROD_PASS=blob-leak-1234\n");
    env.git(&repo, &["tag", "-a", "-m", "settings", "settings", &dotenv])
        .ok();
    let out = env.secrets(&repo, &["check", "settings"]).fails();
    assert!(
        out.stdout.contains(&format!(
            "{} blob named by a ref: line 2 is a plaintext `KEY=VALUE` line",
            &dotenv[..12]
        )) && out.stdout.contains("git tag -d NAME"),
        "{out:#?}"
    );
    assert!(!out.stdout.contains("blob-leak"));
    let key = hash(&openssh_key());
    let out = env.secrets(&repo, &["check", &key]).fails();
    assert!(
        out.stdout
            .contains("blob named by a ref: line 1 holds a private key (OpenSSH)"),
        "{out:#?}"
    );
    let notes = hash("Release notes\n\nNothing secret here.\n");
    env.secrets(&repo, &["check", &notes]).ok();
}

// Guards: `check` reads the objects as they are, never through `refs/replace/*`: a
// replace ref that stands a clean commit in for a bad one hides nothing, in a clone and
// in a bare repository (a pre-receive hook).
#[test]
fn check_does_not_follow_replace_refs() {
    let (env, repo) = setup();
    let base = head(&env, &repo).trim().to_owned();
    write(repo.join("a.txt"), "fine\n");
    env.commit_all(&repo, "fine");
    let good = head(&env, &repo).trim().to_owned();
    env.git(&repo, &["reset", "-q", "--hard", &base]).ok();
    stage_raw(
        &env,
        &repo,
        ".secrets/production.env",
        b"LEAKED=replace-leak-9999\n",
    );
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "bad"])
        .ok();
    let bad = head(&env, &repo).trim().to_owned();
    env.git(&repo, &["replace", &bad, &good]).ok();
    let bare = bare_clone(&env, &repo, "replace.git");
    env.git(
        &repo,
        &[
            "push",
            "-q",
            "--no-verify",
            bare.to_str().unwrap(),
            &format!("refs/replace/{bad}:refs/replace/{bad}"),
        ],
    )
    .ok();
    for dir in [&repo, &bare] {
        let out = env
            .secrets(dir, &["check", &format!("{base}..{bad}")])
            .fails();
        assert!(
            out.stdout.contains(&format!(
                "{} .secrets/production.env: is a secret file",
                &bad[..12]
            )),
            "{}: {out:#?}",
            dir.display()
        );
    }
}

// Guards: in a bare repository (no work tree, so no scope files to read), `check` takes
// the values to search for from the scope files of the commits it checks and of the
// commit the range starts from, so a commit that copies a secret's plaintext into
// another file is refused there as in a clone, and so is a commit message or an
// annotated tag's message holding it.
#[test]
fn check_in_a_bare_repository_searches_the_committed_values() {
    let (env, repo) = setup();
    let base = head(&env, &repo).trim().to_owned();
    write(
        repo.join("config.yaml"),
        &format!("db_password: {SECRET}\n"),
    );
    env.git(&repo, &["add", "config.yaml"]).ok();
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "leak"])
        .ok();
    let leak = head(&env, &repo).trim().to_owned();
    env.git(&repo, &["rm", "-q", "config.yaml"]).ok();
    env.git(
        &repo,
        &[
            "commit",
            "-q",
            "--no-verify",
            "-m",
            &format!("was {SECRET}"),
        ],
    )
    .ok();
    let message = head(&env, &repo).trim().to_owned();
    env.git(
        &repo,
        &["tag", "-a", "-m", &format!("db {SECRET}"), "v1", "HEAD"],
    )
    .ok();
    let bare = bare_clone(&env, &repo, "values.git");
    let out = env
        .secrets(&bare, &["check", &format!("{base}..{leak}")])
        .fails();
    assert!(
        out.stdout.contains(&format!(
            "{} config.yaml: line 1 contains the plaintext of the secret `DB_PASS` (development)",
            &leak[..12]
        )),
        "{out:#?}"
    );
    assert!(
        !out.stderr.contains("searched for 0 secret value(s)"),
        "{}",
        out.stderr
    );
    let out = env
        .secrets(&bare, &["check", &format!("{leak}..v1"), "v1"])
        .fails();
    assert!(
        out.stdout.contains(&format!(
            "{} commit message: line 1 contains the plaintext of the secret `DB_PASS` (development)",
            &message[..12]
        )) && out.stdout.contains("tag message: line 1 contains the plaintext")
            && out.stdout.contains("git rebase -i"),
        "{out:#?}"
    );
    assert!(!out.stdout.contains(SECRET) && !out.stderr.contains(SECRET));
    // Without an identity, nothing can be searched for.
    let (bob, _) = bobs_clone(&env, &repo);
    bob.secrets(&bare, &["check", &format!("{leak}..v1")]).ok();
}
