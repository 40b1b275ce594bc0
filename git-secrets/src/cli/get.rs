//! `git secrets get [SERVICE] [ENV] [KEY]`: lists keys with masked values; `--show`, or
//! naming one KEY, reveals values after a `y` at a terminal (or `--yes`). A scope of a
//! service also lists the keys it gets from the service's shared values, marked so.

use clap::Args;

use crate::error::Error;
use crate::secret::mask;
use crate::workspace::FileState;

use super::{confirm, resolve_scope, run::shared_of, ScopeArgs};

/// List keys with masked values, or reveal them.
#[derive(Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    scope: ScopeArgs,
    /// [SERVICE] [ENV] [KEY]
    #[arg(value_name = "WORDS")]
    words: Vec<String>,
    /// Reveal the values (as stored: a file that `import` reads back to the same values).
    #[arg(long)]
    show: bool,
    /// Do not ask before revealing.
    #[arg(long, short = 'y')]
    yes: bool,
}

pub fn cmd_get(args: GetArgs) -> Result<(), Error> {
    let mut ws = super::open()?;
    let (scope, rest) = resolve_scope(&mut ws, &args.scope, &args.words, 1, false)?;
    let file = ws.read_scope(&scope)?;
    let shared = shared_of(&ws, &scope)?;
    let shared_label = scope.shared().label();
    // The shared values the scope does not override: what `run` layers under it.
    // Indexed once: a lookup per key of a large file would be quadratic.
    let own_index = file.doc.index();
    let shared_index = shared.as_ref().map(|s| s.doc.index());
    let inherited: Vec<&crate::dotenv::Entry> = shared_index
        .iter()
        .flat_map(|s| s.entries())
        .filter(|e| own_index.get(&e.key).is_none())
        .collect();
    // `get` is how a person reviews an unverified value: shown, with a warning, and
    // recorded as reviewed once shown in plain text, which lets a commit re-seal it.
    // Those not reviewed yet are warned about (with those a `git add` already re-sealed
    // since HEAD, which the commit hook refuses to commit so unreviewed); all of them
    // are recorded as reviewed once shown.
    let (mut unverified, mut reviewable) = ws.unverified_to_review(&scope)?;
    if let Some(key) = rest.first() {
        unverified.retain(|u| &u.key == key);
        reviewable.retain(|u| &u.key == key);
    }
    if !unverified.is_empty() {
        eprintln!("{}", crate::workspace::unverified_warning(&unverified));
    }
    if let Some(key) = rest.first() {
        super::check_key(key)?;
        let (entry, from) = match own_index.get(key) {
            Some(e) => (e, String::new()),
            None => match inherited.iter().find(|e| &e.key == key) {
                Some(e) => (*e, format!(" (from {shared_label})")),
                None => {
                    return Err(Error::KeyNotFound {
                        key: key.clone(),
                        scope: scope.label(),
                    })
                }
            },
        };
        confirm(
            &format!("reveal {key} of {}{from}?", scope.label()),
            args.yes,
        )?;
        if !from.is_empty() {
            eprintln!("{key} comes from the shared values of the service{from}");
        }
        ws.record_reviewed(&reviewable);
        return super::out(&format!("{}\n", entry.value().text.expose()));
    }
    if file.state == FileState::Missing && inherited.is_empty() {
        eprintln!(
            "{} has no secrets yet ({})",
            scope.label(),
            scope.rel_path()
        );
        return Ok(());
    }
    if args.show {
        confirm(
            &format!("reveal every value of {}?", scope.label()),
            args.yes,
        )?;
        ws.record_reviewed(&reviewable);
    }
    let own = own_index.entries();
    let mut text = zeroize::Zeroizing::new(String::new());
    let rows = own
        .map(|e| (e, ""))
        .chain(inherited.iter().map(|e| (*e, "from")));
    for (e, from) in rows {
        // Revealed as stored, so a reference stays a reference and literal text stays
        // literal when the listing is read back.
        let shown = if args.show {
            e.raw.expose().to_owned()
        } else {
            mask(e.value().text.expose())
        };
        let note = if from.is_empty() {
            String::new()
        } else {
            format!("  # from {shared_label}")
        };
        text.push_str(&format!("{}={shown}{note}\n", e.key));
    }
    super::out(&text)
}
