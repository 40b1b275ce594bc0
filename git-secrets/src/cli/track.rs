//! `git secrets track PATH… [-e ENV]`: any other file encrypted whole, git-crypt style,
//! binary safe. The file is named in `.secrets/config.toml` (with the environment whose
//! key seals it) and routed to the filter by a line of its own in .gitattributes; from
//! the next `git add` on, git stores it sealed (crate::wholefile).

use std::path::{Path, PathBuf};

use clap::Args;

use crate::config::{tracked_path_problem, SHARED};
use crate::error::Error;
use crate::wholefile;
use crate::workspace::Workspace;

/// Encrypt whole files (certificates, keystores, any binary) in the repository.
#[derive(Args, Debug)]
pub struct TrackArgs {
    /// The files to encrypt, as paths in the work tree.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// The environment whose key seals them (default: the default environment; `shared`
    /// for every member).
    #[arg(short, long = "env", value_name = "ENV")]
    env: Option<String>,
}

/// The .gitattributes line of a tracked file: the filter, no textual diff (git prints
/// "Binary files differ"), no line merge of the sealed form, no line-ending conversion.
pub fn attribute_line(path: &str) -> String {
    format!("/{path} filter=secrets -diff merge=binary -text")
}

/// Appends the attribute lines of `paths` that .gitattributes lacks.
pub fn write_attributes(root: &Path, paths: &[&str]) -> Result<(), Error> {
    let lines: Vec<String> = paths.iter().map(|p| attribute_line(p)).collect();
    let wanted: Vec<&str> = lines.iter().map(String::as_str).collect();
    super::unlock::append_missing(
        &root.join(".gitattributes"),
        "# git-secrets: tracked files, encrypted whole",
        &wanted,
    )
}

/// The tracked paths (of `paths`) whose line in .gitattributes is there but that git
/// does not route to the secrets filter: a later line overrides it (`git lfs track`
/// appends `*.p12 filter=lfs …`), or `-filter`.
pub fn overridden(ws: &Workspace, paths: &[&str]) -> Vec<String> {
    if paths.is_empty() {
        return Vec::new();
    }
    let text = std::fs::read_to_string(ws.root().join(".gitattributes")).unwrap_or_default();
    let present: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| super::unlock::missing_lines(&text, &[attribute_line(p).as_str()]).is_empty())
        .collect();
    not_routed(ws, &present)
}

/// Those of `paths` that git's attributes do not route to the secrets filter, as
/// `git check-attr filter` says (every attributes file, .git/info/attributes included).
pub fn not_routed(ws: &Workspace, paths: &[&str]) -> Vec<String> {
    if paths.is_empty() {
        return Vec::new();
    }
    not_routed_in(&ws.repo, &[], paths).unwrap_or_default()
}

/// Those of `paths` that `git <global> check-attr filter`, run in `repo`, does not route
/// to the secrets filter; None when git fails.
fn not_routed_in<P: AsRef<str>>(
    repo: &crate::git::Repo,
    global: &[&str],
    paths: &[P],
) -> Option<Vec<String>> {
    let mut input = Vec::new();
    for p in paths {
        input.extend_from_slice(p.as_ref().as_bytes());
        input.push(0);
    }
    let mut args = global.to_vec();
    args.extend(["check-attr", "-z", "--stdin", "filter"]);
    let out = repo.git_with_input(&args, &input).ok()?;
    let parts: Vec<&[u8]> = out.split(|&b| b == 0).collect();
    Some(
        parts
            .chunks_exact(3)
            .filter(|t| t[2] != b"secrets")
            .map(|t| String::from_utf8_lossy(t[0]).into_owned())
            .collect(),
    )
}

/// The header above the lines [`move_attributes_last`] moves.
const MOVED_HEADER: &str =
    "# git-secrets: tracked files, encrypted whole (after the lines that overrode them)";

