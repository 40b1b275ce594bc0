//! `git secrets lock`: puts the encrypted form back in the work tree and removes this
//! clone's filter configuration. Uncommitted edits are kept, encrypted.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::error::Error;
use crate::fsutil;
use crate::git::Repo;
use crate::workspace::{FileState, Workspace};

/// Encrypt the secret files in the work tree and remove this clone's filter setup.
#[derive(Args, Debug)]
pub struct LockArgs {}

/// Removes what `unlock::configure` set that only an unlocked clone needs: the filter,
/// the fsmonitor hook, the masked diff driver (its cache, refs/notes/textconv/secrets,
/// holds no secret and is left alone) and the hooks that fill that cache. The merge
/// drivers stay: they merge the encrypted form without access too. So do the checks
/// (`guard::install::CHECKS`): without the filter, they are what refuses a plaintext
/// secret file written into the locked clone.
pub fn unconfigure(repo: &crate::git::Repo) -> Result<(), Error> {
    use crate::guard::install;
    repo.config_unset_section("filter.secrets")?;
    super::unlock::unconfigure_fsmonitor(repo)?;
    repo.config_unset_section("diff.secrets")?;
    let cache_hooks: Vec<&str> = install::HOOKS
        .iter()
        .copied()
        .filter(|h| !install::is_check(h))
        .collect();
    install::remove(repo, &cache_hooks)
}

/// The staged blob of `scope` (`staged`) when it holds a value under a retired key and
/// opens to exactly `doc`: an unedited file goes back to the bytes git holds. A fresh
/// seal would put such a value (one a removed member may have sealed) under the current
/// key in the work tree, and the locked clone would take it for verified
/// (crate::workspace::Unverified). A staged blob with current keys only needs no
/// opening: sealing is deterministic, so the fresh seal of an unedited file is that blob.
fn staged_if_unverified_and_unedited(
    ws: &Workspace,
    scope: &crate::scope::Scope,
    doc: &crate::dotenv::Document,
    staged: Option<&[u8]>,
) -> Option<Vec<u8>> {
    let staged = staged.filter(|s| ws.holds_unverified(scope, s))?;
    let opened = ws.decrypt(scope, staged).ok()?;
    (opened.print().expose() == doc.print().expose()).then(|| staged.to_vec())
}

