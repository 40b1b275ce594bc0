//! The server side of git's long-running filter protocol (gitattributes(5), "Long
//! Running Filter Process"), over pkt-lines (gitprotocol-common(5)).
//!
//! Written here rather than taken from gix-filter's `Server`, which is tied to std's
//! `Stdin` and `Stdout`: their buffers (and `Vec` growth while a file is read) keep
//! copies of plaintext that are never zeroed, and `Stdout` flushes at every newline, so
//! each response left in five writes. Here every buffer that holds file content is
//! zeroed before it is freed, grown buffers included, and a response is one write. The
//! framing is four hex digits of length; gix-packetline's reader was not used either,
//! since it zero-fills a 64 KiB buffer at every flush packet (two per file). Speed is
//! about even: through a filter that does nothing, `git status` cleaning 1000 files took
//! 77–95 ms with gix-filter's server and 77–89 ms with this one (bench/bench.sh, floor).

use std::io::{self, Read, Write};

use zeroize::Zeroizing;

/// The largest packet, its 4-byte header included.
const MAX_PACKET: usize = 65520;
const MAX_DATA: usize = MAX_PACKET - 4;
const FLUSH: &[u8] = b"0000";

/// Input that can tell whether a read would return at once.
pub trait Ready {
    fn ready(&self) -> bool;
}

/// One clean or smudge request.
pub struct Request {
    pub command: String,
    pub pathname: String,
    pub content: Zeroizing<Vec<u8>>,
    /// git may be answered "delayed" (`can-delay=1`, a checkout): it asks again once
    /// every other file is written ([`Server::respond_available`]).
    pub can_delay: bool,
}

/// The command git sends to ask which delayed files are ready (no pathname, no content).
pub const LIST_AVAILABLE: &str = "list_available_blobs";

pub struct Server<R, W> {
    input: R,
    /// Bytes read from `input` and not yet consumed: `buf[pos..end]`.
    buf: Zeroizing<Vec<u8>>,
    pos: usize,
    end: usize,
    out: W,
    /// The response being built, written whole.
    pending: Zeroizing<Vec<u8>>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Appends `data`, growing into a fresh buffer and zeroing the old one: `Vec`'s own
/// growth would free the old copy of the content as it is.
fn extend_zeroizing(buf: &mut Zeroizing<Vec<u8>>, data: &[u8]) {
    if buf.capacity() - buf.len() < data.len() {
        let mut grown = Zeroizing::new(Vec::with_capacity(
            (buf.len() + data.len()).max(2 * buf.capacity()),
        ));
        grown.extend_from_slice(buf);
        *buf = grown;
    }
    buf.extend_from_slice(data);
}

impl<R: Read, W: Write> Server<R, W> {
    /// Answers git's greeting: protocol version 2, and those of `capabilities` git offers.
    pub fn handshake(input: R, out: W, capabilities: &[&str]) -> io::Result<Self> {
        let mut server = Server {
            input,
            buf: Zeroizing::new(vec![0; 2 * MAX_PACKET]),
            pos: 0,
            end: 0,
            out,
            pending: Zeroizing::new(Vec::with_capacity(MAX_PACKET)),
        };
        let greeting = server
            .read_text_section()?
            .ok_or_else(|| invalid("git closed the filter before its greeting".into()))?;
        if greeting.first().map(String::as_str) != Some("git-filter-client") {
            return Err(invalid(format!(
                "expected `git-filter-client`, got {greeting:?}"
            )));
        }
        if !greeting.iter().any(|l| l == "version=2") {
            return Err(invalid(format!(
                "git offers no protocol version this filter speaks (2): {:?}",
                &greeting[1..]
            )));
        }
        server.text("git-filter-server");
        server.text("version=2");
        server.flush_packet();
        server.send()?;
        let offered = server
            .read_text_section()?
            .ok_or_else(|| invalid("git closed the filter during the handshake".into()))?;
        for cap in capabilities {
            if offered
                .iter()
                .any(|o| o.strip_prefix("capability=") == Some(cap))
            {
                server.text(&format!("capability={cap}"));
            }
        }
        server.flush_packet();
        server.send()?;
        Ok(server)
    }

    /// Whether git has sent more (the next request) since the last one was read.
    pub fn input_ready(&self) -> bool
    where
        R: Ready,
    {
        self.end > self.pos || self.input.ready()
    }

