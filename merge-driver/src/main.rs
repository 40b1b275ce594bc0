//! `git-secrets-merge`: git's merge drivers for git-secrets, configured by
//! `git secrets init` / `unlock` (`merge.secrets.driver`, `merge.secrets-access.driver`,
//! `merge.secrets-config.driver`).
//!
//! `git-secrets-merge access %O %A %B` merges `.secrets/access.json` three-way without
//! conflicts (see `git_secrets::access::merge`): the result is written to %A, as git
//! expects, and the exit status is 0. A side that cannot be read is a conflict (exit 1)
//! with %A left as it is, so git shows it instead of a corrupt file.
//!
//! `git-secrets-merge config %O %A %B %L %X %Y %S` merges `.secrets/config.toml` as sets of
//! names and settings (`git_secrets::config::merge`), so two members who each add a
//! service or an environment do not conflict; two changes of one setting still do.
//!
//! `git-secrets-merge env %O %A %B %L %P %X %Y %S` merges a scope file key by key
//! (`git_secrets::envmerge`): the three sides are decrypted in memory, merged, and the
//! result sealed under the current key of the access.json the merge produces (see
//! `Workspace::merge_sealing_key`), or, when there is no safe one, assembled from the
//! sides' own sealed lines. A conflict (exit 1) is written as the two sealed entries
//! between ordinary markers (the base's too, in the `diff3` styles), which the filter
//! shows as plaintext values.
//!
//! Conflicts are written as git would write them (`git_secrets::markers`): markers of
//! the size `%L`, the labels `%X`, `%S` and `%Y`, and the style of `merge.conflictStyle`
//! (or of `git checkout --conflict=`), which git does not pass to a driver.
//! Without access to the environment it merges the encrypted form line by line
//! (`git merge-file`), which keeps one entry per line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use git_secrets::access::{merge::merge, Access};
use git_secrets::markers::{Markers, Style};

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

/// Merges the encrypted form line by line into `ours`; returns whether it conflicted.
fn line_merge(
    base: &Path,
    ours: &Path,
    theirs: &Path,
    markers: &Markers<'_>,
    favour: Option<git_secrets::envmerge::Favour>,
) -> Result<bool, String> {
    use git_secrets::envmerge::Favour;
    let status = std::process::Command::new("git")
        .arg("merge-file")
        .args(match favour {
            Some(Favour::Ours) => &["--ours"][..],
            Some(Favour::Theirs) => &["--theirs"][..],
            None => &[],
        })
        .args(markers.style.merge_file_option())
        .args([
            &format!("--marker-size={}", markers.size),
            "-L",
            markers.ours,
            "-L",
            markers.base,
            "-L",
            markers.theirs,
        ])
        .args([ours, base, theirs])
        .status()
        .map_err(|e| format!("cannot run git merge-file: {e}"))?;
    match status.code() {
        Some(0) => Ok(false),
        Some(n) if n > 0 => Ok(true),
        _ => Err("git merge-file failed".into()),
    }
}

/// [`line_merge`] of a scope file, turned into a conflict of the whole file when the
/// clean result lists a key more often than either side did (`git_secrets::doubled`):
/// each side added it in a different place, and a dotenv loader would take one side's
/// value in silence. Both sides are then kept whole between markers, in the form they
/// came in (sealed, as every conflict of a file this identity cannot read).
fn line_merge_env(
    path: &str,
    (base, ours, theirs): (&Path, &Path, &Path),
    markers: &Markers<'_>,
    favour: Option<git_secrets::envmerge::Favour>,
) -> Result<bool, String> {
    let read = |p: &Path| {
        std::fs::read(p)
            .map(zeroize::Zeroizing::new)
            .map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let sides = [read(base)?, read(ours)?, read(theirs)?];
    // `-X ours`/`-X theirs` too: git's favoured side only settles overlapping lines.
    if line_merge(base, ours, theirs, markers, favour)? {
        return Ok(true);
    }
    let merged = read(ours)?;
    let doubled = git_secrets::doubled::doubled_keys(&merged, &[&sides[1], &sides[2]]);
    if doubled.is_empty() {
        return Ok(false);
    }
    let lines = |bytes: &[u8]| -> Option<Vec<String>> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
        if let Some(last) = lines.last_mut().filter(|l| !l.ends_with('\n')) {
            last.push('\n');
        }
        Some(lines)
    };
    // (A side that is not text leaves git's line merge as it is, still a conflict.)
    if let (Some(b), Some(o), Some(t)) = (lines(&sides[0]), lines(&sides[1]), lines(&sides[2])) {
        let conflict = markers.conflict(&o, &b, &t).concat();
        git_secrets::fsutil::write_public(ours, conflict.as_bytes()).map_err(|e| e.to_string())?;
    }
    eprintln!(
        "git-secrets-merge: {path}: both sides added {} in different places, which git's line merge would keep twice (a dotenv loader then takes one side's value in silence): both sides are left whole between conflict markers",
        git_secrets::doubled::named(&doubled)
    );
    eprintln!("git-secrets-merge: hint: a member who can read it keeps one entry of each key and every other change of both sides, deletes the markers, then `git add {path}`");
    Ok(true)
}

