//! Which git command started this filter process.
//!
//! git runs clean for `git add`, but also to compare the work tree with the index
//! (`git diff`, `git status`, the refresh before `git commit`). A file with conflict
//! markers must fail `git add` (nothing staged, the user told to resolve it) and must not
//! fail the others, or `git diff` would die in the middle of a conflict. The filter
//! protocol does not say why git is cleaning, so the filter asks the process tree: git
//! starts the filter, directly or through `sh -c`, from the process running the command.
//!
//! Linux has each process's arguments and parent in `/proc/PID/`; elsewhere (macOS, the
//! BSDs) `ps` prints them, joined by spaces (a path with a space in git's own options
//! then hides the subcommand, which only means a warning). Where the caller cannot be
//! known, [`stages`] says no and the conflict is sealed side by side with a warning; the
//! pre-commit hook and `check` still refuse to commit it. This runs only for a file with
//! conflict markers. Hand-written: no crate reads a parent's argv portably.

/// Whether the git command that started this process stages work-tree content: `git add`
/// or `git stage`, except with `--refresh` or `--dry-run`, which stage nothing.
pub fn stages() -> bool {
    invoking_git_args().is_some_and(|argv| is_staging(&argv))
}

/// Whether the git command that started this process writes files out of the
/// repository: an archive (`git archive`, or `git upload-archive` and its
/// `upload-archive--writer`, which serve `git archive --remote`), or a tree exported
/// under a directory (`git checkout-index --prefix=DIR/`, which build and deploy scripts
/// use to copy a tree). What leaves the repository (a release tarball, a build
/// directory) gets secret files in their encrypted form. `checkout-index --temp`, which
/// `git mergetool` uses to show each side, is not an export.
pub fn exports() -> bool {
    invoking_git_args().is_some_and(|argv| is_exporting(&argv))
}

/// The side `-X ours` or `-X theirs` (`--strategy-option`) tells the git command that
/// started this process to favour: a merge, pull, rebase, cherry-pick or revert. git
/// applies such options to its own line merge and hands a merge driver none of them,
/// so the driver reads them here: on the command line (the last one given counts, as in
/// git), else where git keeps them for a command that goes on without them on its
/// command line (`rebase --continue`, the next picks of a cherry-pick or revert, which
/// read the options the stopped command saved) or applies them from the configuration
/// (`branch.<name>.mergeOptions`, for `git merge` and `git pull`).
pub fn favoured_side(repo: &crate::git::Repo) -> Option<crate::envmerge::Favour> {
    let argv = invoking_git_args()?;
    let (sub, rest) = subcommand(&argv)?;
    if !matches!(sub, "merge" | "pull" | "rebase" | "cherry-pick" | "revert") {
        return None;
    }
    favour_in(rest.iter().map(String::as_str)).or_else(|| saved_favour(repo, sub))
}

/// The conflict style given on the command line of the git command that started this
/// process: `git checkout --conflict=STYLE` or `git restore --conflict=STYLE`, which
/// recreate a conflict in that style whatever `merge.conflictStyle` says (the last one
/// given counts, as in git).
pub fn conflict_style_given() -> Option<crate::markers::Style> {
    let argv = invoking_git_args()?;
    let (sub, rest) = subcommand(&argv)?;
    if !matches!(sub, "checkout" | "restore") {
        return None;
    }
    conflict_style_in(rest.iter().map(String::as_str))
}

fn conflict_style_in<'a>(args: impl Iterator<Item = &'a str>) -> Option<crate::markers::Style> {
    let mut style = None;
    let mut args = args.take_while(|a| *a != "--");
    while let Some(arg) = args.next() {
        let given = match arg {
            "--conflict" => args.next(),
            a => a.strip_prefix("--conflict="),
        };
        if let Some(s) = given.and_then(crate::markers::Style::named) {
            style = Some(s);
        }
    }
    style
}

