//! The masked diff's cache (refs/notes/textconv/secrets), filled by `unlock` and by the
//! post-commit, post-merge and post-rewrite hooks: the first `git log -p` of a fresh
//! clone, or over commits made, pulled or rebased in this clone, starts no textconv
//! process, and shows exactly what the textconv itself shows, with or without access to
//! an environment.

use std::path::{Path, PathBuf};

use crate::common::*;

const REF: &str = "refs/notes/textconv/secrets";
const PROD: &str = ".secrets/production.env";
const DEV: &str = ".secrets/development.env";
/// Every plaintext value of the history below.
const VALUES: &[&str] = &["prod-value-", "dev-value-", "a private comment"];

/// Alice's repository with a history: five commits changing production and development.
fn history() -> (Env, PathBuf) {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs", "development,production"]);
    for n in 0..5 {
        write(
            repo.join(PROD),
            &format!("# a private comment\nTOKEN=prod-value-{n}\nSTABLE=prod-value-stable\n"),
        );
        write(repo.join(DEV), &format!("TOKEN=dev-value-{n}\n"));
        env.commit_all(&repo, &format!("change {n}"));
    }
    (env, repo)
}

/// How many textconv processes git starts for `git args…` (from its trace).
fn textconv_runs(env: &Env, repo: &Path, args: &[&str]) -> usize {
    let out = env
        .run("env", repo, &[&["GIT_TRACE=1", "git"], args].concat())
        .ok();
    out.stderr
        .lines()
        .filter(|l| l.contains("run_command") && l.contains(" textconv"))
        .count()
}

/// The cached notes: (annotated blob, note text).
fn notes(env: &Env, repo: &Path) -> Vec<(String, String)> {
    let list = env.git(repo, &["notes", "--ref", REF, "list"]).ok().stdout;
    list.lines()
        .map(|l| {
            let (note, object) = l.split_once(' ').unwrap();
            let text = env.git(repo, &["cat-file", "blob", note]).ok().stdout;
            (object.to_owned(), text)
        })
        .collect()
}

/// Every secret blob of the history.
fn secret_blobs(env: &Env, repo: &Path) -> Vec<String> {
    let out = env
        .git(repo, &["rev-list", "--objects", "HEAD", "--", ".secrets/"])
        .ok()
        .stdout;
    let mut blobs: Vec<String> = out
        .lines()
        .filter(|l| l.ends_with(".env"))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect();
    blobs.sort();
    blobs
}

/// The cache answers the whole history: no textconv runs, and the output is the
/// textconv's own, byte for byte, with no value in it or in the notes.
fn assert_cache_is_exact(env: &Env, repo: &Path) {
    let mut cached: Vec<String> = notes(env, repo).into_iter().map(|(o, _)| o).collect();
    cached.sort();
    for blob in secret_blobs(env, repo) {
        assert!(
            cached.contains(&blob),
            "blob {blob} is not cached: {cached:?}"
        );
    }
    assert_eq!(textconv_runs(env, repo, &["log", "-p"]), 0);
    let from_cache = env.git(repo, &["log", "-p"]).ok().stdout;
    let computed = env
        .git(
            repo,
            &["-c", "diff.secrets.cachetextconv=false", "log", "-p"],
        )
        .ok()
        .stdout;
    assert_eq!(from_cache, computed);
    assert!(from_cache.contains("TOKEN = ********"), "{from_cache}");
    for (_, text) in notes(env, repo) {
        for v in VALUES {
            assert!(!text.contains(v), "a cached view reveals {v:?}:\n{text}");
        }
        assert!(
            !text.contains("gs1:"),
            "a cached view shows ciphertext:\n{text}"
        );
    }
}

// Guards: a fresh clone's unlock fills git's textconv cache with the view of every
// secret blob of the history, exactly as the textconv would print it.
#[test]
fn unlock_fills_the_cache_for_the_history() {
    let (env, repo) = history();
    let c = clone(&env, &repo, "clone");
    env.secrets(&c, &["unlock"]).ok();
    let subject = env.git(&c, &["log", "-1", "--format=%s", REF]).ok().stdout;
    let textconv = env
        .git(&c, &["config", "diff.secrets.textconv"])
        .ok()
        .stdout;
    assert_eq!(
        subject.trim(),
        textconv.trim(),
        "git would not trust the cache"
    );
    assert_cache_is_exact(&env, &c);
    // A second unlock has nothing to add and leaves the cache as it is.
    let before = env.git(&c, &["rev-parse", REF]).ok().stdout;
    env.secrets(&c, &["unlock"]).ok();
    assert_eq!(env.git(&c, &["rev-parse", REF]).ok().stdout, before);
}

