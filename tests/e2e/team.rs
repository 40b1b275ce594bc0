//! Team access with several identities: join, approve, per-environment keys, removal
//! with rotation, CI keys, crash-safe rotation, and access.json through git merges.

use std::path::Path;

use crate::common::*;

#[test]
fn join_list_approve_then_unlock() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (bob, b, id) = bob_joins(&env, &alice);
    let list = env.secrets(&alice, &["member", "list"]).ok().stdout;
    assert!(
        list.contains(&id) && list.contains("pending") && list.contains("SHA256:"),
        "{list}"
    );
    let json = env
        .secrets(&alice, &["member", "list", "--json"])
        .ok()
        .stdout;
    assert!(
        json.contains("\"fingerprint\"") && json.contains("\"kind\": \"person\""),
        "{json}"
    );
    env.secrets(&alice, &["member", "approve", &id]).ok();
    env.commit_all(&alice, "approve bob");
    pull(&bob, &b, &alice);
    bob.secrets(&b, &["unlock"]).ok();
    assert_eq!(
        read(b.join(".secrets/production.env")),
        "DB=prod-password-1\n"
    );
    assert_eq!(bob.git(&b, &["status", "--porcelain"]).ok().stdout, "");
}

#[test]
fn approval_limited_to_one_environment() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (bob, b, id) = bob_joins(&env, &alice);
    approve_and_unlock(&env, &alice, &bob, &b, &id, "development");
    assert_eq!(
        read(b.join(".secrets/development.env")),
        "DB=dev-password-1\n"
    );
    // Production stays encrypted in his work tree, and every read of it says why.
    let prod = read(b.join(".secrets/production.env"));
    assert!(
        prod.starts_with("DB=gs1:") && !prod.contains("prod-password"),
        "{prod}"
    );
    let out = bob
        .secrets(&b, &["get", "production", "DB", "--yes"])
        .fails();
    assert!(
        out.stderr.contains("no access to production"),
        "{}",
        out.stderr
    );
    let out = bob
        .secrets(&b, &["run", "production", "--", "true"])
        .fails();
    assert!(
        out.stderr.contains("no access to production"),
        "{}",
        out.stderr
    );
    assert_eq!(bob.git(&b, &["status", "--porcelain"]).ok().stdout, "");
    // A checkout through his filter leaves production encrypted and succeeds.
    std::fs::remove_file(b.join(".secrets/production.env")).unwrap();
    bob.git(&b, &["checkout", "--", "."]).ok();
    assert!(read(b.join(".secrets/production.env")).starts_with("DB=gs1:"));
}

