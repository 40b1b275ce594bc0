//! The everyday commands end to end through the real git: set, get, unset, scopes,
//! nesting, shared values, run, import, export, sync, env, locked and unlocked clones.

use std::path::{Path, PathBuf};

use crate::common::*;

/// A repository with development, test and production.
fn setup() -> (Env, PathBuf) {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs"]);
    (env, repo)
}

/// `git secrets get [words…] KEY --yes`: the revealed value, trailing newline removed.
fn reveal(env: &Env, cwd: &Path, words: &[&str]) -> String {
    let out = env
        .secrets(cwd, &[&["get"], words, &["--yes"]].concat())
        .ok();
    out.stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("no trailing newline: {out:?}"))
        .to_owned()
}

/// The names of every file under `.secrets/` (relative), sorted.
fn secrets_files(repo: &Path) -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo.join(".secrets"), repo, &mut out);
    out.sort();
    out
}

/// Runs `sh -c script` in `cwd` with the person's environment.
fn sh(env: &Env, cwd: &Path, script: &str) -> Out {
    env.run("sh", cwd, &["-c", script])
}

fn assert_no_leak(out: &Out, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !out.stdout.contains(s) && !out.stderr.contains(s),
            "output reveals {s:?}:\n{out:#?}"
        );
    }
}

// Guards: a value given on the command line is stored and comes back exactly.

/// Imports `text` as a dotenv file into the default scope of `repo`.
fn import_text(env: &Env, repo: &std::path::Path, text: &str) {
    let file = env.path().join("in.env");
    write(&file, text);
    env.secrets(repo, &["import", "--file", file.to_str().unwrap()])
        .ok();
}

/// `git secrets run [SCOPE…] -- sh -c SCRIPT`.
fn run_sh(env: &Env, repo: &Path, scope: &[&str], script: &str) -> Out {
    let mut args = vec!["run"];
    args.extend_from_slice(scope);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    env.secrets(repo, &args)
}

#[test]
fn set_on_command_line_then_get_reveals_it() {
    let (env, repo) = setup();
    let out = env
        .secrets(&repo, &["set", "DB_PASS", "hunter2 with spaces"])
        .ok();
    assert_no_leak(&out, &["hunter2"]);
    assert_eq!(reveal(&env, &repo, &["DB_PASS"]), "hunter2 with spaces");
}

// Guards: a single-line value read from stdin loses its one final newline (`echo v |`);
// a multi-line one (an OpenSSH private key file) is stored byte for byte, final newline
// included, so the key still loads.
#[test]
fn set_from_stdin_keeps_multi_line_values_exactly() {
    let (env, repo) = setup();
    let key_file = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/ssh/id_ed25519"),
    )
    .unwrap();
    assert!(key_file.ends_with("-----\n"));
    let crlf_key = key_file.replace('\n', "\r\n");
    for (key, input, value) in [
        ("ONE", "piped-value\n", "piped-value"),
        ("CRLF", "piped-value\r\n", "piped-value"),
        ("NONE", "no newline", "no newline"),
        ("TWO", "kept newline\n\n", "kept newline\n\n"),
        ("PEM", key_file.as_str(), key_file.as_str()),
        ("PEM_CRLF", crlf_key.as_str(), crlf_key.as_str()),
    ] {
        env.secrets_stdin(&repo, &["set", key], input.as_bytes())
            .ok();
        let out = run_sh(&env, &repo, &[], &format!("printf %s \"${key}\"")).ok();
        assert_eq!(out.stdout, value, "{key}");
    }
    env.commit_all(&repo, "values");
    let out = run_sh(&env, &repo, &[], "printf %s \"$PEM\"").ok();
    assert_eq!(out.stdout, key_file, "after a commit");
}

// Guards: invalid key names are refused with a clear error and nothing is written.
#[test]
fn invalid_key_names_are_rejected() {
    let (env, repo) = setup();
    let before = secrets_files(&repo);
    for key in ["MY KEY", "1ABC", "A-B"] {
        let out = env.secrets(&repo, &["set", key, "value-xyz"]).fails();
        out.error_names(&["KEY argument", "not a valid variable name"]);
        assert_no_leak(&out, &["value-xyz", key]);
    }
    // `KEY=VALUE` as one word: the value part is never echoed.
    let out = env.secrets(&repo, &["set", "KEY=value-xyz"]).fails();
    out.error_names(&["KEY=…", "not a valid variable name", "two words"]);
    assert_no_leak(&out, &["value-xyz"]);
    // Other one-word forms (`KEY: value`, `KEY value`, an invalid name before `=`) hold
    // the value in the invalid name itself: the name is never echoed, by any command.
    for args in [
        &["set", "-e", "production", "DB_PASS: hunter2-echoed"][..],
        &["set", "DB PASS=hunter2-echoed"],
        &["get", "API_KEY sk-echoed"],
        &["unset", "API_KEY: sk-echoed"],
        &["set", "KEY=sk-echoed", "x", "y"],
    ] {
        let out = env.secrets(&repo, args).fails();
        assert_no_leak(&out, &["hunter2", "sk-echoed"]);
    }
    let out = env.secrets(&repo, &["get", "API_KEY sk-echoed"]).fails();
    out.error_names(&[
        "KEY argument",
        "not a valid variable name",
        "letters, digits",
    ]);
    assert_eq!(secrets_files(&repo), before, "no file created");
}

// Guards: the masked list shows every key and never a value.
#[test]
fn get_lists_keys_masked() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "API_KEY", "sk-live-abc123"])
        .ok();
    env.secrets(&repo, &["set", "DB_URL", "postgres://u:pw-987@db/app"])
        .ok();
    let out = env.secrets(&repo, &["get"]).ok();
    assert!(out.stdout.contains("API_KEY=********"), "{}", out.stdout);
    assert!(out.stdout.contains("DB_URL=********"), "{}", out.stdout);
    assert_no_leak(&out, &["sk-live", "pw-987"]);
}