pub fn cmd_lock(_args: LockArgs) -> Result<(), Error> {
    let ws = super::open()?;
    // A temporary file an interrupted write left anywhere in the work tree holds what it
    // was writing (plaintext, for a scope file): a locked clone keeps none. One a running
    // git-secrets command may still own is left to it, and named.
    let left = ws.leftovers(true, true)?;
    if !left.stale.is_empty() {
        eprintln!("{}", super::removed_leftovers(&ws, &left.stale));
    }
    if !left.busy.is_empty() {
        let busy: Vec<String> = left.busy.iter().map(|p| ws.shown_path(p)).collect();
        eprintln!(
            "warning: another git-secrets command is writing beside {}, which may hold plaintext: run `git secrets lock` again once it has finished",
            busy.join(", ")
        );
    }
    // Copies of secret files that git or an editor left beside them (a mergetool's
    // `.orig` backup and its BASE/LOCAL/REMOTE files, an editor's `~` backup) hold
    // plaintext that no filter will seal: a locked work tree keeps none, so they are
    // named before anything changes.
    let copies = plaintext_copies(&ws)?;
    if !copies.is_empty() {
        return Err(copies_error(&copies));
    }
    // Read and seal every plaintext file first, so a file that cannot be read or sealed
    // gives its own error before anything changes. Sealing is deterministic, so an
    // unedited file gets exactly the bytes git holds.
    let mut writes = Vec::new();
    let mut names = std::collections::HashSet::new();
    let scopes = ws.scope_files();
    let staged = ws.staged_scope_blobs(&scopes);
    for scope in scopes {
        let file = ws.read_scope(&scope)?;
        names.extend(file.doc.keys());
        if file.state == FileState::Plain {
            let blob = staged.get(&scope.rel_path()).map(|b| b.as_slice());
            let sealed = match staged_if_unverified_and_unedited(&ws, &scope, &file.doc, blob) {
                Some(staged) => staged,
                None => ws.encrypt(&scope, &file.doc)?.into_bytes(),
            };
            writes.push((scope.rel_path(), sealed));
        }
    }
    for (path, env, plain) in ws.read_tracked(false)? {
        let sealed = ws.seal_file(&path, &env, &plain)?;
        writes.push((path, sealed));
    }
    // Compared while the filter is still configured: real edits only.
    let (tracked, edited) = (ws.repo.tracked()?, ws.repo.edited_filtered()?);
    // The configuration is shared by every worktree of the repository: removed while
    // another one still holds decrypted files, git there would take them for edits and
    // a `git stash` or `git add` would store the plaintext. The last lock removes it.
    // A worktree that cannot be looked at now (its directory is missing: a disk not
    // mounted) may hold them too, and keeps it as well.
    let others = other_worktrees(&ws.repo)?;
    // The filter stays for them: the mark keeps git's checkouts here from opening the
    // files again (crate::filter's smudge), until `unlock` here.
    // And what the fsmonitor hook learned of this worktree's plaintext (digests of whole
    // files) goes, as a full lock's `unconfigure` removes it.
    if !others.is_empty() {
        crate::journal::set_worktree_locked(&ws.repo, true)?;
        if let Some(dir) = crate::git::git_dir(ws.root()) {
            crate::fsmonitor::forget(&dir);
        }
    }
    for (rel, sealed) in &writes {
        let path = ws.root().join(rel);
        if tracked.contains(rel) && !edited.contains(rel) {
            fsutil::overwrite_committed(&path, sealed)?;
        } else {
            fsutil::write_private(&path, sealed, false)?;
        }
    }
    // Only once every file is sealed: a lock cut short before this point leaves the
    // filter in place, so what is still plaintext is sealed by whatever git command
    // reads it next (and `lock` again finishes the job); never plaintext in a clone
    // without its filter.
    if others.is_empty() {
        unconfigure(&ws.repo)?;
    }
    let paths: Vec<String> = writes.iter().map(|(p, _)| p.clone()).collect();
    ws.repo.restat(&paths, true)?;
    if others.is_empty() {
        eprintln!(
            "locked: {} secret file(s) encrypted in the work tree; this clone's filter is removed (the pre-commit and pre-push checks stay)",
            writes.len()
        );
        // rr-cache is shared by every worktree: only the last lock empties it of secrets.
        for record in rerere_records(&ws.repo, &names)? {
            std::fs::remove_dir_all(&record).map_err(|source| Error::Io {
                path: record.clone(),
                source,
            })?;
            eprintln!(
                "removed {}: git rerere's record of a conflict in a secret file held its values decrypted",
                record.display()
            );
        }
        return Ok(());
    }
    eprintln!(
        "locked this worktree: {} secret file(s) encrypted in it; the filter stays configured for the repository's other worktrees:",
        writes.len()
    );
    for p in &others.plaintext {
        eprintln!("  {} (holds decrypted secret files)", p.display());
    }
    for (p, locked) in &others.unreachable {
        let why = match locked {
            Some(reason) if !reason.is_empty() => {
                format!("locked by `git worktree lock`: {reason}")
            }
            Some(_) => "locked by `git worktree lock`".to_owned(),
            None => "its directory is missing".to_owned(),
        };
        eprintln!(
            "  {} (cannot be looked at: {why}; it may hold decrypted secret files)",
            p.display()
        );
    }
    let mut hint =
        "run `git secrets lock` in each of them; the last one removes the filter".to_owned();
    if !others.unreachable.is_empty() {
        hint.push_str(". A worktree that cannot be looked at: make it reachable again (mount its disk) and lock it there, or, if it is gone for good, `git worktree remove --force --force <path>` (or `git worktree unlock <path>` and `git worktree prune`), then `git secrets lock` again");
    }
    eprintln!("hint: {hint}");
    Ok(())
}

