//! Plaintext leaks through routes other than a scope file: values in the forms other
//! files hold them in, and what the hooks say about them.

use crate::common::*;

/// Values that `export` writes escaped: a line break, a `"` and a `\`, a `'`.
const CERT: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUcert0042\n-----END CERTIFICATE-----";
const QUOTED: &str = r#"pa"ss\word-0042-xyz"#;
const APOSTROPHE: &str = "it's-a-passphrase-0042";

// Guards: a file `export` wrote (JSON, dotenv or shell) and a commit of it are refused,
// though it holds each value escaped, not as it is: the hook searches for the forms a
// value takes in a quoted string too.
#[test]
fn an_exported_file_holding_values_escaped_is_never_committed() {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs"]);
    for (key, value) in [
        ("TLS_CERT", CERT),
        ("DB_PASS", QUOTED),
        ("PASSPHRASE", APOSTROPHE),
    ] {
        env.secrets(&repo, &["set", "production", key, value]).ok();
    }
    env.commit_all(&repo, "secrets");
    for (format, escaped) in [
        ("json", "TLS_CERT"),
        ("dotenv", "TLS_CERT"),
        ("shell", "PASSPHRASE"),
    ] {
        let name = format!("prod.{format}.txt");
        export(&env, &repo, format, &name);
        // Only the escaped value, so that the form it is found in is the escaped one.
        let text = read(repo.join(&name));
        let line = text
            .lines()
            .find(|l| l.contains(escaped))
            .unwrap_or_else(|| panic!("{escaped} in {text}"));
        write(repo.join(&name), &format!("{line}\n"));
        env.git(&repo, &["add", "--", &name]).ok();
        let out = env.git(&repo, &["commit", "-q", "-m", "export"]).fails();
        assert!(
            out.stderr.contains(&format!(
                "{name}: line 1 contains the plaintext of the secret `{escaped}` (production)"
            )),
            "{format}: {}",
            out.stderr
        );
        for v in [
            "MIIBszCCAVmgAwIBAgIUcert0042",
            "ss\\word-0042",
            "passphrase-0042",
        ] {
            assert!(!out.stderr.contains(v), "{}", out.stderr);
        }
        env.git(&repo, &["rm", "-q", "--cached", "--", &name]).ok();
    }
    // The JSON file whole, with each value escaped: refused, every value counted.
    export(&env, &repo, "json", "prod.json");
    env.git(&repo, &["add", "prod.json"]).ok();
    let out = env.git(&repo, &["commit", "-q", "-m", "export"]).fails();
    assert!(
        out.stderr.contains("prod.json: line 2 contains the plaintext of the secret `DB_PASS` (production), and 2 other secret value(s)"),
        "{}",
        out.stderr
    );
    // And `check` finds it in a commit made without the hooks.
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "export"])
        .ok();
    let out = env.secrets(&repo, &["check"]).fails();
    assert!(
        out.stdout.contains("prod.json") || out.stderr.contains("prod.json"),
        "{out:?}"
    );
}

/// `git secrets export production --format FORMAT -o NAME`, confirmed.
fn export(env: &Env, repo: &std::path::Path, format: &str, name: &str) {
    let args = [
        "export",
        "production",
        "--yes",
        "--format",
        format,
        "-o",
        name,
    ];
    env.secrets(repo, &args).ok();
}

// Guards: a line that takes a scope file out of the filter (`-filter` in a nested
// .gitattributes or in .git/info/attributes, another tool's `filter=`) has git store
// its plaintext; the hook refuses the commit and names that cause and its fix (not
// `unlock`, which would change nothing), and `doctor` names the files.
#[test]
fn a_line_overriding_a_scope_files_routing_is_named_with_its_fix() {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs"]);
    env.secrets(
        &repo,
        &[
            "set",
            "-s",
            "api",
            "production",
            "TOKEN",
            "tok-0042-routing",
        ],
    )
    .ok();
    env.commit_all(&repo, "secrets");
    let f = ".secrets/api/production.env";
    let info = repo.join(".git/info/attributes");
    for (at, line, value) in [
        (
            repo.join(".secrets/api/.gitattributes"),
            "*.env -filter\n",
            "tok-0042-nested",
        ),
        (info, ".secrets/**/*.env filter=other\n", "tok-0042-info"),
    ] {
        write(&at, line);
        let out = env.secrets(&repo, &["doctor"]).fails();
        assert!(
            out.stdout.contains(&format!(
                "secret file(s) {f} are not routed to the secrets filter"
            )) && out.stdout.contains(&format!("git check-attr -a -- {f}")),
            "{out:#?}"
        );
        env.secrets(&repo, &["set", "-s", "api", "production", "TOKEN", value])
            .ok();
        env.git(&repo, &["add", "-A"]).ok();
        let out = env.git(&repo, &["commit", "-q", "-m", "leak"]).fails();
        assert!(
            out.stderr.contains(&format!("{f}: is a secret file (a scope file under .secrets/) but is not in encrypted form: plaintext: git does not route it to the secrets filter")),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&format!("git check-attr -a -- {f}")),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("git secrets unlock"), "{}", out.stderr);
        assert!(!out.stderr.contains("tok-0042"), "{}", out.stderr);
        // The fix as said: the line deleted, the file staged again, sealed.
        std::fs::remove_file(&at).unwrap();
        env.git(&repo, &["add", "-A"]).ok();
        env.git(&repo, &["add", "--renormalize", "--", f]).ok();
        env.git(&repo, &["commit", "-q", "-m", "sealed"]).ok();
        assert!(!blob(&env, &repo, &format!("HEAD:{f}")).contains("tok-0042"));
        env.secrets(&repo, &["doctor"]).ok();
    }
}

