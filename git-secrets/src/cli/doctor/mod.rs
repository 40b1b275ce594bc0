//! `git secrets doctor [--fix]`: checks what `status` shows, and deeper: that the
//! programs this clone's configuration and hooks run still exist, that .gitattributes
//! still routes secret files through the filter, and the keys' problems. Each problem
//! comes with its fix; `--fix` applies the ones that need no decision (setting the clone
//! up again, restoring the .gitattributes and .gitignore lines, opening files left
//! encrypted, rotating an environment that needs it, deleting temporary files a crash
//! left) and leaves the rest to a person.

use clap::Args;

use crate::error::Error;
use crate::guard::install;
use crate::rotation;
use crate::workspace::{Adopted, Workspace};

use super::unlock;

mod examine;
use examine::examine;

/// Check this clone's setup and the repository's keys; `--fix` repairs what it safely can.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Repair what needs no decision; report the rest.
    #[arg(long)]
    fix: bool,
}

/// What `--fix` does about a problem.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fix {
    /// Restore the .gitattributes lines (a change to commit).
    Attributes,
    /// Restore the .gitignore lines (a change to commit).
    Ignores,
    /// Install the checks (a locked clone keeps them).
    Checks,
    /// Set this clone up again: filter, drivers, fsmonitor, hooks (`unlock`'s first half).
    Configure,
    /// `unlock`: set up and open the files this identity can read.
    Unlock,
    /// Rotate an environment (staged, to commit).
    Rotate(String),
    /// Move the values of a scope file of an unknown environment home (to commit).
    Adopt(String),
    /// Delete temporary files interrupted writes left behind.
    RemoveLeftovers(Vec<String>),
}

impl Fix {
    fn describe(&self) -> String {
        match self {
            Fix::Attributes => {
                "`git secrets doctor --fix` adds the lines back, after any line that overrides them (then commit .gitattributes)".into()
            }
            Fix::Ignores => {
                "`git secrets doctor --fix` adds the lines back (then commit .gitignore)".into()
            }
            Fix::Checks => "`git secrets doctor --fix` installs them".into(),
            Fix::Configure => {
                "`git secrets doctor --fix` sets this clone up again with this git-secrets".into()
            }
            Fix::Unlock => "`git secrets doctor --fix` runs `git secrets unlock`".into(),
            Fix::Rotate(env) => format!(
                "`git secrets doctor --fix` runs `git secrets rotate --env {env}` (then commit)"
            ),
            Fix::Adopt(_) => "`git secrets doctor --fix` moves the values there, keeping any the file there already has (then commit)".into(),
            Fix::RemoveLeftovers(_) => "`git secrets doctor --fix` deletes them (what the interrupted command was writing was not saved: run it again)".into(),
        }
    }
}

impl Fix {
    /// What was done, once done (a rotation reports itself).
    fn done(&self) -> Option<&'static str> {
        match self {
            Fix::Attributes => Some("added the lines back to .gitattributes (commit it)"),
            Fix::Ignores => Some("added the lines back to .gitignore (commit it)"),
            Fix::Checks => Some("installed the checks"),
            Fix::Configure => Some("set this clone up again"),
            Fix::Unlock => Some("unlocked"),
            Fix::Rotate(_) | Fix::Adopt(_) => None,
            Fix::RemoveLeftovers(_) => Some("deleted the leftover temporary files"),
        }
    }

    /// What was tried, when the problem is still found after it.
    fn tried(&self) -> &'static str {
        match self {
            Fix::Attributes => "restoring the .gitattributes lines",
            Fix::Ignores => "restoring the .gitignore lines",
            Fix::Checks => "installing the checks",
            Fix::Configure => "setting this clone up again",
            Fix::Unlock => "`git secrets unlock`",
            Fix::Rotate(_) => "rotating",
            Fix::Adopt(_) => "moving the values",
            Fix::RemoveLeftovers(_) => "deleting the leftover temporary files",
        }
    }

    /// Whether a problem whose fix is `other` is one this fix, once applied, repairs
    /// (`unlock` sets the clone up first).
    fn covers(&self, other: &Fix) -> bool {
        match (self, other) {
            (Fix::Unlock, Fix::Configure | Fix::Checks) => true,
            (Fix::RemoveLeftovers(_), Fix::RemoveLeftovers(_)) => true,
            _ => self == other,
        }
    }
}

