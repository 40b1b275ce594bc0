//! The masked diff driver (`diff.secrets.textconv`) and `git secrets diff` through the
//! real git: key names, masked values and fingerprints, never a value or a token.

use std::path::{Path, PathBuf};

use crate::common::*;

const OLD: &str = "# private note xyz\nKEEP=sk-live-unchanged-123\nCHANGE=hunter2-old-pass\nGONE=gone-value-456\nPIN=1234\n";
const NEW: &str = "# private note xyz\nKEEP=sk-live-unchanged-123\nCHANGE=hunter2-new-pass\nADDED=added-value-789\nPIN=1235\n";
const API: &str = "export API_TOKEN='api-token-secret-1'\n";
/// Every plaintext value and comment above: none may appear in any diff output.
const SECRETS: &[&str] = &[
    "private note",
    "sk-live-unchanged",
    "hunter2",
    "gone-value",
    "added-value",
    "api-token-secret",
    "1234",
    "1235",
];
const FILE: &str = ".secrets/production.env";

/// Alice's repository: OLD committed, then NEW in the work tree (not staged).
fn setup() -> (Env, PathBuf) {
    let env = Env::new();
    let repo = env.repo("repo", &["--envs", "development,production"]);
    write(repo.join(FILE), OLD);
    write(repo.join(".secrets/api/production.env"), API);
    env.commit_all(&repo, "secrets");
    write(repo.join(FILE), NEW);
    (env, repo)
}

fn assert_no_leak(out: &str) {
    let text = without_hex_ids(out);
    for s in SECRETS {
        assert!(!text.contains(s), "output reveals {s:?}:\n{out}");
    }
    assert!(!out.contains("gs1:"), "output shows ciphertext:\n{out}");
}

/// `out` with every run of 12 or more hex digits (object ids, fingerprints, view ids)
/// cut out: a short value such as `1234` turns up inside them by chance.
fn without_hex_ids(out: &str) -> String {
    let mut text = String::with_capacity(out.len());
    let mut run = String::new();
    for c in out.chars().chain(std::iter::once('\n')) {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        if run.len() < 12 {
            text.push_str(&run);
        }
        run.clear();
        text.push(c);
    }
    text.pop();
    text
}

/// The `+`/`-` lines of a patch (not the `+++`/`---` headers).
fn changed_lines(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            (l.starts_with('+') && !l.starts_with("+++"))
                || (l.starts_with('-') && !l.starts_with("---"))
        })
        .collect()
}

/// The changed lines as (sign, key), fingerprints left out, sorted.
fn changed_keys(out: &str) -> Vec<(char, String)> {
    let mut keys: Vec<(char, String)> = changed_lines(out)
        .iter()
        .map(|l| {
            let (sign, rest) = l.split_at(1);
            let key = rest.split(" = ").next().unwrap().to_owned();
            (sign.chars().next().unwrap(), key)
        })
        .collect();
    keys.sort();
    keys
}

/// What Alice's OLD → NEW change must look like: exactly these keys, masked.
fn assert_masked_change(out: &str, fp: &str) {
    assert_no_leak(out);
    assert_eq!(
        changed_keys(out),
        [
            ('+', "ADDED".to_owned()),
            ('+', "CHANGE".to_owned()),
            ('+', "PIN".to_owned()),
            ('-', "CHANGE".to_owned()),
            ('-', "GONE".to_owned()),
            ('-', "PIN".to_owned()),
        ],
        "{out}"
    );
    for line in changed_lines(out) {
        assert!(
            line.contains(&format!(" = ******** {fp}:")),
            "{line}\n{out}"
        );
    }
}

