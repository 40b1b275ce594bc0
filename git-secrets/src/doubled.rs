//! A key that a line merge lists twice. git's own line merge of a scope file (the merge
//! driver's fallback without access, or a clone with no driver at all) knows nothing of
//! keys: when each side adds the same key in a different place, both lines are kept
//! without a conflict, and a dotenv loader takes the last one, so one side's value is
//! picked in silence. Key names are in the clear in the encrypted form, so this is told
//! without any key, from the merged file and the two sides.

use std::collections::HashMap;

use crate::dotenv::Document;

/// The keys `merged` lists more often than each of the `sides` merged into it (ours and
/// theirs; an octopus merge's every parent) does, with entries whose values differ
/// (identical entries pick nothing: the same value sealed under the same key in the same
/// scope is the same token). Sorted, each once. A file that does not parse counts no
/// key; a merged one gives none.
pub fn doubled_keys(merged: &[u8], sides: &[&[u8]]) -> Vec<String> {
    let Ok(doc) = Document::parse(merged) else {
        return Vec::new();
    };
    let count = |bytes: &[u8]| {
        let mut n: HashMap<String, usize> = HashMap::new();
        if let Ok(d) = Document::parse(bytes) {
            for e in d.entries() {
                *n.entry(e.key.clone()).or_default() += 1;
            }
        }
        n
    };
    let counts: Vec<HashMap<String, usize>> = sides.iter().map(|s| count(s)).collect();
    let mut values: HashMap<&str, Vec<&str>> = HashMap::new();
    for e in doc.entries() {
        values.entry(&e.key).or_default().push(e.raw.expose());
    }
    let mut keys: Vec<String> = values
        .into_iter()
        .filter(|(k, v)| {
            let most = counts.iter().filter_map(|c| c.get(*k)).max().copied();
            let most = most.unwrap_or(0);
            v.len() > most && v.iter().any(|x| x != &v[0])
        })
        .map(|(k, _)| k.to_owned())
        .collect();
    keys.sort();
    keys
}

/// `keys` as messages name them: `` `A`, `B` `` (names only, never a value).
pub fn named(keys: &[String]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::doubled_keys;

    #[test]
    fn a_key_added_on_both_sides_in_two_places_is_doubled() {
        let sides: [&[u8]; 2] = [b"A=1\nB=2\n", b"B=2\nA=3\n"];
        assert_eq!(doubled_keys(b"A=1\nB=2\nA=3\n", &sides), ["A"]);
        // The same value twice picks nothing.
        let same: [&[u8]; 2] = [b"A=1\nB=2\n", b"B=2\nA=1\n"];
        assert!(doubled_keys(b"A=1\nB=2\nA=1\n", &same).is_empty());
        // A key one side already listed twice is no merge's doing.
        assert!(doubled_keys(b"A=1\nA=3\n", &[b"A=1\nA=3\n", b"A=1\n"]).is_empty());
        // Nor is a key listed once.
        assert!(doubled_keys(b"A=1\nB=2\n", &sides).is_empty());
    }
}