/// The favoured side among git's arguments (`-X theirs`, `-Xours`, `--strategy-option`).
fn favour_in<'a>(args: impl Iterator<Item = &'a str>) -> Option<crate::envmerge::Favour> {
    use crate::envmerge::Favour;
    let mut favour = None;
    let mut args = args.take_while(|a| *a != "--");
    while let Some(arg) = args.next() {
        let option = match arg {
            "-X" | "--strategy-option" => args.next(),
            a => a
                .strip_prefix("--strategy-option=")
                .or_else(|| a.strip_prefix("-X")),
        };
        match option {
            Some("ours") => favour = Some(Favour::Ours),
            Some("theirs") => favour = Some(Favour::Theirs),
            _ => {}
        }
    }
    favour
}

/// The favoured side git applies without it on the command line of `sub`.
fn saved_favour(repo: &crate::git::Repo, sub: &str) -> Option<crate::envmerge::Favour> {
    let git_dir = crate::git::git_dir(&repo.root)?;
    match sub {
        // sequencer.c writes `"theirs"` for `-X theirs` (older git: ` --theirs`).
        "rebase" => {
            let saved = std::fs::read_to_string(git_dir.join("rebase-merge/strategy_opts")).ok()?;
            favour_in(
                saved
                    .split_whitespace()
                    .map(|o| o.trim_matches(['"', '\'']))
                    .map(|o| o.strip_prefix("--").unwrap_or(o))
                    .flat_map(|o| ["-X", o]),
            )
        }
        // A config file: `strategy-option = theirs`.
        "cherry-pick" | "revert" => {
            let saved = std::fs::read_to_string(git_dir.join("sequencer/opts")).ok()?;
            favour_in(
                saved
                    .lines()
                    .filter_map(|l| {
                        let (key, value) = l.split_once('=')?;
                        (key.trim() == "strategy-option")
                            .then(|| ["-X", value.trim().trim_matches('"')])
                    })
                    .flatten(),
            )
        }
        "merge" | "pull" => {
            let head = crate::git::head_file(&repo.root)?;
            let branch = head.strip_prefix("ref: refs/heads/")?;
            let options = repo.config_get_any(&format!("branch.{branch}.mergeOptions"))?;
            favour_in(options.split_whitespace())
        }
        _ => None,
    }
}

/// Whether the git command that started this process is `git blame` (or `annotate`),
/// which hands the clean filter the textconv of the work-tree file, not the file.
pub fn blames() -> bool {
    invoking_git_args().is_some_and(|argv| {
        subcommand(&argv).is_some_and(|(sub, _)| matches!(sub, "blame" | "annotate"))
    })
}

fn is_exporting(argv: &[String]) -> bool {
    subcommand(argv).is_some_and(|(sub, rest)| match sub {
        "archive" | "upload-archive" | "upload-archive--writer" => true,
        "checkout-index" => rest
            .iter()
            .take_while(|a| *a != "--")
            .any(|a| a == "--prefix" || a.starts_with("--prefix=")),
        _ => false,
    })
}

/// The subcommand of a git command line and the arguments after it: `git -C dir -c a=b
/// add -A` gives `add` and `-A`; the dashed form `git-add -A` gives the same.
fn subcommand(argv: &[String]) -> Option<(&str, &[String])> {
    let program = argv.first()?;
    let name = program.rsplit('/').next().unwrap_or(program);
    if let Some(sub) = name.strip_prefix("git-") {
        return Some((sub, &argv[1..]));
    }
    if name != "git" {
        return None;
    }
    // git's own options before the subcommand (git.c, handle_options); those listed
    // here take their value as the next argument when it is not joined with `=`.
    const WITH_VALUE: [&str; 8] = [
        "-C",
        "-c",
        "--git-dir",
        "--work-tree",
        "--namespace",
        "--super-prefix",
        "--config-env",
        "--attr-source",
    ];
    let mut i = 1;
    while let Some(arg) = argv.get(i) {
        if !arg.starts_with('-') {
            return Some((arg, &argv[i + 1..]));
        }
        i += if WITH_VALUE.contains(&arg.as_str()) {
            2
        } else {
            1
        };
    }
    None
}