// Guards: the masked diff is cached by default, and views cached before an approval
// (production `sealed:`) are dropped once it arrives, instead of being diffed against
// fingerprinted ones.
#[test]
fn the_diff_cache_follows_an_approval() {
    let env = Env::new();
    let alice = alice_repo(&env);
    env.secrets(&alice, &["set", "production", "DB", "prod-password-2"])
        .ok();
    env.commit_all(&alice, "new production password");
    let (bob, b, id) = bob_joins(&env, &alice);
    approve_and_unlock(&env, &alice, &bob, &b, &id, "development");
    let log = |who: &Env| {
        who.git(&b, &["log", "-p", "--", ".secrets/production.env"])
            .ok()
            .stdout
    };
    let before = log(&bob);
    assert!(
        before.contains("+DB = ******** sealed:") && !before.contains("fp:"),
        "{before}"
    );
    let notes = bob
        .git(&b, &["notes", "--ref=textconv/secrets", "list"])
        .ok()
        .stdout;
    assert!(notes.lines().count() >= 2, "nothing cached:\n{notes}");

    approve_and_unlock(&env, &alice, &bob, &b, &id, "production");
    let after = log(&bob);
    assert!(
        after.contains("-DB = ******** fp:")
            && after.contains("+DB = ******** fp:")
            && !after.contains("sealed:"),
        "{after}"
    );
    assert!(!after.contains("prod-password"), "{after}");
    // Alice sees the same fingerprints (keyed by the environment, not the reader).
    let alices = env
        .git(&alice, &["log", "-p", "--", ".secrets/production.env"])
        .ok()
        .stdout;
    let fps = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.contains("fp:"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(fps(&alices), fps(&after));
}

#[test]
fn removal_rotates_lists_what_was_seen_and_keeps_history() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (bob, b, id) = bob_joins(&env, &alice);
    env.secrets(&alice, &["member", "approve", &id, "--env", "development"])
        .ok();
    env.commit_all(&alice, "approve bob");
    pull(&bob, &b, &alice);
    let old_token = blob(&env, &alice, "HEAD:.secrets/development.env");
    let out = env.secrets(&alice, &["member", "remove", &id]).ok();
    // What Bob could read (development and shared), not production.
    assert!(out.stdout.contains("development: DB"), "{out:?}");
    assert!(!out.stdout.contains("production"), "{out:?}");
    assert!(!out.stdout.contains("dev-password") && !out.stderr.contains("dev-password"));
    // Nothing committed, everything staged.
    let staged = env
        .git(&alice, &["diff", "--cached", "--name-only"])
        .ok()
        .stdout;
    assert!(
        staged.contains(".secrets/access.json") && staged.contains(".secrets/development.env"),
        "{staged}"
    );
    assert_eq!(
        env.git(&alice, &["diff", "--name-only"]).ok().stdout,
        "",
        "nothing left unstaged"
    );
    env.git(&alice, &["commit", "-q", "-m", "remove bob"]).ok();
    let new_token = blob(&env, &alice, "HEAD:.secrets/development.env");
    assert_ne!(old_token, new_token, "re-sealed under a new key");
    env.secrets(&alice, &["set", "DB", "dev-password-2"]).ok();
    env.commit_all(&alice, "new value");
    // Bob pulls: the new value does not open for him, and he cannot get back in.
    pull(&bob, &b, &alice);
    let out = bob.secrets(&b, &["get", "DB", "--yes"]).fails();
    assert!(!out.stdout.contains("dev-password-2"));
    let out = bob.secrets(&b, &["join", "--name", "bob-again"]).fails();
    assert!(out.stderr.contains("removed"), "{}", out.stderr);
    // Alice reads the current value and the history (old key reached through the chain).
    assert_eq!(
        env.secrets(&alice, &["get", "DB", "--yes"]).ok().stdout,
        "dev-password-2\n"
    );
    env.git(
        &alice,
        &["checkout", "-q", "HEAD~2", "--", ".secrets/development.env"],
    )
    .ok();
    assert_eq!(
        env.secrets(&alice, &["get", "DB", "--yes"]).ok().stdout,
        "dev-password-1\n"
    );
}

#[test]
fn rotate_gives_a_new_key_and_history_stays_readable() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let before = blob(&env, &alice, "HEAD:.secrets/production.env");
    env.secrets(&alice, &["rotate", "--env", "production"]).ok();
    env.git(&alice, &["commit", "-q", "-m", "rotate"]).ok();
    let after = blob(&env, &alice, "HEAD:.secrets/production.env");
    let kid = |s: &str| s.split(':').nth(1).unwrap().to_owned();
    assert_ne!(kid(&before), kid(&after), "sealed under another key");
    assert_eq!(
        blob(&env, &alice, "HEAD:.secrets/development.env"),
        blob(&env, &alice, "HEAD~1:.secrets/development.env")
    );
    assert_eq!(env.git(&alice, &["status", "--porcelain"]).ok().stdout, "");
    // A fresh clone reads the old commit through the key chain.
    let c = clone(&env, &alice, "fresh");
    env.secrets(&c, &["unlock"]).ok();
    env.git(&c, &["checkout", "-q", "HEAD~1"]).ok();
    assert_eq!(
        read(c.join(".secrets/production.env")),
        "DB=prod-password-1\n"
    );
}

