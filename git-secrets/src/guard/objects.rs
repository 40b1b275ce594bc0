//! What a revision names besides commits. `git rev-list` walks commits only and passes
//! over a tree or a blob in silence, but a ref may point at either (`git push origin
//! $(git write-tree):refs/tags/snapshot`), and the remote then serves its files. So
//! `git secrets check` (and the pre-push hook) also judge:
//! - a tree (or a tag of one): every file in it, as the files of a commit's tree;
//! - a blob (or a tag of one): it has no path, so it cannot be told apart from a secret
//!   file by name. It is refused if it holds a private key or a plaintext `KEY=VALUE`
//!   line (a dotenv file, or part of one), unless it is in sealed form, and searched for
//!   the values this identity can read; other text (a public key, release notes) passes;
//! - an annotated tag: its message is searched for the values this identity can read,
//!   and what it points at is judged as above (tags of tags followed).

use std::collections::HashSet;

use super::{is_binary, is_sealed, line_at, private_key, Finding};
use crate::error::Error;
use crate::git::Repo;

/// The objects `revs` name that are not commits, each once.
#[derive(Debug, Default)]
pub struct Named {
    pub trees: Vec<String>,
    pub blobs: Vec<String>,
    /// Annotated tags named directly (a tag a tag points at comes from
    /// [`tag_messages`]).
    pub tags: Vec<String>,
}

/// The revisions `revs` (as `git rev-list` takes them) includes rather than excludes,
/// and the ref namespaces of `--all`, `--branches`, `--tags` and `--remotes` among them.
fn positive(revs: &[String]) -> (Vec<String>, Vec<&'static str>) {
    let mut names = Vec::new();
    let mut namespaces = Vec::new();
    let mut not = false;
    for r in revs {
        let included = !not;
        match r.as_str() {
            "--not" => not = !not,
            "--all" => namespaces.extend(included.then_some("refs/")),
            "--branches" => namespaces.extend(included.then_some("refs/heads/")),
            "--tags" => namespaces.extend(included.then_some("refs/tags/")),
            "--remotes" => namespaces.extend(included.then_some("refs/remotes/")),
            r if r.starts_with('-') => {}
            r => {
                if let Some(name) = r.strip_prefix('^') {
                    if !included {
                        names.push(name.to_owned());
                    }
                } else if let Some((a, b)) = r.split_once("...") {
                    if included {
                        names.extend(
                            [a, b].map(|s| if s.is_empty() { "HEAD" } else { s }.to_owned()),
                        );
                    }
                } else if let Some((a, b)) = r.split_once("..") {
                    let name = if included { b } else { a };
                    names.push(if name.is_empty() { "HEAD" } else { name }.to_owned());
                } else if included {
                    names.push(r.to_owned());
                }
            }
        }
    }
    (names, namespaces)
}

/// The trees, blobs and annotated tags `revs` names (directly, through a tag, or as the
/// target of a ref of `--all` and the like).
pub fn named(repo: &Repo, revs: &[String]) -> Result<Named, Error> {
    let (mut names, namespaces) = positive(revs);
    if !namespaces.is_empty() {
        let mut args = vec!["for-each-ref", "--format=%(objectname)"];
        args.extend(namespaces);
        let out = repo.git(&args)?;
        names.extend(String::from_utf8_lossy(&out).lines().map(str::to_owned));
    }
    // A name with a line break cannot be asked on one line (nor is it a revision).
    names.retain(|n| !n.is_empty() && !n.contains(['\n', '\r']));
    let mut named = Named::default();
    if names.is_empty() {
        return Ok(named);
    }
    // Each name as it is (a tag?) and peeled to what it finally points at.
    let mut input = String::new();
    for n in &names {
        input.push_str(&format!("{n}\n{n}^{{}}\n"));
    }
    let out = repo.git_with_input(
        &["cat-file", "--batch-check=%(objectname) %(objecttype)"],
        input.as_bytes(),
    )?;
    let text = String::from_utf8_lossy(&out);
    let lines: Vec<&str> = text.lines().collect();
    let mut seen = HashSet::new();
    for pair in lines.chunks_exact(2) {
        let parse = |line: &str| -> Option<(String, String)> {
            let (oid, kind) = line.split_once(' ')?;
            let known = ["commit", "tree", "blob", "tag"].contains(&kind);
            known.then(|| (oid.to_owned(), kind.to_owned()))
        };
        if let Some((oid, kind)) = parse(pair[0]) {
            if kind == "tag" && seen.insert(oid.clone()) {
                named.tags.push(oid);
            }
        }
        if let Some((oid, kind)) = parse(pair[1]) {
            let list = match kind.as_str() {
                "tree" => &mut named.trees,
                "blob" => &mut named.blobs,
                _ => continue,
            };
            if seen.insert(oid.clone()) {
                list.push(oid);
            }
        }
    }
    Ok(named)
}

