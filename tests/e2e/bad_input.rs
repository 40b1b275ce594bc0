//! Bad input: each case gets one clear error (non-zero exit, what and where, a `hint:`
//! line), no secret value in any output, and nothing already stored changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::*;

const DEV_SECRET: &str = "dev-secret-value-1";
const OTHER_SECRET: &str = "other-secret-value-2";
const PROD_SECRET: &str = "prod-secret-value-3";
const ALL: &[&str] = &[DEV_SECRET, OTHER_SECRET, PROD_SECRET];

/// Alice's unlocked repository with values in development and production, committed.
fn setup() -> (Env, PathBuf) {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs"]);
    write(
        repo.join(".secrets/development.env"),
        &format!("KEY={DEV_SECRET}\nOTHER=\"{OTHER_SECRET}\"\n"),
    );
    write(
        repo.join(".secrets/production.env"),
        &format!("KEY={PROD_SECRET}\n"),
    );
    env.commit_all(&repo, "secrets");
    (env, repo)
}

/// A fresh clone by Alice: locked, the encrypted form in the work tree.
fn locked_clone(env: &Env, repo: &Path) -> PathBuf {
    env.git(
        env.path(),
        &["clone", "-q", repo.to_str().unwrap(), "clone"],
    )
    .ok();
    env.path().join("clone")
}

/// Every file of the work tree (but .git) and the index, byte for byte.
fn snapshot(env: &Env, repo: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(repo, repo, &mut out);
    let index = env.git(repo, &["ls-files", "-s"]).ok().stdout;
    out.insert("<index>".into(), index.into_bytes());
    let config = env.git(repo, &["config", "--local", "--list"]).ok().stdout;
    out.insert("<config>".into(), config.into_bytes());
    out
}

/// A failure with one `error:` naming each of `names`, a `hint:`, and no secret value.
fn assert_clear_error(out: &Out, names: &[&str]) {
    assert_ne!(out.code, Some(0), "expected failure:\n{out:#?}");
    assert_eq!(
        out.stderr.matches("error:").count(),
        1,
        "one error:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint:"), "a hint:\n{}", out.stderr);
    for n in names {
        assert!(out.stderr.contains(n), "names {n:?}:\n{}", out.stderr);
    }
    assert_no_secret(out);
}

fn assert_no_secret(out: &Out) {
    for s in ALL {
        assert!(
            !out.stdout.contains(s) && !out.stderr.contains(s),
            "reveals {s:?}:\n{out:#?}"
        );
    }
}

/// Replaces the sealed value of `key` in the encrypted file `path` with `f(token)`.
fn edit_token(path: &Path, key: &str, f: impl Fn(&str) -> String) {
    let text = read(path);
    let prefix = format!("{key}=");
    let mut found = false;
    let edited: Vec<String> = text
        .split_inclusive('\n')
        .map(|line| match line.strip_prefix(&prefix) {
            Some(rest) => {
                found = true;
                let token = rest.trim_end_matches('\n');
                assert!(token.starts_with("gs1:"), "{line}");
                format!("{prefix}{}\n", f(token))
            }
            None => line.to_owned(),
        })
        .collect();
    assert!(found, "{key} in {text}");
    write(path, &edited.concat());
}

// Guards: a config.toml that is not TOML is one clear error naming the file and line; nothing changes.
#[test]
fn corrupt_config_toml_is_refused() {
    let (env, repo) = setup();
    let cfg = repo.join(".secrets/config.toml");
    write(&cfg, &format!("{}\nthis is = = not toml\n", read(&cfg)));
    let before = snapshot(&env, &repo);
    for args in [
        &["get"][..],
        &["set", "NEW", "v"][..],
        &["get", "KEY", "--yes"][..],
        &["run", "--", "true"][..],
        &["status"][..],
    ] {
        let out = env.secrets(&repo, args);
        assert_clear_error(&out, &[".secrets/config.toml", "line"]);
    }
    assert_eq!(snapshot(&env, &repo), before);
}

// Guards: a default environment that is not declared is one clear error naming it; nothing changes.
#[test]
fn config_with_unknown_default_environment_is_refused() {
    let (env, repo) = setup();
    let cfg = repo.join(".secrets/config.toml");
    let text = read(&cfg);
    assert!(
        text.contains("default_environment = \"development\""),
        "{text}"
    );
    write(
        &cfg,
        &text.replace(
            "default_environment = \"development\"",
            "default_environment = \"staging\"",
        ),
    );
    let before = snapshot(&env, &repo);
    for args in [&["get"][..], &["set", "NEW", "v"][..]] {
        let out = env.secrets(&repo, args);
        assert_clear_error(&out, &[".secrets/config.toml", "staging"]);
    }
    assert_eq!(snapshot(&env, &repo), before);
}

