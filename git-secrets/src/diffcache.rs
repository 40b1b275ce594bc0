//! git's cache of the masked diff, filled ahead of time.
//!
//! With `diff.secrets.cachetextconv` (set by `unlock`), git keeps the textconv output of
//! each blob as a note on it in `refs/notes/textconv/secrets`, and trusts those notes
//! only while the subject of the ref's commit is the textconv command as configured
//! (git's `notes-cache.c` calls it the validity; our command names the view, see
//! [`crate::diffview::view_id`]). git fills it a blob at a time, with a textconv
//! process each: the first `git log -p` of a fresh clone paid one process per blob of
//! the history, seconds for a few hundred. `unlock` fills it in one go instead
//! ([`fill`]), with what git would store: each blob smudged as the filter does
//! ([`crate::filter::smudged_form`]), then masked as the textconv does
//! ([`view_of_smudged`]).
//!
//! The notes hold only what the masked diff shows anyway: key names, masks and keyed
//! fingerprints, never a value ([`crate::diffview`]). The ref stays local (git pushes
//! no notes unless told to).
//!
//! Written with one `git fast-import`, by hand: `git notes add` is a process per note,
//! and no crate writes git's notes trees.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::diffview;
use crate::error::Error;
use crate::git::Repo;
use crate::workspace::Workspace;

/// The ref git keeps the cache of the `secrets` diff driver in.
pub const REF: &str = "refs/notes/textconv/secrets";

/// How far back [`history`] looks, in commits: enough for any `git log -p` a person
/// reads, and a bound on what `unlock` spends on a long history.
const HISTORY_COMMITS: usize = 2000;

/// Above this many notes, the tree is split by the first two hex digits of the
/// annotated id, as git splits its own notes trees (any split reads the same).
const FANOUT_AT: usize = 256;

/// The cache as it is now, for one validity (the textconv command).
pub struct Cache {
    validity: String,
    /// The ref's commit, if any: the parent of the next one, so that a write racing
    /// with git's own (a `git log -p` running meanwhile) fails instead of undoing it.
    tip: Option<String>,
    /// Whether the ref holds views of this validity (then `notes` lists them, and a
    /// write adds to its tree; otherwise a write replaces it).
    current: bool,
    /// Annotated blob id → note blob id, when the ref holds views of this validity.
    notes: HashMap<String, String>,
}

/// The cache's ref as it is now: its commit and that commit's subject (the validity its
/// views were made for), read before the validity to compare it with is known.
pub struct Head {
    tip: Option<String>,
    subject: String,
}

impl Head {
    pub fn read(repo: &Repo) -> Result<Head, Error> {
        let out = repo.git(&[
            "for-each-ref",
            "--format=%(refname) %(objectname) %(contents:subject)",
            REF,
        ])?;
        let text = String::from_utf8_lossy(&out);
        // The pattern also matches refs below REF's name: only REF itself counts.
        let ours = text
            .lines()
            .find_map(|l| l.strip_prefix(REF)?.strip_prefix(' '));
        Ok(match ours {
            Some(rest) => {
                let (tip, subject) = rest.split_once(' ').unwrap_or((rest, ""));
                Head {
                    tip: Some(tip.to_owned()),
                    subject: subject.trim().to_owned(),
                }
            }
            None => Head {
                tip: None,
                subject: String::new(),
            },
        })
    }
}

impl Cache {
    /// Reads the ref: its notes when its subject is `validity`, none otherwise (views of
    /// another command, which the next write drops).
    pub fn read(repo: &Repo, validity: &str) -> Result<Cache, Error> {
        Cache::at(repo, Head::read(repo)?, validity)
    }

    /// [`Cache::read`] of a ref already read.
    pub fn at(repo: &Repo, head: Head, validity: &str) -> Result<Cache, Error> {
        let mut notes = HashMap::new();
        let current = head.tip.is_some() && head.subject == validity;
        if current {
            let out = repo.git(&["notes", "--ref", REF, "list"])?;
            for line in String::from_utf8_lossy(&out).lines() {
                if let Some((note, object)) = line.split_once(' ') {
                    notes.insert(object.to_owned(), note.to_owned());
                }
            }
        }
        Ok(Cache {
            validity: validity.to_owned(),
            tip: head.tip,
            current,
            notes,
        })
    }

    /// Whether the view of `blob` is cached.
    pub fn has(&self, blob: &str) -> bool {
        self.notes.contains_key(blob)
    }

