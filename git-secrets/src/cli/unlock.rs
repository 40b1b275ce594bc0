//! `git secrets unlock`: sets this clone up (filter) and turns the secret files this
//! identity can read into plaintext in the work tree.

use std::collections::HashMap;
use std::path::Path;

use clap::Args;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::fsutil;
use crate::git::Repo;
use crate::scope::Scope;
use crate::workspace::{FileState, Workspace};

/// Set this clone up and decrypt the secret files you can read.
#[derive(Args, Debug)]
pub struct UnlockArgs {}

pub const ATTRIBUTES: &[&str] = &[
    ".secrets/**/*.env filter=secrets diff=secrets merge=secrets -text",
    ".secrets/access.json merge=secrets-access",
];
/// Plaintext dotenv files; the backup `git mergetool` keeps of a conflicted scope file
/// (`.secrets/staging.env.orig`: both sides' plaintext, which `.env.*` does not match)
/// and an editor's (`staging.env~`); and our temporary files (crate::fsutil::TEMP_PREFIX), which a crash can leave behind
/// holding plaintext.
pub const IGNORES: &[&str] = &[
    ".env",
    ".env.*",
    "!.env.example",
    ".git-secrets-*",
    "*.env.orig",
    "*.env~",
];

/// The lines of `wanted` that `text` lacks (lines compared trimmed).
pub fn missing_lines<'a>(text: &str, wanted: &[&'a str]) -> Vec<&'a str> {
    let have: Vec<&str> = text.lines().map(str::trim).collect();
    wanted
        .iter()
        .copied()
        .filter(|w| !have.contains(w))
        .collect()
}

/// Appends the lines of `wanted` that `path` lacks, keeping what is there.
pub fn append_missing(path: &Path, header: &str, wanted: &[&str]) -> Result<(), Error> {
    let existing = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    let missing = missing_lines(&existing, wanted);
    if missing.is_empty() {
        return Ok(());
    }
    let mut text = existing.clone();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(header);
    text.push('\n');
    for m in missing {
        text.push_str(m);
        text.push('\n');
    }
    fsutil::write_public(path, text.as_bytes())
}

pub fn write_gitattributes(root: &Path) -> Result<(), Error> {
    append_missing(
        &root.join(".gitattributes"),
        "# git-secrets: encrypt, diff and merge secret files",
        ATTRIBUTES,
    )
}

pub fn write_gitignore(root: &Path) -> Result<(), Error> {
    append_missing(
        &root.join(".gitignore"),
        "# git-secrets: plaintext .env files, mergetool backups and interrupted writes stay out of git",
        IGNORES,
    )
}

/// `"<this executable>" <subcommand>`, as git runs a configured command.
pub fn exe_command(subcommand: &str) -> Result<String, Error> {
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        path: "git-secrets".into(),
        source,
    })?;
    Ok(format!(
        "{} {subcommand}",
        sh_double_quote(&exe.to_string_lossy())
    ))
}

/// `path` inside shell double quotes, as git runs a configured command with `sh -c`:
/// `\`, `"`, `$` and `` ` `` are escaped, so an install path holding them is taken
/// literally (never expanded, never run). doctor's `program_of` reads it back.
pub fn sh_double_quote(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 2);
    out.push('"');
    for c in path.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Whether `git --version` is at least `want` (major, minor); unknown is no. Asked once
/// per process.
fn git_at_least(repo: &Repo, want: (u32, u32)) -> bool {
    static VERSION: std::sync::OnceLock<Option<(u32, u32)>> = std::sync::OnceLock::new();
    VERSION
        .get_or_init(|| {
            let out = repo.git(&["--version"]).ok()?;
            parse_git_version(&String::from_utf8_lossy(&out))
        })
        .is_some_and(|v| v >= want)
}

