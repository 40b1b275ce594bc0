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

/// Parses `--raw -z` output: `:<mode> <mode> <old> <new> <status>` then the path; other
/// fields (commit ids from `diff-tree --stdin`) start a new group. Only regular files:
/// a symlink's blob is a path, a submodule's a commit elsewhere.
fn parse_raw(out: &[u8]) -> Vec<(Option<String>, Entry)> {
    let mut result = Vec::new();
    let mut commit = None;
    let mut it = fields(out);
    while let Some(f) = it.next() {
        let Some(header) = f.strip_prefix(b":") else {
            commit = Some(text(f));
            continue;
        };
        let Some(path) = it.next() else { break };
        let header = text(header);
        let parts: Vec<&str> = header.split(' ').collect();
        if let [_, mode, _, oid, _status] = parts[..] {
            if mode == "100644" || mode == "100755" {
                result.push((
                    commit.clone(),
                    Entry {
                        path: text(path),
                        oid: oid.to_owned(),
                    },
                ));
            }
        }
    }
    result
}

/// The blobs staged for the next commit that differ from HEAD (all of them before the
/// first commit). `GIT_INDEX_FILE`, which git sets for `commit -a` and `commit PATH`,
/// is inherited, so this is exactly what the commit will hold.
pub fn staged(repo: &Repo) -> Result<Vec<Entry>, Error> {
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
        "--diff-filter=ACMRT",
    ])?;
    Ok(parse_raw(&out).into_iter().map(|(_, e)| e).collect())
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

/// Each commit of `revs` (as `git rev-list` takes them) with the blobs it adds or changes,
/// against its first parent (a root commit: all of them), oldest commit first. A merge
/// is judged against its first parent too, so what it brings in is seen even when the
/// merged branch is outside the range.
pub fn commits(repo: &Repo, revs: &[String]) -> Result<Vec<(String, Vec<Entry>)>, Error> {
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
        order.push(commit.to_owned());
        // "<commit> <first parent>" compares with that parent only.
        input.push_str(commit);
        if let Some(parent) = ids.next() {
            input.push(' ');
            input.push_str(parent);
        }
        input.push('\n');
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
            "--diff-filter=ACMRT",
        ],
        input.as_bytes(),
    )?;
    let mut by_commit: HashMap<String, Vec<Entry>> = HashMap::new();
    for (commit, entry) in parse_raw(&out) {
        if let Some(c) = commit {
            by_commit.entry(c).or_default().push(entry);
        }
    }
    Ok(order
        .into_iter()
        .map(|c| {
            let e = by_commit.remove(&c).unwrap_or_default();
            (c, e)
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
