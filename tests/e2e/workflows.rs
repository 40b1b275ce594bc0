//! Secret files through every git command that merges (key by key with access, line by
//! line without it), and the everyday git workflows, each ending with a clean `git status`.

use std::path::{Path, PathBuf};

use crate::common::*;

const FILE: &str = ".secrets/development.env";

/// The base commit's entries, in file order (after a comment line).
const BASE: [(&str, &str); 4] = [
    ("A", "alpha-base"),
    ("B", "bravo-base"),
    ("C", "charlie-base"),
    ("D", "delta-base"),
];

/// BASE's entries with `values` replacing some of them.
fn entries<'a>(values: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    BASE.iter()
        .map(|&(k, base)| *values.iter().find(|kv| kv.0 == k).unwrap_or(&(k, base)))
        .collect()
}

/// The plaintext of FILE: BASE with `values` replacing some of its values.
fn text(values: &[(&str, &str)]) -> String {
    let lines: String = entries(values)
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    format!("# app settings\n{lines}")
}

/// One side's change, made from the base commit.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// `git secrets set KEY VALUE`, and a control file `notes/KEY.txt` changed alike.
    Set(&'static str, &'static str),
    /// `git secrets rotate --env development`.
    Rotate,
}

/// The value change the rotation scenarios pair with a rotation.
const NEW_B: Change = Change::Set("B", "bravo-new");

/// The plain text file that changes with each key: where both sides change one key, git
/// conflicts on it too, and its markers carry the labels git passes to merge drivers.
fn note_path(key: &str) -> String {
    format!("notes/{key}.txt")
}

/// A control file's text for `value`: reversed, so it never holds a secret's plaintext
/// (the pre-commit hook would refuse it).
fn note(value: &str) -> String {
    value.chars().rev().collect()
}

/// Makes `change` in `repo`'s work tree and index, uncommitted.
fn make(env: &Env, repo: &Path, change: Change) {
    match change {
        Change::Set(k, v) => {
            env.secrets(repo, &["set", k, v]).ok();
            write(repo.join(note_path(k)), &format!("{}\n", note(v)));
        }
        Change::Rotate => {
            env.secrets(repo, &["rotate", "--env", "development"]).ok();
        }
    }
}

/// Makes `change` and commits it (the subject names no value).
fn commit(env: &Env, repo: &Path, change: Change) {
    make(env, repo, change);
    let subject = match change {
        Change::Set(k, _) => format!("change {k}"),
        Change::Rotate => "rotate development".into(),
    };
    env.commit_all(repo, &subject);
}

/// Alice's unlocked repository with FILE = text(&[]) and the control notes committed.
fn base_repo(env: &Env) -> PathBuf {
    let repo = env.repo("repo", &["--envs"]);
    write(repo.join(FILE), &text(&[]));
    for (k, v) in BASE {
        write(repo.join(note_path(k)), &format!("{}\n", note(v)));
    }
    env.commit_all(&repo, "base");
    repo
}

/// A clone of `from` by the same identity, unlocked (filter, drivers and hooks set up).
fn clone_unlocked(env: &Env, from: &Path, name: &str) -> PathBuf {
    let c = clone(env, from, name);
    env.secrets(&c, &["unlock"]).ok();
    c
}

/// Alice's base repository with `theirs` committed on branch `theirs` and `ours` on `main`
/// (checked out). A rotation is made last: once a clone has seen a rotation, it seals no
/// new value on a branch made before it until the rotation is merged in (see
/// `forged_chain`), so a value changed "concurrently" on the other side is changed first.
fn two_branches(env: &Env, ours: Change, theirs: Change) -> PathBuf {
    let repo = base_repo(env);
    env.git(&repo, &["branch", "theirs"]).ok();
    let order = match theirs {
        Change::Rotate => [("main", ours), ("theirs", theirs)],
        Change::Set(..) => [("theirs", theirs), ("main", ours)],
    };
    for (branch, change) in order {
        env.git(&repo, &["checkout", "-q", branch]).ok();
        commit(env, &repo, change);
    }
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    repo
}

/// Runs `f` in a clone of `repo` by the same identity (unlocked), whose memory of keys is
/// its own: a rotation made there is one `repo` has not seen, as if made by a teammate.
fn elsewhere(env: &Env, repo: &Path, f: impl FnOnce(&Path)) -> PathBuf {
    let other = clone_unlocked(env, repo, "elsewhere");
    f(&other);
    other
}

/// The git commands that merge.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Merge,
    Rebase,
    RebaseApply,
    CherryPick,
    Revert,
    StashPop,
    /// `stash pop` over a staged local edit (the index is the HEAD side).
    StashPopOnStaged,
    PullRebase,
}

/// Runs `op` with `ours` on the HEAD side and `theirs` coming in, both made from the base
/// commit. Returns the repository it ran in and the command's output.
fn run(env: &Env, op: Op, ours: Change, theirs: Change) -> (PathBuf, Out) {
    match op {
        Op::Merge | Op::CherryPick | Op::Rebase | Op::RebaseApply => {
            let repo = two_branches(env, ours, theirs);
            let out = match op {
                Op::Merge => env.git(&repo, &["merge", "--no-edit", "theirs"]),
                Op::CherryPick => env.git(&repo, &["cherry-pick", "theirs"]),
                _ => {
                    // Replaying `theirs` onto main: HEAD is main's side.
                    env.git(&repo, &["checkout", "-q", "theirs"]).ok();
                    let backend = if op == Op::Rebase {
                        "--merge"
                    } else {
                        "--apply"
                    };
                    env.git(&repo, &["rebase", backend, "main"])
                }
            };
            (repo, out)
        }
        Op::Revert => {
            // `theirs`, then a commit back to the base, then `ours`; reverting the commit
            // back to the base brings `theirs` in against `ours`.
            let repo = base_repo(env);
            let back_to_base = |repo: &Path| {
                commit(env, repo, theirs);
                env.git(repo, &["checkout", "-q", "HEAD~1", "--", "."]).ok();
                env.commit_all(repo, "back to base");
            };
            if matches!(theirs, Change::Rotate) {
                // This clone never sees the rotation until the revert (a clone that saw
                // it would rightly seal nothing under the key it retired).
                let other = elsewhere(env, &repo, back_to_base);
                pull(env, &repo, &other);
            } else {
                back_to_base(&repo);
            }
            commit(env, &repo, ours);
            let out = env.git(&repo, &["revert", "--no-edit", "HEAD~1"]);
            (repo, out)
        }
        Op::StashPop | Op::StashPopOnStaged => {
            let repo = base_repo(env);
            let stash = |repo: &Path| {
                make(env, repo, theirs);
                env.git(repo, &["stash", "push", "-q"]).ok();
                assert_eq!(read(repo.join(FILE)), text(&[]), "stash push restores HEAD");
            };
            if matches!(theirs, Change::Rotate) {
                // Stashed where this clone never sees the rotation until the pop (as in
                // the revert above), and brought over as a stash entry.
                let other = elsewhere(env, &repo, stash);
                let other = other.to_str().unwrap();
                env.git(&repo, &["fetch", "-q", other, "refs/stash"]).ok();
                env.git(&repo, &["stash", "store", "-m", "rotation", "FETCH_HEAD"])
                    .ok();
            } else {
                stash(&repo);
            }
            if op == Op::StashPop {
                commit(env, &repo, ours);
            } else {
                make(env, &repo, ours);
                env.git(&repo, &["add", "-A"]).ok();
            }
            let out = env.git(&repo, &["stash", "pop"]);
            (repo, out)
        }
        Op::PullRebase => {
            // The second clone pulls: upstream's commit is the HEAD side of the rebase.
            let upstream = base_repo(env);
            let c = clone_unlocked(env, &upstream, "second");
            commit(env, &upstream, ours);
            commit(env, &c, theirs);
            let out = env.git(&c, &["pull", "--rebase"]);
            (c, out)
        }
    }
}

/// What the user runs after resolving a conflict of `op` and `git add`ing it.
fn continue_after_conflict(env: &Env, repo: &Path, op: Op) {
    let cmd: &[&str] = match op {
        Op::Merge => &["commit", "-q", "--no-edit"],
        Op::Rebase | Op::RebaseApply | Op::PullRebase => &["rebase", "--continue"],
        Op::CherryPick => &["cherry-pick", "--continue"],
        Op::Revert => &["revert", "--continue"],
        Op::StashPop | Op::StashPopOnStaged => {
            // The stash is kept on a conflict: drop it, then commit the resolution.
            env.git(repo, &["stash", "drop", "-q"]).ok();
            &["commit", "-q", "-m", "popped"]
        }
    };
    env.git(repo, &[&["-c", "core.editor=true"], cmd].concat())
        .ok();
}

