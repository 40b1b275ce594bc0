//! `git secrets env list|add|rename|del`: the declared environments.

use clap::Subcommand;

use crate::access::Access;
use crate::config::{is_valid_name, SHARED};
use crate::error::Error;
use crate::journal;
use crate::scope::Scope;
use crate::workspace::{FileState, ScopeFile, Workspace};

use super::confirm;

#[derive(Subcommand, Debug)]
pub enum EnvCommand {
    /// List the environments and whether you can read each.
    List,
    /// Declare a new environment (with its own key).
    Add { name: String },
    /// Rename an environment; its values are re-sealed under the new name.
    Rename { from: String, to: String },
    /// Delete an environment and its secret files.
    Del {
        name: String,
        /// Do not ask first.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Accept new keys of an environment that was deleted and added again elsewhere
    /// (this clone refuses keys that reach none it held before).
    Trust { name: String },
}

fn check_new_name(ws: &Workspace, name: &str) -> Result<(), Error> {
    if !is_valid_name(name) || name == SHARED {
        return Err(super::usage(format!("`{name}` is not a valid environment name (lowercase letters, digits, `-`, `_`; `{SHARED}` is reserved)")));
    }
    if ws.config.has_env(name) || ws.config.services.contains(name) {
        return Err(super::usage(format!(
            "`{name}` already names an environment or a service"
        )));
    }
    Ok(())
}

fn known(ws: &Workspace, name: &str) -> Result<(), Error> {
    if ws.config.has_env(name) {
        Ok(())
    } else {
        Err(Error::UnknownEnv {
            name: name.to_owned(),
            known: ws.config.environments.clone(),
        })
    }
}

/// The existing scope files of environment `env` (root and every service).
fn files_of(ws: &Workspace, env: &str) -> Vec<Scope> {
    ws.scope_files()
        .into_iter()
        .filter(|s| s.env == env)
        .collect()
}

pub fn cmd_env(command: EnvCommand) -> Result<(), Error> {
    let mut ws = super::open()?;
    match command {
        EnvCommand::List => {
            let me = ws
                .identity_opt()
                .ok()
                .flatten()
                .and_then(|id| ws.access.member_of(id))
                .map(|(_, m)| m.clone());
            let mut text = String::new();
            for env in &ws.config.environments {
                let default = if *env == ws.config.default_environment {
                    " (default)"
                } else {
                    ""
                };
                let access = if me.as_ref().is_some_and(|m| Access::may_read(m, env)) {
                    "can read"
                } else {
                    "no access"
                };
                text.push_str(&format!("{env}{default}\t{access}\n"));
            }
            super::out(&text)
        }
        EnvCommand::Add { name } => {
            ws.refuse_outside_checkout(&[])?;
            check_new_name(&ws, &name)?;
            // The new key goes to members granted every existing environment; only a
            // holder of all their keys can check those grants.
            let mut chains = std::collections::BTreeMap::new();
            for e in &ws.config.environments {
                let chain = ws.open_chain(e).map_err(|err| match err {
                    Error::NoAccess { .. } => Error::Refused {
                        message: format!("you cannot add an environment: you cannot read `{e}`"),
                        hint: format!("a new environment goes to the members who can read every existing one, and only a member who holds all their keys can tell who those are: ask one to run `git secrets env add {name}`"),
                    },
                    err => err,
                })?;
                chains.insert(e.clone(), chain);
            }
            ws.require_whole_history("adding an environment")?;
            let mut next = ws.access.clone();
            let kept_removed = ws.keep_removed(&mut next);
            let key = next.add_env(&name, &chains)?;
            // The keys an earlier environment of this name had, given to this member, are
            // recorded as left out by the new key on purpose, so fresh clones that were
            // given them accept the new key (crate::continuity::lineage). They do not
            // join its chain: the new environment reads nothing the old one sealed.
            let head = crate::seal::SealingKey::new(&key).id().clone();
            let former = ws.keys_of_former_env(&name);
            next.record_left_out(&name, (&head, &key), former.iter().map(|r| (&r.id, &r.key)));
            ws.access = next;
            super::rotate::report_kept_removed(&ws, &kept_removed);
            // Keys this clone held for an earlier environment of this name are not these.
            crate::continuity::forget(ws.root(), &name);
            ws.config.environments.push(name.clone());
            ws.save_access()?;
            ws.save_config()?;
            eprintln!("added environment `{name}` with its own key");
            Ok(())
        }
        EnvCommand::Rename { from, to } => {
            // It rewrites config.toml and access.json, and moves or deletes scope files.
            ws.refuse_outside_checkout(&[])?;
            known(&ws, &from)?;
            check_new_name(&ws, &to)?;
            // A file already there (of an environment config.toml lacks) would be
            // overwritten, and a rollback would delete it.
            let there: Vec<String> = files_of(&ws, &to).iter().map(Scope::rel_path).collect();
            if !there.is_empty() {
                return Err(Error::Refused {
                    message: format!(
                        "cannot rename `{from}` to `{to}`: {} already exist(s), a file of an environment .secrets/config.toml does not declare",
                        there.join(", ")
                    ),
                    hint: "`git secrets doctor` says where its values belong; move or delete it first".into(),
                });
            }
            // Open everything first: if any file cannot be opened, nothing changes.
            let mut moves = Vec::new();
            for old in files_of(&ws, &from) {
                let file = ws.read_scope(&old)?;
                moves.push((old, file));
            }
            // The chain's seals bind the environment's name: redo them under the new one.
            let chain = ws.open_chain(&from)?;
            // Every value is sealed again, under the current key: only one this clone may
            // seal under (the new name is new to its memory of keys).
            ws.check_current(&from)?;
            ws.access.rename_env(&from, &to);
            ws.access.reseal_chain(&to, &chain)?;
            for e in ws.config.environments.iter_mut().filter(|e| **e == from) {
                *e = to.clone();
            }
            // Tracked files keep their keys (a file's seal binds its path, not the name).
            for e in ws.config.files.values_mut().filter(|e| **e == from) {
                *e = to.clone();
            }
            if ws.config.default_environment == from {
                ws.config.default_environment = to.clone();
            }
            // The keys are the same; only the scope bound into each value changes.
            let mut renamed = Workspace::open_repo(ws.repo.clone())?;
            renamed.access = ws.access.clone();
            renamed.config = ws.config.clone();
            let news: Vec<Scope> = moves
                .iter()
                .map(|(old, _)| Scope::new(old.service.as_deref(), &to))
                .collect();
            // Crash-safe (crate::journal): the files under the new name first, then
            // access.json and config.toml, then the old files deleted.
            let pending = journal::begin(
                &ws,
                journal::Change::Rename {
                    from: from.clone(),
                    to: to.clone(),
                },
                &renamed.config,
                &renamed.access,
                news.iter().map(Scope::rel_path).collect(),
                moves.iter().map(|(old, _)| old.rel_path()).collect(),
            )?;
            let written = moves.iter().zip(&news).try_for_each(|((_, file), new)| {
                let state = if file.state == FileState::Missing {
                    FileState::Plain
                } else {
                    file.state
                };
                renamed
                    .write_scope(
                        new,
                        &ScopeFile {
                            doc: file.doc.clone(),
                            state,
                        },
                    )
                    .map(drop)
            });
            if let Err(e) = written {
                return Err(pending.abandon(ws.root(), e));
            }
            journal::fault("env-after-files");
            pending.apply(ws.root())?;
            eprintln!(
                "renamed environment `{from}` to `{to}` ({} file(s) re-sealed); commit .secrets",
                moves.len()
            );
            Ok(())
        }
        EnvCommand::Del { name, yes } => {
            // It rewrites config.toml and access.json, and moves or deletes scope files.
            ws.refuse_outside_checkout(&[])?;
            known(&ws, &name)?;
            if ws.config.environments.len() == 1 {
                return Err(super::usage(format!(
                    "`{name}` is the only environment; add another first"
                )));
            }
            let tracked: Vec<&str> = ws
                .config
                .files
                .iter()
                .filter(|(_, e)| **e == name)
                .map(|(p, _)| p.as_str())
                .collect();
            if !tracked.is_empty() {
                return Err(Error::Refused {
                    message: format!(
                        "tracked files are sealed with the key of `{name}`: {}",
                        tracked.join(", ")
                    ),
                    hint:
                        "move them first (`git secrets track PATH -e OTHER`), then `git add` them"
                            .into(),
                });
            }
            let files = files_of(&ws, &name);
            confirm(
                &format!(
                    "delete environment `{name}` and its {} secret file(s)?",
                    files.len()
                ),
                yes,
            )?;
            ws.config.environments.retain(|e| *e != name);
            if ws.config.default_environment == name {
                ws.config.default_environment = ws.config.environments[0].clone();
            }
            ws.access.delete_env(&name);
            // Crash-safe (crate::journal): access.json and config.toml, then the files.
            journal::begin(
                &ws,
                journal::Change::Delete { name: name.clone() },
                &ws.config,
                &ws.access,
                Vec::new(),
                files.iter().map(Scope::rel_path).collect(),
            )?
            .apply(ws.root())?;
            eprintln!("deleted environment `{name}`; its values remain in git history");
            Ok(())
        }
        EnvCommand::Trust { name } => {
            if name != SHARED {
                known(&ws, &name)?;
            }
            crate::continuity::forget(ws.root(), &name);
            let chain = ws.open_chain(&name)?;
            let ids: Vec<&str> = chain.keys.iter().map(|(id, _)| id.0.as_str()).collect();
            eprintln!(
                "trusting the keys of `{name}` in .secrets/access.json ({}); values sealed from now on use them",
                ids.join(", ")
            );
            Ok(())
        }
    }
}
