//! Setting a clone up for git-secrets: the `.gitattributes` and `.gitignore` lines, and
//! this clone's git config (the filter, the merge and diff drivers, the fsmonitor hook)
//! and hooks. `unlock`, `init` and `doctor --fix` set it up; `lock` takes part of it down.

use std::path::Path;

use crate::error::Error;
use crate::fsutil;
use crate::git::Repo;
use crate::workspace::Workspace;

pub const ATTRIBUTES: &[&str] = &[
    ".secrets/**/*.env filter=secrets diff=secrets merge=secrets -text",
    ".secrets/access.json merge=secrets-access",
    ".secrets/config.toml merge=secrets-config",
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
pub(super) fn git_at_least(repo: &Repo, want: (u32, u32)) -> bool {
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

/// The program of every merge driver, installed beside git-secrets (merge-driver/).
pub const MERGE_PROGRAM: &str = "git-secrets-merge";

/// Each merge driver's config key and the arguments set-up gives [`MERGE_PROGRAM`]: the
/// one source for set-up and for `doctor`, which reports a clone whose commands an older
/// version wrote (before `%S`, the base's label, diff3-style conflicts are mislabelled).
pub const MERGE_DRIVERS: [(&str, &str); 3] = [
    // Secret files merge key by key.
    ("merge.secrets.driver", "env %O %A %B %L %P %X %Y %S"),
    // access.json merges without conflicts; neither it nor config.toml needs a key.
    ("merge.secrets-access.driver", "access %O %A %B"),
    // config.toml as sets of names and settings.
    ("merge.secrets-config.driver", "config %O %A %B %L %X %Y %S"),
];

/// The merge drivers that need no key (access.json, config.toml), for a clone that cannot
/// unlock yet: `join` sets them, so a request made while another member's is on its way
/// merges with it instead of conflicting in access.json.
pub fn configure_keyless_merges(repo: &Repo) -> Result<(), Error> {
    let drivers = keyless_merge_drivers()?;
    let settings: Vec<(&str, &str)> = drivers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    crate::gitconfig::set_all(repo, &settings)
}

/// The config of the merge drivers that need no key (all but the first of
/// [`MERGE_DRIVERS`]).
fn keyless_merge_drivers() -> Result<Vec<(&'static str, String)>, Error> {
    MERGE_DRIVERS[1..]
        .iter()
        .map(|(key, args)| Ok((*key, sibling_command(MERGE_PROGRAM, args)?)))
        .collect()
}

/// This clone's git config: the filter process, required so a failure stops `git add`.
pub fn configure(ws: &Workspace) -> Result<(), Error> {
    configure_over(ws, ws.repo.config_get_any("core.fsmonitor"))
}

/// [`configure`], given the `core.fsmonitor` setting the clone has now (asked early by
/// `unlock`, beside decrypting).
pub(super) fn configure_over(ws: &Workspace, fsmonitor_now: Option<String>) -> Result<(), Error> {
    let repo = &ws.repo;
    let (filter, merge, keyless, textconv, fsmonitor) = (
        exe_command("filter-process")?,
        // Secret files merge key by key (merge-driver/), and the keyless drivers.
        // (No `merge.*.name`: git only shows it in a few messages.)
        sibling_command(MERGE_PROGRAM, MERGE_DRIVERS[0].1)?,
        keyless_merge_drivers()?,
        // The masked diff driver, cached (`git log -p` would otherwise start a process
        // per blob): its output holds no secret, and the command names the view it shows.
        textconv_command(ws)?,
        exe_command("fsmonitor")?,
    );
    let mut settings = vec![
        ("filter.secrets.process", filter.as_str()),
        ("filter.secrets.required", "true"),
        (MERGE_DRIVERS[0].0, merge.as_str()),
        ("diff.secrets.textconv", textconv.as_str()),
        ("diff.secrets.cachetextconv", "true"),
    ];
    settings.extend(keyless.iter().map(|(k, v)| (*k, v.as_str())));
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
