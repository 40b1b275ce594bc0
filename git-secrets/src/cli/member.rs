//! `git secrets member list|approve|remove`.

use clap::Subcommand;

use crate::access::health::KeyProblem;
use crate::access::{Access, MemberKind, Status};
use crate::config::SHARED;
use crate::envfile;
use crate::error::Error;
use crate::identity;
use crate::rotation;
use crate::workspace::Workspace;

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// List members and requests, with each recipient's fingerprint to check out of band.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Approve a request: wrap the environments' keys (all, or those named) to it.
    Approve {
        /// Member id (or a unique prefix, or name).
        id: String,
        /// An environment to give (repeatable; default: every environment for a request,
        /// the ones it has for an active member).
        #[arg(long = "env", short = 'e', value_name = "ENV")]
        envs: Vec<String>,
    },
    /// Remove a member: rotate every key it could read and list the secrets it saw.
    Remove {
        /// Member id (or a unique prefix, or name).
        id: String,
    },
}

pub fn cmd_member(command: MemberCommand) -> Result<(), Error> {
    let mut ws = super::open()?;
    match command {
        MemberCommand::List { json } => list(&ws, json, None),
        MemberCommand::Approve { id, envs } => approve(&mut ws, &id, envs),
        MemberCommand::Remove { id } => remove(&mut ws, &id, None),
    }
}

pub fn list(ws: &Workspace, json: bool, kind: Option<MemberKind>) -> Result<(), Error> {
    // Environments an entry claims that no holder of their keys granted (checked where
    // this identity can open them): an approver must not take the entry's word for it.
    let mut ungranted: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let identity = ws.identity_opt().ok().flatten();
    for p in ws.access.problems(&ws.config.environments, identity) {
        if let KeyProblem::Ungranted { env, member, .. } = p {
            ungranted.entry(member).or_default().push(env);
        }
    }
    let not_granted = |id: &str| ungranted.get(id).cloned().unwrap_or_default();
    let members = ws
        .access
        .members
        .iter()
        .filter(|(_, m)| kind.is_none_or(|k| m.kind == k));
    if json {
        let rows: Vec<serde_json::Value> = members
            .map(|(id, m)| {
                serde_json::json!({
                    "id": id, "name": m.name, "kind": m.kind, "status": m.status,
                    "environments": m.environments, "fingerprint": identity::fingerprint(&m.recipient),
                    "recipient": m.recipient, "not_granted": not_granted(id),
                })
            })
            .collect();
        return super::out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&rows).expect("JSON")
        ));
    }
    let mut text = String::new();
    for (id, m) in members {
        let envs = if m.status == Status::Pending {
            "-".to_owned()
        } else {
            m.environments.iter().cloned().collect::<Vec<_>>().join(",")
        };
        let missing = not_granted(id);
        let warning = if missing.is_empty() {
            String::new()
        } else {
            format!(
                "  NOT GRANTED: {} (listed, but no key holder gave it; see `git secrets status`)",
                missing.join(",")
            )
        };
        text.push_str(&format!(
            "{id}  {:<16} {:<6} {:<8} {:<24} {}{warning}\n",
            m.shown_name(),
            format!("{:?}", m.kind).to_lowercase(),
            format!("{:?}", m.status).to_lowercase(),
            envs,
            identity::fingerprint(&m.recipient)
        ));
    }
    super::out(&text)
}

fn check_envs(ws: &Workspace, envs: &[String]) -> Result<Vec<String>, Error> {
    if envs.is_empty() {
        return Ok(ws.config.environments.clone());
    }
    for e in envs {
        if !ws.config.has_env(e) {
            return Err(Error::UnknownEnv {
                name: e.clone(),
                known: ws.config.environments.clone(),
            });
        }
    }
    Ok(envs.to_vec())
}

/// Gives `member` the environments `envs` (and `shared`): wraps their current keys to it.
pub fn grant(ws: &mut Workspace, member: &str, envs: &[String]) -> Result<(), Error> {
    ws.require_whole_history("giving keys to a member")?;
    let mut next = ws.access.clone();
    {
        let m = next.members.get_mut(member).expect("member exists");
        m.status = Status::Active;
        m.approved_at = Some(crate::access::now());
        m.environments.extend(envs.iter().cloned());
    }
    for env in envs.iter().map(String::as_str).chain([SHARED]) {
        let chain = ws.open_chain(env).map_err(|e| match e {
            Error::NoAccess { .. } => Error::Refused {
                message: format!("you cannot give `{env}`: you cannot read it yourself"),
                hint: "ask a member who can read it to approve, or name only your environments with --env".into(),
            },
            e => e,
        })?;
        // No key a removed member holds (HEAD's history has the removal) goes to anyone.
        ws.check_current(env)?;
        next.wrap_heads(env, member, &chain)?;
    }
    ws.access = next;
    ws.save_access()
}

