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
    // A value anyone who held a retired key may have sealed (a removed member too) goes
    // to no program or file until a person has reviewed and re-sealed it.
    let unverified = ws.unverified_passed_on(scope)?;
    if !unverified.is_empty() {
        return Err(crate::workspace::unverified_refusal(&unverified));
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
    check_sizes(&scope, &values)?;
    let largest = largest_values(&values);
    for (k, v) in &values {
        cmd.env(k, v.expose());
    }
    drop(values);
    exec_with(cmd, program, Some(&largest))
}

/// Linux refuses any one environment string (`NAME=value`) longer than 32 pages
/// (MAX_ARG_STRLEN), whatever the total.
const MAX_ENV_STRING: usize = 32 * 4096;

/// A value no program can be given in its environment is refused before the exec, by
/// key: the kernel's own error (E2BIG) names neither the key nor the cause.
fn check_sizes(scope: &Scope, values: &BTreeMap<String, SecretString>) -> Result<(), Error> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    for (k, v) in values {
        let size = k.len() + 1 + v.expose().len() + 1;
        if size > MAX_ENV_STRING {
            return Err(Error::Usage {
                message: format!(
                    "{}: the value of `{k}` is {} KiB, and the system gives a program no environment variable over {} KiB, so the command cannot be started",
                    scope.label(),
                    size.div_ceil(1024),
                    MAX_ENV_STRING / 1024
                ),
                hint: Some(format!(
                    "keep a value that large in a file the program reads: seal the file whole (`git secrets track PATH`) and put its path in `{k}`"
                )),
            });
        }
    }
    Ok(())
}

/// The three largest values by size, named by key (never a value), for the error when
/// the environment as a whole is over the system's limit.
fn largest_values(values: &BTreeMap<String, SecretString>) -> String {
    let mut sizes: Vec<(usize, &str)> = values
        .iter()
        .map(|(k, v)| (k.len() + v.expose().len() + 2, k.as_str()))
        .collect();
    sizes.sort_by_key(|s| std::cmp::Reverse(s.0));
    let total: usize = sizes.iter().map(|s| s.0).sum();
    let top: Vec<String> = sizes
        .iter()
        .take(3)
        .map(|(n, k)| format!("`{k}` {}", size_text(*n)))
        .collect();
    format!(
        "the scope's {} values take {} (largest: {})",
        sizes.len(),
        size_text(total),
        top.join(", ")
    )
}

fn size_text(n: usize) -> String {
    if n < 1024 {
        format!("{n} bytes")
    } else {
        format!("{} KiB", n.div_ceil(1024))
    }
}

/// A command that cannot be started ends the way a shell ends it: 127 when it is not
/// found, 126 when it is found but cannot be executed, after one error message.
/// `sizes` describes the values `run` put in the environment, for an E2BIG.
fn cannot_run(program: &std::ffi::OsStr, source: std::io::Error, sizes: Option<&str>) -> ! {
    let too_big;
    let (code, hint) = match source.kind() {
        std::io::ErrorKind::NotFound => (127, "check the command name and PATH"),
        std::io::ErrorKind::ArgumentListTooLong => {
            too_big = format!(
                "the arguments and environment are over the system's limit (ARG_MAX){}; keep large values in files the program reads (`git secrets track PATH`), or split the scope",
                sizes.map(|s| format!(": {s}")).unwrap_or_default()
            );
            (126, too_big.as_str())
        }
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

pub(super) fn exec(cmd: std::process::Command, program: &std::ffi::OsStr) -> Result<(), Error> {
    exec_with(cmd, program, None)
}

#[cfg(unix)]
fn exec_with(
    mut cmd: std::process::Command,
    program: &std::ffi::OsStr,
    sizes: Option<&str>,
) -> Result<(), Error> {
    use std::os::unix::process::CommandExt;
    let source = cmd.exec();
    drop(cmd);
    cannot_run(program, source, sizes)
}

#[cfg(not(unix))]
fn exec_with(
    mut cmd: std::process::Command,
    program: &std::ffi::OsStr,
    sizes: Option<&str>,
) -> Result<(), Error> {
    let status = match cmd.status() {
        Ok(s) => s,
        Err(source) => {
            drop(cmd);
            cannot_run(program, source, sizes)
        }
    };
    std::process::exit(status.code().unwrap_or(1));
}
