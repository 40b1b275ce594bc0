//! One run of the checks over a list of blobs: each distinct blob read once, the checks
//! that need no key on every blob, the ones that need an identity only where a blob
//! needs them (the identity's view of the repository is opened on first need).
//!
//! Besides the blobs checked, the same `git cat-file --batch` reads first what judging
//! them takes: the access.json (and config.toml) of each commit whose secret files
//! change (check 5), and the parent's version of each scope file a commit deletes or
//! changes, whose values are searched for too (check 4) and whose tokens a commit may
//! keep (check 5). Those are sealed blobs, opened only when check 4 runs.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use zeroize::Zeroizing;

use super::known::{Former, Known};
use super::removals::Removals;
use super::scan::Entry;
use super::search::{TextFinding, Where};
use super::{Blob, Finding};
use crate::access::Access;
use crate::config::Config;
use crate::error::Error;
use crate::git::Repo;
use crate::scope::Scope;
use crate::workspace::{ACCESS_FILE, CONFIG_FILE};

/// The identity's view of the repository, opened on first need: a commit of encrypted
/// secret files alone never reads every scope file.
pub struct LazyKnown<'r> {
    repo: &'r Repo,
    pub(super) cell: std::cell::OnceCell<Option<Known>>,
}

impl<'r> LazyKnown<'r> {
    pub fn new(repo: &'r Repo) -> LazyKnown<'r> {
        LazyKnown {
            repo,
            cell: std::cell::OnceCell::new(),
        }
    }

    pub fn get(&self) -> Option<&Known> {
        self.cell.get_or_init(|| Known::open(self.repo)).as_ref()
    }

    /// How many values were searched for, if the search ran.
    pub fn searched(&self) -> Option<usize> {
        self.cell.get()?.as_ref()?.searched()
    }
}

/// One blob to check.
pub(super) struct Item<'a> {
    /// The commit (or tree) that holds it (`git secrets check`); none for the index.
    pub commit: Option<&'a str>,
    pub entry: &'a Entry,
    /// Whether the commit adds or changes it against its parent: only such blobs are
    /// judged by the keys that sealed them (check 5).
    pub changed: bool,
}

/// One commit (or the index) being checked, and its parent's blobs at the paths it
/// deletes or changes.
pub(super) struct Context<'a> {
    pub commit: Option<&'a str>,
    /// The parent as findings name it: `HEAD`, or its short id.
    pub parent: String,
    pub old: &'a [Entry],
}

/// A scope file the checked commits hold (or the commit before them), whose values are
/// searched for where there is no work tree to take them from (a bare repository).
pub(super) struct Held {
    /// The commit (or tree) that holds it, as findings name it.
    pub rev: String,
    pub entry: Entry,
}

/// Text that is not a file, searched for the values this identity can read (check 4): a
/// commit's or a tag's message, a blob a ref names without a path.
pub(super) struct Text {
    /// The object it is part of (none: the commit being made).
    pub object: Option<String>,
    pub place: Where,
    pub bytes: Zeroizing<Vec<u8>>,
}

/// A blob read before the checked ones.
enum Aux<'a> {
    Access(Option<&'a str>),
    Config(Option<&'a str>),
    /// The parent's blob of a scope file a commit deletes or changes.
    Former {
        parent: &'a str,
        path: &'a str,
    },
    /// A scope file of the checked commits ([`Held`]).
    Held(&'a Held),
    /// HEAD's access.json, when the index changes it: what HEAD's values were judged by
    /// ([`laundered`](super::laundered)).
    FormerAccess,
}

impl Aux<'_> {
    /// The name `git cat-file --batch` reads it by: `oid` when the commit changes it,
    /// else the commit's (HEAD's, for the index: the same blob) by path. Never `:path`,
    /// which would make git read the index (and ask the fsmonitor hook).
    fn name(&self, oid: Option<&str>) -> String {
        if let Some(oid) = oid {
            return oid.to_owned();
        }
        let (commit, path) = match self {
            Aux::Access(c) => (c, ACCESS_FILE),
            Aux::Config(c) => (c, CONFIG_FILE),
            Aux::Former { path, .. } => (&None, *path),
            Aux::Held(h) => return h.entry.oid.clone(),
            Aux::FormerAccess => (&None, ACCESS_FILE),
        };
        format!("{}:{path}", commit.unwrap_or("HEAD"))
    }
}

/// The blobs read before the checked ones, and what was parsed from them.
struct Auxiliary<'a> {
    list: Vec<Aux<'a>>,
    bytes: Vec<Option<Zeroizing<Vec<u8>>>>,
    access_at: HashMap<Option<&'a str>, usize>,
    config_at: HashMap<Option<&'a str>, usize>,
    former_at: HashMap<(Option<&'a str>, &'a str), usize>,
    accesses: HashMap<Option<&'a str>, Option<Access>>,
    configs: HashMap<Option<&'a str>, Option<Config>>,
    /// HEAD's access.json when the index changes it ([`Aux::FormerAccess`]), parsed.
    former_access: std::cell::OnceCell<Option<Access>>,
    removals: Removals<'a>,
}

