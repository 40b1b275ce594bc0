//! Commands cut short where a crash leaves something behind: between writing a temporary
//! file and renaming it (the fault point `before-rename:<file name>`, crate fsutil), in
//! this device's identity folder.

use std::path::{Path, PathBuf};

use crate::common::*;

/// Our temporary files (`.git-secrets-XXXXXX`) in `dir`, sorted.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".git-secrets-"))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

// Guards: `init` killed while it creates this device's identity leaves the secret key in
// a temporary file in the identity folder, 0600 from its creation. The next command that
// reads the identity removes it, quietly (nothing was saved with that key), unless a
// running write holds the folder: then it may be that write's own file, and stays.
#[test]
fn an_identity_write_cut_short_leaves_a_private_file_the_next_command_removes() {
    let mut env = Env::new();
    env.git(env.path(), &["init", "-q", "repo"]).ok();
    let repo = env.path().join("repo");
    let dir = env.home.join(".config/git-secrets");
    env.secrets_killed_at(&repo, "before-rename:identity.txt", &["init"]);
    let left = temp_files(&dir);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(mode(&left[0]), 0o600, "private from its creation");
    let text = read(&left[0]);
    let key = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("the identity's secret key")
        .to_owned();
    assert!(!dir.join("identity.txt").exists());

    // A write running in the folder (its lock held): the file may be its own.
    let running = writing_in(&dir);
    let out = env.secrets(&repo, &["init"]).ok();
    assert!(
        out.stderr.contains("created this device's identity"),
        "{out:#?}"
    );
    assert_eq!(temp_files(&dir), left, "a running write's file is kept");
    drop(running);

    // Once nothing holds the folder, the next command that reads the identity removes it.
    let out = env.secrets(&repo, &["status"]).ok();
    assert!(temp_files(&dir).is_empty(), "{out:#?}");
    assert!(!out.stdout.contains(&key) && !out.stderr.contains(&key));
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["identity.txt"]);
    env.secrets(&repo, &["set", "K", "value-1"]).ok();
}
