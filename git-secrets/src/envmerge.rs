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
//! the other side edited conflicts as a changed one, comments included. A key both
//! sides added keeps each side's comment lines right above it (its own, not layout):
//! two different ones conflict with the entries (`layout::added_comments`). When both
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

mod layout;
#[cfg(test)]
mod tests;

use layout::{
    added_comments, comments_above, comments_changed, has_comment, in_effect, layout, skeleton,
    Added,
};

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
        // A key both sides added: the comment lines right above it are each side's own
        // (not layout), so the other side's are not dropped for the layout side's.
        if base_v.is_none() && theirs_v.is_some() {
            let at = other_at[key];
            let (mut whose, own, other_own) = added_comments(base, (lay, i), (other, at));
            if let (Added::Differ, Some(layout_wins)) = (whose, favours_layout) {
                whose = if layout_wins {
                    Added::Layout
                } else {
                    Added::Other
                };
            }
            if whose != Added::Layout {
                // The layout side's own comment lines are the last ones written.
                out.truncate(out.len() - own.len());
            }
            if whose == Added::Other {
                out.extend(other_out[other_own].iter().cloned());
            } else if whose == Added::Differ {
                // Both comments and both entries (whatever the values), against nothing.
                conflicts += 1;
                let mine = lay_out[own.start..=i].to_vec();
                let its = other_out[other_own.start..=at].to_vec();
                let (o, t) = match theirs_layout {
                    true => (&its, &mine),
                    false => (&mine, &its),
                };
                out.extend(markers.conflict(o, &[], t));
                add_after(&mut out, Some(key.to_owned()));
                continue;
            }
        }
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
