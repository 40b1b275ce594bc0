//! A clone's state (`unlock`, `lock`, `status`) and the device identity: where it lives,
//! its permissions, and the GIT_SECRETS_IDENTITY(_FILE) overrides.

use std::path::{Path, PathBuf};

use crate::common::*;

const DEV: &str = "# dev\nDB_URL=postgres://u:dev-pass-1@db/app\nAPI_KEY='sk-dev-abc'\n";
const PROD: &str = "PROD_TOKEN=prod-token-xyz\n";

/// Alice's repository with development and production values committed.
fn setup() -> (Env, PathBuf) {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs"]);
    write(repo.join(".secrets/development.env"), DEV);
    write(repo.join(".secrets/production.env"), PROD);
    env.commit_all(&repo, "secrets");
    (env, repo)
}

fn identity_path(env: &Env) -> PathBuf {
    env.home.join(".config/git-secrets/identity.txt")
}

/// The `age1…` public key written in an identity file's comment.
fn public_key(identity_file: &Path) -> String {
    read(identity_file)
        .lines()
        .flat_map(str::split_whitespace)
        .find(|w| w.starts_with("age1"))
        .expect("public key in the identity file")
        .to_owned()
}

fn filter_configured(env: &Env, clone: &Path) -> bool {
    env.git(
        clone,
        &["config", "--local", "--get", "filter.secrets.process"],
    )
    .success()
}

/// `lock` succeeds, and no file of the work tree (.git aside) then holds a match of the
/// extended regex `values`.
fn lock_leaves_no_plaintext(env: &Env, repo: &Path, values: &str) {
    env.secrets(repo, &["lock"]).ok();
    let left = env
        .run("grep", repo, &["-rlE", "--exclude-dir=.git", values, "."])
        .stdout;
    assert_eq!(left, "", "plaintext left in the work tree after lock");
}

fn assert_encrypted(text: &str) {
    assert!(text.contains("gs1:"), "{text}");
    for v in ["dev-pass-1", "sk-dev-abc", "prod-token-xyz", "# dev"] {
        assert!(!text.contains(v), "plaintext {v:?} in\n{text}");
    }
}

// Guards: a fresh clone holds the encrypted form and has no filter configured.
#[test]
fn fresh_clone_is_encrypted() {
    let (env, repo) = setup();
    let c = clone(&env, &repo, "clone");
    assert_encrypted(&read(c.join(".secrets/development.env")));
    assert_encrypted(&read(c.join(".secrets/production.env")));
    assert!(!filter_configured(&env, &c));
    assert_eq!(env.git(&c, &["status", "--porcelain"]).ok().stdout, "");
}

// Guards: unlock (same identity) decrypts the work tree exactly and leaves `git status` clean.
#[test]
fn unlock_decrypts_and_status_stays_clean() {
    let (env, repo) = setup();
    let c = clone(&env, &repo, "clone");
    env.secrets(&c, &["unlock"]).ok();
    assert!(filter_configured(&env, &c));
    assert_eq!(read(c.join(".secrets/development.env")), DEV);
    assert_eq!(read(c.join(".secrets/production.env")), PROD);
    assert_eq!(env.git(&c, &["status", "--porcelain"]).ok().stdout, "");
    // And git now cleans and smudges through the filter.
    std::fs::remove_file(c.join(".secrets/development.env")).unwrap();
    env.git(&c, &["checkout", "--", "."]).ok();
    assert_eq!(read(c.join(".secrets/development.env")), DEV);
}

// Guards: lock puts the encrypted form back, removes the filter config, and `git status` stays clean.
#[test]
fn lock_encrypts_removes_config_and_status_stays_clean() {
    let (env, repo) = setup();
    env.secrets(&repo, &["lock"]).ok();
    assert!(!filter_configured(&env, &repo));
    let config = env.git(&repo, &["config", "--local", "--list"]).ok().stdout;
    assert!(!config.contains("filter.secrets"), "{config}");
    let text = read(repo.join(".secrets/development.env"));
    assert_encrypted(&text);
    assert_eq!(text, blob(&env, &repo, "HEAD:.secrets/development.env"));
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
}

// Guards: unlock after lock in the same clone gives the plaintext back, status clean.
#[test]
fn lock_then_unlock_round_trips() {
    let (env, repo) = setup();
    env.secrets(&repo, &["lock"]).ok();
    env.secrets(&repo, &["unlock"]).ok();
    assert_eq!(read(repo.join(".secrets/development.env")), DEV);
    assert_eq!(read(repo.join(".secrets/production.env")), PROD);
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
}

// Guards: an uncommitted edit survives lock (sealed, not lost) and comes back with unlock.
#[test]
fn uncommitted_edit_survives_lock_and_unlock() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "NEW_KEY", "uncommitted-value"])
        .ok();
    env.secrets(&repo, &["lock"]).ok();
    let text = read(repo.join(".secrets/development.env"));
    assert!(text.contains("NEW_KEY=gs1:"), "{text}");
    assert!(!text.contains("uncommitted-value"), "{text}");
    env.secrets(&repo, &["unlock"]).ok();
    let text = read(repo.join(".secrets/development.env"));
    assert!(text.contains("NEW_KEY=uncommitted-value"), "{text}");
    assert!(text.starts_with(DEV), "{text}");
    assert_eq!(
        env.secrets(&repo, &["get", "NEW_KEY", "--yes"]).ok().stdout,
        "uncommitted-value\n"
    );
    let status = env.git(&repo, &["status", "--porcelain"]).ok().stdout;
    assert_eq!(status, " M .secrets/development.env\n", "still an edit");
}