// Guards: an access.json that is not JSON is one clear error naming the file and line; nothing changes.
#[test]
fn corrupt_access_json_is_refused() {
    let (env, repo) = locked(setup());
    let acc = repo.join(".secrets/access.json");
    let text = read(&acc);
    write(&acc, &text[..text.len() / 2]);
    let before = snapshot(&env, &repo);
    for args in [
        &["get"][..],
        &["set", "NEW", "v"][..],
        &["get", "KEY", "--yes"][..],
        &["unlock"][..],
    ] {
        let out = env.secrets(&repo, args);
        assert_clear_error(&out, &[".secrets/access.json", "line"]);
    }
    assert_eq!(snapshot(&env, &repo), before);
}

// Guards: a member whose id does not match its recipient is refused, naming the member; nothing changes.
#[test]
fn access_member_id_mismatch_is_refused() {
    let (env, repo) = locked(setup());
    let acc = repo.join(".secrets/access.json");
    let json: serde_json::Value = serde_json::from_str(&read(&acc)).unwrap();
    let id = json["members"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    // The id everywhere (members and wrapped keys), so only the mismatch is wrong.
    write(
        &acc,
        &read(&acc).replace(&format!("\"{id}\""), "\"deadbeef\""),
    );
    let before = snapshot(&env, &repo);
    for args in [&["get", "KEY", "--yes"][..], &["unlock"][..]] {
        let out = env.secrets(&repo, args);
        assert_clear_error(&out, &[".secrets/access.json", "deadbeef"]);
        assert!(out.stderr.contains("does not match"), "{}", out.stderr);
    }
    assert_eq!(snapshot(&env, &repo), before);
}

/// Locks the setup repository (the encrypted form in its work tree).
fn locked((env, repo): (Env, PathBuf)) -> (Env, PathBuf) {
    env.secrets(&repo, &["lock"]).ok();
    (env, repo)
}

// Guards: a truncated sealed value is refused naming the file and key; nothing is written.
#[test]
fn truncated_value_is_refused() {
    let (env, repo) = setup();
    let c = locked_clone(&env, &repo);
    let f = c.join(".secrets/development.env");
    edit_token(&f, "OTHER", |t| t[..t.len() - 6].to_owned());
    let before = snapshot(&env, &c);
    for args in [
        &["get", "OTHER", "--yes"][..],
        &["set", "NEW", "v"][..],
        &["unlock"][..],
    ] {
        let out = env.secrets(&c, args);
        assert_clear_error(&out, &[".secrets/development.env", "OTHER", "line 2"]);
    }
    // unlock stops before it configures anything.
    assert_eq!(snapshot(&env, &c), before);
    assert!(!c.join(".git/hooks/pre-commit").exists());
}

// Guards: a value cut down to its key id is refused, never read as a plaintext value or rewritten as plaintext.
#[test]
fn value_cut_to_its_key_id_is_refused() {
    let (env, repo) = setup();
    let c = locked_clone(&env, &repo);
    let f = c.join(".secrets/development.env");
    edit_token(&f, "OTHER", |t| t[.."gs1:".len() + 8].to_owned());
    let before = snapshot(&env, &c);
    for args in [
        &["get", "OTHER", "--yes"][..],
        &["set", "NEW", "plain-new-value"][..],
    ] {
        let out = env.secrets(&c, args);
        assert_clear_error(&out, &[".secrets/development.env", "OTHER"]);
        assert!(!out.stdout.contains("gs1:"), "{out:#?}");
    }
    assert!(!read(&f).contains("plain-new-value"));
    assert_eq!(snapshot(&env, &c), before);
}

// Guards: a tampered sealed value (one character flipped) is refused naming the key.
#[test]
fn tampered_value_is_refused() {
    let (env, repo) = setup();
    let c = locked_clone(&env, &repo);
    let f = c.join(".secrets/development.env");
    edit_token(&f, "KEY", |t| {
        let mid = "gs1:".len() + 9 + 10;
        let mut b = t.as_bytes().to_vec();
        b[mid] = if b[mid] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    });
    let before = snapshot(&env, &c);
    for args in [&["get", "KEY", "--yes"][..], &["run", "--", "true"][..]] {
        let out = env.secrets(&c, args);
        assert_clear_error(&out, &[".secrets/development.env", "KEY", "line 1"]);
    }
    assert_eq!(snapshot(&env, &c), before);
}

// Guards: a value naming a key id nobody has is refused, naming the key and the id.
#[test]
fn unknown_key_id_is_refused() {
    let (env, repo) = setup();
    let c = locked_clone(&env, &repo);
    let f = c.join(".secrets/development.env");
    edit_token(&f, "OTHER", |t| {
        format!("gs1:0badc0de{}", &t["gs1:".len() + 8..])
    });
    let before = snapshot(&env, &c);
    let out = env.secrets(&c, &["get", "OTHER", "--yes"]);
    assert_clear_error(&out, &[".secrets/development.env", "OTHER", "0badc0de"]);
    let out = env.secrets(&c, &["unlock"]);
    assert_clear_error(&out, &[".secrets/development.env", "OTHER", "0badc0de"]);
    let after = snapshot(&env, &c);
    assert_eq!(
        after.get(".secrets/development.env"),
        before.get(".secrets/development.env")
    );
}

// Guards: a scope file copied over another environment's is refused, saying it was sealed for another scope.
#[test]
fn file_moved_to_another_environment_is_refused() {
    let (env, repo) = setup();
    let c = locked_clone(&env, &repo);
    std::fs::copy(
        c.join(".secrets/development.env"),
        c.join(".secrets/production.env"),
    )
    .unwrap();
    let before = snapshot(&env, &c);
    let out = env.secrets(&c, &["get", "production", "KEY", "--yes"]);
    assert_clear_error(&out, &[".secrets/production.env", "KEY", "sealed for"]);
    assert!(out.stderr.contains("development"), "{}", out.stderr);
    let out = env.secrets(&c, &["run", "production", "--", "true"]);
    assert_clear_error(&out, &[".secrets/production.env", "sealed for"]);
    assert_eq!(snapshot(&env, &c), before);
}

// Guards: a service's file copied over another service's (same environment key) is refused as sealed for the other scope.
#[test]
fn file_moved_to_another_service_is_refused() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "-s", "api", "KEY", DEV_SECRET])
        .ok();
    env.secrets(&repo, &["set", "-s", "web", "KEY", OTHER_SECRET])
        .ok();
    env.commit_all(&repo, "services");
    let c = locked_clone(&env, &repo);
    std::fs::copy(
        c.join(".secrets/api/development.env"),
        c.join(".secrets/web/development.env"),
    )
    .unwrap();
    let before = snapshot(&env, &c);
    let out = env.secrets(&c, &["get", "web", "KEY", "--yes"]);
    assert_clear_error(
        &out,
        &[
            ".secrets/web/development.env",
            "KEY",
            "sealed for",
            "api/development",
        ],
    );
    let out = env.secrets(&c, &["set", "web", "NEW", "v"]);
    assert_clear_error(&out, &[".secrets/web/development.env", "sealed for"]);
    assert_eq!(snapshot(&env, &c), before);
}

