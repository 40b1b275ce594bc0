//! The key-level three-way merge of a scope file's plaintext, for the merge driver.
//!
//! Values are compared by their text, so a value re-sealed under another key on one side
//! (a rotation) is unchanged. Only the same key changed differently on both sides (or
//! changed on one and deleted on the other) conflicts; the conflict is written as
//! ordinary conflict markers around the two entries (and the base's, in git's `diff3`
//! styles: [`crate::markers`]). The layout (order, comments, blank
//! lines, prefixes) is that of the side that changed it beyond adding or deleting keys,
//! ours when neither did; keys added by the other side go after the entry that precedes
//! them there, with the comment lines right above them (several added in a row stay
//! together, in order). A key deleted on one side whose comment lines right above it
//! the other side edited conflicts as a changed one, comments included. When both
//! sides changed the layout differently, the whole file conflicts (each side as it is),
//! so that no comment or prefix edit is dropped silently. A key listed more than once is merged by
//! its entry in effect, the last (what dotenv loaders read and `set` changes); its
//! earlier, shadowed lines are layout.
//!
//! With `-X ours` or `-X theirs` (which git hands its own merge, not a driver: see
//! [`crate::filter::favoured_side`]), a key changed differently on both sides takes the
//! favoured side's value, a key deleted on one side and changed on the other follows the
//! favoured side, and when both sides changed the layout, the favoured side's is kept, with
//! the other side's keys merged into it as usual.
//!
//! Line endings are not layout, nor is the final newline (the side that added or dropped
//! it is followed): a side that converted the whole file (every line ending
//! in CRLF, or every one in LF, unlike the base, whose endings the other side kept)
//! edited no line, so the conversion is applied to every line of the result instead,
//! markers included. (Were endings layout, a conversion would make the whole file
//! conflict against a comment added on the other side, and the lines that side added
//! would keep their own ending.)
//!
//! Every line of the result is a line of one side, emitted as that side renders it (its
//! ending aside, after a conversion): for the merge driver, its encrypted line. Nothing
//! is sealed again, so no value ends up under a key other than the one its side chose
//! (after a rotation on one branch, the old key may be held by a removed member).

use std::collections::{BTreeSet, HashMap};

use crate::dotenv::{Document, Eol, Line, LineKind};
use crate::markers::Markers;

/// The side `-X ours` / `-X theirs` favours in a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Favour {
    Ours,
    Theirs,
}

/// The merged plaintext (with conflict markers when `conflicts > 0`).
pub struct Merged {
    pub text: String,
    pub conflicts: usize,
}

fn raw_of(doc: &Document) -> HashMap<&str, &str> {
    doc.entries()
        .map(|e| (e.key.as_str(), e.raw.expose()))
        .collect()
}

/// The layout of a document: its lines with values blanked, to tell whether a side
/// changed anything but values.
fn skeleton(doc: &Document) -> Vec<String> {
    doc.lines
        .iter()
        .map(|l| match &l.kind {
            LineKind::Entry(e) => format!("={}", e.key),
            LineKind::Comment(c) => format!("#{}", c.expose()),
            LineKind::Blank(b) => format!(" {b}"),
        })
        .collect()
}

/// The index of the line of each key's entry in effect: the last of its duplicates, as
/// dotenv loaders (and `set`) take it. Only that entry's value is merged key by key; an
/// earlier duplicate is shadowed, and counts as layout.
fn in_effect(doc: &Document) -> HashMap<&str, usize> {
    doc.lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| match &l.kind {
            LineKind::Entry(e) => Some((e.key.as_str(), i)),
            _ => None,
        })
        .collect()
}

/// The layout of a document beyond the keys one side added or deleted: comments, blank
/// lines, the entries of the `common` keys (those of all three versions), in order,
/// with their prefixes (`export `), and shadowed duplicates whole (their value is no
/// key's value, but a side that edits one edits the file). Comment lines right above an
/// entry of another key belong to that entry (an addition brings its comment). Two sides
/// of which only one changed this merge key by key in that side's layout; if both
/// changed it differently, neither layout holds the other's change.
fn layout(doc: &Document, common: &BTreeSet<&str>) -> Vec<String> {
    let last = in_effect(doc);
    let mut out = Vec::new();
    let mut comments = Vec::new();
    for (i, line) in doc.lines.iter().enumerate() {
        match &line.kind {
            LineKind::Comment(c) => comments.push(format!("#{}", c.expose())),
            LineKind::Entry(e) if last[e.key.as_str()] != i => {
                out.append(&mut comments);
                out.push(format!("={}{}", e.prefix, e.raw.expose()));
            }
            LineKind::Entry(e) if common.contains(e.key.as_str()) => {
                out.append(&mut comments);
                out.push(format!("={}", e.prefix));
            }
            LineKind::Entry(_) => comments.clear(),
            LineKind::Blank(b) => {
                out.append(&mut comments);
                out.push(format!(" {b}"));
            }
        }
    }
    out.append(&mut comments);
    out
}

