//! What `doctor` looks at: the identity and membership, this clone's configuration and
//! the programs it runs, the hooks, the .gitattributes and .gitignore lines, files left
//! encrypted, the keys' problems, orphan scope files and temporary files a crash left.

use std::path::Path;

use crate::access::Status;
use crate::guard::install;
use crate::workspace::Workspace;

use super::{manual, problem, Finding, Fix};
use crate::cli::unlock;

/// Notes on what is fine, and the problems.
pub(super) fn examine(ws: &Workspace) -> (Vec<String>, Vec<Finding>) {
    let mut notes = Vec::new();
    let mut found = Vec::new();
    let identity = match ws.identity_opt() {
        Ok(Some(id)) => {
            notes.push(format!("identity {} ({})", id.recipient(), id.origin));
            Some(id)
        }
        Ok(None) => {
            notes.push("no identity on this device (`git secrets join --name NAME` creates one and asks for access)".into());
            None
        }
        Err(e) => {
            found.push(manual(
                e.to_string(),
                e.hint().unwrap_or_else(|| "see the error".into()),
            ));
            None
        }
    };
    let member = identity.and_then(|id| ws.access.member_of(id));
    let active = member.is_some_and(|(_, m)| m.status == Status::Active);
    match member {
        Some((id, m)) => notes.push(format!(
            "member {} ({id}, {})",
            m.shown_name(),
            format!("{:?}", m.status).to_lowercase()
        )),
        None if identity.is_some() => {
            notes.push("this identity is not a member of this repository".into())
        }
        None => {}
    }

    // The repository's own files: without these lines secret files are committed as
    // they are in the work tree.
    let root = ws.root();
    if let Some(lines) = missing_lines(&root.join(".gitattributes"), unlock::ATTRIBUTES) {
        found.push(problem(
            format!(".gitattributes lacks {lines}: secret files would not go through the filter, diff and merge drivers"),
            Fix::Attributes,
        ));
    }
    let tracked: Vec<String> = ws
        .config
        .files
        .keys()
        .map(|p| crate::cli::track::attribute_line(p))
        .collect();
    let tracked: Vec<&str> = tracked.iter().map(String::as_str).collect();
    if let Some(lines) = missing_lines(&root.join(".gitattributes"), &tracked) {
        found.push(problem(
            format!(
                ".gitattributes lacks {lines}: those tracked files would be committed as they are"
            ),
            Fix::Attributes,
        ));
    }
    let paths: Vec<&str> = ws.config.files.keys().map(String::as_str).collect();
    let overridden = crate::cli::track::overridden(ws, &paths);
    let movable = crate::cli::track::movable(ws, &overridden);
    let (movable, stuck): (Vec<String>, Vec<String>) =
        overridden.into_iter().partition(|p| movable.contains(p));
    if !movable.is_empty() {
        found.push(problem(
            format!(
                "tracked file(s) {} are not routed to the secrets filter: a later .gitattributes line overrides theirs (another tool's `filter=`, or `-filter`), so they would be committed as they are",
                movable.join(", ")
            ),
            Fix::Attributes,
        ));
    }
    // A line that applies after every line of the top .gitattributes: no line there
    // undoes it, and only its author knows why it is there, so it is said, not removed.
    if !stuck.is_empty() {
        let sources = crate::cli::track::override_sources(ws, &stuck);
        let place = if sources.is_empty() {
            ".git/info/attributes or a .gitattributes of their folder or above".to_owned()
        } else {
            sources.join(" or ")
        };
        found.push(manual(
            format!(
                "tracked file(s) {} are not routed to the secrets filter: a line in {place} overrides theirs in .gitattributes (another tool's `filter=`, `-filter` or `!filter`), and applies after any line of .gitattributes, so `git secrets doctor --fix` cannot route them again; git would commit them as they are (the hooks refuse such a commit)",
                stuck.join(", ")
            ),
            format!(
                "delete that line (`git check-attr -a -- {}` shows what applies), then `git add --renormalize -- {}`",
                stuck[0],
                stuck.join(" ")
            ),
        ));
    }
    // With the line there, a line that applies after it (a .gitattributes nearer the
    // file, .git/info/attributes) can still take a scope file out of the filter: git
    // then stores its plaintext, which the hooks refuse. Only its author knows why it is
    // there, so it is said, not removed.
    if missing_lines(&root.join(".gitattributes"), unlock::ATTRIBUTES).is_none() {
        let scopes: Vec<String> = ws.scope_files().iter().map(|s| s.rel_path()).collect();
        let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
        let off = crate::cli::track::not_routed(ws, &scopes);
        if !off.is_empty() {
            found.push(manual(
                format!(
                    "secret file(s) {} are not routed to the secrets filter: a line that applies after the `.secrets/**/*.env` line of .gitattributes overrides it (`-filter`, `!filter` or another `filter=`, in a .gitattributes of their folder or above, or in .git/info/attributes), so git would store them as they are (the hooks refuse such a commit)",
                    off.join(", ")
                ),
                format!("delete that line (`git check-attr -a -- {}` shows what applies), then `git add --renormalize -- .secrets`", off[0]),
            ));
        }
    }
    if let Some(lines) = missing_lines(&root.join(".gitignore"), unlock::IGNORES) {
        found.push(problem(
            format!(
                ".gitignore lacks {lines}: a plaintext .env file, a `git mergetool` backup of a secret file, or a temporary file an interrupted command left, could be added by `git add -A`"
            ),
            Fix::Ignores,
        ));
    }
    match ws.leftovers(true, false) {
        Ok(left) => {
            let shown = |paths: &[std::path::PathBuf]| -> Vec<String> {
                paths.iter().map(|p| ws.shown_path(p)).collect()
            };
            if !left.stale.is_empty() {
                let stale = shown(&left.stale);
                found.push(problem(
                    format!(
                        "temporary file(s) an interrupted git-secrets command left behind, which may hold plaintext secrets: {}",
                        stale.join(", ")
                    ),
                    Fix::RemoveLeftovers(stale),
                ));
            }
            if !left.busy.is_empty() {
                found.push(manual(
                    format!(
                        "temporary file(s), which may hold plaintext secrets, in a directory another git-secrets command is writing to now: {}",
                        shown(&left.busy).join(", ")
                    ),
                    "let that command finish (it renames or deletes its own); then `git secrets doctor --fix` deletes any left".into(),
                ));
            }
        }
        Err(e) => found.push(manual(
            format!("cannot look for temporary files an interrupted command left: {e}"),
            e.hint().unwrap_or_else(|| "see the error".into()),
        )),
    }

    let hooks = install::installed(&ws.repo);
    let missing = |wanted: &[&str]| -> Vec<&str> {
        hooks
            .iter()
            .filter(|(h, ok)| wanted.contains(h) && !ok)
            .map(|(h, _)| *h)
            .collect()
    };
    if !ws.is_unlocked() {
        notes.push("this clone is locked: secret files stay encrypted in the work tree".into());
        if active {
            notes.push("`git secrets unlock` opens the ones you can read".into());
        }
        let checks = missing(install::CHECKS);
        if !checks.is_empty() {
            found.push(problem(
                format!("the {} hook(s) are not installed: nothing stops a plaintext secret file from being committed", checks.join(", ")),
                Fix::Checks,
            ));
        }
    } else {
        found.extend(examine_config(ws));
        let checks = missing(install::CHECKS);
        if !checks.is_empty() {
            found.push(problem(
                format!(
                    "the {} hook(s) are not installed (a tool may have rewritten them)",
                    checks.join(", ")
                ),
                Fix::Configure,
            ));
        }
        let cache = missing(install::HOOKS);
        let cache: Vec<&str> = cache
            .into_iter()
            .filter(|h| !install::is_check(h))
            .collect();
        if !cache.is_empty() {
            notes.push(format!(
                "not installed: {} (optional: they cache the masked diff of new commits)",
                cache.join(", ")
            ));
        }
        for (hook, program) in install::programs(&ws.repo) {
            if !runs(&program) {
                let then = if on_path("git-secrets") {
                    "it falls back to the git-secrets on PATH, whichever version that is"
                } else {
                    "and no git-secrets is on PATH: every commit fails"
                };
                found.push(problem(
                    format!("the {hook} hook runs `{program}`, which does not exist; {then}"),
                    Fix::Configure,
                ));
            }
        }
        let encrypted = ws.readable_but_encrypted();
        if !encrypted.is_empty() {
            found.push(problem(
                format!(
                    "still encrypted in the work tree although you can read them: {}",
                    encrypted.join(", ")
                ),
                Fix::Unlock,
            ));
        }
    }

    for (text, fix) in crate::journal::out_of_step(&ws.config, &ws.access) {
        found.push(manual(text, fix));
    }
    for p in ws.access.problems(&ws.config.environments, identity) {
        let text = p.to_string();
        found.push(match p.rotation_fixes() {
            Some(env) if active => problem(text, Fix::Rotate(env.to_owned())),
            _ => manual(text, "a member who can read it must do this".into()),
        });
    }
    if member.is_some() {
        for text in crate::cli::status::history_problems(ws) {
            found.push(manual(text, "see the problem".into()));
        }
    }
    for u in crate::cli::status::unverified_values(ws) {
        found.push(manual(u.describe(), u.fix()));
    }
    for (service, files) in ws.undeclared_services() {
        let (text, fix) = crate::cli::status::undeclared_service_problem(&service, &files);
        found.push(manual(text, fix));
    }
    let orphans = ws.orphans();
    // What the commit concluding a merge (cherry-pick, rebase…) in progress would lose
    // across an `env rename` that is not an orphan file (one a `git rm` dropped).
    let home = crate::guard::merge::Home::WorkTree;
    for f in crate::guard::merge::check_merge(&ws.repo, home).unwrap_or_default() {
        if !orphans.iter().any(|o| o.scope.rel_path() == f.path) {
            found.push(manual(format!("{}: {}", f.path, f.reason), f.fix));
        }
    }
    for orphan in orphans {
        let text = crate::cli::status::orphan_problem(&orphan);
        let readable = orphan.sealed_for.as_deref().is_some_and(|env| {
            member.is_some_and(|(_, m)| crate::access::Access::may_read(m, env))
        });
        found.push(if readable {
            problem(text, Fix::Adopt(orphan.scope.rel_path()))
        } else if orphan.sealed_for.is_some() {
            manual(
                text,
                "a member who can read that environment runs `git secrets doctor --fix`".into(),
            )
        } else {
            manual(
                text,
                "restore the environment in .secrets/config.toml, or delete the file".into(),
            )
        });
    }
    (notes, found)
}

