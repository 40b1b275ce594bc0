//! `git secrets service list|add`: the services of `.secrets/config.toml`. A service also
//! comes to exist when named with `-s/--service` (or, nested, by the folder one stands
//! in); `add` declares one before any value is set, so others can name it as a word.

use clap::Subcommand;

use crate::error::Error;

#[derive(Subcommand, Debug)]
pub enum ServiceCommand {
    /// List the services and how many scope files each has.
    List,
    /// Declare a service (a folder of scope files under .secrets/).
    Add { name: String },
}

pub fn cmd_service(command: ServiceCommand) -> Result<(), Error> {
    let mut ws = super::open()?;
    match command {
        ServiceCommand::List => {
            let files = ws.scope_files();
            let mut text = String::new();
            for s in &ws.config.services {
                let n = files
                    .iter()
                    .filter(|f| f.service.as_deref() == Some(s))
                    .count();
                text.push_str(&format!("{s}\t{n} scope file(s)\n"));
            }
            super::out(&text)
        }
        ServiceCommand::Add { name } => {
            super::check_new_service(&ws, &name)?;
            if !ws.config.services.insert(name.clone()) {
                return Err(super::usage(format!("service `{name}` already exists")));
            }
            ws.save_config()?;
            eprintln!("added service `{name}` to .secrets/config.toml; set its values with `git secrets set {name} KEY VALUE`");
            Ok(())
        }
    }
}
