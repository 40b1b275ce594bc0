//! The clean/smudge filter through real git commands.

use crate::common::*;

const PLAIN: &str = "# database\nDB_URL=postgres://u:hunter2-pass@db/app\nexport API_KEY='sk-live-abc123'\n\nMULTI=\"line one\nline two\"\r\n";

/// Bob, a second person with no identity, clones `repo` into `bob-clone`.
fn bob_clone(env: &Env, repo: &std::path::Path) -> (Env, std::path::PathBuf) {
    let bob = env.person("bob");
    bob.git(
        env.path(),
        &["clone", "-q", repo.to_str().unwrap(), "bob-clone"],
    )
    .ok();
    (bob, env.path().join("bob-clone"))
}

/// Configures the filter by hand in a clone whose owner cannot `unlock` (no access).
fn configure_filter(who: &Env, clone: &std::path::Path) {
    let process = format!("\"{}\" filter-process", bin().display());
    who.git(clone, &["config", "filter.secrets.process", &process])
        .ok();
    who.git(clone, &["config", "filter.secrets.required", "true"])
        .ok();
}

fn setup() -> (Env, std::path::PathBuf) {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs"]);
    write(repo.join(".secrets/development.env"), PLAIN);
    env.commit_all(&repo, "secrets");
    (env, repo)
}

#[test]
fn add_stores_ciphertext_and_work_tree_keeps_plaintext() {
    let (env, repo) = setup();
    let stored = blob(&env, &repo, "HEAD:.secrets/development.env");
    assert!(
        !stored.contains("hunter2") && !stored.contains("sk-live") && !stored.contains("line two"),
        "{stored}"
    );
    assert!(
        stored.contains("DB_URL=gs1:") && stored.contains("export API_KEY=gs1:"),
        "{stored}"
    );
    assert_eq!(stored.lines().count(), 5, "one line per entry:\n{stored}");
    assert_eq!(read(repo.join(".secrets/development.env")), PLAIN);
}

#[test]
fn status_is_clean_after_touch_and_checkout() {
    let (env, repo) = setup();
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
    // Make the index racy-dirty: git must clean the file again to compare.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let f = repo.join(".secrets/development.env");
    write(&f, &read(&f));
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
    std::fs::remove_file(&f).unwrap();
    env.git(&repo, &["checkout", "--", "."]).ok();
    assert_eq!(read(&f), PLAIN);
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
}

#[test]
fn clone_without_identity_stays_encrypted_and_never_fails() {
    let (env, repo) = setup();
    let bob = env.person("bob");
    let out = bob
        .git(
            env.path(),
            &["clone", "-q", repo.to_str().unwrap(), "bob-clone"],
        )
        .ok();
    let clone = env.path().join("bob-clone");
    let text = read(clone.join(".secrets/development.env"));
    assert!(
        text.contains("DB_URL=gs1:") && !text.contains("hunter2"),
        "{text}\n{out:?}"
    );
    // Even with the filter configured, a smudge without access succeeds.
    configure_filter(&bob, &clone);
    std::fs::remove_file(clone.join(".secrets/development.env")).unwrap();
    bob.git(&clone, &["checkout", "--", "."]).ok();
    assert!(read(clone.join(".secrets/development.env")).contains("DB_URL=gs1:"));
    bob.git(&clone, &["worktree", "add", "-q", "../bob-wt"])
        .ok();
    assert!(read(env.path().join("bob-wt/.secrets/development.env")).contains("DB_URL=gs1:"));
    assert_eq!(bob.git(&clone, &["status", "--porcelain"]).ok().stdout, "");
}

