//! `git secrets check` (and the pre-push and post-rewrite hooks): the checks over the
//! commits of a range, or over the files of HEAD; over the trees and blobs the range
//! names besides commits ([`super::objects`]); and, with an identity, over the messages
//! of those commits and of the annotated tags it names.
//!
//! Without a work tree (a bare repository, where a pre-receive hook runs) there are no
//! scope files to take the values to search for from: they are taken from the scope
//! files the checked commits hold, and those of the commit each range starts from,
//! decrypted in memory ([`Held`]).

use std::collections::HashSet;

use zeroize::Zeroizing;

use super::objects;
use super::run::{run, Context, Held, Item, LazyKnown, Text};
use super::scan::{attributes, commits, tree, AttrSource, Commit, Entry};
use super::search::Where;
use super::{Finding, Report};
use crate::error::Error;
use crate::git::Repo;
use crate::scope::{Scope, SECRETS_DIR};

/// The short form of a commit id in findings (as `check` prints them).
pub(super) fn short(id: &str) -> String {
    id[..id.len().min(12)].to_owned()
}

/// `git secrets check`: every commit of a range, or the whole tree of HEAD (and what
/// HEAD itself changes, judged against its parent).
pub fn check_history(repo: &Repo, revs: &[String]) -> Result<Report, Error> {
    history(repo, revs, true)
}

/// The checks of [`check_history`] that need no key, over the commits `revs` name (the
/// post-rewrite hook's quick look at what a rebase or an amend wrote).
pub fn check_commits_keyless(repo: &Repo, revs: &[String]) -> Result<Report, Error> {
    history(repo, revs, false)
}

fn history(repo: &Repo, revs: &[String], with_identity: bool) -> Result<Report, Error> {
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
    let named = if revs.is_empty() {
        objects::Named::default()
    } else {
        objects::named(repo, revs)?
    };
    let trees: Vec<Vec<Entry>> = if tree_mode {
        groups
            .iter()
            .map(|c| tree(repo, &c.id))
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let named_trees: Vec<Vec<Entry>> = named
        .trees
        .iter()
        .map(|t| tree(repo, t))
        .collect::<Result<_, _>>()?;
    let mut items: Vec<Item> = Vec::new();
    let mut attrs: Vec<(bool, bool)> = Vec::new();
    let mut contexts: Vec<Context> = Vec::new();
    for (n, commit) in groups.iter().enumerate() {
        let changed: HashSet<(&str, &str)> = commit
            .changes
            .new
            .iter()
            .map(|e| (e.path.as_str(), e.oid.as_str()))
            .collect();
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
                changed: changed.contains(&(e.path.as_str(), e.oid.as_str())),
            });
            attrs.push(at.get(&e.path).copied().unwrap_or_default());
        }
        contexts.push(Context {
            commit: Some(&commit.id),
            parent: commit.parent.as_deref().map(short).unwrap_or_default(),
            old: &commit.changes.old,
        });
    }
    // A tree is judged as a root commit's: every file in it is new.
    for (id, entries) in named.trees.iter().zip(&named_trees) {
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        let at = attributes(repo, AttrSource::Tree(id), &paths)?;
        for e in entries {
            items.push(Item {
                commit: Some(id),
                entry: e,
                changed: true,
            });
            attrs.push(at.get(&e.path).copied().unwrap_or_default());
        }
    }
    let lookup = |i: usize| attrs[i];
    let known = LazyKnown::new(repo);
    if !with_identity {
        let _ = known.cell.set(None);
    }
    // Only an identity can tell a value in a message or a blob; a work tree's absence
    // is only felt by the value search.
    let search = with_identity && known.get().is_some();
    let held = if search && !repo.root.join(SECRETS_DIR).is_dir() {
        held(repo, &groups, &items)
    } else {
        Vec::new()
    };
    let (texts, mut blob_findings) = texts(repo, &groups, &named, search)?;
    let (mut findings, warnings) = run(repo, &items, &contexts, &held, &texts, &lookup, &known)?;
    findings.append(&mut blob_findings);
    findings.extend(super::doubled::check_commits(repo, &groups)?);
    Ok(Report {
        findings,
        values_searched: known.searched(),
        commits: groups.len(),
        objects: named.trees.len() + named.blobs.len(),
        staged_secrets: Vec::new(),
        warnings,
    })
}

/// The scope files whose values are searched for without a work tree: each one the
/// checked commits (and trees) add or change, and every one of the commits the range
/// starts from (the first parents outside it), whose values the range may copy.
fn held(repo: &Repo, groups: &[Commit], items: &[Item]) -> Vec<Held> {
    let mut out: Vec<Held> = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |rev: &str, entry: &Entry, out: &mut Vec<Held>| {
        if Scope::from_rel_path(&entry.path).is_some() && seen.insert(entry.oid.clone()) {
            out.push(Held {
                rev: short(rev),
                entry: entry.clone(),
            });
        }
    };
    for item in items {
        add(item.commit.unwrap_or("HEAD"), item.entry, &mut out);
    }
    let inside: HashSet<&str> = groups.iter().map(|c| c.id.as_str()).collect();
    let mut starts: Vec<&str> = groups
        .iter()
        .filter_map(|c| c.parent.as_deref())
        .filter(|p| !inside.contains(p))
        .collect();
    starts.sort_unstable();
    starts.dedup();
    for start in starts {
        // A parent this repository lacks (a shallow clone) has nothing to read.
        let Ok(out_tree) = repo.git(&["ls-tree", "-r", "-z", start, "--", SECRETS_DIR]) else {
            continue;
        };
        for f in out_tree.split(|&b| b == 0).filter(|f| !f.is_empty()) {
            let Some(tab) = f.iter().position(|&b| b == b'\t') else {
                continue;
            };
            let head = String::from_utf8_lossy(&f[..tab]);
            if let [_, "blob", oid] = head.split(' ').collect::<Vec<_>>()[..] {
                let entry = Entry {
                    path: String::from_utf8_lossy(&f[tab + 1..]).into_owned(),
                    oid: oid.to_owned(),
                };
                add(start, &entry, &mut out);
            }
        }
    }
    out
}

/// The texts to search for values (with an identity: the commits' messages, the named
/// tags' messages, the named blobs), and the findings of the checks that need no key
/// on the named blobs.
fn texts(
    repo: &Repo,
    groups: &[Commit],
    named: &objects::Named,
    search: bool,
) -> Result<(Vec<Text>, Vec<Finding>), Error> {
    let mut texts = Vec::new();
    let mut findings = Vec::new();
    let mut names: Vec<String> = named.blobs.clone();
    if search {
        names.extend(groups.iter().map(|c| c.id.clone()));
    }
    repo.for_each_blob(names.clone(), |i, bytes| {
        let object = names[i].clone();
        if i < named.blobs.len() {
            if let Some(mut f) = objects::judge_blob(bytes) {
                f.commit = Some(object);
                findings.push(f);
            } else if search && !super::is_binary(bytes) {
                texts.push(Text {
                    object: Some(object),
                    place: Where::NamedBlob,
                    bytes: Zeroizing::new(bytes.to_vec()),
                });
            }
        } else {
            texts.push(Text {
                object: Some(object),
                place: Where::CommitMessage,
                bytes: Zeroizing::new(objects::split_message(bytes).1.to_vec()),
            });
        }
        Ok(())
    })?;
    if search {
        for (object, message) in objects::tag_messages(repo, &named.tags)? {
            texts.push(Text {
                object: Some(object),
                place: Where::TagMessage,
                bytes: Zeroizing::new(message),
            });
        }
    }
    Ok((texts, findings))
}
