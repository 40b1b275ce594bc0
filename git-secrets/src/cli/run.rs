//! `git secrets run [SERVICE] [ENV] -- CMD…`: runs CMD with the scope's values (shared
//! ones first) layered over the inherited environment, `${NAME}` references expanded.
//! Nothing is written to disk; on Unix the process is replaced (exec), so the exit
//! status is the command's own.

use std::collections::BTreeMap;

use clap::Args;

use crate::error::Error;
use crate::expand::is_withheld;
use crate::identity::{ENV_IDENTITY, ENV_IDENTITY_FILE};
use crate::scope::Scope;
use crate::secret::SecretString;
use crate::workspace::{FileState, ScopeFile, Workspace};

use super::{resolve_scope, ScopeArgs};

/// Run a command with the scope's secrets in its environment.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// [SERVICE] [ENV]
    #[arg(value_name = "SCOPE")]
    words: Vec<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<std::ffi::OsString>,
}

/// The service's shared values under `scope` (none for a shared scope itself).
pub(super) fn shared_of(ws: &Workspace, scope: &Scope) -> Result<Option<ScopeFile>, Error> {
    if scope.is_shared() {
        return Ok(None);
    }
    Ok(Some(ws.read_scope(&scope.shared())?))
}

/// The scope's values with shared ones under them and references expanded.
pub fn resolved_values(
    ws: &Workspace,
    scope: &Scope,
) -> Result<BTreeMap<String, SecretString>, Error> {
    let shared = shared_of(ws, scope)?;
    let own = ws.read_scope(scope)?;
    if own.state == FileState::Missing
        && shared
            .as_ref()
            .is_none_or(|s| s.state == FileState::Missing)
    {
        return Err(Error::Usage {
            message: format!(
                "{} has no secrets ({} does not exist)",
                scope.label(),
                scope.rel_path()
            ),
            hint: Some(
                "check the scope (`git secrets status`), or add a value with `git secrets set`"
                    .into(),
            ),
        });
    }
    let mut docs = Vec::new();
    if let Some(s) = &shared {
        docs.push(&s.doc);
    }
    docs.push(&own.doc);
    // Withheld names (the identity) are refused by the resolver before it asks.
    let env = |name: &str| std::env::var(name).ok();
    crate::expand::resolve(&docs, &env).map_err(|e| Error::Usage {
        message: format!("{}: {e}", scope.label()),
        hint: Some(e.hint().into()),
    })
}

pub fn cmd_run(args: RunArgs) -> Result<(), Error> {
    let mut ws = super::open()?;
    let (scope, _) = resolve_scope(&mut ws, &args.scope, &args.words, 0, false)?;
    let values = resolved_values(&ws, &scope)?;
    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest);
    // git-secrets' own variables (the identity above all) never reach the program.
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_none_or(is_withheld) {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove(ENV_IDENTITY).env_remove(ENV_IDENTITY_FILE);
    for (k, v) in &values {
        cmd.env(k, v.expose());
    }
    drop(values);
    exec(cmd, program)
}

/// A command that cannot be started ends the way a shell ends it: 127 when it is not
/// found, 126 when it is found but cannot be executed, after one error message.
fn cannot_run(program: &std::ffi::OsStr, source: std::io::Error) -> ! {
    let (code, hint) = match source.kind() {
        std::io::ErrorKind::NotFound => (127, "check the command name and PATH"),
        _ => (
            126,
            "check that the file is an executable program (`chmod +x`), not a directory",
        ),
    };
    eprintln!(
        "error: cannot run `{}`: {source}",
        program.to_string_lossy()
    );
    eprintln!("hint: {hint}");
    std::process::exit(code)
}

#[cfg(unix)]
pub(super) fn exec(mut cmd: std::process::Command, program: &std::ffi::OsStr) -> Result<(), Error> {
    use std::os::unix::process::CommandExt;
    let source = cmd.exec();
    drop(cmd);
    cannot_run(program, source)
}

#[cfg(not(unix))]
pub(super) fn exec(mut cmd: std::process::Command, program: &std::ffi::OsStr) -> Result<(), Error> {
    let status = match cmd.status() {
        Ok(s) => s,
        Err(source) => {
            drop(cmd);
            cannot_run(program, source)
        }
    };
    std::process::exit(status.code().unwrap_or(1));
}