fn approve(ws: &mut Workspace, query: &str, envs: Vec<String>) -> Result<(), Error> {
    let id = ws.access.find_member(query)?;
    let m = &ws.access.members[&id];
    if m.status == Status::Removed {
        return Err(Error::Refused {
            message: format!(
                "member {id} ({}) was removed and cannot be approved again",
                m.shown_name()
            ),
            hint: "a removed key stays removed: they must join with a new identity".into(),
        });
    }
    if let Some(commit) = ws.removed_in_history(&m.recipient) {
        return Err(Error::Refused {
            message: format!(
                "member {id} ({}) was removed (commit {}); a later edit took the removal out of .secrets/access.json",
                m.shown_name(),
                &commit[..commit.len().min(12)]
            ),
            hint: format!("a removed key stays removed: they must join with a new identity (`git log -p .secrets/access.json` shows who edited it since {})", &commit[..commit.len().min(12)]),
        });
    }
    if ws.seen().removed.contains(&id) {
        return Err(Error::Refused {
            message: format!(
                "member {id} ({}) was removed (this clone saw it, on a branch this one does not have yet)",
                m.shown_name()
            ),
            hint: "a removed key stays removed: they must join with a new identity".into(),
        });
    }
    // Approving an active member again without --env re-wraps what it already has (after
    // a merge lost a wrap); a request gets every environment by default.
    let envs = if envs.is_empty() && m.status == Status::Active {
        m.environments.iter().cloned().collect()
    } else {
        check_envs(ws, &envs)?
    };
    let (name, fp) = (
        m.shown_name().to_string(),
        identity::fingerprint(&m.recipient),
    );
    grant(ws, &id, &envs)?;
    eprintln!("approved {name} ({id}, {fp}) for {}", envs.join(", "));
    eprintln!("next: commit and push .secrets/access.json; they can then `git secrets unlock`");
    Ok(())
}

/// Removes a member (of `kind`, when given) with a rotation of every environment it could
/// read, and prints the secrets it could read.
pub fn remove(ws: &mut Workspace, query: &str, kind: Option<MemberKind>) -> Result<(), Error> {
    let id = ws.access.find_member(query)?;
    let m = ws.access.members[&id].clone();
    if kind.is_some_and(|k| m.kind != k) {
        return Err(Error::Usage {
            message: format!("{id} ({}) is not a CI key", m.shown_name()),
            hint: Some("use `git secrets member remove` for people".into()),
        });
    }
    if m.status == Status::Removed {
        return Err(Error::Refused {
            message: format!("member {id} ({}) is already removed", m.shown_name()),
            hint: "`git secrets member list` shows every member".into(),
        });
    }
    ws.require_whole_history("a removal")?;
    // What the member could read is every environment whose keys were ever wrapped to
    // it, here or in HEAD's history, not what its entry lists now: anyone who can push
    // can edit the entry (or its wraps) before the removal. Without a history to ask,
    // every environment is rotated.
    let given = ws.environments_given(&id);
    let readable: Vec<String> = ws
        .config
        .environments
        .iter()
        .chain([&SHARED.to_owned()])
        .filter(|e| {
            Access::may_read(&m, e) || given.as_ref().is_none_or(|g| g.contains(e.as_str()))
        })
        .cloned()
        .collect();
    for env in readable.iter().filter(|e| *e != SHARED) {
        // Only members the current keys granted count: an entry edited by hand would
        // get no new key (where this identity cannot check, the rotation will refuse).
        let chain = ws.open_chain(env).ok();
        let others = ws
            .access
            .members
            .iter()
            .filter(|(oid, om)| **oid != id && Access::may_read(om, env))
            .filter(|(oid, _)| {
                chain
                    .as_ref()
                    .is_none_or(|c| **oid == c.member || ws.access.granted(env, oid, c))
            })
            .count();
        if others == 0 {
            return Err(Error::Refused {
                message: format!("{} is the last member who can read `{env}`; removing them would lock it for good", m.shown_name()),
                hint: format!("approve someone else for `{env}` first (`git secrets member approve ID --env {env}`)"),
            });
        }
    }
    // What the member could read, by key name (names are public; no value is opened).
    let mut seen = Vec::new();
    for scope in ws
        .scope_files()
        .into_iter()
        .filter(|s| readable.contains(&s.env))
    {
        let bytes = std::fs::read(scope.path(ws.root())).unwrap_or_default();
        let names = if envfile::is_encrypted(&bytes) {
            envfile::key_names(&bytes).unwrap_or_default()
        } else {
            crate::dotenv::Document::parse(&bytes)
                .map(|d| d.keys())
                .unwrap_or_default()
        };
        if !names.is_empty() {
            seen.push(format!("  {}: {}", scope.label(), names.join(", ")));
        }
    }
    let files: Vec<&str> = ws
        .config
        .files
        .iter()
        .filter(|(_, e)| readable.contains(e))
        .map(|(p, _)| p.as_str())
        .collect();
    if !files.is_empty() {
        seen.push(format!("  tracked files: {}", files.join(", ")));
    }
    super::rotate::warn_unreviewed(ws, &readable);
    let rotated = rotation::rotate(ws, &readable, |next| {
        let nm = next.members.get_mut(&id).expect("member exists");
        nm.status = Status::Removed;
        nm.removed_at = Some(crate::access::now());
        Ok(())
    })?;
    eprintln!(
        "removed {} ({id}); rotated {} ({} file(s) re-sealed and staged with .secrets/access.json)",
        m.shown_name(),
        rotated.environments.join(", "),
        rotated.files
    );
    if seen.is_empty() {
        eprintln!("they could read no secret yet");
    } else {
        eprintln!("they could read these secrets; change them at their provider too (rotation protects new values, not what was already seen):");
        super::out(&format!("{}\n", seen.join("\n")))?;
    }
    super::rotate::report_left_out(ws, &rotated);
    eprintln!("next: `git commit` (the rotation is staged)");
    Ok(())
}