// Guards: revealing (`get KEY`, `get --show`) needs --yes when there is no terminal.
#[test]
fn get_reveal_refuses_without_terminal_unless_yes() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "TOKEN", "tok-secret-42"]).ok();
    for args in [&["get", "TOKEN"][..], &["get", "--show"][..]] {
        let out = env.secrets(&repo, args).fails();
        assert!(out.stderr.contains("--yes"), "{args:?}: {}", out.stderr);
        assert_no_leak(&out, &["tok-secret-42"]);
    }
    assert_eq!(
        env.secrets(&repo, &["get", "TOKEN", "--yes"]).ok().stdout,
        "tok-secret-42\n"
    );
    let out = env.secrets(&repo, &["get", "--show", "--yes"]).ok();
    assert!(out.stdout.contains("TOKEN=tok-secret-42"), "{}", out.stdout);
}

// Guards: unset removes one key and leaves the others; unsetting a missing key fails.
#[test]
fn unset_removes_a_key() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "KEEP", "keep-me"]).ok();
    env.secrets(&repo, &["set", "DROP", "drop-me"]).ok();
    env.secrets(&repo, &["unset", "DROP"]).ok();
    let out = env.secrets(&repo, &["get"]).ok();
    assert!(out.stdout.contains("KEEP="), "{}", out.stdout);
    assert!(!out.stdout.contains("DROP"), "{}", out.stdout);
    assert!(!read(repo.join(".secrets/development.env")).contains("drop-me"));
    let out = env.secrets(&repo, &["unset", "DROP"]).fails();
    assert!(out.stderr.contains("DROP"), "{}", out.stderr);
}

// Guards: `development` is the default environment.
#[test]
fn development_is_the_default_environment() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "KEY", "dev-value"]).ok();
    assert!(repo.join(".secrets/development.env").exists());
    assert!(!repo.join(".secrets/production.env").exists());
    assert_eq!(reveal(&env, &repo, &["development", "KEY"]), "dev-value");
    assert_eq!(
        reveal(&env, &repo, &["-e", "development", "KEY"]),
        "dev-value"
    );
}

// Guards: a positional environment word selects that environment's file only.
#[test]
fn positional_environment_selects_the_scope() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "production", "KEY", "prod-value"])
        .ok();
    assert!(repo.join(".secrets/production.env").exists());
    assert!(!repo.join(".secrets/development.env").exists());
    assert_eq!(reveal(&env, &repo, &["production", "KEY"]), "prod-value");
    assert_eq!(
        reveal(&env, &repo, &["--env", "production", "KEY"]),
        "prod-value"
    );
    env.secrets(&repo, &["get", "KEY", "--yes"]).fails();
}

// Guards: `-s` creates a service; afterwards `set api production KEY v` finds it.
#[test]
fn service_flag_creates_a_service_then_positional_words_work() {
    let (env, repo) = setup();
    env.secrets(
        &repo,
        &["set", "-s", "api", "-e", "test", "A", "flag-value"],
    )
    .ok();
    assert!(repo.join(".secrets/api/test.env").exists());
    assert!(
        read(repo.join(".secrets/config.toml")).contains("api"),
        "service recorded"
    );
    env.secrets(
        &repo,
        &["set", "api", "production", "B", "positional-value"],
    )
    .ok();
    assert!(repo.join(".secrets/api/production.env").exists());
    assert_eq!(
        reveal(&env, &repo, &["api", "production", "B"]),
        "positional-value"
    );
    assert_eq!(
        reveal(&env, &repo, &["--service", "api", "--env", "test", "A"]),
        "flag-value"
    );
    // `api` alone means api in the default environment.
    env.secrets(&repo, &["set", "api", "C", "dev-value"]).ok();
    assert!(repo.join(".secrets/api/development.env").exists());
}

// Guards: `service add` declares a service before any value, so positional words find it;
// a bad or taken name changes nothing.
#[test]
fn service_add_declares_a_service_and_list_shows_it() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "web", "KEY", "v"]).fails();
    env.secrets(&repo, &["service", "add", "web"]).ok();
    env.secrets(&repo, &["set", "web", "KEY", "web-value"]).ok();
    assert_eq!(reveal(&env, &repo, &["web", "KEY"]), "web-value");
    let config = read(repo.join(".secrets/config.toml"));
    for bad in ["web", "production", "Not Valid"] {
        env.secrets(&repo, &["service", "add", bad]).fails();
    }
    assert_eq!(read(repo.join(".secrets/config.toml")), config);
    env.secrets(&repo, &["service", "add", "worker"]).ok();
    assert_eq!(
        env.secrets(&repo, &["service", "list"]).ok().stdout,
        "web\t1 scope file(s)\nworker\t0 scope file(s)\n"
    );
}

// Guards: an unknown positional word is an error listing the known ones; no file or service appears.
#[test]
fn unknown_positional_word_is_an_error_and_creates_nothing() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "-s", "api", "K", "v"]).ok();
    let config = read(repo.join(".secrets/config.toml"));
    let before = secrets_files(&repo);
    let out = env
        .secrets(&repo, &["set", "prodution", "KEY", "typo-value"])
        .fails();
    out.error_names(&["prodution", "development", "test", "production", "api"]);
    assert_no_leak(&out, &["typo-value"]);
    assert_eq!(secrets_files(&repo), before);
    assert_eq!(read(repo.join(".secrets/config.toml")), config);
}