/// The text of the blob read at `at`, if it was read and is UTF-8.
fn text_at(bytes: &[Option<Zeroizing<Vec<u8>>>], at: Option<usize>) -> Option<&str> {
    std::str::from_utf8(bytes[at?].as_deref()?).ok()
}

impl<'a> Auxiliary<'a> {
    /// What `items` and `contexts` need read: access.json (and config.toml, for a tracked
    /// file) where a secret file changes; the parent's version of each scope file a
    /// commit deletes or changes.
    fn plan(
        items: &[Item<'a>],
        contexts: &'a [Context<'a>],
        held: &'a [Held],
        attrs: &dyn Fn(usize) -> (bool, bool),
    ) -> (Auxiliary<'a>, Vec<String>) {
        let mut list = Vec::new();
        let mut names = Vec::new();
        let mut access_at = HashMap::new();
        let mut config_at = HashMap::new();
        let mut former_at = HashMap::new();
        // The blobs of access.json and config.toml a commit changes.
        let staged: HashMap<(Option<&str>, &str), &str> = items
            .iter()
            .filter(|i| i.changed && [ACCESS_FILE, CONFIG_FILE].contains(&i.entry.path.as_str()))
            .map(|i| ((i.commit, i.entry.path.as_str()), i.entry.oid.as_str()))
            .collect();
        let oid = |commit: Option<&str>, path: &str| staged.get(&(commit, path)).copied();
        for (i, item) in items.iter().enumerate() {
            let path = item.entry.path.as_str();
            let routed = attrs(i).0;
            let scope = Scope::from_rel_path(path).is_some();
            // A path .gitattributes does not route may still be a tracked file (listed
            // in config.toml) whose line was lost or overridden: config.toml is read
            // for it, changed or not, and access.json too if the commit changes it.
            if !routed && !scope && !super::is_secret_path(path) {
                if let std::collections::hash_map::Entry::Vacant(v) = config_at.entry(item.commit) {
                    v.insert(list.len());
                    names.push(Aux::Config(item.commit).name(oid(item.commit, CONFIG_FILE)));
                    list.push(Aux::Config(item.commit));
                }
            }
            // access.json says whose keys sealed a scope file (check 5, and its keys of
            // another environment, judged of every one a commit holds when it changes
            // config.toml).
            if !item.changed && !scope {
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(v) = access_at.entry(item.commit) {
                v.insert(list.len());
                names.push(Aux::Access(item.commit).name(oid(item.commit, ACCESS_FILE)));
                list.push(Aux::Access(item.commit));
            }
            // config.toml also says whether a changed scope file's environment exists
            // (check 6).
            {
                if let std::collections::hash_map::Entry::Vacant(v) = config_at.entry(item.commit) {
                    v.insert(list.len());
                    names.push(Aux::Config(item.commit).name(oid(item.commit, CONFIG_FILE)));
                    list.push(Aux::Config(item.commit));
                }
            }
        }
        for c in contexts {
            for e in c.old {
                if c.commit.is_none() && e.path == ACCESS_FILE {
                    former_at.insert((None, ACCESS_FILE), list.len());
                    names.push(Aux::FormerAccess.name(Some(&e.oid)));
                    list.push(Aux::FormerAccess);
                }
                if Scope::from_rel_path(&e.path).is_some() {
                    let aux = Aux::Former {
                        parent: &c.parent,
                        path: &e.path,
                    };
                    former_at.insert((c.commit, e.path.as_str()), list.len());
                    names.push(aux.name(Some(&e.oid)));
                    list.push(aux);
                }
            }
        }
        for h in held {
            names.push(Aux::Held(h).name(None));
            list.push(Aux::Held(h));
        }
        let bytes = (0..list.len()).map(|_| None).collect();
        let mut commits: Vec<&str> = items.iter().filter_map(|i| i.commit).collect();
        commits.sort_unstable();
        commits.dedup();
        let aux = Auxiliary {
            removals: Removals::of(commits),
            list,
            bytes,
            access_at,
            config_at,
            former_at,
            accesses: HashMap::new(),
            configs: HashMap::new(),
            former_access: std::cell::OnceCell::new(),
        };
        (aux, names)
    }

    fn access(&mut self, commit: Option<&'a str>) -> Option<&Access> {
        let (bytes, at) = (&self.bytes, self.access_at.get(&commit).copied());
        self.accesses
            .entry(commit)
            .or_insert_with(|| Access::parse(text_at(bytes, at)?, Path::new(ACCESS_FILE)).ok())
            .as_ref()
    }

    fn config(&mut self, commit: Option<&'a str>) -> Option<&Config> {
        let (bytes, at) = (&self.bytes, self.config_at.get(&commit).copied());
        self.configs
            .entry(commit)
            .or_insert_with(|| Config::parse(text_at(bytes, at)?, Path::new(CONFIG_FILE)).ok())
            .as_ref()
    }

    /// Whether the config.toml of `commit` lists `path` as a tracked file. A path that
    /// does not occur in its text (as TOML writes a key with nothing to escape) is not
    /// listed: most paths a commit changes are told so without parsing the file.
    fn tracks(&mut self, commit: Option<&'a str>, path: &str) -> bool {
        let Some(bytes) = self
            .config_at
            .get(&commit)
            .and_then(|&at| self.bytes[at].as_deref())
        else {
            return false;
        };
        let plain = !path
            .bytes()
            .any(|b| b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f);
        if plain && !bytes.windows(path.len()).any(|w| w == path.as_bytes()) {
            return false;
        }
        self.config(commit)
            .is_some_and(|c| c.files.contains_key(path))
    }

    fn former(&self, commit: Option<&str>, path: &str) -> Option<&[u8]> {
        let at = *self.former_at.get(&(commit, path))?;
        self.bytes[at].as_deref().map(Vec::as_slice)
    }

    /// The parents' scope files (and the checked commits' own, [`Held`]), for the
    /// value search.
    fn formers(&self) -> Vec<Former<'_>> {
        self.list
            .iter()
            .zip(&self.bytes)
            .filter_map(|(aux, bytes)| match (aux, bytes) {
                (Aux::Former { parent, path }, Some(bytes)) => Some(Former {
                    rev: parent,
                    path,
                    bytes,
                    held: false,
                }),
                (Aux::Held(h), Some(bytes)) => Some(Former {
                    rev: &h.rev,
                    path: &h.entry.path,
                    bytes,
                    held: true,
                }),
                _ => None,
            })
            .collect()
    }
}

