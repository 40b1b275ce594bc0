//! `git secrets hook pre-commit` (and `pre-merge-commit`, `pre-applypatch`): what the
//! installed hooks run, also usable from husky, lefthook or the pre-commit framework. It
//! checks the staged blobs, not the work tree, and blocks the commit with one line per
//! problem. `commit-msg` (and `applypatch-msg`, for `git am`) checks the message file
//! git gives it for the plaintext of secrets this identity can read.
//!
//! `git secrets hook pre-push` runs the checks of `git secrets check` over the commits
//! being pushed (what a rebase or a cherry-pick made without pre-commit), and blocks the
//! push; post-rewrite warns about the same right after a rebase or an amend.
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
    PreApplypatch,
    CommitMsg,
    ApplypatchMsg,
    PrePush,
    PostCommit,
    PostMerge,
    PostRewrite,
}

pub fn cmd_hook(args: HookArgs) -> Result<(), Error> {
    let what = match args.hook {
        HookName::PreCommit => "commit",
        HookName::PreMergeCommit => "merge commit",
        HookName::PreApplypatch => "patch (git am)",
        HookName::CommitMsg | HookName::ApplypatchMsg => return commit_msg(&args.args),
        HookName::PrePush => return pre_push(),
        HookName::PostCommit => {
            cache_committed_views();
            return Ok(());
        }
        HookName::PostRewrite => {
            warn_rewritten();
            // An amend was cached by post-commit.
            if args.args.first().is_none_or(|a| a != "amend") {
                cache_new_history();
            }
            return Ok(());
        }
        HookName::PostMerge => {
            cache_new_history();
            return Ok(());
        }
    };
    let repo = Repo::discover()?;
    refuse_interrupted(&repo, what)?;
    let report = guard::check_index(&repo)?;
    if report.findings.is_empty() {
        // What concluding a merge would lose of an environment renamed on one side.
        // And a key the merge lists twice, one side's value picked in silence.
        let mut lost = guard::merge::check_merge(&repo, guard::merge::Home::Staged)?;
        lost.extend(guard::doubled::check_staged(&repo)?);
        if !lost.is_empty() {
            let mut text =
                format!("git-secrets: this {what} would lose or strand secret values:\n");
            for f in &lost {
                text.push_str(&format!("  {}: {}\n    fix: {}\n", f.path, f.reason, f.fix));
            }
            eprint!("{text}");
            return Err(Error::Refused {
                message: format!(
                    "{what} blocked: {} problem(s) with the merge (listed above); nothing was committed",
                    lost.len()
                ),
                hint: "fix each file as said, and commit again".into(),
            });
        }
        // What the post-commit hook will cache (a merge commit's own diff is not shown
        // by `git log -p`).
        if let HookName::PreCommit = args.hook {
            diffcache::remember_for_commit(&repo, &report.staged_secrets);
        }
        return Ok(());
    }
    // All on stderr: git shows a hook's stderr to the user.
    let mut text =
        format!("git-secrets: this {what} would put secrets in git, or strand their values:\n");
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

/// Refuses a commit while a change that a crash interrupted in this checkout waits to
/// be completed or rolled back: committing now would commit it half done. A rotation
/// (`member remove`, `rotate` killed) leaves files sealed under keys a removed member
/// holds; an `env rename` or `env del`, access.json and config.toml out of step.
fn refuse_interrupted(repo: &Repo, what: &str) -> Result<(), Error> {
    let state = crate::journal::state_dir(repo)?;
    let (change, journal) = if let Some(journal) = crate::rotation::pending(&state) {
        (
            "a rotation (`member remove`, `keys revoke` or `rotate`)".to_owned(),
            journal,
        )
    } else if let Some((journal, change)) = crate::journal::pending(&state) {
        let change = change.unwrap_or_else(|| "`env rename` or `env del`".into());
        (format!("an environment change ({change})"), journal)
    } else {
        return Ok(());
    };
    Err(Error::Refused {
        message: format!(
            "{change} was interrupted in this checkout ({}): this {what} would hold it half done",
            journal.display()
        ),
        hint: "run `git secrets status` (any git-secrets command completes the change or rolls it back; no value is lost), then commit again".into(),
    })
}

/// The commit-msg check: the message file git names (the first argument) must not hold
/// the plaintext of a secret this identity can read.
fn commit_msg(args: &[String]) -> Result<(), Error> {
    let Some(file) = args.first() else {
        return Err(super::usage(
            "`git secrets hook commit-msg` takes the message file git gives the hook".into(),
        ));
    };
    let repo = Repo::discover()?;
    let path = std::path::Path::new(file);
    let message = zeroize::Zeroizing::new(std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?);
    let report = guard::check_message(&repo, &message)?;
    warn_message_values(&report);
    if report.findings.is_empty() {
        return Ok(());
    }
    let mut text = "git-secrets: this commit message would put a secret in git:\n".to_owned();
    for f in &report.findings {
        text.push_str(&format!("  {}: {}\n    fix: {}\n", f.path, f.reason, f.fix));
    }
    eprint!("{text}");
    Err(Error::Refused {
        message: "commit blocked: its message holds the plaintext of a secret (listed above); nothing was committed".into(),
        hint: "name the key in the message, not its value, and commit again".into(),
    })
}

/// Says the values found in messages that are likely not secrets (FORMAT.md §8.4): by
/// key and scope, never the value; they do not block.
pub(super) fn warn_message_values(report: &guard::Report) {
    // A refusal is the one message then.
    if report.warnings.is_empty() || !report.findings.is_empty() {
        return;
    }
    let mut text = "git-secrets: warning: a message mentions a stored value that is likely not a secret (not blocked):\n".to_owned();
    for f in &report.warnings {
        let at = f
            .commit
            .as_deref()
            .map(|c| format!("{} ", &c[..c.len().min(12)]));
        text.push_str(&format!(
            "  {}{}: {}\n    fix: {}\n",
            at.unwrap_or_default(),
            f.path,
            f.reason,
            f.fix
        ));
    }
    eprint!("{text}");
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

/// The all-zero id git gives for a ref that does not exist (a deletion, a new ref).
fn is_zero(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

/// The `git rev-list` arguments naming the commits a pre-push hook's stdin lines
/// (`<local ref> <local sha> <remote ref> <remote sha>`) push: each local commit but
/// what any remote-tracking ref already has and what the remote ref was. Deletions are
/// skipped; none at all: nothing to check.
pub fn pushed_revs(stdin: &str, known: &dyn Fn(&str) -> bool) -> Vec<String> {
    let mut tips = Vec::new();
    let mut not = Vec::new();
    for line in stdin.lines() {
        let [_, local, remote_ref, remote] = line.split_whitespace().collect::<Vec<_>>()[..] else {
            continue;
        };
        if is_zero(local) {
            continue;
        }
        tips.push(local.to_owned());
        // `refs/replace/<id>` makes every reader that honours replace refs see `local`
        // in place of commit <id>: the commit it hides is checked too (the checks
        // themselves never follow replace refs).
        if let Some(hidden) = remote_ref.strip_prefix("refs/replace/") {
            if hidden.bytes().all(|b| b.is_ascii_hexdigit()) && known(hidden) {
                tips.push(hidden.to_owned());
            }
        }
        // A remote sha this clone does not have (someone else's push) cannot be named.
        if !is_zero(remote) && known(remote) {
            not.push(remote.to_owned());
        }
    }
    if tips.is_empty() {
        return tips;
    }
    tips.push("--not".into());
    tips.push("--remotes".into());
    tips.extend(not);
    tips
}

/// The pre-push check: `git secrets check` over the commits being pushed. A rebase, a
/// cherry-pick or a `commit --no-verify` makes commits the pre-commit hook never saw;
/// this is the last point before others can read them.
fn pre_push() -> Result<(), Error> {
    let mut stdin = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut stdin).map_err(|source| {
        Error::Io {
            path: "stdin".into(),
            source,
        }
    })?;
    let repo = Repo::discover()?;
    let known = |id: &str| {
        repo.git(&["cat-file", "-e", &format!("{id}^{{commit}}")])
            .is_ok()
    };
    let revs = pushed_revs(&stdin, &known);
    if revs.is_empty() {
        return Ok(());
    }
    let report = guard::check_history(&repo, &revs)?;
    warn_message_values(&report);
    if report.findings.is_empty() {
        return Ok(());
    }
    let text = by_commit(
        "git-secrets: this push would put secrets in git, or strand their values:",
        &report,
    );
    eprint!("{text}");
    Err(Error::Refused {
        message: format!(
            "push blocked: {} problem(s) in the commits being pushed (listed above); nothing was pushed",
            report.findings.len()
        ),
        hint: "fix each file as said in the commit that holds it: for the last commit, `git add --renormalize -- PATH` and `git commit --amend`; for an older one, `git rebase -i` and amend it there; then push again (`git secrets check @{upstream}..HEAD` lists what is left)".into(),
    })
}

/// After a rebase or an amend: the keyless checks over the commits it wrote (only
/// those), so a file a rebase carried over under a retired key is said at once, not at
/// the push. A warning: the commits are made already.
fn warn_rewritten() {
    let mut stdin = String::new();
    if std::io::Read::read_to_string(&mut std::io::stdin(), &mut stdin).is_err() {
        return;
    }
    // "<old sha> <new sha> [extra]" per rewritten commit.
    let mut revs: Vec<String> = stdin
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|id| !is_zero(id))
        .map(str::to_owned)
        .collect();
    revs.dedup();
    if revs.is_empty() {
        return;
    }
    let Ok(root) = std::env::current_dir() else {
        return;
    };
    let repo = Repo { root };
    revs.insert(0, "--no-walk".into());
    let report = match guard::check_commits_keyless(&repo, &revs) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("git-secrets: warning: could not check the rewritten commits: {e}");
            return;
        }
    };
    if report.findings.is_empty() {
        return;
    }
    let mut text = by_commit(
        "git-secrets: warning: the rewritten commits hold secrets the push will refuse:",
        &report,
    );
    text.push_str("  then amend the commit that holds it (`git rebase -i` for an older one)\n");
    eprint!("{text}");
}