#[test]
fn ci_key_reads_only_its_environments_from_a_fresh_clone() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let out = env
        .secrets(
            &alice,
            &["keys", "create", "--name", "deploy", "--env", "development"],
        )
        .ok();
    let identity = out.stdout.trim().to_owned();
    assert!(identity.starts_with("AGE-SECRET-KEY-1"), "{out:?}");
    env.commit_all(&alice, "ci key");
    // Stored nowhere: not in the repository, not in anyone's config directory.
    let grep = env.git(&alice, &["grep", "-I", "AGE-SECRET-KEY", "HEAD"]);
    assert!(!grep.success(), "{grep:?}");
    let list = env.secrets(&alice, &["keys", "list"]).ok().stdout;
    assert!(list.contains("deploy") && list.contains("ci"), "{list}");
    let mut ci = env.person("ci");
    let c = clone(&ci, &alice, "ci");
    ci.vars.push(("GIT_SECRETS_IDENTITY".into(), identity));
    let out = ci
        .secrets(
            &c,
            &[
                "run",
                "--env",
                "development",
                "--",
                "sh",
                "-c",
                "printf %s \"$DB\"",
            ],
        )
        .ok();
    assert_eq!(out.stdout, "dev-password-1");
    let out = ci
        .secrets(&c, &["run", "--env", "production", "--", "true"])
        .fails();
    assert!(
        out.stderr.contains("no access to production"),
        "{}",
        out.stderr
    );
    // The fix named is a CI key for that environment, not `join`.
    out.error_names(&["the CI key `deploy`", "keys create --name NAME --env ENV"]);
    assert!(!out.stderr.contains("join"), "{}", out.stderr);
    // Revoking is a removal with rotation.
    let id = member_id(&env, &alice, "deploy");
    env.secrets(&alice, &["keys", "revoke", &id]).ok();
    env.git(&alice, &["commit", "-q", "-m", "revoke"]).ok();
    ci.git(
        &c,
        &["pull", "-q", "--no-rebase", alice.to_str().unwrap(), "main"],
    )
    .ok();
    let out = ci
        .secrets(&c, &["run", "--env", "development", "--", "true"])
        .fails();
    assert!(
        out.stderr.contains("no access to development"),
        "{}",
        out.stderr
    );
    out.error_names(&["the CI key `deploy`, which was revoked", "keys create"]);
    assert!(!out.stderr.contains("join"), "{}", out.stderr);
}

/// A rotation killed at each step is completed or rolled back by the next command, and
/// no value is lost.
#[test]
fn rotation_killed_at_each_step_recovers() {
    for point in [
        "after-journal",
        "after-access",
        "mid-reseal",
        "after-reseal",
        "before-journal-removal",
    ] {
        let mut env = Env::new();
        let alice = alice_repo(&env);
        env.secrets_killed_at(&alice, point, &["rotate", "--env", "development"]);
        let out = env.secrets(&alice, &["get", "DB", "--yes"]).ok();
        assert_eq!(out.stdout, "dev-password-1\n", "{point}");
        assert!(
            out.stderr.contains("rolled back") || out.stderr.contains("completed"),
            "{point}: {}",
            out.stderr
        );
        assert!(
            !alice.join(".git/git-secrets/rotation.json").exists(),
            "{point}: journal gone"
        );
        env.git(
            &alice,
            &["commit", "-q", "--allow-empty", "-m", "after recovery"],
        )
        .ok();
        assert_eq!(
            env.git(&alice, &["status", "--porcelain"]).ok().stdout,
            "",
            "{point}"
        );
        // Everything committed opens in a fresh clone.
        let c = clone(&env, &alice, &format!("check-{point}"));
        env.secrets(&c, &["unlock"]).ok();
        assert_eq!(
            read(c.join(".secrets/development.env")),
            "DB=dev-password-1\n",
            "{point}"
        );
        assert_eq!(
            read(c.join(".secrets/production.env")),
            "DB=prod-password-1\n",
            "{point}"
        );
    }
}