/// Runs every check on `items` (`attrs` gives each one's attributes), reading each
/// distinct blob once; findings come out in the order of `items`, then those of `texts`
/// (searched for values only); and the warnings about values found in messages that are
/// likely not secrets ([`TextFinding::Warned`]).
pub(super) fn run(
    repo: &Repo,
    items: &[Item],
    contexts: &[Context],
    held: &[Held],
    texts: &[Text],
    attrs: &dyn Fn(usize) -> (bool, bool),
    known: &LazyKnown,
) -> Result<(Vec<Finding>, Vec<Finding>), Error> {
    let (mut aux, mut names) = Auxiliary::plan(items, contexts, held, attrs);
    let n_aux = names.len();
    // Group the users of each blob, so it is read once however many commits hold it.
    // (item, whether it is the first of its path and blob).
    let mut users: HashMap<&str, Vec<(usize, bool)>> = HashMap::new();
    let mut oids: Vec<&str> = Vec::new();
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let e = item.entry;
        let first = seen.insert((e.path.as_str(), e.oid.as_str()));
        // The same blob at the same path, brought in again by a merge, is reported once;
        // but a secret file is judged again by the access.json of each commit that
        // brings it (a merge after a rotation).
        let secret = attrs(i).0 || super::is_secret_path(&e.path);
        if !(first || item.changed && secret) {
            continue;
        }
        let u = users.entry(e.oid.as_str()).or_default();
        if u.is_empty() {
            oids.push(e.oid.as_str());
        }
        u.push((i, first));
    }
    names.extend(oids.iter().map(|o| o.to_string()));
    let mut findings: Vec<(usize, Finding)> = Vec::new();
    repo.for_each_object(names, |n, name, bytes| {
        if n < n_aux {
            aux.bytes[n] = bytes.map(|b| Zeroizing::new(b.to_vec()));
            return Ok(());
        }
        let Some(bytes) = bytes else {
            return Err(Error::Git {
                args: "cat-file --batch".into(),
                stderr: format!("cannot read object: {name} missing"),
            });
        };
        for &(i, once) in &users[oids[n - n_aux]] {
            let item = &items[i];
            let (mut routed, exempt) = attrs(i);
            let path = item.entry.path.as_str();
            if path == CONFIG_FILE && once && item.changed {
                // Left with conflict markers (the filter reads both sides so that `git
                // status` works through a conflict), or otherwise broken: no command
                // loads it, and these checks cannot tell which files it tracks.
                if let Some(mut f) = unloadable_config(bytes) {
                    f.commit = item.commit.map(str::to_owned);
                    findings.push((i, f));
                }
            }
            if !routed && !super::is_secret_path(path) && aux.tracks(item.commit, path) {
                // A tracked file is a secret file whatever .gitattributes says now.
                if !crate::wholefile::is_sealed(bytes) {
                    if !once {
                        continue;
                    }
                    let mut f = unrouted_tracked(path);
                    f.commit = item.commit.map(str::to_owned);
                    findings.push((i, f));
                    continue;
                }
                routed = true;
            }
            let blob = Blob {
                path: &item.entry.path,
                bytes,
                routed,
                exempt,
            };
            let mut found = Vec::new();
            if once {
                found = blob.check();
                if found.is_empty() {
                    found.extend(extra(&blob, known, &|| aux.formers()));
                }
            }
            if found.is_empty() && (once || item.changed) {
                found.extend(foreign(&blob, item.commit, &mut aux));
            }
            if found.is_empty() && item.changed {
                found.extend(retired(repo, &blob, item.commit, &mut aux));
            }
            if found.is_empty() && item.changed && item.commit.is_none() {
                found.extend(laundered(&blob, &mut aux, known));
            }
            if found.is_empty() && once {
                found.extend(stray(path, item.commit, &mut aux));
            }
            for mut f in found {
                f.commit = item.commit.map(str::to_owned);
                findings.push((i, f));
            }
        }
        Ok(())
    })?;
    findings.sort_by_key(|(i, _)| *i);
    let mut findings: Vec<Finding> = findings.into_iter().map(|(_, f)| f).collect();
    let mut warnings = Vec::new();
    if let (false, Some(k)) = (texts.is_empty(), known.get()) {
        let index = k.values(&|| aux.formers());
        for t in texts {
            let (mut f, refused) = match index.find_in(&t.place, &t.bytes) {
                Some(TextFinding::Refused(f)) => (f, true),
                Some(TextFinding::Warned(f)) => (f, false),
                None => continue,
            };
            f.commit = t.object.clone();
            if refused {
                findings.push(f)
            } else {
                warnings.push(f)
            }
        }
    }
    Ok((findings, warnings))
}