// Guards: an unknown environment (flag) is an error listing the known ones; `-s` then creates nothing.
#[test]
fn unknown_environment_is_an_error_and_creates_nothing() {
    let (env, repo) = setup();
    let config = read(repo.join(".secrets/config.toml"));
    let before = secrets_files(&repo);
    for args in [
        &["set", "-e", "staging", "KEY", "v"][..],
        &["set", "-s", "web", "-e", "staging", "KEY", "v"][..],
        &["get", "-e", "staging"][..],
    ] {
        let out = env.secrets(&repo, args).fails();
        for word in ["staging", "development", "test", "production"] {
            assert!(out.stderr.contains(word), "{args:?} {word}: {}", out.stderr);
        }
    }
    assert_eq!(secrets_files(&repo), before);
    assert_eq!(
        read(repo.join(".secrets/config.toml")),
        config,
        "no service `web`"
    );
}

// Guards: with --nested, the top-level folder you stand in is the service.
#[test]
fn nested_infers_the_service_from_the_folder() {
    let env = Env::new();
    let repo = env.repo("repo", &["--nested", "--envs"]);
    let sub = repo.join("api/sub");
    std::fs::create_dir_all(&sub).unwrap();
    env.secrets(&sub, &["set", "KEY", "nested-value"]).ok();
    assert!(repo.join(".secrets/api/development.env").exists());
    assert!(!repo.join(".secrets/development.env").exists());
    assert_eq!(reveal(&env, &sub, &["KEY"]), "nested-value");
    assert_eq!(reveal(&env, &repo, &["-s", "api", "KEY"]), "nested-value");
    env.secrets(
        &repo.join("api"),
        &["set", "production", "P", "prod-nested"],
    )
    .ok();
    assert!(repo.join(".secrets/api/production.env").exists());
    // At the root, the root scope is used.
    env.secrets(&repo, &["set", "ROOT", "root-value"]).ok();
    assert!(repo.join(".secrets/development.env").exists());
}

// Guards: with --nested, reading from a top-level folder that is no service yet says that
// the folder named it (the user typed no service) and how to create it or read another;
// nothing runs, and no service is added.
#[test]
fn nested_reading_from_a_folder_that_is_no_service_yet_says_so() {
    let env = Env::new();
    let repo = env.repo("repo", &["--nested", "--envs"]);
    env.secrets(&repo, &["set", "-s", "api", "KEY", "api-value"])
        .ok();
    let web = repo.join("web/src");
    std::fs::create_dir_all(&web).unwrap();
    let config = read(repo.join(".secrets/config.toml"));
    for args in [&["get"][..], &["run", "--", "sh", "-c", "echo RAN"]] {
        let out = env.secrets(&web, args).fails();
        out.error_names(&[
            "you are in `web/`",
            "services: api",
            "git secrets set KEY VALUE",
            "-s SERVICE",
        ]);
        assert!(
            !out.stderr.contains("neither a known service"),
            "{}",
            out.stderr
        );
        assert!(!out.stdout.contains("RAN"), "{out:?}");
    }
    assert_eq!(
        read(repo.join(".secrets/config.toml")),
        config,
        "no service added"
    );
    // Another service's values, named with -s, from there.
    assert_eq!(reveal(&env, &web, &["-s", "api", "KEY"]), "api-value");
}

// Guards: --shared values live in the service's shared file and reach `run` under the scope's own.
#[test]
fn shared_values_are_layered_under_the_scope() {
    let (env, repo) = setup();
    env.secrets(
        &repo,
        &["set", "-s", "api", "--shared", "HOST", "shared-host"],
    )
    .ok();
    env.secrets(&repo, &["set", "api", "--shared", "PORT", "1111"])
        .ok();
    env.secrets(&repo, &["set", "api", "production", "PORT", "5432"])
        .ok();
    assert!(repo.join(".secrets/api/shared.env").exists());
    let out = run_sh(
        &env,
        &repo,
        &["api", "production"],
        "printf '%s:%s' \"$HOST\" \"$PORT\"",
    )
    .ok();
    assert_eq!(out.stdout, "shared-host:5432");
    let out = run_sh(
        &env,
        &repo,
        &["api", "test"],
        "printf '%s:%s' \"$HOST\" \"$PORT\"",
    )
    .ok();
    assert_eq!(out.stdout, "shared-host:1111", "shared values alone");
}

// Guards: run layers the scope's values over the inherited environment.
#[test]
fn run_layers_values_over_the_inherited_environment() {
    let (mut env, repo) = setup();
    env.secrets(&repo, &["set", "KEY", "from-secrets"]).ok();
    env.vars.push(("KEY".into(), "from-parent".into()));
    env.vars.push(("INHERITED".into(), "kept".into()));
    let out = run_sh(&env, &repo, &[], "printf '%s|%s' \"$KEY\" \"$INHERITED\"").ok();
    assert_eq!(out.stdout, "from-secrets|kept");
}

// Guards: ${OTHER} references are expanded from the scope, shared values and the environment.
#[test]
fn run_expands_references() {
    let (mut env, repo) = setup();
    import_text(&env, &repo, "HOST=db.internal\nURL=\"postgres://${USER_NAME}@${HOST}:${PORT}/app\"\nLITERAL='${HOST}'\n");
    env.secrets(&repo, &["set", "PORT", "5432"]).ok();
    env.vars.push(("USER_NAME".into(), "alice".into()));
    let out = run_sh(&env, &repo, &[], "printf '%s|%s' \"$URL\" \"$LITERAL\"").ok();
    assert_eq!(out.stdout, "postgres://alice@db.internal:5432/app|${HOST}");
}

