//! `git secrets fsmonitor VERSION TOKEN` (hidden): the `core.fsmonitor` hook `unlock`
//! configures, so `git status` after a `touch` need not run the filter on every secret
//! file (see `crate::fsmonitor`). git runs it in the top level of the work tree.

use std::io::Write;

use clap::Args;

use crate::error::Error;

/// Answer git's fsmonitor query (hook protocol version 2).
#[derive(Args, Debug)]
pub struct FsmonitorArgs {
    /// The hook protocol version git speaks; only 2 is answered.
    #[arg(value_name = "VERSION")]
    protocol: String,
    /// The token of git's last query.
    token: String,
}

pub fn cmd_fsmonitor(args: FsmonitorArgs) -> Result<(), Error> {
    if args.protocol != "2" {
        // A failed query makes git check every file itself: slower, never wrong.
        return Err(Error::Refused {
            message: format!(
                "fsmonitor hook protocol version {} is not supported",
                args.protocol
            ),
            hint: "set `core.fsmonitorHookVersion = 2` (`git secrets unlock` does)".into(),
        });
    }
    let root = std::env::current_dir().map_err(|source| Error::Io {
        path: ".".into(),
        source,
    })?;
    let answer = crate::fsmonitor::query(&root, &args.token);
    let mut out = std::io::stdout().lock();
    out.write_all(&answer)
        .and_then(|_| out.flush())
        .map_err(|source| Error::Io {
            path: "<stdout>".into(),
            source,
        })
}