#[test]
fn add_of_plaintext_without_access_fails_and_stages_nothing() {
    let (env, repo) = setup();
    let (bob, clone) = bob_clone(&env, &repo);
    configure_filter(&bob, &clone);
    write(
        clone.join(".secrets/production.env"),
        "LEAK=plaintext-value-123\n",
    );
    write(clone.join("other.txt"), "hello\n");
    let out = bob.git(&clone, &["add", "-A"]).fails();
    assert!(
        out.stderr.contains(".secrets/production.env"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("git secrets join"), "{}", out.stderr);
    assert!(!out.stderr.contains("plaintext-value-123"));
    let staged = bob
        .git(&clone, &["diff", "--cached", "--name-only"])
        .ok()
        .stdout;
    assert_eq!(staged, "", "nothing staged");
}

#[test]
fn tampered_ciphertext_is_refused_on_checkout() {
    let (env, repo) = setup();
    let (bob, clone) = bob_clone(&env, &repo);
    // Bob (no access) swaps two sealed values and commits: the shape is still valid.
    let f = clone.join(".secrets/development.env");
    let text = read(&f);
    let db = text
        .lines()
        .find(|l| l.starts_with("DB_URL="))
        .unwrap()
        .trim_start_matches("DB_URL=")
        .to_owned();
    let api = text
        .lines()
        .find(|l| l.starts_with("export API_KEY="))
        .unwrap()
        .trim_start_matches("export API_KEY=")
        .to_owned();
    write(
        &f,
        &text
            .replace(&db, "X")
            .replace(&api, &db)
            .replace("DB_URL=X", &format!("DB_URL={api}")),
    );
    bob.commit_all(&clone, "tamper");
    env.git(
        &repo,
        &["pull", "-q", "--no-rebase", "../bob-clone", "main"],
    )
    .fails();
    let out = env
        .git(
            &repo,
            &[
                "checkout",
                "-f",
                "FETCH_HEAD",
                "--",
                ".secrets/development.env",
            ],
        )
        .fails();
    assert!(
        out.stderr.contains(".secrets/development.env"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("API_KEY") || out.stderr.contains("DB_URL"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("sealed for key"), "{}", out.stderr);
}

/// Every file of tests/corpus goes through `git add`, a commit, a fresh checkout and
/// comes back byte for byte, with a clean `git status`.
#[test]
fn corpus_round_trips_through_git() {
    let env = Env::new();
    let repo = env.repo("repo", &[]);
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&corpus).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        let rel = format!(".secrets/{name}/development.env");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::create_dir_all(repo.join(format!(".secrets/{name}"))).unwrap();
        std::fs::write(repo.join(&rel), &bytes).unwrap();
        files.push((rel, bytes));
    }
    env.commit_all(&repo, "corpus");
    for (rel, bytes) in &files {
        let stored = env
            .git(&repo, &["cat-file", "blob", &format!("HEAD:{rel}")])
            .ok()
            .stdout;
        for line in stored.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                line.contains("gs1:"),
                "{rel}: a line stored in plaintext: {line}"
            );
        }
        std::fs::remove_file(repo.join(rel)).unwrap();
        let _ = bytes;
    }
    env.git(&repo, &["checkout", "--", "."]).ok();
    for (rel, bytes) in &files {
        assert_eq!(&std::fs::read(repo.join(rel)).unwrap(), bytes, "{rel}");
    }
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
    // A fresh clone + unlock gives the same bytes too.
    env.git(
        env.path(),
        &["clone", "-q", repo.to_str().unwrap(), "clone"],
    )
    .ok();
    let clone = env.path().join("clone");
    env.secrets(&clone, &["unlock"]).ok();
    for (rel, bytes) in &files {
        assert_eq!(
            &std::fs::read(clone.join(rel)).unwrap(),
            bytes,
            "{rel} after clone + unlock"
        );
    }
    assert_eq!(env.git(&clone, &["status", "--porcelain"]).ok().stdout, "");
}

/// The bytes of `path` inside the tar archive `tar`.
fn from_tar(env: &Env, tar: &std::path::Path, path: &str) -> String {
    env.run("tar", env.path(), &["-xOf", tar.to_str().unwrap(), path])
        .ok()
        .stdout
}

