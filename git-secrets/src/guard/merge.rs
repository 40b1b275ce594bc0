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
//! - a merge (or a squash merge, cherry-pick, revert, rebase) drops a scope file that
//!   one side changed, while its keys lead to a declared environment (the rename: see
//!   [`crate::access::Access::kin_envs`]), unless this identity can see that the changed
//!   values are in that environment's file;
//! - or while its environment is gone (`env del` on the other side): the values that
//!   side set or changed there would be lost, kept only in history.
//!
//! `git secrets doctor --fix` merges either home (crate::workspace::orphans), key by key
//! from the merge base. FORMAT.md §8.4.

use std::collections::HashMap;

use zeroize::Zeroizing;

use super::Finding;
use crate::access::Access;
use crate::config::{Config, SHARED};
use crate::dotenv::Document;
use crate::error::Error;
use crate::git::Repo;
use crate::scope::Scope;
use crate::workspace::{Workspace, ACCESS_FILE};

/// Scope files of a tree or of the index: path → blob id.
type Files = HashMap<String, String>;

/// A commit whose changes are being brought onto HEAD, its conflicts being resolved.
pub struct Joining {
    /// The other side's commit, and how to name it to `git checkout`.
    pub theirs: String,
    pub name: String,
    /// What its changes are taken against: the merge base; for a cherry-pick or a
    /// rebase the picked commit's parent; for a revert, the reverted commit (whose
    /// parent is then the other side).
    pub base: String,
}

/// The commit a merge (`MERGE_HEAD`), a squash merge (`SQUASH_MSG`, which names the
/// merged commits, the tip first), a cherry-pick or a revert (`CHERRY_PICK_HEAD`,
/// `REVERT_HEAD`) or a rebase (`REBASE_HEAD`) in progress in `repo`'s work tree brings
/// onto HEAD.
pub fn joining(repo: &Repo) -> Option<Joining> {
    let dir = crate::git::git_dir(&repo.root)?;
    let first_line = |file: &str| {
        let text = std::fs::read_to_string(dir.join(file)).ok()?;
        Some(text.lines().next()?.trim().to_owned()).filter(|s| !s.is_empty())
    };
    let rev = |args: &[&str]| {
        let out = repo.git(args).ok()?;
        Some(String::from_utf8_lossy(&out).trim().to_owned()).filter(|s| !s.is_empty())
    };
    let merged = |theirs: String, name: String| {
        let base = rev(&["merge-base", "HEAD", &theirs])?;
        Some(Joining { theirs, name, base })
    };
    if let Some(theirs) = first_line("MERGE_HEAD") {
        return merged(theirs, "MERGE_HEAD".into());
    }
    for head in ["CHERRY_PICK_HEAD", "REVERT_HEAD", "REBASE_HEAD"] {
        if let Some(picked) = first_line(head) {
            let parent = rev(&["rev-parse", "-q", "--verify", &format!("{picked}^")])?;
            // A revert takes the commit's changes backwards: its parent's side, against
            // the commit itself.
            return Some(if head == "REVERT_HEAD" {
                Joining {
                    name: parent.clone(),
                    theirs: parent,
                    base: picked,
                }
            } else {
                Joining {
                    theirs: picked,
                    name: head.into(),
                    base: parent,
                }
            });
        }
    }
    let squash = std::fs::read_to_string(dir.join("SQUASH_MSG")).ok()?;
    let tip = squash.lines().find_map(|l| {
        let id = l.strip_prefix("commit ")?.trim();
        (id.len() >= 40 && id.chars().all(|c| c.is_ascii_hexdigit())).then(|| id.to_owned())
    })?;
    merged(tip.clone(), tip)
}

/// Where a dropped file's changes are looked for in its renamed home.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Home {
    /// The staged file: what the commit would hold (the hooks).
    Staged,
    /// The work tree's file (`doctor`): one with conflict markers is a resolution under
    /// way, which the hooks judge once it is staged.
    WorkTree,
}

