//! `git secrets init`: sets git-secrets up in a repository and makes the caller its
//! first member.

use clap::Args;

use crate::access::Access;
use crate::config::Config;
use crate::error::Error;
use crate::git::Repo;
use crate::identity;
use crate::workspace::{Workspace, ACCESS_FILE, CONFIG_FILE};

use super::unlock;

/// Set git-secrets up in this repository (you become its first member).
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Infer the service from the top-level folder you stand in.
    #[arg(long)]
    nested: bool,
    /// Environments to declare (alone: development,test,production; default: development).
    #[arg(long, num_args = 0..=1, value_delimiter = ',', default_missing_value = "development,test,production")]
    envs: Option<Vec<String>>,
    /// Your name as a member (default: git's user.name).
    #[arg(long)]
    name: Option<String>,
}

pub fn cmd_init(args: InitArgs) -> Result<(), Error> {
    let repo = Repo::discover()?;
    // Set up already: in the work tree, or only in git (a sparse checkout without .secrets/).
    let in_git = |f: &str| {
        [format!(":{f}"), format!("HEAD:{f}")]
            .iter()
            .any(|r| repo.git(&["cat-file", "-e", r]).is_ok())
    };
    if [CONFIG_FILE, ACCESS_FILE]
        .iter()
        .any(|f| repo.root.join(f).exists() || in_git(f))
    {
        return Err(Error::AlreadyInitialized);
    }
    let envs = args.envs.unwrap_or_else(|| vec!["development".into()]);
    let envs: Vec<String> = envs
        .into_iter()
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .collect();
    let config = Config::new(envs, args.nested)?;
    let name = args
        .name
        .or_else(|| repo.config_get_any("user.name").filter(|n| !n.is_empty()))
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "me".into());
    let (identity, created) = identity::load_or_create()?;
    if created {
        eprintln!("created this device's identity in {}", identity.origin);
    }
    let access = Access::create(&name, &identity, &config.environments)?;
    let ws = Workspace::new(repo, config, access, identity);
    ws.save_config()?;
    ws.save_access()?;
    unlock::write_gitattributes(ws.root())?;
    unlock::write_gitignore(ws.root())?;
    unlock::configure(&ws)?;
    eprintln!(
        "git-secrets is set up with environments {} (default {}).",
        ws.config.environments.join(", "),
        ws.config.default_environment
    );
    eprintln!("you ({name}) are its first member.");
    eprintln!("next: `git secrets set KEY VALUE`, then `git add .secrets .gitattributes .gitignore && git commit`");
    Ok(())
}
