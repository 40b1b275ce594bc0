//! Values committed in the encodings other tools give them: URL (percent) encoding in a
//! connection string or a form body, hex from a dump, and base64 wrapped at a width
//! that cuts its 4-character groups.

use crate::common::*;

// Guards: a value is found URL-encoded (`%XX` in either case; `+` for a space in form
// encoding, `+` as itself in a URL's user info), hex-encoded (`xxd -p`, wrapped at 60
// with the value across a line break; upper case as a debug log prints it) and in
// base64 wrapped at 50 (`base64 -w 50`: lines that are not whole 4-character groups,
// the value across the second line break or across one inside a group) or at 64 with
// its line breaks escaped in a JSON string; each refused by
// the real `git commit`, naming the file, the line and the key, never the value. A
// commit message holding a URL-encoded secret is refused, and `check` finds a commit
// made without the hooks.
#[test]
fn a_value_url_hex_or_wrap_encoded_is_never_committed() {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs"]);
    for (key, value) in [
        ("DB_PASSWORD", "p@ss/w0rd:x"),
        ("FORM_SECRET", "my pass+word 0042"),
        ("K8S_PASS", "k8s-db-password-0042"),
    ] {
        env.secrets(&repo, &["set", "production", key, value]).ok();
    }
    env.commit_all(&repo, "secrets");
    let cases = [
        (
            "docker-compose.yml",
            "services:\n  api:\n    environment:\n      DATABASE_URL: postgres://app:p%40ss%2Fw0rd%3Ax@db:5432/app\n",
            "DB_PASSWORD",
            4,
        ),
        (
            "config.json",
            "{\n  \"db\": \"postgres://app:p%40ss%2fw0rd%3ax@db/app?sslmode=require\"\n}\n",
            "DB_PASSWORD",
            2,
        ),
        (
            "form.txt",
            "POST /login\n\nuser=ops&secret=my+pass%2Bword+0042&next=%2F\n",
            "FORM_SECRET",
            3,
        ),
        (
            "userinfo.yaml",
            "url: https://ops:my%20pass+word%200042@example.com/\n",
            "FORM_SECRET",
            1,
        ),
        (
            "dump.hex",
            "413d310a4b38535f504153533d6b38732d64622d70617373776f72642d30\n3034320a544f4b454e5f4e414d453d6465706c6f790a\n",
            "K8S_PASS",
            1,
        ),
        (
            "debug.log",
            "INFO start\nDEBUG db auth bytes=704073732F773072643A78 len=11\n",
            "DB_PASSWORD",
            2,
        ),
        (
            "staging.b64",
            "IyBzdGFnaW5nIHNldHRpbmdzLCBleHBvcnRlZCBieSB0aGUgZG\nVwbG95IGpvYgpMT0dfTEVWRUw9ZGVidWcKSzhTX1BBU1M9azhz\nLWRiLXBhc3N3b3JkLTAwNDIKT1RIRVI9MQo=\n",
            "K8S_PASS",
            2,
        ),
        (
            "settings.b64",
            "IyBzdGFnaW5nIHNldHRpbmdzLCBleHBvcnRlZCBmb3IgdGhlIG\nNsdXN0ZXIgYnkgdGhlIG5pZ2h0bHkgZGVwbG95IGpvYgpMT0df\nTEVWRUw9ZGVidWcKSzhTX1BBU1M9azhzLWRiLXBhc3N3b3JkLT\nAwNDIKT1RIRVI9MQo=\n",
            "K8S_PASS",
            3,
        ),
        (
            "deploy.json",
            "{\n  \"env_b64\": \"IyBzdGFnaW5nIHNldHRpbmdzLCBleHBvcnRlZCBmb3IgdGhlIGNsdXN0ZXIgYnkg\\ndGhlIGRlcGxveSBqb2IKTE9HX0xFVkVMPWRlYnVnCks4U19QQVNTPWs4cy1kYi1w\\nYXNzd29yZC0wMDQyCk9USEVSPTEK\\n\"\n}\n",
            "K8S_PASS",
            2,
        ),
    ];
    // Every case is tried before any is judged, so a failure names each one missed.
    let mut missed = Vec::new();
    for (name, text, key, line) in cases {
        write(repo.join(name), text);
        env.git(&repo, &["add", "--", name]).ok();
        let out = env.git(&repo, &["commit", "-q", "-m", "leak"]);
        let said = format!(
            "{name}: line {line} contains the plaintext of the secret `{key}` (production)"
        );
        if out.success() || !out.stderr.contains(&said) {
            missed.push(format!("{name}: {}", out.stderr));
        }
        for v in [
            "w0rd",
            "pass+word",
            "pass%2B",
            "password-0042",
            "6b38732d",
            "YXNzd29y",
        ] {
            assert!(!out.stderr.contains(v), "{}", out.stderr);
        }
        if out.success() {
            env.git(&repo, &["reset", "-q", "--soft", "HEAD~"]).ok();
        }
        env.git(&repo, &["rm", "-q", "--cached", "--", name]).ok();
    }
    assert!(
        missed.is_empty(),
        "not refused as said:\n{}",
        missed.join("\n")
    );
    // The commit-msg hook searches the message the same way.
    let out = env
        .git(
            &repo,
            &[
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "db: postgres://app:p%40ss%2Fw0rd%3Ax@db",
            ],
        )
        .fails();
    assert!(
        out.stderr
            .contains("commit message: line 1 contains the plaintext of the secret `DB_PASSWORD` (production)"),
        "{}",
        out.stderr
    );
    // `check` finds what a commit made without the hooks holds.
    let (name, text, _, _) = cases[4];
    assert_eq!(name, "dump.hex");
    write(repo.join(name), text);
    env.git(&repo, &["add", "--", "dump.hex"]).ok();
    env.git(&repo, &["commit", "-q", "--no-verify", "-m", "dump"])
        .ok();
    let out = env.secrets(&repo, &["check"]).fails();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains(
            "dump.hex: line 1 contains the plaintext of the secret `K8S_PASS` (production)"
        ),
        "{out:?}"
    );
    assert!(!all.contains("6b38732d"), "{all}");
}
