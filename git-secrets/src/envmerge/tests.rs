//! The key-level merge's unit tests.

use super::*;

fn m(base: &str, ours: &str, theirs: &str) -> Merged {
    m_favouring(base, ours, theirs, None)
}

fn m_favouring(base: &str, ours: &str, theirs: &str, favour: Option<Favour>) -> Merged {
    let p = |s: &str| Document::parse(s.as_bytes()).unwrap();
    let (b, o, t) = (p(base), p(ours), p(theirs));
    let (bl, ol, tl) = (plain_lines(&b), plain_lines(&o), plain_lines(&t));
    merge(
        Side { doc: &b, out: &bl },
        Side { doc: &o, out: &ol },
        Side { doc: &t, out: &tl },
        &Markers::new("ours", "base", "theirs"),
        favour,
    )
}

#[test]
fn x_ours_and_x_theirs_settle_conflicts_and_keep_the_rest() {
    use Favour::{Ours, Theirs};
    // A value changed on both sides, plus a change on each side alone.
    let (base, ours, theirs) = ("A=1\nB=2\nC=3\n", "A=10\nB=2\nC=30\n", "A=11\nB=20\nC=3\n");
    let r = m_favouring(base, ours, theirs, Some(Ours));
    assert_eq!((r.text.as_str(), r.conflicts), ("A=10\nB=20\nC=30\n", 0));
    let r = m_favouring(base, ours, theirs, Some(Theirs));
    assert_eq!((r.text.as_str(), r.conflicts), ("A=11\nB=20\nC=30\n", 0));
    // The same when the layout is theirs (they added a comment).
    let theirs = "# db\nA=11\nB=20\nC=3\n";
    let r = m_favouring(base, ours, theirs, Some(Ours));
    assert_eq!(
        (r.text.as_str(), r.conflicts),
        ("# db\nA=10\nB=20\nC=30\n", 0)
    );
    let r = m_favouring(base, ours, theirs, Some(Theirs));
    assert_eq!(
        (r.text.as_str(), r.conflicts),
        ("# db\nA=11\nB=20\nC=30\n", 0)
    );
    // Deleted on one side, changed on the other: the favoured side's doing.
    let r = m_favouring("A=1\nB=2\n", "B=2\n", "A=5\nB=2\n", Some(Ours));
    assert_eq!((r.text.as_str(), r.conflicts), ("B=2\n", 0));
    let r = m_favouring("A=1\nB=2\n", "B=2\n", "A=5\nB=2\n", Some(Theirs));
    assert_eq!((r.text.as_str(), r.conflicts), ("B=2\nA=5\n", 0));
    // Both layouts changed: the favoured side's layout, the other side's keys merged
    // into it (a changed value and an added key are kept).
    let (ours, theirs) = ("# o\nA=1\nB=2\n", "# t\nA=1\nB=3\n# new\nC=4\n");
    let r = m_favouring("A=1\nB=2\n", ours, theirs, Some(Ours));
    assert_eq!(
        (r.text.as_str(), r.conflicts),
        ("# o\nA=1\nB=3\n# new\nC=4\n", 0)
    );
    let r = m_favouring("A=1\nB=2\n", ours, theirs, Some(Theirs));
    assert_eq!((r.text.as_str(), r.conflicts), (theirs, 0));
    // Without -X, the conflicts stay.
    assert_eq!(
        m(base, "A=10\nB=2\nC=30\n", "A=11\nB=20\nC=3\n").conflicts,
        1
    );
}

#[test]
fn different_keys_merge_cleanly() {
    let r = m("A=1\nB=2\n", "A=10\nB=2\n", "A=1\nB=20\n");
    assert_eq!((r.text.as_str(), r.conflicts), ("A=10\nB=20\n", 0));
    let r = m("A=1\n", "A=1\n# new\nC=3\n", "A=1\nD=4\n");
    assert_eq!(
        (r.text.as_str(), r.conflicts),
        ("A=1\nD=4\n# new\nC=3\n", 0)
    );
    let r = m("A=1\nB=2\n", "A=1\n", "A=1\nB=2\nC=3\n");
    assert_eq!((r.text.as_str(), r.conflicts), ("A=1\nC=3\n", 0));
}

