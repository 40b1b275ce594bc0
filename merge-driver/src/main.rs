//! `git-secrets-merge`: git's merge drivers for git-secrets, configured by
//! `git secrets init` / `unlock` (`merge.secrets-access.driver`).
//!
//! `git-secrets-merge access %O %A %B` merges `.secrets/access.json` three-way without
//! conflicts (see `git_secrets::access::merge`): the result is written to %A, as git
//! expects, and the exit status is 0. A side that cannot be read is a conflict (exit 1)
//! with %A left as it is, so git shows it instead of a corrupt file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use git_secrets::access::{merge::merge, Access};

fn read(path: &Path, label: &str) -> Result<Option<Access>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {label} ({}): {e}", path.display()))?;
    if text.trim().is_empty() {
        return Ok(None); // no common ancestor: the file was added on both sides
    }
    Access::parse(&text, Path::new(&format!(".secrets/access.json ({label})")))
        .map(Some)
        .map_err(|e| e.to_string())
}

fn merge_access(base: &Path, ours: &Path, theirs: &Path) -> Result<(), String> {
    let base = read(base, "base")?;
    let ours_access = read(ours, "ours")?.ok_or("our side of .secrets/access.json is empty")?;
    let theirs_access =
        read(theirs, "theirs")?.ok_or("their side of .secrets/access.json is empty")?;
    let merged = merge(base.as_ref(), &ours_access, &theirs_access);
    git_secrets::fsutil::write_public(ours, merged.to_json().as_bytes()).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let result = match args.first().and_then(|a| a.to_str()) {
        Some("access") if args.len() == 4 => merge_access(&args[1], &args[2], &args[3]),
        _ => Err("usage: git-secrets-merge access <base> <ours> <theirs>".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("git-secrets-merge: {e}");
            eprintln!("git-secrets-merge: hint: resolve .secrets/access.json by hand (it is JSON; keep every member and key of both sides), then `git add` it");
            ExitCode::FAILURE
        }
    }
}
