//! The checks of the commit being made: the index (pre-commit, pre-merge-commit and
//! pre-applypatch, for `git am`) and the message (commit-msg, applypatch-msg).

use std::collections::HashSet;

use zeroize::Zeroizing;

use super::run::{run, Context, Item, LazyKnown, Text};
use super::scan::{attributes, staged, AttrSource, Entry};
use super::search::Where;
use super::Report;
use crate::error::Error;
use crate::git::Repo;

/// The pre-commit (and pre-merge-commit, pre-applypatch) check of the index.
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
        .enumerate()
        .map(|(i, entry)| Item {
            commit: None,
            entry,
            changed: i < changed.len(),
        })
        .collect();
    let lookup = |i: usize| attrs.get(&items[i].entry.path).copied().unwrap_or_default();
    let contexts = [Context {
        commit: None,
        parent: "HEAD".into(),
        old: &changes.old,
    }];
    let known = LazyKnown::new(repo);
    let (findings, _) = run(repo, &items, &contexts, &[], &[], &lookup, &known)?;
    let staged_secrets = changed
        .iter()
        .filter(|e| super::is_secret_path(&e.path))
        .map(|e| (e.path.clone(), e.oid.clone()))
        .collect();
    Ok(Report {
        findings,
        values_searched: known.searched(),
        commits: 0,
        objects: 0,
        staged_secrets,
        warnings: Vec::new(),
    })
}

/// The line `git commit --verbose` (and `--cleanup=scissors`) puts above the diff it adds
/// to the message file: git drops it and all below. (Should git keep them, with
/// `-m` and the default cleanup, `check` and pre-push still search the message stored.)
const SCISSORS: &[u8] = b"------------------------ >8 ------------------------";

/// The commit-msg (and applypatch-msg) check: the message of the commit being made,
/// searched for the values this identity can read, with the same rules as a staged file
/// (check 4: the work tree's scope files, and HEAD's version of those the commit
/// deletes or changes). Without an identity there is nothing to search for.
pub fn check_message(repo: &Repo, message: &[u8]) -> Result<Report, Error> {
    let known = LazyKnown::new(repo);
    if known.get().is_none() {
        return Ok(Report::default());
    }
    let kept = match message.windows(SCISSORS.len()).position(|w| w == SCISSORS) {
        Some(at) => {
            &message[..message[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)]
        }
        None => message,
    };
    // Before the first commit there is no HEAD to compare with.
    let changes = match repo.git(&["rev-parse", "--verify", "-q", "HEAD^{commit}"]) {
        Ok(_) => staged(repo)?,
        Err(_) => Default::default(),
    };
    let contexts = [Context {
        commit: None,
        parent: "HEAD".into(),
        old: &changes.old,
    }];
    let texts = [Text {
        object: None,
        place: Where::NewMessage,
        bytes: Zeroizing::new(kept.to_vec()),
    }];
    let (findings, warnings) = run(
        repo,
        &[],
        &contexts,
        &[],
        &texts,
        &|_| (false, false),
        &known,
    )?;
    Ok(Report {
        findings,
        values_searched: known.searched(),
        warnings,
        ..Report::default()
    })
}