// Guards: lock also seals a new scope file that was never committed, and unlock opens it again.
#[test]
fn lock_seals_an_untracked_scope_file() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "-s", "api", "NEW", "untracked-value"])
        .ok();
    let f = repo.join(".secrets/api/development.env");
    env.secrets(&repo, &["lock"]).ok();
    let text = read(&f);
    assert!(
        text.contains("NEW=gs1:") && !text.contains("untracked-value"),
        "{text}"
    );
    env.secrets(&repo, &["unlock"]).ok();
    assert_eq!(read(&f), "NEW=untracked-value\n");
}

// Guards: status says locked/unlocked, which identity is used and which environments it reads.
#[test]
fn status_reports_state_identity_and_environments() {
    let (env, repo) = setup();
    let c = clone(&env, &repo, "clone");
    let key = public_key(&identity_path(&env));
    let out = env.secrets(&c, &["status"]).ok();
    assert!(out.stdout.contains("locked"), "{}", out.stdout);
    assert!(!out.stdout.contains("unlocked"), "{}", out.stdout);
    assert!(out.stdout.contains(&key), "{}", out.stdout);
    for e in ["development", "test", "production"] {
        assert!(out.stdout.contains(e), "{e}: {}", out.stdout);
    }
    assert!(out.stdout.contains("can read"), "{}", out.stdout);
    env.secrets(&c, &["unlock"]).ok();
    let out = env.secrets(&c, &["status"]).ok();
    assert!(out.stdout.contains("unlocked"), "{}", out.stdout);
    // Someone without an identity: no access anywhere, and told how to get one.
    let bob = env.person("bob");
    let out = bob.secrets(&c, &["status"]).ok();
    assert!(!out.stdout.contains(&key), "{}", out.stdout);
    assert!(!out.stdout.contains("can read"), "{}", out.stdout);
    assert!(out.stdout.contains("git secrets join"), "{}", out.stdout);
}

// Guards: the identity is created 0600 under XDG_CONFIG_HOME.
#[test]
fn identity_is_created_private_under_xdg_config_home() {
    let mut env = Env::new();
    let xdg = env.path().join("xdg");
    env.vars
        .push(("XDG_CONFIG_HOME".into(), xdg.display().to_string()));
    let repo = env.repo("repo", &[]);
    let id = xdg.join("git-secrets/identity.txt");
    assert_eq!(mode(&id), 0o600);
    assert!(read(&id).contains("AGE-SECRET-KEY-1"));
    assert!(!identity_path(&env).exists(), "not under HOME/.config");
    env.secrets(&repo, &["set", "K", "v"]).ok();
    assert_eq!(
        env.secrets(&repo, &["get", "K", "--yes"]).ok().stdout,
        "v\n"
    );
}

// Guards: without XDG_CONFIG_HOME the identity lives under HOME/.config, 0600.
#[test]
fn identity_is_created_under_home_config_without_xdg() {
    let mut env = Env::new();
    env.unset.push("XDG_CONFIG_HOME".into());
    let repo = env.repo("repo", &[]);
    let id = identity_path(&env);
    assert_eq!(mode(&id), 0o600);
    env.secrets(&repo, &["set", "K", "v"]).ok();
    let out = env.secrets(&repo, &["status"]).ok();
    assert!(out.stdout.contains(&public_key(&id)), "{}", out.stdout);
}

// Guards: an identity file readable by others is refused with a `chmod 600` fix, and nothing is revealed.
#[test]
fn group_readable_identity_is_refused() {
    let (env, repo) = setup();
    // In a locked clone every one of these needs the identity.
    let c = clone(&env, &repo, "clone");
    let id = identity_path(&env);
    chmod(&id, 0o644);
    for args in [
        &["get", "API_KEY", "--yes"][..],
        &["set", "K", "v"][..],
        &["unlock"][..],
    ] {
        let out = env.secrets(&c, args).fails();
        assert!(out.stderr.contains("chmod 600"), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(&id.display().to_string()),
            "{}",
            out.stderr
        );
        assert!(!out.stdout.contains("sk-dev-abc"), "{}", out.stdout);
    }
    assert_eq!(mode(&id), 0o644, "left for the user to fix");
    assert!(!filter_configured(&env, &c));
    assert_encrypted(&read(c.join(".secrets/development.env")));
    chmod(&id, 0o600);
    env.secrets(&c, &["get", "API_KEY", "--yes"]).ok();
}