struct Finding {
    problem: String,
    /// What `--fix` does, or what a person must do.
    fix: Result<Fix, String>,
}

fn problem(problem: String, fix: Fix) -> Finding {
    Finding {
        problem,
        fix: Ok(fix),
    }
}

fn manual(problem: String, what: String) -> Finding {
    Finding {
        problem,
        fix: Err(what),
    }
}

pub fn cmd_doctor(args: DoctorArgs) -> Result<(), Error> {
    let mut ws = super::open()?;
    let (notes, findings) = examine(&ws);
    let notes: String = notes.iter().map(|n| format!("ok: {n}\n")).collect();
    super::out(&notes)?;
    if !args.fix {
        report(&findings)?;
        return verdict(&findings, false);
    }
    let mut fixes: Vec<Fix> = findings.iter().filter_map(|f| f.fix.clone().ok()).collect();
    fixes.sort();
    fixes.dedup();
    if fixes.contains(&Fix::Unlock) {
        // unlock sets the clone up first.
        fixes.retain(|f| *f != Fix::Configure && *f != Fix::Checks);
    }
    let mut applied = Vec::new();
    let applying = apply(&mut ws, &fixes, &mut applied);
    let by_hand = match applying {
        Ok(by_hand) => by_hand,
        Err(e) => {
            // The fixes before the one that failed changed the repository too: said
            // fixed only once examined, like the others. Opened without the recovery
            // of an interrupted write (what failed may be one, and fail again): the
            // next command recovers it.
            let examined = Workspace::open().map(|ws| examine(&ws).1);
            match &examined {
                Ok(left) => {
                    say_checked(&applied, left);
                    report(left)?;
                }
                Err(_) => {
                    for fix in applied.iter().filter(|f| f.done().is_some()) {
                        eprintln!(
                            "not checked: {}: the repository could not be examined again (run `git secrets doctor`)",
                            fix.tried()
                        );
                    }
                }
            }
            return Err(e);
        }
    };
    let ws = super::open()?;
    let (_, mut left) = examine(&ws);
    say_checked(&applied, &left);
    // What `--fix` just tried and could not do is not its fix: the steps it named are.
    for finding in &mut left {
        if let Ok(Fix::Adopt(path)) = &finding.fix {
            if let Some((_, steps)) = by_hand.iter().find(|(p, _)| p == path) {
                finding.fix = Err(steps.clone());
            }
        }
    }
    report(&left)?;
    verdict(&left, true)
}

/// Says of each fix in `applied` whether it fixed its problem: `fixed:` only when the
/// examination after it (`left`, what is still found) no longer finds it, whatever it
/// changed.
fn say_checked(applied: &[&Fix], left: &[Finding]) {
    for fix in applied {
        let Some(done) = fix.done() else { continue };
        if left
            .iter()
            .any(|f| f.fix.as_ref().is_ok_and(|other| fix.covers(other)))
        {
            eprintln!(
                "not fixed: {}: the problem is still there (below)",
                fix.tried()
            );
        } else {
            eprintln!("fixed: {done}");
        }
    }
}

/// Each problem and its fix, to stdout.
fn report(findings: &[Finding]) -> Result<(), Error> {
    let mut text = String::new();
    for f in findings {
        let fix = match &f.fix {
            Ok(fix) => fix.describe(),
            Err(what) => what.clone(),
        };
        text.push_str(&format!("problem: {}\n  fix: {fix}\n", f.problem));
    }
    if findings.is_empty() {
        text.push_str("no problems found\n");
    }
    super::out(&text)
}