/// The records of `git rerere` (`rr-cache/<id>/`, with `rerere.enabled`) of a conflict in
/// a secret file: git keeps both sides and the resolution as the work tree showed them,
/// decrypted. A record is taken for one when a line of it assigns a value that is not in
/// encrypted form to a key that a scope file holds (`names`), as a secret file's lines
/// do, or when a side of it is a dotenv file not in encrypted form: rr-cache is shared by
/// every branch, and a conflict in a service or a key the current branch lacks is a
/// secret file's all the same. A conflict in another file of that shape (`.env.example`)
/// only costs git the resolution it would have replayed.
fn rerere_records(
    repo: &Repo,
    names: &std::collections::HashSet<String>,
) -> Result<Vec<PathBuf>, Error> {
    let out = repo.git(&["rev-parse", "--git-path", "rr-cache"])?;
    let cache = repo.root.join(String::from_utf8_lossy(&out).trim_end());
    let Ok(entries) = std::fs::read_dir(&cache) else {
        return Ok(Vec::new()); // never enabled
    };
    let assigns_a_secret = |text: &str| {
        text.lines().any(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("export ").unwrap_or(line);
            line.split_once('=').is_some_and(|(key, value)| {
                let value = value.trim().trim_matches(['"', '\'', '`']);
                names.contains(key.trim()) && !value.is_empty() && !value.starts_with("gs1:")
            })
        })
    };
    // Each side of a conflict (the whole text when it has none) read as a dotenv file.
    let plain_dotenv = |text: &str| {
        let (ours, theirs) = crate::envfile::conflict_sides(text)
            .unwrap_or_else(|| (text.to_owned(), text.to_owned()));
        let (ours, theirs) = (
            zeroize::Zeroizing::new(ours),
            zeroize::Zeroizing::new(theirs),
        );
        [ours, theirs].iter().any(|side| {
            !side.trim().is_empty()
                && crate::dotenv::Document::parse(side.as_bytes()).is_ok()
                && !crate::envfile::is_encrypted(side.as_bytes())
        })
    };
    let mut records = Vec::new();
    for entry in entries.flatten() {
        let id = entry.file_name();
        let is_id = id.len() >= 40 && id.to_string_lossy().bytes().all(|b| b.is_ascii_hexdigit());
        if !is_id || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let holds = std::fs::read_dir(entry.path())
            .into_iter()
            .flatten()
            .flatten()
            .any(|image| {
                std::fs::read(image.path()).is_ok_and(|bytes| {
                    let bytes = zeroize::Zeroizing::new(bytes);
                    std::str::from_utf8(&bytes)
                        .is_ok_and(|text| assigns_a_secret(text) || plain_dotenv(text))
                })
            });
        if holds {
            records.push(entry.path());
        }
    }
    records.sort();
    Ok(records)
}