/// The comment lines right above line `at` (none when a blank line or an entry comes
/// first): what a person writes about the entry there, and edits with it.
fn comments_above(doc: &Document, at: usize) -> std::ops::Range<usize> {
    let start = doc.lines[..at]
        .iter()
        .rposition(|l| !matches!(l.kind, LineKind::Comment(_)))
        .map_or(0, |i| i + 1);
    start..at
}

/// Whether the comments right above `key`'s entry in effect differ in `doc` (its line
/// `at`) from those in `base`, where the key is too.
fn comments_changed(doc: &Document, at: usize, base: &Document, key: &str) -> bool {
    let Some(&b_at) = in_effect(base).get(key) else {
        return false;
    };
    fn texts(d: &Document, at: usize) -> impl Iterator<Item = Option<&str>> {
        d.lines[comments_above(d, at)]
            .iter()
            .map(|l| match &l.kind {
                LineKind::Comment(c) => Some(c.expose()),
                _ => None,
            })
    }
    !texts(doc, at).eq(texts(base, b_at))
}

fn line_text(line: &Line) -> String {
    let mut s = match &line.kind {
        LineKind::Blank(b) => b.clone(),
        LineKind::Comment(c) => c.expose().to_owned(),
        LineKind::Entry(e) => format!("{}{}", e.prefix, e.raw.expose()),
    };
    s.push_str(match line.eol {
        Eol::None => "\n",
        e => e.as_str(),
    });
    s
}

/// `rendered`, the emitted text of `from` (an entry of the other side), with the prefix
/// and line ending of `to` (the layout side's entry of the same key), so that taking the
/// other side's value keeps a layout edit such as an added `export `. A rendered line
/// starts with its entry's prefix and ends with its line ending in plaintext and in
/// encrypted form alike; the value between them is taken as it is (never sealed again).
fn restyle(from: &Line, rendered: &str, to: &Line) -> String {
    let (LineKind::Entry(f), LineKind::Entry(t)) = (&from.kind, &to.kind) else {
        return rendered.to_owned();
    };
    let Some(body) = rendered.strip_prefix(f.prefix.as_str()) else {
        return rendered.to_owned();
    };
    let eol = |e: Eol| match e {
        Eol::None => "\n",
        e => e.as_str(),
    };
    let body = match body.strip_suffix(eol(from.eol)) {
        Some(value) if from.eol != to.eol => format!("{value}{}", eol(to.eol)),
        _ => body.to_owned(),
    };
    format!("{}{body}", t.prefix)
}

/// The line-ending style of a document: CRLF or LF when every line that has an ending
/// (all but a last line without a final newline) ends so; none when they are mixed or no
/// line has one.
fn eol_style(doc: &Document) -> Option<Eol> {
    let mut ends = doc.lines.iter().map(|l| l.eol).filter(|e| *e != Eol::None);
    let first = ends.next()?;
    ends.all(|e| e == first).then_some(first)
}

/// The style one side converted the whole file to: its own, when it differs from the
/// base's while the other side kept the base's. When both sides changed it, or a side
/// mixed endings, there is no conversion to carry over and each line keeps its own.
fn converted_eol(base: &Document, ours: &Document, theirs: &Document) -> Option<Eol> {
    let (b, o, t) = (eol_style(base), eol_style(ours), eol_style(theirs));
    if o != b && t == b {
        o
    } else if t != b && o == b {
        t
    } else {
        None
    }
}

/// Replaces the line ending of an emitted line. Only the ending is touched: a line break
/// inside a quoted multiline value is part of the value, and a line without an ending
/// (the last line of a file without a final newline) stays without one.
fn set_eol(line: &mut String, eol: Eol) {
    if let Some(body) = line.strip_suffix('\n') {
        let len = body.strip_suffix('\r').unwrap_or(body).len();
        line.truncate(len);
        line.push_str(eol.as_str());
    }
}

