//! Answers git's long-running filter protocol with no work done: what remains of a
//! filter's cost when the filter itself costs nothing.
//!
//! - `noop-filter` returns each file's content unchanged: the floor of the protocol.
//! - `noop-filter --replay FILE` answers `clean` for a path listed in FILE with the bytes
//!   FILE holds for it (git-secrets' sealed form, which bench/bench.py writes), and
//!   anything else unchanged: the floor of git storing the sealed form, which is about
//!   three times the size of the plaintext and does not compress.
//!
//! FILE is a sequence of records: path length (u32, little-endian), path, content length
//! (u32, little-endian), content. It is read whole before the handshake, so no file is
//! opened while git waits for an answer.

use std::collections::HashMap;
use std::io;

use git_secrets::filter::protocol::{raw_stdio, Server};

fn main() -> io::Result<()> {
    let replay = match std::env::args_os().nth(1) {
        None => HashMap::new(),
        Some(flag) if flag == "--replay" => {
            let file = std::env::args_os()
                .nth(2)
                .ok_or_else(|| bad("--replay needs a FILE"))?;
            records(&std::fs::read(file)?)?
        }
        Some(other) => {
            return Err(bad(&format!(
                "unknown argument {other:?} (usage: noop-filter [--replay FILE])"
            )))
        }
    };
    let (stdin, stdout) = raw_stdio()?;
    let mut server = Server::handshake(stdin, stdout, &["clean", "smudge"])?;
    while let Some(request) = server.next_request()? {
        match replay.get(&request.pathname) {
            Some(sealed) if request.command == "clean" => server.respond(sealed)?,
            _ => server.respond(&request.content)?,
        }
    }
    Ok(())
}

/// The records of a replay file, by path.
fn records(mut data: &[u8]) -> io::Result<HashMap<String, Vec<u8>>> {
    fn field<'a>(data: &mut &'a [u8]) -> io::Result<&'a [u8]> {
        let (len, rest) = data
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("replay file: truncated length"))?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(bad("replay file: truncated record"));
        }
        let (value, rest) = rest.split_at(len);
        *data = rest;
        Ok(value)
    }
    let mut map = HashMap::new();
    while !data.is_empty() {
        let path = String::from_utf8(field(&mut data)?.to_vec())
            .map_err(|_| bad("replay file: a path is not UTF-8"))?;
        let content = field(&mut data)?.to_vec();
        map.insert(path, content);
    }
    Ok(map)
}

fn bad(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.to_owned())
}