/// For the index: a scope file that re-seals, unchanged and unreviewed, a value HEAD
/// holds under a key that is not current ([`super::laundered`]).
fn laundered(blob: &Blob, aux: &mut Auxiliary, known: &LazyKnown) -> Option<Finding> {
    aux.former(None, blob.path)?;
    aux.access(None)?;
    let staged = aux.accesses.get(&None)?.as_ref()?;
    let former = aux.former(None, blob.path)?;
    // Read only when the index changes access.json.
    let head_access = aux.former_access.get_or_init(|| {
        let bytes = aux.former(None, ACCESS_FILE)?;
        Access::parse(std::str::from_utf8(bytes).ok()?, Path::new(ACCESS_FILE)).ok()
    });
    let mut accesses = vec![staged];
    accesses.extend(head_access.as_ref());
    super::laundered::laundered(blob, former, &accesses, known)
}

/// Check 6: a scope file of an environment the commit's config.toml does not declare.
/// Clean refuses to seal one, so only a merge brings it in: across an `env rename` (a
/// first value set under the old name) or an `env del` on the other side. No command
/// reads its values.
fn stray<'a>(path: &str, commit: Option<&'a str>, aux: &mut Auxiliary<'a>) -> Option<Finding> {
    let scope = Scope::from_rel_path(path)?;
    let config = aux.config(commit)?;
    if scope.env == crate::config::SHARED || config.has_env(&scope.env) {
        return None;
    }
    Some(Finding {
        commit: None,
        path: path.to_owned(),
        reason: format!(
            "is a file of `{}`, an environment .secrets/config.toml does not have (renamed or deleted on the other side of a merge?): no command would read its values",
            scope.env
        ),
        fix: "`git secrets doctor --fix` merges its values into the renamed environment's file; if the environment was deleted on purpose, `git rm` it; then commit".into(),
    })
}