fn is_staging(argv: &[String]) -> bool {
    let Some((sub, rest)) = subcommand(argv) else {
        return false;
    };
    if sub != "add" && sub != "stage" {
        return false;
    }
    !rest
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| matches!(a.as_str(), "--refresh" | "--dry-run" | "-n"))
}

/// The arguments of the nearest git process above this one, skipping the shell git may
/// start the filter through.
#[cfg(unix)]
fn invoking_git_args() -> Option<Vec<String>> {
    let mut pid = std::os::unix::process::parent_id();
    for _ in 0..2 {
        let (parent, argv) = process(pid)?;
        let program = argv.first()?;
        let name = program.rsplit('/').next().unwrap_or(program);
        if name == "git" || name.starts_with("git-") {
            return Some(argv);
        }
        if !matches!(name, "sh" | "dash" | "bash" | "ash" | "busybox") {
            return None;
        }
        pid = parent;
    }
    None
}

#[cfg(not(unix))]
fn invoking_git_args() -> Option<Vec<String>> {
    None
}

/// The parent and the arguments of process `pid`.
#[cfg(unix)]
fn process(pid: u32) -> Option<(u32, Vec<String>)> {
    match (parent_of(pid), cmdline(pid)) {
        (Some(parent), Some(argv)) if !argv.is_empty() => Some((parent, argv)),
        _ => from_ps(pid),
    }
}

fn cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// The parent of `pid`, from `/proc/PID/stat`: "PID (COMM) STATE PPID …", where COMM
/// may itself hold spaces and parentheses, so the fields are counted from the last `)`.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// [`process`] where there is no `/proc`: POSIX `ps`.
fn from_ps(pid: u32) -> Option<(u32, Vec<String>)> {
    let out = std::process::Command::new("ps")
        .args(["-o", "ppid=", "-o", "args=", "-p", &pid.to_string()])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    parse_ps(&String::from_utf8_lossy(&out.stdout))
}