    /// Adds `views` (blob id, masked view) to the cache, as the ref's new commit under
    /// this cache's validity: on top of the notes already there when they are of this
    /// validity, in place of them otherwise.
    pub fn write(&self, repo: &Repo, views: &[(String, String)]) -> Result<(), Error> {
        let fresh: Vec<&(String, String)> = views
            .iter()
            .filter(|(object, _)| is_object_id(object) && !self.has(object))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        // The layout follows the count, as git's does; git reads notes at any depth, so
        // a tree that had fewer notes keeps its own layout for those.
        let kept = if self.current { self.notes.len() } else { 0 };
        let split = kept + fresh.len() > FANOUT_AT;
        let path = |oid: &str| match split {
            true => format!("{}/{}", &oid[..2], &oid[2..]),
            false => oid.to_owned(),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut s = format!(
            "commit {REF}\ncommitter git-secrets <git-secrets@localhost> {now} +0000\ndata {}\n{}\n",
            self.validity.len() + 1,
            self.validity
        );
        if let Some(tip) = &self.tip {
            s.push_str(&format!("from {tip}\n"));
        }
        if !self.current {
            s.push_str("deleteall\n");
        }
        for (object, view) in fresh {
            s.push_str(&format!(
                "M 100644 inline {}\ndata {}\n{view}\n",
                path(object),
                view.len()
            ));
        }
        s.push_str("done\n");
        repo.fast_import(&["--done"], s.as_bytes())?;
        Ok(())
    }
}

fn is_object_id(s: &str) -> bool {
    s.len() >= 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The secret files' blobs in HEAD's history (see [`log_blobs`]). Empty before the first
/// commit.
pub fn history(repo: &Repo) -> Result<Vec<(String, String)>, Error> {
    match log_blobs(repo, "HEAD") {
        // A branch with no commit yet has no history (asked only then: a process less).
        Err(_)
            if repo
                .git(&["rev-parse", "-q", "--verify", "HEAD^{commit}"])
                .is_err() =>
        {
            Ok(Vec::new())
        }
        other => other,
    }
}

/// The secret files' blobs of the commits `revs` names (as `git log` takes one argument:
/// `HEAD`, `ORIG_HEAD..HEAD`), its newest [`HISTORY_COMMITS`], merges included, each
/// with a path it had: (path, blob id), newest first, each blob once.
pub fn log_blobs(repo: &Repo, revs: &str) -> Result<Vec<(String, String)>, Error> {
    let limit = format!("-n{HISTORY_COMMITS}");
    // A partial clone may lack the trees too (`--filter=tree:0`): never fetched here
    // (reading only what the clone holds changes nothing in any other clone).
    let out = repo.git_local(&[
        "log",
        "-z",
        "--format=",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        "--root",
        "-m",
        &limit,
        revs,
        "--",
        ":(glob).secrets/**/*.env",
    ]);
    match out {
        Ok(out) => Ok(raw_blobs(&out)),
        // What the clone holds cannot be walked without fetching: nothing to cache.
        Err(_) if repo.is_partial_clone() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The file in the git directory where the pre-commit hook leaves the secret blobs of
/// the commit being made ([`remember_for_commit`]), for the post-commit hook to cache
/// ([`take_remembered`]): "<blob id> <path>\0" each. Not secret, and only a hint: a
/// lost or stale list costs a process per blob at the first `git log -p`, as without it.
const PENDING: &str = "git-secrets-diff-cache-pending";

/// Leaves `blobs` (path, blob id) for the post-commit hook, or clears the list.
pub fn remember_for_commit(repo: &Repo, blobs: &[(String, String)]) {
    let Some(path) = crate::git::git_dir(&repo.root).map(|d| d.join(PENDING)) else {
        return;
    };
    if blobs.is_empty() {
        let _ = std::fs::remove_file(&path);
        return;
    }
    let list: String = blobs
        .iter()
        .map(|(path, oid)| format!("{oid} {path}\0"))
        .collect();
    let _ = std::fs::write(&path, list);
}

/// The blobs [`remember_for_commit`] left (path, blob id) in the repository whose work
/// tree is `root`, and the list removed.
pub fn take_remembered(root: &Path) -> Vec<(String, String)> {
    let Some(path) = crate::git::git_dir(root).map(|d| d.join(PENDING)) else {
        return Vec::new();
    };
    let Ok(list) = std::fs::read(&path) else {
        return Vec::new();
    };
    let _ = std::fs::remove_file(&path);
    list.split(|&b| b == 0)
        .filter_map(|entry| {
            let (oid, path) = std::str::from_utf8(entry).ok()?.split_once(' ')?;
            is_object_id(oid).then(|| (path.to_owned(), oid.to_owned()))
        })
        .collect()
}

/// The blobs of `git log --raw -z` output, old and new side, with their path.
fn raw_blobs(out: &[u8]) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    let mut blobs = Vec::new();
    let mut fields = out.split(|&b| b == 0).map(|f| {
        String::from_utf8_lossy(f)
            .trim_start_matches('\n')
            .to_owned()
    });
    while let Some(field) = fields.next() {
        // ":<old mode> <new mode> <old id> <new id> <status>", then the path.
        let Some(meta) = field.strip_prefix(':') else {
            continue;
        };
        let Some(path) = fields.next() else { break };
        let parts: Vec<&str> = meta.split(' ').collect();
        let [old_mode, new_mode, old, new, _status] = parts[..] else {
            continue;
        };
        for (mode, oid) in [(new_mode, new), (old_mode, old)] {
            let blob =
                mode.starts_with("100") && is_object_id(oid) && oid.bytes().any(|b| b != b'0');
            if blob && seen.insert(oid.to_owned()) {
                blobs.push((path.clone(), oid.to_owned()));
            }
        }
    }
    blobs
}

/// What git's textconv prints for `smudged`, the work-tree form of a blob at `path`:
/// the masked view, with this identity's fingerprints for the path's environment (`fp:?`
/// where it has none, as the textconv does).
pub fn view_of_smudged(ws: &Workspace, path: &str, smudged: &[u8]) -> String {
    let chain = chain_of(ws, path);
    let view = diffview::masked(smudged, &mut fingerprints(&chain));
    view
}

/// [`view_of_smudged`] of a file already parsed (and opened): the same view, without
/// printing and parsing it again.
pub fn view_of_document(ws: &Workspace, path: &str, doc: &crate::dotenv::Document) -> String {
    let chain = chain_of(ws, path);
    let view = diffview::masked_doc(doc, &mut fingerprints(&chain));
    view
}

fn chain_of(ws: &Workspace, path: &str) -> Option<diffview::FingerprintChain> {
    diffview::env_of_textconv_path(Path::new(path))
        .and_then(|env| diffview::fingerprint_chain(ws, &env).ok().flatten())
}

fn fingerprints(
    chain: &Option<diffview::FingerprintChain>,
) -> impl FnMut(crate::seal::Kind<'_>, &str) -> Option<String> + '_ {
    move |kind, text| {
        chain
            .as_ref()
            .map(|(keys, i)| keys[*i].fingerprint(kind, text))
    }
}

/// Says that a fill failed: a warning, since git fills the cache as it goes without it.
pub fn warn_unfilled(e: &Error) {
    eprintln!("git-secrets: warning: the masked diff's cache was not filled ({e}); `git log -p` fills it as it goes");
}

/// Adds to `cache` the view of every blob of `blobs` (path, blob id) it lacks. Some
/// views may be at hand (`views`, by blob id: files `unlock` just opened); the other
/// blobs are read from git and smudged here ([`views_of`]). Returns how many views were
/// added.
pub fn fill(
    ws: &Workspace,
    cache: &Cache,
    blobs: &[(String, String)],
    at_hand: &HashMap<String, String>,
) -> Result<usize, Error> {
    let mut seen = HashSet::new();
    let missing: Vec<(String, String)> = blobs
        .iter()
        .filter(|(_, oid)| is_object_id(oid) && !cache.has(oid) && seen.insert(oid.as_str()))
        .cloned()
        .collect();
    let (known, to_read): (Vec<_>, Vec<_>) = missing
        .into_iter()
        .partition(|(_, oid)| at_hand.contains_key(oid));
    let mut views: Vec<(String, String)> = known
        .into_iter()
        .map(|(_, oid)| (oid.clone(), at_hand[&oid].clone()))
        .collect();
    views.extend(views_of(ws, &to_read)?);
    cache.write(&ws.repo, &views)?;
    Ok(views.len())
}

/// The views (blob id, masked view) of `blobs` (path, blob id), read from git. A blob
/// the filter would not smudge (see [`crate::filter::smudged_form`]) is left for git, and
/// so, in a partial clone, is a blob the clone does not hold: fetching the history's
/// blobs one by one would defeat the partial clone (and fail offline). git fetches
/// what `git log -p` shows, as it goes.
fn views_of(ws: &Workspace, blobs: &[(String, String)]) -> Result<Vec<(String, String)>, Error> {
    // Only what the clone holds: in any clone but a partial one, that is every blob.
    let mut pairs = Vec::with_capacity(blobs.len());
    let names = blobs.iter().map(|(_, oid)| oid.clone()).collect();
    ws.repo.for_each_local_object(names, |i, _, bytes| {
        if let Some(bytes) = bytes {
            pairs.push((&blobs[i], zeroize::Zeroizing::new(bytes.to_vec())));
        }
        Ok(())
    })?;
    Ok(crate::par::map(&pairs, |((path, oid), blob)| {
        let form = crate::filter::smudged_form(ws, path, blob)?;
        Some((oid.clone(), view_of_smudged(ws, path, &form)))
    })
    .into_iter()
    .flatten()
    .collect())
}

#[cfg(test)]
mod tests {
    use super::raw_blobs;

    #[test]
    fn raw_log_blobs_are_listed_once_with_a_path() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let c = "c".repeat(40);
        let z = "0".repeat(40);
        let out = format!(
            ":100644 100644 {a} {b} M\0.secrets/api/production.env\0\
             \n:000000 100644 {z} {a} A\0.secrets/api/production.env\0\
             :100644 000000 {c} {z} D\0.secrets/old.env\0\
             :160000 160000 {c} {b} M\0sub\0"
        );
        assert_eq!(
            raw_blobs(out.as_bytes()),
            vec![
                (".secrets/api/production.env".to_owned(), b.clone()),
                (".secrets/api/production.env".to_owned(), a.clone()),
                (".secrets/old.env".to_owned(), c.clone()),
            ]
        );
    }
}
