//! `git secrets join --name N [--ssh-key PATH]`: asks for access. Adds this device (or an
//! SSH public key) to access.json as a pending member; a member approves it after
//! checking its fingerprint out of band.

use std::path::PathBuf;

use clap::Args;

use crate::access::{name, Member, MemberKind, Status};
use crate::error::Error;
use crate::identity;

/// Ask for access: a pending request for this device in .secrets/access.json.
#[derive(Args, Debug)]
pub struct JoinArgs {
    /// Your name, as members will see it.
    #[arg(long)]
    name: String,
    /// Use this SSH public key (ed25519 or RSA) as your recipient instead of this
    /// device's age identity; decrypt with GIT_SECRETS_IDENTITY_FILE=<the private key>.
    #[arg(long, value_name = "PATH")]
    ssh_key: Option<PathBuf>,
}

pub fn cmd_join(args: JoinArgs) -> Result<(), Error> {
    let mut ws = super::open()?;
    name::check(&args.name)?;
    let recipient = match &args.ssh_key {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let line = text.trim().to_owned();
            if line.contains("PRIVATE KEY") {
                return Err(Error::Usage {
                    message: format!("{} is a private key", path.display()),
                    hint: Some("pass the public key (the .pub file)".into()),
                });
            }
            // Stored without its comment: the key is what counts (identity::member_id).
            match line.parse::<age::ssh::Recipient>() {
                Ok(key) => key.to_string(),
                Err(_) => {
                    return Err(Error::Usage {
                        message: format!(
                            "{} is not an ed25519 or RSA SSH public key",
                            path.display()
                        ),
                        hint: Some(
                            "use `ssh-keygen -t ed25519` to make one, and pass its .pub file"
                                .into(),
                        ),
                    })
                }
            }
        }
        None => {
            let (id, created) = identity::load_or_create()?;
            if created {
                eprintln!("created this device's identity in {}", id.origin);
            }
            id.recipient()
        }
    };
    let id = identity::member_id(&recipient);
    if let Some(m) = ws.access.members.get(&id) {
        return Err(match m.status {
            Status::Pending => Error::Refused {
                message: format!("this key has already asked to join (member {id}, {})", m.shown_name()),
                hint: "commit and push .secrets/access.json, and ask a member to approve you".into(),
            },
            Status::Active => Error::Refused {
                message: format!("this key is already a member ({id}, {})", m.shown_name()),
                hint: "run `git secrets unlock`".into(),
            },
            Status::Removed => Error::Refused {
                message: format!("this key was removed from the repository (member {id}) and cannot join again"),
                hint: "a removed key stays removed; make a new identity (a new device, or GIT_SECRETS_IDENTITY_FILE) and join with it".into(),
            },
        });
    }
    ws.access.members.insert(
        id.clone(),
        Member::request(&args.name, MemberKind::Person, &recipient)?,
    );
    ws.save_access()?;
    // Until an approval and `unlock`, this clone has no filter: the checks refuse a
    // plaintext secret file written into it. The request stands either way.
    if let Err(e) = crate::guard::install::install_current(&ws.repo, crate::guard::install::CHECKS)
    {
        eprintln!("git-secrets: warning: the pre-commit check was not installed ({e}); `git secrets unlock` installs it once you are approved");
    }
    // And the merges of access.json and config.toml, which need no key: a request pulled
    // in beside this one (two people joining at once) merges with it.
    if let Err(e) = super::unlock::configure_keyless_merges(&ws.repo) {
        eprintln!("git-secrets: warning: the merge drivers were not configured ({e}); a pull that brings in another request may conflict in .secrets/access.json");
    }
    eprintln!("asked to join as {} (member {id})", name::shown(&args.name));
    eprintln!("fingerprint: {}", identity::fingerprint(&recipient));
    eprintln!("next: commit and push .secrets/access.json, then ask a member to check this fingerprint with you and run `git secrets member approve {id}`");
    Ok(())
}