/// One side: its plaintext, and the text to emit for each of its lines (with the line
/// ending), index for index.
pub struct Side<'a> {
    pub doc: &'a Document,
    pub out: &'a [String],
}

/// Each line's own plaintext text, for merging plaintext.
pub fn plain_lines(doc: &Document) -> Vec<String> {
    doc.lines.iter().map(line_text).collect()
}

/// Merges `ours_side` and `theirs_side` key by key from `base_side`, writing each line as
/// its side renders it (see the module documentation), conflicts with `markers`;
/// `favour` is the side `-X` favours, if any.
pub fn merge(
    base_side: Side<'_>,
    ours_side: Side<'_>,
    theirs_side: Side<'_>,
    markers: &Markers<'_>,
    favour: Option<Favour>,
) -> Merged {
    let base = base_side.doc;
    let (mut lines, conflicts, unterminated) =
        merge_lines(&base_side, &ours_side, &theirs_side, markers, favour);
    if unterminated {
        // The layout side's missing final newline (every emitted line has one).
        if let Some(last) = lines.last_mut() {
            set_eol(last, Eol::None);
        }
    }
    if let Some(eol) = converted_eol(base, ours_side.doc, theirs_side.doc) {
        for line in &mut lines {
            set_eol(line, eol);
        }
    }
    Merged {
        text: lines.concat(),
        conflicts,
    }
}

