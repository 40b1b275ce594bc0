//! The shell's default forms in references (`${NAME:-word}`, `${NAME-word}`, `:+`, `+`,
//! `:?`, `?`), as files migrated from dotenvx hold them: what `run` hands a program and
//! what `export` writes, over shared values and the inherited environment.

use std::path::{Path, PathBuf};

use crate::common::*;

/// A repository with service `api`: shared values `HOST=db.shared` and an empty
/// `SHARED_EMPTY`, and production's values using every form.
fn setup() -> (Env, PathBuf) {
    let mut env = Env::new();
    let repo = env.repo("repo", &["--envs", "development,production"]);
    env.secrets(&repo, &["set", "-s", "api", "production", "PORT", "5432"])
        .ok();
    import(
        &env,
        &repo,
        &["api", "--shared"],
        "HOST=db.shared\nSHARED_EMPTY=\n",
    );
    import(
        &env,
        &repo,
        &["api", "production"],
        concat!(
            "EMPTY=\n",
            "A=${HOST:-localhost}:${PORT:-80}\n",
            "B=${SHARED_EMPTY-unset}|${SHARED_EMPTY:-empty}|${NOWHERE-none}\n",
            "C=${PORT:+on}|${EMPTY:+on}|${EMPTY+set}|${NOWHERE+set}|${NOWHERE:+x}\n",
            "D=\"${NOWHERE:-${FROM_ENV:-x}/\\}}\"\n",
            "E=${FROM_ENV:?needed}${EMPTY?needed}\n",
            "F='${NOWHERE:-lit}'\n",
            "G=${NOWHERE:-}\n",
            "H=${NOWHERE:-$HOST-\\$PORT}\n",
        ),
    );
    env.vars.push(("FROM_ENV".into(), "inherited".into()));
    // The shared value is found first.
    env.vars.push(("HOST".into(), "from-env".into()));
    (env, repo)
}

/// Imports `text` as a dotenv file into `scope` of `repo`.
fn import(env: &Env, repo: &Path, scope: &[&str], text: &str) {
    let file = env.path().join("in.env");
    std::fs::write(&file, text).unwrap();
    let args = [&["import", "--file", file.to_str().unwrap()][..], scope].concat();
    env.secrets(repo, &args).ok();
}

/// What each key of `setup` resolves to.
const WANT: [(&str, &str); 8] = [
    ("A", "db.shared:5432"),
    ("B", "|empty|none"),
    ("C", "on||set||"),
    ("D", "inherited/}"),
    ("E", "inherited"),
    ("F", "${NOWHERE:-lit}"),
    ("G", ""),
    ("H", "db.shared-$PORT"),
];

// Guards: a program run by `run` sees each form's value as POSIX sh (and dotenvx) gives
// it: a key of the shared values or the scope counts as set, then the environment; a
// word's references and `\}` are expanded; single quotes stay literal.
#[test]
fn run_hands_the_program_each_form_as_the_shell_would() {
    let (env, repo) = setup();
    let script = concat!(
        r"printf 'A=[%s]\nB=[%s]\nC=[%s]\nD=[%s]\nE=[%s]\nF=[%s]\nG=[%s]\nH=[%s]\n' ",
        r#""$A" "$B" "$C" "$D" "$E" "$F" "$G" "$H""#,
    );
    let out = env
        .secrets(
            &repo,
            &["run", "api", "production", "--", "sh", "-c", script],
        )
        .ok();
    let want: String = WANT.iter().map(|(k, v)| format!("{k}=[{v}]\n")).collect();
    assert_eq!(out.stdout, want);
}

// Guards: `export` writes the same values `run` gives.
#[test]
fn export_writes_each_form_as_the_shell_would() {
    let (env, repo) = setup();
    let out = env
        .secrets(
            &repo,
            &["export", "-y", "--format", "json", "api", "production"],
        )
        .ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for (k, v) in WANT {
        assert_eq!(json[k], v, "{k}: {}", out.stdout);
    }
}

// Guards: `${NAME:?message}` of a variable set nowhere (or empty) stops `run` before the
// program starts and fails `export`, naming the key, scope and position but neither the
// name nor the message (text of the value, which may be secret).
#[test]
fn a_required_variable_unset_is_an_error_without_its_text() {
    let (env, repo) = setup();
    import(
        &env,
        &repo,
        &["api", "production"],
        "R=ab${NOWHERE:?hunter2 says}\n",
    );
    for args in [
        &["run", "api", "production", "--", "sh", "-c", "echo ran"][..],
        &["export", "-y", "api", "production"],
    ] {
        let out = env.secrets(&repo, args).fails();
        assert!(!out.stdout.contains("ran"), "{out:?}");
        assert!(
            !out.stderr.contains("hunter2") && !out.stderr.contains("NOWHERE"),
            "{out:?}"
        );
        out.error_names(&["`R`", "api/production", "not set", "character 3"]);
    }
    import(&env, &repo, &["api", "production"], "R=${EMPTY:?hunter2}\n");
    let out = env
        .secrets(&repo, &["run", "api", "production", "--", "true"])
        .fails();
    assert!(!out.stderr.contains("hunter2"), "{out:?}");
    out.error_names(&["`R`", "that is empty", "character 1"]);
}