/// The messages of `tags` and of the tags they point at, in turn: (tag id, message).
pub fn tag_messages(repo: &Repo, tags: &[String]) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    let mut seen: HashSet<String> = tags.iter().cloned().collect();
    let mut round = tags.to_vec();
    // A tag of a tag of …: git itself gives up peeling at some depth; so do we.
    for _ in 0..16 {
        if round.is_empty() {
            break;
        }
        let mut next = Vec::new();
        repo.for_each_blob(round.clone(), |i, bytes| {
            let (header, message) = split_message(bytes);
            let header = String::from_utf8_lossy(header);
            let target = header.lines().find_map(|l| l.strip_prefix("object "));
            let is_tag = header.lines().any(|l| l == "type tag");
            if let (Some(target), true) = (target, is_tag) {
                if seen.insert(target.to_owned()) {
                    next.push(target.to_owned());
                }
            }
            out.push((round[i].clone(), message.to_vec()));
            Ok(())
        })?;
        round = next;
    }
    Ok(out)
}

/// A commit or tag object's header and message (after the first blank line).
pub fn split_message(object: &[u8]) -> (&[u8], &[u8]) {
    match object.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&object[..i], &object[i + 2..]),
        None => (object, &[]),
    }
}

/// The checks that need no key of a blob a ref names without a path ([`Named::blobs`]).
pub fn judge_blob(bytes: &[u8]) -> Option<Finding> {
    if is_sealed(bytes) {
        return None;
    }
    let finding = |reason: String, fix: &str| Finding {
        commit: None,
        path: super::search::Where::NamedBlob.name().to_owned(),
        reason,
        fix: fix.to_owned(),
    };
    const DELETE: &str = "delete the ref that names this blob (`git tag -d NAME`, or `git update-ref -d REF`) and do not push it; a file meant to be shared goes in a commit, where its path is known";
    if let Some((kind, line)) = private_key(bytes) {
        return Some(finding(
            format!("line {line} holds a private key ({kind})"),
            DELETE,
        ));
    }
    if is_binary(bytes) {
        return None;
    }
    let line = assignment(bytes)?;
    Some(finding(
        format!("line {line} is a plaintext `KEY=VALUE` line: a blob without a path cannot be told apart from a secret file, so it must be in sealed form"),
        DELETE,
    ))
}

/// The first line that assigns a variable as a dotenv file does (`KEY=…`, `export
/// KEY=…`).
fn assignment(bytes: &[u8]) -> Option<usize> {
    let mut offset = 0;
    for line in bytes.split(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        let t = text.trim_start();
        let t = t.strip_prefix("export ").map_or(t, str::trim_start);
        if let Some((key, _)) = t.split_once('=') {
            if crate::dotenv::is_valid_key(key.trim_end()) {
                return Some(line_at(bytes, offset));
            }
        }
        offset += line.len() + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_included_revisions_are_found() {
        let (names, ns) = positive(&strings(&[
            "a..b", "c", "^d", "e...", "--not", "f", "^g", "h..i", "--all",
        ]));
        assert_eq!(names, ["b", "c", "e", "HEAD", "g", "h"]);
        assert!(ns.is_empty());
        let (_, ns) = positive(&strings(&["x", "--tags", "--not", "--remotes"]));
        assert_eq!(ns, ["refs/tags/"]);
    }

    #[test]
    fn a_blob_without_a_path_is_judged_by_its_content() {
        assert!(judge_blob(b"DB_PASS=plain\n").is_some());
        let f = judge_blob(b"# settings\n\nexport API_KEY = x\n").unwrap();
        assert!(f.reason.starts_with("line 3 "), "{}", f.reason);
        assert!(judge_blob(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF...\n").is_none());
        assert!(judge_blob(b"Release notes: a=b is not a key\n").is_none());
        assert!(judge_blob(b"\0\x01DB=x").is_none());
    }
}