fn verdict(findings: &[Finding], fixed: bool) -> Result<(), Error> {
    if findings.is_empty() {
        return Ok(());
    }
    let automatic = findings.iter().filter(|f| f.fix.is_ok()).count();
    Err(Error::Refused {
        message: format!("{} problem(s) found", findings.len()),
        hint: if fixed || automatic == 0 {
            "each problem above says what to do".into()
        } else {
            format!("`git secrets doctor --fix` repairs {automatic} of them; each problem above says what to do")
        },
    })
}

/// Applies `fixes`, each pushed to `applied` once done (and said then by the caller,
/// once checked). Returns, for each orphan file whose values could not all be moved, its
/// path and the steps left to a person.
fn apply<'a>(
    ws: &mut Workspace,
    fixes: &'a [Fix],
    applied: &mut Vec<&'a Fix>,
) -> Result<Vec<(String, String)>, Error> {
    let (mut rotate, mut adopt) = (Vec::new(), Vec::new());
    for fix in fixes {
        match fix {
            Fix::Attributes => {
                unlock::write_gitattributes(ws.root())?;
                let tracked: Vec<&str> = ws.config.files.keys().map(String::as_str).collect();
                super::track::write_attributes(ws.root(), &tracked)?;
                let overridden = super::track::overridden(ws, &tracked);
                let movable = super::track::movable(ws, &overridden);
                if !movable.is_empty() {
                    super::track::move_attributes_last(ws.root(), &movable)?;
                }
            }
            Fix::Ignores => unlock::write_gitignore(ws.root())?,
            Fix::Checks => install::install_current(&ws.repo, install::CHECKS)?,
            Fix::Configure => unlock::configure(ws)?,
            Fix::Unlock => unlock::cmd_unlock(unlock::UnlockArgs {})?,
            Fix::Rotate(env) => rotate.push(env.clone()),
            // After the rotations: a stray file's values can only be sealed under a key no
            // removed member holds.
            Fix::Adopt(path) => adopt.push(path),
            // Under the directories' locks: one a command started writing since is kept
            // (and reported again).
            Fix::RemoveLeftovers(_) => {
                ws.leftovers(true, true)?;
            }
        }
        applied.push(fix);
    }
    if !rotate.is_empty() {
        let mut ws = super::open()?;
        let done = rotation::rotate(&mut ws, &rotate, |_| Ok(()))?;
        eprintln!(
            "fixed: rotated {} ({} file(s) re-sealed); staged with .secrets/access.json: `git commit` to finish",
            done.environments.join(", "),
            done.files
        );
        super::rotate::report_left_out(&ws, &done);
    }
    let mut left = Vec::new();
    if !adopt.is_empty() {
        let ws = super::open()?;
        for path in adopt {
            for orphan in ws.orphans().iter().filter(|o| o.scope.rel_path() == *path) {
                let done = ws.adopt(orphan)?;
                eprintln!("{}", adopted(path, &done));
                if let Some(steps) = by_hand(path, &done) {
                    left.push((path.clone(), steps));
                }
            }
        }
    }
    Ok(left)
}

/// The steps left to a person once `doctor --fix` kept the orphan file `path` whole
/// (values that differ from its home's, comments), as `fix:` says them. A reused path
/// (crate::workspace::strays) is never to be deleted: its own environment's version is
/// named, to put back once the old name's values are home.
fn by_hand(path: &str, done: &Adopted) -> Option<String> {
    if done.marked || done.locked || done.left_edit || done.given_back.is_some() {
        return None;
    }
    let target = done.target.rel_path();
    if !done.reused {
        let stays = !done.kept.is_empty() || done.comments_kept > 0 || done.layout_conflict;
        return stays.then(|| format!(
            "compare {path} with {target} by hand and keep in {target} what must stay, then `git rm {path}` and commit"
        ));
    }
    let service = match &done.target.service {
        Some(s) => format!(" -s {s}"),
        None => String::new(),
    };
    let keys = match done.kept.as_slice() {
        [] => "each key".to_owned(),
        keys => keys.join(", "),
    };
    let home = &done.target.env;
    let set = format!(
        "set in {target} what {keys} must be for `{home}` (`git secrets get{service} -e {home} KEY`, `git secrets set{service} -e {home} KEY`)"
    );
    let own = crate::scope::Scope::from_rel_path(path).map_or_else(String::new, |s| s.env);
    Some(match &done.own_version {
        Some(rev) => format!(
            "{path} holds the old name's values (set under the old name: `git log -- {path}` names the commit), not `{own}`'s; `{own}`'s own version of it is in {rev} (`git show {rev}:{path}`); {set}, then put `{own}`'s version back with `git checkout {rev} -- {path}` and commit both (deleting {path} would drop `{own}`'s values)"
        ),
        None => format!(
            "{path} holds the old name's values (set under the old name: `git log -- {path}` names the commit), not `{own}`'s, and no commit among the last that changed it holds a version sealed for `{own}`; {set}, then `git rm {path}` and commit both"
        ),
    })
}

