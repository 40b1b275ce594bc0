//! One run of the checks over a list of blobs: each distinct blob read once, the checks
//! that need no key on every blob, the ones that need an identity only where a blob
//! needs them (the identity's view of the repository is opened on first need).

use std::collections::{HashMap, HashSet};

use super::known::Known;
use super::scan::{attributes, commits, staged, tree, AttrSource, Entry};
use super::{Blob, Finding, Report};
use crate::error::Error;
use crate::git::Repo;

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

/// Runs every check on `entries` (`attrs` gives each one's attributes), reading each
/// distinct blob once; findings come out in the order of `entries`.
fn run(
    repo: &Repo,
    entries: &[(Option<&str>, &Entry)],
    attrs: &dyn Fn(usize) -> (bool, bool),
    known: &LazyKnown,
) -> Result<Vec<Finding>, Error> {
    // Group the users of each blob, so it is read once however many commits hold it.
    let mut users: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut oids = Vec::new();
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    for (i, (_, e)) in entries.iter().enumerate() {
        if !seen.insert((e.path.as_str(), e.oid.as_str())) {
            continue; // the same blob at the same path, brought in again by a merge
        }
        let u = users.entry(e.oid.as_str()).or_default();
        if u.is_empty() {
            oids.push(e.oid.clone());
        }
        u.push(i);
    }
    let mut findings: Vec<(usize, Finding)> = Vec::new();
    repo.for_each_blob(oids.clone(), |n, bytes| {
        for &i in &users[oids[n].as_str()] {
            let (commit, entry) = entries[i];
            let (routed, exempt) = attrs(i);
            let blob = Blob {
                path: &entry.path,
                bytes,
                routed,
                exempt,
            };
            let mut found = blob.check();
            if found.is_empty() {
                found.extend(extra(&blob, known));
            }
            for mut f in found {
                f.commit = commit.map(str::to_owned);
                findings.push((i, f));
            }
        }
        Ok(())
    })?;
    findings.sort_by_key(|(i, _)| *i);
    Ok(findings.into_iter().map(|(_, f)| f).collect())
}

/// The checks that need an identity, for a blob the first three let through.
fn extra(blob: &Blob, known: &LazyKnown) -> Option<Finding> {
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
    known.index().find(blob)
}

/// The pre-commit (and pre-merge-commit) check of the index.
pub fn check_index(repo: &Repo) -> Result<Report, Error> {
    let changed = staged(repo)?;
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
    let list: Vec<(Option<&str>, &Entry)> = entries.iter().map(|e| (None, e)).collect();
    let lookup = |i: usize| attrs.get(&list[i].1.path).copied().unwrap_or_default();
    let known = LazyKnown::new(repo);
    let findings = run(repo, &list, &lookup, &known)?;
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

/// `git secrets check`: every commit of a range, or the whole tree of HEAD.
pub fn check_history(repo: &Repo, revs: &[String]) -> Result<Report, Error> {
    let groups = if revs.is_empty() {
        if repo
            .git(&["rev-parse", "--verify", "-q", "HEAD^{commit}"])
            .is_err()
        {
            return Ok(Report::default()); // nothing committed yet
        }
        let head = String::from_utf8_lossy(&repo.git(&["rev-parse", "HEAD"])?)
            .trim()
            .to_owned();
        let t = tree(repo, &head)?;
        vec![(head, t)]
    } else {
        commits(repo, revs)?
    };
    let mut list: Vec<(Option<&str>, &Entry)> = Vec::new();
    let mut attrs: Vec<(bool, bool)> = Vec::new();
    for (commit, entries) in &groups {
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        let at = attributes(repo, AttrSource::Tree(commit), &paths)?;
        for e in entries {
            list.push((Some(commit.as_str()), e));
            attrs.push(at.get(&e.path).copied().unwrap_or_default());
        }
    }
    let lookup = |i: usize| attrs[i];
    let known = LazyKnown::new(repo);
    let findings = run(repo, &list, &lookup, &known)?;
    Ok(Report {
        findings,
        values_searched: known.searched(),
        commits: groups.len(),
        staged_secrets: Vec::new(),
    })
}