// Guards: a reference cycle is an error naming the keys, and nothing runs.
#[test]
fn run_reference_cycle_is_an_error() {
    let (env, repo) = setup();
    import_text(&env, &repo, "A=\"${B}-cyc\"\nB=\"${A}-cyc\"\n");
    let out = run_sh(&env, &repo, &[], "echo RAN").fails();
    assert!(!out.stdout.contains("RAN"), "{out:?}");
    out.error_names(&["A", "B"]);
}

// Guards: a reference to an unknown name is an error naming the key and the position
// (not the name: it may be part of a password), and nothing runs.
#[test]
fn run_unknown_reference_is_an_error() {
    let (env, repo) = setup();
    import_text(&env, &repo, "URL=\"x://${NO_SUCH_NAME}/y\"\n");
    let out = run_sh(&env, &repo, &[], "echo RAN").fails();
    assert!(!out.stdout.contains("RAN"), "{out:?}");
    assert!(!out.stderr.contains("NO_SUCH_NAME"), "{}", out.stderr);
    out.error_names(&["`URL`", "character 5"]);
}

// Guards: run's exit status is the child's.
#[test]
fn run_exit_status_is_the_childs() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "KEY", "v"]).ok();
    let out = run_sh(&env, &repo, &[], "exit 7");
    assert_eq!(out.code, Some(7), "{out:?}");
    let out = env.secrets(&repo, &["run", "--", "true"]);
    assert_eq!(out.code, Some(0), "{out:?}");
}

// Guards: GIT_SECRETS_IDENTITY(_FILE) is used by run but never passed to the child.
#[test]
fn run_does_not_pass_the_identity_to_the_child() {
    let (mut env, repo) = setup();
    env.secrets(&repo, &["set", "KEY", "visible"]).ok();
    let id_path = env.home.join(".config/git-secrets/identity.txt");
    let identity = read(&id_path);
    env.vars
        .push(("GIT_SECRETS_IDENTITY".into(), identity.clone()));
    let script = "printf '%s|%s|%s' \"$KEY\" \"${GIT_SECRETS_IDENTITY-unset}\" \"${GIT_SECRETS_IDENTITY_FILE-unset}\"";
    let out = run_sh(&env, &repo, &[], script).ok();
    assert_eq!(out.stdout, "visible|unset|unset");
    env.vars.clear();
    env.vars.push((
        "GIT_SECRETS_IDENTITY_FILE".into(),
        id_path.display().to_string(),
    ));
    let out = run_sh(&env, &repo, &[], script).ok();
    assert_eq!(out.stdout, "visible|unset|unset");
}

// Guards: a key of the scope named like git-secrets' own variables does not reach the
// child either: a member who can write the scope would otherwise choose the identity
// (or identity file) of every git-secrets the program runs. Refused, by key, for run
// and export alike.
#[test]
fn run_refuses_a_scope_key_named_like_the_identity() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "KEY", "visible"]).ok();
    let test_env = repo.join(".secrets/test.env");
    for key in ["GIT_SECRETS_IDENTITY_FILE", "GIT_SECRETS_IDENTITY"] {
        // `set` refuses such a key (below); someone who can push writes it in the file.
        write(&test_env, &format!("{key}=/tmp/planted-id\n"));
        let out = run_sh(&env, &repo, &["test"], "echo RAN").fails();
        assert!(!out.stdout.contains("RAN"), "{out:?}");
        out.error_names(&[key, "test"]);
        assert_no_leak(&out, &["planted-id"]);
        let out = env.secrets(&repo, &["export", "test", "--yes"]).fails();
        out.error_names(&[key]);
        assert_no_leak(&out, &["planted-id"]);
        env.secrets(&repo, &["unset", "-e", "test", key]).ok();
    }
    // Once renamed, the scope runs; other scopes never were affected.
    env.secrets(&repo, &["set", "-e", "test", "A", "a"]).ok();
    assert!(
        !read(&test_env).contains("GIT_SECRETS_"),
        "unset took it out"
    );
    let out = run_sh(&env, &repo, &["test"], "printf %s \"$A\"").ok();
    assert_eq!(out.stdout, "a");
    let out = run_sh(&env, &repo, &[], "printf %s \"$KEY\"").ok();
    assert_eq!(out.stdout, "visible");
}

// Guards: `set`, `import` and `sync` refuse to store a key named GIT_SECRETS_… (which
// `run` and `export` would refuse), naming it, and store nothing: said when the key is
// given, not at the next `run`.
#[test]
fn set_import_and_sync_refuse_a_key_named_like_git_secrets_own_variables() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "KEY", "kept"]).ok();
    let before = read(repo.join(".secrets/development.env"));
    let out = env
        .secrets(
            &repo,
            &["set", "GIT_SECRETS_IDENTITY_FILE", "/tmp/planted-id"],
        )
        .fails();
    out.error_names(&["GIT_SECRETS_IDENTITY_FILE", "nothing was set"]);
    let file = env.path().join("in.env");
    write(&file, "A=a\nGIT_SECRETS_IDENTITY=planted-id\n");
    let out = env
        .secrets(&repo, &["import", "--file", file.to_str().unwrap()])
        .fails();
    out.error_names(&["GIT_SECRETS_IDENTITY", "in.env"]);
    assert_no_leak(&out, &["planted-id"]);
    write(repo.join(".env.example"), "B=b\nGIT_SECRETS_X=x\n");
    let out = env.secrets(&repo, &["sync"]).fails();
    out.error_names(&["GIT_SECRETS_X", ".env.example"]);
    assert_eq!(
        read(repo.join(".secrets/development.env")),
        before,
        "nothing stored"
    );
}

