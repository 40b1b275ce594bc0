//! Values handed to programs and people: what `set` takes as the value, references and
//! escapes as dotenvx reads them, what `run`/`export` may expand (never the identity),
//! and `export`/`get --show` output that reads back to the same values.

use std::path::{Path, PathBuf};

use crate::common::*;

/// A repository with development, staging and production.
fn setup() -> (Env, PathBuf) {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs", "development,staging,production"]);
    (env, repo)
}

/// Imports `text` as a dotenv file into `scope` of `repo`.
fn import(env: &Env, repo: &Path, scope: &[&str], text: &str) -> Out {
    let file = env.path().join("in.env");
    std::fs::write(&file, text).unwrap();
    let args = [&["import", "--file", file.to_str().unwrap()][..], scope].concat();
    env.secrets(repo, &args)
}

/// `git secrets run [SCOPE…] -- printenv KEY`, its output without the final newline.
fn printenv(env: &Env, repo: &Path, scope: &[&str], key: &str) -> Out {
    let args = [&["run"][..], scope, &["--", "printenv", key]].concat();
    let mut out = env.secrets(repo, &args);
    if out.stdout.ends_with('\n') {
        out.stdout.pop();
    }
    out
}

fn value(env: &Env, repo: &Path, scope: &[&str], key: &str) -> String {
    printenv(env, repo, scope, key).ok().stdout
}

// Guards (red team 01): a value referring to GIT_SECRETS_IDENTITY(_FILE), in the scope or
// the service's shared values anyone may write, never carries the identity to the child
// or into an export: the reference is an error naming the key and scope, not the value.
#[test]
fn references_to_the_identity_are_errors() {
    let (mut env, repo) = setup();
    env.secrets(&repo, &["set", "-s", "api", "production", "DB", "pg"])
        .ok();
    let id_path = env.home.join(".config/git-secrets/identity.txt");
    let identity = read(&id_path);
    let secret_line = identity
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_owned();
    std::fs::rename(&id_path, env.path().join("away.txt")).unwrap();
    env.vars
        .push(("GIT_SECRETS_IDENTITY".into(), secret_line.clone()));
    for planted in [
        "BLOB=${GIT_SECRETS_IDENTITY}\n",
        "BLOB=\"x$GIT_SECRETS_IDENTITY\"\n",
        "BLOB=`${GIT_SECRETS_IDENTITY_FILE}`\n",
        "BLOB=${NOWHERE:-$GIT_SECRETS_IDENTITY}\n",
        "BLOB=${GIT_SECRETS_IDENTITY:+set}\n",
    ] {
        import(&env, &repo, &["api", "--shared"], planted).ok();
        for args in [
            &["run", "api", "production", "--", "env"][..],
            &["export", "-y", "api", "production"],
            &["export", "-y", "--format", "json", "api", "production"],
        ] {
            let out = env.secrets(&repo, args).fails();
            assert!(!out.stdout.contains(&secret_line), "{planted}: {out:?}");
            assert!(!out.stderr.contains(&secret_line), "{planted}: {out:?}");
            out.error_names(&["`BLOB`", "api/production", "GIT_SECRETS_"]);
        }
    }
    // Literal text naming it is only text.
    import(
        &env,
        &repo,
        &["api", "--shared"],
        "BLOB='${GIT_SECRETS_IDENTITY}'\n",
    )
    .ok();
    assert_eq!(
        value(&env, &repo, &["api", "production"], "BLOB"),
        "${GIT_SECRETS_IDENTITY}"
    );
}