// Guards: without an identity, reading a locked clone says so and points to `git secrets join`.
#[test]
fn missing_identity_is_refused() {
    let (env, repo) = setup();
    let bob = env.person("bob");
    bob.git(bob.path(), &["clone", "-q", repo.to_str().unwrap(), "bob"])
        .ok();
    let c = bob.path().join("bob");
    let before = snapshot(&bob, &c);
    for args in [
        &["get", "KEY", "--yes"][..],
        &["get"][..],
        &["set", "NEW", "v"][..],
        &["run", "--", "true"][..],
    ] {
        let out = bob.secrets(&c, args);
        assert_clear_error(&out, &["no identity", "git secrets join"]);
    }
    assert_eq!(snapshot(&bob, &c), before);
    assert!(!bob.home.join(".config/git-secrets").exists());
}

/// Writes `bytes` as the plaintext development file, runs `git add -A`, and checks it
/// failed clearly and staged nothing.
fn add_fails(bytes: &[u8], names: &[&str]) -> Out {
    let (env, repo) = setup();
    std::fs::write(repo.join(".secrets/development.env"), bytes).unwrap();
    let index = env.git(&repo, &["ls-files", "-s"]).ok().stdout;
    let out = env.git(&repo, &["add", "-A"]);
    assert_ne!(out.code, Some(0), "{out:#?}");
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);
    for n in [".secrets/development.env"].iter().chain(names) {
        assert!(out.stderr.contains(n), "names {n:?}:\n{}", out.stderr);
    }
    assert_no_secret(&out);
    assert_eq!(
        env.git(&repo, &["ls-files", "-s"]).ok().stdout,
        index,
        "nothing staged"
    );
    assert_eq!(
        std::fs::read(repo.join(".secrets/development.env")).unwrap(),
        bytes
    );
    out
}