/// Check 5, for a scope file of a declared environment: values sealed under another
/// environment's key ([`super::keys::foreign_keys`]).
fn foreign<'a>(blob: &Blob, commit: Option<&'a str>, aux: &mut Auxiliary<'a>) -> Option<Finding> {
    let scope = Scope::from_rel_path(blob.path)?;
    if scope.env == crate::config::SHARED || !super::is_sealed(blob.bytes) {
        return None;
    }
    if !aux.config(commit)?.has_env(&scope.env) {
        return None;
    }
    aux.access(commit)?;
    let access = aux.accesses.get(&commit)?.as_ref()?;
    let home_of = |env: &str| Scope::new(scope.service.as_deref(), env).rel_path();
    super::keys::foreign_keys(blob, &scope.env, access, &home_of)
}

/// A config.toml no command can load (conflict markers a merge left, say).
fn unloadable_config(bytes: &[u8]) -> Option<Finding> {
    let text = String::from_utf8_lossy(bytes);
    let e = Config::parse(&text, Path::new(CONFIG_FILE)).err()?;
    let reason = match e {
        Error::Config { message, .. } => message,
        e => e.to_string(),
    };
    let markers = text.lines().any(|l| l.starts_with("<<<<<<<"));
    Some(Finding {
        commit: None,
        path: CONFIG_FILE.to_owned(),
        reason: match markers {
            true => "still holds conflict markers: no git-secrets command can load it".into(),
            false => format!("is not valid, so no git-secrets command can load it: {reason}"),
        },
        fix: format!("edit {CONFIG_FILE} (keep what both sides declared; `git show :2:{CONFIG_FILE}` and `:3:` show them during a merge), then `git add {CONFIG_FILE}` and commit again"),
    })
}

/// A tracked file (config.toml `[files]`) stored as it is, because .gitattributes no
/// longer routes it to the filter.
fn unrouted_tracked(p: &str) -> Finding {
    Finding {
        commit: None,
        path: p.to_owned(),
        reason: "is a tracked secret file (listed in .secrets/config.toml) but is not in encrypted form: its `.gitattributes` routing to the secrets filter was lost or overridden by a later line (another tool's `filter=`, or `-filter`)".into(),
        fix: format!("restore the line with `git secrets doctor --fix` (it puts it back after any line that overrides it; commit .gitattributes), then `git add --renormalize -- {p}`"),
    }
}

/// The checks that need an identity, for a blob the first three let through.
fn extra<'a>(
    blob: &Blob,
    known: &LazyKnown,
    formers: &dyn Fn() -> Vec<Former<'a>>,
) -> Option<Finding> {
    let encrypted = super::is_sealed(blob.bytes);
    if encrypted && (blob.routed || super::is_secret_path(blob.path)) {
        return known.get()?.verify(blob);
    }
    if blob.exempt || encrypted {
        return None;
    }
    let known = known.get()?;
    if let Some(f) = (!blob.routed).then(|| known.tracked_copy(blob)).flatten() {
        return Some(f);
    }
    if super::is_binary(blob.bytes) {
        return None;
    }
    known.values(formers).find(blob)
}

/// Check 5 for a sealed secret file the commit adds or changes.
fn retired<'a>(
    repo: &Repo,
    blob: &Blob,
    commit: Option<&'a str>,
    aux: &mut Auxiliary<'a>,
) -> Option<Finding> {
    if !(blob.routed || super::is_secret_path(blob.path)) || !super::is_sealed(blob.bytes) {
        return None;
    }
    let whole = crate::wholefile::is_sealed(blob.bytes);
    // None: a routed file config.toml does not track (any more).
    let env = match Scope::from_rel_path(blob.path) {
        Some(scope) => Some(scope.env),
        None => aux.config(commit)?.files.get(blob.path).cloned(),
    };
    // Copied (sealed bytes, wiped all the same) to look at beside the parsed access.json.
    let former = aux
        .former(commit, blob.path)
        .map(|b| Zeroizing::new(b.to_vec()));
    aux.access(commit)?;
    let access = aux.accesses.get(&commit)?.as_ref()?;
    let former = former.as_deref().map(Vec::as_slice);
    // No key of its environment to judge it by: an environment the other side of a merge
    // deleted. What no key of access.json opens is lost once committed.
    let Some(env) = env.filter(|e| access.keys.contains_key(e)) else {
        return super::keys::lost_keys(blob, whole, access, former);
    };
    let removals = &mut aux.removals;
    super::keys::retired_keys(blob, &env, whole, access, former, &mut |key| {
        removals.before(repo, commit, access, &env, key)
    })
}