/// The current key ids of `env` in `repo`'s work-tree access.json.
fn current_keys(repo: &Path, env: &str) -> Vec<String> {
    let access: serde_json::Value =
        serde_json::from_str(&read(repo.join(".secrets/access.json"))).unwrap();
    access["keys"][env]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| {
            r.get("superseded_by")
                .is_none_or(|s| s.as_array().is_some_and(|a| a.is_empty()))
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// The key ids of HEAD's development values.
fn committed_keys(env: &Env, repo: &Path) -> Vec<String> {
    crate::hooks::key_ids(&blob(env, repo, "HEAD:.secrets/development.env"))
}

/// `git commit` right after a rotation was killed (what `member remove` says to do next)
/// is refused by the pre-commit hook; the next git-secrets command completes it.
#[test]
fn a_commit_is_refused_while_a_rotation_is_interrupted() {
    let mut env = Env::new();
    let alice = alice_repo(&env);
    env.secrets_killed_at(&alice, "after-access", &["rotate", "--env", "development"]);
    let head = env.git(&alice, &["rev-parse", "HEAD"]).ok().stdout;
    let out = env.git(&alice, &["commit", "-q", "-am", "rotate"]).fails();
    out.error_names(&["was interrupted in this checkout", "git secrets status"]);
    assert_eq!(env.git(&alice, &["rev-parse", "HEAD"]).ok().stdout, head);
    let out = env.secrets(&alice, &["status"]).ok();
    assert!(
        out.stderr
            .contains("completed an interrupted rotation of development")
            && !out.stderr.contains("HEAD has moved"),
        "{out:?}"
    );
    env.git(&alice, &["commit", "-q", "-am", "rotate"]).ok();
    assert_eq!(
        committed_keys(&env, &alice),
        current_keys(&alice, "development")
    );
}

/// A rotation committed half done (hooks skipped) is completed by the next command:
/// the files still under the old key are re-sealed, and it says to commit them. One
/// whose effects were all in place (only the journal's removal was left) is dropped.
#[test]
fn a_rotation_committed_half_done_is_completed() {
    for (point, resealed) in [("after-access", true), ("before-journal-removal", false)] {
        let mut env = Env::new();
        let alice = alice_repo(&env);
        env.secrets_killed_at(&alice, point, &["rotate", "--env", "development"]);
        env.git(&alice, &["commit", "-q", "--no-verify", "-am", "rotate"])
            .ok();
        let out = env.secrets(&alice, &["status"]).ok();
        assert!(
            out.stderr
                .contains("completed an interrupted rotation of development"),
            "{point}: {out:?}"
        );
        assert_eq!(
            out.stderr.contains("HEAD has moved since it started, so a commit holds it half done: commit the re-sealed files"),
            resealed,
            "{point}: {out:?}"
        );
        assert!(
            !alice.join(".git/git-secrets/rotation.json").exists(),
            "{point}"
        );
        env.git(
            &alice,
            &["commit", "-q", "--allow-empty", "-am", "re-sealed"],
        )
        .ok();
        assert_eq!(
            committed_keys(&env, &alice),
            current_keys(&alice, "development"),
            "{point}"
        );
        let out = env.secrets(&alice, &["get", "DB", "--yes"]).ok();
        assert_eq!(out.stdout, "dev-password-1\n", "{point}");
    }
}

/// A journal whose access.json is neither the old nor the new one is reported, never
/// applied.
#[test]
fn a_journal_for_another_state_is_not_applied() {
    let mut env = Env::new();
    let alice = alice_repo(&env);
    env.secrets_killed_at(&alice, "after-access", &["rotate", "--env", "development"]);
    let edited = format!("{}\n", read(alice.join(".secrets/access.json")));
    write(alice.join(".secrets/access.json"), &edited);
    env.git(
        &alice,
        &[
            "commit",
            "-q",
            "--no-verify",
            "--allow-empty",
            "-m",
            "HEAD moves",
        ],
    )
    .ok();
    let out = env.secrets(&alice, &["status"]).fails();
    out.error_names(&[
        "neither the one before it nor the one it was writing",
        "HEAD has moved",
        "nothing was applied",
    ]);
    assert_eq!(read(alice.join(".secrets/access.json")), edited);
}

/// Two people join on two branches; merge, rebase and pull keep both requests.
#[test]
fn concurrent_joins_merge_without_conflict() {
    for how in ["merge", "rebase", "pull"] {
        let env = Env::new();
        let alice = alice_repo(&env);
        let bob = env.person("bob");
        let carol = env.person("carol");
        let b = clone(&bob, &alice, "bob");
        let c = clone(&carol, &alice, "carol");
        bob.secrets(&b, &["join", "--name", "bob"]).ok();
        bob.commit_all(&b, "bob joins");
        carol.secrets(&c, &["join", "--name", "carol"]).ok();
        carol.commit_all(&c, "carol joins");
        // Carol cannot unlock before she is approved: `join` set the merge driver up.
        carol
            .git(&c, &["fetch", "-q", b.to_str().unwrap(), "main"])
            .ok();
        let out = match how {
            "merge" => carol.git(&c, &["merge", "-q", "--no-edit", "FETCH_HEAD"]),
            "rebase" => carol.git(&c, &["rebase", "-q", "FETCH_HEAD"]),
            _ => carol.git(
                &c,
                &[
                    "pull",
                    "-q",
                    "--no-rebase",
                    "--no-edit",
                    b.to_str().unwrap(),
                    "main",
                ],
            ),
        };
        assert!(out.success(), "{how}: {out:?}");
        let json = read(c.join(".secrets/access.json"));
        assert!(
            json.contains("\"bob\"") && json.contains("\"carol\""),
            "{how}: {json}"
        );
        assert!(!json.contains("<<<<<<<"), "{how}");
        carol.secrets(&c, &["member", "list"]).ok();
    }
}

/// A removal on one branch wins over an approval of the same member on another.
#[test]
fn a_removed_member_never_comes_back_through_a_merge() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (_bob, _b, id) = bob_joins(&env, &alice);
    env.secrets(&alice, &["member", "approve", &id]).ok();
    env.commit_all(&alice, "approve bob");
    // A branch widens Bob's access while main removes him (the widening first: once this
    // clone has seen the removal, it approves him nowhere).
    env.git(&alice, &["checkout", "-q", "-b", "other"]).ok();
    env.secrets(&alice, &["member", "approve", &id, "--env", "test"])
        .ok();
    env.commit_all(&alice, "widen bob");
    env.git(&alice, &["checkout", "-q", "main"]).ok();
    env.secrets(&alice, &["member", "remove", &id]).ok();
    env.git(&alice, &["commit", "-q", "-m", "remove bob"]).ok();
    env.git(&alice, &["checkout", "-q", "other"]).ok();
    env.secrets(&alice, &["member", "approve", &id, "--env", "test"])
        .fails()
        .error_names(&["was removed", "new identity"]);
    for (ours, theirs) in [("other", "main"), ("main", "other")] {
        env.git(&alice, &["checkout", "-q", "-B", "m", ours]).ok();
        env.git(&alice, &["merge", "-q", "--no-edit", theirs]).ok();
        let list = env
            .secrets(&alice, &["member", "list", "--json"])
            .ok()
            .stdout;
        let rows: serde_json::Value = serde_json::from_str(&list).unwrap();
        let bob = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id.as_str())
            .unwrap()
            .clone();
        assert_eq!(bob["status"], "removed", "ours={ours}: {list}");
        env.git(&alice, &["checkout", "-q", "main"]).ok();
        env.git(&alice, &["branch", "-q", "-D", "m"]).ok();
    }
}

