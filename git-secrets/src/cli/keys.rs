//! `git secrets keys create|list|revoke`: CI keys, identities limited to some
//! environments, printed once and stored nowhere in plaintext.

use clap::Subcommand;

use crate::access::{name, Member, MemberKind};
use crate::error::Error;
use crate::identity::{self, Identity};

use super::member;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make a CI key for some environments; its identity is printed once, to stdout.
    Create {
        #[arg(long)]
        name: String,
        /// An environment it may read (repeatable, at least one).
        #[arg(long = "env", short = 'e', value_name = "ENV", required = true)]
        envs: Vec<String>,
    },
    /// List CI keys.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a CI key: a removal, with rotation of what it could read.
    Revoke { id: String },
}

pub fn cmd_keys(command: KeysCommand) -> Result<(), Error> {
    let mut ws = super::open()?;
    match command {
        KeysCommand::List { json } => member::list(&ws, json, Some(MemberKind::Ci)),
        KeysCommand::Revoke { id } => member::remove(&mut ws, &id, Some(MemberKind::Ci)),
        KeysCommand::Create { name, envs } => {
            for e in &envs {
                if !ws.config.has_env(e) {
                    return Err(Error::UnknownEnv {
                        name: e.clone(),
                        known: ws.config.environments.clone(),
                    });
                }
            }
            let key = Identity::generate();
            let recipient = key.recipient();
            let id = identity::member_id(&recipient);
            ws.access.members.insert(
                id.clone(),
                Member::request(&name, MemberKind::Ci, &recipient)?,
            );
            member::grant(&mut ws, &id, &envs)?;
            eprintln!(
                "created CI key {} ({id}) for {}",
                name::shown(&name),
                envs.join(", ")
            );
            eprintln!("this is the only time it is shown: store it as the secret GIT_SECRETS_IDENTITY of your CI");
            eprintln!("next: commit and push .secrets/access.json");
            super::out(&format!("{}\n", key.secret_string().expose()))
        }
    }
}
