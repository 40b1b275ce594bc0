//! `git secrets hook pre-commit` (and `pre-merge-commit`): what the installed hooks run,
//! also usable from husky, lefthook or the pre-commit framework. It checks the staged
//! blobs, not the work tree, and blocks the commit with one line per problem.

use clap::{Args, ValueEnum};

use crate::error::Error;
use crate::git::Repo;
use crate::guard;

/// Check the staged files for plaintext secrets (run by the git hooks).
#[derive(Args, Debug)]
pub struct HookArgs {
    /// The hook git is running.
    #[arg(value_enum)]
    hook: HookName,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum HookName {
    PreCommit,
    PreMergeCommit,
}

pub fn cmd_hook(args: HookArgs) -> Result<(), Error> {
    let repo = Repo::discover()?;
    let report = guard::check_index(&repo)?;
    if report.findings.is_empty() {
        return Ok(());
    }
    let what = match args.hook {
        HookName::PreCommit => "commit",
        HookName::PreMergeCommit => "merge commit",
    };
    // All on stderr: git shows a hook's stderr to the user.
    let mut text = format!("git-secrets: this {what} would put secrets in git:\n");
    for f in &report.findings {
        text.push_str(&format!("  {}: {}\n    fix: {}\n", f.path, f.reason, f.fix));
    }
    eprint!("{text}");
    Err(Error::Refused {
        message: format!(
            "{what} blocked: {} problem(s) in the staged files (listed above); nothing was committed",
            report.findings.len()
        ),
        hint: "fix each file as said, `git add` it, and commit again".into(),
    })
}