#[test]
fn bad_team_input_is_refused_and_changes_nothing() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let access = read(alice.join(".secrets/access.json"));
    let out = env
        .secrets(&alice, &["member", "approve", "deadbeefdeadbeef"])
        .fails();
    assert!(
        out.stderr.contains("no member") && out.stderr.contains("hint:"),
        "{}",
        out.stderr
    );
    let me = member_id(&env, &alice, "Alice Test");
    let out = env.secrets(&alice, &["member", "remove", &me]).fails();
    assert!(
        out.stderr.contains("last member who can read"),
        "{}",
        out.stderr
    );
    let out = env
        .secrets(
            &alice,
            &["keys", "create", "--name", "ci", "--env", "prodution"],
        )
        .fails();
    assert!(
        out.stderr.contains("unknown environment `prodution`"),
        "{}",
        out.stderr
    );
    assert_eq!(read(alice.join(".secrets/access.json")), access);
    // A removed member marked active, an unknown recipient type, a duplicate id, a wrap
    // that does not open: each a clear error naming the file.
    let cases: Vec<(String, &str)> = vec![
        (
            access.replacen(
                "\"status\": \"active\"",
                "\"status\": \"active\",\n      \"removed_at\": \"2026-01-01T00:00:00Z\"",
                1,
            ),
            "removed_at",
        ),
        (
            access.replacen("\"recipient\": \"age1", "\"recipient\": \"pgp1", 1),
            "not an age or SSH recipient",
        ),
        (
            access.replacen(
                "\"version\": 1,",
                &format!("\"version\": 1,\n  \"members\": {{\"{me}\": {{}}}},"),
                1,
            ),
            "appears twice",
        ),
    ];
    for (text, expect) in cases {
        write(alice.join(".secrets/access.json"), &text);
        let out = env.secrets(&alice, &["get", "DB", "--yes"]).fails();
        assert!(
            out.stderr.contains(".secrets/access.json") && out.stderr.contains(expect),
            "{expect}: {}",
            out.stderr
        );
        assert!(!out.stdout.contains("dev-password"));
    }
    // Swap the wraps of two environments' keys: each is a valid age file, for the wrong key.
    let v: serde_json::Value = serde_json::from_str(&access).unwrap();
    let wrap_of = |env_name: &str| -> String {
        let keys = v["keys"][env_name].as_object().unwrap();
        keys.values().next().unwrap()["wrapped"][&me]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (dev, prod) = (wrap_of("development"), wrap_of("production"));
    write(
        alice.join(".secrets/access.json"),
        &access
            .replace(&dev, "@@")
            .replace(&prod, &dev)
            .replace("@@", &prod),
    );
    let before = read(alice.join(".secrets/development.env"));
    // Locking has to seal, so it opens the key, and refuses.
    let out = env.secrets(&alice, &["lock"]).fails();
    assert!(out.stderr.contains("tampered"), "{}", out.stderr);
    assert_eq!(
        read(alice.join(".secrets/development.env")),
        before,
        "nothing changed"
    );
}