/// "  PPID ARGS…" as `ps -o ppid= -o args=` prints it.
fn parse_ps(line: &str) -> Option<(u32, Vec<String>)> {
    let mut words = line.split_whitespace();
    let parent = words.next()?.parse().ok()?;
    let argv: Vec<String> = words.map(str::to_owned).collect();
    (!argv.is_empty()).then_some((parent, argv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn finds_the_subcommand_past_git_options() {
        for (line, want) in [
            ("git add -A", Some("add")),
            (
                "/usr/bin/git -c a=b -C some/dir --no-pager add .",
                Some("add"),
            ),
            ("git --git-dir .git --work-tree=. stage f", Some("stage")),
            ("git --config-env a=B -P diff", Some("diff")),
            ("/usr/libexec/git-core/git-add -u", Some("add")),
            ("git --version", None),
            ("git-secrets filter-process", Some("secrets")),
            ("python3 x.py", None),
        ] {
            assert_eq!(subcommand(&args(line)).map(|(s, _)| s), want, "{line}");
        }
    }

    #[test]
    fn only_add_that_writes_the_index_stages() {
        for (line, want) in [
            ("git add -A", true),
            ("git -C x stage .env", true),
            ("git add -- --refresh", true),
            ("git add --refresh", false),
            ("git add -n .", false),
            ("git diff", false),
            ("git commit -a", false),
            ("git update-index --add x", false),
            ("git -c alias.a=add a x", false),
        ] {
            assert_eq!(is_staging(&args(line)), want, "{line}");
        }
    }

    #[test]
    fn archive_and_export_commands_are_recognised() {
        for (line, want) in [
            ("git archive -o x.tar HEAD", true),
            ("/usr/bin/git -C repo archive --format=zip HEAD", true),
            ("git archive --remote=../origin HEAD", true),
            ("git upload-archive /srv/repo.git", true),
            ("/usr/lib/git-core/git-upload-archive /srv/repo.git", true),
            ("git upload-archive--writer .", true),
            ("git checkout-index -a --prefix=/tmp/build/", true),
            ("git checkout-index --prefix /tmp/build/ -a", true),
            (
                "git checkout-index --temp --stage=2 -- .secrets/x.env",
                false,
            ),
            ("git checkout-index -f -- --prefix=x", false),
            ("git checkout main", false),
            ("git worktree add ../wt", false),
            ("git stash pop", false),
            ("git clone a b", false),
            ("git add archive", false),
            ("git-secrets archive", false),
        ] {
            assert_eq!(is_exporting(&args(line)), want, "{line}");
        }
    }

    #[test]
    fn checkout_and_restore_name_a_conflict_style() {
        use crate::markers::Style::{Diff3, Merge, Zdiff3};
        for (line, want) in [
            ("git checkout --conflict=diff3 -- x.env", Some(Diff3)),
            ("git checkout --conflict zdiff3 x.env", Some(Zdiff3)),
            (
                "git restore --conflict=diff3 --conflict=merge x.env",
                Some(Merge),
            ),
            ("git checkout -m x.env", None),
            ("git checkout -- --conflict=diff3", None),
        ] {
            let argv = args(line);
            let (_, rest) = subcommand(&argv).unwrap();
            assert_eq!(
                conflict_style_in(rest.iter().map(String::as_str)),
                want,
                "{line}"
            );
        }
    }

    #[test]
    fn strategy_options_name_the_favoured_side() {
        use crate::envmerge::Favour::{Ours, Theirs};
        for (line, want) in [
            ("git merge -X theirs topic", Some(Theirs)),
            ("git merge -Xours topic", Some(Ours)),
            (
                "/usr/bin/git -C r pull --strategy-option=theirs origin main",
                Some(Theirs),
            ),
            ("git rebase --strategy-option ours main", Some(Ours)),
            ("git cherry-pick -X patience -X theirs abc", Some(Theirs)),
            ("git merge -X ours -X theirs topic", Some(Theirs)),
            ("git revert -Xtheirs HEAD", Some(Theirs)),
            ("git merge -X patience topic", None),
            ("git merge topic", None),
            ("git merge -- -Xtheirs", None),
            ("git checkout -X theirs", None),
            ("git-merge -X theirs topic", Some(Theirs)),
        ] {
            let argv = args(line);
            let got = subcommand(&argv)
                .filter(|(sub, _)| {
                    matches!(*sub, "merge" | "pull" | "rebase" | "cherry-pick" | "revert")
                })
                .and_then(|(_, rest)| favour_in(rest.iter().map(String::as_str)));
            assert_eq!(got, want, "{line}");
        }
    }

    #[test]
    fn reads_a_ps_line() {
        assert_eq!(
            parse_ps("  4242 /usr/bin/git -C x add -A\n"),
            Some((4242, args("/usr/bin/git -C x add -A")))
        );
        assert_eq!(parse_ps(""), None);
        assert_eq!(parse_ps("12\n"), None);
        assert_eq!(parse_ps("PPID ARGS\n"), None);
    }

    #[cfg(unix)]
    #[test]
    fn reads_this_process_tree() {
        let me = std::process::id();
        let (parent, argv) = process(me).unwrap();
        assert_eq!(parent, std::os::unix::process::parent_id());
        assert!(argv[0].contains("git_secrets"), "{argv:?}");
    }

    // The fallback where there is no /proc agrees with it (where both exist; ps joins
    // the arguments with spaces).
    #[cfg(target_os = "linux")]
    #[test]
    fn ps_agrees_with_proc() {
        let me = std::process::id();
        let (parent, argv) = process(me).unwrap();
        match from_ps(me) {
            Some((p, a)) => assert_eq!((p, a.join(" ")), (parent, argv.join(" "))),
            None => eprintln!("no `ps` on this machine: the fallback is not compared"),
        }
    }
}
