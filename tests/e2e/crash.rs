//! Commands cut short where a crash leaves something behind: between writing a temporary
//! file and renaming it (the fault point `before-rename:<file name>`, crate fsutil), in
//! this device's identity folder and in a checkout's state directory; and a commit made
//! while an interrupted `env rename` or `env del` waits to be completed. And commands at
//! once: each writing command waits for the one before it, so no write drops another.

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

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
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

// Guards: a journal's write cut short leaves its temporary file in the checkout's state
// directory (`.git/git-secrets/`; `.git/worktrees/<name>/git-secrets/` in a linked
// worktree), 0600. The next command removes it and says so, unless a running write holds
// the directory: status then names it as a running command's.
#[test]
fn a_state_write_cut_short_leaves_a_file_the_next_command_removes() {
    let mut env = Env::new();
    let repo = alice_repo(&env);
    env.git(&repo, &["worktree", "add", "-q", "../wt"]).ok();
    let wt = env.path().join("wt");
    for (cwd, state) in [
        (&repo, repo.join(".git/git-secrets")),
        (&wt, repo.join(".git/worktrees/wt/git-secrets")),
    ] {
        env.secrets_killed_at(
            cwd,
            "before-rename:env-change.json",
            &["env", "rename", "production", "staging"],
        );
        let left = temp_files(&state);
        assert_eq!(left.len(), 1, "{}: {left:?}", state.display());
        assert_eq!(mode(&left[0]), 0o600);
        let name = file_name(&left[0]);

        let running = writing_in(&state);
        let out = env.secrets(cwd, &["status"]).ok();
        assert!(
            out.stdout.contains(&name)
                && out
                    .stdout
                    .contains("another git-secrets command is writing now"),
            "{out:#?}"
        );
        assert_eq!(temp_files(&state), left, "a running write's file is kept");
        drop(running);

        let out = env.secrets(cwd, &["env", "list"]).ok();
        assert!(
            out.stderr.contains("removed 1 temporary file(s)") && out.stderr.contains(&name),
            "{out:#?}"
        );
        assert!(temp_files(&state).is_empty(), "{}", state.display());
        assert!(!state.join("env-change.json").exists());
        assert!(
            out.stdout.contains("production") && !out.stdout.contains("staging"),
            "{out:#?}"
        );
        let out = env.secrets(cwd, &["status"]).ok();
        assert!(!out.stdout.contains(".git-secrets-"), "{out:#?}");
    }
}

// Guards: `git commit` after an `env rename` or `env del` was killed halfway (access.json
// the new one, config.toml the old one) is refused by the pre-commit hook, which names
// the change and the command that completes it; the next git-secrets command completes
// it, and the commit then holds the change whole. One made past the hook (--no-verify)
// is completed the same way: recovery reads the two files from the work tree.
#[test]
fn a_commit_is_refused_while_an_env_change_is_interrupted() {
    for (args, what, bypass) in [
        (
            &["env", "rename", "production", "staging"][..],
            "env rename production staging",
            false,
        ),
        (
            &["env", "del", "production", "--yes"][..],
            "env del production",
            false,
        ),
        (
            &["env", "rename", "production", "staging"][..],
            "env rename production staging",
            true,
        ),
    ] {
        let mut env = Env::new();
        let repo = alice_repo(&env);
        // Files older than the index, as a while after the commit: git takes them for
        // unchanged without cleaning them again (which fails, with production's key
        // gone from access.json, before any hook runs).
        let files = [".secrets/production.env", ".secrets/development.env"];
        env.run(
            "touch",
            &repo,
            &[&["-d", "2020-01-01"], &files[..]].concat(),
        )
        .ok();
        env.git(&repo, &["status", "-s"]).ok();
        env.secrets_killed_at(&repo, "env-after-access", args);
        let head = env.git(&repo, &["rev-parse", "HEAD"]).ok().stdout;
        env.git(&repo, &["add", ".secrets/access.json"]).ok();
        let out = env.git(&repo, &["commit", "-q", "-m", "half"]).fails();
        out.error_names(&[
            what,
            "was interrupted in this checkout",
            "git secrets status",
        ]);
        assert!(!out.stderr.contains("prod-password-1"), "{out:#?}");
        assert_eq!(env.git(&repo, &["rev-parse", "HEAD"]).ok().stdout, head);
        if bypass {
            env.git(&repo, &["commit", "-q", "--no-verify", "-m", "half"])
                .ok();
        }

        let out = env.secrets(&repo, &["status"]).ok();
        assert!(
            out.stderr
                .contains(&format!("completed an interrupted `{what}`")),
            "{out:#?}"
        );
        env.commit_all(&repo, what);
        let c = clone(&env, &repo, "check");
        let list = env.secrets(&c, &["env", "list"]).ok().stdout;
        assert!(!list.contains("production"), "{what} {bypass}: {list}");
        let out = env.secrets(&c, &["get", "DB", "--yes"]).ok();
        assert_eq!(out.stdout, "dev-password-1\n");
        if args[1] == "rename" {
            let out = env.secrets(&c, &["get", "staging", "DB", "--yes"]).ok();
            assert_eq!(out.stdout, "prod-password-1\n");
        }
    }
}