#[test]
fn same_key_changed_twice_conflicts_with_markers() {
    let r = m("A=1\nB=2\n", "A=x\nB=2\n", "A=y\nB=2\n");
    assert_eq!(r.conflicts, 1);
    assert_eq!(
        r.text,
        "<<<<<<< ours\nA=x\n=======\nA=y\n>>>>>>> theirs\nB=2\n"
    );
    let r = m("A=1\n", "", "A=2\n");
    assert_eq!(r.conflicts, 1);
    assert_eq!(r.text, "<<<<<<< ours\n=======\nA=2\n>>>>>>> theirs\n");
}

#[test]
fn a_layout_change_on_one_side_survives_keys_added_on_the_other() {
    // Theirs edits a comment and an entry's prefix; ours adds a key (with its comment).
    let base = "A=1\n# rotate before 2025-01\nC=2\n";
    let theirs = "export A=1\n# rotate before 2025-06\nC=2\n";
    let ours = "A=1\n# rotate before 2025-01\nC=2\n# new\nB=3\n";
    let r = m(base, ours, theirs);
    assert_eq!(
        (r.text.as_str(), r.conflicts),
        ("export A=1\n# rotate before 2025-06\nC=2\n# new\nB=3\n", 0)
    );
    let r = m(base, theirs, ours);
    assert_eq!(r.conflicts, 0);
    assert!(r.text.contains("2025-06") && r.text.contains("export A=1") && r.text.contains("B=3"));
}

// Guards: a prefix added on one side (`export `) survives a value changed on the
// other, either way round; so does a line ending converted on the side whose layout
// is kept (line endings are not part of the layout, so ours when neither side changed
// anything else).
#[test]
fn a_prefix_edit_survives_a_value_change_on_the_other_side() {
    let base = "A=1\nB=2\n";
    let prefixed = "export A=1\nB=2\n";
    let changed = "A=theirs-value\nB=2\n";
    for (ours, theirs) in [(prefixed, changed), (changed, prefixed)] {
        let r = m(base, ours, theirs);
        assert_eq!(
            (r.text.as_str(), r.conflicts),
            ("export A=theirs-value\nB=2\n", 0),
            "{ours:?} {theirs:?}"
        );
    }
    // The prefix removed on one side, spacing changed on the other side's value.
    let r = m("export A=1\n", "A=1\n", "export A='2'\n");
    assert_eq!((r.text.as_str(), r.conflicts), ("A='2'\n", 0));
    // A line ending converted on one side.
    let r = m("A=1\nB=2\n", "A=1\r\nB=2\r\n", "A=3\nB=2\n");
    assert_eq!((r.text.as_str(), r.conflicts), ("A=3\r\nB=2\r\n", 0));
}

#[test]
fn layout_changed_differently_on_both_sides_conflicts_whole() {
    let r = m(
        "# a\nA=1\n",
        "# a, edited here\nA=1\n",
        "# a, edited there\nA=1\n",
    );
    assert_eq!(r.conflicts, 1);
    assert_eq!(
        r.text,
        "<<<<<<< ours\n# a, edited here\nA=1\n=======\n# a, edited there\nA=1\n>>>>>>> theirs\n"
    );
    // The same change on both sides is no conflict.
    let r = m("# a\nA=1\n", "# b\nA=1\n", "# b\nA=2\n");
    assert_eq!((r.text.as_str(), r.conflicts), ("# b\nA=2\n", 0));
}

#[test]
fn line_endings_converted_on_one_side_survive_values_changed_on_the_other() {
    let (base, crlf, changed) = (
        "# c\nA=1\nB=2\n",
        "# c\r\nA=1\r\nB=2\r\n",
        "# c\nA=1\nB=3\n",
    );
    for (ours, theirs) in [(crlf, changed), (changed, crlf)] {
        let r = m(base, ours, theirs);
        assert_eq!((r.text.as_str(), r.conflicts), ("# c\r\nA=1\r\nB=3\r\n", 0));
    }
    // A key added at the end of a file without a final newline is no layout change.
    let r = m("A=1", "A=1\nB=2", "# c\nA=1");
    assert_eq!((r.text.as_str(), r.conflicts), ("# c\nA=1\nB=2", 0));
}

