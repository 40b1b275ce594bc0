//! What a side of a merge changed besides values: its layout (comments, blank lines,
//! the order of the keys the three versions share, prefixes) and the comment lines that
//! belong to one entry, which go where the entry goes.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use crate::dotenv::{Document, LineKind};
use crate::secret::SecretString;

/// The layout of a document: its lines with values blanked, to tell whether a side
/// changed anything but values.
pub(super) fn skeleton(doc: &Document) -> Vec<String> {
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
pub(super) fn in_effect(doc: &Document) -> HashMap<&str, usize> {
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
pub(super) fn layout(doc: &Document, common: &BTreeSet<&str>) -> Vec<String> {
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
pub(super) fn comments_above(doc: &Document, at: usize) -> std::ops::Range<usize> {
    let start = doc.lines[..at]
        .iter()
        .rposition(|l| !matches!(l.kind, LineKind::Comment(_)))
        .map_or(0, |i| i + 1);
    start..at
}

/// Whether the comments right above `key`'s entry in effect differ in `doc` (its line
/// `at`) from those in `base`, where the key is too.
pub(super) fn comments_changed(doc: &Document, at: usize, base: &Document, key: &str) -> bool {
    let Some(&b_at) = in_effect(base).get(key) else {
        return false;
    };
    texts(doc, comments_above(doc, at)) != texts(base, comments_above(base, b_at))
}

/// The texts of the comment lines `lines` of `doc`.
fn texts(doc: &Document, lines: Range<usize>) -> Vec<&str> {
    doc.lines[lines]
        .iter()
        .filter_map(|l| match &l.kind {
            LineKind::Comment(c) => Some(c.expose()),
            _ => None,
        })
        .collect()
}

/// Whether `doc` has a comment line of text `c`.
pub(super) fn has_comment(doc: &Document, c: &SecretString) -> bool {
    doc.lines
        .iter()
        .any(|l| matches!(&l.kind, LineKind::Comment(x) if x == c))
}

/// Whose comments go right above a key both sides added (the base has none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Added {
    /// The layout side's: the same as the other side's, or holding them.
    Layout,
    /// The other side's: they hold the layout side's (lines added above or below).
    Other,
    /// Different, neither holding the other: whether both stand, in which order, or
    /// one replaces the other ("expires 2026-06" and "expires 2026-07"), only their
    /// authors know.
    Differ,
}

/// The comment lines right above a key both sides added that are each side's own (at
/// line `at` of `lay`, `other_at` of `other`), and whose go above it. A comment the
/// base has (one the key was added under) is no side's own: it stays where the layout
/// has it, and only the lines after it count.
pub(super) fn added_comments(
    base: &Document,
    (lay, at): (&Document, usize),
    (other, other_at): (&Document, usize),
) -> (Added, Range<usize>, Range<usize>) {
    let own = |d: &Document, at: usize| {
        let above = comments_above(d, at);
        let base_line = d.lines[above.clone()]
            .iter()
            .rposition(|l| matches!(&l.kind, LineKind::Comment(c) if has_comment(base, c)));
        base_line.map_or(above.start, |i| above.start + i + 1)..at
    };
    let (l, o) = (own(lay, at), own(other, other_at));
    let (lt, ot) = (texts(lay, l.clone()), texts(other, o.clone()));
    let holds = |a: &[&str], b: &[&str]| b.is_empty() || a.windows(b.len()).any(|w| w == b);
    let whose = if holds(&lt, &ot) {
        Added::Layout
    } else if holds(&ot, &lt) {
        Added::Other
    } else {
        Added::Differ
    };
    (whose, l, o)
}
