//! One run of the checks over a list of blobs: each distinct blob read once, the checks
//! that need no key on every blob, the ones that need an identity only where a blob
//! needs them (the identity's view of the repository is opened on first need).
//!
//! Besides the blobs checked, the same `git cat-file --batch` reads first the parent's
//! version of each scope file a commit deletes or changes, whose values are searched for
//! too (check 4). Those are sealed blobs, opened only when check 4 runs.

use std::collections::{HashMap, HashSet};

use zeroize::Zeroizing;

use super::known::{Former, Known};
use super::scan::{attributes, commits, staged, tree, AttrSource, Entry};
use super::{Blob, Finding, Report};
use crate::error::Error;
use crate::git::Repo;
use crate::scope::Scope;

/// The identity's view of the repository, opened on first need: a commit of encrypted
/// secret files alone never reads every scope file.
pub struct LazyKnown<'r> {
    repo: &'r Repo,
    cell: std::cell::OnceCell<Option<Known>>,
}

impl<'r> LazyKnown<'r> {
    pub fn new(repo: &'r Repo) -> LazyKnown<'r> {
        LazyKnown {
            repo,
            cell: std::cell::OnceCell::new(),
        }
    }

    pub fn get(&self) -> Option<&Known> {
        self.cell.get_or_init(|| Known::open(self.repo)).as_ref()
    }

    /// How many values were searched for, if the search ran.
    pub fn searched(&self) -> Option<usize> {
        self.cell.get()?.as_ref()?.searched()
    }
}

/// One blob to check.
struct Item<'a> {
    /// The commit that holds it (`git secrets check`); none for the index.
    commit: Option<&'a str>,
    entry: &'a Entry,
}

/// One commit (or the index) being checked, and its parent's blobs at the paths it
/// deletes or changes.
struct Context<'a> {
    /// The parent as findings name it: `HEAD`, or its short id.
    parent: String,
    old: &'a [Entry],
}

/// The blobs read before the checked ones: the parent's blob of each scope file a
/// commit deletes or changes (the parent as findings name it, the path, the bytes).
struct Auxiliary<'a> {
    parents: Vec<&'a str>,
    paths: Vec<&'a str>,
    bytes: Vec<Option<Zeroizing<Vec<u8>>>>,
}

impl<'a> Auxiliary<'a> {
    /// The parent's version of each scope file a commit deletes or changes (by blob id).
    fn plan(contexts: &'a [Context<'a>]) -> (Auxiliary<'a>, Vec<String>) {
        let mut parents = Vec::new();
        let mut paths = Vec::new();
        let mut names = Vec::new();
        for c in contexts {
            for e in c.old {
                if Scope::from_rel_path(&e.path).is_some() {
                    parents.push(c.parent.as_str());
                    paths.push(e.path.as_str());
                    names.push(e.oid.clone());
                }
            }
        }
        let bytes = (0..parents.len()).map(|_| None).collect();
        let aux = Auxiliary {
            parents,
            paths,
            bytes,
        };
        (aux, names)
    }

    /// The parents' scope files, for the value search.
    fn formers(&self) -> Vec<Former<'_>> {
        self.parents
            .iter()
            .zip(&self.paths)
            .zip(&self.bytes)
            .filter_map(|((parent, path), bytes)| {
                Some(Former {
                    rev: parent,
                    path,
                    bytes: bytes.as_deref()?,
                })
            })
            .collect()
    }
}

/// Runs every check on `items` (`attrs` gives each one's attributes), reading each
/// distinct blob once; findings come out in the order of `items`.
fn run(
    repo: &Repo,
    items: &[Item],
    contexts: &[Context],
    attrs: &dyn Fn(usize) -> (bool, bool),
    known: &LazyKnown,
) -> Result<Vec<Finding>, Error> {
    let (mut aux, mut names) = Auxiliary::plan(contexts);
    let n_aux = names.len();
    // Group the users of each blob, so it is read once however many commits hold it.
    let mut users: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut oids: Vec<&str> = Vec::new();
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let e = item.entry;
        if !seen.insert((e.path.as_str(), e.oid.as_str())) {
            continue; // the same blob at the same path, brought in again by a merge
        }
        let u = users.entry(e.oid.as_str()).or_default();
        if u.is_empty() {
            oids.push(e.oid.as_str());
        }
        u.push(i);
    }
    names.extend(oids.iter().map(|o| o.to_string()));
    let mut findings: Vec<(usize, Finding)> = Vec::new();
    repo.for_each_object(names, |n, name, bytes| {
        if n < n_aux {
            aux.bytes[n] = bytes.map(|b| Zeroizing::new(b.to_vec()));
            return Ok(());
        }
        let Some(bytes) = bytes else {
            return Err(Error::Git {
                args: "cat-file --batch".into(),
                stderr: format!("cannot read object: {name} missing"),
            });
        };
        for &i in &users[oids[n - n_aux]] {
            let item = &items[i];
            let (routed, exempt) = attrs(i);
            let blob = Blob {
                path: &item.entry.path,
                bytes,
                routed,
                exempt,
            };
            let mut found = blob.check();
            if found.is_empty() {
                found.extend(extra(&blob, known, &|| aux.formers()));
            }
            for mut f in found {
                f.commit = item.commit.map(str::to_owned);
                findings.push((i, f));
            }
        }
        Ok(())
    })?;
    findings.sort_by_key(|(i, _)| *i);
    Ok(findings.into_iter().map(|(_, f)| f).collect())
}

