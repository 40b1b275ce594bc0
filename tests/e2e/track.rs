//! `git secrets track`: whole files (binary too) sealed by the filter, git-crypt style,
//! through add, commit, clone, unlock, lock, rotation, merges, the hook and `check`.

use std::path::{Path, PathBuf};

use crate::common::*;

const CERT: &str = "certs/key.p12";

/// Every byte value, NULs and CR LF included: what a text filter would damage.
fn binary() -> Vec<u8> {
    let mut b: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    b.extend_from_slice(b"\r\nsecret-marker-1234\r\n");
    b
}

/// Alice's repository with a development value, a production value and CERT tracked in
/// production, committed.
fn repo_with_cert(env: &Env) -> PathBuf {
    let repo = env.repo("alice", &["--envs"]);
    env.secrets(&repo, &["set", "DB", "dev-password-1"]).ok();
    env.secrets(&repo, &["set", "production", "DB", "prod-password-1"])
        .ok();
    std::fs::create_dir_all(repo.join("certs")).unwrap();
    std::fs::write(repo.join(CERT), binary()).unwrap();
    let out = env
        .secrets(&repo, &["track", CERT, "-e", "production"])
        .ok();
    assert!(out.stderr.contains("git add"), "{}", out.stderr);
    env.commit_all(&repo, "secrets and a certificate");
    repo
}

fn raw_blob(env: &Env, repo: &Path, rev_path: &str) -> Vec<u8> {
    env.git_bytes(repo, &["cat-file", "blob", rev_path])
}

fn assert_sealed(bytes: &[u8]) {
    assert!(bytes.starts_with(b"#gs1:file\ngs1:"), "not sealed");
    let text = String::from_utf8_lossy(bytes);
    assert!(
        !text.contains("secret-marker"),
        "plaintext in the sealed form"
    );
}

#[test]
fn a_tracked_binary_file_round_trips_through_git() {
    let env = Env::new();
    let repo = repo_with_cert(&env);
    assert_sealed(&raw_blob(&env, &repo, &format!("HEAD:{CERT}")));
    assert!(read(repo.join(".secrets/config.toml")).contains("\"certs/key.p12\" = \"production\""));
    let status = env.secrets(&repo, &["status"]).ok().stdout;
    assert!(
        status.contains("tracked files: certs/key.p12 (production)"),
        "{status}"
    );
    let now = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(repo.join(CERT))
        .unwrap()
        .set_modified(now)
        .unwrap();
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
    // A clone holds the sealed form until unlock, then the exact bytes.
    let c = clone(&env, &repo, "clone");
    assert_sealed(&std::fs::read(c.join(CERT)).unwrap());
    env.secrets(&c, &["unlock"]).ok();
    assert_eq!(std::fs::read(c.join(CERT)).unwrap(), binary());
    assert_eq!(env.git(&c, &["status", "--porcelain"]).ok().stdout, "");
    // The diff says only that it changed; log -p never shows the content.
    let mut changed = binary();
    changed.extend_from_slice(b"more-secret-5678");
    std::fs::write(c.join(CERT), &changed).unwrap();
    let diff = env.git(&c, &["diff"]).ok().stdout;
    assert!(
        diff.contains("Binary files") && !diff.contains("more-secret"),
        "{diff}"
    );
    env.commit_all(&c, "new certificate");
    let log = env.git(&c, &["log", "-p"]).ok().stdout;
    assert!(!log.contains("secret-marker") && !log.contains("more-secret"));
    assert_sealed(&raw_blob(&env, &c, &format!("HEAD:{CERT}")));
    // lock puts the sealed form back; unlock opens it again.
    env.secrets(&c, &["lock"]).ok();
    assert_sealed(&std::fs::read(c.join(CERT)).unwrap());
    assert_eq!(env.git(&c, &["status", "--porcelain"]).ok().stdout, "");
    env.secrets(&c, &["unlock"]).ok();
    assert_eq!(std::fs::read(c.join(CERT)).unwrap(), changed);
}

