//! `git secrets status`: which state this clone is in, which identity is in use and
//! which environments it can read.

use clap::Args;

use crate::access::{Access, Status};
use crate::error::Error;
use crate::workspace::Workspace;

/// Show this clone's state, identity and the environments it can read.
#[derive(Args, Debug)]
pub struct StatusArgs {}

pub fn cmd_status(_args: StatusArgs) -> Result<(), Error> {
    let ws = super::open()?;
    let mut text = String::new();
    let unlocked = ws.is_unlocked();
    // Files this identity can read still encrypted here, with the filter configured.
    let mut readable_but_locked = Vec::new();
    if unlocked {
        // Access may have changed with a pull: the masked diff cache follows.
        super::unlock::refresh_textconv(&ws);
        readable_but_locked = ws.readable_but_encrypted();
    }
    // `lock` in one worktree keeps the filter the others need (crate::cli::lock), and
    // marks this one (an older git-secrets did not: then its sealed files tell).
    let locked_here = (ws.filter_configured() && crate::journal::worktree_locked(&ws.repo))
        || (!readable_but_locked.is_empty()
            && !ws.holds_plaintext()
            && super::lock::other_worktrees(&ws.repo).is_ok_and(|others| !others.is_empty()));
    text.push_str(&format!(
        "clone:        {}\n",
        if locked_here {
            "locked in this worktree (the filter stays configured for the repository's other worktrees; `git secrets unlock` decrypts the files here)"
        } else if unlocked {
            "unlocked (filter configured)"
        } else {
            "locked (no filter configured; `git secrets unlock` to set it up)"
        }
    ));
    let identity = match ws.identity_opt() {
        Ok(Some(id)) => {
            text.push_str(&format!(
                "identity:     {} ({})\n",
                id.recipient(),
                id.origin
            ));
            Some(id)
        }
        Ok(None) => {
            text.push_str("identity:     none (`git secrets join --name NAME` creates one)\n");
            None
        }
        Err(e) => {
            text.push_str(&format!("identity:     error: {e}\n"));
            None
        }
    };
    let member = identity.and_then(|id| ws.access.member_of(id));
    match member {
        Some((id, m)) => text.push_str(&format!(
            "member:       {} ({id}, {})\n",
            m.shown_name(),
            format!("{:?}", m.status).to_lowercase()
        )),
        None => text.push_str("member:       not a member of this repository\n"),
    }
    text.push_str("environments:\n");
    for env in &ws.config.environments {
        let keyless = ws.access.keys.get(env).is_none_or(|k| k.is_empty());
        let can = member.is_some_and(|(_, m)| Access::may_read(m, env));
        let default = if *env == ws.config.default_environment {
            " (default)"
        } else {
            ""
        };
        text.push_str(&format!(
            "  {env}{default}: {}\n",
            if keyless {
                "no key in .secrets/access.json (see the problem below)"
            } else if can {
                "can read"
            } else {
                "no access"
            }
        ));
    }
    let pending = ws
        .access
        .members
        .values()
        .filter(|m| m.status == Status::Pending)
        .count();
    text.push_str(&format!("pending requests: {pending}\n"));
    if !ws.config.files.is_empty() {
        let files: Vec<String> = ws
            .config
            .files
            .iter()
            .map(|(path, env)| format!("{path} ({env})"))
            .collect();
        text.push_str(&format!("tracked files: {}\n", files.join(", ")));
        let paths: Vec<&str> = ws.config.files.keys().map(String::as_str).collect();
        let wanted: Vec<String> = paths
            .iter()
            .map(|p| super::track::attribute_line(p))
            .collect();
        let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let attrs = std::fs::read_to_string(ws.root().join(".gitattributes")).unwrap_or_default();
        let lacking = super::unlock::missing_lines(&attrs, &wanted);
        let overridden = super::track::overridden(&ws, &paths);
        if !lacking.is_empty() || !overridden.is_empty() {
            text.push_str(&format!(
                "problem: tracked file(s) not routed to the secrets filter (their .gitattributes line is missing, or a later line overrides it), so they would be committed as they are: {}; run `git secrets doctor --fix`\n",
                paths
                    .iter()
                    .filter(|p| overridden.iter().any(|o| o == *p)
                        || lacking.contains(&super::track::attribute_line(p).as_str()))
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let hooks = crate::guard::install::installed(&ws.repo);
    let missing: Vec<&str> = hooks
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(h, _)| *h)
        .collect();
    if unlocked {
        let monitor = ws.repo.config_get_any("core.fsmonitor");
        text.push_str(match monitor.as_deref() {
            Some(v) if super::unlock::is_our_fsmonitor(v) => {
                "fsmonitor:    git-secrets (git status skips the filter for unchanged secret files)\n"
            }
            Some(_) => "fsmonitor:    your own (git status runs the filter on touched secret files)\n",
            None => "fsmonitor:    none (`git secrets unlock` sets it up with git 2.31 or later)\n",
        });
    }
    let (checks, cache): (Vec<&str>, Vec<&str>) = missing
        .iter()
        .partition(|h| crate::guard::install::is_check(h));
    if missing.is_empty() {
        text.push_str(&format!(
            "hooks:        {} installed\n",
            crate::guard::install::HOOKS.join(", ")
        ));
    } else if unlocked && !checks.is_empty() {
        text.push_str(&format!(
            "problem: the {} hook(s) are not installed (a tool may have rewritten them); run `git secrets unlock`\n",
            missing.join(", ")
        ));
    } else if unlocked {
        text.push_str(&format!(
            "hooks:        the checks are installed; not {} (they cache the masked diff of new commits; `git secrets unlock` installs them)\n",
            cache.join(", ")
        ));
    }
    // Key problems a merge or an edit can leave behind, each with its fix.
    for (problem, fix) in crate::journal::out_of_step(&ws.config, &ws.access) {
        text.push_str(&format!("problem: {problem}; {fix}\n"));
    }
    for problem in ws.access.problems(&ws.config.environments, identity) {
        text.push_str(&format!("problem: {problem}\n"));
    }
    for (service, files) in ws.undeclared_services() {
        let (problem, fix) = undeclared_service_problem(&service, &files);
        text.push_str(&format!("problem: {problem}; {fix}\n"));
    }
    for orphan in ws.orphans() {
        text.push_str(&format!(
            "problem: {}; {}\n",
            orphan_problem(&orphan),
            if orphan.sealed_for.is_some() {
                "`git secrets doctor --fix` moves them there".to_owned()
            } else {
                "restore the environment in .secrets/config.toml, or delete the file".to_owned()
            }
        ));
    }
    for u in unverified_values(&ws) {
        text.push_str(&format!("problem: {}; {}\n", u.describe(), u.fix()));
    }
    // `open` removed what a crash left where it could; what remains is named.
    if let Ok(left) = ws.leftovers(false, false) {
        let shown = |paths: &[std::path::PathBuf]| {
            paths
                .iter()
                .map(|p| ws.shown_path(p))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !left.stale.is_empty() {
            text.push_str(&format!(
                "problem: temporary file(s) an interrupted git-secrets command left, which may hold plaintext secrets, could not be removed: {}; delete them (`git secrets doctor --fix`)\n",
                shown(&left.stale)
            ));
        }
        if !left.busy.is_empty() {
            text.push_str(&format!(
                "writing:      temporary file(s) beside which another git-secrets command is writing now: {} (removed by the next command if it leaves them)\n",
                shown(&left.busy)
            ));
        }
    }
    if member.is_some() {
        for problem in history_problems(&ws) {
            text.push_str(&format!("problem: {problem}\n"));
        }
    }
    let outside = ws.outside_checkout(&[]);
    if !outside.is_empty() {
        text.push_str(&format!(
            "sparse:       {} file(s) of git-secrets outside the sparse checkout: read from git, never written here (`git sparse-checkout add .secrets` to change them)\n",
            outside.len()
        ));
    }
    // Files left encrypted in an unlocked clone that this identity could now read.
    if !readable_but_locked.is_empty() && !locked_here {
        text.push_str(&format!(
            "still encrypted in the work tree (run `git secrets unlock`): {}\n",
            readable_but_locked.join(", ")
        ));
    }
    super::out(&text)
}

/// What this clone's memory of keys and HEAD's history of access.json say against the
/// current access.json: keys replaced or rolled back (crate::continuity), and members
/// listed again after a removal. Opening every readable environment also makes this
/// clone remember its keys.
pub fn history_problems(ws: &Workspace) -> Vec<String> {
    let with_hint = |e: Error| match e.hint() {
        Some(h) => format!("{e} ({h})"),
        None => e.to_string(),
    };
    let mut out: Vec<String> = ws
        .remember_keys()
        .into_iter()
        .map(|env| with_hint(Error::KeysReplaced { env }))
        .collect();
    let removals = ws.removals();
    for env in ws
        .config
        .environments
        .iter()
        .map(String::as_str)
        .chain([crate::config::SHARED])
    {
        if let Err(e) = ws.check_current(env) {
            out.push(with_hint(e));
        }
    }
    for (id, place) in removals {
        if let Some(m) = ws
            .access
            .members
            .get(&id)
            .filter(|m| m.status != Status::Removed)
        {
            out.push(format!(
                "{} ({id}) was removed ({place}), but .secrets/access.json lists them as {} again (an edit by hand or a revert: `git log -p .secrets/access.json` shows who); a rotation keeps them removed, and if this undid a removal, revert it back",
                crate::access::name::shown(&m.name),
                format!("{:?}", m.status).to_lowercase()
            ));
        }
    }
    out
}

/// The unverified values of every scope file in the work tree
/// (crate::workspace::Unverified); a file that cannot be read is left to the problems
/// that say why.
pub fn unverified_values(ws: &Workspace) -> Vec<crate::workspace::Unverified> {
    ws.unverified_all(&ws.scope_files())
}

/// A service with scope files that config.toml lacks, as (problem, fix).
pub fn undeclared_service_problem(
    service: &str,
    files: &[crate::scope::Scope],
) -> (String, String) {
    let files: Vec<String> = files.iter().map(|s| s.rel_path()).collect();
    (
        format!(
            "{} {} of service `{service}`, which .secrets/config.toml does not have: get, run and export never read {} (its folder renamed or copied by hand, e.g. with `git mv`?)",
            files.join(", "),
            if files.len() == 1 { "is a file" } else { "are files" },
            if files.len() == 1 { "it" } else { "them" },
        ),
        format!(
            "declare it with `git secrets service add {service}` (if the files were moved there with `git mv`, re-seal them too: `git add --renormalize -- .secrets/{service}`); or delete the folder if it is not wanted"
        ),
    )
}

/// What is wrong with a scope file of an environment config.toml lacks.
pub fn orphan_problem(orphan: &crate::workspace::Orphan) -> String {
    let home = match &orphan.sealed_for {
        Some(env) => format!(
            "; it was sealed with the key of `{env}`, so its values belong in {}",
            crate::scope::Scope::new(orphan.scope.service.as_deref(), env).rel_path()
        ),
        None => String::new(),
    };
    if orphan.reused {
        return format!(
            "{} holds values sealed for another environment, not for `{}`: the old `{}`'s, renamed on one side of a merge while the other changed it, the name given to a new environment since; no command of `{}` opens them, and they must not be sealed for its readers{home}",
            orphan.scope.rel_path(),
            orphan.scope.env,
            orphan.scope.env,
            orphan.scope.env
        );
    }
    format!(
        "{} is a file of `{}`, an environment .secrets/config.toml does not have: get, run and export never read it (an `env rename` merged with a value set or changed under the old name?){home}",
        orphan.scope.rel_path(),
        orphan.scope.env
    )
}
