//! A conflict in a secret file written in git's conflict style: with
//! `merge.conflictStyle = diff3` (or `zdiff3`, or `git checkout --conflict=diff3`) git's
//! own conflicts hold the common ancestor's version between `|||||||` and `=======`, and
//! so do those the merge driver leaves, with git's labels; the base section is sealed and
//! opened like the sides, and never committed.

use std::path::{Path, PathBuf};

use crate::common::*;

const DEV: &str = ".secrets/development.env";
const PROD: &str = ".secrets/production.env";

/// `scope`'s DB changed on two branches, `side` and `main` (checked out), from
/// `base-value-0000`; `note.txt`, a plain file, changed alike on each, so git's own
/// conflict in it shows the markers git writes for this merge.
fn db_changed_on_two_branches(env: &Env, repo: &Path, scope: &str) {
    let set = |value: &str, note: &str| {
        env.secrets(repo, &["set", scope, "DB", value]).ok();
        write(repo.join("note.txt"), &format!("{note}\n"));
        env.commit_all(repo, note);
    };
    set("base-value-0000", "base");
    env.git(repo, &["checkout", "-q", "-b", "side"]).ok();
    set("side-value-1111", "side");
    env.git(repo, &["checkout", "-q", "main"]).ok();
    set("main-value-2222", "main");
}

/// The four marker lines git wrote into note.txt (ours, base, middle, theirs).
fn git_markers(repo: &Path) -> [String; 4] {
    let note = read(repo.join("note.txt"));
    let lines: Vec<&str> = note.lines().collect();
    let want = [
        "<<<<<<< ", "main", "||||||| ", "base", "=======", "side", ">>>>>>> ",
    ];
    assert_eq!(lines.len(), want.len(), "git's own conflict:\n{note}");
    for (line, w) in lines.iter().zip(want) {
        assert!(line.starts_with(w), "git's own conflict:\n{note}");
    }
    [lines[0], lines[2], lines[4], lines[6]].map(str::to_owned)
}

/// The file's text with DB in conflict between `markers`, the base section included:
/// main's value (ours), the base's, and side's (theirs), as set by
/// [`db_changed_on_two_branches`].
fn diff3(markers: &[String; 4]) -> String {
    let [o, b, m, t] = markers;
    format!("{o}\nDB=main-value-2222\n{b}\nDB=base-value-0000\n{m}\nDB=side-value-1111\n{t}\n")
}

fn repo(env: &Env) -> PathBuf {
    let repo = env.repo("repo", &["--envs"]);
    env.git(&repo, &["config", "merge.conflictStyle", "diff3"])
        .ok();
    repo
}

// Guards: with `merge.conflictStyle = diff3`, the conflict the driver leaves in a secret
// file has the base section with git's labels, as the conflict git leaves in a plain
// file; the masked diff shows it masked, `git add` refuses it, `git checkout
// --conflict=` writes the style it names, and the resolution is committed sealed.
#[test]
fn a_diff3_conflict_in_a_secret_file_holds_the_base_as_git_writes_it() {
    let env = Env::new();
    let repo = repo(&env);
    db_changed_on_two_branches(&env, &repo, "development");
    env.git(&repo, &["merge", "side"]).fails();
    let markers = git_markers(&repo);
    let want = diff3(&markers);
    assert_eq!(read(repo.join(DEV)), want);
    // The masked diff: each section's value masked, the base's too.
    let diff = env.git(&repo, &["diff"]).ok().stdout;
    assert!(
        diff.contains(&format!("++{}", markers[1])) && !diff.contains("value-"),
        "{diff}"
    );
    assert_eq!(diff.matches("DB = ******** fp:").count(), 3, "{diff}");
    env.git(&repo, &["add", DEV]).fails();
    // `git checkout --conflict=STYLE` recreates the conflict in that style, with the
    // labels git gives it, whatever the configuration says.
    env.git(&repo, &["checkout", "--conflict=merge", "--", DEV])
        .ok();
    assert_eq!(
        read(repo.join(DEV)),
        "<<<<<<< ours\nDB=main-value-2222\n=======\nDB=side-value-1111\n>>>>>>> theirs\n"
    );
    env.git(&repo, &["config", "--unset", "merge.conflictStyle"])
        .ok();
    env.git(&repo, &["checkout", "--conflict=zdiff3", "--", DEV])
        .ok();
    let labels = ["<<<<<<< ours", "||||||| base", "=======", ">>>>>>> theirs"].map(String::from);
    let want = diff3(&labels);
    assert_eq!(read(repo.join(DEV)), want);
    // Resolved, committed sealed.
    write(repo.join(DEV), "DB=side-value-1111\n");
    write(repo.join("note.txt"), "both\n");
    env.git(&repo, &["add", "-A"]).ok();
    env.git(&repo, &["commit", "-q", "--no-edit"]).ok();
    let stored = blob(&env, &repo, &format!("HEAD:{DEV}"));
    assert!(
        stored.starts_with("DB=gs1:") && !stored.contains("value-"),
        "{stored}"
    );
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
}

// Guards: in a locked clone (the merge driver stays, the filter goes) the driver's diff3
// conflict is written sealed, the base section too; `unlock` opens all three sections.
#[test]
fn a_diff3_conflict_in_a_locked_clone_is_sealed_base_and_all() {
    let env = Env::new();
    let repo = repo(&env);
    db_changed_on_two_branches(&env, &repo, "development");
    env.secrets(&repo, &["lock"]).ok();
    env.git(&repo, &["merge", "side"]).fails();
    let markers = git_markers(&repo);
    assert_sealed_diff3(&read(repo.join(DEV)), &markers);
    env.secrets(&repo, &["unlock"]).ok();
    let want = diff3(&markers);
    assert_eq!(read(repo.join(DEV)), want);
}

// Guards: where the driver cannot open the file (no key for its environment), it merges
// the encrypted form with `git merge-file`, which reads no configuration: the style is
// passed to it, so the conflict holds the base section, sealed, with git's labels.
#[test]
fn a_diff3_conflict_merged_without_access_holds_the_sealed_base() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (bob, b, id) = bob_joins(&env, &alice);
    approve_and_unlock(&env, &alice, &bob, &b, &id, "development");
    bob.git(&b, &["config", "merge.conflictStyle", "diff3"])
        .ok();
    db_changed_on_two_branches(&env, &alice, "production");
    bob.git(
        &b,
        &[
            "fetch",
            "-q",
            alice.to_str().unwrap(),
            "main:main2",
            "side:side",
        ],
    )
    .ok();
    bob.git(&b, &["reset", "-q", "--hard", "main2"]).ok();
    let out = bob.git(&b, &["merge", "side"]).fails();
    assert!(out.stderr.contains("line by line"), "{out:#?}");
    assert_sealed_diff3(&read(b.join(PROD)), &git_markers(&b));
}

/// `sealed` is one diff3 conflict of key DB: git's four `markers` around the three
/// sides, each in sealed form.
fn assert_sealed_diff3(sealed: &str, markers: &[String]) {
    let lines: Vec<&str> = sealed.lines().collect();
    assert_eq!(lines.len(), 7, "{sealed}");
    for (i, marker) in [(0, 0), (2, 1), (4, 2), (6, 3)] {
        assert_eq!(lines[i], markers[marker], "{sealed}");
    }
    for i in [1, 3, 5] {
        assert!(lines[i].starts_with("DB=gs1:"), "{sealed}");
    }
}