// Guards: GIT_SECRETS_IDENTITY (the text) lets another person run in a fresh clone; it is not written anywhere.
#[test]
fn identity_env_var_overrides_the_default() {
    let (env, repo) = setup();
    let mut bob = env.person("bob");
    let c = clone(&bob, &repo, "bob-clone");
    bob.vars
        .push(("GIT_SECRETS_IDENTITY".into(), read(identity_path(&env))));
    let out = bob
        .secrets(&c, &["run", "--", "sh", "-c", "printf %s \"$API_KEY\""])
        .ok();
    assert_eq!(out.stdout, "sk-dev-abc");
    let out = bob
        .secrets(
            &c,
            &[
                "run",
                "production",
                "--",
                "sh",
                "-c",
                "printf %s \"$PROD_TOKEN\"",
            ],
        )
        .ok();
    assert_eq!(out.stdout, "prod-token-xyz");
    let out = bob.secrets(&c, &["status"]).ok();
    assert!(
        out.stdout.contains("GIT_SECRETS_IDENTITY"),
        "{}",
        out.stdout
    );
    assert!(!identity_path(&bob).exists(), "no identity file created");
}

// Guards: GIT_SECRETS_IDENTITY_FILE (a path) overrides the default; a missing path is a clear error.
#[test]
fn identity_file_env_var_overrides_the_default() {
    let (env, repo) = setup();
    let mut bob = env.person("bob");
    let c = clone(&bob, &repo, "bob-clone");
    let copy = bob.home.join("alice.key");
    std::fs::copy(identity_path(&env), &copy).unwrap();
    chmod(&copy, 0o600);
    bob.vars.push((
        "GIT_SECRETS_IDENTITY_FILE".into(),
        copy.display().to_string(),
    ));
    assert_eq!(
        bob.secrets(&c, &["get", "API_KEY", "--yes"]).ok().stdout,
        "sk-dev-abc\n"
    );
    bob.secrets(&c, &["unlock"]).ok();
    assert_eq!(read(c.join(".secrets/development.env")), DEV);
    bob.vars.clear();
    let missing = bob.home.join("nope.key");
    bob.vars.push((
        "GIT_SECRETS_IDENTITY_FILE".into(),
        missing.display().to_string(),
    ));
    let c2 = clone(&bob, &repo, "bob-clone-2");
    let out = bob.secrets(&c2, &["get", "API_KEY", "--yes"]).fails();
    out.error_names(&[&missing.display().to_string()]);
    // A directory (a CI variable pointing at the folder the key was written in) is said
    // to be one, not taken for a file to `chmod 600`.
    bob.vars.clear();
    bob.vars.push((
        "GIT_SECRETS_IDENTITY_FILE".into(),
        bob.home.display().to_string(),
    ));
    let out = bob.secrets(&c2, &["run", "--", "true"]).fails();
    out.error_names(&[&bob.home.display().to_string(), "a directory"]);
    assert!(!out.stderr.contains("chmod"), "{}", out.stderr);
}

// Guards: GIT_SECRETS_IDENTITY takes precedence over a default identity file.
#[test]
fn identity_env_var_wins_over_the_identity_file() {
    let (env, repo) = setup();
    let mut bob = env.person("bob");
    let c = clone(&bob, &repo, "bob-clone");
    // Bob has an identity of his own (not a member) ...
    bob.secrets(&c, &["get", "API_KEY", "--yes"]).fails();
    let bob_dir = bob.home.join(".config/git-secrets");
    std::fs::create_dir_all(&bob_dir).unwrap();
    let own = env.person("carol");
    own.repo("carol-repo", &[]);
    std::fs::copy(identity_path(&own), bob_dir.join("identity.txt")).unwrap();
    bob.secrets(&c, &["get", "API_KEY", "--yes"]).fails();
    // ... and Alice's in the environment, which wins.
    bob.vars
        .push(("GIT_SECRETS_IDENTITY".into(), read(identity_path(&env))));
    assert_eq!(
        bob.secrets(&c, &["get", "API_KEY", "--yes"]).ok().stdout,
        "sk-dev-abc\n"
    );
}

// Guards: a malformed GIT_SECRETS_IDENTITY is a clear error that never echoes the text.
#[test]
fn malformed_identity_env_var_is_a_clear_error() {
    let (env, repo) = setup();
    let mut bob = env.person("bob");
    let c = clone(&bob, &repo, "bob-clone");
    bob.vars.push((
        "GIT_SECRETS_IDENTITY".into(),
        "AGE-SECRET-KEY-1NOTAREALKEYBUTSECRETISH".into(),
    ));
    let out = bob.secrets(&c, &["get", "API_KEY", "--yes"]).fails();
    out.error_names(&["GIT_SECRETS_IDENTITY"]);
    assert!(!out.stderr.contains("NOTAREALKEY"), "{}", out.stderr);
}

// Guards: unlock without any identity fails clearly (pointing to `git secrets join`) and changes nothing.
#[test]
fn unlock_without_identity_points_to_join() {
    let (env, repo) = setup();
    let bob = env.person("bob");
    let c = clone(&bob, &repo, "bob-clone");
    let before = read(c.join(".secrets/development.env"));
    let out = bob.secrets(&c, &["unlock"]).fails();
    assert!(out.stderr.contains("git secrets join"), "{}", out.stderr);
    assert!(out.stderr.contains("identity"), "{}", out.stderr);
    assert!(!filter_configured(&bob, &c));
    assert_eq!(read(c.join(".secrets/development.env")), before);
    assert!(!identity_path(&bob).exists(), "unlock does not invent one");
}

