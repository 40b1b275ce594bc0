//! A key each branch added in a different place of a scope file. git's line merge of
//! the encrypted form keeps both entries without a conflict, and a dotenv loader takes
//! the last: one side's value would be picked in silence. The merge driver's fallback
//! (no access to the environment) makes it a conflict; a commit concluding a merge that
//! still lists the key twice is refused by the hooks, and a merge commit made in a clone
//! with no merge driver at all by `git secrets check` (and pre-push).

use std::path::{Path, PathBuf};

use crate::common::*;

const PROD: &str = ".secrets/production.env";
const TOP: &str = "top-value-1111";
const BOTTOM: &str = "bottom-value-2222";

/// Two branches from `main` of Alice's repository (`alice_repo`): `top` adds API at the
/// top of production's file by hand, `bottom` with `set` (at the end).
fn added_in_two_places(env: &Env, alice: &Path) {
    env.git(alice, &["checkout", "-q", "-b", "top"]).ok();
    write(
        alice.join(PROD),
        &format!("API={TOP}\nDB=prod-password-1\n"),
    );
    env.commit_all(alice, "top");
    env.git(alice, &["checkout", "-q", "-b", "bottom", "main"])
        .ok();
    env.secrets(alice, &["set", "production", "API", BOTTOM])
        .ok();
    env.commit_all(alice, "bottom");
    env.git(alice, &["checkout", "-q", "main"]).ok();
}

fn assert_no_value(out: &Out) {
    for v in [TOP, BOTTOM] {
        assert!(
            !out.stderr.contains(v) && !out.stdout.contains(v),
            "{out:#?}"
        );
    }
}

/// The lines of `text` that set `key`.
fn entries<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    let prefix = format!("{key}=");
    text.lines().filter(|l| l.starts_with(&prefix)).collect()
}

// Guards: the driver's line merge without access to production keeps both entries of a
// key added on each side in a different place: the merge is a conflict of the whole
// file instead, each side between markers in sealed form, naming the key and no value.
#[test]
fn without_access_a_key_added_in_two_places_is_a_conflict() {
    let env = Env::new();
    let alice = alice_repo(&env);
    let (bob, b, id) = bob_joins(&env, &alice);
    approve_and_unlock(&env, &alice, &bob, &b, &id, "development");
    added_in_two_places(&env, &alice);
    let from = alice.to_str().unwrap();
    bob.git(&b, &["fetch", "-q", from, "top:top", "bottom:bottom"])
        .ok();
    bob.git(&b, &["checkout", "-q", "top"]).ok();
    let out = bob.git(&b, &["merge", "--no-edit", "bottom"]).fails();
    assert!(out.stdout.contains("CONFLICT (content)"), "{out:#?}");
    assert!(
        out.stderr
            .contains("both sides added `API` in different places"),
        "{out:#?}"
    );
    assert_no_value(&out);
    let merged = read(b.join(PROD));
    let open = merged.lines().position(|l| l.starts_with("<<<<<<<"));
    let mid = merged.lines().position(|l| l == "=======");
    let (Some(open), Some(mid)) = (open, mid) else {
        panic!("no conflict markers:\n{merged}");
    };
    let lines: Vec<&str> = merged.lines().collect();
    // Each side whole: API and DB on each, API above DB on ours, below on theirs.
    assert_eq!(open, 0, "{merged}");
    assert!(
        lines[1].starts_with("API=gs1:") && lines[2].starts_with("DB=gs1:"),
        "{merged}"
    );
    assert!(lines[mid + 1].starts_with("DB=gs1:"), "{merged}");
    assert!(lines[mid + 2].starts_with("API=gs1:"), "{merged}");
    assert_eq!(entries(&merged, "API").len(), 2, "{merged}");
    let status = bob.git(&b, &["status", "--porcelain"]).ok().stdout;
    assert!(status.contains(&format!("UU {PROD}")), "{status}");
}

// Guards: a person who resolves the key-level conflict by deleting only the markers
// keeps both entries; the commit concluding the merge is refused by the hook, naming
// the file and the key, never a value.
#[test]
fn a_merge_committed_with_a_key_listed_twice_is_refused() {
    let env = Env::new();
    let alice = &alice_repo(&env);
    added_in_two_places(&env, alice);
    env.git(alice, &["checkout", "-q", "top"]).ok();
    env.git(alice, &["merge", "--no-edit", "bottom"]).fails();
    let merged = read(alice.join(PROD));
    let kept: String = merged
        .lines()
        .filter(|l| {
            !["<<<<<<<", "=======", ">>>>>>>"]
                .iter()
                .any(|m| l.starts_with(m))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(entries(&kept, "API").len(), 2, "{merged}");
    write(alice.join(PROD), &kept);
    env.git(alice, &["add", PROD]).ok();
    let out = env.git(alice, &["commit", "-q", "--no-edit"]).fails();
    assert!(
        out.stderr.contains(PROD) && out.stderr.contains("lists `API` more often"),
        "{out:#?}"
    );
    assert_no_value(&out);
    // One entry kept: the merge commits.
    write(
        alice.join(PROD),
        &format!("API={BOTTOM}\nDB=prod-password-1\n"),
    );
    env.git(alice, &["add", PROD]).ok();
    env.git(alice, &["commit", "-q", "--no-edit"]).ok();
}

/// Carol's clone of `from`, in which git-secrets was never set up: no filter, no merge
/// driver, no hooks.
fn bare_clone(env: &Env, from: &Path) -> (Env, PathBuf) {
    let carol = env.person("carol");
    let c = clone(&carol, from, "carol");
    (carol, c)
}

// Guards: a merge made where no merge driver is configured keeps both entries without
// a conflict; `git secrets check` of a range holding that merge commit refuses it,
// naming the commit, the file and the key, never a value.
#[test]
fn check_refuses_a_merge_commit_that_lists_a_key_twice() {
    let env = Env::new();
    let alice = &alice_repo(&env);
    added_in_two_places(&env, alice);
    let (carol, c) = bare_clone(&env, alice);
    carol.git(&c, &["checkout", "-q", "top"]).ok();
    carol
        .git(&c, &["merge", "-q", "--no-edit", "origin/bottom"])
        .ok();
    assert_eq!(entries(&read(c.join(PROD)), "API").len(), 2);
    let head = carol.git(&c, &["rev-parse", "HEAD"]).ok().stdout;
    let out = env.secrets(&c, &["check", "origin/main..HEAD"]).fails();
    assert!(
        out.stdout.contains(&head[..12])
            && out.stdout.contains(PROD)
            && out.stdout.contains("lists `API` more often"),
        "{out:#?}"
    );
    assert_no_value(&out);
    // Each branch alone passes: neither lists the key twice.
    env.secrets(&c, &["check", "origin/main..origin/bottom"])
        .ok();
    env.secrets(&c, &["check", "origin/main..origin/top"]).ok();
}