// Guards: a non-UTF-8 value stops `git add` with the line named.
#[test]
fn non_utf8_value_fails_git_add() {
    let mut bytes = format!("KEY={DEV_SECRET}\nBAD=").into_bytes();
    bytes.extend_from_slice(b"\xff\xfe-binary\n");
    let out = add_fails(&bytes, &["line 2"]);
    assert!(out.stderr.contains("UTF-8"), "{}", out.stderr);
}

// Guards: a key name with spaces stops `git add` with the line named, but not the text
// (which may be part of a pasted value).
#[test]
fn key_with_spaces_fails_git_add() {
    let bytes = format!("KEY={DEV_SECRET}\nMY KEY={OTHER_SECRET}\n");
    let out = add_fails(bytes.as_bytes(), &["line 2", "not a variable name"]);
    assert!(!out.stderr.contains("MY KEY"), "{}", out.stderr);
}

// Guards: conflict markers left in a secret file fail `git add` (however git is called,
// aliases included), naming the file and line, and nothing is staged; `git diff` and
// `git status`, which clean the same file to compare it, keep working during the
// conflict.
#[test]
fn conflict_marker_fails_git_add_but_not_diff() {
    let bytes =
        format!("<<<<<<< HEAD\nKEY={DEV_SECRET}\n=======\nKEY={OTHER_SECRET}\n>>>>>>> other\n");
    let out = add_fails(
        bytes.as_bytes(),
        &["line 1", "conflict marker", "resolve the conflict"],
    );
    assert_eq!(out.stderr.matches("error:").count(), 1, "{}", out.stderr);
    let (env, repo) = setup();
    let f = repo.join(".secrets/development.env");
    std::fs::write(&f, &bytes).unwrap();
    let index = env.git(&repo, &["ls-files", "-s"]).ok().stdout;
    env.git(&repo, &["config", "alias.stg", "add -u"]).ok();
    let dir = repo.to_str().unwrap();
    for args in [
        &[
            "-C",
            dir,
            "-c",
            "core.quotepath=off",
            "add",
            ".secrets/development.env",
        ][..],
        &["--git-dir", ".git", "stage", "-u"],
        &["--no-pager", "add", "--", "."],
        &["-c", "alias.a=add", "a", ".secrets/development.env"],
        &["stg", "."],
    ] {
        let out = env.git(&repo, args);
        assert_ne!(out.code, Some(0), "{args:?}: {out:#?}");
        assert!(
            out.stderr.contains("conflict marker"),
            "{args:?}: {}",
            out.stderr
        );
        assert_no_secret(&out);
    }
    assert_eq!(
        env.git(&repo, &["ls-files", "-s"]).ok().stdout,
        index,
        "nothing staged"
    );
    let diff = env.git(&repo, &["diff"]).ok();
    assert!(
        diff.stdout.contains(".secrets/development.env"),
        "{diff:#?}"
    );
    assert_no_secret(&diff);
    let status = env.git(&repo, &["status", "--porcelain"]).ok();
    assert_eq!(status.stdout, " M .secrets/development.env\n");
    assert_eq!(std::fs::read(&f).unwrap(), bytes.as_bytes());
}

// Guards: cleaned by a command other than `git add` (here `git commit -a`), a conflict
// gets a warning naming the file and line, and the pre-commit hook refuses the commit.
// (What such a command stages, each side sealed apart: hooks.rs.)
#[test]
fn conflict_marker_in_commit_all_is_refused() {
    let (env, repo) = setup();
    let bytes =
        format!("<<<<<<< HEAD\nKEY={DEV_SECRET}\n=======\nKEY={OTHER_SECRET}\n>>>>>>> other\n");
    std::fs::write(repo.join(".secrets/development.env"), &bytes).unwrap();
    let head = env.git(&repo, &["rev-parse", "HEAD"]).ok().stdout;
    let out = env
        .git(&repo, &["commit", "-a", "-q", "-m", "unresolved"])
        .fails();
    assert!(
        out.stderr.contains(".secrets/development.env")
            && out
                .stderr
                .contains("still has merge conflict markers (line 1)"),
        "{}",
        out.stderr
    );
    assert_no_secret(&out);
    assert_eq!(
        env.git(&repo, &["rev-parse", "HEAD"]).ok().stdout,
        head,
        "nothing committed"
    );
    // The work tree still shows the plaintext conflict to resolve.
    assert_eq!(
        std::fs::read(repo.join(".secrets/development.env")).unwrap(),
        bytes.as_bytes()
    );
}