/// Copies of decrypted secret files a mergetool or an editor left, by path: files in
/// `.secrets/`, tracked or not (ignored ones included), named as such copies
/// ([`is_copy_name`], or [`guard::is_scope_copy_name`], the names the commit checks
/// refuse: `.bak`, `#NAME#`, a `.swp` file), and the backups beside the tracked whole
/// files (`PATH.orig`, `PATH~`), that hold something not in encrypted form. A staged or
/// committed copy counts too (`git add -A` picks such files up): its plaintext is in the
/// work tree all the same. A file marked `-secrets-check` in .gitattributes (a document
/// the commit checks let through) does not; other files a user keeps there are theirs.
///
/// [`guard::is_scope_copy_name`]: crate::guard::is_scope_copy_name
fn plaintext_copies(ws: &Workspace) -> Result<Vec<Copy>, Error> {
    use crate::scope::SECRETS_DIR;
    let listed = |which: &str| -> Result<Vec<String>, Error> {
        let out = ws
            .repo
            .git(&["ls-files", which, "-z", "--", &format!("{SECRETS_DIR}/")])?;
        Ok(out
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .filter(|p| {
                is_copy_name(p.rsplit('/').next().unwrap_or_default())
                    || crate::guard::is_scope_copy_name(p)
            })
            .collect())
    };
    let mut candidates: Vec<(String, bool)> = Vec::new();
    candidates.extend(listed("--others")?.into_iter().map(|p| (p, false)));
    candidates.extend(listed("--cached")?.into_iter().map(|p| (p, true)));
    for path in ws.config.files.keys() {
        candidates.push((format!("{path}.orig"), false));
        candidates.push((format!("{path}~"), false));
    }
    // A conflicted path is listed once per stage.
    candidates.sort();
    candidates.dedup();
    let paths: Vec<&str> = candidates.iter().map(|(p, _)| p.as_str()).collect();
    let attrs =
        crate::guard::scan::attributes(&ws.repo, crate::guard::scan::AttrSource::Index, &paths)?;
    candidates.retain(|(p, _)| !attrs.get(p).is_some_and(|&(_, exempt)| exempt));
    let mut copies = Vec::new();
    for (path, tracked) in candidates {
        let full = ws.root().join(&path);
        let bytes = match std::fs::read(&full) {
            Ok(b) => zeroize::Zeroizing::new(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Io { path: full, source }),
        };
        if !is_sealed_copy(&bytes) {
            copies.push(Copy { path, tracked });
        }
    }
    Ok(copies)
}

/// A copy [`plaintext_copies`] found, and whether git tracks it (or has it staged).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Copy {
    path: String,
    tracked: bool,
}

/// The refusal naming `copies`, with the commands that remove them: `git rm -f` for
/// those git tracks, so the index keeps no plaintext either.
fn copies_error(copies: &[Copy]) -> Error {
    let paths = |tracked: bool| -> Vec<&str> {
        copies
            .iter()
            .filter(|c| c.tracked == tracked)
            .map(|c| c.path.as_str())
            .collect()
    };
    let (untracked, tracked) = (paths(false), paths(true));
    let mut commands = Vec::new();
    if !untracked.is_empty() {
        commands.push(format!("`rm -- {}`", untracked.join(" ")));
    }
    if !tracked.is_empty() {
        commands.push(format!(
            "`git rm -f -- {}` (staged or committed)",
            tracked.join(" ")
        ));
    }
    let all: Vec<&str> = copies.iter().map(|c| c.path.as_str()).collect();
    Error::Usage {
        message: format!(
            "{}: copies of secret files that a mergetool or an editor left, holding decrypted values; `lock` leaves no plaintext in the work tree, so nothing was changed",
            all.join(", ")
        ),
        hint: Some(format!(
            "close the editor that has them open, delete them once you no longer need them ({}), then run `git secrets lock` again; `git config mergetool.keepBackup false` stops `git mergetool` from keeping `.orig` backups",
            commands.join(", then ")
        )),
    }
}

/// Whether a file name is that of a copy of a secret file: git mergetool's backup
/// (`NAME.orig`) and its files for each side (`STEM_BASE_1234.env`, also `_LOCAL_`,
/// `_REMOTE_`, `_BACKUP_`), or an editor's backup (`NAME~`).
fn is_copy_name(name: &str) -> bool {
    if name.ends_with(".orig") || name.ends_with('~') {
        return true;
    }
    let Some(stem) = name.strip_suffix(".env") else {
        return false;
    };
    ["_BACKUP_", "_BASE_", "_LOCAL_", "_REMOTE_"]
        .iter()
        .any(|side| {
            stem.rsplit_once(side).is_some_and(|(before, pid)| {
                !before.is_empty() && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
            })
        })
}

/// Whether `bytes` hold nothing decrypted: empty, the encrypted form of a scope file or
/// of a whole file, or a conflict whose every side is in encrypted form.
fn is_sealed_copy(bytes: &[u8]) -> bool {
    use crate::envfile::{conflict_parts, is_encrypted, Part};
    if bytes.is_empty() || is_encrypted(bytes) || crate::wholefile::is_sealed(bytes) {
        return true;
    }
    conflict_parts(bytes).is_some_and(|(_, parts)| {
        parts.iter().all(|p| match p {
            Part::Marker(_) => true,
            Part::Body(b) => is_encrypted(b),
        })
    })
}

