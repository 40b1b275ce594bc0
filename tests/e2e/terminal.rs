//! What happens at a terminal: y/N before revealing, and a value typed at a prompt.

use crate::common::*;

fn repo_with_value(env: &Env) -> std::path::PathBuf {
    let repo = env.repo("repo", &[]);
    env.secrets(&repo, &["set", "TOKEN", "terminal-secret-42"])
        .ok();
    repo
}

// Guards: `get KEY` at a terminal reveals after `y`, and refuses after anything else.
#[test]
fn get_asks_before_revealing() {
    let env = Env::new();
    let repo = repo_with_value(&env);
    let out = env.secrets_at_terminal(&repo, &["get", "TOKEN"], "y\n");
    assert!(
        out.stdout.contains("[y/N]") && out.stdout.contains("terminal-secret-42"),
        "{out:?}"
    );
    assert_eq!(out.code, Some(0));
    let out = env.secrets_at_terminal(&repo, &["get", "--show"], "n\n");
    assert!(
        out.stdout.contains("[y/N]") && !out.stdout.contains("terminal-secret-42"),
        "{out:?}"
    );
    assert_ne!(out.code, Some(0));
}

// Guards: `set KEY` with no value prompts at the terminal, and the typed value is stored.
#[test]
fn set_prompts_for_the_value() {
    let env = Env::new();
    let repo = repo_with_value(&env);
    let out = env.secrets_at_terminal(&repo, &["set", "TYPED"], "typed-at-the-prompt\n");
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("value for TYPED"), "{out:?}");
    let got = env.secrets(&repo, &["get", "TYPED", "--yes"]).ok().stdout;
    assert_eq!(got, "typed-at-the-prompt\n");
}