// Guards: import --file sets every key with its exact meaning, replacing existing ones.
#[test]
fn import_file_sets_every_key() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "A", "old"]).ok();
    write(
        env.path().join("in.env"),
        "# comment\nA=new-a\nexport B='two words'\nC=\"line1\\nline2\"\n",
    );
    let file = env.path().join("in.env");
    env.secrets(&repo, &["import", "--file", file.to_str().unwrap()])
        .ok();
    assert_eq!(reveal(&env, &repo, &["A"]), "new-a");
    assert_eq!(reveal(&env, &repo, &["B"]), "two words");
    assert_eq!(reveal(&env, &repo, &["C"]), "line1\nline2");
    env.secrets(
        &repo,
        &["import", "--file", file.to_str().unwrap(), "production"],
    )
    .ok();
    assert_eq!(reveal(&env, &repo, &["production", "B"]), "two words");
}

/// Values that are hard to quote for a shell.
const AWKWARD: &[(&str, &str)] = &[
    ("SPACES", "  two  spaces around  "),
    ("SINGLE", "it's a 'quoted' word"),
    ("DOLLAR", "cost $5 and $HOME and $(echo no) and `echo no`"),
    ("NEWLINES", "line one\nline two\n\nline four"),
    ("BACKSLASH", "back\\slash \\n not a newline"),
    ("DOUBLE", "say \"hi\""),
];

fn set_awkward(env: &Env, repo: &Path) {
    for (k, v) in AWKWARD {
        // As a file holds it: a multi-line value keeps a final newline it is given.
        env.secrets_stdin(repo, &["set", k], v.as_bytes()).ok();
        assert_eq!(reveal(env, repo, &[k]), *v, "{k} stored exactly");
    }
}

// Guards: export reveals values, so without a terminal it needs --yes.
#[test]
fn export_refuses_without_yes() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "KEY", "export-secret-1"]).ok();
    let out = env.secrets(&repo, &["export"]).fails();
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert_no_leak(&out, &["export-secret-1"]);
    let out = env
        .secrets(&repo, &["export", "--output", "out.sh"])
        .fails();
    assert_no_leak(&out, &["export-secret-1"]);
    assert!(!repo.join("out.sh").exists(), "no file written");
}

// Guards: export --yes prints shell that, sourced, gives back every value exactly.
#[test]
fn export_output_can_be_sourced() {
    let (env, repo) = setup();
    set_awkward(&env, &repo);
    let out = env.secrets(&repo, &["export", "--yes"]).ok();
    write(repo.join("out.sh"), &out.stdout);
    for (k, v) in AWKWARD {
        let got = sh(&env, &repo, &format!(". ./out.sh; printf %s \"${k}\""))
            .ok()
            .stdout;
        assert_eq!(got, *v, "{k} after sourcing:\n{}", out.stdout);
    }
}

// Guards: export --output writes a 0600 file that can be sourced, and prints no value.
#[test]
fn export_output_file_is_private() {
    let (env, repo) = setup();
    set_awkward(&env, &repo);
    // Even over an existing file that others could read.
    write(repo.join("out.sh"), "old\n");
    chmod(repo.join("out.sh"), 0o644);
    let out = env
        .secrets(&repo, &["export", "--yes", "--output", "out.sh"])
        .ok();
    assert_no_leak(&out, &["two  spaces", "quoted", "line two"]);
    assert_eq!(mode(repo.join("out.sh")), 0o600);
    for (k, v) in AWKWARD {
        let got = sh(&env, &repo, &format!(". ./out.sh; printf %s \"${k}\""))
            .ok()
            .stdout;
        assert_eq!(got, *v, "{k}");
    }
}

// Guards: export --output into a FIFO (what `-o >(…)` and `-o /dev/stdout` piped name)
// writes into it, as a shell's `>` does, instead of renaming a plaintext file over it:
// that left the values on disk where a pipe was meant, and as root it replaced device
// nodes (`-o /dev/null` made /dev/null a file of secrets). A symbolic link to a file
// (`-o /dev/stdout > f`) is refused, link and file untouched.
#[test]
fn export_output_writes_into_a_fifo_and_refuses_a_symlink() {
    use std::os::unix::fs::FileTypeExt;
    let (env, repo) = setup();
    set_awkward(&env, &repo);
    let fifo = env.path().join("pipe");
    env.run("mkfifo", env.path(), &[fifo.to_str().unwrap()])
        .ok();
    let mut reader = std::process::Command::new("cat")
        .arg(&fifo)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = env.secrets(&repo, &["export", "--yes", "-o", fifo.to_str().unwrap()]);
    let still_fifo = std::fs::symlink_metadata(&fifo).is_ok_and(|m| m.file_type().is_fifo());
    if !still_fifo {
        reader.kill().unwrap();
    }
    let got = reader.wait_with_output().unwrap();
    assert!(still_fifo, "the FIFO was replaced: {out:?}");
    out.ok();
    let printed = env.secrets(&repo, &["export", "--yes"]).ok().stdout;
    assert_eq!(String::from_utf8(got.stdout).unwrap(), printed);

    let link = repo.join("link.sh");
    write(repo.join("real.sh"), "old\n");
    std::os::unix::fs::symlink("real.sh", &link).unwrap();
    let out = env
        .secrets(&repo, &["export", "--yes", "-o", link.to_str().unwrap()])
        .fails();
    out.error_names(&["link.sh", "symbolic link"]);
    assert_no_leak(&out, &["two  spaces", "quoted", "line two"]);
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(read(repo.join("real.sh")), "old\n");
}

