//! The filter process's loop: git's requests read, answered, and the smudges delayed to
//! the end of a checkout ([`Filter::smudge_or_delay`]) handed back when git asks for them.

use std::collections::HashMap;

use zeroize::Zeroizing;

use super::{ahead, protocol, Filter};
use crate::error::Error;

/// Prints an error the way the CLI does, to stderr (stdout belongs to the protocol).
pub fn report(e: &Error) {
    eprintln!("git-secrets: error: {e}");
    if let Some(h) = e.hint() {
        eprintln!("git-secrets: hint: {h}");
    }
}

/// Serves git until it closes the pipe.
pub fn serve() -> Result<(), Error> {
    let proto = |e: std::io::Error| Error::Refused {
        message: format!("filter protocol error: {e}"),
        hint:
            "this is a bug or a git version without the long-running filter protocol (git ≥ 2.11)"
                .into(),
    };
    let root = std::env::current_dir().map_err(|source| Error::Io {
        path: ".".into(),
        source,
    })?;
    let (stdin, stdout) = protocol::raw_stdio().map_err(proto)?;
    let mut filter = Filter::new(root);
    let mut server =
        protocol::Server::handshake(stdin, stdout, &["clean", "smudge", "delay"]).map_err(proto)?;
    // Smudges delayed to the end of the checkout (Filter::smudge_or_delay): git asks
    // which are ready, then asks for each again, without its content.
    let mut delayed: Vec<(String, Zeroizing<Vec<u8>>)> = Vec::new();
    let mut available: HashMap<String, Zeroizing<Vec<u8>>> = HashMap::new();
    while let Some(mut request) = server.next_request().map_err(proto)? {
        let path = &request.pathname;
        filter.begin_request();
        if request.command == protocol::LIST_AVAILABLE {
            let paths: Vec<String> = delayed.iter().map(|(p, _)| p.clone()).collect();
            available.extend(delayed.drain(..));
            server.respond_available(&paths).map_err(proto)?;
            continue;
        }
        let result = match request.command.as_str() {
            "clean" => filter.clean(path, &request.content),
            "smudge" => {
                let (content, can_delay) = match available.remove(path) {
                    Some(kept) => (kept, false),
                    None => (std::mem::take(&mut request.content), request.can_delay),
                };
                match filter.smudge_or_delay(path, &content, can_delay) {
                    Ok(None) => {
                        delayed.push((path.clone(), content));
                        server.respond_delayed().map_err(proto)?;
                        continue;
                    }
                    other => other.map(|out| out.unwrap_or_default()),
                }
            }
            other => Err(Error::Refused {
                message: format!("unknown filter command `{other}`"),
                hint: String::new(),
            }),
        };
        let cleaned = request.command == "clean" && result.is_ok();
        match result {
            Ok(out) => server.respond(&Zeroizing::new(out)),
            Err(e) => {
                report(&e);
                server.respond_error()
            }
        }
        .map_err(proto)?;
        if cleaned && (!server.input_ready() || ahead::forced()) {
            filter.seal_next(path);
        }
    }
    filter.finish();
    Ok(())
}