/// `a` and `b` merge cleanly into `want`, whichever side is ours.
fn merges_both_ways(base: &str, a: &str, b: &str, want: &str) {
    for (ours, theirs) in [(a, b), (b, a)] {
        let r = m(base, ours, theirs);
        assert_eq!(
            (r.text.as_str(), r.conflicts),
            (want, 0),
            "{ours:?} {theirs:?}"
        );
    }
}

#[test]
fn a_crlf_conversion_on_one_side_survives_a_comment_added_on_the_other() {
    let base = "A=1\nB=2\n";
    let comment = "# note\nA=1\nB=2\n";
    for (crlf, want) in [
        ("A=1\r\nB=2\r\n", "# note\r\nA=1\r\nB=2\r\n"),
        // The converting side also changed a value.
        ("A=1\r\nB=22\r\n", "# note\r\nA=1\r\nB=22\r\n"),
    ] {
        merges_both_ways(base, crlf, comment, want);
    }
}

#[test]
fn a_conversion_on_one_side_applies_to_keys_added_on_the_other() {
    for (base, converted, added, want) in [
        (
            "A=1\nB=2\n",
            "A=1\r\nB=2\r\n",
            "A=1\nB=2\nC=3\n",
            "A=1\r\nB=2\r\nC=3\r\n",
        ),
        // Back from CRLF to LF.
        (
            "A=1\r\nB=2\r\n",
            "A=1\nB=2\n",
            "A=1\r\nB=2\r\nC=3\r\n",
            "A=1\nB=2\nC=3\n",
        ),
    ] {
        merges_both_ways(base, converted, added, want);
    }
}

#[test]
fn a_conversion_applies_to_conflict_markers_and_keeps_what_is_no_line_ending() {
    // Markers and the other side's entry between them take the converted ending.
    let r = m("A=1\nB=2\n", "A=x\r\nB=2\r\n", "A=y\nB=2\n");
    assert_eq!(r.conflicts, 1);
    assert_eq!(
        r.text,
        "<<<<<<< ours\r\nA=x\r\n=======\r\nA=y\r\n>>>>>>> theirs\r\nB=2\r\n"
    );
    // A last line without a final newline stays so.
    let r = m("A=1\nB=2", "A=1\r\nB=2", "A=1\nB=3");
    assert_eq!((r.text.as_str(), r.conflicts), ("A=1\r\nB=3", 0));
    // A line break inside a quoted value is part of the value, not an ending.
    let r = m("A=\"x\ny\"\n", "A=\"x\ny\"\r\n", "A=\"x\ny\"\nB=\"p\nq\"\n");
    assert_eq!(
        (r.text.as_str(), r.conflicts),
        ("A=\"x\ny\"\r\nB=\"p\nq\"\r\n", 0)
    );
}

// Guards: a side with mixed endings converted nothing, so every line keeps its own
// (here the mixed side's layout is kept, as it added a comment).
#[test]
fn mixed_line_endings_are_no_conversion() {
    let base = "A=1\nB=2\n";
    let mixed = "# m\r\nA=1\r\nB=2\n";
    let added = "A=1\nB=2\nC=3\n";
    for (ours, theirs) in [(mixed, added), (added, mixed)] {
        let r = m(base, ours, theirs);
        assert_eq!(
            (r.text.as_str(), r.conflicts),
            ("# m\r\nA=1\r\nB=2\nC=3\n", 0),
            "{ours:?} {theirs:?}"
        );
    }
}

// Guards: with a key listed twice, the entry in effect (the last, which `set`
// changes) is the one merged: a change of it on one side is kept, with no conflict,
// and an earlier, shadowed line is layout.
#[test]
fn a_duplicated_key_merges_the_entry_in_effect() {
    let base = "A=1\nB=x\nA=2\n";
    merges_both_ways(
        base,
        "A=1\nB=y\nA=2\n",
        "A=1\nB=x\nA=5\n",
        "A=1\nB=y\nA=5\n",
    );
    // Deleted on one side (`unset` drops every line), unchanged on the other.
    merges_both_ways(base, "B=x\n", "A=1\nB=y\nA=2\n", "B=y\n");
    // Changed on one side, deleted on the other: still a conflict.
    assert_eq!(m(base, "B=x\n", "A=1\nB=x\nA=5\n").conflicts, 1);
    // A shadowed line edited on one side is kept with the other side's value change.
    merges_both_ways(
        base,
        "A=0\nB=x\nA=2\n",
        "A=1\nB=x\nA=5\n",
        "A=0\nB=x\nA=5\n",
    );
    // The value in effect changed differently on both sides: one conflict.
    assert_eq!(m(base, "A=1\nB=x\nA=6\n", "A=1\nB=x\nA=5\n").conflicts, 1);
}

