//! `git secrets check [REV-RANGE]`: the server-side guard, for CI and pre-receive hooks.
//! The checks of the pre-commit hook that need no key (plaintext .env files, secret files
//! not in encrypted form, private keys, values sealed under a retired key) over every
//! commit of a range, or every file of HEAD, and over a tree or a blob the range names
//! (a ref may point at one). With an identity that can read secrets here, the plaintext
//! of those values is looked for too (in files, and in commit and tag messages), and
//! sealed files must open. Replace refs (`refs/replace/*`) are never followed.

use clap::Args;

use crate::error::Error;
use crate::git::Repo;
use crate::guard;

/// Fail if any commit holds plaintext secrets (for CI and pre-receive hooks).
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The commits to check, as `git rev-list` takes them (`origin/main..HEAD`,
    /// `OLD..NEW`, `NEW --not --all`). None: every file of HEAD.
    #[arg(value_name = "REV-RANGE", allow_hyphen_values = true)]
    revs: Vec<String>,
}

/// The options of `git rev-list` a range may use: enough for pre-receive hooks
/// (`NEW --not --all`), and nothing that writes or changes the output format.
const RANGE_OPTIONS: &[&str] = &["--not", "--all", "--branches", "--tags", "--remotes"];

/// The repository here: a work tree, or a bare repository (where pre-receive runs).
fn repo_here() -> Result<Repo, Error> {
    Repo::discover().or_else(|e| {
        let cwd = std::env::current_dir().map_err(|source| Error::Io {
            path: ".".into(),
            source,
        })?;
        let here = Repo { root: cwd };
        match here.git(&["rev-parse", "--is-bare-repository"]) {
            Ok(out) if out.starts_with(b"true") => Ok(here),
            _ => Err(e),
        }
    })
}

pub fn cmd_check(args: CheckArgs) -> Result<(), Error> {
    if let Some(bad) = args
        .revs
        .iter()
        .find(|r| r.starts_with('-') && !RANGE_OPTIONS.contains(&r.as_str()))
    {
        return Err(super::usage(format!(
            "`{bad}` is not a revision range (options allowed: {})",
            RANGE_OPTIONS.join(", ")
        )));
    }
    let repo = repo_here()?;
    let report = guard::check_history(&repo, &args.revs)?;
    super::hook::warn_message_values(&report);
    let mut text = String::new();
    for f in &report.findings {
        let commit = f.commit.as_deref().unwrap_or("index");
        let short = &commit[..commit.len().min(12)];
        text.push_str(&format!(
            "{short} {}: {}\n    fix: {}\n",
            f.path, f.reason, f.fix
        ));
    }
    super::out(&text)?;
    let scope = if args.revs.is_empty() {
        "the files of HEAD".to_owned()
    } else if report.objects > 0 {
        format!(
            "{} commit(s) and {} tree(s) or blob(s) named by the range",
            report.commits, report.objects
        )
    } else {
        format!("{} commit(s)", report.commits)
    };
    let values = match report.values_searched {
        Some(n) => format!("; also searched for {n} secret value(s) this identity can read"),
        None => String::new(),
    };
    if report.findings.is_empty() {
        eprintln!("git-secrets: checked {scope}: no plaintext secrets{values}");
        return Ok(());
    }
    let mut commits: Vec<&str> = report
        .findings
        .iter()
        .filter_map(|f| f.commit.as_deref())
        .collect();
    commits.dedup();
    Err(Error::Refused {
        message: format!(
            "checked {scope}: {} problem(s) in {} commit(s) (listed above){values}",
            report.findings.len(),
            commits.len()
        ),
        hint: "a commit that was pushed cannot be fixed by a new commit alone: rewrite the branch before it is merged (`git rebase -i`), and change any secret or key that was exposed".into(),
    })
}
