//! The command line: one module per subcommand, each a thin layer over the library.
//! Data goes to stdout, messages to stderr; errors are printed in one place ([`main`])
//! as `error:` then `hint:` lines, with exit status 1 (2 for usage errors).

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};

use clap::{Args, Parser, Subcommand};

use crate::config::SHARED;
use crate::error::Error;
use crate::scope::Scope;
use crate::workspace::Workspace;

mod check;
mod diff;
mod doctor;
mod env;
mod export;
mod filter;
mod fsmonitor;
mod get;
mod hook;
mod import;
mod init;
mod join;
mod keys;
mod lock;
mod member;
mod one_writer;
mod parse_error;
mod rotate;
mod run;
mod service;
mod set;
mod status;
mod sync;
mod textconv;
mod track;
mod unlock;
mod unset;

/// Encrypted .env secrets in your git repository, per service and environment.
#[derive(Parser, Debug)]
#[command(
    name = "git-secrets",
    bin_name = "git secrets",
    version,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Init(init::InitArgs),
    Unlock(unlock::UnlockArgs),
    Lock(lock::LockArgs),
    Status(status::StatusArgs),
    Doctor(doctor::DoctorArgs),
    Set(set::SetArgs),
    Unset(unset::UnsetArgs),
    Get(get::GetArgs),
    Run(run::RunArgs),
    Import(import::ImportArgs),
    Export(export::ExportArgs),
    Sync(sync::SyncArgs),
    /// Declare, list, rename and delete environments.
    #[command(subcommand)]
    Env(env::EnvCommand),
    /// List and declare services.
    #[command(subcommand)]
    Service(service::ServiceCommand),
    Join(join::JoinArgs),
    /// List members, approve requests, remove members (with a rotation).
    #[command(subcommand)]
    Member(member::MemberCommand),
    Rotate(rotate::RotateArgs),
    /// CI keys: identities limited to some environments, printed once.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    // The guard (issue 4): the git hooks' check and its server-side twin.
    Hook(hook::HookArgs),
    Check(check::CheckArgs),
    Track(track::TrackArgs),
    #[command(hide = true, name = "filter-process")]
    FilterProcess,
    Diff(diff::DiffArgs),
    /// git's textconv for `diff=secrets` files (configured by `unlock`).
    #[command(hide = true)]
    Textconv(textconv::TextconvArgs),
    /// git's `core.fsmonitor` hook (configured by `unlock`).
    #[command(hide = true)]
    Fsmonitor(fsmonitor::FsmonitorArgs),
}

/// Which scope a command works on. Positional words before the key (`api production`)
/// do the same as these flags.
#[derive(Args, Debug, Default, Clone)]
pub struct ScopeArgs {
    /// The service (a new one is created only when named here on purpose).
    #[arg(short, long, value_name = "NAME")]
    pub service: Option<String>,
    /// The environment (default: the configured default, usually development).
    #[arg(short, long = "env", value_name = "ENV")]
    pub env: Option<String>,
    /// The values shared by every environment of the service.
    #[arg(long, conflicts_with = "env")]
    pub shared: bool,
}

