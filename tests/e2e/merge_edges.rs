//! The key-level merge (a clone that can read the environment) where a side's change is
//! not a value: a final newline dropped, a comment edited above a key the other side
//! deleted, several keys added in a row. Each change is kept, or is a conflict; none is
//! dropped, and no key is moved away from where its side put it.

use std::path::PathBuf;

use crate::common::*;

const DEV: &str = ".secrets/development.env";

/// A repository whose development file holds `base`, committed on `main`; branch `side`
/// (from there) gets `side`, then `main` gets `main`, each written by hand and committed;
/// `main` checked out.
fn branches(env: &Env, base: &str, side: &str, main: &str) -> PathBuf {
    let repo = env.repo("repo", &[]);
    write(repo.join(DEV), base);
    env.commit_all(&repo, "base");
    env.git(&repo, &["checkout", "-q", "-b", "side"]).ok();
    write(repo.join(DEV), side);
    env.commit_all(&repo, "side");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    write(repo.join(DEV), main);
    env.commit_all(&repo, "main");
    repo
}

// Guards: a final newline dropped on one side survives a value changed on the other.
#[test]
fn a_dropped_final_newline_survives_a_value_changed_on_the_other_side() {
    let env = Env::new();
    let base = "A=alpha-1111\nB=bravo-2222\n";
    let repo = branches(
        &env,
        base,
        "A=alpha-1111\nB=bravo-2222",
        "A=alpha-1111\nB=bravo-3333\n",
    );
    env.git(&repo, &["merge", "-q", "--no-edit", "side"]).ok();
    assert_eq!(read(repo.join(DEV)), "A=alpha-1111\nB=bravo-3333");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
}

// Guards: a comment edited above a key that the other side unset (which leaves the
// comment above the next key) is a conflict of the comment and the entry against
// nothing, not an edit dropped in silence.
#[test]
fn a_comment_edited_above_a_key_unset_on_the_other_side_conflicts() {
    let env = Env::new();
    let base = "# database\nDB=db-pass-1111\nB=bravo-2222\n";
    let repo = branches(
        &env,
        base,
        "# database, rotated every quarter\nDB=db-pass-1111\nB=bravo-2222\n",
        "# database\nB=bravo-2222\n",
    );
    let out = env.git(&repo, &["merge", "--no-edit", "side"]).fails();
    assert!(out.stdout.contains("CONFLICT (content)"), "{out:#?}");
    let merged = read(repo.join(DEV));
    assert!(
        merged.contains(
            "=======\n# database, rotated every quarter\nDB=db-pass-1111\n>>>>>>> side\n"
        ),
        "{merged}"
    );
}

// Guards: several keys the other side added in a row after one key stay together there,
// in order, when this side's layout is kept (it added a key of its own).
#[test]
fn keys_added_in_a_row_keep_their_place_through_a_merge() {
    let env = Env::new();
    let base = "A=alpha-1111\nB=bravo-2222\n";
    let repo = branches(
        &env,
        base,
        "A=alpha-1111\n# new ones\nX=x-ray-1111\nY=yankee-2222\nZ=zulu-3333\nB=bravo-2222\n",
        "A=alpha-1111\nB=bravo-2222\nW=whiskey-9999\n",
    );
    env.git(&repo, &["merge", "-q", "--no-edit", "side"]).ok();
    assert_eq!(
        read(repo.join(DEV)),
        "A=alpha-1111\n# new ones\nX=x-ray-1111\nY=yankee-2222\nZ=zulu-3333\nB=bravo-2222\nW=whiskey-9999\n"
    );
}

// Guards: a key added on both branches keeps each side's comment right above it: the
// same value with a comment on one side only merges cleanly with that comment (either
// side's layout kept); two different comments are a conflict of the comments and the
// entry (which comes first, or whether one replaces the other, only their authors
// know), as is a different value; neither comment is dropped.
#[test]
fn comments_above_a_key_added_on_both_branches_are_kept() {
    let base = "A=alpha-1111\n";
    let with = |comment: &str, value: &str| format!("A=alpha-1111\n{comment}K=shared-{value}\n");
    // One side's comment only: kept, whichever side wrote it.
    for (side, main) in [
        (with("# from the vendor portal\n", "0042"), with("", "0042")),
        (with("", "0042"), with("# from the vendor portal\n", "0042")),
    ] {
        let env = Env::new();
        let repo = branches(&env, base, &side, &main);
        env.git(&repo, &["merge", "-q", "--no-edit", "side"]).ok();
        assert_eq!(
            read(repo.join(DEV)),
            with("# from the vendor portal\n", "0042"),
            "{side:?} {main:?}"
        );
        assert_eq!(env.git(&repo, &["status", "--porcelain"]).ok().stdout, "");
    }
    // Two different comments, over the same value or two values: a conflict holding both.
    for theirs_value in ["0042", "0043"] {
        let env = Env::new();
        let repo = branches(
            &env,
            base,
            &with("# expires 2026-07\n", theirs_value),
            &with("# expires 2026-06\n", "0042"),
        );
        let out = env.git(&repo, &["merge", "--no-edit", "side"]).fails();
        assert!(out.stdout.contains("CONFLICT (content)"), "{out:#?}");
        let merged = read(repo.join(DEV));
        assert!(
            merged.contains(&format!(
                "# expires 2026-06\nK=shared-0042\n=======\n# expires 2026-07\nK=shared-{theirs_value}\n>>>>>>> side\n"
            )),
            "{merged}"
        );
        assert_eq!(merged.matches("# expires").count(), 2, "{merged}");
    }
}