#[test]
fn without_access_the_file_stays_sealed_and_cannot_be_replaced_in_plaintext() {
    let env = Env::new();
    let repo = repo_with_cert(&env);
    let (bob, b, id) = bob_joins(&env, &repo);
    approve_and_unlock(&env, &repo, &bob, &b, &id, "development");
    assert_sealed(&std::fs::read(b.join(CERT)).unwrap());
    assert_eq!(bob.git(&b, &["status", "--porcelain"]).ok().stdout, "");
    std::fs::write(b.join(CERT), b"bob's own plaintext").unwrap();
    let out = bob.git(&b, &["add", CERT]).fails();
    assert!(
        out.stderr.contains(CERT) && out.stderr.contains("no access to production"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_hook_and_check_refuse_a_tracked_file_stored_in_plaintext() {
    let env = Env::new();
    let repo = repo_with_cert(&env);
    std::fs::write(repo.join(CERT), b"secret-marker-plain").unwrap();
    // The filter bypassed: git stores the bytes as they are.
    env.git(
        &repo,
        &[
            "-c",
            "filter.secrets.process=",
            "-c",
            "filter.secrets.required=false",
            "add",
            CERT,
        ],
    )
    .ok();
    let out = env.git(&repo, &["commit", "-q", "-m", "leak"]);
    assert!(!out.success(), "{out:?}");
    assert!(
        out.stderr.contains(CERT) && out.stderr.contains("not in encrypted form"),
        "{}",
        out.stderr
    );
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "leak"])
        .ok();
    let out = env.secrets(&repo, &["check", "HEAD~1..HEAD"]).fails();
    assert!(
        out.stdout.contains(CERT) || out.stderr.contains(CERT),
        "{out:?}"
    );
}

#[test]
fn tampered_or_moved_sealed_files_are_refused() {
    let env = Env::new();
    let repo = repo_with_cert(&env);
    let sealed = raw_blob(&env, &repo, &format!("HEAD:{CERT}"));
    // The same sealed bytes at another tracked path do not open there.
    let other = "certs/other.p12";
    std::fs::write(repo.join(other), b"x").unwrap();
    env.secrets(&repo, &["track", other, "-e", "production"])
        .ok();
    std::fs::write(repo.join(other), &sealed).unwrap();
    let out = env.git(&repo, &["add", other]).fails();
    assert!(
        out.stderr.contains(other) && out.stderr.contains("does not decrypt"),
        "{}",
        out.stderr
    );
    // An edited token does not open at its own path either.
    let mut bad = sealed.clone();
    let i = bad.len() - 10;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    std::fs::write(repo.join(CERT), &bad).unwrap();
    let out = env.git(&repo, &["add", CERT]).fails();
    assert!(out.stderr.contains(CERT), "{}", out.stderr);
    assert_eq!(raw_blob(&env, &repo, &format!(":{CERT}")), sealed);
}

#[test]
fn removal_reseals_tracked_files_and_later_versions_stay_closed() {
    let env = Env::new();
    let repo = repo_with_cert(&env);
    let (bob, b, id) = bob_joins(&env, &repo);
    approve_and_unlock(&env, &repo, &bob, &b, &id, "production");
    assert_eq!(std::fs::read(b.join(CERT)).unwrap(), binary());
    let before = raw_blob(&env, &repo, &format!("HEAD:{CERT}"));
    let out = env.secrets(&repo, &["member", "remove", &id]).ok();
    assert!(out.stdout.contains(CERT), "listed as seen: {}", out.stdout);
    env.git(&repo, &["commit", "-q", "-m", "remove bob"]).ok();
    let after = raw_blob(&env, &repo, &format!("HEAD:{CERT}"));
    assert_sealed(&after);
    assert_ne!(before, after, "re-sealed under the new key");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
    std::fs::write(repo.join(CERT), b"secret-marker-new-version").unwrap();
    env.commit_all(&repo, "new version");
    pull(&bob, &b, &repo);
    let bytes = std::fs::read(b.join(CERT)).unwrap();
    assert_sealed(&bytes);
    // Alice still opens the old version through the key chain.
    env.git(&repo, &["checkout", "-q", "HEAD~2", "--", CERT])
        .ok();
    assert_eq!(std::fs::read(repo.join(CERT)).unwrap(), binary());
}

#[test]
fn a_merge_of_two_versions_conflicts_without_damage() {
    let env = Env::new();
    let repo = repo_with_cert(&env);
    env.git(&repo, &["checkout", "-q", "-b", "other"]).ok();
    std::fs::write(repo.join(CERT), b"secret-marker-other").unwrap();
    env.commit_all(&repo, "other");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    std::fs::write(repo.join(CERT), b"secret-marker-main").unwrap();
    env.commit_all(&repo, "main");
    let out = env.git(&repo, &["merge", "-q", "other"]);
    assert!(!out.success(), "a conflict: {out:?}");
    // Ours stays whole in the work tree: no markers spliced into either form.
    assert_eq!(read(repo.join(CERT)), "secret-marker-main");
    std::fs::write(repo.join(CERT), b"secret-marker-resolved").unwrap();
    env.git(&repo, &["add", CERT]).ok();
    env.git(&repo, &["commit", "-q", "--no-edit"]).ok();
    assert_sealed(&raw_blob(&env, &repo, &format!("HEAD:{CERT}")));
    assert_eq!(read(repo.join(CERT)), "secret-marker-resolved");
}

#[test]
fn bad_track_requests_change_nothing() {
    let env = Env::new();
    let repo = env.repo("r", &["--envs"]);
    std::fs::create_dir_all(repo.join("certs")).unwrap();
    std::fs::write(repo.join("certs/a b.pem"), b"x").unwrap();
    let config = read(repo.join(".secrets/config.toml"));
    let attributes = read(repo.join(".gitattributes"));
    for (args, says) in [
        (vec!["track", "../outside"], "outside"),
        (vec!["track", ".secrets/x.bin"], "inside .git or .secrets"),
        (vec!["track", "certs/a b.pem"], "would not read literally"),
        (vec!["track", "certs"], "is a directory"),
        (
            vec!["track", "certs/x.pem", "-e", "nope"],
            "unknown environment",
        ),
    ] {
        let out = env.secrets(&repo, &args).fails();
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    assert_eq!(read(repo.join(".secrets/config.toml")), config);
    assert_eq!(read(repo.join(".gitattributes")), attributes);
    env.secrets(&repo, &["lock"]).ok();
    let out = env.secrets(&repo, &["track", "certs/x.pem"]).fails();
    assert!(out.stderr.contains("locked"), "{}", out.stderr);
}

#[test]
fn environments_and_doctor_know_tracked_files() {
    let env = Env::new();
    let repo = repo_with_cert(&env);
    let out = env
        .secrets(&repo, &["env", "del", "production", "--yes"])
        .fails();
    assert!(out.stderr.contains(CERT), "{}", out.stderr);
    env.secrets(&repo, &["env", "rename", "production", "prod"])
        .ok();
    assert!(read(repo.join(".secrets/config.toml")).contains("\"certs/key.p12\" = \"prod\""));
    env.commit_all(&repo, "rename");
    let c = clone(&env, &repo, "clone");
    env.secrets(&c, &["unlock"]).ok();
    assert_eq!(std::fs::read(c.join(CERT)).unwrap(), binary());
    // A lost attribute line is found and put back.
    let attributes = read(c.join(".gitattributes"));
    write(
        c.join(".gitattributes"),
        &attributes.replace(
            "/certs/key.p12 filter=secrets -diff merge=binary -text\n",
            "",
        ),
    );
    let out = env.secrets(&c, &["doctor"]).fails();
    assert!(
        out.stdout.contains("/certs/key.p12 filter=secrets"),
        "{}",
        out.stdout
    );
    env.secrets(&c, &["doctor", "--fix"]).ok();
    assert!(read(c.join(".gitattributes")).contains("/certs/key.p12 filter=secrets"));
}

#[test]
fn tracking_a_file_already_committed_warns_that_history_keeps_it() {
    let env = Env::new();
    let repo = env.repo("r", &["--envs"]);
    write(repo.join("token.txt"), "secret-marker-committed\n");
    env.commit_all(&repo, "oops");
    // Long committed: git trusts the file's stat and would not clean it again.
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(repo.join("token.txt"))
        .unwrap()
        .set_modified(past)
        .unwrap();
    env.git(&repo, &["update-index", "--refresh"]).ok();
    let out = env
        .secrets(&repo, &["track", "token.txt", "-e", "production"])
        .ok();
    assert!(
        out.stderr.contains("already in git in plaintext"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("git add --renormalize -- token.txt"),
        "{}",
        out.stderr
    );
    // Only attributes changed: a plain `git add -A` leaves the plaintext blob, and the
    // hook (which then checks every routed blob, not only changed ones) refuses the
    // commit; renormalizing seals it.
    env.git(&repo, &["add", "-A"]).ok();
    let out = env.git(&repo, &["commit", "-q", "-m", "track it"]);
    assert!(
        !out.success() && out.stderr.contains("token.txt"),
        "{out:?}"
    );
    env.git(&repo, &["add", "--renormalize", "--", "token.txt"])
        .ok();
    env.git(&repo, &["commit", "-q", "-m", "track it"]).ok();
    assert_sealed(&raw_blob(&env, &repo, "HEAD:token.txt"));
    assert_eq!(read(repo.join("token.txt")), "secret-marker-committed\n");
}

#[test]
fn a_moved_or_copied_tracked_file_is_not_committed_in_plaintext() {
    let env = Env::new();
    let repo = repo_with_cert(&env);
    // `git mv` moves the sealed blob to a path that is not routed: committed like that,
    // a later add of the plaintext there would not be sealed.
    env.git(&repo, &["mv", CERT, "certs/moved.p12"]).ok();
    let out = env.git(&repo, &["commit", "-q", "-m", "move"]);
    assert!(
        !out.success()
            && out
                .stderr
                .contains("certs/moved.p12: is a tracked file's sealed form"),
        "{out:?}"
    );
    // And the next add stages the plaintext there.
    std::fs::copy(repo.join("certs/moved.p12"), repo.join("copy.p12")).unwrap();
    env.git(&repo, &["add", "-A"]).ok();
    let out = env.git(&repo, &["commit", "-q", "-m", "move"]);
    assert!(!out.success(), "{out:?}");
    for path in ["certs/moved.p12", "copy.p12"] {
        assert!(
            out.stderr.contains(&format!(
                "{path}: holds the plaintext of the tracked file {CERT}"
            )),
            "{}",
            out.stderr
        );
    }
    // Tracking the new path seals it; the copy is unstaged.
    env.secrets(&repo, &["track", "certs/moved.p12", "-e", "production"])
        .ok();
    env.git(&repo, &["add", "--renormalize", "--", "certs/moved.p12"])
        .ok();
    env.git(&repo, &["rm", "-q", "--cached", "--", "copy.p12"])
        .ok();
    env.git(&repo, &["add", ".gitattributes", ".secrets/config.toml"])
        .ok();
    env.git(&repo, &["commit", "-q", "-m", "move"]).ok();
    assert_sealed(&raw_blob(&env, &repo, "HEAD:certs/moved.p12"));
}

// Guards: a tracked file sealed under a key a rotation replaced, put back in the index by
// a pathspec checkout of a stash, is refused by the hook; `git add --renormalize`
// re-seals it under the current key (clean does not keep the staged blob's old key).
#[test]
fn a_tracked_file_under_a_retired_key_is_re_sealed_not_committed() {
    let env = Env::new();
    let repo = repo_with_cert(&env);
    let mut changed = binary();
    changed.extend_from_slice(b"stashed-change-0003\n");
    std::fs::write(repo.join(CERT), &changed).unwrap();
    env.git(&repo, &["stash", "-q"]).ok();
    let key_of = |rev_path: &str| {
        let b = raw_blob(&env, &repo, rev_path);
        String::from_utf8_lossy(&b[b"#gs1:file\ngs1:".len()..][..8]).into_owned()
    };
    let old = key_of("stash@{0}:certs/key.p12");
    env.secrets(&repo, &["rotate", "--env", "production"]).ok();
    env.git(&repo, &["commit", "-q", "-m", "rotate"]).ok();
    let new = key_of(&format!("HEAD:{CERT}"));
    assert_ne!(old, new);
    env.git(&repo, &["checkout", "stash@{0}", "--", CERT]).ok();
    let out = env.git(&repo, &["commit", "-q", "-m", "restore"]).fails();
    assert!(
        out.stderr.contains(&format!(
            "{CERT}: is sealed with key {old}, which a rotation of `production` replaced"
        )) && out
            .stderr
            .contains(&format!("git add --renormalize -- {CERT}")),
        "{}",
        out.stderr
    );
    env.git(&repo, &["add", "--renormalize", "--", CERT]).ok();
    env.git(&repo, &["commit", "-q", "-m", "restore"]).ok();
    assert_eq!(key_of(&format!("HEAD:{CERT}")), new);
    assert_eq!(std::fs::read(repo.join(CERT)).unwrap(), changed);
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
}

// Guards: a tracked file whose .gitattributes routing is lost — a later line gives its
// path another filter (what `git lfs track "*.p12"` appends, or `-filter`), or its line
// is deleted — is still a secret file: its plaintext is refused by the hook and by
// `check`, `status` and `doctor` say so, and `doctor --fix` routes it again.
#[test]
fn a_tracked_file_whose_routing_is_overridden_or_lost_is_not_committed_in_plaintext() {
    for how in ["override", "unset", "delete"] {
        let env = Env::new();
        let repo = repo_with_cert(&env);
        let attrs = read(repo.join(".gitattributes"));
        let line = format!("/{CERT} filter=secrets -diff merge=binary -text");
        assert!(attrs.contains(&line), "{attrs}");
        let changed = match how {
            "override" => format!("{attrs}*.p12 filter=lfs diff=lfs merge=lfs -text\n"),
            "unset" => format!("{attrs}certs/* -filter\n"),
            _ => attrs.replace(&format!("{line}\n"), ""),
        };
        write(repo.join(".gitattributes"), &changed);
        // The routine renewal, as a text file (git's own view of it is not sealed).
        write(repo.join(CERT), "renewed-keystore-secret-marker-5678\n");
        env.git(&repo, &["add", "-A"]).ok();
        let out = env.git(&repo, &["commit", "-q", "-m", "renew"]).fails();
        assert!(
            out.stderr.contains(&format!(
                "{CERT}: is a tracked secret file (listed in .secrets/config.toml) but is not in encrypted form: its `.gitattributes` routing to the secrets filter was lost or overridden"
            )) && out.stderr.contains("`git secrets doctor --fix`") && out.stderr.contains(&format!("git add --renormalize -- {CERT}")),
            "{how}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("secret-marker"), "{}", out.stderr);
        // Committed past the hook, `check` finds it too.
        env.git(&repo, &["commit", "-q", "--no-verify", "-m", "renew"])
            .ok();
        let out = env.secrets(&repo, &["check", "HEAD~1..HEAD"]).fails();
        assert!(
            out.stdout
                .contains(&format!("{CERT}: is a tracked secret file")),
            "{how}: {out:#?}"
        );
        let out = env.secrets(&repo, &["check"]).fails();
        assert!(
            out.stdout
                .contains(&format!("{CERT}: is a tracked secret file")),
            "{how}: {out:#?}"
        );
        env.git(&repo, &["reset", "-q", "--soft", "HEAD~1"]).ok();
        let status = env.secrets(&repo, &["status"]).ok().stdout;
        assert!(
            status.contains("problem: tracked file(s) not routed to the secrets filter")
                && status.contains(CERT),
            "{how}: {status}"
        );
        let out = env.secrets(&repo, &["doctor"]).fails();
        let said = if how == "delete" {
            format!(".gitattributes lacks `{line}`")
        } else {
            format!("tracked file(s) {CERT} are not routed to the secrets filter: a later .gitattributes line overrides theirs")
        };
        assert!(
            out.stdout.contains(&said) || out.stderr.contains(&said),
            "{how}: {out:#?}"
        );
        env.secrets(&repo, &["doctor", "--fix"]).ok();
        let routed = env
            .git(&repo, &["check-attr", "filter", "--", CERT])
            .ok()
            .stdout;
        assert_eq!(routed, format!("{CERT}: filter: secrets\n"), "{how}");
        env.git(&repo, &["add", "--renormalize", "--", CERT]).ok();
        env.git(&repo, &["add", "-A"]).ok();
        env.git(&repo, &["commit", "-q", "-m", "renew"]).ok();
        assert_sealed(&raw_blob(&env, &repo, &format!("HEAD:{CERT}")));
        env.secrets(&repo, &["check", "HEAD~1..HEAD"]).ok();
    }
}
