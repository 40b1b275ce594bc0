//! `git secrets unlock`: sets this clone up (filter) and turns the secret files this
//! identity can read into plaintext in the work tree.

use std::collections::HashMap;

use clap::Args;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::fsutil;
use crate::git::Repo;
use crate::scope::Scope;
use crate::workspace::{FileState, Workspace};

pub mod setup;
pub use setup::{
    append_missing, configure, configure_keyless_merges, exe_command, is_our_fsmonitor,
    missing_lines, refresh_textconv, textconv_command, unconfigure_fsmonitor, write_gitattributes,
    write_gitignore, ATTRIBUTES, IGNORES,
};
use setup::{configure_over, git_at_least};

/// Set this clone up and decrypt the secret files you can read.
#[derive(Args, Debug)]
pub struct UnlockArgs {}

/// A work-tree file in encrypted form, opened.
struct Opened {
    plain: Zeroizing<Vec<u8>>,
    /// Its masked view, for the diff's cache (crate::diffcache).
    view: String,
    /// The id of the blob its encrypted bytes make (none when git's SHA-1 refuses them
    /// as a collision attack: then it equals no blob).
    blob: Option<[u8; 20]>,
    /// Whether it holds a merge's conflict markers (a merge made while locked).
    conflicted: bool,
}

/// `scope`'s work-tree file opened, when it is in encrypted form; `None` when it is
/// missing, empty or already plaintext.
fn open_encrypted(ws: &Workspace, scope: &Scope) -> Result<Option<Opened>, Error> {
    let Some(bytes) = ws.read_bytes(scope)?.filter(|b| !b.is_empty()) else {
        return Ok(None);
    };
    // A conflict a merge left while locked: opened side by side between the markers.
    if let Some(plain) = ws.open_conflicted(scope, &bytes)? {
        // No view: a conflicted file has no stage-0 blob to cache it for.
        return Ok(Some(Opened {
            plain: plain.into_bytes(),
            view: String::new(),
            blob: None,
            conflicted: true,
        }));
    }
    let file = ws.open_scope(scope, &bytes)?;
    if file.state != FileState::Encrypted {
        return Ok(None);
    }
    Ok(Some(Opened {
        view: crate::diffcache::view_of_document(ws, &scope.rel_path(), &file.doc),
        plain: file.doc.print().into_bytes(),
        blob: crate::git::blob_id(&bytes),
        conflicted: false,
    }))
}

/// What unlock asks git that needs only the repository, asked on a thread of its own
/// from the start: git's answers take about as long as opening the workspace and
/// decrypting every file, which run meanwhile.
struct Asked {
    /// `core.fsmonitor` as the clone has it now (the hooks' directory and git's version,
    /// which setting the clone up also needs, are remembered where they are asked).
    fsmonitor_now: Option<String>,
    /// The staged secret files: (path, mode, blob id).
    staged: Result<Vec<(String, String, String)>, Error>,
    /// The masked diff's cache and the blobs of HEAD's history it may lack.
    cache: Result<(crate::diffcache::Head, Vec<(String, String)>), Error>,
    /// Every version of access.json in HEAD's history, for the removals it records.
    access_history: crate::workspace::History,
}

impl Asked {
    /// Two lines of questions, each a few `git` processes in a row.
    fn ask(repo: &Repo) -> Asked {
        let ((fsmonitor_now, staged), (cache, access_history)) = crate::par::join(
            || {
                let _ = repo.hooks_dir();
                git_at_least(repo, (2, 31));
                (repo.config_get_any("core.fsmonitor"), repo.staged_blobs())
            },
            || {
                let cache = crate::diffcache::Head::read(repo)
                    .and_then(|head| Ok((head, crate::diffcache::history(repo)?)));
                (cache, crate::workspace::read_access_history(repo))
            },
        );
        Asked {
            fsmonitor_now,
            staged,
            cache,
            access_history,
        }
    }
}

/// The workspace, its scope files and each one opened: everything is decrypted before
/// anything changes, so a damaged file stops unlock first.
type Decrypted = (Workspace, Vec<Scope>, Vec<Result<Option<Opened>, Error>>);

fn open_and_decrypt(repo: Repo) -> Result<Decrypted, Error> {
    let ws = super::open_in(repo)?;
    let identity = ws.identity()?;
    let Some((_, member)) = ws.access.member_of(identity) else {
        return Err(Error::Refused {
            message: "this device is not a member of this repository".into(),
            hint: format!("run `git secrets join --name NAME`, commit and push, and ask a member to approve you (your public key: {})", identity.recipient()),
        });
    };
    if member.status != crate::access::Status::Active {
        return Err(Error::Refused {
            message: format!("your membership is {:?}, not active", member.status).to_lowercase(),
            hint: "ask a member to run `git secrets member approve` for you, then pull".into(),
        });
    }
    let scopes = ws.scope_files();
    // Every environment this identity opens is remembered, files or not, so keys that
    // replace them later are refused (crate::continuity).
    for env in ws.remember_keys() {
        if !scopes.iter().any(|s| s.env == env) {
            eprintln!("warning: {}", Error::KeysReplaced { env });
        }
    }
    // The files open on every core.
    let opened = crate::par::map(&scopes, |scope| open_encrypted(&ws, scope));
    Ok((ws, scopes, opened))
}