// Guards: git diff (work tree), --cached, log -p and show mask every value, show the
// changed keys only, and never print a value, a comment or a token.
#[test]
fn git_diff_log_and_show_mask_values() {
    let (env, repo) = setup();
    let out = env.git(&repo, &["diff"]).ok().stdout;
    assert_masked_change(&out, "fp");
    // The unchanged key is context, not a change.
    assert!(out.contains("\n KEEP = ******** fp:"), "{out}");
    env.git(&repo, &["add", "-A"]).ok();
    assert_masked_change(&env.git(&repo, &["diff", "--cached"]).ok().stdout, "fp");
    env.git(&repo, &["commit", "-q", "-m", "change"]).ok();
    assert_masked_change(&env.git(&repo, &["show"]).ok().stdout, "fp");
    let log = env.git(&repo, &["log", "-p"]).ok().stdout;
    assert_no_leak(&log);
    assert!(log.contains("+export API_TOKEN = ******** fp:"), "{log}");
    assert!(log.contains("+# ******** fp:"), "{log}");
    assert_masked_change(
        &env.git(&repo, &["diff", "HEAD~1", "HEAD", "--", FILE])
            .ok()
            .stdout,
        "fp",
    );
}

// Guards: a low-entropy value (PIN=1234) is not given away by an unkeyed hash: the
// fingerprint is not SHA-256 of the value, and differs between repositories (keys).
#[test]
fn fingerprints_are_keyed() {
    let (env, repo) = setup();
    let other = env.repo("other", &["--envs", "development,production"]);
    write(other.join(FILE), OLD);
    env.commit_all(&other, "same values, other key");
    let fp_of = |repo: &Path, key: &str| {
        let out = env.git(repo, &["show", "HEAD", "--", FILE]).ok().stdout;
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("+{key} = ")))
            .unwrap_or_else(|| panic!("{key} in\n{out}"))
            .to_owned();
        line.rsplit("fp:").next().unwrap().to_owned()
    };
    let (a, b) = (fp_of(&repo, "PIN"), fp_of(&other, "PIN"));
    assert_eq!(a.len(), 12, "{a}");
    assert_ne!(
        a, b,
        "the same value under two keys must not share a fingerprint"
    );
    let out = env
        .run(
            "sh",
            &repo,
            &[
                "-c",
                "printf 1234 | sha256sum; printf 'PIN=1234' | sha256sum",
            ],
        )
        .ok()
        .stdout;
    assert!(!out.contains(&a), "unkeyed hash:\n{out}");
}

// Guards: without access (a clone with no identity, whose own `git secrets unlock`
// fails), the textconv configured by hand shows key names and fingerprints of the sealed
// values; no plaintext and no token, with the filter configured or not.
#[test]
fn without_access_key_names_and_sealed_fingerprints_only() {
    let (env, repo) = setup();
    env.commit_all(&repo, "change");
    let bob = env.person("bob");
    bob.git(env.path(), &["clone", "-q", repo.to_str().unwrap(), "bob"])
        .ok();
    let clone = env.path().join("bob");
    bob.secrets(&clone, &["unlock"]).fails();
    let textconv = format!("\"{}\" textconv", bin().display());
    bob.git(&clone, &["config", "diff.secrets.textconv", &textconv])
        .ok();
    for with_filter in [false, true] {
        if with_filter {
            let process = format!("\"{}\" filter-process", bin().display());
            bob.git(&clone, &["config", "filter.secrets.process", &process])
                .ok();
        }
        let show = bob.git(&clone, &["show"]).ok();
        assert_masked_change(&show.stdout, "sealed");
        assert_no_leak(&show.stderr);
        let log = bob.git(&clone, &["log", "-p"]).ok().stdout;
        assert_no_leak(&log);
        assert!(
            log.contains("+export API_TOKEN = ******** sealed:"),
            "{log}"
        );
        // Editing a locked file shows the key, not the tokens.
        let locked = read(clone.join(FILE));
        assert!(locked.contains("\nKEEP=gs1:"), "{locked}");
        write(clone.join(FILE), &locked.replace("\nKEEP=", "\nKEEP2="));
        let diff = bob.git(&clone, &["diff"]).ok().stdout;
        assert_no_leak(&diff);
        assert_eq!(
            changed_keys(&diff),
            [('+', "KEEP2".to_owned()), ('-', "KEEP".to_owned())],
            "{diff}"
        );
        bob.git(&clone, &["checkout", "--", FILE]).ok();
    }
}

