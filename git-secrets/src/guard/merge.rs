//! What a merge commit would lose of an environment renamed on one side: `env rename
//! staging stage` moves `.secrets/staging.env` to `.secrets/stage.env`, sealed again
//! under the new scope, so git sees no rename. An edit of `staging.env` on the other
//! side then either merges in cleanly as a file no command reads (a first value), or
//! conflicts as modify/delete, which a `git rm` resolves by dropping the edit.
//!
//! Before a commit, two findings, from paths, blob ids and the key ids tokens carry in
//! the clear:
//! - a scope file of an environment config.toml lacks is staged (only a merge brings
//!   one in);
//! - a merge drops a scope file that one side changed, while the other side holds its
//!   values in a file added under another environment sealed with the same key (the
//!   rename), unless this identity can see that the changed values are there.
//!
//! `git secrets doctor --fix` merges either home (crate::workspace::orphans), key by key
//! from the merge base.

use std::collections::{HashMap, HashSet};

use zeroize::Zeroizing;

use super::Finding;
use crate::config::{Config, SHARED};
use crate::error::Error;
use crate::git::Repo;
use crate::scope::Scope;
use crate::workspace::{Workspace, CONFIG_FILE};

/// Scope files of a tree or of the index: path → blob id.
type Files = HashMap<String, String>;