pub fn cmd_unlock(_args: UnlockArgs) -> Result<(), Error> {
    let repo = Repo::discover()?;
    let (asked, decrypted) =
        crate::par::join(|| Asked::ask(&repo), || open_and_decrypt(repo.clone()));
    let (ws, scopes, opened) = decrypted?;
    let Asked {
        fsmonitor_now,
        staged,
        cache,
        access_history,
    } = asked;
    ws.know_access_history(access_history);
    let validity = textconv_command(&ws)?;
    let diff_cache = cache.and_then(|(head, history)| {
        Ok((
            crate::diffcache::Cache::at(&ws.repo, head, &validity)?,
            history,
        ))
    });
    let staged = staged?;
    let staged_ids: HashMap<&str, gix_hash::ObjectId> = staged
        .iter()
        .filter_map(|(path, _, oid)| {
            Some((
                path.as_str(),
                gix_hash::ObjectId::from_hex(oid.as_bytes()).ok()?,
            ))
        })
        .collect();
    let (mut writes, mut kept, mut views) = (Vec::new(), Vec::new(), HashMap::new());
    let mut conflicts = Vec::new();
    for (scope, opened) in scopes.into_iter().zip(opened) {
        match opened {
            Ok(Some(Opened {
                plain,
                view,
                blob,
                conflicted,
            })) => {
                if conflicted {
                    conflicts.push(scope.rel_path());
                }
                // Bytes that are the staged blob can be overwritten in place: git holds
                // them. Anything else (edited while locked, untracked) is kept whole
                // until the new file is complete.
                let staged_id = staged_ids
                    .get(scope.rel_path().as_str())
                    .filter(|oid| blob.is_some_and(|b| oid.as_slice() == b));
                if let Some(oid) = staged_id {
                    views.insert(oid.to_string(), view);
                }
                writes.push((scope.rel_path(), plain, staged_id.is_some()))
            }
            Ok(None) => {}
            Err(e) => kept.push(left_encrypted(&scope.rel_path(), e)?),
        }
    }
    for (path, env, bytes) in ws.read_tracked(true)? {
        match ws.open_file(&path, &env, &bytes) {
            Ok(plain) => {
                let blob = crate::git::blob_id(&bytes);
                let committed = staged_ids
                    .get(path.as_str())
                    .is_some_and(|oid| blob.is_some_and(|b| oid.as_slice() == b));
                writes.push((path, plain, committed));
            }
            Err(e) => kept.push(left_encrypted(&path, e)?),
        }
    }
    // The masked diff's cache is filled while the clone is set up and the files are
    // written: `git fast-import` runs beside them.
    let ((), set_up) = crate::par::join(
        || {
            crate::par::join(
                || fill_diff_cache(&ws, diff_cache, &staged, &views),
                // Every removal in HEAD's history is remembered, so no value is sealed
                // under a key wrapped to a removed member (crate::continuity).
                || ws.removals(),
            );
        },
        || -> Result<(), Error> {
            crate::journal::set_worktree_locked(&ws.repo, false)?;
            configure_over(&ws, fsmonitor_now)?;
            let written = crate::par::map(&writes, |(rel, plain, committed)| {
                let path = ws.root().join(rel);
                if *committed {
                    fsutil::overwrite_committed(&path, plain)
                } else {
                    fsutil::write_private(&path, plain, false)
                }
            });
            written.into_iter().collect::<Result<(), Error>>()?;
            // git compares them again through the filter at the next `git status`:
            // unchanged files become clean, files edited while locked stay modified.
            let paths: Vec<String> = writes.iter().map(|(p, ..)| p.clone()).collect();
            ws.repo.restat_staged(&staged, &paths, false)
        },
    );
    set_up?;
    let opened = writes.len();
    eprintln!("unlocked: {opened} secret file(s) decrypted in the work tree");
    if !conflicts.is_empty() {
        eprintln!(
            "merge conflict, opened between the markers: {}\nhint: resolve the values there, `git add` and commit; or `git checkout -m -- <file>` merges it again key by key with the merge driver now configured (replacing the file)",
            conflicts.join(", ")
        );
    }
    for k in kept {
        eprintln!("left encrypted: {k}");
    }
    Ok(())
}

/// What unlock says of a file it leaves encrypted (no access, or keys this clone does not
/// trust); any other error stops unlock before anything changes.
fn left_encrypted(path: &str, e: Error) -> Result<String, Error> {
    match e {
        Error::NoAccess { env, .. } => Ok(format!("{path} (no access to {env})")),
        Error::KeysReplaced { env } => Ok(format!(
            "{path} (the keys of {env} reach none this clone held: see `git log -p .secrets/access.json`; `git secrets env trust {env}` if it was re-created on purpose)"
        )),
        e => Err(e),
    }
}

/// Fills the masked diff's cache (crate::diffcache) with the views of the staged and
/// historic secret blobs, so the first `git log -p` starts no process per blob. The
/// views of the files just opened from their staged blob are at hand (`views`, by blob
/// id). Best effort: without the cache, git fills it itself as it goes.
fn fill_diff_cache(
    ws: &Workspace,
    cache: Result<(crate::diffcache::Cache, Vec<(String, String)>), Error>,
    staged: &[(String, String, String)],
    views: &HashMap<String, String>,
) {
    let result = cache.and_then(|(cache, history)| {
        let blobs: Vec<(String, String)> = staged
            .iter()
            .map(|(path, _, oid)| (path.clone(), oid.clone()))
            .chain(history)
            .collect();
        crate::diffcache::fill(ws, &cache, &blobs, views)
    });
    if let Err(e) = result {
        crate::diffcache::warn_unfilled(&e);
    }
}