// Guards (red team 09): a value starting with `-s`/`-e` is the value: no service is
// created from it, nothing of it reaches config.toml or an error; an option spelt
// after KEY is refused; options before KEY and between scope words still work.
#[test]
fn a_value_starting_with_a_dash_is_the_value() {
    let (env, repo) = setup();
    for value in ["-sk9live2pw", "-ePw0rd9X", "--servicezz9"] {
        env.secrets(&repo, &["set", "DB_PASSWORD", value]).ok();
        assert_eq!(value_of_key(&env, &repo, "DB_PASSWORD"), value);
    }
    let config = read(repo.join(".secrets/config.toml"));
    assert!(
        !config.contains("k9live2pw") && !config.contains("zz9"),
        "{config}"
    );
    assert!(!repo.join(".secrets/k9live2pw").exists());
    env.secrets(&repo, &["set", "DB_PASSWORD", "--", "--shared"])
        .ok();
    assert_eq!(value_of_key(&env, &repo, "DB_PASSWORD"), "--shared");
    let out = env
        .secrets(&repo, &["set", "DB_PASSWORD", "--shared"])
        .fails();
    out.error_names(&["--shared", "before KEY"]);
    let out = env
        .secrets(&repo, &["set", "production", "-xPw0rd9Y", "K"])
        .fails();
    assert!(!out.stderr.contains("Pw0rd9Y"), "{out:?}");
    env.secrets(&repo, &["set", "-s", "api", "production", "K", "-e9"])
        .ok();
    env.secrets(&repo, &["set", "api", "--shared", "K", "--", "-s"])
        .ok();
    assert_eq!(value(&env, &repo, &["api", "production"], "K"), "-e9");
    assert_eq!(value(&env, &repo, &["api", "staging"], "K"), "-s");
}

// Guards (red team 6, 04): `set -e=production` and `set -s=api` read like `get -e=production`
// (clap's spelling), not as environment `=production`; a service written after the
// environment is said to be one, with the order to use, not called unknown.
#[test]
fn set_reads_short_flags_with_equals_like_get() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "-e=production", "NEW_KEY", "new-1"])
        .ok();
    env.secrets(&repo, &["set", "-s=api", "-e=staging", "K", "-x"])
        .ok();
    assert_eq!(value(&env, &repo, &["-e=production"], "NEW_KEY"), "new-1");
    assert_eq!(value(&env, &repo, &["api", "staging"], "K"), "-x");
    let out = env
        .secrets(&repo, &["set", "production", "api", "KEY", "v-secret"])
        .fails();
    out.error_names(&["`api` is a known service", "comes first", "api production"]);
    assert!(!out.stderr.contains("neither"), "{out:?}");
    assert!(!out.stderr.contains("v-secret"), "{out:?}");
}

fn value_of_key(env: &Env, repo: &Path, key: &str) -> String {
    let out = env.secrets(repo, &["get", "-y", key]).ok();
    out.stdout.strip_suffix('\n').unwrap().to_owned()
}

// Guards (red team 05): `echo secret | set prod KEY`, with `prod` misspelt, is an error
// listing the known environments; nothing is stored and stdin is not read.
#[test]
fn a_misspelt_scope_before_key_and_value_is_an_error() {
    let (env, repo) = setup();
    let out = env
        .secrets_stdin(&repo, &["set", "prod", "DATABASE_URL"], b"pg://prod-pw\n")
        .fails();
    out.error_names(&["`prod`", "production", "stdin"]);
    assert!(!repo.join(".secrets/development.env").exists());
    assert!(!repo.join(".secrets/production.env").exists());
    // A lowercase key takes its value from stdin; an uppercase one from the word.
    env.secrets_stdin(&repo, &["set", "prod"], b"lower\n").ok();
    env.secrets(&repo, &["set", "KEY", "lowercase-value"]).ok();
    assert_eq!(value_of_key(&env, &repo, "prod"), "lower");
    assert_eq!(value_of_key(&env, &repo, "KEY"), "lowercase-value");
    let out = env.secrets(&repo, &["set", "KEY", "a", "b-secret"]).fails();
    assert!(!out.stderr.contains("b-secret"), "{out:?}");
}