// Guards: `git archive` (a release tarball) in an unlocked clone, `git archive --remote`
// served by it, and `git checkout-index --prefix` ship secret files in their encrypted
// form, while checkouts, worktrees and stash in the same clone still decrypt.
#[test]
fn git_archive_ships_the_encrypted_form() {
    let (env, repo) = setup();
    let f = ".secrets/development.env";
    let stored = blob(&env, &repo, &format!("HEAD:{f}"));
    assert_eq!(read(repo.join(f)), PLAIN, "unlocked");
    let tar = env.path().join("release.tar");
    env.git(&repo, &["archive", "-o", tar.to_str().unwrap(), "HEAD"])
        .ok();
    assert_eq!(from_tar(&env, &tar, f), stored);
    // Served to `git archive --remote` by `git upload-archive` in the unlocked clone.
    let remote = env.path().join("remote.tar");
    env.git(
        env.path(),
        &[
            "archive",
            "--remote",
            repo.to_str().unwrap(),
            "-o",
            remote.to_str().unwrap(),
            "HEAD",
        ],
    )
    .ok();
    assert_eq!(from_tar(&env, &remote, f), stored);
    // A tree exported under a directory (a build script's copy) is sealed too; the
    // temporary file `git mergetool` opens a side in is not an export.
    let build = env.path().join("build");
    env.git(
        &repo,
        &[
            "checkout-index",
            "-a",
            &format!("--prefix={}/", build.display()),
        ],
    )
    .ok();
    assert_eq!(read(build.join(f)), stored);
    let temp = env.git(&repo, &["checkout-index", "--temp", "--", f]).ok();
    let name = temp.stdout.split('\t').next().unwrap().to_owned();
    assert_eq!(read(repo.join(&name)), PLAIN);
    std::fs::remove_file(repo.join(name)).unwrap();
    // Everything that writes the work tree still decrypts.
    std::fs::remove_file(repo.join(f)).unwrap();
    env.git(&repo, &["checkout", "--", f]).ok();
    assert_eq!(read(repo.join(f)), PLAIN);
    env.git(&repo, &["worktree", "add", "-q", "../wt"]).ok();
    assert_eq!(read(env.path().join("wt").join(f)), PLAIN);
    write(repo.join(f), "CHANGED=value-1234\n");
    env.git(&repo, &["stash", "-q"]).ok();
    assert_eq!(read(repo.join(f)), PLAIN);
    env.git(&repo, &["stash", "pop", "-q"]).ok();
    assert_eq!(read(repo.join(f)), "CHANGED=value-1234\n");
}

// Guards: git runs the configured commands (filter, merge, textconv, fsmonitor) through
// `sh -c`, so an install path holding `$`, a backtick, `"` or a space is quoted for sh:
// the filter still runs, and nothing in the path is expanded or run.
#[test]
fn the_filter_runs_from_an_install_path_with_shell_characters() {
    let env = Env::new();
    let dir = env.path().join("bin $HOME `touch PWNED` \"q\" it's");
    std::fs::create_dir_all(&dir).unwrap();
    let built = bin().parent().unwrap().to_owned();
    for name in ["git-secrets", "git-secrets-merge"] {
        let to = dir.join(name);
        std::fs::copy(built.join(name), &to).unwrap();
        chmod(&to, 0o755);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![dir.clone()];
    paths.extend(std::env::split_paths(&path));
    let mut env = env;
    env.vars.push((
        "PATH".into(),
        std::env::join_paths(paths)
            .unwrap()
            .to_string_lossy()
            .into_owned(),
    ));
    let repo = env.repo("repo", &["--envs"]);
    write(repo.join(".secrets/development.env"), PLAIN);
    env.commit_all(&repo, "secrets");
    let stored = blob(&env, &repo, "HEAD:.secrets/development.env");
    assert!(
        stored.contains("DB_URL=gs1:") && !stored.contains("hunter2"),
        "{stored}"
    );
    let file = repo.join(".secrets/development.env");
    std::fs::remove_file(&file).unwrap();
    env.git(&repo, &["checkout", "--", ".secrets/development.env"])
        .ok();
    assert_eq!(read(&file), PLAIN);
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
    let out = env.git(&repo, &["log", "-p", "-1"]).ok();
    assert!(out.stdout.contains("DB_URL = ********"), "{}", out.stdout);
    assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);
    let doctor = env.secrets(&repo, &["doctor"]);
    assert!(!doctor.stdout.contains("does not exist"), "{doctor:#?}");
    assert!(!doctor.stderr.contains("does not exist"), "{doctor:#?}");
    let configured = env
        .git(&repo, &["config", "filter.secrets.process"])
        .ok()
        .stdout;
    assert!(
        configured.contains("bin \\$HOME \\`touch PWNED\\`"),
        "{configured}"
    );
    for place in [&repo, &env.path().to_path_buf(), &dir] {
        assert!(
            !place.join("PWNED").exists(),
            "a command in the install path ran"
        );
    }
}

