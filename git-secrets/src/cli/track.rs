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
        match ws.tracked_env(&rel) {
            Some(e) if e == env => {}
            Some(e) => {
                eprintln!("moving {rel} from {e} to {env}: the next `git add` seals it with the key of {env} (whoever could read {e} has seen what it held)");
                paths.push(rel);
            }
            None => paths.push(rel),
        }
    }
    for rel in &paths {
        ws.config.files.insert(rel.clone(), env.clone());
    }
    // The attribute lines first: a config naming a file git does not route to the
    // filter protects nothing, while a routed file the config lacks is refused.
    let names: Vec<&str> = paths.iter().map(String::as_str).collect();
    write_attributes(ws.root(), &names)?;
    ws.save_config()?;
    let mut in_index = Vec::new();
    for rel in &paths {
        // Already in git as plaintext: history keeps it.
        let staged = ws
            .repo
            .git(&["ls-files", "-s", "--", rel])
            .unwrap_or_default();
        if let Some(oid) = String::from_utf8_lossy(&staged).split_whitespace().nth(1) {
            in_index.push(rel.clone());
            let blob = zeroize::Zeroizing::new(
                ws.repo.git(&["cat-file", "blob", oid]).unwrap_or_default(),
            );
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
