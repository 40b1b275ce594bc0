//! Where the blobs come from: the index (the pre-commit hook), the commits of a range or
//! one tree (`git secrets check`). A fixed number of git processes per run (one more
//! per commit for attributes), never one per file: paths go through `-z` output and
//! stdin, blobs through one `git cat-file --batch`.

use std::collections::HashMap;

use super::EXEMPT_ATTR;
use crate::error::Error;
use crate::git::Repo;

/// One blob at one path.
#[derive(Clone, Debug)]
pub struct Entry {
    pub path: String,
    pub oid: String,
}

/// Splits `-z` output into its fields.
fn fields(out: &[u8]) -> impl Iterator<Item = &[u8]> {
    out.split(|&b| b == 0).filter(|f| !f.is_empty())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What the index or a commit changes against its parent (HEAD, or the first parent):
/// the blobs it adds or changes, and the parent's blobs it deletes or replaces.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    /// The blobs added or changed (what the commit holds).
    pub new: Vec<Entry>,
    /// The parent's blobs at the paths deleted or changed (what the commit drops).
    pub old: Vec<Entry>,
}

/// Parses `--raw -z` output: `:<mode> <mode> <old> <new> <status>` then the path; other
/// fields (commit ids from `diff-tree --stdin`) start a new group. Only regular files:
/// a symlink's blob is a path, a submodule's a commit elsewhere.
fn parse_raw(out: &[u8]) -> Vec<(Option<String>, Changes)> {
    let mut result: Vec<(Option<String>, Changes)> = Vec::new();
    let mut it = fields(out);
    while let Some(f) = it.next() {
        let Some(header) = f.strip_prefix(b":") else {
            result.push((Some(text(f)), Changes::default()));
            continue;
        };
        let Some(path) = it.next() else { break };
        let header = text(header);
        let parts: Vec<&str> = header.split(' ').collect();
        let [old_mode, new_mode, old, new, status] = parts[..] else {
            continue;
        };
        if result.is_empty() {
            result.push((None, Changes::default()));
        }
        let changes = &mut result.last_mut().expect("pushed above").1;
        let regular = |mode: &str| mode == "100644" || mode == "100755";
        if regular(new_mode) && status != "D" {
            changes.new.push(Entry {
                path: text(path),
                oid: new.to_owned(),
            });
        }
        if regular(old_mode) && matches!(status, "M" | "T" | "D") {
            changes.old.push(Entry {
                path: text(path),
                oid: old.to_owned(),
            });
        }
    }
    result
}

/// The blobs staged for the next commit that differ from HEAD (all of them before the
/// first commit), and HEAD's blobs at the paths the commit deletes or changes.
/// `GIT_INDEX_FILE`, which git sets for `commit -a` and `commit PATH`, is inherited, so
/// this is exactly what the commit will hold.
pub fn staged(repo: &Repo) -> Result<Changes, Error> {
    let out = repo.git(&[
        "diff",
        "--cached",
        "--raw",
        "-z",
        // `git diff` abbreviates ids, and a short id can name two objects in a large
        // repository.
        "--no-abbrev",
        "--no-renames",
        "--no-ext-diff",
        "--diff-filter=ACMRTD",
    ])?;
    Ok(parse_raw(&out)
        .into_iter()
        .next()
        .map(|(_, c)| c)
        .unwrap_or_default())
}

/// Every blob of `rev`'s tree.
pub fn tree(repo: &Repo, rev: &str) -> Result<Vec<Entry>, Error> {
    let out = repo.git(&["ls-tree", "-r", "-z", "--full-tree", rev, "--"])?;
    let mut entries = Vec::new();
    for f in fields(&out) {
        // "<mode> blob <oid>\t<path>"
        let Some(tab) = f.iter().position(|&b| b == b'\t') else {
            continue;
        };
        let head = text(&f[..tab]);
        if let [mode, "blob", oid] = head.split(' ').collect::<Vec<_>>()[..] {
            if mode == "100644" || mode == "100755" {
                entries.push(Entry {
                    path: text(&f[tab + 1..]),
                    oid: oid.to_owned(),
                });
            }
        }
    }
    Ok(entries)
}

/// One commit of a range: its id, its first parent (none for a root commit) and what it
/// changes against that parent.
#[derive(Clone, Debug)]
pub struct Commit {
    pub id: String,
    pub parent: Option<String>,
    /// A merge's other parents.
    pub merged: Vec<String>,
    pub changes: Changes,
}