/// After a clean `op`: commits what `stash pop` left in the work tree.
fn settle(env: &Env, repo: &Path, op: Op) {
    if matches!(op, Op::StashPop | Op::StashPopOnStaged) {
        env.commit_all(repo, "popped");
    }
}

/// `[(x, y), (y, x)]`: each scenario runs with the sides one way round, then swapped.
fn both_ways(x: Change, y: Change) -> [(Change, Change); 2] {
    [(x, y), (y, x)]
}

fn is_token(s: &str) -> bool {
    let mut parts = s.splitn(3, ':');
    parts.next() == Some("gs1")
        && parts.next().is_some_and(|id| {
            id.len() == 8 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
        && parts.next().is_some_and(|body| {
            body.len() >= 4
                && body
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

/// A line of the encrypted form (FORMAT.md §4): blank, `#TOKEN` or `[export ]KEY=TOKEN`.
fn is_sealed_line(line: &str) -> bool {
    let line = line.strip_suffix('\r').unwrap_or(line);
    line.trim().is_empty()
        || line.strip_prefix('#').is_some_and(is_token)
        || line.split_once('=').is_some_and(|(k, v)| {
            let k = k.strip_prefix("export ").unwrap_or(k);
            !k.is_empty()
                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && is_token(v)
        })
}

fn assert_encrypted_form(stored: &str, ctx: &str) {
    assert!(!stored.is_empty(), "{ctx}: empty");
    for line in stored.lines() {
        assert!(
            is_sealed_line(line),
            "{ctx}: not in encrypted form: {line:?}\n{stored}"
        );
    }
    for (_, v) in BASE {
        assert!(
            !stored.contains(v),
            "{ctx}: plaintext {v:?} stored:\n{stored}"
        );
    }
    assert!(
        !stored.contains("app settings"),
        "{ctx}: comment in plaintext"
    );
}

/// No merge, rebase, cherry-pick, revert or am is left in progress.
fn assert_nothing_in_progress(env: &Env, repo: &Path, ctx: &str) {
    let git_dir = env
        .git(repo, &["rev-parse", "--absolute-git-dir"])
        .ok()
        .stdout;
    let git_dir = Path::new(git_dir.trim());
    for name in [
        "MERGE_HEAD",
        "CHERRY_PICK_HEAD",
        "REVERT_HEAD",
        "rebase-merge",
        "rebase-apply",
    ] {
        assert!(!git_dir.join(name).exists(), "{ctx}: {name} left behind");
    }
    assert_eq!(env.git(repo, &["stash", "list"]).ok().stdout, "", "{ctx}");
}

fn assert_status_clean(env: &Env, repo: &Path, ctx: &str) {
    assert_eq!(
        env.git(repo, &["status", "--porcelain"]).ok().stdout,
        "",
        "{ctx}: git status"
    );
}

/// HEAD's FILE holds BASE with `values` in encrypted form only, a fresh checkout of it
/// decrypts to exactly that text, `get` reads each value, and the clone is clean.
fn assert_committed(env: &Env, repo: &Path, values: &[(&str, &str)], ctx: &str) {
    assert_nothing_in_progress(env, repo, ctx);
    assert_status_clean(env, repo, ctx);
    let stored = blob(env, repo, &format!("HEAD:{FILE}"));
    assert_encrypted_form(&stored, ctx);
    for (_, v) in values {
        assert!(!stored.contains(v), "{ctx}: plaintext {v:?} stored");
    }
    std::fs::remove_file(repo.join(FILE)).unwrap();
    env.git(repo, &["checkout", "HEAD", "--", FILE]).ok();
    assert_eq!(
        read(repo.join(FILE)),
        text(values),
        "{ctx}: checkout of HEAD"
    );
    for (k, v) in entries(values) {
        let got = env.secrets(repo, &["get", k, "--yes"]).ok().stdout;
        assert_eq!(got, format!("{v}\n"), "{ctx}: get {k}");
    }
    assert_status_clean(env, repo, ctx);
}

/// The marker lines git wrote into a plain file conflicting as `ours` vs `theirs`: the
/// labels git passes for this command.
fn git_labels(control: &str, ours: &str, theirs: &str) -> (String, String) {
    let lines: Vec<&str> = control.lines().collect();
    let shape = lines.len() == 5
        && lines[0].starts_with("<<<<<<< ")
        && lines[1] == note(ours)
        && lines[2] == "======="
        && lines[3] == note(theirs)
        && lines[4].starts_with(">>>>>>> ");
    assert!(shape, "the control file's conflict:\n{control}");
    (lines[0].to_owned(), lines[4].to_owned())
}

/// Different keys changed on each side: a clean merge keeping both, either way round.
fn different_keys(op: Op) {
    // Adjacent lines: git's own line merge would conflict here.
    let (a, b) = (Change::Set("A", "alpha-new"), Change::Set("B", "bravo-new"));
    for (ours, theirs) in both_ways(a, b) {
        let ctx = format!("{op:?} ours={ours:?} theirs={theirs:?}");
        let env = Env::new();
        let (repo, out) = run(&env, op, ours, theirs);
        assert!(out.success(), "{ctx}: {out:#?}");
        settle(&env, &repo, op);
        assert_committed(&env, &repo, &[("A", "alpha-new"), ("B", "bravo-new")], &ctx);
    }
}

/// The same key changed differently: the command stops, the work tree shows git's markers
/// (with git's labels) around the two plaintext values, and the user's pick is committed.
fn same_key(op: Op) {
    for (o, t) in [("bravo-x", "bravo-y"), ("bravo-y", "bravo-x")] {
        let ctx = format!("{op:?} ours=B:{o} theirs=B:{t}");
        let env = Env::new();
        let (repo, out) = run(&env, op, Change::Set("B", o), Change::Set("B", t));
        assert!(!out.success(), "{ctx}: expected a conflict: {out:#?}");
        let (open, close) = git_labels(&read(repo.join(note_path("B"))), o, t);
        let expected = format!(
            "# app settings\nA=alpha-base\n{open}\nB={o}\n=======\nB={t}\n{close}\nC=charlie-base\nD=delta-base\n"
        );
        assert_eq!(read(repo.join(FILE)), expected, "{ctx}: the work tree");
        // The index holds each side in encrypted form.
        for stage in 1..=3 {
            let side = blob(&env, &repo, &format!(":{stage}:{FILE}"));
            assert_encrypted_form(&side, &format!("{ctx}: stage {stage}"));
        }
        // The user keeps the incoming value.
        write(repo.join(FILE), &text(&[("B", t)]));
        write(repo.join(note_path("B")), &format!("{}\n", note(t)));
        env.git(&repo, &["add", "-A"]).ok();
        continue_after_conflict(&env, &repo, op);
        assert_committed(&env, &repo, &[("B", t)], &ctx);
    }
}

// Guards: `-X ours` / `-X theirs` settle a key changed on both sides the way git settles
// a line, keeping what each side changed alone. git hands the option to no merge driver:
// the driver reads it from the command that is merging.
#[test]
fn strategy_options_favour_a_side_key_by_key() {
    for (args, favoured) in [
        (
            &["merge", "--no-edit", "-X", "theirs", "theirs"][..],
            "bravo-y",
        ),
        (&["merge", "--no-edit", "-Xours", "theirs"][..], "bravo-x"),
        (
            &["cherry-pick", "--strategy-option=theirs", "theirs"][..],
            "bravo-y",
        ),
    ] {
        let ctx = format!("git {}", args.join(" "));
        let env = Env::new();
        let repo = base_repo(&env);
        env.git(&repo, &["checkout", "-q", "-b", "theirs"]).ok();
        make(&env, &repo, Change::Set("B", "bravo-y"));
        make(&env, &repo, Change::Set("C", "charlie-y"));
        env.commit_all(&repo, "theirs: B and C");
        env.git(&repo, &["checkout", "-q", "main"]).ok();
        commit(&env, &repo, Change::Set("B", "bravo-x"));
        let out = env.git(&repo, args);
        assert!(out.success(), "{ctx}: {out:#?}");
        let values = [("B", favoured), ("C", "charlie-y")];
        assert_eq!(read(repo.join(FILE)), text(&values), "{ctx}: the work tree");
        assert_committed(&env, &repo, &values, &ctx);
    }
}

// Guards: `-X theirs` that git applies without it on the command line is honoured too:
// saved by a rebase that stopped (`rebase --continue`), or in `branch.<name>.mergeOptions`.
#[test]
fn saved_strategy_options_favour_a_side_too() {
    // A rebase replaying two commits, stopped at the first (`edit`), then continued: the
    // second, which changes B on both sides, is merged by `git rebase --continue`.
    let env = Env::new();
    let repo = base_repo(&env);
    env.git(&repo, &["checkout", "-q", "-b", "theirs"]).ok();
    commit(&env, &repo, Change::Set("C", "charlie-y"));
    commit(&env, &repo, Change::Set("B", "bravo-y"));
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    commit(&env, &repo, Change::Set("B", "bravo-x"));
    env.git(&repo, &["checkout", "-q", "theirs"]).ok();
    let edit_first = "sequence.editor=sed -i 1s/^pick/edit/";
    let out = env.git(
        &repo,
        &["-c", edit_first, "rebase", "-i", "-X", "theirs", "main"],
    );
    assert!(out.success(), "{out:#?}");
    let out = env.git(&repo, &["rebase", "--continue"]);
    assert!(out.success(), "rebase --continue: {out:#?}");
    let values = [("B", "bravo-y"), ("C", "charlie-y")];
    assert_eq!(
        read(repo.join(FILE)),
        text(&values),
        "after rebase --continue"
    );
    assert_committed(&env, &repo, &values, "rebase --continue");
    // branch.main.mergeOptions.
    let env = Env::new();
    let repo = base_repo(&env);
    env.git(&repo, &["checkout", "-q", "-b", "theirs"]).ok();
    commit(&env, &repo, Change::Set("B", "bravo-y"));
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    commit(&env, &repo, Change::Set("B", "bravo-x"));
    env.git(&repo, &["config", "branch.main.mergeOptions", "-X theirs"])
        .ok();
    let out = env.git(&repo, &["merge", "--no-edit", "theirs"]);
    assert!(out.success(), "merge with mergeOptions: {out:#?}");
    let values = [("B", "bravo-y")];
    assert_eq!(read(repo.join(FILE)), text(&values), "after the merge");
    assert_committed(&env, &repo, &values, "branch.main.mergeOptions");
}

// Guards: `stash pop` over an unstaged edit is refused, losing nothing; staged, it merges.
#[test]
fn stash_pop_over_an_unstaged_edit_loses_nothing() {
    let env = Env::new();
    let repo = base_repo(&env);
    make(&env, &repo, Change::Set("A", "alpha-new"));
    env.git(&repo, &["stash", "push", "-q"]).ok();
    make(&env, &repo, NEW_B);
    let out = env.git(&repo, &["stash", "pop"]).fails();
    assert!(out.stderr.contains(FILE), "{out:#?}");
    assert_eq!(read(repo.join(FILE)), text(&[("B", "bravo-new")]));
    let stashes = env.git(&repo, &["stash", "list"]).ok().stdout;
    assert_eq!(stashes.lines().count(), 1, "{stashes}");
    env.git(&repo, &["add", "-A"]).ok();
    env.git(&repo, &["stash", "pop"]).ok();
    settle(&env, &repo, Op::StashPop);
    let values = [("A", "alpha-new"), ("B", "bravo-new")];
    assert_committed(&env, &repo, &values, "pop over the staged edit");
}

/// The development key ids in HEAD's access.json.
fn dev_key_ids(env: &Env, repo: &Path) -> Vec<String> {
    let json = blob(env, repo, "HEAD:.secrets/access.json");
    let access: serde_json::Value = serde_json::from_str(&json).unwrap();
    access["keys"]["development"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// A rotation on one side and a value change on the other: a clean merge with both.
fn rotation(op: Op, ours: Change, theirs: Change) {
    let ctx = format!("{op:?} ours={ours:?} theirs={theirs:?}");
    let env = Env::new();
    let (repo, out) = run(&env, op, ours, theirs);
    assert!(out.success(), "{ctx}: {out:#?}");
    settle(&env, &repo, op);
    assert_committed(&env, &repo, &[("B", "bravo-new")], &ctx);
    assert_eq!(
        dev_key_ids(&env, &repo).len(),
        2,
        "{ctx}: the rotation is kept"
    );
    assert_sealed_under_current_key(&env, &repo, "HEAD", &ctx);
}

/// Every value of FILE at `rev` is sealed under the one current development key, none
/// under a key a rotation retired (which a removed member would still hold).
fn assert_sealed_under_current_key(env: &Env, repo: &Path, rev: &str, ctx: &str) {
    let json = blob(env, repo, &format!("{rev}:.secrets/access.json"));
    let access: serde_json::Value = serde_json::from_str(&json).unwrap();
    let keys = access["keys"]["development"].as_object().unwrap();
    let current: Vec<&String> = keys
        .iter()
        .filter(|(_, rec)| {
            rec["superseded_by"]
                .as_object()
                .is_none_or(|m| m.is_empty())
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(current.len(), 1, "{ctx}: {json}");
    let stored = blob(env, repo, &format!("{rev}:{FILE}"));
    let tokens: Vec<&str> = stored.split("gs1:").skip(1).collect();
    assert!(!tokens.is_empty(), "{ctx}: {stored}");
    for t in tokens {
        assert!(
            t.starts_with(&format!("{}:", current[0])),
            "{ctx}: a value under a retired key: {stored}"
        );
    }
}

// Guards: a file brought back from before a rotation by a pathspec checkout, then
// edited: what `git add` stages has every value sealed under the current key, the
// unchanged ones too, never a token of the retired key (which a removed member holds).
#[test]
fn a_file_checked_out_from_before_a_rotation_is_sealed_again() {
    let env = Env::new();
    let repo = base_repo(&env);
    commit(&env, &repo, Change::Rotate);
    env.git(&repo, &["checkout", "HEAD~1", "--", FILE]).ok();
    make(&env, &repo, Change::Set("C", "charlie-new"));
    env.git(&repo, &["add", "-A"]).ok();
    assert_sealed_under_current_key(&env, &repo, "", "the index");
    env.git(&repo, &["commit", "-q", "-m", "C"]).ok();
    assert_sealed_under_current_key(&env, &repo, "HEAD", "HEAD");
    let values = [("C", "charlie-new")];
    assert_committed(&env, &repo, &values, "after the pathspec checkout");
}

macro_rules! merging_commands {
    ($($name:ident => $op:expr $(, #[$rot_theirs:meta])?;)*) => {$(
        mod $name {
            use super::*;

            // Guards: different keys changed on each side merge key by key, both ways.
            #[test]
            fn different_keys_merge_cleanly() {
                different_keys($op)
            }

            // Guards: the same key changed twice is a plaintext conflict the user resolves.
            #[test]
            fn same_key_conflicts_in_plaintext() {
                same_key($op)
            }

            // Guards: a rotation on the HEAD side merges with an incoming value change.
            #[test]
            fn rotation_on_our_side_merges_with_their_value_change() {
                rotation($op, Change::Rotate, NEW_B)
            }

            // Guards: an incoming rotation merges with a value change on the HEAD side.
            #[test]
            $(#[$rot_theirs])?
            fn rotation_on_their_side_merges_with_our_value_change() {
                rotation($op, NEW_B, Change::Rotate)
            }
        }
    )*};
}

merging_commands! {
    merge => Op::Merge;
    rebase => Op::Rebase;
    rebase_apply => Op::RebaseApply;
    cherry_pick => Op::CherryPick;
    revert => Op::Revert;
    stash_pop => Op::StashPop;
    stash_pop_on_staged_edit => Op::StashPopOnStaged;
    pull_rebase => Op::PullRebase;
}

// ---------------------------------------------------------------------------------------
// Without access: git's line merge of the encrypted form.

/// How Bob's clone (no identity) is set up.
#[derive(Clone, Copy, Debug)]
enum Setup {
    /// `merge.secrets*.driver` copied by hand from Alice's config.
    DriversCopied,
    /// Nothing configured: git's own line merge.
    Nothing,
    /// A member approved for production only, unlocked: filter, drivers and hooks set up,
    /// no key for development.
    ProductionOnly,
}

/// Alice's two branches, and Bob's clone of them (no identity) set up per `setup`, on
/// `main`. Returns (alice, bob, bob's clone).
fn bob_clone(env: &Env, ours: Change, theirs: Change, setup: Setup) -> (PathBuf, Env, PathBuf) {
    let alice = two_branches(env, ours, theirs);
    let bob = env.person("bob");
    let b = clone(&bob, &alice, "bob");
    bob.git(&b, &["branch", "-q", "theirs", "origin/theirs"])
        .ok();
    match setup {
        Setup::DriversCopied => {
            for key in ["merge.secrets.driver", "merge.secrets-access.driver"] {
                let value = env.git(&alice, &["config", key]).ok().stdout;
                bob.git(&b, &["config", key, value.trim()]).ok();
            }
        }
        Setup::Nothing => {}
        Setup::ProductionOnly => {
            bob.secrets(&b, &["join", "--name", "bob"]).ok();
            bob.commit_all(&b, "bob asks to join");
            pull(env, &alice, &b);
            let id = member_id(env, &alice, "bob");
            approve_and_unlock(env, &alice, &bob, &b, &id, "production");
        }
    }
    assert!(
        read(b.join(FILE)).starts_with("#gs1:"),
        "Bob's work tree is encrypted"
    );
    (alice, bob, b)
}

/// Bob merges (or rebases `theirs` onto main) in his clone.
fn bob_runs(bob: &Env, b: &Path, op: Op) -> Out {
    match op {
        Op::Merge => bob.git(b, &["merge", "--no-edit", "theirs"]),
        Op::Rebase => {
            bob.git(b, &["checkout", "-q", "theirs"]).ok();
            bob.git(b, &["rebase", "main"])
        }
        _ => unreachable!("Bob merges or rebases"),
    }
}

/// Alice fetches Bob's HEAD and checks it out: it must decrypt to `values`.
fn alice_reads_bobs_result(env: &Env, alice: &Path, b: &Path, values: &[(&str, &str)], ctx: &str) {
    env.git(alice, &["fetch", "-q", b.to_str().unwrap(), "HEAD"])
        .ok();
    env.git(alice, &["checkout", "-q", "--detach", "FETCH_HEAD"])
        .ok();
    assert_committed(env, alice, values, ctx);
}

/// One of Bob's runs: who, where, what he ran and its output.
struct BobRun {
    env: Env,
    alice: PathBuf,
    bob: Env,
    b: PathBuf,
    op: Op,
    theirs: Change,
    out: Out,
    ctx: String,
}

/// Every run of the without-access tests: each setup, merge and rebase, both ways round.
fn without_access(x: Change, y: Change, check: impl Fn(BobRun)) {
    for setup in [Setup::DriversCopied, Setup::Nothing, Setup::ProductionOnly] {
        for op in [Op::Merge, Op::Rebase] {
            for (ours, theirs) in both_ways(x, y) {
                let env = Env::new();
                let (alice, bob, b) = bob_clone(&env, ours, theirs, setup);
                let out = bob_runs(&bob, &b, op);
                if let Setup::DriversCopied | Setup::ProductionOnly = setup {
                    // The driver ran, and merged the encrypted form.
                    assert!(out.stderr.contains("git-secrets-merge"), "{out:#?}");
                }
                check(BobRun {
                    ctx: format!("{setup:?} {op:?} ours={ours:?} theirs={theirs:?}"),
                    env,
                    alice,
                    bob,
                    b,
                    op,
                    theirs,
                    out,
                });
            }
        }
    }
}

// Guards: without access, keys changed apart merge line by line into a decryptable file.
#[test]
fn without_access_different_keys_merge_line_by_line() {
    let (a, d) = (Change::Set("A", "alpha-new"), Change::Set("D", "delta-new"));
    without_access(a, d, |r| {
        assert!(r.out.success(), "{}: {:#?}", r.ctx, r.out);
        assert_status_clean(&r.bob, &r.b, &r.ctx);
        assert_encrypted_form(&read(r.b.join(FILE)), &r.ctx);
        let values = [("A", "alpha-new"), ("D", "delta-new")];
        alice_reads_bobs_result(&r.env, &r.alice, &r.b, &values, &r.ctx);
    });
}

/// The lines of a file with one conflict: (before, ours, theirs, after, open, close).
type Parts<'a> = (
    Vec<&'a str>,
    Vec<&'a str>,
    Vec<&'a str>,
    Vec<&'a str>,
    &'a str,
    &'a str,
);

fn conflict_parts(text: &str) -> Parts<'_> {
    let lines: Vec<&str> = text.lines().collect();
    let find = |prefix: &str| {
        let at: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].starts_with(prefix))
            .collect();
        assert_eq!(at.len(), 1, "one {prefix:?} line in\n{text}");
        at[0]
    };
    let (open, mid, close) = (find("<<<<<<<"), find("======="), find(">>>>>>>"));
    assert!(open < mid && mid < close, "{text}");
    (
        lines[..open].to_vec(),
        lines[open + 1..mid].to_vec(),
        lines[mid + 1..close].to_vec(),
        lines[close + 1..].to_vec(),
        lines[open],
        lines[close],
    )
}

// Guards: without access, the same key changed twice is a readable, resolvable conflict.
#[test]
fn without_access_same_key_is_a_readable_conflict() {
    let (x, y) = (Change::Set("B", "bravo-x"), Change::Set("B", "bravo-y"));
    without_access(x, y, |r| {
        let ctx = &r.ctx;
        assert!(!r.out.success(), "{ctx}: expected a conflict: {:#?}", r.out);
        let merged = read(r.b.join(FILE));
        let (before, ours, theirs, after, open, close) = conflict_parts(&merged);
        for line in before.iter().chain(&ours).chain(&theirs).chain(&after) {
            assert!(
                is_sealed_line(line),
                "{ctx}: not in encrypted form: {line:?}\n{merged}"
            );
        }
        assert_eq!(
            (ours.len(), theirs.len()),
            (1, 1),
            "{ctx}: one line a side\n{merged}"
        );
        let control = read(r.b.join(note_path("B")));
        let labels = control.lines().next().zip(control.lines().last());
        assert_eq!(labels, Some((open, close)), "{ctx}: git's labels\n{merged}");
        let Change::Set(_, incoming) = r.theirs else {
            unreachable!()
        };
        write(
            r.b.join(FILE),
            &([before, theirs, after].concat().join("\n") + "\n"),
        );
        write(r.b.join(note_path("B")), &format!("{}\n", note(incoming)));
        r.bob.git(&r.b, &["add", "-A"]).ok();
        continue_after_conflict(&r.bob, &r.b, r.op);
        assert_status_clean(&r.bob, &r.b, ctx);
        alice_reads_bobs_result(&r.env, &r.alice, &r.b, &[("B", incoming)], ctx);
    });
}

// ---------------------------------------------------------------------------------------
// A merge after a member's removal.

/// Bob, removed, tries `key`'s sealed line from `stored` with the access.json he kept from
/// when he was a member.
fn open_with_kept_keys(bob: &Env, b: &Path, stored: &str, key: &str, kept: &str) -> Out {
    let prefix = format!("{key}=");
    let line = stored.lines().find(|l| l.starts_with(&prefix)).unwrap();
    write(b.join(FILE), &format!("{line}\n"));
    write(b.join(".secrets/access.json"), kept);
    bob.secrets(b, &["get", key, "--yes"])
}

// Guards: a branch's value merged after Bob's removal does not open with his kept keys.
#[test]
fn a_value_merged_after_a_removal_is_not_readable_by_the_removed_member() {
    let env = Env::new();
    let alice = base_repo(&env);
    let bob = env.person("bob");
    let b = clone(&bob, &alice, "bob");
    bob.secrets(&b, &["join", "--name", "bob"]).ok();
    bob.commit_all(&b, "bob asks to join");
    pull(&env, &alice, &b);
    let id = member_id(&env, &alice, "bob");
    env.secrets(&alice, &["member", "approve", &id]).ok();
    env.commit_all(&alice, "approve bob");
    pull(&bob, &b, &alice);
    let kept = read(b.join(".secrets/access.json"));
    // Alice changes B on a local branch, removes Bob on main, merges the branch, then
    // sets C.
    env.git(&alice, &["checkout", "-q", "-b", "feature"]).ok();
    commit(&env, &alice, Change::Set("B", "bravo-unseen"));
    env.git(&alice, &["checkout", "-q", "main"]).ok();
    env.secrets(&alice, &["member", "remove", &id]).ok();
    env.git(&alice, &["commit", "-q", "-m", "remove bob"]).ok();
    env.git(&alice, &["merge", "-q", "--no-edit", "feature"])
        .ok();
    commit(&env, &alice, Change::Set("C", "charlie-after"));
    let values = [("B", "bravo-unseen"), ("C", "charlie-after")];
    assert_committed(&env, &alice, &values, "Alice after the merge");
    let stored = blob(&env, &alice, &format!("HEAD:{FILE}"));
    let control = open_with_kept_keys(&bob, &b, &stored, "C", &kept);
    assert!(
        !control.success() && !control.stdout.contains("charlie-after"),
        "control: {control:#?}"
    );
    let out = open_with_kept_keys(&bob, &b, &stored, "B", &kept);
    assert!(
        !out.success() && !out.stdout.contains("bravo-unseen"),
        "the removed member reads a value he never saw: {out:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// Everyday workflows: the secret files come out right and `git status` stays clean.
// (rebase, cherry-pick, revert, stash pop and pull --rebase are checked above, with a
// clean status after each.)

const DEV: &str = ".secrets/development.env";
const API: &str = ".secrets/api/production.env";
const DEV_TEXT: &str = "# database\nDB=dev-db-password\n";
const OTHER_DEV_TEXT: &str = "# database\nDB=other-db-password\n";
/// CRLF line ends, a multi-line value and no final newline: bytes git must not touch.
const API_TEXT: &str =
    "TOKEN=prod-api-token\r\nexport MULTI=\"line one\nline two\"\r\nLAST=no-final-eol";
const GUIDE: &str = "docs/guide.md";

/// Alice's project: secret files in two scopes, other directories, and a branch `other`
/// with another development value. `attributes` is committed before `init`.
fn project(env: &Env, attributes: &str) -> PathBuf {
    let repo = env.path().join("repo");
    env.git(env.path(), &["init", "-q", "repo"]).ok();
    if !attributes.is_empty() {
        write(repo.join(".gitattributes"), attributes);
    }
    env.secrets(&repo, &["init", "--envs"]).ok();
    env.secrets(&repo, &["set", "-s", "api", "production", "TOKEN", "x"])
        .ok();
    write(repo.join(DEV), DEV_TEXT);
    write(repo.join(API), API_TEXT);
    write(repo.join("src/main.rs"), "fn main() {}\n");
    write(repo.join(GUIDE), "# Guide\nline two\n");
    env.commit_all(&repo, "project");
    env.git(&repo, &["checkout", "-q", "-b", "other"]).ok();
    write(repo.join(DEV), OTHER_DEV_TEXT);
    env.commit_all(&repo, "other values");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    repo
}

fn bytes(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// The work tree holds `dev` and API_TEXT byte for byte, and `git status` is clean.
fn assert_decrypted(env: &Env, repo: &Path, dev: &str, ctx: &str) {
    assert_eq!(bytes(repo.join(DEV)), dev.as_bytes(), "{ctx}: {DEV}");
    assert_eq!(bytes(repo.join(API)), API_TEXT.as_bytes(), "{ctx}: {API}");
    assert_status_clean(env, repo, ctx);
}

/// The work tree holds the committed encrypted form, and `git status` is clean.
fn assert_locked(env: &Env, repo: &Path, ctx: &str) {
    for path in [DEV, API] {
        let stored = env
            .git(repo, &["cat-file", "blob", &format!("HEAD:{path}")])
            .ok()
            .stdout;
        assert!(stored.contains("=gs1:"), "{ctx}: {path}: {stored}");
        assert_eq!(bytes(repo.join(path)), stored.as_bytes(), "{ctx}: {path}");
    }
    assert_status_clean(env, repo, ctx);
}

// Guards: a clone is clean locked, and clean again after `unlock` decrypts it.
#[test]
fn clone_locked_then_unlocked_is_clean() {
    let env = Env::new();
    let repo = project(&env, "");
    let c = clone(&env, &repo, "c");
    assert_locked(&env, &c, "locked clone");
    env.secrets(&c, &["unlock"]).ok();
    assert_decrypted(&env, &c, DEV_TEXT, "after unlock");
}

// Guards: an unlocked clone decrypts the files of another branch on checkout, and back.
#[test]
fn unlocked_clone_checks_out_another_branch_decrypted() {
    let env = Env::new();
    let repo = project(&env, "");
    let c = clone_unlocked(&env, &repo, "c");
    env.git(&c, &["checkout", "-q", "other"]).ok();
    assert_decrypted(&env, &c, OTHER_DEV_TEXT, "checkout other");
    let got = env.secrets(&c, &["get", "DB", "--yes"]).ok().stdout;
    assert_eq!(got, "other-db-password\n");
    env.git(&c, &["checkout", "-q", "main"]).ok();
    assert_decrypted(&env, &c, DEV_TEXT, "checkout main");
}

// Guards: `git worktree add` checks out decrypted, and both work trees stay clean.
#[test]
fn worktree_add_checks_out_decrypted() {
    let env = Env::new();
    let repo = project(&env, "");
    env.git(&repo, &["worktree", "add", "-q", "../wt", "other"])
        .ok();
    let wt = env.path().join("wt");
    assert_decrypted(&env, &wt, OTHER_DEV_TEXT, "new worktree");
    assert_decrypted(&env, &repo, DEV_TEXT, "main worktree");
    let got = env.secrets(&wt, &["get", "DB", "--yes"]).ok().stdout;
    assert_eq!(got, "other-db-password\n");
}

// Guards: cone-mode sparse checkouts of `.secrets` decrypt and stay clean, both ways.
#[test]
fn sparse_checkout_cone_is_clean() {
    let env = Env::new();
    let repo = project(&env, "");
    let c = clone_unlocked(&env, &repo, "c");
    env.git(&c, &["sparse-checkout", "set", ".secrets"]).ok();
    assert!(!c.join("src").exists() && !c.join("docs").exists());
    assert_decrypted(&env, &c, DEV_TEXT, "sparse .secrets");
    env.git(&c, &["checkout", "-q", "other"]).ok();
    assert_decrypted(&env, &c, OTHER_DEV_TEXT, "sparse, checkout other");
    env.git(&c, &["sparse-checkout", "set", "src"]).ok();
    assert!(!c.join(DEV).exists() && c.join("src/main.rs").exists());
    assert_status_clean(&env, &c, "sparse src");
    env.git(&c, &["sparse-checkout", "disable"]).ok();
    assert!(c.join(GUIDE).exists());
    assert_decrypted(&env, &c, OTHER_DEV_TEXT, "sparse disabled");
}

/// A `clone --sparse` of `repo`: only the root files are in the work tree.
fn sparse_clone(env: &Env, repo: &Path) -> PathBuf {
    let url = repo.to_str().unwrap();
    env.git(env.path(), &["clone", "-q", "--sparse", url, "c"])
        .ok();
    let c = env.path().join("c");
    assert!(!c.join(DEV).exists() && c.join(".gitattributes").exists());
    c
}

// Guards: a `clone --sparse` widened to `.secrets`, then unlocked, is decrypted and clean.
#[test]
fn sparse_clone_widened_then_unlocked() {
    let env = Env::new();
    let repo = project(&env, "");
    let c = sparse_clone(&env, &repo);
    env.git(&c, &["sparse-checkout", "add", ".secrets"]).ok();
    assert_locked(&env, &c, "sparse clone widened");
    env.secrets(&c, &["unlock"]).ok();
    assert_decrypted(&env, &c, DEV_TEXT, "after unlock");
}

// Guards: a `clone --sparse` unlocks before `.secrets` is checked out, then decrypts it.
#[test]
fn sparse_clone_unlocked_then_widened() {
    let env = Env::new();
    let repo = project(&env, "");
    let c = sparse_clone(&env, &repo);
    env.secrets(&c, &["unlock"]).ok();
    assert_status_clean(&env, &c, "sparse clone unlocked");
    env.git(&c, &["sparse-checkout", "add", ".secrets"]).ok();
    assert_decrypted(&env, &c, DEV_TEXT, "after sparse-checkout add");
}

// Guards: with .gitattributes sparse'd out of the work tree, the filter still applies.
#[test]
fn sparse_checkout_without_gitattributes_in_the_work_tree() {
    let env = Env::new();
    let repo = project(&env, "");
    let c = clone_unlocked(&env, &repo, "c");
    env.git(&c, &["sparse-checkout", "set", "--no-cone", "/.secrets/"])
        .ok();
    assert!(!c.join(".gitattributes").exists());
    assert_decrypted(&env, &c, DEV_TEXT, "non-cone sparse");
    std::fs::remove_file(c.join(DEV)).unwrap();
    env.git(&c, &["checkout", "-q", "other"]).ok();
    env.git(&c, &["checkout", "-q", "main"]).ok();
    env.git(&c, &["checkout", "--", DEV]).ok();
    assert_decrypted(&env, &c, DEV_TEXT, "checkout without .gitattributes");
    env.secrets(&c, &["set", "DB", "sparse-new-password"]).ok();
    env.git(&c, &["commit", "-q", "-am", "new value"]).ok();
    let stored = blob(&env, &c, &format!("HEAD:{DEV}"));
    assert!(
        stored.contains("DB=gs1:") && !stored.contains("sparse-new-password"),
        "{stored}"
    );
    assert_status_clean(&env, &c, "after commit");
}

// Guards: `git stash` puts back the committed plaintext and `stash pop` the edit, clean.
#[test]
fn stash_push_and_pop_round_trip() {
    let env = Env::new();
    let repo = project(&env, "");
    env.secrets(&repo, &["set", "DB", "stashed-password"]).ok();
    let edited = read(repo.join(DEV));
    env.git(&repo, &["stash", "push", "-q"]).ok();
    assert_decrypted(&env, &repo, DEV_TEXT, "after stash push");
    env.git(&repo, &["stash", "pop", "-q"]).ok();
    assert_eq!(read(repo.join(DEV)), edited);
    let status = env.git(&repo, &["status", "--porcelain"]).ok().stdout;
    assert_eq!(status, format!(" M {DEV}\n"));
    env.git(&repo, &["checkout", "--", DEV]).ok();
    assert_decrypted(&env, &repo, DEV_TEXT, "after checkout");
}

/// A clone of `repo` with `core.autocrlf=true` (kept in its config, as a Windows user's
/// global setting would be); other text files come out with CRLF.
fn autocrlf_clone(env: &Env, repo: &Path) -> PathBuf {
    let url = repo.to_str().unwrap();
    let args = ["-c", "core.autocrlf=true", "clone", "-q"];
    let args = [&args[..], &["--config", "core.autocrlf=true", url, "crlf"]].concat();
    env.git(env.path(), &args).ok();
    let c = env.path().join("crlf");
    assert_eq!(
        read(c.join(GUIDE)),
        "# Guide\r\nline two\r\n",
        "autocrlf applies"
    );
    c
}

/// In an autocrlf clone: locked bytes are the blobs', unlocked bytes the originals', and
/// a branch switch and a new commit keep them so, with a clean status throughout.
fn assert_crlf_checkouts_keep_bytes(env: &Env, c: &Path) {
    assert_locked(env, c, "autocrlf clone, locked");
    env.secrets(c, &["unlock"]).ok();
    assert_decrypted(env, c, DEV_TEXT, "autocrlf clone, unlocked");
    env.git(c, &["checkout", "-q", "other"]).ok();
    assert_decrypted(env, c, OTHER_DEV_TEXT, "autocrlf, checkout other");
    env.secrets(
        c,
        &["set", "-s", "api", "production", "TOKEN", "crlf-token"],
    )
    .ok();
    env.git(c, &["commit", "-q", "-am", "new token"]).ok();
    let api = read(c.join(API));
    assert!(
        api.starts_with("TOKEN=crlf-token\r\nexport MULTI="),
        "{api:?}"
    );
    assert!(api.ends_with("\"\r\nLAST=no-final-eol"), "{api:?}");
    assert_status_clean(env, c, "after commit");
    std::fs::remove_file(c.join(API)).unwrap();
    env.git(c, &["checkout", "--", API]).ok();
    assert_eq!(read(c.join(API)), api, "checkout of the new commit");
    assert_status_clean(env, c, "after checkout");
}

// Guards: with core.autocrlf=true, secret files (-text) keep their bytes, status clean.
#[test]
fn autocrlf_clone_keeps_secret_files_byte_for_byte() {
    let env = Env::new();
    let repo = project(&env, "");
    let c = autocrlf_clone(&env, &repo);
    assert_crlf_checkouts_keep_bytes(&env, &c);
}

// Guards: a `* text=auto eol=crlf` line above git-secrets' own leaves secret files alone.
#[test]
fn eol_crlf_attribute_does_not_touch_secret_files() {
    let env = Env::new();
    let repo = project(&env, "* text=auto eol=crlf\n");
    let attributes = read(repo.join(".gitattributes"));
    assert!(
        attributes.starts_with("* text=auto eol=crlf\n"),
        "{attributes}"
    );
    let c = autocrlf_clone(&env, &repo);
    assert_crlf_checkouts_keep_bytes(&env, &c);
}

/// A comment edit and an `export ` prefix on one branch, a key added on the other: the
/// merge driver keeps both (it once kept our layout and dropped theirs silently).
#[test]
fn a_comment_edit_survives_a_merge_with_an_added_key() {
    let env = Env::new();
    let repo = env.repo("alice", &["--envs"]);
    let file = repo.join(".secrets/test.env");
    write(&file, "A=1\n# rotate before 2025-01\nC=2\n");
    env.commit_all(&repo, "base");
    env.git(&repo, &["checkout", "-q", "-b", "theirs"]).ok();
    write(
        &file,
        "export A=1\n# rotate before 2025-06, ticket SEC-42\nC=2\n",
    );
    env.commit_all(&repo, "theirs: the note, export A");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    write(&file, "A=1\n# rotate before 2025-01\nC=2\nB=3\n");
    env.commit_all(&repo, "ours: B");
    env.git(&repo, &["merge", "-q", "--no-edit", "theirs"]).ok();
    assert_eq!(
        read(&file),
        "export A=1\n# rotate before 2025-06, ticket SEC-42\nC=2\nB=3\n"
    );
    // Both sides editing the comment differently: a conflict, nothing dropped.
    env.git(&repo, &["checkout", "-q", "-b", "other", "HEAD~1"])
        .ok();
    write(&file, "A=1\n# rotate before 2025-03\nC=2\nB=3\n");
    env.commit_all(&repo, "other: the note");
    let out = env
        .git(&repo, &["merge", "-q", "--no-edit", "main"])
        .fails();
    assert!(
        out.stdout.contains("CONFLICT") || out.stderr.contains("CONFLICT"),
        "{out:?}"
    );
    let text = read(&file);
    assert!(
        text.contains("2025-03") && text.contains("SEC-42"),
        "{text}"
    );
}

/// A key listed twice (the last line is in effect, and what `set` changes): its value set
/// on one branch, another key on the other. The merge keeps both, whichever way round,
/// with no conflict, in the work tree and in what a fresh clone reads. (The driver once
/// compared the first, shadowed line with the value in effect: a conflict whose natural
/// resolution, taking the incoming line, left the old value in effect.)
#[test]
fn a_value_set_on_a_duplicated_key_survives_a_merge() {
    let env = Env::new();
    let repo = env.repo("alice", &["--envs"]);
    let file = repo.join(FILE);
    write(&file, "DB=shadowed-1\nB=bravo-base\nDB=in-effect-1\n");
    env.commit_all(&repo, "base");
    env.git(&repo, &["checkout", "-q", "-b", "db"]).ok();
    env.secrets(&repo, &["set", "DB", "in-effect-2"]).ok();
    env.commit_all(&repo, "db: DB");
    env.git(&repo, &["checkout", "-q", "-b", "bravo", "main"])
        .ok();
    env.secrets(&repo, &["set", "B", "bravo-new"]).ok();
    env.commit_all(&repo, "bravo: B");
    let want = "DB=shadowed-1\nB=bravo-new\nDB=in-effect-2\n";
    for (into, from) in [("bravo", "db"), ("db", "bravo")] {
        let ctx = format!("{from} into {into}");
        env.git(&repo, &["checkout", "-q", "-B", "merged", into])
            .ok();
        let out = env.git(&repo, &["merge", "--no-edit", from]);
        assert!(out.success(), "{ctx}: {out:#?}");
        assert_eq!(read(&file), want, "{ctx}");
        let c = clone(&env, &repo, &format!("fresh-{into}"));
        env.git(&c, &["checkout", "-q", "merged"]).ok();
        let got = env.secrets(&c, &["get", "DB", "--yes"]).ok().stdout;
        assert_eq!(got, "in-effect-2\n", "{ctx}: a fresh clone reads DB");
        let got = env.secrets(&c, &["get", "B", "--yes"]).ok().stdout;
        assert_eq!(got, "bravo-new\n", "{ctx}: a fresh clone reads B");
    }
}

/// The same comment written above a new key on each branch (a team's "added for …"
/// convention): each key keeps its comment after the merge, in the work tree and in the
/// commit. (The driver once took the other side's comment for one the file already had,
/// and dropped it.)
#[test]
fn the_same_comment_above_keys_added_on_two_branches_is_kept_for_both() {
    let env = Env::new();
    let repo = env.repo("alice", &["--envs"]);
    let file = repo.join(FILE);
    write(&file, "A=alpha-base\n");
    env.commit_all(&repo, "base");
    env.git(&repo, &["checkout", "-q", "-b", "theirs"]).ok();
    write(&file, "A=alpha-base\n# expires 2026-06\nY=yankee-new\n");
    env.commit_all(&repo, "theirs: Y");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    write(&file, "A=alpha-base\n# expires 2026-06\nX=xray-new\n");
    env.commit_all(&repo, "ours: X");
    let out = env.git(&repo, &["merge", "--no-edit", "theirs"]);
    assert!(out.success(), "{out:#?}");
    let want = "A=alpha-base\n# expires 2026-06\nY=yankee-new\n# expires 2026-06\nX=xray-new\n";
    assert_eq!(read(&file), want);
    assert_status_clean(&env, &repo, "after the merge");
    std::fs::remove_file(&file).unwrap();
    env.git(&repo, &["checkout", "HEAD", "--", FILE]).ok();
    assert_eq!(read(&file), want, "checkout of HEAD");
}

/// `export ` added to a key on one branch, the same key's value changed on the other: the
/// merge keeps both, whichever side is merged into which (it once took the changed
/// value's whole line and dropped the `export ` silently). The merged value is the other
/// side's sealed value as it was, under its own key.
#[test]
fn an_export_prefix_survives_a_merge_with_a_value_change() {
    let env = Env::new();
    let repo = env.repo("alice", &["--envs"]);
    let file = repo.join(".secrets/production.env");
    write(&file, "A=1\nB=2\n");
    env.commit_all(&repo, "base");
    env.git(&repo, &["checkout", "-q", "-b", "value"]).ok();
    write(&file, "A=value-changed\nB=2\n");
    env.commit_all(&repo, "value: A");
    env.git(&repo, &["checkout", "-q", "-b", "prefix", "main"])
        .ok();
    write(&file, "export A=1\nB=2\n");
    env.commit_all(&repo, "prefix: export A");
    for (into, from) in [("prefix", "value"), ("value", "prefix")] {
        env.git(&repo, &["checkout", "-q", "-B", "merged", into])
            .ok();
        env.git(&repo, &["merge", "-q", "--no-edit", from]).ok();
        assert_eq!(
            read(&file),
            "export A=value-changed\nB=2\n",
            "{from} into {into}"
        );
        assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
        let stored = blob(&env, &repo, "HEAD:.secrets/production.env");
        assert!(
            stored.starts_with("export A=gs1:") && !stored.contains("value-changed"),
            "{stored}"
        );
        let sealed_value = blob(&env, &repo, "value:.secrets/production.env");
        let value_of = |s: &str| {
            s.lines()
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1
                .to_owned()
        };
        assert_eq!(
            value_of(&stored),
            value_of(&sealed_value),
            "not sealed again"
        );
    }
}

/// A file converted to CRLF on one branch; on the other a value changed, a key added or a
/// comment added: the merge keeps both, whichever side is merged into which, and the
/// merged file is CRLF throughout. (The conversion was once dropped when the converting
/// side's layout was not the one kept; then, as part of the layout, it made the file
/// conflict whole against an added comment and left an added key's line in LF.)
#[test]
fn a_crlf_conversion_survives_a_merge_with_a_value_change() {
    let env = Env::new();
    let repo = env.repo("alice", &["--envs"]);
    let file = repo.join(".secrets/production.env");
    write(&file, "# db\nA=1\nB=2\n");
    env.commit_all(&repo, "base");
    let others = [
        (
            "value",
            "# db\nA=1\nB=value-changed\n",
            "# db\r\nA=1\r\nB=value-changed\r\n",
        ),
        (
            "key",
            "# db\nA=1\nB=2\nC=added\n",
            "# db\r\nA=1\r\nB=2\r\nC=added\r\n",
        ),
        (
            "comment",
            "# db\n# rotate in June\nA=1\nB=2\n",
            "# db\r\n# rotate in June\r\nA=1\r\nB=2\r\n",
        ),
    ];
    for (branch, text, _) in others {
        env.git(&repo, &["checkout", "-q", "-b", branch, "main"])
            .ok();
        write(&file, text);
        env.commit_all(&repo, branch);
    }
    env.git(&repo, &["checkout", "-q", "-b", "crlf", "main"])
        .ok();
    write(&file, "# db\r\nA=1\r\nB=2\r\n");
    env.commit_all(&repo, "crlf");
    for (other, _, want) in others {
        for (into, from) in [("crlf", other), (other, "crlf")] {
            env.git(&repo, &["checkout", "-q", "-B", "merged", into])
                .ok();
            env.git(&repo, &["merge", "-q", "--no-edit", from]).ok();
            assert_eq!(read(&file), want, "{from} into {into}");
            assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
        }
    }
}

// Guards: `git mv` of a service's folder keeps the blobs sealed for the old place, and
// git sees no change to re-seal (a directory rename leaves the files' stat data as
// the index has it). The commit is refused with the fix that works (re-seal with
// `git add --renormalize`); then `doctor` and `status` name the files of a service
// config.toml lacks, which no command reads, with `git secrets service add`.
#[test]
fn git_mv_of_a_service_folder_is_resealed_and_its_service_declared() {
    let env = Env::new();
    let repo = env.repo("alice", &["--envs"]);
    env.secrets(
        &repo,
        &["set", "-s", "web", "test", "WEB_TOKEN", "web-test-1"],
    )
    .ok();
    env.secrets(
        &repo,
        &["set", "-s", "web", "development", "WEB_TOKEN", "web-dev-1"],
    )
    .ok();
    env.commit_all(&repo, "web");
    env.git(&repo, &["mv", ".secrets/web", ".secrets/frontend"])
        .ok();

    // Refused, and the hint says how to re-seal: `git add -A` alone changes nothing.
    let out = env
        .git(&repo, &["commit", "-q", "-m", "rename web"])
        .fails();
    assert!(
        out.stderr
            .contains("git add --renormalize -- .secrets/frontend/test.env"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("web-test-1"), "{}", out.stderr);
    env.git(&repo, &["add", "--renormalize", "--", ".secrets/frontend"])
        .ok();

    env.commit_all(&repo, "rename web");
    // Sealed for its new place, but of a service config.toml lacks, which no command
    // reads: `doctor` and `status` name it, and the fix.
    let doctor = env.secrets(&repo, &["doctor"]).fails();
    assert!(
        doctor.stdout.contains(".secrets/frontend/test.env")
            && doctor.stdout.contains("git secrets service add frontend"),
        "{doctor:?}"
    );
    let status = env.secrets(&repo, &["status"]).ok();
    assert!(status.stdout.contains("frontend"), "{status:?}");
    // A command that reads it says why it cannot, and the fix, not "unknown service".
    let get = env
        .secrets(
            &repo,
            &["get", "-s", "frontend", "test", "WEB_TOKEN", "--yes"],
        )
        .fails();
    get.error_names(&[
        ".secrets/frontend/test.env",
        "git secrets service add frontend",
    ]);

    env.secrets(&repo, &["service", "add", "frontend"]).ok();
    env.commit_all(&repo, "declare frontend");
    env.secrets(&repo, &["doctor"]).ok();
    let got = env
        .secrets(
            &repo,
            &["get", "-s", "frontend", "test", "WEB_TOKEN", "--yes"],
        )
        .ok()
        .stdout;
    assert_eq!(got.trim(), "web-test-1");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
}

// Guards: two members each adding a service edit the same line of config.toml. The
// config merge driver keeps both, so the merge goes through, and every value of both
// services reads back; one that also adds an environment keeps it.
#[test]
fn services_and_environments_added_on_two_branches_merge_without_a_conflict() {
    let env = Env::new();
    let repo = services_added_on_two_branches(
        &env,
        |repo| {
            env.secrets(repo, &["env", "add", "staging"]).ok();
        },
        |_| {},
    );
    env.git(&repo, &["merge", "-q", "--no-edit", "billing"])
        .ok();
    let config = read(repo.join(".secrets/config.toml"));
    assert!(
        config.contains(r#"services = ["billing", "pay"]"#),
        "{config}"
    );
    assert!(config.contains("staging"), "{config}");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
    both_services_read_back(&env, &repo, "dev-1");
    env.secrets(&repo, &["set", "-s", "pay", "-e", "staging", "K", "v"])
        .ok();
}

// Guards: two members each adding a service, and each choosing another default
// environment, conflict in config.toml (the config merge driver leaves two changes of
// one setting to a person). Until it is resolved, `git status` and `git diff` still
// clean the secret files (an edit in progress, a file the merge added): the filter reads
// config.toml's two sides instead of failing on the markers.
#[test]
fn a_config_toml_conflict_leaves_status_and_diff_working() {
    let env = Env::new();
    let repo = defaults_changed_on_two_branches(&env);
    // An edit in progress, of a file the merge does not touch.
    write(repo.join(".secrets/development.env"), "DB=dev-2\n");

    let out = env.git(&repo, &["merge", "-q", "billing"]).fails();
    assert!(out.stdout.contains(".secrets/config.toml"), "{out:?}");
    let status = env.git(&repo, &["status", "--porcelain"]).ok().stdout;
    assert_eq!(
        status,
        "A  .secrets/billing/development.env\nUU .secrets/config.toml\n M .secrets/development.env\n"
    );
    let diff = env
        .git(&repo, &["diff", "--", ".secrets/development.env"])
        .ok();
    assert!(diff.stdout.contains("+DB = ********"), "{diff:?}");
    assert!(!diff.stdout.contains("dev-2"), "{diff:?}");

    // Resolved by keeping both services and the old default: committed, every value
    // read back.
    let config = read(repo.join(".secrets/config.toml"));
    assert!(config.contains("<<<<<<<"), "{config}");
    let theirs = env
        .git(&repo, &["show", ":3:.secrets/config.toml"])
        .ok()
        .stdout;
    let resolved = theirs
        .replace(r#"["billing"]"#, r#"["billing", "pay"]"#)
        .replace(
            r#"default_environment = "test""#,
            r#"default_environment = "development""#,
        );
    assert!(
        resolved.contains(r#"services = ["billing", "pay"]"#),
        "{resolved}"
    );
    assert!(
        resolved.contains(r#"default_environment = "development""#),
        "{resolved}"
    );
    write(repo.join(".secrets/config.toml"), &resolved);
    env.git(&repo, &["add", "-A"]).ok();
    env.git(&repo, &["commit", "-q", "--no-edit"]).ok();
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
    both_services_read_back(&env, &repo, "dev-2");
}

/// Alice's repository with DB set, a branch `billing` that adds the service billing (and
/// does `on_billing`), and main, which adds the service pay (and does `on_main`).
fn services_added_on_two_branches(
    env: &Env,
    on_billing: impl Fn(&Path),
    on_main: impl Fn(&Path),
) -> PathBuf {
    let repo = env.repo("alice", &["--envs"]);
    env.secrets(&repo, &["set", "DB", "dev-1"]).ok();
    env.commit_all(&repo, "base");
    env.git(&repo, &["checkout", "-q", "-b", "billing"]).ok();
    env.secrets(&repo, &["set", "-s", "billing", "BILL", "bill-1"])
        .ok();
    on_billing(&repo);
    env.commit_all(&repo, "billing");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    env.secrets(&repo, &["set", "-s", "pay", "STRIPE", "stripe-1"])
        .ok();
    on_main(&repo);
    env.commit_all(&repo, "pay");
    repo
}

/// [`services_added_on_two_branches`], where billing also makes `test` the default
/// environment and main `production`: merging them conflicts in config.toml.
fn defaults_changed_on_two_branches(env: &Env) -> PathBuf {
    let default_to = |name: &'static str| {
        move |repo: &Path| {
            let path = repo.join(".secrets/config.toml");
            let config = read(&path).replace(
                r#"default_environment = "development""#,
                &format!(r#"default_environment = "{name}""#),
            );
            write(&path, &config);
        }
    };
    services_added_on_two_branches(env, default_to("test"), default_to("production"))
}

/// Both branches' values, and `DB`, read back after the merge.
fn both_services_read_back(env: &Env, repo: &Path, db: &str) {
    for (scope, key, value) in [
        (&["-s", "billing"][..], "BILL", "bill-1"),
        (&["-s", "pay"][..], "STRIPE", "stripe-1"),
        (&[][..], "DB", db),
    ] {
        let args = [&["get"], scope, &[key, "--yes"]].concat();
        assert_eq!(env.secrets(repo, &args).ok().stdout.trim(), value);
    }
}

// Guards: one branch tracks a file in `test`, the other deletes `test`. The two edits
// of config.toml are lines apart, so git's line merge is clean, but its result names an
// environment no longer declared: committed, every command would refuse the file and
// the tracked file's key would be gone without a word. The config driver leaves it as
// a conflict for a person, naming the file and the environment.
#[test]
fn a_config_merge_whose_clean_line_merge_is_not_valid_stops_as_a_conflict() {
    let env = Env::new();
    let repo = env.repo("alice", &["--envs"]);
    env.secrets(&repo, &["set", "DB", "dev-1"]).ok();
    env.commit_all(&repo, "base");
    env.git(&repo, &["checkout", "-q", "-b", "drop-test"]).ok();
    env.secrets(&repo, &["env", "del", "test", "--yes"]).ok();
    env.commit_all(&repo, "delete test");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    write(repo.join("cert.pem"), "test-cert\n");
    env.secrets(&repo, &["track", "cert.pem", "-e", "test"])
        .ok();
    env.commit_all(&repo, "track cert.pem in test");
    let head = env.git(&repo, &["rev-parse", "HEAD"]).ok().stdout;

    let out = env.git(&repo, &["merge", "--no-edit", "drop-test"]).fails();
    assert!(out.stderr.contains("cert.pem"), "{out:?}");
    assert!(out.stderr.contains("`test`"), "{out:?}");
    assert_eq!(env.git(&repo, &["rev-parse", "HEAD"]).ok().stdout, head);
    let unmerged = env.git(&repo, &["ls-files", "-u", "--", ".secrets/config.toml"]);
    assert_eq!(unmerged.ok().stdout.lines().count(), 3);
    // Both sides between markers, each as its branch wrote it.
    let config = read(repo.join(".secrets/config.toml"));
    assert!(config.starts_with("<<<<<<< "), "{config}");
    assert!(config.contains(r#""cert.pem" = "test""#), "{config}");
    assert!(
        config.contains(r#"environments = ["development", "production"]"#),
        "{config}"
    );
}

// Guards: the filter reads both sides of a config.toml left in conflict, so `git status`
// and `git add` go on working; the commit of that file is what the checks refuse (as for
// a scope file with markers), here and in `git secrets check`: pushed, no command
// anyone runs could load it, and the checks could not tell which files it tracks.
#[test]
fn a_config_toml_with_conflict_markers_is_not_committed() {
    let env = Env::new();
    let repo = defaults_changed_on_two_branches(&env);
    env.git(&repo, &["merge", "-q", "billing"]).fails();
    env.git(&repo, &["add", "-A"]).ok();
    let out = env.git(&repo, &["commit", "-q", "--no-edit"]).fails();
    assert!(out.stderr.contains(".secrets/config.toml"), "{out:?}");
    assert!(out.stderr.contains("conflict markers"), "{out:?}");
    let out = env
        .git(&repo, &["commit", "-q", "--no-edit", "--no-verify"])
        .ok();
    let check = env.secrets(&repo, &["check", "HEAD^..HEAD"]).fails();
    assert!(
        check
            .stdout
            .contains(".secrets/config.toml: still holds conflict markers"),
        "{out:?} {check:?}"
    );
}