/// The configuration `unlock` writes, each value checked for the program it runs.
fn examine_config(ws: &Workspace) -> Vec<Finding> {
    let mut found = Vec::new();
    let repo = &ws.repo;
    for key in [
        "filter.secrets.process",
        "merge.secrets.driver",
        "merge.secrets-access.driver",
        "merge.secrets-config.driver",
        "diff.secrets.textconv",
    ] {
        match repo.config_get(key) {
            None => found.push(problem(format!("{key} is not set"), Fix::Configure)),
            Some(value) => {
                let (program, args) = split_command(&value);
                let want = unlock::setup::MERGE_DRIVERS
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, args)| *args);
                if !runs(&program) {
                    found.push(problem(
                        format!("{key} runs `{program}`, which does not exist (git-secrets was moved or installed elsewhere)"),
                        Fix::Configure,
                    ));
                } else if let Some(want) =
                    want.filter(|w| !args.split_whitespace().eq(w.split_whitespace()))
                {
                    found.push(problem(
                        format!("{key} passes `{args}`, not `{want}` as this version sets it up (an older git-secrets wrote it: a merge through it can go wrong, e.g. diff3-style conflicts without the base's label)"),
                        Fix::Configure,
                    ));
                }
            }
        }
    }
    for key in ["filter.secrets.required", "diff.secrets.cachetextconv"] {
        if repo.config_get(key).as_deref() != Some("true") {
            found.push(problem(format!("{key} is not `true`"), Fix::Configure));
        }
    }
    if let Some(value) = repo.config_get_any("core.fsmonitor") {
        if unlock::is_our_fsmonitor(&value) && !runs(&program_of(&value)) {
            found.push(problem(
                format!(
                    "core.fsmonitor runs `{}`, which does not exist: `git status` fails",
                    program_of(&value)
                ),
                Fix::Configure,
            ));
        }
    }
    found
}