/// git writes a checkout's files in path order, and the scope files of a service named
/// before `access.json` (`a`, `ab`, `Billing`, `2fa`…) come before it: across a rotation,
/// they arrive sealed with a key the access.json still on disk lacks. The filter has git
/// hand them over again once every other file, access.json included, is written.
#[test]
fn a_checkout_across_a_rotation_opens_files_named_before_access_json() {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs"]);
    for service in ["a", "ab", "zeta"] {
        env.secrets(&repo, &["set", "-s", service, "production", "K", "old"])
            .ok();
    }
    env.commit_all(&repo, "secrets");
    env.git(&repo, &["branch", "before"]).ok();
    env.secrets(&repo, &["rotate", "--env", "production"]).ok();
    for service in ["a", "ab", "zeta"] {
        env.secrets(&repo, &["set", "-s", service, "production", "K", "new"])
            .ok();
    }
    env.commit_all(&repo, "rotated");
    env.git(&repo, &["checkout", "-q", "before"]).ok();
    let out = env.git(&repo, &["checkout", "-q", "main"]).ok();
    assert!(!out.stderr.contains("left encrypted"), "{out:?}");
    for service in ["a", "ab", "zeta"] {
        let file = format!(".secrets/{service}/production.env");
        assert_eq!(read(repo.join(&file)), "K=new\n", "{file}");
    }
    // Into a rebase: the new commit on top of the rotation is checked out the same way.
    env.git(&repo, &["checkout", "-q", "-b", "topic", "before"])
        .ok();
    write(repo.join("README"), "work\n");
    env.git(&repo, &["add", "README"]).ok();
    env.git(&repo, &["commit", "-q", "-m", "work"]).ok();
    let out = env.git(&repo, &["rebase", "-q", "main"]).ok();
    assert!(!out.stderr.contains("left encrypted"), "{out:?}");
    for service in ["a", "ab", "zeta"] {
        let file = format!(".secrets/{service}/production.env");
        assert_eq!(read(repo.join(&file)), "K=new\n", "{file}");
    }
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
}

/// The other way round: across a checkout to a commit from before this member's
/// approval, the files named before `access.json` were opened with the access.json still
/// on disk, which grants the key. They were left in plaintext where this identity has no
/// access, so `git status`, `git checkout -- FILE` (the hint) and every later checkout
/// failed to clean them (`git bisect` back across an approval or a removal).
#[test]
fn a_checkout_to_before_an_approval_leaves_files_named_before_access_json_sealed() {
    let env = Env::new();
    let alice = alice_repo(&env);
    for service in ["ab", "zeta"] {
        env.secrets(&alice, &["set", "-s", service, "production", "K", "old"])
            .ok();
    }
    env.commit_all(&alice, "services");
    let (bob, b, id) = bob_joins(&env, &alice);
    let before = bob.git(&b, &["rev-parse", "HEAD~1"]).ok().stdout;
    approve_and_unlock(&env, &alice, &bob, &b, &id, "production");
    for service in ["ab", "zeta"] {
        env.secrets(&alice, &["set", "-s", service, "production", "K", "new"])
            .ok();
    }
    env.commit_all(&alice, "changed");
    pull(&bob, &b, &alice);
    assert_eq!(read(b.join(".secrets/ab/production.env")), "K=new\n");
    bob.git(&b, &["checkout", "-q", before.trim()]).ok();
    for service in ["ab", "zeta"] {
        let file = format!(".secrets/{service}/production.env");
        assert_eq!(read(b.join(&file)), blob(&bob, &b, &format!("HEAD:{file}")));
    }
    assert_eq!(bob.git(&b, &["status", "--porcelain"]).ok().stdout, "");
    bob.git(&b, &["checkout", "-q", "main"]).ok();
    assert_eq!(read(b.join(".secrets/ab/production.env")), "K=new\n");
    assert_eq!(bob.git(&b, &["status", "--porcelain"]).ok().stdout, "");
}
