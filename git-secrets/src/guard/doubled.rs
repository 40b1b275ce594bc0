//! A scope file in which a merge lists a key more often than each side did
//! ([`crate::doubled`]): git's line merge of the encrypted form (in a clone with no merge
//! driver) keeps both entries of a key each side added in a different place, and so
//! does a person who resolves a conflict by deleting only the markers. A dotenv loader
//! then takes the last entry, one side's value, in silence. Key names are in the clear,
//! so this needs no key.
//!
//! The hooks judge the staged scope files of a merge (cherry-pick, revert, rebase) in
//! progress against HEAD and the other side ([`super::merge::joining`]); `check` and
//! pre-push judge each merge commit of a range against its parents.

use zeroize::Zeroizing;

use super::scan::Commit;
use super::Finding;
use crate::error::Error;
use crate::git::Repo;
use crate::scope::Scope;

/// The staged scope files that list a key more often than HEAD's and the other side's
/// versions do, while a merge (or a pick) is in progress; nothing otherwise.
pub fn check_staged(repo: &Repo) -> Result<Vec<Finding>, Error> {
    let Some(join) = super::merge::joining(repo) else {
        return Ok(Vec::new());
    };
    let changes = super::scan::staged(repo)?;
    let files: Vec<(&str, &str)> = changes
        .new
        .iter()
        .map(|e| (e.path.as_str(), e.oid.as_str()))
        .collect();
    judge(repo, None, &files, &["HEAD".to_owned(), join.theirs])
}

/// The same of each merge commit of `commits`: its scope files against its parents'.
pub fn check_commits(repo: &Repo, commits: &[Commit]) -> Result<Vec<Finding>, Error> {
    let mut findings = Vec::new();
    for c in commits.iter().filter(|c| !c.merged.is_empty()) {
        let files: Vec<(&str, &str)> = c
            .changes
            .new
            .iter()
            .map(|e| (e.path.as_str(), e.oid.as_str()))
            .collect();
        let parents: Vec<String> = c.parent.iter().chain(&c.merged).cloned().collect();
        findings.extend(judge(repo, Some(&c.id), &files, &parents)?);
    }
    Ok(findings)
}

/// The findings of `files` (path, merged blob id) against the same paths in `sides`, read
/// in one `git cat-file --batch` (a path a side lacks: no entry there).
fn judge(
    repo: &Repo,
    commit: Option<&str>,
    files: &[(&str, &str)],
    sides: &[String],
) -> Result<Vec<Finding>, Error> {
    let files: Vec<&(&str, &str)> = files
        .iter()
        .filter(|(path, _)| Scope::from_rel_path(path).is_some())
        .collect();
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let per = 1 + sides.len();
    let names: Vec<String> = files
        .iter()
        .flat_map(|(path, oid)| {
            std::iter::once((*oid).to_owned())
                .chain(sides.iter().map(move |s| format!("{s}:{path}")))
        })
        .collect();
    let mut blobs: Vec<Option<Zeroizing<Vec<u8>>>> = Vec::with_capacity(names.len());
    repo.for_each_object(names, |_, _, bytes| {
        blobs.push(bytes.map(|b| Zeroizing::new(b.to_vec())));
        Ok(())
    })?;
    let mut findings = Vec::new();
    for ((path, _), read) in files.iter().zip(blobs.chunks(per)) {
        // A side without the file (or a parent beyond a shallow clone's history): a
        // line merge doubles nothing there, and nothing can be compared.
        let Some(read) = read
            .iter()
            .map(Option::as_deref)
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let sides: Vec<&[u8]> = read[1..].iter().map(|b| b.as_slice()).collect();
        let keys = crate::doubled::doubled_keys(read[0], &sides);
        if keys.is_empty() {
            continue;
        }
        let names = crate::doubled::named(&keys);
        findings.push(Finding {
            commit: commit.map(super::history::short),
            path: (*path).to_owned(),
            reason: format!(
                "the merge lists {names} more often than either side did, with different values (each side added it in a different place, and git's line merge kept both): a dotenv loader takes the last one, so one side's value would be dropped in silence"
            ),
            fix: match commit {
                None => format!(
                    "keep one entry of each such key in {path} (a member who can read it chooses which), then `git add {path}` and commit"
                ),
                Some(_) => format!(
                    "merge again in a clone where `git secrets unlock` has set up the merge driver (it merges key by key), or amend the merge keeping one entry of each such key in {path} (a member who can read it chooses which)"
                ),
            },
        });
    }
    Ok(findings)
}