/// `header`, then each finding under the commit that holds it, with its fix.
fn by_commit(header: &str, report: &guard::Report) -> String {
    let mut text = format!("{header}\n");
    for f in &report.findings {
        let commit = f.commit.as_deref().unwrap_or("index");
        text.push_str(&format!(
            "  {} {}: {}\n    fix: {}\n",
            &commit[..commit.len().min(12)],
            f.path,
            f.reason,
            f.fix
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::pushed_revs;

    #[test]
    fn pushed_commits_are_named_for_rev_list() {
        let z = "0".repeat(40);
        let (a, b, c) = ("a".repeat(40), "b".repeat(40), "c".repeat(40));
        let have = |id: &str| id != c;
        // A new ref, an update, a deletion, an update over a commit not here.
        let stdin = format!(
            "refs/heads/new {a} refs/heads/new {z}\nrefs/heads/main {b} refs/heads/main {a}\n(delete) {z} refs/heads/old {b}\nrefs/heads/x {a} refs/heads/x {c}\n"
        );
        assert_eq!(
            pushed_revs(&stdin, &have),
            [&a, &b, &a, "--not", "--remotes", &a]
        );
        assert!(pushed_revs(&format!("(delete) {z} refs/heads/old {b}\n"), &have).is_empty());
        // A replace ref: the commit it stands in for is checked too, if it is here.
        assert_eq!(
            pushed_revs(&format!("{a} {a} refs/replace/{b} {z}\n"), &have),
            [&a, &b, "--not", "--remotes"]
        );
        assert_eq!(
            pushed_revs(&format!("{a} {a} refs/replace/{c} {z}\n"), &have),
            [&a, "--not", "--remotes"]
        );
        assert!(pushed_revs("\n", &have).is_empty());
    }
}