/// SSH public keys (ed25519 and RSA) as recipients; the private key decrypts.
#[test]
fn ssh_keys_join_and_decrypt() {
    for kind in ["ed25519", "rsa"] {
        let env = Env::new();
        let alice = alice_repo(&env);
        let mut bob = env.person(&format!("bob-{kind}"));
        // Test-only keys from tests/fixtures/ssh (no ssh-keygen needed), private 0600.
        let key = bob.home.join(format!("id_{kind}"));
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/ssh");
        for suffix in ["", ".pub"] {
            std::fs::copy(
                fixtures.join(format!("id_{kind}{suffix}")),
                format!("{}{suffix}", key.display()),
            )
            .unwrap();
        }
        chmod(&key, 0o600);
        let b = clone(&bob, &alice, &format!("bob-{kind}"));
        let pubkey = format!("{}.pub", key.display());
        let out = bob
            .secrets(&b, &["join", "--name", "bob", "--ssh-key", &pubkey])
            .ok();
        assert!(out.stderr.contains("SHA256:"), "{kind}: {out:?}");
        let out = bob
            .secrets(
                &b,
                &["join", "--name", "bob", "--ssh-key", key.to_str().unwrap()],
            )
            .fails();
        assert!(out.stderr.contains("private key"), "{kind}: {}", out.stderr);
        bob.commit_all(&b, "bob joins with ssh");
        pull(&env, &alice, &b);
        let id = member_id(&env, &alice, "bob");
        env.secrets(&alice, &["member", "approve", &id, "--env", "production"])
            .ok();
        env.commit_all(&alice, "approve");
        pull(&bob, &b, &alice);
        bob.vars.push((
            "GIT_SECRETS_IDENTITY_FILE".into(),
            key.display().to_string(),
        ));
        let out = bob.secrets(&b, &["get", "production", "DB", "--yes"]).ok();
        assert_eq!(out.stdout, "prod-password-1\n", "{kind}");
    }
}