// Guards (red team 06): an empty stdin is not a value: the stored one stays; an explicit
// empty value (a word, or an empty line) still sets it empty.
#[test]
fn set_with_nothing_on_stdin_changes_nothing() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "API_KEY", "sk-live-123"]).ok();
    let out = env.secrets_stdin(&repo, &["set", "API_KEY"], b"").fails();
    out.error_names(&["API_KEY", "stdin was empty", "set API_KEY ''"]);
    assert_eq!(value_of_key(&env, &repo, "API_KEY"), "sk-live-123");
    env.secrets_stdin(&repo, &["set", "API_KEY"], b"\n").ok();
    assert_eq!(value_of_key(&env, &repo, "API_KEY"), "");
    env.secrets(&repo, &["set", "API_KEY", "x"]).ok();
    env.secrets(&repo, &["set", "API_KEY", ""]).ok();
    assert_eq!(value_of_key(&env, &repo, "API_KEY"), "");
}

// Guards (red team 02): sync does not add a placeholder over a key the service's shared
// values give the scope, so run still delivers the real value.
#[test]
fn sync_leaves_keys_from_shared_values_alone() {
    let (env, repo) = setup();
    env.secrets(
        &repo,
        &[
            "set",
            "-s",
            "api",
            "--shared",
            "DATABASE_HOST",
            "db.internal",
        ],
    )
    .ok();
    env.secrets(&repo, &["set", "api", "production", "API_KEY", "real"])
        .ok();
    write(
        repo.join(".env.example"),
        "DATABASE_HOST=localhost\nAPI_KEY=changeme\nNEW_FLAG=1\n",
    );
    env.secrets(&repo, &["sync", "api", "production"]).ok();
    let scope = &["api", "production"];
    assert_eq!(value(&env, &repo, scope, "DATABASE_HOST"), "db.internal");
    assert_eq!(value(&env, &repo, scope, "API_KEY"), "real");
    assert_eq!(value(&env, &repo, scope, "NEW_FLAG"), "1");
}

// Guards (red team 13): get finds and lists a key the scope gets from shared values,
// saying where it comes from, masked like the rest.
#[test]
fn get_shows_keys_from_shared_values() {
    let (env, repo) = setup();
    env.secrets(
        &repo,
        &["set", "-s", "api", "--shared", "URL", "https://api.example"],
    )
    .ok();
    env.secrets(&repo, &["set", "api", "production", "TOKEN", "t-secret"])
        .ok();
    let out = env
        .secrets(&repo, &["get", "-y", "api", "production", "URL"])
        .ok();
    assert_eq!(out.stdout, "https://api.example\n");
    assert!(out.stderr.contains("api/shared"), "{out:?}");
    let out = env.secrets(&repo, &["get", "api", "production"]).ok();
    assert_eq!(
        out.stdout,
        "TOKEN=********\nURL=********  # from api/shared\n"
    );
}

// Guards (red team 03, 10): `\$`, `$NAME` and references in backticks mean what dotenvx
// makes of them; `PATH=${PATH}:…` extends the inherited value.
#[test]
fn escapes_and_references_follow_dotenvx() {
    let (env, repo) = setup();
    import(
        &env,
        &repo,
        &[],
        concat!(
            "AMOUNT=42\nA=\"cost\\${AMOUNT}\"\nB=\\${AMOUNT}\nC=\"\\$HOME\"\n",
            "DB_USER=app\nHOST=db.internal\nURL=postgres://$DB_USER@${HOST}/app\n",
            "ADDR=`${HOST}:5432`\nPRICE=$5\nPATH=${PATH}:/opt/x\n",
        ),
    )
    .ok();
    for (k, v) in [
        ("A", "cost${AMOUNT}"),
        ("B", "${AMOUNT}"),
        ("C", "$HOME"),
        ("URL", "postgres://app@db.internal/app"),
        ("ADDR", "db.internal:5432"),
        ("PRICE", "$5"),
    ] {
        assert_eq!(value(&env, &repo, &[], k), v, "{k}");
    }
    let path = value(&env, &repo, &[], "PATH");
    assert!(path.ends_with(":/opt/x") && path.len() > 7, "{path}");
}