// Guards: an unterminated quote stops `git add` naming the line and how to fix it.
#[test]
fn unterminated_quote_fails_git_add() {
    let bytes = format!("KEY={DEV_SECRET}\nOTHER=\"{OTHER_SECRET}\n");
    add_fails(
        bytes.as_bytes(),
        &["line 2", "never closed", "close the quote"],
    );
}

// Guards: a bare line (no `=`) stops `git add` without echoing the line, which may be a pasted secret.
#[test]
fn bare_line_fails_git_add_without_echoing_it() {
    let bytes = format!("KEY=v\n{DEV_SECRET}\n");
    add_fails(bytes.as_bytes(), &["line 2"]);
}

// Guards: importing a malformed dotenv file is refused naming the file and line; the scope is untouched.
#[test]
fn import_of_a_malformed_file_is_refused() {
    let (env, repo) = setup();
    let bad = env.path().join("bad.env");
    write(&bad, &format!("NEW=ok\nMY KEY={OTHER_SECRET}\n"));
    let before = snapshot(&env, &repo);
    let out = env.secrets(&repo, &["import", "--file", bad.to_str().unwrap()]);
    assert_clear_error(&out, &["bad.env", "line 2"]);
    assert!(!out.stderr.contains("MY KEY"), "{}", out.stderr);
    assert_eq!(snapshot(&env, &repo), before);
}

/// An unlocked repository whose development file no longer parses.
fn unparseable_plaintext() -> (Env, PathBuf) {
    let (env, repo) = setup();
    write(
        repo.join(".secrets/development.env"),
        &format!("KEY={DEV_SECRET}\nMY KEY={OTHER_SECRET}\n"),
    );
    (env, repo)
}

// Guards: lock with a plaintext file it cannot seal fails naming it and changes nothing.
#[test]
fn lock_with_unparseable_plaintext_changes_nothing() {
    let (env, repo) = unparseable_plaintext();
    let before = snapshot(&env, &repo);
    let out = env.secrets(&repo, &["lock"]).fails();
    for n in [".secrets/development.env", "line 2", "hint:"] {
        assert!(out.stderr.contains(n), "names {n:?}:\n{}", out.stderr);
    }
    assert_no_secret(&out);
    assert_eq!(snapshot(&env, &repo), before);
}

// Guards: that lock failure is one clear message, not a wrapped git failure.
#[test]
fn lock_with_unparseable_plaintext_gives_one_clear_error() {
    let (env, repo) = unparseable_plaintext();
    let out = env.secrets(&repo, &["lock"]);
    assert_clear_error(&out, &[".secrets/development.env", "line 2"]);
    assert!(!out.stderr.contains("fatal:"), "{}", out.stderr);
}

// Guards: a value pasted without quotes over several lines (a webhook URL with a query,
// the end of a base64 key) makes its continuation lines look like malformed entries;
// `import`, `git add`, `get` and `run` name the line and the fix, never that text.
#[test]
fn continuation_lines_of_a_pasted_value_are_never_echoed() {
    const LEAK: &str = "ERRLEAK";
    let (env, repo) = setup();
    let text = format!(
        "SLACK_HOOK=\nhttps://hooks.example/services/T01/{LEAK}-webhook?x=1\nTLS_KEY=MIIEvQIBADANBg\nk9+ab/{LEAK}2keymaterial==\n"
    );
    let bad = env.path().join("bad.env");
    write(&bad, &text);
    let before = snapshot(&env, &repo);
    let out = env.secrets(&repo, &["import", "--file", bad.to_str().unwrap(), "test"]);
    assert_clear_error(&out, &["bad.env", "line 2", "double quotes"]);
    assert!(!out.stderr.contains(LEAK), "{}", out.stderr);
    assert_eq!(snapshot(&env, &repo), before);

    write(repo.join(".secrets/test.env"), &text);
    let outs = [
        env.git(&repo, &["add", "-A"]),
        env.secrets(&repo, &["get", "test"]),
        env.secrets(&repo, &["run", "test", "--", "true"]),
    ];
    for out in outs {
        assert_clear_error(&out, &[".secrets/test.env", "line 2"]);
        assert!(
            !out.stdout.contains(LEAK) && !out.stderr.contains(LEAK),
            "{out:#?}"
        );
    }
}