/// Two branches rotate the same environment: after the merge there are two current keys;
/// status says so, nothing new is sealed there, values from both sides stay readable,
/// and `rotate` repairs it.
#[test]
fn merged_rotations_are_reported_refused_and_repaired() {
    let env = Env::new();
    let alice = alice_repo(&env);
    env.git(&alice, &["branch", "other"]).ok();
    env.secrets(&alice, &["rotate", "--env", "development"])
        .ok();
    env.git(&alice, &["commit", "-q", "-m", "rotate on main"])
        .ok();
    env.git(&alice, &["checkout", "-q", "other"]).ok();
    env.secrets(&alice, &["rotate", "--env", "development"])
        .ok();
    env.git(&alice, &["commit", "-q", "-m", "rotate on other"])
        .ok();
    env.secrets(&alice, &["set", "OTHER", "from-other-branch"])
        .ok();
    env.commit_all(&alice, "value on other");
    env.git(&alice, &["checkout", "-q", "main"]).ok();
    // Both access.json and the scope file (re-sealed under a different key on each side)
    // merge cleanly: the key-level driver compares values, not tokens.
    let out = env.git(&alice, &["merge", "-q", "--no-edit", "other"]);
    assert!(out.success(), "{out:?}");
    assert_eq!(
        env.git(&alice, &["status", "--porcelain"]).ok().stdout,
        "",
        "clean after the merge"
    );
    let status = env.secrets(&alice, &["status"]).ok().stdout;
    assert!(
        status.contains("`development` has 2 current keys"),
        "{status}"
    );
    // Values from both sides open; a new value is refused until the environment has one key.
    assert_eq!(
        env.secrets(&alice, &["get", "OTHER", "--yes"]).ok().stdout,
        "from-other-branch\n"
    );
    let out = env.secrets(&alice, &["set", "NEW", "value"]).fails();
    assert!(
        out.stderr.contains("2 current keys") && out.stderr.contains("git secrets rotate"),
        "{}",
        out.stderr
    );
    write(
        alice.join(".secrets/development.env"),
        "DB=dev-password-1\nOTHER=from-other-branch\nNEW=x\n",
    );
    let out = env
        .git(&alice, &["add", ".secrets/development.env"])
        .fails();
    assert!(out.stderr.contains("2 current keys"), "{}", out.stderr);
    env.git(&alice, &["checkout", "--", ".secrets/development.env"])
        .ok();
    env.secrets(&alice, &["rotate", "--env", "development"])
        .ok();
    env.git(&alice, &["commit", "-q", "-m", "repair"]).ok();
    assert!(!env
        .secrets(&alice, &["status"])
        .ok()
        .stdout
        .contains("current keys"));
    env.secrets(&alice, &["set", "NEW", "value"]).ok();
    assert_eq!(
        env.secrets(&alice, &["get", "DB", "--yes"]).ok().stdout,
        "dev-password-1\n"
    );
    assert_eq!(
        env.secrets(&alice, &["get", "OTHER", "--yes"]).ok().stdout,
        "from-other-branch\n"
    );
}

// Guards: renaming an environment after a rotation keeps its whole key chain opening
// (each link binds the environment's name, so the rename seals them again).
#[test]
fn rename_after_rotation_keeps_the_chain() {
    let env = Env::new();
    let alice = alice_repo(&env);
    env.secrets(&alice, &["rotate", "--env", "development"])
        .ok();
    env.git(&alice, &["commit", "-q", "-m", "rotate"]).ok();
    env.secrets(&alice, &["env", "rename", "development", "dev"])
        .ok();
    env.git(&alice, &["add", "-A"]).ok();
    env.git(&alice, &["commit", "-q", "-m", "rename"]).ok();
    assert_eq!(
        env.secrets(&alice, &["get", "-e", "dev", "DB", "--yes"])
            .ok()
            .stdout,
        "dev-password-1\n"
    );
    env.secrets(&alice, &["rotate", "--env", "dev"]).ok();
    env.git(&alice, &["commit", "-q", "-m", "rotate again"])
        .ok();
    let c = clone(&env, &alice, "fresh");
    env.secrets(&c, &["unlock"]).ok();
    assert_eq!(read(c.join(".secrets/dev.env")), "DB=dev-password-1\n");
    assert_eq!(env.git(&c, &["status", "--porcelain"]).ok().stdout, "");
}