/// The checks that need an identity, for a blob the first three let through.
fn extra<'a>(
    blob: &Blob,
    known: &LazyKnown,
    formers: &dyn Fn() -> Vec<Former<'a>>,
) -> Option<Finding> {
    let encrypted = super::is_sealed(blob.bytes);
    if encrypted && (blob.routed || super::is_secret_path(blob.path)) {
        return known.get()?.verify(blob);
    }
    if blob.exempt || encrypted {
        return None;
    }
    let known = known.get()?;
    if let Some(f) = (!blob.routed).then(|| known.tracked_copy(blob)).flatten() {
        return Some(f);
    }
    if super::is_binary(blob.bytes) {
        return None;
    }
    known.values(formers).find(blob)
}

/// The pre-commit (and pre-merge-commit) check of the index.
pub fn check_index(repo: &Repo) -> Result<Report, Error> {
    let changes = staged(repo)?;
    let changed = &changes.new;
    let mut entries = changed.clone();
    // A commit that changes what is routed to the filter (.gitattributes, or the tracked
    // files in config.toml) can make a file git already has a secret file without the
    // file changing, and git does not clean an unchanged file again: the staged blobs of
    // every routed file are checked then, not only the changed ones.
    let routing_changed = changed.iter().any(|e| {
        e.path == crate::workspace::CONFIG_FILE
            || e.path.rsplit('/').next() == Some(".gitattributes")
    });
    if routing_changed {
        let have: HashSet<String> = changed.iter().map(|e| e.path.clone()).collect();
        for (path, mode, oid) in repo.staged_blobs()? {
            if !have.contains(&path) && (mode == "100644" || mode == "100755") {
                entries.push(Entry { path, oid });
            }
        }
    }
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    let attrs = attributes(repo, AttrSource::Index, &paths)?;
    let items: Vec<Item> = entries
        .iter()
        .map(|entry| Item {
            commit: None,
            entry,
        })
        .collect();
    let lookup = |i: usize| attrs.get(&items[i].entry.path).copied().unwrap_or_default();
    let contexts = [Context {
        parent: "HEAD".into(),
        old: &changes.old,
    }];
    let known = LazyKnown::new(repo);
    let findings = run(repo, &items, &contexts, &lookup, &known)?;
    let staged_secrets = changed
        .iter()
        .filter(|e| super::is_secret_path(&e.path))
        .map(|e| (e.path.clone(), e.oid.clone()))
        .collect();
    Ok(Report {
        findings,
        values_searched: known.searched(),
        commits: 0,
        staged_secrets,
    })
}

/// The short form of a commit id in findings (as `check` prints them).
fn short(id: &str) -> String {
    id[..id.len().min(12)].to_owned()
}

/// `git secrets check`: every commit of a range, or the whole tree of HEAD (and what
/// HEAD itself changes, judged against its parent).
pub fn check_history(repo: &Repo, revs: &[String]) -> Result<Report, Error> {
    let (groups, tree_mode) = if revs.is_empty() {
        if repo
            .git(&["rev-parse", "--verify", "-q", "HEAD^{commit}"])
            .is_err()
        {
            return Ok(Report::default()); // nothing committed yet
        }
        (commits(repo, &["-1".to_owned(), "HEAD".to_owned()])?, true)
    } else {
        (commits(repo, revs)?, false)
    };
    let trees: Vec<Vec<Entry>> = if tree_mode {
        groups
            .iter()
            .map(|c| tree(repo, &c.id))
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let mut items: Vec<Item> = Vec::new();
    let mut attrs: Vec<(bool, bool)> = Vec::new();
    let mut contexts: Vec<Context> = Vec::new();
    for (n, commit) in groups.iter().enumerate() {
        let entries = if tree_mode {
            &trees[n]
        } else {
            &commit.changes.new
        };
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        let at = attributes(repo, AttrSource::Tree(&commit.id), &paths)?;
        for e in entries {
            items.push(Item {
                commit: Some(&commit.id),
                entry: e,
            });
            attrs.push(at.get(&e.path).copied().unwrap_or_default());
        }
        contexts.push(Context {
            parent: commit.parent.as_deref().map(short).unwrap_or_default(),
            old: &commit.changes.old,
        });
    }
    let lookup = |i: usize| attrs[i];
    let known = LazyKnown::new(repo);
    let findings = run(repo, &items, &contexts, &lookup, &known)?;
    Ok(Report {
        findings,
        values_searched: known.searched(),
        commits: groups.len(),
        staged_secrets: Vec::new(),
    })
}