// Guards: sync adds the keys of .env.example a scope lacks and never overwrites.
#[test]
fn sync_adds_missing_keys_and_never_overwrites() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "A", "real-a"]).ok();
    write(
        repo.join(".env.example"),
        "A=example-a\nB=example-b\n# comment\nC=\n",
    );
    env.secrets(&repo, &["sync"]).ok();
    assert_eq!(reveal(&env, &repo, &["A"]), "real-a");
    assert_eq!(reveal(&env, &repo, &["B"]), "example-b");
    assert_eq!(reveal(&env, &repo, &["C"]), "");
    env.secrets(&repo, &["set", "B", "real-b"]).ok();
    env.secrets(&repo, &["sync"]).ok();
    assert_eq!(reveal(&env, &repo, &["B"]), "real-b");
    env.secrets(&repo, &["sync", "production"]).ok();
    assert_eq!(reveal(&env, &repo, &["production", "A"]), "example-a");
}

// Guards: env list shows the declared environments; env add declares one that works at once.
#[test]
fn env_list_and_add() {
    let (env, repo) = setup();
    let list = env.secrets(&repo, &["env", "list"]).ok().stdout;
    for e in ["development", "test", "production"] {
        assert!(list.contains(e), "{list}");
    }
    assert!(!list.contains("staging"), "{list}");
    env.secrets(&repo, &["env", "add", "staging"]).ok();
    let list = env.secrets(&repo, &["env", "list"]).ok().stdout;
    assert!(list.contains("staging"), "{list}");
    env.secrets(&repo, &["set", "staging", "K", "stage-value"])
        .ok();
    assert_eq!(reveal(&env, &repo, &["staging", "K"]), "stage-value");
    // Adding an existing one is refused.
    env.secrets(&repo, &["env", "add", "staging"]).fails();
}

// Guards: env rename re-seals under the new name; the committed blob opens in a fresh clone.
#[test]
fn env_rename_reseals_under_the_new_name() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "test", "K", "renamed-value"])
        .ok();
    env.secrets(&repo, &["set", "-s", "api", "-e", "test", "S", "svc-value"])
        .ok();
    env.commit_all(&repo, "test values");
    env.secrets(&repo, &["env", "rename", "test", "qa"]).ok();
    assert!(!repo.join(".secrets/test.env").exists());
    assert!(!repo.join(".secrets/api/test.env").exists());
    env.commit_all(&repo, "rename");
    let stored = blob(&env, &repo, "HEAD:.secrets/qa.env");
    assert!(
        stored.contains("K=gs1:") && !stored.contains("renamed-value"),
        "{stored}"
    );
    let files = env.git(&repo, &["ls-files", ".secrets"]).ok().stdout;
    assert!(!files.contains("test.env"), "{files}");
    assert_eq!(reveal(&env, &repo, &["qa", "K"]), "renamed-value");
    // The committed blobs, as a fresh (locked) clone has them, open under the new scope.
    env.git(
        env.path(),
        &["clone", "-q", repo.to_str().unwrap(), "clone"],
    )
    .ok();
    let clone = env.path().join("clone");
    assert!(read(clone.join(".secrets/qa.env")).contains("gs1:"));
    assert_eq!(reveal(&env, &clone, &["qa", "K"]), "renamed-value");
    assert_eq!(reveal(&env, &clone, &["api", "qa", "S"]), "svc-value");
    env.secrets(&clone, &["get", "-e", "test"]).fails();
}

// Guards: env rename in a locked clone re-seals the encrypted files under the new name.
#[test]
fn env_rename_in_a_locked_clone() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "test", "K", "locked-rename"])
        .ok();
    env.commit_all(&repo, "test values");
    env.secrets(&repo, &["lock"]).ok();
    env.secrets(&repo, &["env", "rename", "test", "qa"]).ok();
    let text = read(repo.join(".secrets/qa.env"));
    assert!(
        text.contains("K=gs1:") && !text.contains("locked-rename"),
        "{text}"
    );
    assert!(!repo.join(".secrets/test.env").exists());
    assert_eq!(reveal(&env, &repo, &["qa", "K"]), "locked-rename");
}

// Guards: env del needs --yes without a terminal; with it, the environment and its files go.
#[test]
fn env_del_needs_confirmation() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "test", "K", "v"]).ok();
    let out = env.secrets(&repo, &["env", "del", "test"]).fails();
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert!(repo.join(".secrets/test.env").exists());
    assert!(env
        .secrets(&repo, &["env", "list"])
        .ok()
        .stdout
        .contains("test"));
    env.secrets(&repo, &["env", "del", "test", "--yes"]).ok();
    assert!(!repo.join(".secrets/test.env").exists());
    let list = env.secrets(&repo, &["env", "list"]).ok().stdout;
    assert!(!list.contains("test"), "{list}");
    env.secrets(&repo, &["set", "test", "K", "v"]).fails();
}

// Guards: in a locked clone, set writes the encrypted form and get still reads it.
#[test]
fn commands_work_in_a_locked_clone() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "OLD", "committed-value"]).ok();
    env.commit_all(&repo, "secrets");
    env.secrets(&repo, &["lock"]).ok();
    let f = repo.join(".secrets/development.env");
    env.secrets(&repo, &["set", "NEW", "locked-new-value"]).ok();
    let text = read(&f);
    assert!(
        text.contains("NEW=gs1:") && text.contains("OLD=gs1:"),
        "{text}"
    );
    assert!(
        !text.contains("locked-new-value") && !text.contains("committed-value"),
        "{text}"
    );
    assert_eq!(reveal(&env, &repo, &["NEW"]), "locked-new-value");
    assert_eq!(reveal(&env, &repo, &["OLD"]), "committed-value");
    env.secrets(&repo, &["unset", "OLD"]).ok();
    assert!(!read(&f).contains("OLD="));
    // A new scope file in a locked clone is encrypted too.
    env.secrets(&repo, &["set", "production", "P", "prod-locked"])
        .ok();
    let prod = read(repo.join(".secrets/production.env"));
    assert!(
        prod.contains("P=gs1:") && !prod.contains("prod-locked"),
        "{prod}"
    );
    let out = run_sh(&env, &repo, &["production"], "printf %s \"$P\"").ok();
    assert_eq!(out.stdout, "prod-locked");
}