/// What became of a reused path once its values went home (crate::workspace::strays).
fn reused_path(path: &str, done: &Adopted) -> Option<String> {
    let target = done.target.rel_path();
    if done.left_edit {
        return Some(format!("; left {path} as it is: it holds plaintext that is neither side's version (conflict markers, or an edit): put back its own environment's version with `git checkout <the side that added it> -- {path}`, or keep only values meant for that environment, then `git add {path}` and commit"));
    }
    let back = done.given_back.as_ref()?;
    let staged = if done.unstaged {
        format!(". {target} also holds edits you had not staged, so it is not staged: review it, then `git add {target}` and commit")
    } else {
        " (commit both)".to_owned()
    };
    Some(match back {
        Some(rev) => {
            format!("; put back {path} as {rev} has it, sealed for its own environment{staged}")
        }
        None => format!(
            "; removed {path}, which no side of the merge has for its own environment{staged}"
        ),
    })
}

/// What `doctor --fix` did with the orphan file `path` (crate::workspace::orphans), as
/// it says it.
fn adopted(path: &str, done: &Adopted) -> String {
    let target = done.target.rel_path();
    if done.marked {
        return format!(
            "fixed: merged {path} into {target}, with conflict markers where both sides of the merge changed {}; resolve them in {target}, then `git add` it and commit",
            if done.kept.is_empty() {
                "comments or order".to_owned()
            } else {
                done.kept.join(", ")
            }
        );
    }
    if done.locked {
        return format!(
            "not fixed: both sides of the merge changed {} in {path}; run `git secrets unlock`, then `git secrets doctor --fix` again, which writes the conflict markers into {target} for you to resolve",
            if done.kept.is_empty() {
                "comments or order".to_owned()
            } else {
                done.kept.join(", ")
            }
        );
    }
    let mut stayed = Vec::new();
    if !done.kept.is_empty() {
        stayed.push(format!("{} differ there", done.kept.join(", ")));
    }
    if done.layout_conflict {
        stayed.push("both sides of the merge changed its comments or order".to_owned());
    }
    if done.comments_kept > 0 {
        stayed.push(format!(
            "{} comment line(s) above no moved key are not there",
            done.comments_kept
        ));
    }
    let comments = match done.comments_moved {
        0 => String::new(),
        n => format!(" (with {n} comment line(s))"),
    };
    let deleted = match done.deleted.as_slice() {
        [] => String::new(),
        keys => format!(", deleted {} (as {path} had)", keys.join(", ")),
    };
    format!(
        "fixed: moved {}{comments} from {path} to {target}{deleted}{}",
        if done.moved.is_empty() {
            "nothing new".to_owned()
        } else {
            done.moved.join(", ")
        },
        if let Some(back) = reused_path(path, done) {
            back
        } else if !stayed.is_empty() {
            format!(
                "; kept {path} whole: {}; {}",
                stayed.join("; "),
                by_hand(path, done).unwrap_or_default()
            )
        } else if done.unstaged {
            format!(
                "; removed {path}. {target} also holds edits you had not staged, so nothing of it is staged: review it, then `git add {target}` and commit"
            )
        } else {
            format!("; removed {path} (commit both)")
        }
    )
}