// Guards: a comment each side wrote above its own new key, in the same words, stays
// above both keys; a comment of the base's the other side added a key under is not
// doubled.
#[test]
fn the_same_comment_above_a_key_added_on_each_side_is_kept_twice() {
    let r = m("A=1\n", "A=1\n# added\nX=1\n", "A=1\n# added\nY=2\n");
    assert_eq!(
        (r.text.as_str(), r.conflicts),
        ("A=1\n# added\nY=2\n# added\nX=1\n", 0)
    );
    let (base, ours) = ("A=1\n# c\nB=2\n", "# o\nA=1\n# c\nB=2\n");
    let r = m_favouring(base, ours, "A=1\n# c\nN=1\nB=2\n", Some(Favour::Ours));
    assert_eq!(
        (r.text.as_str(), r.conflicts),
        ("# o\nA=1\nN=1\n# c\nB=2\n", 0)
    );
}

// Guards: a final newline dropped (or added) on one side is kept with a value
// changed on the other, whichever side's layout is kept.
#[test]
fn a_final_newline_changed_on_one_side_survives_a_value_changed_on_the_other() {
    merges_both_ways("A=1\nB=2\n", "A=1\nB=2", "A=1\nB=3\n", "A=1\nB=3");
    merges_both_ways("A=1\nB=2", "A=1\nB=2\n", "A=1\nB=3", "A=1\nB=3\n");
    // Keys added after the last line: the file still ends without one.
    merges_both_ways("A=1\nB=2\n", "A=1\nB=2", "A=1\nB=2\nC=3\n", "A=1\nB=2\nC=3");
}

// Guards: the comment right above a key edited on one side, the key deleted on the
// other (by `unset`, which leaves the comment, or by hand with it) is a conflict of
// the comment and the entry against nothing, never an edit dropped in silence.
#[test]
fn a_comment_edited_above_a_key_deleted_on_the_other_side_conflicts() {
    let base = "# db\nA=1\nB=2\n";
    let edited = "# db password\nA=1\nB=2\n";
    for deleted in ["# db\nB=2\n", "B=2\n"] {
        for (ours, theirs) in [(edited, deleted), (deleted, edited)] {
            let r = m(base, ours, theirs);
            assert_eq!(r.conflicts, 1, "{ours:?} {theirs:?}: {:?}", r.text);
            let (o, t) = match ours == edited {
                true => ("# db password\nA=1\n", ""),
                false => ("", "# db password\nA=1\n"),
            };
            let conflict = format!("<<<<<<< ours\n{o}=======\n{t}>>>>>>> theirs\n");
            assert!(
                r.text.contains(&conflict),
                "{ours:?} {theirs:?}: {:?}",
                r.text
            );
            assert!(r.text.contains("B=2\n"), "{:?}", r.text);
        }
    }
    // `-X` settles it as a value changed on one side and deleted on the other.
    let r = m_favouring(base, edited, "# db\nB=2\n", Some(Favour::Ours));
    assert_eq!(
        (r.text.as_str(), r.conflicts),
        ("# db\nB=2\n# db password\nA=1\n", 0)
    );
    let r = m_favouring(base, edited, "B=2\n", Some(Favour::Ours));
    assert_eq!((r.text.as_str(), r.conflicts), (edited, 0));
    // A comment not edited is no change: the deletion merges cleanly.
    merges_both_ways(base, "# db\nA=1\nB=3\n", "# db\nB=2\n", "# db\nB=3\n");
}