// Guards (red team 04, 08, 12): values holding `${…}`, `$`, a final backslash or every
// kind of quote are exported (`--format dotenv`) and shown (`get --show`) in a form that
// reads back to exactly the same value.
#[test]
fn export_and_get_show_read_back_to_the_same_values() {
    let (env, repo) = setup();
    import(
        &env,
        &repo,
        &[],
        "NAME=world\nGREETING='Hello ${NAME}!'\nREF=\"${NAME}s\"\n",
    )
    .ok();
    let awkward = [
        ("A_DIR", "C:\\build\\"),
        ("PW", "Xk'9\"q`2"),
        ("PRICE", "pa$$word $NAME"),
        ("NOTE", "a \"quoted\" line ending in it'\nsecond line"),
        ("ALL", "it's $5 \"ok\"\n`x`\\"),
    ];
    for (k, v) in awkward {
        env.secrets(&repo, &["set", k, v]).ok();
        assert_eq!(value(&env, &repo, &[], k), v, "{k} set");
    }
    let (_, out_env) = export_dotenv(&env, &repo);
    let shown = env.secrets(&repo, &["get", "--show", "-y"]).ok().stdout;
    write(env.path().join("shown.env"), &shown);
    env.secrets(
        &repo,
        &["import", "--file", out_env.to_str().unwrap(), "staging"],
    )
    .ok();
    let shown_env = env.path().join("shown.env");
    env.secrets(
        &repo,
        &[
            "import",
            "--file",
            shown_env.to_str().unwrap(),
            "production",
        ],
    )
    .ok();
    let want = [("GREETING", "Hello ${NAME}!"), ("REF", "worlds")];
    for scope in ["staging", "production"] {
        for (k, v) in want.iter().chain(awkward.iter()) {
            assert_eq!(value(&env, &repo, &[scope], k), *v, "{k} in {scope}");
        }
    }
    // get --show keeps a reference a reference: production's REF follows NAME.
    env.secrets(&repo, &["set", "production", "NAME", "there"])
        .ok();
    assert_eq!(value(&env, &repo, &["production"], "REF"), "theres");
}

// Guards (red team 6, 01): a value only the escaped dotenv form holds (a final `\` with a
// `$`) is written after every other key, so node dotenv and dotenvx, which run it on into
// the lines after it, lose no other key; the warning names it, not the others, and no
// value; git-secrets reads the file back exactly.
#[test]
fn an_escaped_export_value_is_written_after_every_other_key() {
    let (env, repo) = setup();
    let values = [
        ("A_DIR", "C:\\$Recycle.Bin\\"),
        ("B_TOKEN", "tok-123"),
        ("C_CHANNEL", "#alerts"),
    ];
    for (k, v) in values {
        env.secrets(&repo, &["set", k, "--", v]).ok();
    }
    let (out, out_env) = export_dotenv(&env, &repo);
    let text = read(&out_env);
    let keys: Vec<&str> = text.lines().map(|l| l.split('=').next().unwrap()).collect();
    assert_eq!(keys, ["B_TOKEN", "C_CHANNEL", "A_DIR"], "{text}");
    assert!(
        out.stderr.contains("node dotenv reads A_DIR wrong")
            && out.stderr.contains("dotenvx reads A_DIR wrong")
            && !out.stderr.contains("B_TOKEN")
            && !out.stderr.contains("C_CHANNEL")
            && !out.stderr.contains("Recycle"),
        "{}",
        out.stderr
    );
    env.secrets(
        &repo,
        &["import", "--file", out_env.to_str().unwrap(), "staging"],
    )
    .ok();
    for (k, v) in values {
        assert_eq!(value(&env, &repo, &["staging"], k), v, "{k}");
    }
}