// Guards: a non-member identity gets a clear refusal from unlock, with its public key to share.
#[test]
fn unlock_as_a_non_member_is_refused() {
    let (env, repo) = setup();
    let bob = env.person("bob");
    bob.repo("bob-own", &[]); // creates Bob's identity
    let c = clone(&bob, &repo, "bob-clone");
    let out = bob.secrets(&c, &["unlock"]).fails();
    assert!(out.stderr.contains("git secrets join"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&public_key(&identity_path(&bob))),
        "{}",
        out.stderr
    );
    assert!(!filter_configured(&bob, &c));
    assert_encrypted(&read(c.join(".secrets/development.env")));
}

// Guards: an unlocked clone with no other worktree whose files this identity can read are
// all in sealed form (written back by hand here; in life, access granted by a pull) is
// unlocked, with files to decrypt, not "locked in this worktree".
#[test]
fn status_of_an_unlocked_clone_with_every_file_sealed_says_unlocked() {
    let (env, repo) = setup();
    for f in [".secrets/development.env", ".secrets/production.env"] {
        write(repo.join(f), &blob(&env, &repo, &format!("HEAD:{f}")));
    }
    let status = env.secrets(&repo, &["status"]).ok().stdout;
    assert!(
        status.contains("clone:        unlocked (filter configured)")
            && status.contains("still encrypted in the work tree (run `git secrets unlock`)"),
        "{status}"
    );
}

// Guards: the filter's configuration is shared by every worktree of a repository. `lock`
// in one worktree re-seals its own files and keeps the filter while another worktree
// still holds decrypted files, naming it: without the filter, git there would take them
// for edits and a routine `git stash` would store the plaintext. The last lock removes it.
#[test]
fn lock_keeps_the_filter_while_another_worktree_holds_plaintext() {
    let (env, repo) = setup();
    let wt = env.path().join("wt two");
    env.git(
        &repo,
        &[
            "worktree",
            "add",
            "-q",
            wt.to_str().unwrap(),
            "-b",
            "hotfix",
        ],
    )
    .ok();
    assert_eq!(read(wt.join(".secrets/production.env")), PROD);
    let out = env.secrets(&repo, &["lock"]).ok();
    assert!(
        out.stderr.contains("wt two") && out.stderr.contains("git secrets lock"),
        "{out:#?}"
    );
    assert_encrypted(&read(repo.join(".secrets/development.env")));
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
    assert!(
        filter_configured(&env, &repo),
        "the filter stays for `wt two`"
    );
    // Each worktree's status says its own state.
    let status = env.secrets(&repo, &["status"]).ok().stdout;
    assert!(
        status.contains("clone:        locked in this worktree")
            && !status.contains("still encrypted"),
        "{status}"
    );
    let status = env.secrets(&wt, &["status"]).ok().stdout;
    assert!(
        status.contains("clone:        unlocked (filter configured)"),
        "{status}"
    );
    // The other worktree still works through the filter: clean, and a stash stores
    // nothing in plaintext.
    assert_eq!(read(wt.join(".secrets/production.env")), PROD);
    assert_eq!(env.git(&wt, &["status", "--porcelain"]).ok().stdout, "");
    write(
        wt.join(".secrets/production.env"),
        "PROD_TOKEN=prod-token-new\n",
    );
    env.git(&wt, &["stash", "-q"]).ok();
    let objects = env
        .git(&wt, &["cat-file", "--batch-all-objects", "--batch"])
        .ok()
        .stdout;
    assert!(
        !objects.contains("prod-token") && !objects.contains("dev-pass-1"),
        "plaintext stored by git"
    );
    env.git(&wt, &["stash", "pop", "-q"]).ok();
    // Locking the last worktree removes the filter; both stay clean, both sealed.
    let out = env.secrets(&wt, &["lock"]).ok();
    assert!(out.stderr.contains("filter is removed"), "{out:#?}");
    assert!(!filter_configured(&env, &repo));
    assert_encrypted(&read(wt.join(".secrets/development.env")));
    assert!(read(wt.join(".secrets/production.env")).contains("PROD_TOKEN=gs1:"));
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
    assert_eq!(
        env.git(&wt, &["status", "--porcelain"]).ok().stdout,
        " M .secrets/production.env\n",
        "the uncommitted edit is kept, sealed"
    );
}

// Guards: a merge in a locked clone (no merge driver) that conflicts on a secret file
// leaves git's markers around sealed values; `unlock` still sets the clone up, opens
// every other file, and opens each side of the conflict between the markers, so it is
// resolved between readable values; the resolution is committed sealed.
#[test]
fn unlock_opens_a_conflict_a_merge_left_in_a_locked_clone() {
    let (env, repo) = setup();
    let dev = ".secrets/development.env";
    db_url_changed_on_two_branches(&env, &repo);
    env.secrets(&repo, &["lock"]).ok();
    env.git(&repo, &["merge", "-q", "side"]).fails();
    let conflicted = read(repo.join(dev));
    assert!(conflicted.contains("<<<<<<<") && conflicted.contains("gs1:"));
    let out = env.secrets(&repo, &["unlock"]).ok();
    assert!(filter_configured(&env, &repo), "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "merge conflict, opened between the markers: {dev}"
        )) && out.stderr.contains("git checkout -m"),
        "{out:#?}"
    );
    let opened = read(repo.join(dev));
    assert!(
        opened.contains("<<<<<<<")
            && opened.contains(">>>>>>>")
            && opened.contains("DB_URL=main-value-2222")
            && opened.contains("DB_URL=side-value-1111")
            && opened.contains("API_KEY='sk-dev-abc'")
            && !opened.contains("gs1:"),
        "{opened}"
    );
    assert_eq!(mode(repo.join(dev)), 0o600);
    assert_eq!(read(repo.join(".secrets/production.env")), PROD);
    // Resolved in plaintext, committed sealed.
    write(
        repo.join(dev),
        "# dev\nDB_URL=side-value-1111\nAPI_KEY='sk-dev-abc'\n",
    );
    env.git(&repo, &["add", dev]).ok();
    env.git(&repo, &["commit", "-q", "--no-edit"]).ok();
    let stored = blob(&env, &repo, &format!("HEAD:{dev}"));
    assert!(
        stored.contains("DB_URL=gs1:") && !stored.contains("side-value"),
        "{stored}"
    );
    let got = env.secrets(&repo, &["get", "DB_URL", "--yes"]).ok().stdout;
    assert_eq!(got, "side-value-1111\n");
}

