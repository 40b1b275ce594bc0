//! `git secrets hook pre-commit` (and `pre-merge-commit`): what the installed hooks run,
//! also usable from husky, lefthook or the pre-commit framework. It checks the staged
//! blobs, not the work tree, and blocks the commit with one line per problem.
//!
//! `git secrets hook post-commit` caches the masked diff of the secret files the commit
//! changed (crate::diffcache), and `post-merge` and `post-rewrite` (a pull, a merge, a
//! rebase) that of the commits they brought (`ORIG_HEAD..HEAD`), so `git log -p` over
//! them starts no textconv process. These never fail: the work is done already.

use clap::{Args, ValueEnum};

use crate::diffcache;
use crate::error::Error;
use crate::git::Repo;
use crate::guard;
use crate::workspace::Workspace;

/// Check the staged files for plaintext secrets (run by the git hooks).
#[derive(Args, Debug)]
pub struct HookArgs {
    /// The hook git is running.
    #[arg(value_enum)]
    hook: HookName,
    /// The arguments git gave the hook (post-rewrite: `amend` or `rebase`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

/// git's names for its hooks (the command line takes them as `pre-commit` …).
#[allow(clippy::enum_variant_names)]
#[derive(ValueEnum, Clone, Copy, Debug)]
enum HookName {
    PreCommit,
    PreMergeCommit,
    PostCommit,
    PostMerge,
    PostRewrite,
}

pub fn cmd_hook(args: HookArgs) -> Result<(), Error> {
    let what = match args.hook {
        HookName::PreCommit => "commit",
        HookName::PreMergeCommit => "merge commit",
        HookName::PostCommit => {
            cache_committed_views();
            return Ok(());
        }
        // An amend was cached by post-commit.
        HookName::PostRewrite if args.args.first().is_some_and(|a| a == "amend") => return Ok(()),
        HookName::PostMerge | HookName::PostRewrite => {
            cache_new_history();
            return Ok(());
        }
    };
    let repo = Repo::discover()?;
    let report = guard::check_index(&repo)?;
    if report.findings.is_empty() {
        // What the post-commit hook will cache (a merge commit's own diff is not shown
        // by `git log -p`).
        if let HookName::PreCommit = args.hook {
            diffcache::remember_for_commit(&repo, &report.staged_secrets);
        }
        return Ok(());
    }
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

/// Caches the masked views of the blobs the pre-commit hook let through. Run after every
/// commit, rebase picks included, so no process is started to find the repository: git
/// runs hooks in the top level of the work tree, and the list is found from there (none:
/// nothing to do).
fn cache_committed_views() {
    let Ok(root) = std::env::current_dir() else {
        return;
    };
    let blobs = diffcache::take_remembered(&root);
    if !blobs.is_empty() {
        cache_views(Repo { root }, &blobs);
    }
}

/// Caches the masked views of the secret blobs of the commits a merge, a pull or a
/// rebase brought (`ORIG_HEAD..HEAD`, which git sets before each). Without ORIG_HEAD,
/// nothing is done.
fn cache_new_history() {
    let Ok(root) = std::env::current_dir() else {
        return;
    };
    let repo = Repo { root };
    match diffcache::log_blobs(&repo, "ORIG_HEAD..HEAD") {
        Ok(blobs) if !blobs.is_empty() => cache_views(repo, &blobs),
        _ => {}
    }
}

/// Adds the views of `blobs` (path, blob id) the cache lacks, under the textconv command
/// `unlock` configures for this identity's view. Failures are warnings.
fn cache_views(repo: Repo, blobs: &[(String, String)]) {
    let result = Workspace::open_repo(repo).and_then(|ws| {
        let validity = super::unlock::textconv_command(&ws)?;
        let cache = diffcache::Cache::read(&ws.repo, &validity)?;
        diffcache::fill(&ws, &cache, blobs, &Default::default())
    });
    if let Err(e) = result {
        diffcache::warn_unfilled(&e);
    }
}