// Guards: a value starting with `gs1:` (the token prefix) would be taken for a sealed one:
// a file of such lines committed unsealed, one such line making the scope unreadable.
// `set`, `import` and `sync` refuse it, naming the key (never the value), and change
// nothing; quoted, `"gs1:…"`, it is plain text that is sealed like any other.
#[test]
fn values_shaped_like_sealed_ones_are_refused() {
    const LEAK: &str = "TOKLEAK";
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "test", "OTHER", "uncommitted-1"])
        .ok();
    let before = snapshot(&env, &repo);
    for value in [
        format!("gs1:0badc0de:{LEAK}-secret-value_42"),
        format!("gs1:my-{LEAK}-password"),
    ] {
        let out = env.secrets(&repo, &["set", "test", "API_TOKEN", &value]);
        assert_clear_error(&out, &["API_TOKEN", "`gs1:`", "API_TOKEN=\"gs1:…\""]);
        assert!(!out.stderr.contains(LEAK), "{}", out.stderr);
        let out = env.secrets_stdin(&repo, &["set", "test", "API_TOKEN"], value.as_bytes());
        assert_clear_error(&out, &["API_TOKEN", "`gs1:`"]);
    }
    let bad = env.path().join("tokens.env");
    write(&bad, &format!("FINE=1\nAPI_TOKEN=gs1:0badc0de:{LEAK}\n"));
    let out = env.secrets(&repo, &["import", "--file", bad.to_str().unwrap(), "test"]);
    assert_clear_error(&out, &["API_TOKEN", "tokens.env", "`gs1:`"]);
    assert!(!out.stderr.contains(LEAK), "{}", out.stderr);
    let out = env.secrets(&repo, &["sync", "--from", bad.to_str().unwrap(), "test"]);
    assert_clear_error(&out, &["API_TOKEN", "tokens.env"]);
    assert_eq!(snapshot(&env, &repo), before, "nothing changed");
    let out = env
        .secrets(&repo, &["run", "test", "--", "printenv", "OTHER"])
        .ok();
    assert_eq!(out.stdout, "uncommitted-1\n", "the scope stays readable");

    // Quoted, as the hint says: imported, sealed in git, read back exactly.
    write(&bad, &format!("API_TOKEN=\"gs1:0badc0de:{LEAK}\"\n"));
    env.secrets(&repo, &["import", "--file", bad.to_str().unwrap(), "test"])
        .ok();
    env.commit_all(&repo, "quoted");
    assert!(!blob(&env, &repo, "HEAD:.secrets/test.env").contains(LEAK));
    let out = env
        .secrets(&repo, &["run", "test", "--", "printenv", "API_TOKEN"])
        .ok();
    assert_eq!(out.stdout, format!("gs1:0badc0de:{LEAK}\n"));

    // A comment written by hand as `#gs1:…` would make the file look sealed too.
    let path = repo.join(".secrets/test.env");
    let text = read(&path);
    write(&path, &format!("{text}#gs1:{LEAK}-note\n"));
    let out = env.git(&repo, &["add", "-A"]);
    assert_clear_error(
        &out,
        &[".secrets/test.env", "line 3", "#gs1:", "space after"],
    );
    assert!(!out.stderr.contains(LEAK), "{}", out.stderr);
}

// Guards: a `.env` file under `.secrets/` that is no scope file (deeper than a service,
// or a name no environment can have) is refused by the filter: `git add` fails, nothing
// is staged, and the error names the file and where secret files go.
#[test]
fn a_dotenv_file_out_of_place_in_secrets_is_refused_with_where_it_belongs() {
    let (env, repo) = setup();
    for (i, stray) in [".secrets/old/api/production.env", ".secrets/Prod.env"]
        .into_iter()
        .enumerate()
    {
        let path = repo.join(stray);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write(&path, &format!("KEY={}\n", ALL[i]));
        let before = snapshot(&env, &repo);
        let out = env.git(&repo, &["add", "-A"]);
        assert_clear_error(
            &out,
            &[stray, ".secrets/<service>/<env>.env", "git secrets import"],
        );
        assert_eq!(snapshot(&env, &repo), before, "nothing staged or changed");
        std::fs::remove_file(&path).unwrap();
    }
}