/// The lines of `wanted` that `path` lacks, quoted and joined; None when it has them all.
fn missing_lines(path: &Path, wanted: &[&str]) -> Option<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let missing: Vec<String> = unlock::missing_lines(&text, wanted)
        .iter()
        .map(|w| format!("`{w}`"))
        .collect();
    (!missing.is_empty()).then(|| missing.join(", "))
}

/// The program of a command as `unlock` writes it: `"<path>" args`, or `path args`.
fn program_of(command: &str) -> String {
    split_command(command).0
}

/// A command as `unlock` writes it, split into its program and the arguments after it.
fn split_command(command: &str) -> (String, &str) {
    if let Some(rest) = command.strip_prefix('"') {
        let mut out = String::new();
        let mut end = rest.len();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                // Inside double quotes sh takes a backslash as an escape only before
                // these (unlock::sh_double_quote); elsewhere it is itself.
                '\\' => match chars.next() {
                    Some((_, e @ ('\\' | '"' | '$' | '`'))) => out.push(e),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => out.push('\\'),
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => out.push(c),
            }
        }
        (out, rest[end..].trim())
    } else {
        let command = command.trim_start();
        let end = command.find(char::is_whitespace).unwrap_or(command.len());
        (command[..end].to_owned(), command[end..].trim())
    }
}

