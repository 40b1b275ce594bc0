//! Scale and odd input: large scopes, values over the system's limits, odd environments.

use crate::common::*;

/// `get` and `diff --show` over a scope of tens of thousands of keys list every key and
/// show the one change. (Each used to look every key up by a scan of the file: minutes
/// for 60,000 keys; `Document::index` makes it one pass. Not timed here: a test asserts
/// behaviour, and the quadratic version would only make this test slow.)
#[test]
fn get_and_diff_show_of_a_large_scope_list_every_key() {
    const KEYS: usize = 20_000;
    let env = Env::new();
    let repo = env.repo("r", &[]);
    env.secrets(&repo, &["set", "A", "1"]).ok();
    let text: String = (0..KEYS).map(|i| format!("K{i}=value_{i}\n")).collect();
    write(repo.join(".secrets/development.env"), &text);
    env.commit_all(&repo, "large");
    write(
        repo.join(".secrets/development.env"),
        &text.replace("K50=value_50\n", "K50=changed\n"),
    );
    let out = env.secrets(&repo, &["get"]).ok();
    assert_eq!(out.stdout.lines().count(), KEYS);
    let last = format!("K{}=********", KEYS - 1);
    assert!(out.stdout.contains(&last), "{}", &out.stdout[..200]);
    assert!(!out.stdout.contains("value_"), "values are masked");
    let diff = env.secrets(&repo, &["diff", "--show", "--yes"]).ok();
    assert!(
        diff.stdout.contains("-K50=value_50\n+K50=changed\n"),
        "{diff:?}"
    );
    assert_eq!(diff.stdout.matches("changed").count(), 1, "{diff:?}");
}

/// A value larger than the system lets one environment variable be is refused before
/// the exec, naming the key and the fix, never blaming the program (`chmod +x`).
#[test]
#[cfg(target_os = "linux")]
fn run_refuses_a_value_over_the_environment_limit_by_key() {
    let env = Env::new();
    let repo = env.repo("r", &["--envs"]);
    let huge = "a".repeat(200_000);
    env.secrets_stdin(&repo, &["set", "HUGE"], huge.as_bytes())
        .ok();
    env.secrets(&repo, &["set", "SMALL", "s"]).ok();
    let out = env.secrets(&repo, &["run", "--", "true"]).fails();
    out.error_names(&["HUGE", "development", "track"]);
    assert!(!out.stderr.contains("chmod"), "{}", out.stderr);
    assert!(!out.stderr.contains(&huge[..64]), "no value in the error");
    // The environment over the limit as a whole: the error names the largest keys.
    let text: String = (0..60_000)
        .map(|i| format!("K{i}=value_{i}_{}\n", "x".repeat(40)))
        .collect();
    write(repo.join(".secrets/test.env"), &text);
    let out = env.secrets(&repo, &["run", "test", "--", "true"]).fails();
    out.error_names(&["ARG_MAX", "60000 values", "largest"]);
    assert!(!out.stderr.contains("chmod"), "{}", out.stderr);
}

/// A secret file changed on both sides, merged by a shell command line: A set to 2 on
/// branch `branch` (a shell word: `$(printf …)` makes bytes that are not UTF-8), B on
/// main, then `merge` (its environment and `git merge`). The merge driver must not panic,
/// and both changes land.
fn merge_both_sides(branch: &str, merge: &str) {
    let env = Env::new();
    let repo = env.repo("r", &[]);
    env.secrets(&repo, &["set", "A", "1"]).ok();
    env.secrets(&repo, &["set", "B", "1"]).ok();
    env.commit_all(&repo, "base");
    let script = format!(
        "git checkout -q -b {branch} && git secrets set A 2 && git commit -qam side && git checkout -q main && git secrets set B 2 && git commit -qam main && RUST_BACKTRACE=1 {merge}"
    );
    let out = env.run("sh", &repo, &["-c", &script]);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    out.ok();
    let run = env
        .secrets(&repo, &["run", "--", "sh", "-c", "echo $A$B"])
        .ok();
    assert_eq!(run.stdout, "22\n");
}

/// A variable that is not UTF-8 in the environment git runs the merge driver in (a
/// directory name in OLDPWD under a Latin-1 locale) does not make it panic.
#[test]
fn merge_with_a_non_utf8_variable_in_the_environment() {
    merge_both_sides(
        "side",
        "ODD=\"$(printf 'x\\377')\" git merge -q --no-edit side",
    );
}

/// A branch name that is not UTF-8, which git passes the merge driver as a label, does
/// not make it panic: the secret file merges key by key.
#[test]
fn merge_of_a_branch_whose_name_is_not_utf8() {
    let branch = "\"$(printf 'side\\377')\"";
    merge_both_sides(branch, &format!("git merge -q --no-edit {branch}"));
}

/// `import` of a file that repeats a key sets it once, to the value dotenv reads (the
/// last), and counts it once; of thousands of keys, it names only those the scope had.
#[test]
fn import_sets_each_key_once_with_the_value_in_effect() {
    let env = Env::new();
    let repo = env.repo("r", &[]);
    env.secrets(&repo, &["set", "KEEP", "k"]).ok();
    env.secrets(&repo, &["set", "OLD", "o"]).ok();
    let mut text = String::from("X=first\nOLD=new\nX=last\n");
    for i in 0..5000 {
        text.push_str(&format!("K{i}=v{i}\n"));
    }
    let input = env.path().join("in.env");
    write(&input, &text);
    let out = env
        .secrets(&repo, &["import", "--file", input.to_str().unwrap()])
        .ok();
    assert!(
        out.stderr.contains("imported 5002 key(s)") && out.stderr.contains("replaced: OLD\n"),
        "{}",
        out.stderr
    );
    let run = env
        .secrets(
            &repo,
            &["run", "--", "sh", "-c", "echo $X $OLD $KEEP $K0 $K4999"],
        )
        .ok();
    assert_eq!(run.stdout, "last new k v0 v4999\n");
    let file = read(repo.join(".secrets/development.env"));
    assert_eq!(file.matches("X=").count(), 1, "one entry for X");
}
