//! `git secrets rotate [--env E]…`: a new key for environments (a lost laptop, a
//! schedule, or two rotations merged), their files re-sealed and staged.

use clap::Args;

use crate::config::SHARED;
use crate::error::Error;
use crate::rotation::{self, Rotated};
use crate::workspace::Workspace;

/// Give environments new keys and re-seal their files (staged, not committed).
#[derive(Args, Debug)]
pub struct RotateArgs {
    /// An environment to rotate (repeatable; default: every environment and `shared`).
    #[arg(long = "env", short = 'e', value_name = "ENV")]
    envs: Vec<String>,
}

pub fn cmd_rotate(args: RotateArgs) -> Result<(), Error> {
    let mut ws = super::open()?;
    let envs = if args.envs.is_empty() {
        ws.config
            .environments
            .iter()
            .cloned()
            .chain([SHARED.to_owned()])
            .collect()
    } else {
        for e in &args.envs {
            if !ws.config.has_env(e) && e != SHARED {
                return Err(Error::UnknownEnv {
                    name: e.clone(),
                    known: ws.config.environments.clone(),
                });
            }
        }
        args.envs
    };
    warn_unreviewed(&ws, &envs);
    let done = rotation::rotate(&mut ws, &envs, |_| Ok(()))?;
    eprintln!(
        "rotated {} ({} file(s) re-sealed); staged with .secrets/access.json: `git commit` to finish",
        done.environments.join(", "),
        done.files
    );
    report_left_out(&ws, &done);
    Ok(())
}

/// Warns, before a rotation of `envs`, about the unverified values of their files not
/// reviewed in this clone. The rotation re-seals them under the new key, which would
/// make them pass as verified unlooked at; it goes ahead (a removal must not wait), and
/// the commit hook refuses to commit the re-seal until each value is reviewed.
pub fn warn_unreviewed(ws: &Workspace, envs: &[String]) {
    let scopes: Vec<_> = ws
        .scope_files()
        .into_iter()
        .filter(|s| envs.contains(&s.env))
        .collect();
    let reviewed = crate::continuity::Reviewed::load(ws.root());
    let found: Vec<_> = ws
        .unverified_all(&scopes)
        .into_iter()
        .filter(|u| !reviewed.contains(&u.scope.rel_path(), &u.key, &u.token))
        .collect();
    if !found.is_empty() {
        eprintln!(
            "{}; the rotation re-seals them under the new key, and the commit hook refuses to commit that until each one is reviewed",
            crate::workspace::unverified_warning(&found)
        );
    }
}

/// Warns about members a rotation did not carry over although their entries allow them:
/// no holder of the old key granted them access.
pub fn report_left_out(ws: &Workspace, done: &Rotated) {
    report_kept_removed(ws, &done.kept_removed);
    for (env, id) in &done.left_out {
        let name = ws.access.members.get(id).map_or("?", |m| m.name.as_str());
        let name = crate::access::name::shown(name);
        eprintln!(
            "warning: {name} ({id}) was not given the new key of `{env}`: access.json lists them for it, but no holder of its key granted it (an edit by hand, or an approval merged with a rotation; `git log -p .secrets/access.json` shows who changed it). If they should read it: `git secrets member approve {id} --env {env}`"
        );
    }
}

/// Says which members a command marked removed again (crate::workspace::history).
pub fn report_kept_removed(ws: &Workspace, kept: &[(String, String)]) {
    for (id, commit) in kept {
        let name = ws.access.members.get(id).map_or("?", |m| m.name.as_str());
        let name = crate::access::name::shown(name);
        eprintln!(
            "warning: {name} ({id}) was removed ({commit}), but .secrets/access.json lists them again (an edit by hand or a revert; `git log -p .secrets/access.json` shows who): kept removed and given no new key. To read again they join with a new identity."
        );
    }
}