/// The other worktrees of this repository that need the filter: those whose work tree
/// holds a decrypted secret file, and those that cannot be looked at now.
#[derive(Debug, Default)]
pub(crate) struct Others {
    /// Worktrees holding a scope file or a tracked file in plaintext (one whose
    /// configuration cannot be read counts: nothing proves otherwise).
    pub plaintext: Vec<PathBuf>,
    /// Worktrees `git worktree list` names whose directory is not there (an unmounted
    /// disk, git's documented use of `git worktree lock`), with the lock reason when
    /// locked: their state is unknown, so they may hold plaintext.
    pub unreachable: Vec<(PathBuf, Option<String>)>,
}

impl Others {
    pub fn is_empty(&self) -> bool {
        self.plaintext.is_empty() && self.unreachable.is_empty()
    }
}

/// The other worktrees of this repository (`git worktree list`) that need the filter
/// ([`Others`]).
pub(crate) fn other_worktrees(repo: &Repo) -> Result<Others, Error> {
    let here = repo
        .root
        .canonicalize()
        .unwrap_or_else(|_| repo.root.clone());
    let out = repo.git(&["worktree", "list", "--porcelain"])?;
    let mut found = Others::default();
    for (path, locked) in worktree_paths(&String::from_utf8_lossy(&out)) {
        let same = path.canonicalize().is_ok_and(|p| p == here) || path == repo.root;
        if same {
            continue;
        }
        if !path.is_dir() {
            found.unreachable.push((path, locked));
        } else if holds_plaintext(&path) {
            found.plaintext.push(path);
        }
    }
    Ok(found)
}

/// The work-tree paths of `git worktree list --porcelain` (bare entries left out), each
/// with its lock reason when it is locked (`Some("")` without one).
fn worktree_paths(porcelain: &str) -> Vec<(PathBuf, Option<String>)> {
    let mut out = Vec::new();
    for record in porcelain.split("\n\n") {
        let mut lines = record.lines();
        let Some(path) = lines.next().and_then(|l| l.strip_prefix("worktree ")) else {
            continue;
        };
        if record.lines().any(|l| l == "bare") {
            continue;
        }
        let locked = record.lines().find_map(|l| match l {
            "locked" => Some(String::new()),
            l => l.strip_prefix("locked ").map(str::to_owned),
        });
        out.push((PathBuf::from(path), locked));
    }
    out
}

/// Whether the work tree at `root` holds a secret file in plaintext.
fn holds_plaintext(root: &Path) -> bool {
    let ws = match Workspace::open_repo(Repo {
        root: root.to_owned(),
    }) {
        Ok(ws) => ws,
        // A branch without git-secrets has no secret files.
        Err(Error::NotInitialized) => return false,
        Err(_) => return true,
    };
    ws.holds_plaintext()
}

#[cfg(test)]
mod tests {
    #[test]
    fn worktree_list_paths() {
        let porcelain = "worktree /r/main\nHEAD 0123\nbranch refs/heads/main\n\nworktree /r/wt two\nHEAD 4567\ndetached\nprunable gitdir file points to non-existent location\n\nworktree /r/usb\nHEAD 89ab\nbranch refs/heads/usb\nlocked on a usb disk\n\nworktree /r/nfs\nHEAD cdef\ndetached\nlocked\n\nworktree /r/bare.git\nbare\n\n";
        let p = std::path::PathBuf::from;
        assert_eq!(
            super::worktree_paths(porcelain),
            vec![
                (p("/r/main"), None),
                (p("/r/wt two"), None),
                (p("/r/usb"), Some("on a usb disk".to_owned())),
                (p("/r/nfs"), Some(String::new())),
            ]
        );
    }
}