/// What the commit concluding a merge (squash merge, cherry-pick, revert, rebase) in
/// progress in `repo` would drop of an environment renamed on one side; nothing when
/// none is in progress. (A stray file the merge brings in is check 6 of every commit:
/// crate::guard::run.)
pub fn check_merge(repo: &Repo, look_in: Home) -> Result<Vec<Finding>, Error> {
    let Some(join) = joining(repo) else {
        return Ok(Vec::new());
    };
    // The staged config.toml: the one the commit will hold.
    let Some(config) = Config::stored(repo, None) else {
        return Ok(Vec::new());
    };
    let known = |path: &str| {
        Scope::from_rel_path(path).is_some_and(|s| s.env == SHARED || config.has_env(&s.env))
    };
    let index = scope_files(
        &repo.git(&["ls-files", "-s", "-z", "--", ".secrets"])?,
        true,
    );
    let mut findings = Vec::new();
    let tree = |rev: &str| -> Result<Files, Error> {
        Ok(scope_files(
            &repo.git(&["ls-tree", "-r", "-z", rev, "--", ".secrets"])?,
            false,
        ))
    };
    let sides = [
        ("HEAD".to_owned(), tree("HEAD")?),
        (join.name.clone(), tree(&join.theirs)?),
    ];
    let base_files = tree(&join.base)?;
    // Files the commit drops that a side changed since the base: (side, path, blob id,
    // the base's blob id). At a declared path, also a side's version the commit does
    // not hold (added there on that side, or changed), when it turns out to be sealed
    // for another environment (below): the old name's file, the name reused since.
    let dropped: Vec<(usize, &str, &str, Option<&str>)> = sides
        .iter()
        .enumerate()
        .flat_map(|(side, (_, files))| {
            let (base_files, index) = (&base_files, &index);
            files.iter().filter_map(move |(path, oid)| {
                let was = base_files.get(path);
                if was == Some(oid) {
                    return None;
                }
                // (A first file of an undeclared environment too: one deleted, below.)
                let dropped = if known(path) {
                    index.get(path) != Some(oid)
                } else {
                    !index.contains_key(path)
                };
                dropped.then_some((side, path.as_str(), oid.as_str(), was.map(String::as_str)))
            })
        })
        .collect();
    if dropped.is_empty() {
        return Ok(findings);
    }
    // The merged access.json tells where each dropped file's keys went.
    let Ok(access) = Access::load(&repo.root.join(ACCESS_FILE)) else {
        return Ok(findings);
    };
    let mut blobs = Blobs::default();
    blobs.read(
        repo,
        dropped
            .iter()
            .flat_map(|(_, _, oid, was)| [Some(*oid), *was].into_iter().flatten()),
    )?;
    let workspace = std::cell::OnceCell::new();
    // Each dropped file whose keys lead to a declared environment: (side, path, blob id,
    // the base's, the environments kin to its keys, its home's path).
    let mut homeless = Vec::new();
    for (side, path, oid, was) in dropped {
        let scope = Scope::from_rel_path(path).expect("a scope file");
        let reused = known(path);
        let ids: std::collections::HashSet<String> = if reused {
            // Only the keys none of its environment's chain holds: the old name's.
            let own = access.keys.get(&scope.env);
            crate::envfile::key_ids(blobs.get(oid))
                .into_iter()
                .filter(|id| !own.is_some_and(|c| c.keys().any(|k| k.0 == *id)))
                .collect()
        } else {
            [Some(oid), was]
                .into_iter()
                .flatten()
                .flat_map(|o| crate::envfile::key_ids(blobs.get(o)))
                .collect()
        };
        if ids.is_empty() {
            continue;
        }
        let kin: Vec<String> = access
            .kin_envs(&ids)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let Some(home) = kin.iter().find(|e| config.has_env(e) && **e != scope.env) else {
            // None declared: the environment was deleted (`env del`), and with it what
            // this side set there.
            if !reused {
                let ws = workspace.get_or_init(|| Workspace::open_repo(repo.clone()).ok());
                let (base, changed) = (was.map_or(&[][..], |w| blobs.get(w)), blobs.get(oid));
                let keys = changed_keys(ws.as_ref(), &scope, base, changed);
                if !keys.is_empty() {
                    findings.push(deleted(&sides[side].0, &scope, &keys));
                }
            }
            continue;
        };
        if was.is_none() {
            continue; // a first value under a renamed environment's old name: check 6
        }
        let home = Scope::new(scope.service.as_deref(), home).rel_path();
        homeless.push((side, scope, oid, was, kin, home, reused));
    }
    let other = |side: usize| &sides[1 - side].1;
    blobs.read(
        repo,
        homeless.iter().flat_map(|(side, _, _, _, _, home, _)| {
            [index.get(home), other(*side).get(home)]
                .into_iter()
                .flatten()
                .map(String::as_str)
        }),
    )?;
    for (side, scope, oid, was, kin, home, reused) in homeless {
        let ws = workspace.get_or_init(|| Workspace::open_repo(repo.clone()).ok());
        // The work tree's home file: what doctor looks at, and where the conflict markers
        // `doctor --fix` writes are resolved.
        let in_work_tree = std::fs::read(repo.root.join(&home)).map(Zeroizing::new);
        let (name, path) = (&sides[side].0, scope.rel_path());
        if let Ok(bytes) = &in_work_tree {
            if crate::envfile::conflict_parts(bytes).is_some() {
                // Being resolved: doctor says nothing more; a commit waits for it.
                if look_in == Home::Staged {
                    findings.push(Finding {
                        commit: None,
                        path: home.clone(),
                        reason: format!("still has the conflict markers of merging {path} into it: the merge is not resolved"),
                        fix: format!("keep one value between each pair of markers in {home}, delete the markers, then `git add {home}` and commit"),
                    });
                }
                continue;
            }
        }
        let versions = Versions {
            base: was.map_or(&[][..], |w| blobs.get(w)),
            changed: blobs.get(oid),
            staged: match look_in {
                Home::Staged => index.get(&home).map(|o| blobs.get(o)),
                Home::WorkTree => in_work_tree.as_ref().ok().map(|b| b.as_slice()),
            },
            other: other(side).get(&home).map(|o| blobs.get(o)),
        };
        let fix = match ws.as_ref().map(|ws| carried_over(ws, &scope, &home, &kin, versions)) {
            Some(Carried::Yes) => continue,
            Some(Carried::No) => format!(
                "`git checkout {name} -- {path}`, then `git secrets doctor --fix` merges it into {home}; or commit with --no-verify to drop the change"
            ),
            _ => format!(
                "a member who can read {home} merges it: `git checkout {name} -- {path}`, then `git secrets doctor --fix`; or commit with --no-verify to drop the change"
            ),
        };
        let reason = if reused {
            format!(
                "the commit drops what {name} changed in this file, sealed for the environment now called {}: the other side renamed `{}` and gave the name to a new environment ({home} holds the old values now); the change would be lost",
                Scope::from_rel_path(&home).map_or_else(String::new, |h| format!("`{}`", h.env)),
                scope.env
            )
        } else {
            format!(
                "the commit drops this file, which {name} changed, while the other side renamed its environment ({home} holds its values now): the change would be lost"
            )
        };
        findings.push(Finding {
            commit: None,
            path: path.clone(),
            reason,
            fix,
        });
    }
    Ok(findings)
}