// Guards: a value typed in the wrong place (after an option's `=`, for an option that
// takes none or does not exist, or one word too many) is never repeated by the command
// line's error, of either binary; the option is named, the usage and `--help` hint and
// exit status 2 stay, and `--help`/`--version` are as clap writes them.
#[test]
fn a_value_typed_in_the_wrong_place_is_not_repeated_by_a_usage_error() {
    const VALUE: &str = "hunter2-0042-typed";
    let env = Env::new();
    let cargo_secrets = bin().parent().unwrap().join("cargo-secrets");
    let run = |args: &[&str], cargo: bool| {
        if cargo {
            env.run(&cargo_secrets, env.path(), &[&["secrets"], args].concat())
        } else {
            env.secrets(env.path(), args)
        }
    };
    let flag = format!("--show={VALUE}");
    let unknown = format!("--vaule={VALUE}");
    let format = format!("--format={VALUE}");
    let short = format!("-x{VALUE}");
    for cargo in [false, true] {
        for (args, said) in [
            (&["get", &flag, "KEY"][..], "unexpected value for '--show'"),
            (&["lock", &unknown], "unexpected argument '--vaule' found"),
            (&["lock", VALUE], "unexpected argument found"),
            (&["get", &short], "unexpected argument '-x' found"),
            (&[VALUE], "unrecognized subcommand"),
            (
                &["export", "production", &format],
                "invalid value for '--format <FORMAT>'",
            ),
            (
                &["export", "production", "--format", VALUE],
                "[possible values: shell, dotenv, json]",
            ),
        ] {
            let out = run(args, cargo);
            assert_eq!(out.code, Some(2), "{args:?}: {out:#?}");
            assert!(out.stderr.contains(said), "{args:?}: {}", out.stderr);
            assert!(
                out.stderr.contains("For more information, try '--help'."),
                "{args:?}: {}",
                out.stderr
            );
            assert!(
                !out.stderr.contains("hunter2") && !out.stdout.contains("hunter2"),
                "{args:?} repeats the value: {out:#?}"
            );
        }
        let out = run(&["get", &flag, "KEY"], cargo);
        assert!(out.stderr.contains("Usage: "), "{}", out.stderr);
        let out = run(&["set", &unknown, "KEY"], cargo).fails();
        assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
        // Suggestions name what the command defines.
        let out = run(&["get", "--shw"], cargo);
        assert!(
            out.stderr
                .contains("tip: a similar argument exists: '--show'"),
            "{}",
            out.stderr
        );
        let out = run(&["--version"], cargo).ok();
        assert!(out.stdout.starts_with("git-secrets "), "{out:#?}");
        let out = run(&["get", "--help"], cargo).ok();
        assert!(out.stdout.contains("Usage: "), "{out:#?}");
    }
}

// Guards: the blobs a rotation (and a `track` moving a file to another environment)
// writes in one `git fast-import` leave no file outside the git directory: with $TMPDIR
// a path where nothing can be created, both work, and an empty $TMPDIR stays empty.
#[test]
fn writing_blobs_creates_nothing_in_tmpdir() {
    let mut env = Env::new();
    let repo = env.repo("repo", &["--envs"]);
    env.secrets(&repo, &["set", "production", "DB", "prod-password-0042"])
        .ok();
    std::fs::create_dir_all(repo.join("certs")).unwrap();
    write(repo.join("certs/app.p12"), "keystore-0042\n");
    env.secrets(&repo, &["track", "certs/app.p12"]).ok();
    env.commit_all(&repo, "secrets");
    let not_a_dir = env.path().join("tmp-is-a-file");
    write(&not_a_dir, "");
    env.vars
        .push(("TMPDIR".into(), not_a_dir.to_string_lossy().into_owned()));
    env.secrets(&repo, &["rotate", "--env", "production"]).ok();
    env.secrets(&repo, &["track", "certs/app.p12", "-e", "production"])
        .ok();
    env.commit_all(&repo, "rotated, moved");
    let tmp = env.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    env.vars.pop();
    env.vars
        .push(("TMPDIR".into(), tmp.to_string_lossy().into_owned()));
    env.secrets(&repo, &["rotate", "--env", "production"]).ok();
    env.commit_all(&repo, "rotated again");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    // What was written is what git has: the file opens with the new key.
    env.secrets(&repo, &["lock"]).ok();
    env.secrets(&repo, &["unlock"]).ok();
    assert_eq!(read(repo.join("certs/app.p12")), "keystore-0042\n");
    let out = env.secrets(&repo, &["get", "-y", "production", "DB"]).ok();
    assert_eq!(out.stdout.trim(), "prod-password-0042");
}

