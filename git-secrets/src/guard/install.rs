//! Installing the hooks beside the ones already there, and removing them again.
//!
//! The scheme, chosen so that husky, lefthook, the pre-commit framework and hand-written
//! hooks keep running, and so that install is idempotent and removal exact:
//! - The hooks directory is git's own answer (`git rev-parse --git-path hooks`), so
//!   `core.hooksPath` and linked worktrees are respected.
//! - No hook there: a small `sh` script of our own is written.
//! - A shell script there (hand-written, lefthook's, husky's generated ones): a marked
//!   block is inserted right after its `#!` line, so it runs first and no `exit` or
//!   `exec` later in the script can skip it; the rest of the script is untouched.
//! - Any other program (Python, a binary), or a symlink: it is moved aside to
//!   `<hook>.git-secrets-chained` and our script runs the check, then `exec`s it with the
//!   same arguments and stdin.
//! - A hook file that belongs to the repository (husky's `.husky/pre-commit` is
//!   committed), or a new file in a directory of the work tree that git would show as
//!   untracked, is never written: the user is told the one line to add instead, since
//!   an absolute path to this device's binary must not be committed for everyone.
//!
//! The block calls the binary by the absolute path it was installed from (as the filter
//! configuration does), falling back to `git-secrets` on PATH, and fails the commit
//! with a message when neither exists, rather than letting plaintext through silently.

use std::path::Path;

use crate::error::Error;
use crate::git::Repo;

/// Every hook `unlock` installs: the checks ([`CHECKS`]), then the hooks that fill the
/// masked diff's cache after a commit, a merge or pull, and a rebase with what they
/// brought (crate::diffcache; optional).
pub const HOOKS: &[&str] = &[
    "pre-commit",
    "pre-merge-commit",
    "pre-applypatch",
    "commit-msg",
    "applypatch-msg",
    "pre-push",
    "post-commit",
    "post-merge",
    "post-rewrite",
];

/// The checks, which guard against leaks (the first six [`HOOKS`]): the same check of
/// the index before a commit, a merge commit and a commit of `git am` (pre-applypatch:
/// `git am` writes the patched blobs into the index without the filter and runs neither
/// of the other two); the message of a commit (commit-msg, and applypatch-msg for `git
/// am`); and before a push, over the commits being pushed (a rebase or a cherry-pick
/// makes commits without running the others). `init`, `unlock` and `join` install
/// them, and `lock` leaves them, so a clone without the filter (locked, or waiting for
/// approval) still refuses plaintext.
pub const CHECKS: &[&str] = HOOKS.split_at(6).0;

/// Whether `hook` is one of the [`CHECKS`], rather than one that only keeps the diff's
/// cache filled.
pub fn is_check(hook: &str) -> bool {
    CHECKS.contains(&hook)
}

/// How our block starts (what finds it), and the whole first line written.
const MARK: &str = "# >>> git-secrets >>>";
const BEGIN: &str =
    "# >>> git-secrets >>> (added by git-secrets; delete this block to take it out)";
const END: &str = "# <<< git-secrets <<<";
/// The second line of a hook file git-secrets created itself.
const OWN: &str = "# created by git-secrets";
const CHAINED: &str = ".git-secrets-chained";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// Which of our hooks are in place (for `status`): a hook is ours when its file holds our
/// block or is our own script.
pub fn installed(repo: &Repo) -> Vec<(&'static str, bool)> {
    let dir = repo.hooks_dir().ok();
    HOOKS
        .iter()
        .map(|h| {
            let text = dir
                .as_ref()
                .and_then(|d| std::fs::read_to_string(d.join(h)).ok())
                .unwrap_or_default();
            (*h, text.contains(MARK) || text.contains(OWN))
        })
        .collect()
}

/// The program each of our hook blocks runs first (the absolute path it was installed
/// from), for `doctor` to check that it still exists.
pub fn programs(repo: &Repo) -> Vec<(&'static str, String)> {
    let Ok(dir) = repo.hooks_dir() else {
        return Vec::new();
    };
    HOOKS
        .iter()
        .filter_map(|h| {
            let text = std::fs::read_to_string(dir.join(h)).ok()?;
            let block = &text[text.find(MARK).or_else(|| text.find(OWN))?..];
            let quoted = block.split("if [ -x ").nth(1)?.split(" ]").next()?;
            Some((*h, sh_unquote(quoted)?))
        })
        .collect()
}

/// The text `sh_quote` quoted.
fn sh_unquote(q: &str) -> Option<String> {
    Some(
        q.strip_prefix('\'')?
            .strip_suffix('\'')?
            .replace(r"'\''", "'"),
    )
}

