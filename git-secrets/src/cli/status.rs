//! `git secrets status`: which state this clone is in, which identity is in use and
//! which environments it can read.

use clap::Args;

use crate::access::{Access, Status};
use crate::config::SHARED;
use crate::error::Error;
use crate::workspace::FileState;

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
            m.name,
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
    // Key problems a merge can leave behind, each with its fix.
    for env in ws
        .config
        .environments
        .iter()
        .map(String::as_str)
        .chain([SHARED])
    {
        let heads = ws.access.heads(env);
        if heads.len() > 1 {
            text.push_str(&format!(
                "problem: `{env}` has {} current keys (two rotations were merged); new values cannot be sealed there until `git secrets rotate --env {env}`\n",
                heads.len()
            ));
        }
        for (key, removed) in ws.access.exposed_heads(env) {
            text.push_str(&format!(
                "problem: the current key {key} of `{env}` was given to removed member(s) {}; run `git secrets rotate --env {env}`\n",
                removed.join(", ")
            ));
        }
    }
    // Entries that claim an environment without proof: the environments this identity
    // can open are checked for grants; the others only for a missing wrap.
    let mut claims = Vec::new();
    let mut checked = Vec::new();
    for env in ws
        .config
        .environments
        .iter()
        .map(String::as_str)
        .chain([SHARED])
    {
        if let Some(chain) = identity.and_then(|id| ws.access.open_chain(env, id).ok()) {
            checked.push(env.to_owned());
            claims.extend(
                ws.access
                    .ungranted(env, &chain)
                    .into_iter()
                    .map(|id| (id, env.to_owned(), "no holder of its key granted it")),
            );
        }
    }
    claims.extend(
        ws.access
            .missing_wraps()
            .into_iter()
            .filter(|(_, env)| !checked.contains(env))
            .map(|(id, env)| (id, env, "its current key is not wrapped to them")),
    );
    for (id, env, what) in claims {
        let name = &ws.access.members[&id].name;
        text.push_str(&format!(
            "problem: {name} ({id}) is listed for `{env}` but {what} (an approval merged with a rotation, or an edit by hand: `git log -p .secrets/access.json` shows who changed it); they get no new key of it. If they should read it: `git secrets member approve {id} --env {env}`\n"
        ));
    }
    // Files left encrypted in an unlocked clone that this identity could now read.
    if unlocked {
        let readable_but_locked: Vec<String> = ws
            .scope_files()
            .into_iter()
            .filter(|s| s.env == SHARED || member.is_some_and(|(_, m)| Access::may_read(m, &s.env)))
            .filter(|s| matches!(ws.read_scope(s), Ok(f) if f.state == FileState::Encrypted))
            .map(|s| s.rel_path())
            .collect();
        if !readable_but_locked.is_empty() {
            text.push_str(&format!(
                "still encrypted in the work tree (run `git secrets unlock`): {}\n",
                readable_but_locked.join(", ")
            ));
        }
    }
    super::out(&text)
}