/// The commit being merged into HEAD, while a merge is in progress in `repo`'s work tree.
pub fn merging(repo: &Repo) -> Option<String> {
    let dir = crate::git::git_dir(&repo.root)?;
    let text = std::fs::read_to_string(dir.join("MERGE_HEAD")).ok()?;
    Some(text.lines().next()?.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The findings of a commit about to be made in `repo`, `staged` being the secret files
/// (path, blob id) it adds or changes and `config_changed` whether it changes
/// config.toml: first the staged scope files of an environment config.toml lacks (a
/// merge brings one in, or takes away its environment; clean refuses to seal one), then,
/// while a merge is in progress (concluded by `git commit`), the files it would drop.
pub fn check_merge(
    repo: &Repo,
    staged: &[(String, String)],
    config_changed: bool,
) -> Result<Vec<Finding>, Error> {
    let merging = merging(repo);
    let scope_file = |p: &str| Scope::from_rel_path(p).is_some_and(|s| s.env != SHARED);
    if merging.is_none() && !config_changed && !staged.iter().any(|(p, _)| scope_file(p)) {
        return Ok(Vec::new());
    }
    // The work tree's config.toml: during a merge, the merged one. One that cannot be
    // read is what every command reports.
    let Ok(config) = Config::load(&repo.root.join(CONFIG_FILE)) else {
        return Ok(Vec::new());
    };
    let known = |path: &str| {
        Scope::from_rel_path(path).is_some_and(|s| s.env == SHARED || config.has_env(&s.env))
    };
    // Every staged scope file when the environments may have changed, else the changed.
    let index = if merging.is_some() || config_changed {
        scope_files(
            &repo.git(&["ls-files", "-s", "-z", "--", ".secrets"])?,
            true,
        )
    } else {
        staged
            .iter()
            .filter(|(p, _)| scope_file(p))
            .cloned()
            .collect()
    };
    let mut strays: Vec<&String> = index.keys().filter(|p| !known(p)).collect();
    strays.sort();
    let mut findings: Vec<Finding> = strays
        .into_iter()
        .map(|path| Finding {
            commit: None,
            path: path.clone(),
            reason: format!(
                "a file of `{}`, an environment .secrets/config.toml does not have (renamed or deleted on the other side of a merge?): no command would read its values",
                Scope::from_rel_path(path).map(|s| s.env).unwrap_or_default()
            ),
            fix: "`git secrets doctor --fix` merges its values into the renamed environment's file (or `git rm` it, if its environment was deleted on purpose); then commit".into(),
        })
        .collect();
    let Some(theirs) = merging else {
        return Ok(findings);
    };
    let tree = |rev: &str| -> Result<Files, Error> {
        Ok(scope_files(
            &repo.git(&["ls-tree", "-r", "-z", rev, "--", ".secrets"])?,
            false,
        ))
    };
    let ours = tree("HEAD")?;
    let base = match repo.git(&["merge-base", "HEAD", &theirs]) {
        Ok(out) => String::from_utf8_lossy(&out).trim().to_owned(),
        Err(_) => return Ok(findings),
    };
    let (theirs_files, base_files) = (tree(&theirs)?, tree(&base)?);
    let base_files = &base_files;
    // Files the merge drops that a side changed since the base: (side, path, blob id,
    // the base's blob id).
    let dropped: Vec<(&str, &str, &str, &str)> = [("HEAD", &ours), ("MERGE_HEAD", &theirs_files)]
        .into_iter()
        .flat_map(|(side, files)| {
            files.iter().filter_map(move |(path, oid)| {
                let was = base_files.get(path)?;
                (was != oid).then_some((side, path.as_str(), oid.as_str(), was.as_str()))
            })
        })
        .filter(|(_, path, ..)| !index.contains_key(*path) && !known(path))
        .collect();
    if dropped.is_empty() {
        return Ok(findings);
    }
    // Where the renaming side put each service's values: files it added, whose keys are
    // those of the dropped file.
    let added: Vec<(&String, &String)> = index
        .iter()
        .filter(|(p, _)| known(p) && !base_files.contains_key(*p))
        .collect();
    let oids: Vec<&str> = dropped
        .iter()
        .flat_map(|(_, _, oid, was)| [*oid, *was])
        .chain(added.iter().map(|(_, oid)| oid.as_str()))
        .collect();
    let blobs: HashMap<&str, Zeroizing<Vec<u8>>> = oids
        .iter()
        .copied()
        .zip(repo.read_blobs(&oids)?.into_iter().map(Zeroizing::new))
        .collect();
    let key_ids = |oid: &str| -> HashSet<String> {
        crate::envfile::key_ids(&blobs[oid]).into_iter().collect()
    };
    let workspace = std::cell::OnceCell::new();
    for (side, path, oid, was) in dropped {
        let scope = Scope::from_rel_path(path).expect("a scope file");
        let home = added.iter().find(|(p, added_oid)| {
            Scope::from_rel_path(p).is_some_and(|s| s.service == scope.service)
                && !key_ids(oid).is_disjoint(&key_ids(added_oid))
        });
        let Some((home, home_oid)) = home else {
            continue;
        };
        let ws = workspace.get_or_init(|| Workspace::open_repo(repo.clone()).ok());
        let changes = [was, oid, home_oid.as_str()].map(|o| blobs[o].as_slice());
        if ws
            .as_ref()
            .is_some_and(|ws| carried_over(ws, &scope, home, changes))
        {
            continue;
        }
        findings.push(Finding {
            commit: None,
            path: path.to_owned(),
            reason: format!(
                "the merge drops this file, which {side} changed, while the other side renamed its environment ({home} holds its values now): the change would be lost"
            ),
            fix: format!(
                "`git checkout {side} -- {path}`, then `git secrets doctor --fix` merges it into {home}; or commit with --no-verify to drop the change"
            ),
        });
    }
    Ok(findings)
}

/// Whether each value `scope`'s file changed from `base` to `changed` is in `home`'s
/// staged file `staged` as it is there (`doctor --fix` merged it home), read with the keys
/// of `home`'s environment; no when this identity cannot read them.
fn carried_over(
    ws: &Workspace,
    scope: &Scope,
    home: &str,
    [base, changed, staged]: [&[u8]; 3],
) -> bool {
    let Some(home) = Scope::from_rel_path(home) else {
        return false;
    };
    let open = |s: &Scope, bytes: &[u8]| ws.open_orphan(s, &home.env, bytes).ok();
    let (Some(base), Some(changed), Some(staged)) =
        (open(scope, base), open(scope, changed), open(&home, staged))
    else {
        return false;
    };
    let carried = base
        .entries()
        .chain(changed.entries())
        .map(|e| e.key.as_str())
        .all(|k| changed.raw(k) == base.raw(k) || staged.raw(k) == changed.raw(k));
    carried
}

/// The scope files of `git ls-files -s -z` (stage 0 only, with `index`) or of
/// `git ls-tree -r -z` output.
fn scope_files(out: &[u8], index: bool) -> Files {
    out.split(|&b| b == 0)
        .filter_map(|entry| {
            let tab = entry.iter().position(|&b| b == b'\t')?;
            let head = std::str::from_utf8(&entry[..tab]).ok()?;
            let path = std::str::from_utf8(&entry[tab + 1..]).ok()?;
            let fields: Vec<&str> = head.split(' ').collect();
            let oid = match (index, fields.as_slice()) {
                (true, [_, oid, "0"]) | (false, [_, "blob", oid]) => *oid,
                _ => return None,
            };
            Scope::from_rel_path(path).map(|_| (path.to_owned(), oid.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn scope_files_of_the_index_and_of_trees() {
        let index = b"100644 1111 0\t.secrets/dev.env\x00100644 2222 1\t.secrets/old.env\x00100644 3333 0\t.secrets/config.toml\0";
        let files = super::scope_files(index, true);
        assert_eq!(files.len(), 1);
        assert_eq!(files[".secrets/dev.env"], "1111");
        let tree = b"100644 blob 4444\t.secrets/api/test.env\x00040000 tree 5555\t.secrets/api\0";
        let files = super::scope_files(tree, false);
        assert_eq!(files.len(), 1);
        assert_eq!(files[".secrets/api/test.env"], "4444");
    }
}