    /// The next request, or `None` once git closes the pipe between requests.
    pub fn next_request(&mut self) -> io::Result<Option<Request>> {
        let Some(lines) = self.read_text_section()? else {
            return Ok(None);
        };
        let value = |key: &str| {
            lines
                .iter()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_owned)
        };
        let command = value("command")
            .ok_or_else(|| invalid(format!("expected `command=…`, got {lines:?}")))?;
        let pathname = value("pathname").unwrap_or_default();
        let can_delay = value("can-delay").as_deref() == Some("1");
        let mut content = Zeroizing::new(Vec::new());
        // list_available_blobs is the header alone: no content section follows.
        if command != LIST_AVAILABLE {
            while let Some((start, end)) = self.read_packet()? {
                extend_zeroizing(&mut content, &self.buf[start..end]);
            }
        }
        Ok(Some(Request {
            command,
            pathname,
            content,
            can_delay,
        }))
    }

    /// `status=success`, then `content`.
    pub fn respond(&mut self, content: &[u8]) -> io::Result<()> {
        self.text("status=success");
        self.flush_packet();
        for chunk in content.chunks(MAX_DATA) {
            self.packet(chunk);
        }
        self.flush_packet();
        // An empty list: the status stays "success".
        self.flush_packet();
        self.send()
    }

    /// `status=delayed`: git asks for the file again at the end of the checkout.
    pub fn respond_delayed(&mut self) -> io::Result<()> {
        self.text("status=delayed");
        self.flush_packet();
        self.send()
    }

    /// The answer to `list_available_blobs`: `paths` are ready (git then asks for each).
    pub fn respond_available(&mut self, paths: &[String]) -> io::Result<()> {
        for path in paths {
            self.text(&format!("pathname={path}"));
        }
        self.flush_packet();
        self.text("status=success");
        self.flush_packet();
        self.send()
    }

    /// `status=error`: git says the file failed (and stops when the filter is required).
    pub fn respond_error(&mut self) -> io::Result<()> {
        self.text("status=error");
        self.flush_packet();
        self.send()
    }

    fn text(&mut self, line: &str) {
        self.packet(format!("{line}\n").as_bytes());
    }

    fn flush_packet(&mut self) {
        extend_zeroizing(&mut self.pending, FLUSH);
    }

    fn packet(&mut self, data: &[u8]) {
        debug_assert!(!data.is_empty() && data.len() <= MAX_DATA);
        let header = format!("{:04x}", data.len() + 4);
        extend_zeroizing(&mut self.pending, header.as_bytes());
        extend_zeroizing(&mut self.pending, data);
    }

    fn send(&mut self) -> io::Result<()> {
        self.out.write_all(&self.pending)?;
        self.out.flush()?;
        self.pending.clear();
        Ok(())
    }

    /// Text packets up to a flush, each without its newline; `None` at end of input
    /// before the first packet.
    fn read_text_section(&mut self) -> io::Result<Option<Vec<String>>> {
        if !self.fill(1)? {
            return Ok(None);
        }
        let mut lines = Vec::new();
        while let Some((start, end)) = self.read_packet()? {
            let line = &self.buf[start..end];
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            let line = std::str::from_utf8(line)
                .map_err(|_| invalid("a protocol line is not UTF-8".into()))?;
            lines.push(line.to_owned());
        }
        Ok(Some(lines))
    }