// Guards: a worktree locked while another keeps the filter stays locked: a merge (a
// pull) and a checkout there leave its secret files sealed, and the work tree and git
// stay clean; `unlock` there opens them again.
#[test]
fn a_worktree_locked_beside_an_unlocked_one_stays_sealed_through_a_merge() {
    let (env, repo) = setup();
    let wt = worktree_wt(&env, &repo);
    // What the fsmonitor hook learned of this worktree's plaintext (digests of whole
    // files) goes with it.
    let facts = repo.join(".git/worktrees/wt/git-secrets/fsmonitor-facts");
    let plain_digest = git_secrets::fsmonitor::digest(".secrets/development.env", DEV.as_bytes());
    let learned = |f: &Path| std::fs::read(f).unwrap_or_default();
    let holds = |bytes: &[u8]| bytes.windows(32).any(|w| w == plain_digest);
    env.git(&wt, &["status", "--porcelain"]).ok();
    assert!(
        holds(&learned(&facts)),
        "the filter learned the checked-out files"
    );
    let out = env.secrets(&wt, &["lock"]).ok();
    assert!(out.stderr.contains("locked this worktree"), "{out:#?}");
    assert!(filter_configured(&env, &repo), "the main worktree needs it");
    assert!(
        !holds(&learned(&facts)),
        "a locked worktree keeps digests of its plaintext"
    );
    env.secrets(&repo, &["set", "NEW_KEY", "merged-in-value-3333"])
        .ok();
    env.git(&repo, &["commit", "-qam", "new key"]).ok();
    env.git(&wt, &["merge", "-q", "--no-edit", "main"]).ok();
    let dev = read(wt.join(".secrets/development.env"));
    assert_encrypted(&dev);
    assert!(
        dev.contains("NEW_KEY=gs1:") && !dev.contains("merged-in-value"),
        "a merge in a locked worktree decrypted it:\n{dev}"
    );
    env.git(&wt, &["checkout", "-q", "HEAD~1"]).ok();
    env.git(&wt, &["checkout", "-q", "wt"]).ok();
    assert_encrypted(&read(wt.join(".secrets/development.env")));
    assert_encrypted(&read(wt.join(".secrets/production.env")));
    assert_eq!(env.git(&wt, &["status", "--porcelain"]).ok().stdout, "");
    let status = env.secrets(&wt, &["status"]).ok().stdout;
    assert!(status.contains("locked in this worktree"), "{status}");
    // The main worktree is unaffected; unlock opens the locked one again.
    assert!(read(repo.join(".secrets/development.env")).contains("merged-in-value-3333"));
    env.secrets(&wt, &["unlock"]).ok();
    assert!(read(wt.join(".secrets/development.env")).contains("NEW_KEY=merged-in-value-3333"));
    env.git(&wt, &["checkout", "-q", "HEAD~1"]).ok();
    assert_eq!(read(wt.join(".secrets/development.env")), DEV);
}

// Guards: in a worktree locked beside an unlocked one the filter stays configured, but
// the worktree is locked: a value set there for a new scope is written sealed, as in a
// locked clone, not in plaintext; status says it is locked here, and doctor does not
// offer to unlock it.
#[test]
fn a_command_in_a_worktree_locked_beside_an_unlocked_one_writes_sealed() {
    let (env, repo) = setup();
    let wt = worktree_wt(&env, &repo);
    env.secrets(&wt, &["lock"]).ok();
    env.secrets(
        &wt,
        &["set", "-s", "billing", "STRIPE_KEY", "wt-value-4444"],
    )
    .ok();
    let billing = read(wt.join(".secrets/billing/development.env"));
    assert!(
        billing.starts_with("STRIPE_KEY=gs1:") && !billing.contains("wt-value"),
        "plaintext written into a locked worktree:\n{billing}"
    );
    let status = env.secrets(&wt, &["status"]).ok().stdout;
    assert!(status.contains("locked in this worktree"), "{status}");
    let doctor = env.secrets(&wt, &["doctor"]);
    assert!(!doctor.stdout.contains("still encrypted"), "{doctor:#?}");
    let got = env
        .secrets(&wt, &["get", "-s", "billing", "STRIPE_KEY", "--yes"])
        .ok()
        .stdout;
    assert_eq!(got.trim(), "wt-value-4444");
    env.git(&wt, &["add", "-A"]).ok();
    env.git(&wt, &["commit", "-qm", "billing"]).ok();
    env.secrets(&wt, &["unlock"]).ok();
    assert_eq!(
        read(wt.join(".secrets/billing/development.env")),
        "STRIPE_KEY=wt-value-4444\n"
    );
}