/// Runs the CLI on `args` (argv, program name first) and returns the exit status.
/// `bin_name` is how the user typed it (`git secrets` or `cargo secrets`), for usage text.
pub fn main(args: Vec<OsString>, bin_name: &'static str) -> i32 {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = Cli::command().bin_name(bin_name);
    let parsed = cmd
        .try_get_matches_from_mut(args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let e = parse_error::without_values(e, &cmd);
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    // Commands that write secret files or access.json wait for each other (one_writer).
    let _writing = matches!(
        cli.command,
        Command::Unlock(_)
            | Command::Lock(_)
            | Command::Set(_)
            | Command::Unset(_)
            | Command::Import(_)
            | Command::Sync(_)
            | Command::Env(_)
            | Command::Service(_)
            | Command::Join(_)
            | Command::Member(_)
            | Command::Rotate(_)
            | Command::Keys(_)
            | Command::Track(_)
    )
    .then(one_writer::take)
    .flatten();
    let result = match cli.command {
        Command::Init(a) => init::cmd_init(a),
        Command::Unlock(a) => unlock::cmd_unlock(a),
        Command::Lock(a) => lock::cmd_lock(a),
        Command::Status(a) => status::cmd_status(a),
        Command::Doctor(a) => doctor::cmd_doctor(a),
        Command::Set(a) => set::cmd_set(a),
        Command::Unset(a) => unset::cmd_unset(a),
        Command::Get(a) => get::cmd_get(a),
        Command::Run(a) => run::cmd_run(a),
        Command::Import(a) => import::cmd_import(a),
        Command::Export(a) => export::cmd_export(a),
        Command::Sync(a) => sync::cmd_sync(a),
        Command::Env(c) => env::cmd_env(c),
        Command::Service(c) => service::cmd_service(c),
        Command::Join(a) => join::cmd_join(a),
        Command::Member(c) => member::cmd_member(c),
        Command::Rotate(a) => rotate::cmd_rotate(a),
        Command::Keys(c) => keys::cmd_keys(c),
        Command::Hook(a) => hook::cmd_hook(a),
        Command::Check(a) => check::cmd_check(a),
        Command::Track(a) => track::cmd_track(a),
        Command::FilterProcess => filter::cmd_filter_process(),
        Command::Diff(a) => diff::cmd_diff(a),
        Command::Textconv(a) => textconv::cmd_textconv(a),
        Command::Fsmonitor(a) => fsmonitor::cmd_fsmonitor(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: {e}");
            if let Some(h) = e.hint() {
                let _ = writeln!(err, "hint: {h}");
            }
            1
        }
    }
}

fn is_broken_pipe(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Opens the repository's workspace for a command, first finishing or rolling back a
/// rotation, `env rename` or `env del` that a crash interrupted in this checkout, and
/// removing the temporary files an interrupted write left.
pub fn open() -> Result<Workspace, Error> {
    open_in(crate::git::Repo::discover()?)
}

/// [`open`] in a repository already found.
pub fn open_in(repo: crate::git::Repo) -> Result<Workspace, Error> {
    let mut ws = Workspace::open_repo(repo)?;
    if let Some(what) = crate::rotation::recover(&mut ws)? {
        eprintln!("git-secrets: {what}");
    }
    if let Some(what) = crate::journal::recover(&mut ws)? {
        eprintln!("git-secrets: {what}");
    }
    // Best effort: what cannot be removed here, `status` and `doctor` name.
    if let Ok(left) = ws.leftovers(false, true) {
        if !left.stale.is_empty() {
            eprintln!("git-secrets: {}", removed_leftovers(&ws, &left.stale));
        }
    }
    Ok(ws)
}

/// What removing the leftover temporary files `paths` means, for a message.
pub fn removed_leftovers(ws: &Workspace, paths: &[std::path::PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| ws.shown_path(p)).collect();
    format!(
        "removed {} temporary file(s) an interrupted git-secrets command left ({}): what it was writing was not saved; if a command of yours was cut short, run it again",
        shown.len(),
        shown.join(", ")
    )
}

/// Writes to stdout, turning a failure into an error (a closed pipe ends quietly).
pub fn out(text: &str) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
        .map_err(|source| Error::Io {
            path: "<stdout>".into(),
            source,
        })
}

/// Asks `question [y/N]` at a terminal. Without one, refuses unless `yes` was given.
pub fn confirm(question: &str, yes: bool) -> Result<(), Error> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Refused {
            message: "this would reveal secret values, and there is no terminal to confirm it"
                .into(),
            hint: "pass --yes to confirm non-interactively".into(),
        });
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|source| Error::Io {
            path: "<stdin>".into(),
            source,
        })?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(Error::Refused {
            message: "cancelled".into(),
            hint: String::new(),
        })
    }
}

/// Resolves the scope from flags, leading positional words and (with nesting) the
/// directory the user stands in. Returns the scope and the words left for the command,
/// which must number at most `max_rest`. With `create`, a service named by `-s` or by
/// the nested folder is added to the configuration.
pub fn resolve_scope(
    ws: &mut Workspace,
    args: &ScopeArgs,
    words: &[String],
    max_rest: usize,
    create: bool,
) -> Result<(Scope, Vec<String>), Error> {
    let config = &ws.config;
    let mut rest: &[String] = words;
    let mut service = args.service.clone();
    let mut env = args.env.clone();
    if let Some(first) = rest.first() {
        if config.services.contains(first) {
            if service.as_ref().is_some_and(|s| s != first) {
                return Err(usage(format!(
                    "the service is given twice: `{first}` and `-s {}`",
                    service.unwrap_or_default()
                )));
            }
            service = Some(first.clone());
            rest = &rest[1..];
        }
    }
    if let Some(first) = rest.first() {
        if config.has_env(first) {
            if env.as_ref().is_some_and(|e| e != first) || args.shared {
                return Err(usage(format!(
                    "the environment is given twice: `{first}` and a flag"
                )));
            }
            env = Some(first.clone());
            rest = &rest[1..];
        }
    }
    if rest.len() > max_rest {
        // The word is named only when it could be a name: a value given in its place
        // (`set KEY=value extra`) is never echoed.
        let word = &rest[0];
        let word = (crate::config::is_valid_name(word) || crate::dotenv::is_valid_key(word))
            .then(|| word.clone());
        return Err(Error::UnknownScopeWord {
            word,
            services: config.services.iter().cloned().collect(),
            envs: config.environments.clone(),
        });
    }
    let inferred = service.is_none() && config.nested;
    if inferred {
        service = nested_service(ws)?;
    }
    let env = if args.shared {
        SHARED.to_owned()
    } else {
        env.unwrap_or_else(|| config.default_environment.clone())
    };
    if env != SHARED && !config.has_env(&env) {
        return Err(Error::UnknownEnv {
            name: env,
            known: config.environments.clone(),
        });
    }
    if let Some(s) = &service {
        if !ws.config.services.contains(s) {
            check_new_service(ws, s)?;
            if !create {
                // Files there, but config.toml lacks it (a service folder renamed with
                // `git mv`): said as such, with the fix.
                let undeclared = ws.undeclared_services().into_iter().find(|(u, _)| u == s);
                if let Some((_, files)) = undeclared {
                    let (message, hint) = status::undeclared_service_problem(s, &files);
                    return Err(Error::Refused { message, hint });
                }
                if inferred {
                    // The user named no service: the folder they stand in did.
                    return Err(Error::Usage {
                        message: format!(
                            "you are in `{s}/`, so nesting takes the service to be `{s}`, which has no values yet (services: {})",
                            list_or_none(&ws.config.services)
                        ),
                        hint: Some(format!(
                            "`git secrets set KEY VALUE` here creates `{s}`; for another service, give `-s SERVICE` or run it from that service's folder"
                        )),
                    });
                }
                return Err(Error::UnknownScopeWord {
                    word: Some(s.clone()),
                    services: ws.config.services.iter().cloned().collect(),
                    envs: ws.config.environments.clone(),
                });
            }
            ws.config.services.insert(s.clone());
            ws.save_config()?;
            eprintln!("added service `{s}` to .secrets/config.toml");
        }
    }
    Ok((Scope { service, env }, rest.to_vec()))
}