/// The keys `changed` (a side's version of a scope file) set or changed since `base` (the
/// merge base's; empty when the side added the file): compared by value where this
/// identity opens both (a rotation on that side re-seals values it did not change),
/// else by token. Key names are in the clear.
fn changed_keys(ws: Option<&Workspace>, scope: &Scope, base: &[u8], changed: &[u8]) -> Vec<String> {
    let open = |bytes: &[u8]| match bytes.is_empty() {
        true => Some(Document::default()),
        false => ws?.decrypt_with_history(scope, bytes).ok(),
    };
    if let (Some(base), Some(changed)) = (open(base), open(changed)) {
        return changed
            .keys()
            .into_iter()
            .filter(|k| changed.raw(k) != base.raw(k))
            .collect();
    }
    let tokens = |bytes: &[u8]| -> HashMap<String, String> {
        crate::envfile::tokens(bytes)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| Some((t.key?, t.token)))
            .collect()
    };
    let (was, now) = (tokens(base), tokens(changed));
    let mut keys: Vec<String> = now
        .into_iter()
        .filter(|(k, t)| was.get(k) != Some(t))
        .map(|(k, _)| k)
        .collect();
    keys.sort();
    keys
}

/// The finding for a scope file the commit drops, whose environment the other side
/// deleted, while `name`'s side set or changed `keys` in it.
fn deleted(name: &str, scope: &Scope, keys: &[String]) -> Finding {
    let env = &scope.env;
    let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    // The scope as `export` takes it.
    let service = scope
        .service
        .as_ref()
        .map_or_else(String::new, |s| format!("{s} "));
    Finding {
        commit: None,
        path: scope.rel_path(),
        reason: format!(
            "the commit drops this file, in which {name} set or changed {}, while the other side deleted environment `{env}` (`git secrets env del`): those values would be lost, kept only in history",
            keys.join(", ")
        ),
        fix: format!(
            "to keep them, abort (`git merge --abort`, or the `--abort` of the rebase or cherry-pick) and either bring `{env}` back (`git revert` the commit that deleted it, then merge again) or, on the branch that set them, move them to an environment that stays (`git secrets export {service}{env} --format dotenv -o FILE`, `git secrets import {service}ENV --file FILE`, delete FILE, commit), then merge again; to drop them on purpose, commit with --no-verify"
        ),
    }
}