/// A git placeholder that this git did not expand (older than %X/%Y, or %S before git
/// 2.44) gives no label.
fn label<'a>(arg: Option<&'a str>, fallback: &'a str) -> &'a str {
    arg.filter(|a| !a.is_empty() && !a.starts_with('%'))
        .unwrap_or(fallback)
}

/// The markers git would write: size `%L` (7 when unreadable), the labels `%X`, `%S`
/// and `%Y` after it in `rest` (a driver configured before `%S` gets none, and `base`,
/// git's own label where it has no name), and the style the git command uses.
fn markers<'a>(
    size: &str,
    rest: &'a [String],
    repo: Option<&git_secrets::git::Repo>,
) -> Markers<'a> {
    let arg = |i: usize| rest.get(i).map(String::as_str);
    Markers {
        size: size.parse().unwrap_or(7),
        ours: label(arg(0), "ours"),
        base: label(arg(2), "base"),
        theirs: label(arg(1), "theirs"),
        style: repo.map(Style::for_repo).unwrap_or_default(),
    }
}

fn merge_env(args: &[String]) -> Result<bool, String> {
    let [base, ours, theirs, marker, path, rest @ ..] = args else {
        return Err("usage: git-secrets-merge env <base> <ours> <theirs> <marker-size> <path> [<our label> <their label> [<base label>]]".into());
    };
    let (base_p, ours_p, theirs_p) = (Path::new(base), Path::new(ours), Path::new(theirs));
    let repo = git_secrets::git::Repo::discover().map_err(|e| e.to_string())?;
    let markers = markers(marker, rest, Some(&repo));
    // `-X ours` / `-X theirs` of the git command merging (git does not pass them on).
    let favour = git_secrets::filter::favoured_side(&repo);
    let fallback = |why: String| -> Result<bool, String> {
        eprintln!("git-secrets-merge: {path}: merging the encrypted form line by line ({why})");
        line_merge_env(path, (base_p, ours_p, theirs_p), &markers, favour)
    };
    let Some(scope) = git_secrets::scope::Scope::from_rel_path(path) else {
        return fallback("not a scope file".into());
    };
    let ws = match git_secrets::workspace::Workspace::open_for_filter(repo) {
        Ok(ws) => ws,
        Err(e) => return fallback(e.to_string()),
    };
    // Each side's plaintext (to compare values) and its encrypted lines.
    let mut plain = Vec::new();
    let mut rendered = Vec::new();
    let mut their_ids = Vec::new();
    for (i, p) in [base_p, ours_p, theirs_p].into_iter().enumerate() {
        let bytes = zeroize::Zeroizing::new(
            std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?,
        );
        if bytes.is_empty() {
            plain.push(git_secrets::dotenv::Document::default());
            rendered.push(Vec::new());
            continue;
        }
        if !git_secrets::envfile::is_encrypted(&bytes) {
            return fallback("a side is not in encrypted form".into());
        }
        use git_secrets::envfile::OpenError;
        match ws.decrypt_with_history(&scope, &bytes) {
            Ok(d) => plain.push(d),
            // The old name's file, the name given to a new environment since (an `env
            // rename`, then `env add` of the old name): a base of it has nothing in
            // common with the new environment's file.
            Err(git_secrets::error::Error::Open {
                source: OpenError::OtherEnvironment { .. },
                ..
            }) if i == 0 => {
                plain.push(git_secrets::dotenv::Document::default());
                rendered.push(Vec::new());
                continue;
            }
            // A side of it: merging it line by line would mix the two environments'
            // values, or keep one side's in silence (`-X ours`). Our side stays as it is
            // and the path in conflict; `doctor --fix` merges the old name's changes into
            // its environment's file and gives the path back (crate::workspace::strays).
            Err(git_secrets::error::Error::Open {
                source: OpenError::OtherEnvironment { env, key_id, .. },
                ..
            }) => {
                let home = git_secrets::scope::Scope::new(scope.service.as_deref(), &env);
                eprintln!(
                    "git-secrets-merge: {path}: {} side holds values sealed for `{env}` (key {key_id}), not for `{}`: the old name's file, renamed to `{env}` on one side, the name given to a new environment since; left in conflict with our side as it is: `git secrets doctor --fix` merges the changes into {} and puts back `{}`'s own file",
                    if i == 1 { "our" } else { "their" },
                    scope.env,
                    home.rel_path(),
                    scope.env
                );
                return Ok(true);
            }
            Err(e) => return fallback(e.to_string()),
        }
        if i == 2 {
            their_ids = git_secrets::envfile::key_ids(&bytes);
        }
        let sealed = git_secrets::dotenv::Document::parse(&bytes).map_err(|e| e.to_string())?;
        rendered.push(git_secrets::envmerge::plain_lines(&sealed));
    }
    let their_label = rest.get(1).map(String::as_str).unwrap_or_default();
    // Sealed under the current key of the merged access.json when it has a safe one;
    // otherwise made of the sides' own sealed lines (nothing sealed under a key that
    // could reach a removed member), which status reports until `rotate`.
    // Each side's entries merged key by key, written as the lines `out` holds for them.
    // (The base's lines are those of the base section of a `diff3` conflict.)
    let merge_as = |out: &[Vec<String>]| {
        use git_secrets::envmerge::{merge, Side};
        let side = |i: usize| Side {
            doc: &plain[i],
            out: &out[i],
        };
        merge(side(0), side(1), side(2), &markers, favour)
    };
    let (sealed, conflicts) = match ws.merge_sealing_key(&scope.env, their_label, &their_ids) {
        Some(key) => {
            let lines: Vec<Vec<String>> = plain
                .iter()
                .map(git_secrets::envmerge::plain_lines)
                .collect();
            let merged = merge_as(&lines);
            let text = zeroize::Zeroizing::new(merged.text);
            match ws.seal_merged(&scope, text.as_bytes(), &key) {
                Ok(s) => (s, merged.conflicts),
                Err(e) => return fallback(e.to_string()),
            }
        }
        None => {
            let merged = merge_as(&rendered);
            (merged.text.into_bytes(), merged.conflicts)
        }
    };
    git_secrets::fsutil::write_public(ours_p, &sealed).map_err(|e| e.to_string())?;
    if conflicts > 0 {
        eprintln!(
            "git-secrets-merge: {path}: {conflicts} key(s) changed differently on both sides"
        );
    }
    Ok(conflicts > 0)
}