// Guards: commits made in this clone are cached as they are made (the post-commit hook),
// each on top of the cache before it; a commit that skips the hooks is left for git.
#[test]
fn commits_made_here_are_cached_at_commit_time() {
    let (env, repo) = history();
    assert_cache_is_exact(&env, &repo);
    let before = env.git(&repo, &["rev-parse", REF]).ok().stdout;
    write(repo.join(DEV), "TOKEN=dev-value-next\n");
    env.commit_all(&repo, "one more");
    let parent = env
        .git(&repo, &["rev-parse", &format!("{REF}^")])
        .ok()
        .stdout;
    assert_eq!(parent, before, "added on top of the cache");
    assert_cache_is_exact(&env, &repo);
    write(repo.join(DEV), "TOKEN=dev-value-unhooked\n");
    env.git(&repo, &["commit", "-q", "--no-verify", "-am", "no hooks"])
        .ok();
    assert_eq!(textconv_runs(&env, &repo, &["log", "-p", "-1"]), 1);
    assert_cache_is_exact(&env, &repo);
}

// Guards: commits a pull brings, by fast-forward or with a merge, are cached by the
// post-merge hook.
#[test]
fn pulled_commits_are_cached_after_the_merge() {
    let (env, repo) = history();
    let c = clone(&env, &repo, "clone");
    env.secrets(&c, &["unlock"]).ok();
    for n in 5..7 {
        write(repo.join(PROD), &format!("TOKEN=prod-value-{n}\n"));
        env.commit_all(&repo, &format!("change {n}"));
    }
    pull(&env, &c, &repo);
    assert_cache_is_exact(&env, &c);
    write(c.join(DEV), "TOKEN=dev-value-mine\n");
    env.commit_all(&c, "mine");
    write(repo.join(PROD), "TOKEN=prod-value-theirs\n");
    env.commit_all(&repo, "theirs");
    pull(&env, &c, &repo);
    assert_eq!(
        env.git(&c, &["rev-list", "--count", "--merges", "HEAD"])
            .ok()
            .stdout
            .trim(),
        "1"
    );
    assert_cache_is_exact(&env, &c);
}

// Guards: a rebase (both backends) that merges secret files into new blobs has them
// cached by the post-rewrite hook.
#[test]
fn rebased_commits_are_cached_after_the_rebase() {
    let (env, repo) = history();
    for backend in ["--merge", "--apply"] {
        let branch = format!("feature{backend}");
        env.git(&repo, &["checkout", "-q", "-b", &branch, "main~1"])
            .ok();
        write(
            repo.join(DEV),
            &format!("TOKEN=dev-value-3\nEXTRA=dev-value-extra{backend}\n"),
        );
        env.commit_all(&repo, "extra");
        env.git(&repo, &["rebase", "-q", backend, "main"]).ok();
        let merged = read(repo.join(DEV));
        assert!(merged.starts_with("TOKEN=dev-value-4\nEXTRA="), "{merged}");
        assert_cache_is_exact(&env, &repo);
        env.git(&repo, &["checkout", "-q", "main"]).ok();
    }
}

// Guards: a member who reads only development gets production's sealed view from the
// cache, as the textconv shows it without the key.
#[test]
fn the_cache_of_a_member_without_access_is_the_sealed_view() {
    let (env, repo) = history();
    let (bob, b, id) = bob_joins(&env, &repo);
    approve_and_unlock(&env, &repo, &bob, &b, &id, "development");
    assert_cache_is_exact(&bob, &b);
    let log = bob.git(&b, &["log", "-p", "--", PROD]).ok().stdout;
    assert!(log.contains("TOKEN = ******** sealed:"), "{log}");
    let log = bob.git(&b, &["log", "-p", "--", DEV]).ok().stdout;
    assert!(log.contains("TOKEN = ******** fp:"), "{log}");
}