    /// The next packet's data as a range of `buf`, or `None` for a flush packet.
    fn read_packet(&mut self) -> io::Result<Option<(usize, usize)>> {
        if !self.fill(4)? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = &self.buf[self.pos..self.pos + 4];
        let len = std::str::from_utf8(header)
            .ok()
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .ok_or_else(|| {
                invalid(format!(
                    "bad packet header {:?}",
                    String::from_utf8_lossy(header)
                ))
            })?;
        match len {
            0 => {
                self.pos += 4;
                Ok(None)
            }
            1..=4 => Err(invalid(format!("unexpected special packet {len:04x}"))),
            _ if len > MAX_PACKET => Err(invalid(format!(
                "packet of {len} bytes exceeds {MAX_PACKET}"
            ))),
            _ => {
                if !self.fill(len)? {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                let start = self.pos + 4;
                self.pos += len;
                Ok(Some((start, self.pos)))
            }
        }
    }

    /// Makes `buf[pos..]` hold at least `n` bytes, reading as much as git has sent;
    /// false at end of input with fewer.
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.end - self.pos >= n {
            return Ok(true);
        }
        // Move what is left to the front: a packet always fits after it.
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        while self.end < n {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

/// stdin and stdout without std's buffers (stdout's flushes at every newline, and
/// neither is zeroed): the protocol buffers, and zeroes, its own. stdin waits for git
/// as [`super::input`] says.
pub fn raw_stdio() -> std::io::Result<(super::input::Input, std::fs::File)> {
    #[cfg(unix)]
    use std::os::fd::AsFd as AsRaw;
    #[cfg(windows)]
    use std::os::windows::io::AsHandle as AsRaw;
    #[cfg(unix)]
    let dup = |s: &dyn AsRaw| s.as_fd().try_clone_to_owned();
    #[cfg(windows)]
    let dup = |s: &dyn AsRaw| s.as_handle().try_clone_to_owned();
    Ok((
        super::input::Input::new(std::fs::File::from(dup(&std::io::stdin())?)),
        std::fs::File::from(dup(&std::io::stdout())?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(data: &str) -> String {
        format!("{:04x}{data}", data.len() + 4)
    }

    fn session(requests: &[(&str, &str, &[u8])]) -> Vec<u8> {
        let mut s = pkt("git-filter-client\n") + &pkt("version=2\n") + "0000";
        s += &(pkt("capability=clean\n")
            + &pkt("capability=smudge\n")
            + &pkt("capability=delay\n")
            + "0000");
        let mut bytes = s.into_bytes();
        for (command, path, content) in requests {
            bytes.extend(
                (pkt(&format!("command={command}\n"))
                    + &pkt(&format!("pathname={path}\n"))
                    + "0000")
                    .bytes(),
            );
            for chunk in content.chunks(MAX_DATA) {
                bytes.extend(format!("{:04x}", chunk.len() + 4).bytes());
                bytes.extend_from_slice(chunk);
            }
            bytes.extend(FLUSH);
        }
        bytes
    }

    /// Reads one byte at a time: packets split across reads anywhere.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let Some((&b, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            out[0] = b;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn a_session_round_trips_large_and_empty_content() {
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let input = session(&[
            ("clean", "a.env", b"A=1\n"),
            ("smudge", "b.env", &big),
            ("clean", "c.env", b""),
        ]);
        for trickle in [false, true] {
            let mut out = Vec::new();
            let reader: Box<dyn Read> = if trickle {
                Box::new(Trickle(&input))
            } else {
                Box::new(&input[..])
            };
            let mut server = Server::handshake(reader, &mut out, &["clean", "smudge"]).unwrap();
            let mut seen = Vec::new();
            while let Some(r) = server.next_request().unwrap() {
                seen.push((r.command.clone(), r.pathname.clone(), r.content.len()));
                if r.pathname == "c.env" {
                    server.respond_error().unwrap();
                } else {
                    let content = r.content.clone();
                    server.respond(&content).unwrap();
                }
            }
            assert_eq!(
                seen,
                vec![
                    ("clean".into(), "a.env".into(), 4),
                    ("smudge".into(), "b.env".into(), big.len()),
                    ("clean".into(), "c.env".into(), 0)
                ]
            );
            let text = String::from_utf8_lossy(&out);
            let expected_start = pkt("git-filter-server\n")
                + &pkt("version=2\n")
                + "0000"
                + &pkt("capability=clean\n")
                + &pkt("capability=smudge\n")
                + "0000";
            assert!(text.starts_with(&expected_start), "{text:.200}");
            let first = pkt("status=success\n") + "0000" + &pkt("A=1\n") + "0000" + "0000";
            assert!(text[expected_start.len()..].starts_with(&first));
            assert!(text.ends_with(&(pkt("status=error\n") + "0000")));
            // The big file comes back in packets of at most 65516 bytes, whole.
            let mut rest = &out[expected_start.len() + first.len()..];
            rest = rest
                .strip_prefix((pkt("status=success\n") + "0000").as_bytes())
                .unwrap();
            let mut back = Vec::new();
            loop {
                let len =
                    usize::from_str_radix(std::str::from_utf8(&rest[..4]).unwrap(), 16).unwrap();
                if len == 0 {
                    break;
                }
                assert!(len <= MAX_PACKET);
                back.extend_from_slice(&rest[4..len]);
                rest = &rest[len..];
            }
            assert_eq!(back, big);
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let greeting = pkt("git-filter-client\n")
            + &pkt("version=2\n")
            + "0000"
            + &pkt("capability=clean\n")
            + "0000";
        for tail in [
            "zzzz",
            "0003",
            "fff0",
            "0010short",
            &(pkt("pathname=x\n") + "0000"),
        ] {
            let input = greeting.clone() + tail;
            let mut server = Server::handshake(input.as_bytes(), Vec::new(), &["clean"]).unwrap();
            assert!(server.next_request().is_err(), "{tail:?}");
        }
        let old = pkt("git-filter-client\n") + &pkt("version=1\n") + "0000";
        let err = Server::handshake(old.as_bytes(), Vec::new(), &["clean"])
            .err()
            .unwrap();
        assert!(err.to_string().contains("version"), "{err}");
    }
}