// Guards: writing commands run at once in one checkout (a script's `set`s in parallel,
// two terminals) each keep their value: each waits for the one writing before it, saying
// so. (Each once wrote back the file as it had read it, and all but one value were lost
// while every `set` reported success.)
#[test]
fn writing_commands_at_once_lose_no_value() {
    use std::io::BufRead;
    let env = Env::new();
    let repo = env.repo("repo", &[]);
    env.secrets(&repo, &["set", "A", "alpha-value"]).ok();
    env.commit_all(&repo, "base");
    // A command writing: it holds the checkout's lock and adds OTHER to the file.
    let dir = repo.join(".git/git-secrets");
    std::fs::create_dir_all(&dir).unwrap();
    let held = std::fs::File::create(dir.join("command.lock")).unwrap();
    rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let mut child = env.spawn_secrets(&repo, &["set", "K", "kilo-value"]);
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let waits = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break false;
        }
        seen.push_str(&line);
        if line.contains("waiting for another git-secrets command") {
            break true;
        }
    };
    assert!(waits, "set did not wait for the command writing: {seen}");
    let file = repo.join(".secrets/development.env");
    write(&file, &format!("{}OTHER=other-value\n", read(&file)));
    drop(held);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{seen}{rest}");
    assert_eq!(
        read(&file),
        "A=alpha-value\nOTHER=other-value\nK=kilo-value\n"
    );
    // Eight `set`s at once: all eight values are there.
    let children: Vec<_> = (0..8)
        .map(|i| env.spawn_secrets(&repo, &["set", &format!("P{i}"), &format!("value-{i}")]))
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    for i in 0..8 {
        let got = env.secrets(&repo, &["get", &format!("P{i}"), "--yes"]).ok();
        assert_eq!(got.stdout, format!("value-{i}\n"), "P{i}");
    }
}

// Guards: `set KEY` with the value on stdin (or at the prompt) reads the scope file once
// the value is in: an editor's save of the file while the value is still being read (a
// slow pipe, a person typing) is not written over. The test knows `set` is reading
// stdin without any timing: a write larger than the pipe's buffer returns only once the
// reader has taken most of it.
#[test]
fn an_edit_saved_while_set_reads_its_value_survives() {
    use std::io::Write;
    let env = Env::new();
    let repo = env.repo("repo", &[]);
    env.secrets(&repo, &["set", "A", "alpha-value"]).ok();
    let mut child = env.spawn_secrets_stdin(&repo, &["set", "K"]);
    let mut stdin = child.stdin.take().unwrap();
    let value = "k".repeat(256 * 1024);
    stdin.write_all(value.as_bytes()).unwrap();
    let file = repo.join(".secrets/development.env");
    write(&file, &format!("{}EDITED=by-the-editor\n", read(&file)));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        read(&file),
        format!("A=alpha-value\nEDITED=by-the-editor\nK={value}\n")
    );
}