/// `text` (a .gitattributes) with the lines of `paths` moved to its end, after whatever
/// overrides them (the last matching line of a file wins in git).
fn moved_last(text: &str, paths: &[String]) -> String {
    let lines: Vec<String> = paths.iter().map(|p| attribute_line(p)).collect();
    let mut out: String = text
        .lines()
        .filter(|l| !lines.iter().any(|w| w == l.trim()))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(MOVED_HEADER);
    out.push('\n');
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// Moves the lines of `paths` to the end of .gitattributes, after whatever overrides
/// them.
pub fn move_attributes_last(root: &Path, paths: &[String]) -> Result<(), Error> {
    let file = root.join(".gitattributes");
    let text = std::fs::read_to_string(&file).map_err(|source| Error::Io {
        path: file.clone(),
        source,
    })?;
    crate::fsutil::write_public(&file, moved_last(&text, paths).as_bytes())
}

/// Those of `paths` (overridden, as [`overridden`] says) that moving their lines last
/// in .gitattributes would route to the secrets filter again. Not the others: a line of
/// .git/info/attributes, or of a .gitattributes nearer the file, applies after any line
/// of the top .gitattributes, so only deleting it (a person's decision) helps. Asked of
/// git itself, so that every rule of attributes (macros, patterns) is git's: `git
/// check-attr` with this git directory and a scratch work tree (in the git directory,
/// removed afterwards) holding the moved .gitattributes and copies of the nested ones
/// above each path.
pub fn movable(ws: &Workspace, paths: &[String]) -> Vec<String> {
    if paths.is_empty() {
        return Vec::new();
    }
    let simulated = || -> Option<Vec<String>> {
        let git_dir = crate::git::git_dir(ws.root())?;
        let git_dir = git_dir.to_str()?;
        let scratch = tempfile::Builder::new()
            .prefix("git-secrets-attributes-")
            .tempdir_in(git_dir)
            .ok()?;
        let top = std::fs::read_to_string(ws.root().join(".gitattributes")).ok()?;
        std::fs::write(
            scratch.path().join(".gitattributes"),
            moved_last(&top, paths),
        )
        .ok()?;
        for dir in nested_dirs(paths) {
            let from = ws.root().join(&dir).join(".gitattributes");
            // git reads no .gitattributes through a symbolic link.
            if std::fs::symlink_metadata(&from).is_ok_and(|m| m.is_file()) {
                let to = scratch.path().join(&dir);
                std::fs::create_dir_all(&to).ok()?;
                std::fs::copy(&from, to.join(".gitattributes")).ok()?;
            }
        }
        let scratch_repo = crate::git::Repo {
            root: scratch.path().to_owned(),
        };
        let routed = not_routed_in(
            &scratch_repo,
            &["--git-dir", git_dir, "--work-tree", "."],
            paths,
        )?;
        Some(
            paths
                .iter()
                .filter(|p| !routed.contains(p))
                .cloned()
                .collect(),
        )
    };
    // When git cannot say, the move is not offered: nothing is claimed fixable that may
    // not be.
    simulated().unwrap_or_default()
}

/// The folders (below the top) that hold `paths`, each with those above it: where a
/// nested .gitattributes applies to them.
fn nested_dirs(paths: &[String]) -> std::collections::BTreeSet<String> {
    let mut dirs = std::collections::BTreeSet::new();
    for p in paths {
        let mut at = p.as_str();
        while let Some((dir, _)) = at.rsplit_once('/') {
            dirs.insert(dir.to_owned());
            at = dir;
        }
    }
    dirs
}

/// Where a line that overrides a tracked file's line of the top .gitattributes, and that
/// moving it cannot undo, can be: .git/info/attributes and the nested .gitattributes
/// above `paths`, those that exist, as a person finds them.
pub fn override_sources(ws: &Workspace, paths: &[String]) -> Vec<String> {
    let mut found: Vec<String> = nested_dirs(paths)
        .into_iter()
        .map(|d| format!("{d}/.gitattributes"))
        .filter(|f| ws.root().join(f).is_file())
        .collect();
    let info = ws
        .repo
        .git(&["rev-parse", "--git-path", "info/attributes"])
        .ok()
        .and_then(|o| String::from_utf8(o).ok())
        .map(|s| s.trim().to_owned());
    if let Some(info) = info.filter(|i| ws.root().join(i).is_file()) {
        found.push(info);
    }
    found
}

/// `path` (as typed, from the current directory) relative to the work tree's root.
fn repo_path(ws: &Workspace, path: &Path) -> Result<String, Error> {
    let cwd = std::env::current_dir().map_err(|source| Error::Io {
        path: ".".into(),
        source,
    })?;
    let abs = cwd.join(path);
    let mut parts: Vec<String> = Vec::new();
    let parent = abs.parent().map(Path::to_owned).unwrap_or_default();
    let rel = super::in_work_tree(ws, &parent).ok_or_else(|| {
        super::usage(format!(
            "{} is outside this repository's work tree",
            path.display()
        ))
    })?;
    for c in rel.components() {
        parts.push(c.as_os_str().to_string_lossy().into_owned());
    }
    let name = abs
        .file_name()
        .ok_or_else(|| super::usage(format!("{} is not a file's path", path.display())))?;
    parts.push(name.to_string_lossy().into_owned());
    Ok(parts.join("/"))
}

pub fn cmd_track(args: TrackArgs) -> Result<(), Error> {
    let mut ws = super::open()?;
    if !ws.is_unlocked() {
        return Err(Error::Refused {
            message:
                "this clone is locked: without the filter, `git add` would store the file as it is"
                    .into(),
            hint: "run `git secrets unlock` first".into(),
        });
    }
    // It writes config.toml last: refused now, nothing else changes either.
    ws.refuse_outside_checkout(&[crate::workspace::CONFIG_FILE])?;
    let env = args
        .env
        .clone()
        .unwrap_or_else(|| ws.config.default_environment.clone());
    if env != SHARED && !ws.config.has_env(&env) {
        return Err(Error::UnknownEnv {
            name: env,
            known: ws.config.environments.clone(),
        });
    }
    // The one who tracks must be able to seal it, or the next `git add` fails.
    ws.access.sealing_key_id(&env)?;
    ws.keys(&env)?;
    let mut paths = Vec::new();
    let mut moved = Vec::new();
    for p in &args.paths {
        let rel = repo_path(&ws, p)?;
        if let Some(problem) = tracked_path_problem(&rel) {
            return Err(super::usage(format!(
                "{rel} cannot be tracked: it {problem}"
            )));
        }
        if ws.root().join(&rel).is_dir() {
            return Err(super::usage(format!(
                "{rel} is a directory: name the files in it"
            )));
        }
        // Where the file is now: the environment git holds it sealed for, or the one
        // config.toml names (which anyone who can push may have changed).
        let from = staged_env(&ws, &rel)
            .or_else(|| crate::continuity::known_tracked(ws.root(), &rel))
            .or_else(|| ws.tracked_env(&rel).map(str::to_owned));
        match from {
            Some(e) if e == env => {
                if ws.tracked_env(&rel) != Some(env.as_str()) {
                    paths.push(rel);
                }
            }
            Some(e) => {
                moved.push((rel.clone(), e));
                paths.push(rel);
            }
            None => paths.push(rel),
        }
    }
    // A moved file is sealed again now, by someone who reads both environments, and
    // staged so: the filter never moves a file git holds sealed for another environment
    // (config.toml alone is no proof of intent). Sealed before anything changes.
    let mut resealed = Vec::new();
    for (rel, from) in &moved {
        let path = ws.root().join(rel);
        let bytes = zeroize::Zeroizing::new(std::fs::read(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?);
        let plain = if wholefile::looks_sealed(&bytes) {
            ws.open_file(rel, from, &bytes)?
        } else {
            bytes
        };
        resealed.push((rel.as_str(), ws.seal_file(rel, &env, &plain)?));
        eprintln!("moving {rel} from {from} to {env}: sealed with the key of {env} and staged (whoever could read {from} has seen what it held)");
    }
    for rel in &paths {
        ws.config.files.insert(rel.clone(), env.clone());
    }
    // The attribute lines first: a config naming a file git does not route to the
    // filter protects nothing, while a routed file the config lacks is refused.
    let names: Vec<&str> = paths.iter().map(String::as_str).collect();
    write_attributes(ws.root(), &names)?;
    ws.save_config()?;
    stage_sealed(&ws, &resealed)?;
    // This clone now knows them in `env` (a move is this decision, made here).
    let chosen: Vec<(String, String)> = paths.iter().map(|p| (p.clone(), env.clone())).collect();
    crate::continuity::remember_tracked(ws.root(), chosen.iter().map(|(p, e)| (p, e)), true);
    let mut in_index = Vec::new();
    for rel in &paths {
        // Already in git as plaintext: history keeps it.
        if let Some(blob) = staged_blob(&ws, rel) {
            in_index.push(rel.clone());
            if !wholefile::looks_sealed(&blob) {
                eprintln!("warning: {rel} is already in git in plaintext; its history keeps it, so change the secret it holds");
            }
        }
    }
    eprintln!(
        "tracking {} (sealed with the key of {env})",
        if paths.is_empty() {
            "nothing new".to_owned()
        } else {
            paths.join(", ")
        }
    );
    let new: Vec<&str> = paths
        .iter()
        .filter(|p| !in_index.contains(p))
        .map(String::as_str)
        .collect();
    eprintln!(
        "next: `git add .gitattributes .secrets/config.toml {}` and commit",
        new.join(" ")
    );
    if !in_index.is_empty() {
        // git does not clean an unchanged file again when only its attributes change.
        eprintln!(
            "and, since git already has them: `git add --renormalize -- {}`",
            in_index.join(" ")
        );
    }
    Ok(())
}

/// Stages each (path, sealed bytes) as the blob of its path, keeping the mode git has for
/// it (a path git does not have yet is left to `git add`).
fn stage_sealed(ws: &Workspace, files: &[(&str, Vec<u8>)]) -> Result<(), Error> {
    let staged: std::collections::HashMap<String, String> = ws
        .repo
        .staged_blobs()?
        .into_iter()
        .map(|(path, mode, _)| (path, mode))
        .collect();
    let files: Vec<&(&str, Vec<u8>)> = files
        .iter()
        .filter(|(p, _)| staged.contains_key(*p))
        .collect();
    let oids = ws
        .repo
        .write_blobs(files.iter().map(|(_, b)| b.as_slice()))?;
    let mut info = Vec::new();
    for ((path, _), oid) in files.iter().zip(oids) {
        info.extend_from_slice(format!("{} {oid}\t{path}\0", staged[*path]).as_bytes());
    }
    if !info.is_empty() {
        ws.repo
            .git_with_input(&["update-index", "-z", "--index-info"], &info)?;
    }
    Ok(())
}

/// The environment whose key sealed the blob git has staged for `rel`, if it is sealed.
fn staged_env(ws: &Workspace, rel: &str) -> Option<String> {
    let blob = staged_blob(ws, rel)?;
    let key = wholefile::key_id(&blob)?;
    ws.env_of_key(key).map(str::to_owned)
}

/// The blob git has in the index for `rel`, when it has one (wiped when dropped: it may
/// be plaintext).
fn staged_blob(ws: &Workspace, rel: &str) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let listed = ws.repo.git(&["ls-files", "-s", "--", rel]).ok()?;
    let oid = String::from_utf8_lossy(&listed)
        .split_whitespace()
        .nth(1)?
        .to_owned();
    Some(zeroize::Zeroizing::new(
        ws.repo.git(&["cat-file", "blob", &oid]).unwrap_or_default(),
    ))
}
