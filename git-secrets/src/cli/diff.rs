//! `git secrets diff [--show] [--yes] [GIT DIFF ARGS…]`: `git diff` with the secret files
//! masked (in a clone that is not set up, the textconv is passed on the command line); with `--show`, after a `y` at a terminal (or `--yes`), the plaintext
//! change of every changed key of the secret files instead.

use std::ffi::OsString;
use std::process::{Command, Stdio};

use clap::Args;
use zeroize::Zeroizing;

use crate::diffview;
use crate::dotenv::Document;
use crate::envfile;
use crate::error::Error;
use crate::scope::Scope;
use crate::secret::SecretString;
use crate::workspace::{FileState, Workspace};

use super::confirm;

/// Show what changed in secret files, values masked (`--show` reveals them).
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// Reveal the old and new values of each changed key.
    #[arg(long)]
    show: bool,
    /// Do not ask before revealing.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Arguments for `git diff`: revisions, `--cached`, `--` and paths.
    #[arg(
        value_name = "GIT DIFF ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<OsString>,
}

pub fn cmd_diff(mut args: DiffArgs) -> Result<(), Error> {
    // clap swallows a `--` that comes before the first git argument; git needs it to
    // read what follows as paths (`git secrets diff -- FILE`). A `--` after one is kept.
    let dashes = |v: &mut dyn Iterator<Item = OsString>| v.filter(|a| a == "--").count();
    if dashes(&mut std::env::args_os()) > dashes(&mut args.args.iter().cloned()) {
        args.args.insert(0, "--".into());
    }
    if !args.show {
        let mut cmd = Command::new("git");
        // A clone set up by `unlock` has the textconv (and its cache, which a different
        // command line would make git drop); any other gets it on the command line.
        let configured = crate::git::Repo::discover()
            .ok()
            .and_then(|repo| repo.config_get("diff.secrets.textconv"))
            .is_some();
        if !configured {
            cmd.arg("-c").arg(format!(
                "diff.secrets.textconv={}",
                super::unlock::exe_command("textconv")?
            ));
        }
        cmd.arg("diff").args(&args.args);
        return super::run::exec(cmd, "git".as_ref());
    }
    confirm(
        "reveal the old and new values of changed secrets?",
        args.yes,
    )?;
    let ws = super::open()?;
    let mut text = String::new();
    let mut unreadable = Vec::new();
    for change in changed_files(&args.args)? {
        let Some(scope) = Scope::from_rel_path(&change.path) else {
            continue;
        };
        if change.conflicted {
            // The work-tree file holds markers: the two sides of the conflict are shown
            // instead, from the index (in a locked clone, the only way to read them).
            match conflict_sides(&ws, &scope, &change.path) {
                Ok((ours, theirs)) => {
                    let shown = diffview::reveal_changes(&ours, &theirs);
                    text.push_str(&format!(
                        "diff {} ({}): in a merge conflict, ours -> theirs\n",
                        change.path,
                        scope.label()
                    ));
                    text.push_str(shown.expose());
                }
                Err(e) => unreadable.push(format!("{}: {e}", change.path)),
            }
            continue;
        }
        let sides = side(&ws, &scope, &change.old, true)
            .and_then(|old| Ok((old, side(&ws, &scope, &change.new, change.deleted)?)));
        let (old, new) = match sides {
            Ok(v) => v,
            Err(e) => {
                unreadable.push(format!("{}: {e}", change.path));
                continue;
            }
        };
        let shown = diffview::reveal_changes(&old, &new);
        if !shown.is_empty() {
            text.push_str(&format!("diff {} ({})\n", change.path, scope.label()));
            text.push_str(shown.expose());
        }
    }
    let text = SecretString::new(text);
    super::out(text.expose())?;
    if unreadable.is_empty() {
        return Ok(());
    }
    Err(Error::Refused {
        message: format!(
            "{} secret file(s) could not be shown:\n  {}",
            unreadable.len(),
            unreadable.join("\n  ")
        ),
        hint: "`git secrets status` shows which environments this identity can read".into(),
    })
}