// Guards: `git mergetool` keeps a `.orig` backup of the conflicted secret file (both
// sides' values in plaintext), and an editor leaves `file~`: git ignores both (init's
// .gitignore), no filter seals them, so `lock` refuses, names them, and changes nothing;
// once they are gone it locks with no plaintext left in the work tree.
#[test]
fn lock_refuses_while_a_mergetool_or_editor_copy_holds_plaintext() {
    let (env, repo) = setup();
    let dev = ".secrets/development.env";
    db_url_changed_on_two_branches(&env, &repo);
    env.git(&repo, &["merge", "-q", "side"]).fails();
    env.git(
        &repo,
        &[
            "-c",
            "mergetool.take.cmd=cp \"$REMOTE\" \"$MERGED\"",
            "-c",
            "mergetool.take.trustExitCode=true",
            "mergetool",
            "--tool=take",
        ],
    )
    .ok();
    env.git(&repo, &["commit", "-q", "--no-edit"]).ok();
    let orig = repo.join(format!("{dev}.orig"));
    assert!(read(&orig).contains("main-value-2222"), "git's backup");
    write(repo.join(".secrets/production.env~"), PROD);
    // What mergetool leaves when cut short (`mergetool.keepTemporaries`).
    let local = repo.join(".secrets/development_LOCAL_4242.env");
    write(&local, DEV);
    let out = env.secrets(&repo, &["lock"]).fails();
    assert!(
        out.stderr.contains(".secrets/development_LOCAL_4242.env"),
        "{out:#?}"
    );
    out.error_names(&[
        ".secrets/development.env.orig",
        ".secrets/production.env~",
        "rm --",
    ]);
    assert!(filter_configured(&env, &repo), "nothing changed");
    assert!(read(repo.join(dev)).contains("DB_URL=side-value-1111"));
    std::fs::remove_file(&orig).unwrap();
    std::fs::remove_file(repo.join(".secrets/production.env~")).unwrap();
    std::fs::remove_file(&local).unwrap();
    lock_leaves_no_plaintext(&env, &repo, "side-value|main-value|prod-token|dev-pass");
}

// Guards: an editor's copies of a secret file (an Emacs `#NAME#` autosave, a Vim swap
// file, a `.bak`) hold its plaintext, and `git add -A` stages them (the commit checks
// then refuse the commit, but the work tree and the index keep them). `lock` names
// each, staged or not, with the command that removes it, and changes nothing until they
// are gone; a document marked `-secrets-check` is the user's and stays.
#[test]
fn lock_refuses_while_an_editor_copy_holds_plaintext_staged_or_not() {
    let (env, repo) = setup();
    let autosave = ".secrets/#production.env#";
    let swap = ".secrets/.development.env.swp";
    let backup = ".secrets/production.env.bak";
    write(repo.join(autosave), PROD);
    write(repo.join(backup), PROD);
    env.git(&repo, &["add", "-A"]).ok();
    // Written after the `add`: an editor still open on the file.
    write(repo.join(swap), &format!("b0VIM 9.0\0\0{DEV}"));
    write(repo.join(".secrets/notes.env.md"), "DB_URL=see the wiki\n");
    write(
        repo.join(".gitattributes"),
        &format!(
            "{}.secrets/notes.env.md -secrets-check\n",
            read(repo.join(".gitattributes"))
        ),
    );
    env.git(&repo, &["add", ".gitattributes", ".secrets/notes.env.md"])
        .ok();
    let staged = env.git(&repo, &["ls-files", "--", ".secrets/"]).ok().stdout;
    assert!(
        staged.contains(autosave) && staged.contains(backup),
        "{staged}"
    );

    let out = env.secrets(&repo, &["lock"]).fails();
    out.error_names(&[
        autosave,
        swap,
        backup,
        &format!("`rm -- {swap}`"),
        &format!("`git rm -f -- {autosave} {backup}`"),
    ]);
    assert!(!out.stderr.contains("notes.env.md"), "{}", out.stderr);
    assert!(filter_configured(&env, &repo), "nothing changed");
    assert!(read(repo.join(".secrets/development.env")).contains("dev-pass-1"));

    env.git(&repo, &["rm", "-q", "-f", "--", autosave, backup])
        .ok();
    std::fs::remove_file(repo.join(swap)).unwrap();
    lock_leaves_no_plaintext(&env, &repo, "dev-pass|sk-dev|prod-token");
}