/// (major, minor) from `git version 2.47.3` (or `git version 2.39.3 (Apple Git-145)`).
fn parse_git_version(text: &str) -> Option<(u32, u32)> {
    let version = text
        .strip_prefix("git version ")?
        .split_whitespace()
        .next()?;
    let mut parts = version.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Whether a `core.fsmonitor` value is the hook `configure` sets.
pub fn is_our_fsmonitor(value: &str) -> bool {
    value.ends_with("\" fsmonitor") && value.contains("git-secrets")
}

/// Removes the fsmonitor hook `configure` set (not one of the user's), and what it keeps.
pub fn unconfigure_fsmonitor(repo: &Repo) -> Result<(), Error> {
    if repo
        .config_get("core.fsmonitor")
        .is_some_and(|v| is_our_fsmonitor(&v))
    {
        repo.config_unset("core.fsmonitor")?;
        repo.config_unset("core.fsmonitorHookVersion")?;
    }
    if let Some(dir) = crate::git::git_dir(&repo.root) {
        crate::fsmonitor::forget(&dir);
    }
    Ok(())
}

/// The textconv command for this identity's current view (diffview::view_id). A change
/// of access changes it, and git then drops the cached views made under the old one.
pub fn textconv_command(ws: &Workspace) -> Result<String, Error> {
    let recipient = ws.identity().map(|i| i.recipient()).unwrap_or_default();
    let view = crate::diffview::view_id(&ws.access, &recipient);
    exe_command(&format!("textconv --view {view}"))
}

/// Points `diff.secrets.textconv` at the current view, when this clone has it set and
/// it names another view (an approval or a removal arrived with a pull). Returns whether
/// it changed. Best effort: the diff is still masked with a stale cache, only less
/// informative, so a failure to write the config is not an error.
pub fn refresh_textconv(ws: &Workspace) -> bool {
    let (Some(current), Ok(want)) = (
        ws.repo.config_get("diff.secrets.textconv"),
        textconv_command(ws),
    ) else {
        return false;
    };
    current != want && ws.repo.config_set("diff.secrets.textconv", &want).is_ok()
}

/// The command line for `program`, a binary installed beside this one.
fn sibling_command(program: &str, args: &str) -> Result<String, Error> {
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        path: "git-secrets".into(),
        source,
    })?;
    let sibling = exe.with_file_name(format!("{program}{}", std::env::consts::EXE_SUFFIX));
    Ok(format!(
        "{} {args}",
        sh_double_quote(&sibling.to_string_lossy())
    ))
}

/// This clone's git config: the filter process, required so a failure stops `git add`.
pub fn configure(ws: &Workspace) -> Result<(), Error> {
    configure_over(ws, ws.repo.config_get_any("core.fsmonitor"))
}

/// [`configure`], given the `core.fsmonitor` setting the clone has now (asked early by
/// `unlock`, beside decrypting).
fn configure_over(ws: &Workspace, fsmonitor_now: Option<String>) -> Result<(), Error> {
    let repo = &ws.repo;
    let (filter, merge, merge_access, textconv, fsmonitor) = (
        exe_command("filter-process")?,
        // Secret files merge key by key, access.json without conflicts (merge-driver/).
        // (No `merge.*.name`: git only shows it in a few messages.)
        sibling_command("git-secrets-merge", "env %O %A %B %L %P %X %Y")?,
        sibling_command("git-secrets-merge", "access %O %A %B")?,
        // The masked diff driver, cached (`git log -p` would otherwise start a process
        // per blob): its output holds no secret, and the command names the view it shows.
        textconv_command(ws)?,
        exe_command("fsmonitor")?,
    );
    let mut settings = vec![
        ("filter.secrets.process", filter.as_str()),
        ("filter.secrets.required", "true"),
        ("merge.secrets.driver", merge.as_str()),
        ("merge.secrets-access.driver", merge_access.as_str()),
        ("diff.secrets.textconv", textconv.as_str()),
        ("diff.secrets.cachetextconv", "true"),
    ];
    // The fsmonitor hook, so `git status` after a touch need not run the filter on every
    // secret file; a clone with a monitor of its own (git's daemon, watchman) keeps it.
    match fsmonitor_now {
        Some(current) if !is_our_fsmonitor(&current) => {}
        // The hook names directories as `dir/`, which git before 2.31 does not take as
        // everything under it.
        _ if !git_at_least(repo, (2, 31)) => unconfigure_fsmonitor(repo)?,
        _ => {
            settings.push(("core.fsmonitor", fsmonitor.as_str()));
            settings.push(("core.fsmonitorHookVersion", "2"));
        }
    }
    crate::gitconfig::set_all(repo, &settings)?;
    // The hooks (guard::install::HOOKS), beside any already there.
    crate::guard::install::install_current(repo, crate::guard::install::HOOKS)?;
    Ok(())
}

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
                let _ = crate::guard::install::hooks_dir(repo);
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

#[cfg(test)]
mod tests {
    #[test]
    fn command_paths_are_quoted_for_sh() {
        let q = super::sh_double_quote;
        assert_eq!(q("/usr/bin/git-secrets"), r#""/usr/bin/git-secrets""#);
        assert_eq!(
            q(r#"/opt/a $HOME `id` "x" \ b/git-secrets"#),
            r#""/opt/a \$HOME \`id\` \"x\" \\ b/git-secrets""#
        );
        // What sh makes of it: the path itself, nothing expanded or run.
        let path = "/tmp/t $HOME `echo run` $(echo run) \"q\" \\n it's #;x/prog";
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("printf %s {}", q(path))])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), path);
    }

    #[test]
    fn git_versions() {
        let v = super::parse_git_version;
        assert_eq!(v("git version 2.47.3\n"), Some((2, 47)));
        assert_eq!(v("git version 2.39.3 (Apple Git-145)"), Some((2, 39)));
        assert_eq!(v("git version 2.30.2.windows.1"), Some((2, 30)));
        assert_eq!(v("hub version 2.14"), None);
        assert!(v("git version 2.30.2").unwrap() < (2, 31));
    }
}