// Guards: views cached under another textconv command (another view of access) are
// not kept: the cache unlock writes holds only its own.
#[test]
fn a_cache_of_another_view_is_replaced() {
    let (env, repo) = history();
    let c = clone(&env, &repo, "clone");
    let head_blob = env
        .git(&c, &["rev-parse", &format!("HEAD:{PROD}")])
        .ok()
        .stdout
        .trim()
        .to_owned();
    env.git(
        &c,
        &["notes", "--ref", REF, "add", "-m", "stale view", &head_blob],
    )
    .ok();
    env.secrets(&c, &["unlock"]).ok();
    let cached = notes(&env, &c);
    let (_, text) = cached.iter().find(|(o, _)| *o == head_blob).unwrap();
    assert!(!text.contains("stale view"), "{text}");
    assert!(text.contains("TOKEN = ******** fp:"), "{text}");
    assert_cache_is_exact(&env, &c);
}

// Guards: a cache that cannot be written does not fail unlock; git then fills it as it
// goes, as before.
#[test]
fn a_cache_that_cannot_be_written_does_not_stop_unlock() {
    let (env, repo) = history();
    let c = clone(&env, &repo, "clone");
    // A ref below the cache's name: git cannot create the cache's ref beside it.
    env.git(&c, &["update-ref", &format!("{REF}/other"), "HEAD"])
        .ok();
    let out = env.secrets(&c, &["unlock"]).ok();
    assert!(
        out.stderr.contains("cache was not filled"),
        "{}",
        out.stderr
    );
    assert!(read(c.join(PROD)).contains("prod-value-4"));
    let status = env.git(&c, &["status", "--porcelain"]).ok().stdout;
    assert_eq!(status, "");
    let log = env.git(&c, &["log", "-p"]).ok().stdout;
    assert!(log.contains("TOKEN = ******** fp:"), "{log}");
}

// Guards: in a partial clone (`--filter=blob:none`) unlock fills the cache only from the
// blobs the clone holds: it fetches none of the history's (no `git fetch` started), and
// with the remote gone it prints none of git's `fatal:` lines and no empty warning.
#[test]
fn a_partial_clone_unlocks_without_fetching_the_history() {
    let (env, repo) = history();
    env.git(&repo, &["config", "uploadpack.allowFilter", "true"])
        .ok();
    env.git(&repo, &["config", "uploadpack.allowAnySHA1InWant", "true"])
        .ok();
    let url = format!("file://{}", repo.display());
    let partial_clone = |name: &str| {
        env.git(
            env.path(),
            &["clone", "-q", "--filter=blob:none", &url, name],
        )
        .ok();
        env.path().join(name)
    };
    let c = partial_clone("pc");
    let trace = env.path().join("trace.json");
    let trace_var = format!("GIT_TRACE2_EVENT={}", trace.display());
    env.run("env", &c, &[&trace_var, "git", "secrets", "unlock"])
        .ok();
    let events = read(&trace);
    let fetches = events
        .lines()
        .filter(|l| l.contains("\"child_start\"") && l.contains("\"fetch\""))
        .count();
    assert_eq!(fetches, 0, "unlock fetched the history's blobs");
    // The blobs it holds (HEAD's) are cached.
    let head_blob = env.git(&c, &["rev-parse", &format!("HEAD:{PROD}")]).ok();
    let cached: Vec<String> = notes(&env, &c).into_iter().map(|(o, _)| o).collect();
    assert!(
        cached.contains(&head_blob.stdout.trim().to_owned()),
        "{cached:?}"
    );
    // Offline: no fatal line, no warning.
    let c2 = partial_clone("pc2");
    std::fs::rename(&repo, env.path().join("gone")).unwrap();
    let out = env.secrets(&c2, &["unlock"]).ok();
    assert!(
        !out.stderr.contains("fatal:") && !out.stderr.contains("warning"),
        "{out:#?}"
    );
    assert_eq!(
        read(c2.join(DEV)),
        "TOKEN=dev-value-4\n",
        "HEAD's files are opened"
    );
}
