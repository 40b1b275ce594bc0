//! `git secrets textconv FILE` (hidden): the diff driver git runs as
//! `diff.secrets.textconv`. Prints the masked view of FILE: key names, masked values and
//! keyed fingerprints (FORMAT.md §8.1). It never fails a diff for want of a key: without
//! one, a plaintext value gets `fp:?` and a warning on stderr.

use std::path::{Path, PathBuf};

use clap::Args;
use zeroize::Zeroizing;

use crate::diffview;
use crate::error::Error;
use crate::git::Repo;
use crate::workspace::Workspace;

/// Print a secret file with its values masked (git's textconv for `diff=secrets`).
#[derive(Args, Debug)]
pub struct TextconvArgs {
    /// The file git hands over: a temporary copy of a blob, or the work-tree file.
    file: PathBuf,
    /// The view the configured command was made for (see `diffview::view_id`).
    #[arg(long)]
    view: Option<String>,
}

pub fn cmd_textconv(args: TextconvArgs) -> Result<(), Error> {
    let bytes = Zeroizing::new(std::fs::read(&args.file).map_err(|source| Error::Io {
        path: args.file.clone(),
        source,
    })?);
    let env = diffview::env_of_textconv_path(&args.file);
    // The identity and keys are loaded only when a plaintext value needs a fingerprint:
    // encrypted input (a locked clone, no access) is masked without them.
    let mut key: Option<Option<diffview::FingerprintChain>> = None;
    let mut fingerprint = |kind: crate::seal::Kind<'_>, text: &str| {
        key.get_or_insert_with(|| load(env.as_deref(), &args.file, args.view.as_deref()))
            .as_ref()
            .map(|(keys, i)| keys[*i].fingerprint(kind, text))
    };
    let text = diffview::masked(&bytes, &mut fingerprint);
    super::out(&text)
}

/// The fingerprint key of `env` (the chain and its index), or a warning and `None`.
fn load(env: Option<&str>, file: &Path, view: Option<&str>) -> Option<diffview::FingerprintChain> {
    let warn = |why: &str| {
        eprintln!(
            "git-secrets: warning: {}: values shown without fingerprints (fp:?): {why}",
            file.display()
        );
    };
    let Some(env) = env else {
        warn("the environment cannot be told from the file name");
        return None;
    };
    // git runs textconv in the top level of the work tree: no need to ask git where
    // that is (a process per file adds up over `git log -p`), unless run by hand.
    let root = std::env::current_dir()
        .ok()
        .filter(|d| d.join(crate::workspace::CONFIG_FILE).is_file());
    let opened = root
        .map(|root| Ok(Repo { root }))
        .unwrap_or_else(Repo::discover)
        .and_then(Workspace::open_for_filter)
        .and_then(|ws| diffview::fingerprint_chain(&ws, env).map(|chain| (ws, chain)));
    let (ws, chain) = match opened {
        Ok(v) => v,
        Err(e) => {
            warn(&e.to_string());
            return None;
        }
    };
    // Access changed since the command was configured (say, an approval arrived with a
    // pull): point it at the current view, so the next diff drops the stale cache.
    let recipient = ws.identity().map(|i| i.recipient()).unwrap_or_default();
    if view.is_some_and(|v| v != diffview::view_id(&ws.access, &recipient))
        && super::unlock::refresh_textconv(&ws)
    {
        eprintln!("git-secrets: access changed: the masked diff cache starts afresh with the next command");
    }
    chain
}