/// Single-quotes `s` for sh.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The marked block for `hook`; `chained` is the previous program to run after it.
fn block(exe: &str, hook: &str, chained: bool) -> String {
    let q = sh_quote(exe);
    // Without the binary, a check cannot let the commit through; the cache after it
    // has nothing to say.
    let missing = if is_check(hook) {
        "echo \"git-secrets: not installed, so what is committed or pushed cannot be checked for secrets; install it, or delete the git-secrets block from $0\" >&2; exit 1"
    } else {
        ":"
    };
    let mut b = if hook == "pre-push" {
        // git gives pre-push the refs on stdin, and the rest of the hook (git lfs's
        // pre-push, say) needs them too: read once, given to the check, then made the
        // hook's stdin again.
        format!(
            "{BEGIN}\n\
             git_secrets_refs=$(cat)\n\
             if [ -x {q} ]; then printf '%s\\n' \"$git_secrets_refs\" | {q} hook {hook} \"$@\" || exit $?\n\
             elif command -v git-secrets >/dev/null 2>&1; then printf '%s\\n' \"$git_secrets_refs\" | git-secrets hook {hook} \"$@\" || exit $?\n\
             else {missing}; fi\n\
             exec <<GIT_SECRETS_REFS\n\
             $git_secrets_refs\n\
             GIT_SECRETS_REFS\n"
        )
    } else {
        format!(
            "{BEGIN}\n\
             if [ -x {q} ]; then {q} hook {hook} \"$@\" || exit $?\n\
             elif command -v git-secrets >/dev/null 2>&1; then git-secrets hook {hook} \"$@\" || exit $?\n\
             else {missing}; fi\n"
        )
    };
    if chained {
        b.push_str(&format!(
            "exec \"$(dirname \"$0\")/{hook}{CHAINED}\" \"$@\"\n"
        ));
    }
    b.push_str(END);
    b.push('\n');
    b
}

/// The text of `hook` with our block taken out, if it has one.
fn without_block(text: &str) -> Option<String> {
    let start = text.find(MARK)?;
    let end = text[start..].find(END)? + start + END.len();
    let end = if text[end..].starts_with('\n') {
        end + 1
    } else {
        end
    };
    Some(format!("{}{}", &text[..start], &text[end..]))
}

/// Whether a `#!` line runs a POSIX-like shell, where a block of `sh` can go.
fn is_shell(text: &str) -> bool {
    let Some(line) = text.lines().next() else {
        return true;
    };
    let Some(cmd) = line.strip_prefix("#!") else {
        return true; // no #!: git runs it with sh
    };
    let mut words = cmd.split_whitespace();
    let mut prog = words
        .next()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default();
    if prog == "env" {
        prog = words.find(|w| !w.starts_with('-')).unwrap_or_default();
    }
    matches!(
        prog,
        "sh" | "bash" | "dash" | "ash" | "ksh" | "zsh" | "mksh"
    )
}

/// Our block right after the `#!` line (or at the top).
fn insert_block(text: &str, block: &str) -> String {
    match text.strip_prefix("#!").and_then(|_| text.find('\n')) {
        Some(i) => format!("{}{block}{}", &text[..=i], &text[i + 1..]),
        None if text.starts_with("#!") => format!("{text}\n{block}"),
        None => format!("{block}{text}"),
    }
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.exists()
    }
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Writes `text` to `path` through a temporary file, executable.
fn write_hook(path: &Path, text: &str) -> Result<(), Error> {
    let tmp = path.with_extension("git-secrets-tmp");
    std::fs::write(&tmp, text).map_err(io(&tmp))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() | 0o111)
            .unwrap_or(0o755);
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Why a path inside the work tree must not be written, if it must not: it is tracked,
/// or it would show up as a new untracked file (and could be committed with a path to
/// this device's binary).
fn belongs_to_repo(repo: &Repo, path: &Path) -> Option<&'static str> {
    let root = repo.root.canonicalize().ok()?;
    let dir = path.parent()?.canonicalize().ok()?;
    let rel = dir.strip_prefix(&root).ok()?.join(path.file_name()?);
    let rel = rel.to_string_lossy().replace('\\', "/");
    if rel.starts_with(".git/") {
        return None;
    }
    let tracked = repo.git(&["ls-files", "--", &rel]).ok()?;
    if !tracked.is_empty() {
        return Some("is committed in the repository");
    }
    match repo.git(&["check-ignore", "-q", "--", &rel]) {
        Ok(_) => None,
        Err(_) => Some("would be a new file in the repository"),
    }
}