// Guards: with diff.secrets.cachetextconv on, the output and the cache git writes
// (refs/notes/textconv/secrets) hold no plaintext, and the cached output is the same.
#[test]
fn cachetextconv_is_safe() {
    let (env, repo) = setup();
    env.commit_all(&repo, "change");
    let cached = ["-c", "diff.secrets.cachetextconv=true", "log", "-p"];
    let first = env.git(&repo, &cached).ok().stdout;
    let notes = env
        .git(&repo, &["notes", "--ref=textconv/secrets", "list"])
        .ok()
        .stdout;
    assert!(notes.lines().count() >= 3, "no cache was written:\n{notes}");
    let second = env.git(&repo, &cached).ok().stdout;
    assert_eq!(first, second);
    assert_no_leak(&first);
    assert_masked_change(
        &env.git(&repo, &["-c", "diff.secrets.cachetextconv=true", "show"])
            .ok()
            .stdout,
        "fp",
    );
    let stored = env
        .git(&repo, &["log", "-p", "refs/notes/textconv/secrets"])
        .ok()
        .stdout;
    assert!(stored.contains("CHANGE = ******** fp:"), "{stored}");
    assert_no_leak(&stored);
}

// Guards: a value re-sealed under a new key by a rotation, but not changed, shows no
// change to a reader with access, though the stored blob changed.
#[test]
fn a_rotation_shows_no_change() {
    let (env, repo) = setup();
    env.commit_all(&repo, "change");
    // Cache the textconv output of the blobs sealed before the rotation.
    env.git(
        &repo,
        &["-c", "diff.secrets.cachetextconv=true", "log", "-p"],
    )
    .ok();
    let before = blob(&env, &repo, &format!("HEAD:{FILE}"));
    env.secrets(&repo, &["rotate", "--env", "production"]).ok();
    env.commit_all(&repo, "rotate");
    let after = blob(&env, &repo, &format!("HEAD:{FILE}"));
    assert_ne!(before, after, "the rotation did not re-seal the file");
    let show = env.git(&repo, &["show", "--", FILE]).ok().stdout;
    assert_eq!(changed_lines(&show), Vec::<&str>::new(), "{show}");
    // Across the rotation only the real change shows, also with the output of the
    // older blobs taken from the cache.
    for args in [
        &["diff", "HEAD~2", "HEAD", "--", FILE][..],
        &[
            "-c",
            "diff.secrets.cachetextconv=true",
            "diff",
            "HEAD~2",
            "HEAD",
            "--",
            FILE,
        ],
    ] {
        assert_masked_change(&env.git(&repo, args).ok().stdout, "fp");
    }
}

// Guards: the textconv tells the environment from the names git gives its temporary
// files, and without one shows `fp:?` rather than an unkeyed hash or the value.
#[test]
fn textconv_reads_the_environment_from_git_temp_names() {
    let (env, repo) = setup();
    let expected = env.git(&repo, &["diff"]).ok().stdout;
    let pin = expected
        .lines()
        .find(|l| l.starts_with("+PIN = "))
        .expect("PIN line")
        .trim_start_matches('+')
        .to_owned();
    for name in ["git-blob-Ab12Cd/production.env", "Ab12Cd_production.env"] {
        let path = env.path().join("tmp").join(name);
        write(&path, NEW);
        let out = env
            .secrets(&repo, &["textconv", path.to_str().unwrap()])
            .ok();
        assert!(out.stdout.lines().any(|l| l == pin), "{name}: {out:#?}");
        assert_no_leak(&out.stdout);
    }
    let path = env.path().join("tmp/copy-of-production.env");
    write(&path, NEW);
    let out = env
        .secrets(&repo, &["textconv", path.to_str().unwrap()])
        .ok();
    assert!(out.stdout.contains("PIN = ******** fp:?\n"), "{out:#?}");
    assert!(out.stderr.contains("fp:?"), "{out:#?}");
    assert_no_leak(&out.stdout);
    assert_no_leak(&out.stderr);
}