// Guards: in an unlocked clone, set edits the plaintext file atomically and keeps it 0600.
#[test]
fn commands_work_in_an_unlocked_clone() {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "KEY", "plain-value"]).ok();
    let f = repo.join(".secrets/development.env");
    assert_eq!(read(&f), "KEY=plain-value\n");
    assert_eq!(mode(&f), 0o600);
    // An existing file with a looser mode is written back private, and its comments stay.
    write(&f, "# keep me\nKEY=plain-value\n");
    chmod(&f, 0o644);
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&f).unwrap());
    env.secrets(&repo, &["set", "OTHER", "second"]).ok();
    assert_eq!(read(&f), "# keep me\nKEY=plain-value\nOTHER=second\n");
    assert_eq!(mode(&f), 0o600);
    let after = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&f).unwrap());
    assert_ne!(inode, after, "replaced by rename, not rewritten in place");
    assert_eq!(
        secrets_files(&repo),
        [
            ".secrets/access.json",
            ".secrets/config.toml",
            ".secrets/development.env"
        ],
        "no temporary file left behind"
    );
    env.commit_all(&repo, "secrets");
    assert!(blob(&env, &repo, "HEAD:.secrets/development.env").contains("OTHER=gs1:"));
}

// Guards: the cargo plugin binary runs the same CLI (`cargo secrets --help`).
#[test]
fn cargo_secrets_help_works() {
    let env = Env::new();
    let cargo_secrets = bin().parent().unwrap().join("cargo-secrets");
    let out = env
        .run(&cargo_secrets, env.path(), &["secrets", "--help"])
        .ok();
    for cmd in ["set", "get", "run", "unlock", "lock", "export"] {
        assert!(out.stdout.contains(cmd), "{cmd}: {}", out.stdout);
    }
    // Through cargo itself, when the test runs under cargo.
    if let Some(cargo) = std::env::var_os("CARGO") {
        let out = env.run(&cargo, env.path(), &["secrets", "--help"]).ok();
        assert!(out.stdout.contains("unlock"), "{}", out.stdout);
    }
}

/// This checkout's journal of an `env rename` or `env del` under way.
fn env_journal(repo: &Path) -> PathBuf {
    repo.join(".git/git-secrets/env-change.json")
}

/// A repository with values in test (the root and a service) and development, committed;
/// locked when `locked`.
fn with_test_values(locked: bool) -> (Env, PathBuf) {
    let (env, repo) = setup();
    env.secrets(&repo, &["set", "test", "K", "test-value-1"])
        .ok();
    env.secrets(
        &repo,
        &["set", "-s", "api", "-e", "test", "S", "svc-value-1"],
    )
    .ok();
    env.secrets(&repo, &["set", "K", "dev-value-1"]).ok();
    env.commit_all(&repo, "values");
    if locked {
        env.secrets(&repo, &["lock"]).ok();
    }
    (env, repo)
}

// Guards: an `env rename` killed at each step (after its journal, after the files under
// the new name, after access.json, after config.toml, before the journal's removal) is
// rolled back or completed by the next command, in an unlocked and a locked clone: the
// values read under exactly one of the two names, no file of the other is left, and
// status names no problem.
#[test]
fn env_rename_killed_at_each_step_is_rolled_back_or_completed() {
    for locked in [false, true] {
        for (point, done) in [
            ("env-after-journal", false),
            ("env-after-files", false),
            ("env-after-access", true),
            ("env-after-config", true),
            ("env-before-journal-removal", true),
        ] {
            let (mut env, repo) = with_test_values(locked);
            env.secrets_killed_at(&repo, point, &["env", "rename", "test", "qa"]);
            assert!(env_journal(&repo).exists(), "{point}");
            recovered(&env, &repo, point, done, "env rename test qa");
            let (now, gone) = if done { ("qa", "test") } else { ("test", "qa") };
            assert_eq!(reveal(&env, &repo, &[now, "K"]), "test-value-1", "{point}");
            assert_eq!(reveal(&env, &repo, &["api", now, "S"]), "svc-value-1");
            assert_eq!(reveal(&env, &repo, &["K"]), "dev-value-1");
            env.secrets(&repo, &["get", "-e", gone, "K"]).fails();
            for f in [
                format!(".secrets/{gone}.env"),
                format!(".secrets/api/{gone}.env"),
            ] {
                assert!(!repo.join(&f).exists(), "{point} locked={locked}: {f} left");
            }
            // What is committed opens in a fresh clone.
            env.git(&repo, &["add", "-A"]).ok();
            env.git(
                &repo,
                &["commit", "-q", "--allow-empty", "-m", "after recovery"],
            )
            .ok();
            let c = clone(&env, &repo, &format!("check-{point}-{locked}"));
            assert_eq!(reveal(&env, &c, &[now, "K"]), "test-value-1", "{point}");
            assert_eq!(reveal(&env, &c, &["api", now, "S"]), "svc-value-1");
        }
    }
}

/// After `change` was killed at `point`, the next command (`status`) says it completed
/// it (`done`) or rolled it back, finds no problem left, and the journal is gone.
fn recovered(env: &Env, repo: &Path, point: &str, done: bool, change: &str) {
    let out = env.secrets(repo, &["status"]).ok();
    let what = if done { "completed" } else { "rolled back" };
    assert!(
        out.stderr
            .contains(&format!("{what} an interrupted `{change}`")),
        "{point}: {out:#?}"
    );
    assert!(!out.stdout.contains("problem"), "{point}: {}", out.stdout);
    assert!(!env_journal(repo).exists(), "{point}: journal gone");
}

