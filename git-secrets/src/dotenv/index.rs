//! The entries in effect of a document, looked up by key in constant time.

use super::{Document, Entry};

/// The entries in effect of a [`Document`], by key (see [`Document::index`]).
pub struct Index<'a> {
    order: Vec<&'a Entry>,
    at: std::collections::HashMap<&'a str, usize>,
}

impl<'a> Index<'a> {
    /// The entry in effect for `key`, as [`Document::get`].
    pub fn get(&self, key: &str) -> Option<&'a Entry> {
        self.at.get(key).map(|&i| self.order[i])
    }

    /// The raw text of the value in effect for `key`, as [`Document::raw`].
    pub fn raw(&self, key: &str) -> Option<&'a str> {
        self.get(key).map(|e| e.raw.expose())
    }

    /// The entries in effect, in the order their keys first appear.
    pub fn entries(&self) -> impl Iterator<Item = &'a Entry> + '_ {
        self.order.iter().copied()
    }
}

impl Document {
    /// The entry in effect for every key, keyed by name, built in one pass: what a loop
    /// over the keys of a large file looks up (`get` in such a loop is quadratic, minutes
    /// for a file of 100,000 keys).
    pub fn index(&self) -> Index<'_> {
        let mut order: Vec<&Entry> = Vec::new();
        let mut at = std::collections::HashMap::new();
        for e in self.entries() {
            match at.get(e.key.as_str()) {
                Some(&i) => order[i] = e,
                None => {
                    at.insert(e.key.as_str(), order.len());
                    order.push(e);
                }
            }
        }
        Index { order, at }
    }
}
