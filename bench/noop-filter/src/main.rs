//! Answers git's long-running filter protocol with the content unchanged: what remains of
//! a filter's cost when the filter itself does no work.

use git_secrets::filter::protocol::{raw_stdio, Server};

fn main() -> std::io::Result<()> {
    let (stdin, stdout) = raw_stdio()?;
    let mut server = Server::handshake(stdin, stdout, &["clean", "smudge"])?;
    while let Some(request) = server.next_request()? {
        server.respond(&request.content)?;
    }
    Ok(())
}