// Guards: `git secrets diff` is the masked `git diff` (arguments passed on); --show
// reveals old and new values of changed keys only with --yes, and refuses without a
// terminal.
#[test]
fn secrets_diff_masks_and_show_reveals() {
    let (env, repo) = setup();
    let masked = env.secrets(&repo, &["diff"]).ok();
    assert_masked_change(&masked.stdout, "fp");
    // Paths after `--` are paths, also when `--` comes first.
    let one = env
        .secrets(&repo, &["diff", "--show", "--yes", "--", FILE])
        .ok()
        .stdout;
    assert!(one.contains("+CHANGE=hunter2-new-pass\n"), "{one}");
    let other = ["diff", "--show", "--yes", "--", ".secrets/api"];
    assert_eq!(env.secrets(&repo, &other).ok().stdout, "");
    env.git(&repo, &["add", "-A"]).ok();
    assert_eq!(env.secrets(&repo, &["diff"]).ok().stdout, "");
    assert_masked_change(&env.secrets(&repo, &["diff", "--cached"]).ok().stdout, "fp");
    let refused = env.secrets(&repo, &["diff", "--show", "--cached"]).fails();
    assert!(refused.stderr.contains("--yes"), "{refused:#?}");
    assert_eq!(refused.stdout, "");
    assert_no_leak(&refused.stderr);
    let shown = env
        .secrets(&repo, &["diff", "--show", "--yes", "--cached"])
        .ok()
        .stdout;
    assert_eq!(
        shown,
        "diff .secrets/production.env (production)\n\
         -CHANGE=hunter2-old-pass\n+CHANGE=hunter2-new-pass\n\
         +ADDED=added-value-789\n\
         -PIN=1234\n+PIN=1235\n\
         -GONE=gone-value-456\n"
    );
    env.git(&repo, &["commit", "-q", "-m", "change"]).ok();
    let shown = env
        .secrets(&repo, &["diff", "--show", "--yes", "HEAD~1", "HEAD"])
        .ok()
        .stdout;
    assert!(shown.contains("+CHANGE=hunter2-new-pass\n"), "{shown}");
    assert!(!shown.contains("KEEP") && !shown.contains("api"), "{shown}");
}

// Guards: init/unlock configure the diff driver (cached, named after the view), lock
// removes it.
#[test]
fn unlock_configures_and_lock_removes_the_driver() {
    let (env, repo) = setup();
    let get = |env: &Env| {
        env.git(
            &repo,
            &["config", "--local", "--get", "diff.secrets.textconv"],
        )
    };
    let command = get(&env).ok().stdout;
    assert!(command.contains("\" textconv --view "), "{command}");
    let cache = env.git(
        &repo,
        &["config", "--local", "--get", "diff.secrets.cachetextconv"],
    );
    assert_eq!(cache.ok().stdout, "true\n");
    env.commit_all(&repo, "change");
    env.secrets(&repo, &["lock"]).ok();
    get(&env).fails();
    env.secrets(&repo, &["unlock"]).ok();
    get(&env).ok();
}

// Guards: `git secrets diff` in an unlocked clone uses the configured textconv, so the
// cache `git log -p` filled is kept (git drops it when the command line differs).
#[test]
fn secrets_diff_keeps_the_cache() {
    let (env, repo) = setup();
    env.commit_all(&repo, "change");
    env.git(&repo, &["log", "-p"]).ok();
    let validity = |env: &Env| {
        env.git(
            &repo,
            &["log", "-1", "--format=%B", "refs/notes/textconv/secrets"],
        )
        .ok()
        .stdout
    };
    let command = env
        .git(&repo, &["config", "--get", "diff.secrets.textconv"])
        .ok()
        .stdout;
    assert_eq!(validity(&env).trim_end(), command.trim_end());
    let out = env.secrets(&repo, &["diff", "HEAD~1", "HEAD"]).ok().stdout;
    assert_no_leak(&out);
    assert!(out.contains("CHANGE = ******** fp:"), "{out}");
    assert_eq!(validity(&env).trim_end(), command.trim_end());
}