// Guards: with `rerere.enabled`, git records a conflict in a secret file and its
// resolution under rr-cache as the work tree showed them, decrypted. The last `lock`
// removes those records; the record of a conflict in another file stays.
#[test]
fn lock_removes_rerere_records_of_conflicts_in_secret_files() {
    let (env, repo) = setup();
    env.git(&repo, &["config", "rerere.enabled", "true"]).ok();
    let edit = |branch: &str, value: &str| {
        env.secrets(&repo, &["set", "DB_URL", value]).ok();
        write(repo.join("notes.txt"), &format!("{branch}\n"));
        env.git(&repo, &["add", "-A"]).ok();
        env.git(&repo, &["commit", "-qm", branch]).ok();
    };
    env.git(&repo, &["checkout", "-q", "-b", "side"]).ok();
    edit("side", "side-value-1111");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    edit("main", "main-value-2222");
    env.git(&repo, &["merge", "-q", "side"]).fails();
    write(
        repo.join(".secrets/development.env"),
        &DEV.replace("postgres://u:dev-pass-1@db/app", "resolved-3333"),
    );
    write(repo.join("notes.txt"), "both\n");
    env.git(&repo, &["add", "-A"]).ok();
    env.git(&repo, &["commit", "-q", "--no-edit"]).ok();
    let rr_cache = repo.join(".git/rr-cache");
    let records = || std::fs::read_dir(&rr_cache).unwrap().count();
    let holding = || {
        env.run(
            "grep",
            &repo,
            &[
                "-rlE",
                "side-value|main-value|resolved-3333",
                ".git/rr-cache",
            ],
        )
        .stdout
    };
    assert_eq!(records(), 2, "one record per conflicted file");
    assert!(
        !holding().is_empty(),
        "rerere recorded the decrypted conflict"
    );
    let out = env.secrets(&repo, &["lock"]).ok();
    assert!(out.stderr.contains("rerere"), "{out:#?}");
    assert_eq!(holding(), "", "plaintext left in rr-cache after lock");
    assert_eq!(records(), 1, "the other file's record stays");
}

// Guards: rr-cache is shared by every branch. A conflict in the file of a service that
// only feature branches have (its keys in no scope file of the branch `lock` runs on)
// is a secret file's record all the same: the last lock removes it too.
#[test]
fn lock_removes_rerere_records_of_a_service_the_current_branch_lacks() {
    let (env, repo) = setup();
    env.git(&repo, &["config", "rerere.enabled", "true"]).ok();
    let set = |branch: &str, from: &str, value: &str| {
        env.git(&repo, &["checkout", "-q", "-b", branch, from]).ok();
        env.secrets(&repo, &["set", "-s", "billing", "STRIPE_KEY", value])
            .ok();
        env.commit_all(&repo, branch);
    };
    set("billing", "main", "base-value-0000");
    set("side", "billing", "side-value-1111");
    set("other", "billing", "other-value-2222");
    env.git(&repo, &["merge", "-q", "side"]).fails();
    write(
        repo.join(".secrets/billing/development.env"),
        "STRIPE_KEY=resolved-3333\n",
    );
    env.git(&repo, &["add", "-A"]).ok();
    env.git(&repo, &["commit", "-q", "--no-edit"]).ok();
    let holding = || {
        env.run(
            "grep",
            &repo,
            &[
                "-rlE",
                "side-value|other-value|resolved-3333",
                ".git/rr-cache",
            ],
        )
        .stdout
    };
    assert!(
        !holding().is_empty(),
        "rerere recorded the decrypted conflict"
    );
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    env.secrets(&repo, &["lock"]).ok();
    assert_eq!(holding(), "", "plaintext left in rr-cache after lock");
}

// Guards: a worktree `git worktree list` names whose directory is not there now (a
// `git worktree lock`ed worktree on an unmounted disk) may hold decrypted files: `lock`
// elsewhere keeps the filter and names it with its lock reason, so once the disk is back
// a `git stash` there stores nothing in plaintext. Locking it there removes the filter.
#[test]
fn lock_keeps_the_filter_for_a_worktree_it_cannot_reach() {
    let (env, repo) = setup();
    let usb = env.path().join("usb");
    let wt = usb.join("wt");
    env.git(
        &repo,
        &["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "usbwt"],
    )
    .ok();
    env.git(
        &repo,
        &[
            "worktree",
            "lock",
            "--reason",
            "on a usb disk",
            wt.to_str().unwrap(),
        ],
    )
    .ok();
    env.secrets(&wt, &["set", "production", "PROD_TOKEN", "usb-dirty-1111"])
        .ok();
    let unmounted = env.path().join("usb.unmounted");
    std::fs::rename(&usb, &unmounted).unwrap();
    let out = env.secrets(&repo, &["lock"]).ok();
    assert!(
        out.stderr.contains(wt.to_str().unwrap())
            && out.stderr.contains("on a usb disk")
            && out.stderr.contains("git worktree remove"),
        "{out:#?}"
    );
    assert!(
        filter_configured(&env, &repo),
        "the filter stays for the usb worktree"
    );
    assert_encrypted(&read(repo.join(".secrets/development.env")));
    let status = env.secrets(&repo, &["status"]).ok().stdout;
    assert!(status.contains("locked in this worktree"), "{status}");
    std::fs::rename(&unmounted, &usb).unwrap();
    env.git(&wt, &["stash", "-q"]).ok();
    let stash = blob(&env, &wt, "stash@{0}:.secrets/production.env");
    assert!(
        stash.contains("PROD_TOKEN=gs1:") && !stash.contains("usb-dirty"),
        "{stash}"
    );
    env.git(&wt, &["stash", "pop", "-q"]).ok();
    let out = env.secrets(&wt, &["lock"]).ok();
    assert!(out.stderr.contains("filter is removed"), "{out:#?}");
    assert!(!filter_configured(&env, &repo));
}

/// Every file under `root` (`.git` left out) whose content holds `needle`.
fn files_holding(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_owned()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            if e.file_type().unwrap().is_dir() {
                if e.file_name() != ".git" {
                    todo.push(path);
                }
            } else if std::fs::read(&path)
                .is_ok_and(|b| String::from_utf8_lossy(&b).contains(needle))
            {
                out.push(path);
            }
        }
    }
    out
}