/// One file of `git diff --raw`: its blobs (`None` for the work tree).
struct Change {
    path: String,
    old: Option<String>,
    new: Option<String>,
    deleted: bool,
    /// Unmerged (git lists it once as such, and again as a change of stage 2).
    conflicted: bool,
}

/// Our side and their side of a conflicted file, from the index's stages 2 and 3 (a side
/// that deleted the file is empty).
fn conflict_sides(
    ws: &Workspace,
    scope: &Scope,
    path: &str,
) -> Result<(Document, Document), Error> {
    let listed = ws
        .repo
        .git(&["ls-files", "-u", "-z", "--", &format!(":(literal){path}")])?;
    let (mut ours, mut theirs) = (None, None);
    for (_, _, oid, stage) in crate::git::stage_entries(&listed) {
        match stage {
            2 => ours = Some(oid),
            3 => theirs = Some(oid),
            _ => {}
        }
    }
    Ok((
        side(ws, scope, &ours, true)?,
        side(ws, scope, &theirs, true)?,
    ))
}

/// Runs `git diff --raw` with the user's arguments, in the user's directory (so paths
/// in them mean what they mean to `git diff`), and reads its records.
fn changed_files(user_args: &[OsString]) -> Result<Vec<Change>, Error> {
    let output = Command::new("git")
        .args([
            "diff",
            "--raw",
            "-z",
            "--no-renames",
            "--abbrev=40",
            "--no-relative",
        ])
        .args(["--no-ext-diff", "--no-textconv", "--no-color"])
        .args(user_args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Io {
            path: "git".into(),
            source,
        })?;
    let git_error = |stderr: String| Error::Git {
        args: "diff --raw …".into(),
        stderr,
    };
    if !output.status.success() {
        return Err(git_error(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    let bad = || Error::Usage {
        message: "`git diff` printed something other than the list of changed files".into(),
        hint: Some("with --show, pass only revisions, --cached/--staged and paths".into()),
    };
    // ":<mode> <mode> <oid> <oid> <status>" NUL "<path>" NUL, per file.
    let fields: Vec<&[u8]> = output.stdout.split(|&b| b == 0).collect();
    let mut out = Vec::new();
    let mut it = fields.into_iter().filter(|f| !f.is_empty());
    while let Some(head) = it.next() {
        let head = std::str::from_utf8(head).map_err(|_| bad())?;
        let parts: Vec<&str> = head.strip_prefix(':').ok_or_else(bad)?.split(' ').collect();
        let [_, _, old, new, status] = parts[..] else {
            return Err(bad());
        };
        let path = String::from_utf8_lossy(it.next().ok_or_else(bad)?).into_owned();
        let blob = |oid: &str| (!oid.bytes().all(|b| b == b'0')).then(|| oid.to_owned());
        let deleted = status.starts_with('D');
        let conflicted = status.starts_with('U');
        if conflicted {
            out.retain(|c: &Change| c.path != path);
        } else if out.iter().any(|c| c.conflicted && c.path == path) {
            continue;
        }
        // A null new side that is not a deletion is the work-tree file.
        out.push(Change {
            path,
            old: blob(old),
            new: blob(new),
            deleted,
            conflicted,
        });
    }
    Ok(out)
}

/// One side of a change as plaintext: a blob (encrypted, or plaintext committed by
/// mistake), the work-tree file (`oid` `None`, not `absent`), or nothing.
fn side(
    ws: &Workspace,
    scope: &Scope,
    oid: &Option<String>,
    absent: bool,
) -> Result<Document, Error> {
    let Some(oid) = oid else {
        if absent {
            return Ok(Document::default());
        }
        let file = ws.read_scope(scope)?;
        return Ok(match file.state {
            FileState::Missing => Document::default(),
            _ => file.doc,
        });
    };
    let bytes = Zeroizing::new(ws.repo.git(&["cat-file", "blob", oid])?);
    if envfile::is_encrypted(&bytes) || envfile::looks_encrypted(&bytes) {
        ws.decrypt(scope, &bytes)
    } else {
        ws.parse_plain(scope, &bytes)
    }
}
