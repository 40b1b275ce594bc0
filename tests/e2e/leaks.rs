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
        env.secrets(
            &repo,
            &[
                "export",
                "production",
                "--yes",
                "--format",
                format,
                "-o",
                &name,
            ],
        )
        .ok();
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
    env.secrets(
        &repo,
        &[
            "export",
            "production",
            "--yes",
            "--format",
            "json",
            "-o",
            "prod.json",
        ],
    )
    .ok();
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