/// Installs `hooks` (of [`HOOKS`]); returns what to tell the user.
pub fn install(repo: &Repo, exe: &Path, hooks: &[&str]) -> Result<Vec<String>, Error> {
    let exe = exe.to_string_lossy().replace('\\', "/");
    let dir = repo.hooks_dir()?;
    let mut notes = Vec::new();
    for hook in hooks {
        let path = dir.join(hook);
        let shown = path
            .strip_prefix(&repo.root)
            .unwrap_or(&path)
            .display()
            .to_string();
        if let Some(why) = belongs_to_repo(repo, &path) {
            // The post-* hooks only fill the diff's cache: not worth a file for everyone.
            if is_check(hook) {
                notes.push(format!("{shown} {why}, so git-secrets did not change it: add the line `git secrets hook {hook}` to it for everyone"));
            }
            continue;
        }
        let existing = match std::fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&path)(e)),
        };
        let text = match existing {
            None => {
                std::fs::create_dir_all(&dir).map_err(io(&dir))?;
                format!("#!/bin/sh\n{OWN}\n{}", block(&exe, hook, false))
            }
            Some(bytes) => match String::from_utf8(bytes) {
                // Ours already (install again: refresh the binary's path).
                Ok(t) if without_block(&t).is_some() => {
                    let chained = t.contains(CHAINED);
                    let rest = without_block(&t).expect("checked");
                    insert_block(&rest, &block(&exe, hook, chained))
                }
                Ok(_) | Err(_) if !is_executable(&path) => {
                    notes.push(format!("{shown} is not executable (disabled), so git-secrets did not change it; make it executable and run `git secrets unlock` again to add the check"));
                    continue;
                }
                // A symlink (to a shared script) is chained rather than edited, so it
                // stays a symlink and its target is never changed.
                Ok(t) if is_shell(&t) && !is_symlink(&path) => {
                    insert_block(&t, &block(&exe, hook, false))
                }
                _ => {
                    let moved = dir.join(format!("{hook}{CHAINED}"));
                    if std::fs::symlink_metadata(&moved).is_ok() {
                        notes.push(format!("{shown}: {} already exists, so git-secrets did not chain again; remove one of them and run `git secrets unlock`", moved.display()));
                        continue;
                    }
                    std::fs::rename(&path, &moved).map_err(io(&path))?;
                    notes.push(format!(
                        "{shown} (not a shell script, or a symlink) now runs after the check, from {}",
                        moved.display()
                    ));
                    format!("#!/bin/sh\n{OWN}\n{}", block(&exe, hook, true))
                }
            },
        };
        write_hook(&path, &text)?;
    }
    Ok(notes)
}

/// Removes what [`install`] added to `hooks`, leaving every other hook as it was.
pub fn remove(repo: &Repo, hooks: &[&str]) -> Result<(), Error> {
    let dir = repo.hooks_dir()?;
    for hook in hooks {
        let path = dir.join(hook);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Some(rest) = without_block(&text) else {
            continue;
        };
        if rest.trim_end() == format!("#!/bin/sh\n{OWN}") {
            std::fs::remove_file(&path).map_err(io(&path))?;
            let moved = dir.join(format!("{hook}{CHAINED}"));
            if std::fs::symlink_metadata(&moved).is_ok() {
                std::fs::rename(&moved, &path).map_err(io(&moved))?;
            }
        } else {
            write_hook(&path, &rest)?;
        }
    }
    Ok(())
}

/// Installs `hooks` for this clone with the running binary: every hook of [`HOOKS`]
/// with the rest of the clone's setup (`init`, `unlock`), the [`CHECKS`] alone for a
/// clone waiting for access (`join`).
pub fn install_current(repo: &Repo, hooks: &[&str]) -> Result<(), Error> {
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        path: "git-secrets".into(),
        source,
    })?;
    for note in install(repo, &exe, hooks)? {
        eprintln!("git-secrets: hooks: {note}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checks_are_every_hook_but_the_cache_fillers() {
        assert_eq!(CHECKS.len() + 3, HOOKS.len());
        assert!(CHECKS.iter().all(|h| !h.starts_with("post-")), "{CHECKS:?}");
        assert!(HOOKS[CHECKS.len()..].iter().all(|h| h.starts_with("post-")));
    }

    #[test]
    fn block_round_trips_in_a_shell_hook() {
        let theirs = "#!/usr/bin/env bash\nset -e\nnpm test\n";
        let with = insert_block(theirs, &block("/x/git-secrets", "pre-commit", false));
        assert!(with.starts_with("#!/usr/bin/env bash\n# >>> git-secrets"));
        assert!(with.ends_with("npm test\n"));
        assert_eq!(without_block(&with).as_deref(), Some(theirs));
    }

    #[test]
    fn shells_are_recognised() {
        for t in [
            "#!/bin/sh\n",
            "#!/usr/bin/env bash\n",
            "#!/bin/zsh -e\n",
            "echo hi\n",
            "",
        ] {
            assert!(is_shell(t), "{t}");
        }
        for t in [
            "#!/usr/bin/env python3\n",
            "#!/usr/bin/node\n",
            "#!/usr/bin/fish\n",
        ] {
            assert!(!is_shell(t), "{t}");
        }
    }

    #[test]
    fn paths_are_quoted_for_sh() {
        assert_eq!(sh_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
