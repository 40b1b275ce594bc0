//! `git secrets status`: which state this clone is in, which identity is in use and
//! which environments it can read.

use clap::Args;

use crate::access::{Access, Status};
use crate::error::Error;

/// Show this clone's state, identity and the environments it can read.
#[derive(Args, Debug)]
pub struct StatusArgs {}

pub fn cmd_status(_args: StatusArgs) -> Result<(), Error> {
    let ws = super::open()?;
    let mut text = String::new();
    let unlocked = ws.is_unlocked();
    if unlocked {
        // Access may have changed with a pull: the masked diff cache follows.
        super::unlock::refresh_textconv(&ws);
    }
    text.push_str(&format!(
        "clone:        {}\n",
        if unlocked {
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
        let can = member.is_some_and(|(_, m)| Access::may_read(m, env));
        let default = if *env == ws.config.default_environment {
            " (default)"
        } else {
            ""
        };
        text.push_str(&format!(
            "  {env}{default}: {}\n",
            if can { "can read" } else { "no access" }
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
    for problem in ws.access.problems(&ws.config.environments, identity) {
        text.push_str(&format!("problem: {problem}\n"));
    }
    // Files left encrypted in an unlocked clone that this identity could now read.
    if unlocked {
        let readable_but_locked = ws.readable_but_encrypted();
        if !readable_but_locked.is_empty() {
            text.push_str(&format!(
                "still encrypted in the work tree (run `git secrets unlock`): {}\n",
                readable_but_locked.join(", ")
            ));
        }
    }
    super::out(&text)
}