/// `.secrets/config.toml` (`git-secrets-merge config %O %A %B %L %X %Y`): two members who
/// each add a service or an environment edit the same line, which git's line merge can
/// only give as a conflict. A clean line merge that is a valid configuration is kept as
/// git made it (its layout and any comments); otherwise the sides are merged as what they
/// hold (`git_secrets::config::merge`: sets of names, settings and tracked files), and
/// only two different changes of one setting or tracked file are left to git's line
/// merge, conflict markers and a person.
fn merge_config(args: &[String]) -> Result<bool, String> {
    use git_secrets::config::Config;
    let [base, ours, theirs, marker, rest @ ..] = args else {
        return Err("usage: git-secrets-merge config <base> <ours> <theirs> <marker-size> [<our label> <their label> [<base label>]]".into());
    };
    let repo = git_secrets::git::Repo::discover().ok();
    let markers = markers(marker, rest, repo.as_ref());
    let (base_p, ours_p, theirs_p) = (Path::new(base), Path::new(ours), Path::new(theirs));
    let name = Path::new(".secrets/config.toml");
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let (ours_text, theirs_text) = (read(ours_p)?, read(theirs_p)?);
    let lines = std::process::Command::new("git")
        .args(["merge-file", "-p", "--"])
        .args([ours_p, base_p, theirs_p])
        .output()
        .map_err(|e| format!("cannot run git merge-file: {e}"))?;
    let text = String::from_utf8_lossy(&lines.stdout);
    let write = |text: &str| {
        git_secrets::fsutil::write_public(ours_p, text.as_bytes()).map_err(|e| e.to_string())
    };
    if lines.status.code() == Some(0) && Config::parse(&text, name).is_ok() {
        write(&text)?;
        return Ok(false);
    }
    // `None` when a side does not parse; `Some(None)` for an empty side (the base of a
    // file added on both sides).
    let parse = |text: &str| match text.trim() {
        "" => Some(None),
        _ => Config::parse(text, name).ok().map(Some),
    };
    let base_text = read(base_p)?;
    if let (Some(base), Some(Some(ours)), Some(Some(theirs))) =
        (parse(&base_text), parse(&ours_text), parse(&theirs_text))
    {
        if let Some(merged) = git_secrets::config::merge::merge(base.as_ref(), &ours, &theirs) {
            write(&merged.to_toml())?;
            return Ok(false);
        }
    }
    let favour = repo.as_ref().and_then(git_secrets::filter::favoured_side);
    if line_merge(base_p, ours_p, theirs_p, &markers, favour)? {
        eprintln!("git-secrets-merge: .secrets/config.toml: both sides changed the same setting or tracked file differently: resolve the markers, then `git add` it");
        return Ok(true);
    }
    // A line merge without markers (`-X ours`/`-X theirs`, or changes far apart) can
    // still be a file no command loads: a tracked file in an environment the other side
    // deleted, say. Committed, it would stop every command and leave that file's key
    // gone; it is a conflict for a person instead.
    // Written as the two whole sides between markers: each side is valid, so the filter
    // still reads them (`Config::parse_conflicted`) and `git status` keeps working.
    let text = std::fs::read_to_string(ours_p).unwrap_or_default();
    let Err(e) = Config::parse(&text, name) else {
        return Ok(false);
    };
    let side = |t: &str| match t.ends_with('\n') || t.is_empty() {
        true => vec![t.to_owned()],
        false => vec![format!("{t}\n")],
    };
    let conflict = markers.conflict(&side(&ours_text), &side(&base_text), &side(&theirs_text));
    write(&conflict.concat())?;
    eprintln!("git-secrets-merge: the merged .secrets/config.toml is not valid, so both sides are left between conflict markers: {e}");
    eprintln!("git-secrets-merge: hint: edit .secrets/config.toml so that both sides' changes hold (declare the environment again, or drop the line that names it), then `git add` it");
    Ok(true)
}

fn main() -> ExitCode {
    // args_os: std::env::args panics on an argument that is not UTF-8. git's are its
    // temporary files' paths and a scope file's path (ASCII: scope names are checked),
    // and the labels of the sides, branch names only shown in conflict markers.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let result = match args.first().map(String::as_str) {
        Some("access") if args.len() == 4 => {
            let p: Vec<PathBuf> = args[1..].iter().map(PathBuf::from).collect();
            merge_access(&p[0], &p[1], &p[2]).map(|()| false).map_err(|e| {
                format!("{e}\nhint: resolve .secrets/access.json by hand (it is JSON; keep every member and key of both sides), then `git add` it")
            })
        }
        Some("env") => merge_env(&args[1..]),
        Some("config") => merge_config(&args[1..]),
        _ => Err("usage: git-secrets-merge access <base> <ours> <theirs> | env <base> <ours> <theirs> <marker-size> <path> [labels] | config <base> <ours> <theirs> <marker-size> [labels]".into()),
    };
    match result {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("git-secrets-merge: {e}");
            ExitCode::from(2)
        }
    }
}