/// Each commit of `revs` (as `git rev-list` takes them) with the blobs it adds, changes
/// and drops against its first parent (a root commit: it adds all of them), oldest
/// commit first. A merge is judged against its first parent too, so what it brings in
/// is seen even when the merged branch is outside the range.
pub fn commits(repo: &Repo, revs: &[String]) -> Result<Vec<Commit>, Error> {
    let mut args = vec!["rev-list", "--reverse", "--topo-order", "--parents"];
    args.extend(revs.iter().map(String::as_str));
    args.push("--");
    let list = text(&repo.git(&args)?);
    let mut order = Vec::new();
    let mut input = String::new();
    for line in list.lines() {
        let mut ids = line.split(' ');
        let Some(commit) = ids.next().filter(|c| !c.is_empty()) else {
            continue;
        };
        let parent = ids.next().map(str::to_owned);
        let merged: Vec<String> = ids.map(str::to_owned).collect();
        // "<commit> <first parent>" compares with that parent only.
        input.push_str(commit);
        if let Some(parent) = &parent {
            input.push(' ');
            input.push_str(parent);
        }
        input.push('\n');
        order.push((commit.to_owned(), parent, merged));
    }
    if order.is_empty() {
        return Ok(Vec::new());
    }
    let out = repo.git_with_input(
        &[
            "diff-tree",
            "--stdin",
            "--root",
            "-r",
            "-z",
            "--no-renames",
            "--no-ext-diff",
            "--diff-filter=ACMRTD",
        ],
        input.as_bytes(),
    )?;
    let mut by_commit: HashMap<String, Changes> = HashMap::new();
    for (commit, changes) in parse_raw(&out) {
        if let Some(c) = commit {
            by_commit.insert(c, changes);
        }
    }
    Ok(order
        .into_iter()
        .map(|(id, parent, merged)| {
            let changes = by_commit.remove(&id).unwrap_or_default();
            Commit {
                id,
                parent,
                merged,
                changes,
            }
        })
        .collect())
}

/// Where `git check-attr` reads .gitattributes from.
#[derive(Clone, Copy, Debug)]
pub enum AttrSource<'a> {
    /// The index: the attributes the commit being made will hold.
    Index,
    /// A commit's tree (works in a bare repository, as in a pre-receive hook).
    Tree(&'a str),
}

/// For each path: (routed to the secrets filter, exempt from checks 1, 3, 4).
pub fn attributes(
    repo: &Repo,
    source: AttrSource,
    paths: &[&str],
) -> Result<HashMap<String, (bool, bool)>, Error> {
    let mut result: HashMap<String, (bool, bool)> = HashMap::new();
    if paths.is_empty() {
        return Ok(result);
    }
    let src;
    let mut args = vec!["check-attr", "-z", "--stdin"];
    match source {
        AttrSource::Index => args.push("--cached"),
        AttrSource::Tree(rev) => {
            src = format!("--source={rev}");
            args.push(&src);
        }
    }
    args.extend(["filter", EXEMPT_ATTR]);
    let mut input = Vec::new();
    for p in paths {
        input.extend_from_slice(p.as_bytes());
        input.push(0);
    }
    // Output: path NUL attribute NUL value NUL, for each path and attribute.
    let out = match repo.git_with_input(&args, &input) {
        Ok(out) => out,
        // `--source` is git 2.40: older git reads the work tree's attributes (none in a
        // bare repository), and `.secrets/**/*.env` is still judged by its path.
        Err(_) if matches!(source, AttrSource::Tree(_)) => {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| eprintln!("git-secrets: note: this git cannot read .gitattributes from a commit (`check-attr --source`, git 2.40); using the work tree's"));
            let args: Vec<&str> = args
                .iter()
                .copied()
                .filter(|a| !a.starts_with("--source="))
                .collect();
            repo.git_with_input(&args, &input)?
        }
        Err(e) => return Err(e),
    };
    let parts: Vec<&[u8]> = out.split(|&b| b == 0).collect();
    for triple in parts.chunks_exact(3) {
        let (path, attr, value) = (text(triple[0]), triple[1], triple[2]);
        let slot = result.entry(path).or_default();
        match attr {
            b"filter" => slot.0 = value == b"secrets",
            a if a == EXEMPT_ATTR.as_bytes() => slot.1 = value == b"unset",
            _ => {}
        }
    }
    Ok(result)
}