/// `dir` relative to the top of the work tree (both with symlinks resolved where they
/// exist), or None when it is outside.
pub fn in_work_tree(ws: &Workspace, dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    let root = ws
        .root()
        .canonicalize()
        .unwrap_or_else(|_| ws.root().to_owned());
    dir.strip_prefix(&root).ok().map(std::path::Path::to_owned)
}

/// With nesting on, the top-level folder of the work tree the user stands in.
fn nested_service(ws: &Workspace) -> Result<Option<String>, Error> {
    let cwd = std::env::current_dir().map_err(|source| Error::Io {
        path: ".".into(),
        source,
    })?;
    let Some(rel) = in_work_tree(ws, &cwd) else {
        return Ok(None);
    };
    let Some(first) = rel.components().next() else {
        return Ok(None);
    };
    let name = first.as_os_str().to_string_lossy().into_owned();
    if name.starts_with('.') || !crate::config::is_valid_name(&name) {
        return Ok(None);
    }
    Ok(Some(name))
}

/// `items` joined with commas, or `none`.
fn list_or_none(items: &std::collections::BTreeSet<String>) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

pub fn usage(message: String) -> Error {
    Error::Usage {
        message,
        hint: None,
    }
}

/// Refuses `name` for a new service when config.toml's rules do
/// (crate::config::Config::check_new_service), with what to do instead.
pub(crate) fn check_new_service(ws: &Workspace, name: &str) -> Result<(), Error> {
    ws.config
        .check_new_service(name)
        .map_err(|message| Error::Usage {
            message,
            hint: Some(format!(
                "pick another name (`{name}-app`, say); `git secrets service list` shows the services there are"
            )),
        })
}

/// Refuses a KEY argument that is not a valid variable name, without repeating it: a
/// key and its value given as one word (`KEY=value`, `KEY: value`, `KEY value`) would
/// print the value. Only a valid name before `=` is named.
pub fn check_key(key: &str) -> Result<(), Error> {
    if crate::dotenv::is_valid_key(key) {
        return Ok(());
    }
    // `set KEY=VALUE` as one word: what follows `=` is the value, never echoed.
    if let Some((name, _)) = key.split_once('=') {
        let name = if crate::dotenv::is_valid_key(name) {
            format!("`{name}=…`")
        } else {
            "the KEY argument".to_owned()
        };
        return Err(Error::Usage {
            message: format!(
                "{name} is not a valid variable name: the key and its value were given as one word"
            ),
            hint: Some("give them as two words, `git secrets set KEY VALUE`, or leave the value out to type it at a hidden prompt".into()),
        });
    }
    Err(Error::BadKeyName {
        arg: "KEY argument".into(),
    })
}

/// Refuses to store keys named like git-secrets' own variables (`GIT_SECRETS_…`):
/// `run` and `export` refuse a scope holding one (crate::expand), since a program given
/// it would hand its own git-secrets a planted identity. Said when the key is set,
/// rather than when the scope is next run. `from` names where the keys come from.
pub fn refuse_withheld_keys<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    from: &str,
) -> Result<(), Error> {
    let withheld: Vec<&str> = keys
        .into_iter()
        .filter(|k| crate::expand::is_withheld(k))
        .collect();
    if withheld.is_empty() {
        return Ok(());
    }
    Err(Error::Usage {
        message: format!(
            "{} ({from}): named like git-secrets' own variables (GIT_SECRETS_…), which are never given to a program, so `run` and `export` would refuse the scope; nothing was set",
            withheld.join(", ")
        ),
        hint: Some("store it under another name; a program that needs an identity gets one of its own (`git secrets keys create`)".into()),
    })
}

#[cfg(test)]
mod tests {
    // Guards: clap's own consistency checks (duplicate argument names, say), which
    // otherwise fire only when the offending subcommand runs.
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