// Guards: a `set` killed between writing its temporary file and renaming it leaves the
// new value in plaintext at `.secrets/.git-secrets-XXXXXX`. The next command removes it
// (and says so) unless a running git-secrets command may own it: one that holds its
// directory's write lock keeps its file through status, doctor --fix and lock. Files not
// named exactly like ours, or open to others (a user's own file so named), are never
// touched; `lock` and `doctor` look through the whole work tree.
#[test]
fn a_temporary_file_an_interrupted_write_left_is_removed_but_never_a_running_ones() {
    const LEAK: &str = "crash-TMPLEAK-5e1";
    let (env, repo) = setup();
    let tmp = ".secrets/.git-secrets-Ab12Cd";
    // The last two are named exactly like ours, but a user made them (0644, as an editor
    // or a shell does): ours are 0600 from their creation.
    let not_ours = [
        ".secrets/.git-secrets-notes",
        ".secrets/git-secrets-Ab12Cd",
        ".secrets/.git-secrets-backup",
        ".git-secrets-policy",
    ];
    write(repo.join(tmp), &format!("{DEV}NEW_KEY={LEAK}\n"));
    chmod(repo.join(tmp), 0o600);
    for p in not_ours {
        write(repo.join(p), "mine\n");
    }

    // A command still writing there: its file stays, and is named.
    let running = writing_in(&repo.join(".secrets"));
    let out = env.secrets(&repo, &["status"]).ok();
    assert!(
        out.stdout.contains(tmp)
            && out
                .stdout
                .contains("another git-secrets command is writing"),
        "{out:#?}"
    );
    let out = env.secrets(&repo, &["doctor", "--fix"]).fails();
    assert!(out.stdout.contains(tmp), "{out:#?}");
    assert!(repo.join(tmp).exists(), "a running command's file is kept");
    let out = env.secrets(&repo, &["lock"]).ok();
    assert!(out.stderr.contains(tmp), "{out:#?}");
    assert!(repo.join(tmp).exists(), "a running command's file is kept");
    env.secrets(&repo, &["unlock"]).ok();
    drop(running);

    // Once nothing holds the directory, the next command removes it and says so.
    let out = env.secrets(&repo, &["get", "DB_URL", "--yes"]).ok();
    assert!(
        out.stderr.contains("removed 1 temporary file(s)") && out.stderr.contains(tmp),
        "{out:#?}"
    );
    assert!(!out.stderr.contains(LEAK) && !out.stdout.contains(LEAK));
    assert!(!repo.join(tmp).exists());
    for p in not_ours {
        assert_eq!(read(repo.join(p)), "mine\n", "{p} is not ours");
    }
    let out = env.secrets(&repo, &["status"]).ok();
    assert!(!out.stdout.contains(".git-secrets-"), "{out:#?}");

    // Outside the directories every command looks at (an `export` to a file in the work
    // tree, say): doctor names it, lock removes it.
    std::fs::create_dir_all(repo.join("deploy")).unwrap();
    let far = "deploy/.git-secrets-Zz9Yy8";
    write(repo.join(far), &format!("NEW_KEY={LEAK}\n"));
    chmod(repo.join(far), 0o600);
    let out = env.secrets(&repo, &["doctor"]).fails();
    assert!(
        out.stdout.contains(far) && out.stdout.contains("doctor --fix` deletes them"),
        "{out:#?}"
    );
    let out = env.secrets(&repo, &["lock"]).ok();
    assert!(out.stderr.contains(far), "{out:#?}");
    assert!(!repo.join(far).exists());
    assert_eq!(
        files_holding(&repo, LEAK),
        Vec::<PathBuf>::new(),
        "a locked clone holds no plaintext"
    );
}

/// A branch `side` that sets DB_URL to `side-value-1111`, and main, checked out, that sets
/// it to `main-value-2222`: merging them conflicts.
fn db_url_changed_on_two_branches(env: &Env, repo: &Path) {
    env.git(repo, &["checkout", "-q", "-b", "side"]).ok();
    env.secrets(repo, &["set", "DB_URL", "side-value-1111"])
        .ok();
    env.git(repo, &["commit", "-qam", "side"]).ok();
    env.git(repo, &["checkout", "-q", "main"]).ok();
    env.secrets(repo, &["set", "DB_URL", "main-value-2222"])
        .ok();
    env.git(repo, &["commit", "-qam", "main"]).ok();
}

/// A linked worktree of `repo` at `wt` beside it, on a new branch `wt`.
fn worktree_wt(env: &Env, repo: &Path) -> PathBuf {
    let wt = env.path().join("wt");
    env.git(
        repo,
        &["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "wt"],
    )
    .ok();
    wt
}