// Guards: an `env del` killed at each step is rolled back (before access.json changed) or
// completed by the next command: never an environment declared without its key.
#[test]
fn env_del_killed_at_each_step_is_rolled_back_or_completed() {
    for (point, done) in [
        ("env-after-journal", false),
        ("env-after-access", true),
        ("env-after-config", true),
        ("env-before-journal-removal", true),
    ] {
        let (mut env, repo) = with_test_values(false);
        env.secrets_killed_at(&repo, point, &["env", "del", "test", "--yes"]);
        recovered(&env, &repo, point, done, "env del test");
        let list = env.secrets(&repo, &["env", "list"]).ok().stdout;
        if done {
            assert!(!list.contains("test"), "{point}: {list}");
            assert!(!repo.join(".secrets/test.env").exists(), "{point}");
            assert!(!repo.join(".secrets/api/test.env").exists(), "{point}");
        } else {
            assert_eq!(reveal(&env, &repo, &["test", "K"]), "test-value-1");
        }
        assert_eq!(reveal(&env, &repo, &["K"]), "dev-value-1");
    }
}

// Guards: .secrets/config.toml and .secrets/access.json out of step (as an `env rename`
// cut short by a git-secrets without the journal leaves them) are named by status and
// doctor, with a fix that works.
#[test]
fn an_environment_declared_without_keys_is_named_with_its_fix() {
    let (env, repo) = with_test_values(true);
    // access.json renamed, config.toml not, the old files still there: the rename done,
    // then config.toml and the old files put back.
    env.secrets(&repo, &["env", "rename", "test", "qa"]).ok();
    env.git(
        &repo,
        &[
            "checkout",
            "HEAD",
            "--",
            ".secrets/config.toml",
            ".secrets/test.env",
            ".secrets/api/test.env",
        ],
    )
    .ok();

    let out = env.secrets(&repo, &["status"]).ok();
    for needle in [
        "test: no key in .secrets/access.json",
        "`test` is declared in .secrets/config.toml but .secrets/access.json holds no key",
        ".secrets/access.json holds keys of `qa`, which .secrets/config.toml does not declare",
        "env rename test qa` done halfway",
        "git checkout HEAD -- .secrets/config.toml .secrets/access.json",
    ] {
        assert!(out.stdout.contains(needle), "{needle}: {}", out.stdout);
    }
    let out = env.secrets(&repo, &["doctor", "--fix"]).fails();
    assert!(
        out.stdout.contains("holds no key for it") && out.stdout.contains("git checkout HEAD --"),
        "{out:#?}"
    );
    // The fix named: the pair back from the last commit, then the rename again.
    env.git(
        &repo,
        &[
            "checkout",
            "HEAD",
            "--",
            ".secrets/config.toml",
            ".secrets/access.json",
        ],
    )
    .ok();
    for f in [".secrets/qa.env", ".secrets/api/qa.env"] {
        std::fs::remove_file(repo.join(f)).unwrap();
    }
    let out = env.secrets(&repo, &["status"]).ok();
    assert!(!out.stdout.contains("problem"), "{}", out.stdout);
    assert_eq!(reveal(&env, &repo, &["test", "K"]), "test-value-1");
    env.secrets(&repo, &["env", "rename", "test", "qa"]).ok();
    assert_eq!(reveal(&env, &repo, &["qa", "K"]), "test-value-1");
}

// Guards: a rename onto files already there (of an environment config.toml lacks) is
// refused before anything changes: they would be overwritten.
#[test]
fn env_rename_onto_existing_files_is_refused() {
    let (env, repo) = with_test_values(false);
    write(repo.join(".secrets/qa.env"), "OTHER=kept-value\n");
    let out = env.secrets(&repo, &["env", "rename", "test", "qa"]).fails();
    assert!(out.stderr.contains(".secrets/qa.env"), "{out:#?}");
    assert_eq!(read(repo.join(".secrets/qa.env")), "OTHER=kept-value\n");
    assert_eq!(reveal(&env, &repo, &["test", "K"]), "test-value-1");
}

// Guards: a journal whose files changed since (neither the old nor the new config.toml)
// is reported and never applied: nothing is deleted or overwritten.
#[test]
fn an_env_journal_for_another_state_is_not_applied() {
    let (mut env, repo) = with_test_values(false);
    env.secrets_killed_at(&repo, "env-after-access", &["env", "rename", "test", "qa"]);
    let config = repo.join(".secrets/config.toml");
    write(&config, &format!("{}# edited since\n", read(&config)));
    let out = env.secrets(&repo, &["status"]).fails();
    assert!(
        out.stderr
            .contains("neither the one before it nor the one it was writing")
            && out.stderr.contains("nothing was applied")
            && out.stderr.contains("env rename test qa"),
        "{out:#?}"
    );
    assert!(env_journal(&repo).exists());
    for f in [".secrets/qa.env", ".secrets/test.env"] {
        assert!(repo.join(f).exists(), "{f}");
    }
}

/// `shared` names a scope of its own on the command line (a service's values shared by
/// all its environments), so no service may take the name, by `service add` or by the
/// `-s` that creates one; nothing is written to config.toml.
#[test]
fn shared_is_refused_as_a_service_name() {
    let env = Env::new();
    let repo = env.repo("r", &["--envs"]);
    let config = read(repo.join(".secrets/config.toml"));
    for args in [
        &["service", "add", "shared"][..],
        &["set", "-s", "shared", "KEY", "v"],
        &["service", "add", "production"],
    ] {
        env.secrets(&repo, args)
            .fails()
            .error_names(&["not a valid service name", "shared"]);
    }
    assert_eq!(read(repo.join(".secrets/config.toml")), config);
    env.secrets(&repo, &["service", "add", "shared-api"]).ok();
}