// Guards (red team 07): an unknown reference is an error naming the key, scope and
// position, never the text of the reference (it may be part of a password); a value
// given to set is stored literally (with a note), `--expand` keeps references.
#[test]
fn reference_errors_do_not_show_the_reference() {
    let (env, repo) = setup();
    import(
        &env,
        &repo,
        &[],
        "DB_PASSWORD=Tr0ub${adour}3\nOTHER=x$adour_y\n",
    )
    .ok();
    for args in [&["run", "--", "true"][..], &["export", "-y"]] {
        let out = env.secrets(&repo, args).fails();
        assert!(!out.stderr.contains("adour"), "{out:?}");
        out.error_names(&["`DB_PASSWORD`", "development", "character 6"]);
    }
    import(&env, &repo, &[], "DB_PASSWORD=''\nOTHER=''\n").ok();
    let out = env
        .secrets_stdin(&repo, &["set", "DB_PASSWORD"], b"Tr0ub${adour}3\n")
        .ok();
    assert!(
        !out.stderr.contains("adour") && out.stderr.contains("literally"),
        "{out:?}"
    );
    assert_eq!(value(&env, &repo, &[], "DB_PASSWORD"), "Tr0ub${adour}3");
    env.secrets(&repo, &["set", "HOST", "db"]).ok();
    env.secrets(&repo, &["set", "--expand", "URL", "pg://${HOST}/\\$x"])
        .ok();
    assert_eq!(value(&env, &repo, &[], "URL"), "pg://db/$x");
}

// Guards (red team 14): a chain of references far deeper than the call stack resolves.
#[test]
fn a_deep_reference_chain_resolves() {
    let (env, repo) = setup();
    let n = 30_000;
    let mut text: String = (0..n).map(|i| format!("K{i}=${{K{}}}\n", i + 1)).collect();
    text.push_str(&format!("K{n}=end\n"));
    import(&env, &repo, &[], &text).ok();
    assert_eq!(value(&env, &repo, &[], "K0"), "end");
}

// Guards (red team 11): a file saved with a UTF-8 byte order mark imports; a scope file
// with one is refused with an error that names the BOM.
#[test]
fn import_reads_a_file_with_a_bom() {
    let (env, repo) = setup();
    import(
        &env,
        &repo,
        &[],
        "\u{feff}DATABASE_URL=postgres://db/app\nAPI_KEY=abc\n",
    )
    .ok();
    assert_eq!(value(&env, &repo, &[], "DATABASE_URL"), "postgres://db/app");
    let file = repo.join(".secrets/development.env");
    let text = read(&file);
    std::fs::write(&file, format!("\u{feff}{text}")).unwrap();
    let out = env.secrets(&repo, &["get"]).fails();
    out.error_names(&["byte order mark", "line 1"]);
}

// Guards: a command that cannot be started ends like a shell: 127 not found, 126 not
// executable.
#[test]
fn run_of_a_command_that_cannot_start_exits_like_a_shell() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "K", "v"]).ok();
    let out = env.secrets(&repo, &["run", "--", "no-such-command-xyz"]);
    assert_eq!(out.code, Some(127), "{out:?}");
    assert!(out.stderr.contains("no-such-command-xyz"), "{out:?}");
    let script = env.path().join("not-exec.sh");
    write(&script, "#!/bin/sh\necho hi\n");
    let out = env.secrets(&repo, &["run", "--", script.to_str().unwrap()]);
    assert_eq!(out.code, Some(126), "{out:?}");
}

/// `git secrets export --format dotenv -o out.env` (asserted to succeed): its output and
/// the file's path.
fn export_dotenv(env: &Env, repo: &std::path::Path) -> (Out, std::path::PathBuf) {
    let file = env.path().join("out.env");
    let out = env
        .secrets(
            repo,
            &[
                "export",
                "-y",
                "--format",
                "dotenv",
                "-o",
                file.to_str().unwrap(),
            ],
        )
        .ok();
    (out, file)
}