// Guards: keys the other side added in a row after one anchor stay together, in
// order, with their comments, not all but the first at the end of the file.
#[test]
fn keys_added_in_a_row_on_the_other_side_keep_their_place() {
    let base = "A=1\nB=2\n";
    let added = "A=1\n# x\nX=1\n# y\nY=2\nZ=3\nB=2\n";
    merges_both_ways(
        base,
        "A=1\nB=2\nW=9\n",
        added,
        "A=1\n# x\nX=1\n# y\nY=2\nZ=3\nB=2\nW=9\n",
    );
    // Their anchor deleted on the layout side: together at the end.
    let r = m(base, "B=2\nW=9\n", added);
    assert_eq!(
        (r.text.as_str(), r.conflicts),
        ("B=2\nW=9\n# x\nX=1\n# y\nY=2\nZ=3\n", 0)
    );
}

#[test]
fn sides_swapped_give_the_same_values() {
    for (b, x, y) in [
        ("A=1\nB=2\n", "A=10\nB=2\n", "A=1\nB=20\nC=3\n"),
        ("A=1\n", "A=1\n#c\n", "A=2\n"),
    ] {
        let (r1, r2) = (m(b, x, y), m(b, y, x));
        let p = |s: &str| Document::parse(s.as_bytes()).unwrap();
        let vals = |s: &str| {
            let d = p(s);
            d.keys()
                .into_iter()
                .map(|k| (k.clone(), d.get(&k).unwrap().raw.expose().to_owned()))
                .collect::<Vec<_>>()
        };
        let mut a = vals(&r1.text);
        let mut c = vals(&r2.text);
        a.sort();
        c.sort();
        assert_eq!(a, c, "{b:?} {x:?} {y:?}");
    }
}

// Guards: the comment lines right above a key both sides added are each side's own: a
// comment on one side only, or one holding the other's, is kept whichever side's layout
// is kept; a base comment the key was added under is not doubled; two different ones
// are a conflict of comments and entries against nothing, the base's section empty;
// `-X` takes the favoured side's.
#[test]
fn comments_above_a_key_added_on_both_sides_are_not_dropped() {
    let base = "A=1\n";
    merges_both_ways(
        base,
        "A=1\n# vendor\nK=v\n",
        "A=1\nK=v\n",
        "A=1\n# vendor\nK=v\n",
    );
    merges_both_ways(
        base,
        "A=1\n# vendor\n# rotated monthly\nK=v\n",
        "A=1\n# rotated monthly\nK=v\n",
        "A=1\n# vendor\n# rotated monthly\nK=v\n",
    );
    // Under a comment of the base's: that one stays once, above the key.
    merges_both_ways(
        "A=1\n# group\nB=2\n",
        "A=1\n# group\n# mine\nK=v\nB=2\n",
        "A=1\n# group\nK=v\nB=2\n",
        "A=1\n# group\n# mine\nK=v\nB=2\n",
    );
    let (ours, theirs) = ("A=1\n# expires 06\nK=v\n", "A=1\n# expires 07\nK=v\n");
    let r = m(base, ours, theirs);
    assert_eq!(
        (r.text.as_str(), r.conflicts),
        (
            "A=1\n<<<<<<< ours\n# expires 06\nK=v\n=======\n# expires 07\nK=v\n>>>>>>> theirs\n",
            1
        )
    );
    let r = m(base, ours, "A=1\n# expires 07\nK=w\n");
    assert!(
        r.text
            .contains("# expires 06\nK=v\n=======\n# expires 07\nK=w\n"),
        "{}",
        r.text
    );
    for (favour, want) in [(Favour::Ours, ours), (Favour::Theirs, theirs)] {
        let r = m_favouring(base, ours, theirs, Some(favour));
        assert_eq!((r.text.as_str(), r.conflicts), (want, 0), "{favour:?}");
    }
    // In diff3 style, the base's section is empty: the key is new on both sides.
    let p = |s: &str| Document::parse(s.as_bytes()).unwrap();
    let (b, o, t) = (p(base), p(ours), p(theirs));
    let (bl, ol, tl) = (plain_lines(&b), plain_lines(&o), plain_lines(&t));
    let mut markers = Markers::new("ours", "base", "theirs");
    markers.style = crate::markers::Style::Diff3;
    let r = merge(
        Side { doc: &b, out: &bl },
        Side { doc: &o, out: &ol },
        Side { doc: &t, out: &tl },
        &markers,
        None,
    );
    assert!(
        r.text.contains("K=v\n||||||| base\n=======\n"),
        "{}",
        r.text
    );
}