/// Whether `program` runs: an executable file, or a bare name found on PATH.
fn runs(program: &str) -> bool {
    if program.contains('/') {
        is_executable(Path::new(program))
    } else {
        !program.is_empty() && on_path(program)
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| is_executable(&d.join(name))))
}

#[cfg(test)]
mod tests {
    use super::{program_of, split_command};

    #[test]
    fn the_program_of_a_configured_command() {
        assert_eq!(
            program_of(r#""/opt/my apps/git-secrets" filter-process"#),
            "/opt/my apps/git-secrets"
        );
        assert_eq!(
            program_of(r#""/a/b\"c/git-secrets" x"#),
            "/a/b\"c/git-secrets"
        );
        assert_eq!(program_of("git-secrets-merge env %O"), "git-secrets-merge");
        assert_eq!(program_of(""), "");
        // sh's double quotes: a backslash escapes only `\`, `"`, `$` and `` ` ``.
        assert_eq!(program_of(r#""/a\b\$c" x"#), r"/a\b$c");
        assert_eq!(program_of(r#""/a\nb" x"#), r"/a\nb");
        // And the arguments after the program, for doctor's check of the merge drivers.
        let split = |c| {
            let (p, a) = split_command(c);
            (p, a.to_owned())
        };
        assert_eq!(
            split(r#""/opt/my apps/m" env %O  %A "#),
            ("/opt/my apps/m".into(), "env %O  %A".into())
        );
        assert_eq!(split(r#""/a\"b" %S"#), ("/a\"b".into(), "%S".into()));
        assert_eq!(split(" m  env %O"), ("m".into(), "env %O".into()));
        assert_eq!(split("m"), ("m".into(), String::new()));
        assert_eq!(
            split(r#""/unclosed x"#),
            ("/unclosed x".into(), String::new())
        );
    }

    // Guards: what unlock writes for any install path reads back as that path.
    #[test]
    fn the_program_of_a_quoted_path_round_trips() {
        for path in [
            "/usr/bin/git-secrets",
            r#"/tmp/tools $HOME `id` $(id) "q" \ \n it's #;x/git-secrets"#,
        ] {
            let command = format!(
                "{} filter-process",
                crate::cli::unlock::setup::sh_double_quote(path)
            );
            assert_eq!(split_command(&command), (path.into(), "filter-process"));
        }
    }
}