// Guards the leak check itself: a value in a masked line is still caught; the same digits
// inside an object id or fingerprint are not a leak.
#[test]
fn the_leak_check_skips_only_hex_ids() {
    assert_eq!(
        without_hex_ids("+PIN = 1234 fp:ab12cd34ef56\nb/f7b1e6123498d515135473023228e4d5c875059a"),
        "+PIN = 1234 fp:\nb/"
    );
    let caught = std::panic::catch_unwind(|| assert_no_leak("+PIN = 1234\n"));
    assert!(
        caught.is_err(),
        "a short value in plain sight must be caught"
    );
}

// Guards: `git blame FILE` on the work tree blames each unchanged line on its commit and
// only the edited lines on the work tree, showing the masked view (git hands the clean
// filter the work tree's textconv; it comes back as it is), never a value or a token.
#[test]
fn blame_of_the_work_tree_shows_masked_lines_on_their_commits() {
    let (env, repo) = setup();
    write(repo.join(FILE), OLD);
    let out = env.git(&repo, &["blame", FILE]).ok().stdout;
    assert_no_leak(&out);
    assert!(!out.contains("Not Committed Yet"), "{out}");
    assert_eq!(out.lines().count(), 5, "{out}");
    write(repo.join(FILE), NEW);
    let out = env.git(&repo, &["blame", FILE]).ok().stdout;
    assert_no_leak(&out);
    let edited: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("Not Committed Yet"))
        .collect();
    // CHANGE, ADDED (GONE's line went) and PIN changed; the comment and KEEP did not.
    assert_eq!(edited.len(), 3, "{out}");
    for key in ["CHANGE =", "ADDED =", "PIN ="] {
        assert!(edited.iter().any(|l| l.contains(key)), "{key}: {out}");
    }
    assert!(env
        .git(&repo, &["status", "--porcelain"])
        .ok()
        .stdout
        .contains(FILE));
}

// Guards: during a merge conflict in a secret file, `diff --show` shows the file once,
// its two sides from the index (ours -> theirs), unlocked or locked (where the work-tree
// file holds the sealed conflict), rather than failing twice on the markers.
#[test]
fn secrets_diff_show_reveals_both_sides_of_a_conflict_once() {
    let (env, repo) = setup();
    env.git(&repo, &["checkout", "-q", "-b", "side"]).ok();
    env.commit_all(&repo, "side");
    env.git(&repo, &["checkout", "-q", "main"]).ok();
    write(
        repo.join(FILE),
        &OLD.replace("hunter2-old-pass", "main-pass-2"),
    );
    env.commit_all(&repo, "main");
    let locked = clone(&env, &repo, "locked");
    let expected =
        "diff .secrets/production.env (production): in a merge conflict, ours -> theirs\n\
         -CHANGE=main-pass-2\n+CHANGE=hunter2-new-pass\n\
         +ADDED=added-value-789\n\
         -PIN=1234\n+PIN=1235\n\
         -GONE=gone-value-456\n";
    env.git(&repo, &["merge", "-q", "side"]).fails();
    let shown = env.secrets(&repo, &["diff", "--show", "--yes"]).ok();
    assert_eq!(shown.stdout, expected);
    env.git(&locked, &["merge", "-q", "origin/side"]).fails();
    assert!(
        read(locked.join(FILE)).contains("<<<<<<<"),
        "a sealed conflict"
    );
    let shown = env.secrets(&locked, &["diff", "--show", "--yes"]).ok();
    assert_eq!(shown.stdout, expected);
}