/// The merged lines, each with its line ending, the number of conflicts, and whether the
/// last line is to lose its ending (the layout side's file has no final newline).
fn merge_lines(
    base_side: &Side<'_>,
    ours_side: &Side<'_>,
    theirs_side: &Side<'_>,
    markers: &Markers<'_>,
    favour: Option<Favour>,
) -> (Vec<String>, usize, bool) {
    let (base, ours, theirs) = (base_side.doc, ours_side.doc, theirs_side.doc);
    let (b, o, t) = (raw_of(base), raw_of(ours), raw_of(theirs));
    // The side whose layout we keep; the other side contributes values, additions and
    // deletions.
    let common: BTreeSet<&str> = b
        .keys()
        .filter(|k| o.contains_key(*k) && t.contains_key(*k))
        .copied()
        .collect();
    let (lb, lo, lt) = (
        layout(base, &common),
        layout(ours, &common),
        layout(theirs, &common),
    );
    let layouts_conflict = lo != lb && lt != lb && lo != lt;
    if layouts_conflict && favour.is_none() {
        // Both sides changed comments, prefixes or order: a key-level merge would drop
        // one side's change. The whole file conflicts instead, each side as it is.
        let lines = markers.conflict(ours_side.out, base_side.out, theirs_side.out);
        return (lines, 1, false);
    }
    let theirs_layout = if layouts_conflict {
        // `-X` settles the layout as it settles a value: the favoured side's, with the
        // other side's keys merged into it.
        favour == Some(Favour::Theirs)
    } else if lo == lb && lt != lb {
        true
    } else if lo == lb {
        skeleton(ours) == skeleton(base) && skeleton(theirs) != skeleton(base)
    } else {
        false
    };
    let (lay, other, lay_map, other_map) = if theirs_layout {
        (theirs, ours, &t, &o)
    } else {
        (ours, theirs, &o, &t)
    };
    let (lay_out, other_out) = if theirs_layout {
        (theirs_side.out, ours_side.out)
    } else {
        (ours_side.out, theirs_side.out)
    };
    // Whether `-X` favours the layout side (`Some(false)`: the other side).
    let favours_layout = favour.map(|f| (f == Favour::Theirs) == theirs_layout);
    // The rendered line of the entry in effect for each key of the other side.
    let other_line: HashMap<&str, &String> = other
        .lines
        .iter()
        .zip(other_out)
        .filter_map(|(l, out)| match &l.kind {
            LineKind::Entry(e) => Some((e.key.as_str(), out)),
            _ => None,
        })
        .collect();
    let other_entry: HashMap<&str, &Line> = other
        .lines
        .iter()
        .filter_map(|l| match &l.kind {
            LineKind::Entry(e) => Some((e.key.as_str(), l)),
            _ => None,
        })
        .collect();
    // The base's rendered line of each key, for the base section of a `diff3` conflict.
    let base_line: HashMap<&str, &String> = base
        .lines
        .iter()
        .zip(base_side.out)
        .filter_map(|(l, out)| match &l.kind {
            LineKind::Entry(e) => Some((e.key.as_str(), out)),
            _ => None,
        })
        .collect();
    // The base's lines of a key's entry in effect (with the comments right above it), for
    // the base section of a `diff3` conflict.
    let base_at = in_effect(base);
    let base_lines = |key: &str, comments: bool| -> Vec<String> {
        let Some(&at) = base_at.get(key) else {
            return Vec::new();
        };
        let from = if comments {
            comments_above(base, at).start
        } else {
            at
        };
        base_side.out[from..=at].to_vec()
    };
    let other_at = in_effect(other);
    let mut out: Vec<String> = Vec::new();
    let mut conflicts = 0;
    let mut emitted: BTreeSet<String> = BTreeSet::new();
    let conflict = |out: &mut Vec<String>,
                    key: &str,
                    ours_line: Option<String>,
                    theirs_line: Option<String>| {
        let base_l = base_line
            .get(key)
            .map_or(&[][..], |l| std::slice::from_ref(*l));
        out.extend(markers.conflict(ours_line.as_slice(), base_l, theirs_line.as_slice()));
    };
    // Entries of the other side that the layout side does not have: added there, to be
    // placed after the entry preceding them.
    let mut additions: HashMap<Option<String>, Vec<&String>> = HashMap::new();
    // The keys added in each slot: the anchors of the additions that follow them there
    // (several keys added in a row stay together, in order).
    let mut added_keys: HashMap<Option<String>, Vec<String>> = HashMap::new();
    let mut pending_comments: Vec<&String> = Vec::new();
    let mut prev_key: Option<String> = None;
    let has_comment = |doc: &Document, c: &crate::secret::SecretString| {
        doc.lines
            .iter()
            .any(|l| matches!(&l.kind, LineKind::Comment(x) if x == c))
    };
    for (line, rendered) in other.lines.iter().zip(other_out) {
        match &line.kind {
            LineKind::Entry(e) => {
                if !lay_map.contains_key(e.key.as_str()) && !b.contains_key(e.key.as_str()) {
                    let slot = additions.entry(prev_key.clone()).or_default();
                    slot.append(&mut pending_comments);
                    slot.push(rendered);
                    let keys = added_keys.entry(prev_key.clone()).or_default();
                    keys.push(e.key.clone());
                }
                pending_comments.clear();
                prev_key = Some(e.key.clone());
            }
            // A comment above an added entry comes with it, unless it is the base's that
            // the layout side kept (the same text added above a key on each side is
            // each side's own: both stay).
            LineKind::Comment(c) if !(has_comment(lay, c) && has_comment(base, c)) => {
                pending_comments.push(rendered)
            }
            _ => pending_comments.clear(),
        }
    }
    let placed = std::cell::RefCell::new(BTreeSet::new());
    let add_after = |out: &mut Vec<String>, key: Option<String>| {
        let mut next = vec![key];
        while let Some(key) = next.pop() {
            if let Some(lines) = additions.get(&key) {
                out.extend(lines.iter().map(|l| (*l).clone()));
                let then = added_keys.get(&key).into_iter().flatten();
                next.extend(then.rev().map(|k| Some(k.clone())));
                placed.borrow_mut().insert(key);
            }
        }
    };
    add_after(&mut out, None);
    let lay_last = in_effect(lay);
    for (i, (line, rendered)) in lay.lines.iter().zip(lay_out).enumerate() {
        let LineKind::Entry(e) = &line.kind else {
            out.push(rendered.clone());
            continue;
        };
        let key = e.key.as_str();
        if lay_last[key] != i {
            // A shadowed duplicate: kept as it is (layout). The value merged is the one
            // in effect, the last, which is what `b` and `other_map` hold too.
            out.push(rendered.clone());
            continue;
        }
        emitted.insert(key.to_owned());
        let (mine, base_v, theirs_v) = (
            Some(e.raw.expose()),
            b.get(key).copied(),
            other_map.get(key).copied(),
        );
        let chosen = if theirs_v == mine || theirs_v == base_v {
            mine
        } else if mine == base_v {
            theirs_v
        } else if let Some(layout_wins) = favours_layout {
            if layout_wins {
                mine
            } else {
                theirs_v
            }
        } else {
            conflicts += 1;
            let other_l = other_line.get(key).map(|l| (*l).clone());
            let (ours_line, theirs_line) = if theirs_layout {
                (other_l, Some(rendered.clone()))
            } else {
                (Some(rendered.clone()), other_l)
            };
            conflict(&mut out, key, ours_line, theirs_line);
            add_after(&mut out, Some(key.to_owned()));
            continue;
        };
        // Deleted on the other side while this side edited the comments right above it:
        // a modify/delete conflict of the comments and the entry (else the edit would
        // be left above the next entry, or dropped with the key under `-X`).
        if chosen.is_none() && favours_layout != Some(false) && comments_changed(lay, i, base, key)
        {
            let above = comments_above(lay, i);
            // Those comment lines are the last ones written.
            out.truncate(out.len() - above.len());
            let mine_lines = lay_out[above.start..=i].to_vec();
            if favours_layout.is_some() {
                out.extend(mine_lines);
            } else {
                conflicts += 1;
                let none = Vec::new();
                let (o, t) = match theirs_layout {
                    true => (&none, &mine_lines),
                    false => (&mine_lines, &none),
                };
                out.extend(markers.conflict(o, &base_lines(key, true), t));
            }
            add_after(&mut out, Some(key.to_owned()));
            continue;
        }
        match chosen {
            // The layout side's own value: its line as it is.
            Some(v) if v == e.raw.expose() => out.push(rendered.clone()),
            // The other side's value: the other side's line for that key, in the layout
            // side's form (its prefix, such as an added `export `, and line ending).
            Some(_) => out.push(restyle(other_entry[key], other_line[key], line)),
            None => {}
        }
        add_after(&mut out, Some(key.to_owned()));
    }
    // Additions whose anchor the layout side deleted: at the end, in the other side's order.
    let mut anchor: Option<String> = None;
    let mut rest = Vec::new();
    for line in &other.lines {
        if let LineKind::Entry(e) = &line.kind {
            if !placed.borrow().contains(&anchor) {
                if let Some(lines) = additions.get(&anchor) {
                    rest.extend(lines.iter().map(|l| (*l).clone()));
                    placed.borrow_mut().insert(anchor.clone());
                }
            }
            anchor = Some(e.key.clone());
        }
    }
    if !placed.borrow().contains(&anchor) {
        if let Some(lines) = additions.get(&anchor) {
            rest.extend(lines.iter().map(|l| (*l).clone()));
        }
    }
    out.extend(rest);
    // Keys the layout side deleted that the other side changed: a modify/delete conflict
    // (the value in effect compared, once per key).
    for oe in other.entries() {
        let key = oe.key.as_str();
        if lay_map.contains_key(key) || !emitted.insert(key.to_owned()) {
            continue;
        }
        if let Some(bv) = b.get(key) {
            // The comments right above it edited count as a change (with them).
            let at = other_at[key];
            let commented = comments_changed(other, at, base, key);
            if *bv != other_map[key] || commented {
                let lines = match commented {
                    true => other_out[comments_above(other, at).start..=at].to_vec(),
                    false => vec![other_line[key].clone()],
                };
                match favours_layout {
                    // The layout side's deletion.
                    Some(true) => continue,
                    // The other side's change, at the end.
                    Some(false) => {
                        out.extend(lines);
                        continue;
                    }
                    None => {}
                }
                conflicts += 1;
                let none = Vec::new();
                let (o, t) = match theirs_layout {
                    true => (&lines, &none),
                    false => (&none, &lines),
                };
                out.extend(markers.conflict(o, &base_lines(key, commented), t));
            }
        }
    }
    // Like a conversion of line endings, an added or dropped final newline is no layout:
    // the side that changed it from the base's (the other side kept it) is followed,
    // else the layout side.
    let open = |d: &Document| d.lines.last().is_some_and(|l| l.eol == Eol::None);
    let (bo, oo, to) = (open(base), open(ours), open(theirs));
    let unterminated = match (oo != bo, to != bo) {
        (true, false) => oo,
        (false, true) => to,
        _ => open(lay),
    };
    (out, conflicts, unterminated && conflicts == 0)
}

#[cfg(test)]
mod tests {
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
        assert!(
            r.text.contains("2025-06") && r.text.contains("export A=1") && r.text.contains("B=3")
        );
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
}