/// Blobs read by id, with one `git cat-file --batch` per call to [`Blobs::read`].
#[derive(Default)]
struct Blobs(HashMap<String, Zeroizing<Vec<u8>>>);

impl Blobs {
    fn read<'a>(&mut self, repo: &Repo, oids: impl Iterator<Item = &'a str>) -> Result<(), Error> {
        let oids: Vec<&str> = oids.filter(|o| !self.0.contains_key(*o)).collect();
        for (oid, bytes) in oids.iter().zip(repo.read_blobs(&oids)?) {
            self.0.insert((*oid).to_owned(), Zeroizing::new(bytes));
        }
        Ok(())
    }

    fn get(&self, oid: &str) -> &[u8] {
        self.0.get(oid).map_or(&[], |b| b.as_slice())
    }
}

/// The versions of a scope file that a commit drops, and of its renamed home.
struct Versions<'a> {
    /// The dropped file in the base, and on the side that changed it.
    base: &'a [u8],
    changed: &'a [u8],
    /// The home file as staged, and on the side that renamed (none: it has no file).
    staged: Option<&'a [u8]>,
    other: Option<&'a [u8]>,
}

/// Whether every change made to `scope`'s file since the base is in `home`'s staged file
/// (`doctor --fix` merged it home), or was a key the renaming side changed too (a
/// conflict the user resolved either way). Read with the keys of the environments `kin`.
/// What [`carried_over`] can tell.
enum Carried {
    Yes,
    No,
    /// This identity cannot open the versions.
    Unreadable,
}

fn carried_over(ws: &Workspace, scope: &Scope, home: &str, kin: &[String], v: Versions) -> Carried {
    let Some(home) = Scope::from_rel_path(home) else {
        return Carried::Unreadable;
    };
    let keys = ws.kin_keys(kin, &home.env);
    let open = |s: &Scope, bytes: Option<&[u8]>| match bytes {
        None => Some(Document::default()),
        Some(b) => ws.open_orphan(s, &keys, b).ok(),
    };
    let (Some(base), Some(changed), Some(staged), Some(other)) = (
        open(scope, Some(v.base)),
        open(scope, Some(v.changed)),
        open(&home, v.staged),
        open(&home, v.other),
    ) else {
        return Carried::Unreadable;
    };
    let carried = base
        .entries()
        .chain(changed.entries())
        .map(|e| e.key.as_str())
        .all(|k| {
            changed.raw(k) == base.raw(k)
                || staged.raw(k) == changed.raw(k)
                || other.raw(k) != base.raw(k)
        });
    if carried {
        Carried::Yes
    } else {
        Carried::No
    }
}

/// The scope files of `git ls-files -s -z` (stage 0 only, with `index`) or of
/// `git ls-tree -r -z` output.
fn scope_files(out: &[u8], index: bool) -> Files {
    let is_scope = |path: &str| Scope::from_rel_path(path).is_some();
    if index {
        return crate::git::stage0_entries(out)
            .filter(|(path, ..)| is_scope(path))
            .map(|(path, _, oid)| (path, oid))
            .collect();
    }
    out.split(|&b| b == 0)
        .filter_map(|entry| {
            let tab = entry.iter().position(|&b| b == b'\t')?;
            let head = std::str::from_utf8(&entry[..tab]).ok()?;
            let path = std::str::from_utf8(&entry[tab + 1..]).ok()?;
            match head.split(' ').collect::<Vec<_>>().as_slice() {
                [_, "blob", oid] if is_scope(path) => Some((path.to_owned(), (*oid).to_owned())),
                _ => None,
            }
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