// Guards: a value is found in the forms other tools give it too: a multi-line value
// saved with CRLF line breaks, JSON as Python writes it (`\u00e4`), as Go writes it
// (`\u003c`), as .NET writes it (`\u00E4`, `\u002B`) and as PHP writes it (`\/`), and
// base64 as in a Kubernetes Secret (padded, or of `echo VALUE | base64`), base64url,
// and base64 of a whole `.env` file (`kubectl create secret --from-file`, the value at
// each of the 3 byte alignments; `base64 FILE`, wrapped at 76 with the value across a
// line break), each refused by the real `git commit`.
#[test]
fn a_value_encoded_by_other_tools_is_never_committed() {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs"]);
    for (key, value) in [
        ("TLS_CERT", CERT),
        ("DB_PASS", "pässwörd-0042-geheim"),
        ("API_TOKEN", "tok<0042>&amp-xyz"),
        ("K8S_PASS", "k8s-db-password-0042"),
        ("DB_URL", "https://app:s3cr3t-0042@db.internal/app"),
        ("TOKEN", "tok~~>>??-0042"),
    ] {
        env.secrets(&repo, &["set", "production", key, value]).ok();
    }
    env.commit_all(&repo, "secrets");
    let crlf = format!("# exported\r\n{}\r\n", CERT.replace('\n', "\r\n"));
    for (name, text, key, line) in [
        ("cert.pem", crlf.as_str(), "TLS_CERT", 2),
        (
            "py.json",
            "{\n  \"db\": \"p\\u00e4ssw\\u00f6rd-0042-geheim\"\n}\n",
            "DB_PASS",
            2,
        ),
        (
            "go.json",
            "{\"token\":\"tok\\u003c0042\\u003e\\u0026amp-xyz\"}\n",
            "API_TOKEN",
            1,
        ),
        (
            "secret.yaml",
            "kind: Secret\ndata:\n  password: azhzLWRiLXBhc3N3b3JkLTAwNDI=\n",
            "K8S_PASS",
            3,
        ),
        (
            "echoed.yaml",
            "data:\n  password: azhzLWRiLXBhc3N3b3JkLTAwNDIK\n",
            "K8S_PASS",
            2,
        ),
        (
            "net.json",
            "{\n  \"db\": \"p\\u00E4ssw\\u00F6rd-0042-geheim\"\n}\n",
            "DB_PASS",
            2,
        ),
        (
            "net2.json",
            "{\"token\":\"tok\\u003C0042\\u003E\\u0026amp-xyz\"}\n",
            "API_TOKEN",
            1,
        ),
        (
            "php.json",
            "{\"url\":\"https:\\/\\/app:s3cr3t-0042@db.internal\\/app\"}\n",
            "DB_URL",
            1,
        ),
        ("url.txt", "token=dG9rfn4-Pj8_LTAwNDI\n", "TOKEN", 1),
        (
            "env0.yaml",
            "data:\n  .env: SzhTX1BBU1M9azhzLWRiLXBhc3N3b3JkLTAwNDIKT1RIRVI9MQo=\n",
            "K8S_PASS",
            2,
        ),
        (
            "env1.yaml",
            "data:\n  .env: QT0xCks4U19QQVNTPWs4cy1kYi1wYXNzd29yZC0wMDQyCk9USEVSPTEK\n",
            "K8S_PASS",
            2,
        ),
        (
            "env2.yaml",
            "data:\n  .env: QUI9MQpLOFNfUEFTUz1rOHMtZGItcGFzc3dvcmQtMDA0MgpPVEhFUj0xCg==\n",
            "K8S_PASS",
            2,
        ),
        (
            "env.b64",
            "IyB0aGUgc3RhZ2luZyBzZXR0aW5ncywgZXhwb3J0ZWQgZm9yIHRoZSBjbHVzdGVyIGJ5IHRoZSBk\nZXBsb3kgc2NyaXB0CkxPR19MRVZFTD1kZWJ1ZwpLOFNfUEFTUz1rOHMtZGItcGFzc3dvcmQtMDA0\nMgo=\n",
            "K8S_PASS",
            2,
        ),
    ] {
        write(repo.join(name), text);
        env.git(&repo, &["add", "--", name]).ok();
        let out = env.git(&repo, &["commit", "-q", "-m", "leak"]).fails();
        assert!(
            out.stderr.contains(&format!(
                "{name}: line {line} contains the plaintext of the secret `{key}` (production)"
            )),
            "{name}: {}",
            out.stderr
        );
        for v in [
            "cert0042",
            "0042-geheim",
            "0042>",
            "azhzLWRi",
            "s3cr3t",
            "~~",
            "LTAwNDI",
        ] {
            assert!(!out.stderr.contains(v), "{}", out.stderr);
        }
        env.git(&repo, &["rm", "-q", "--cached", "--", name]).ok();
    }
}
