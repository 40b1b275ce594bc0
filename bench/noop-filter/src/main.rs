//! Answers git's long-running filter protocol with the content unchanged: what remains of
//! a filter's cost when the filter itself does no work.
use std::io::{Read, Write};

use gix_filter::driver::process::{Server, Status};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut server = Server::handshake(
        std::io::stdin(),
        std::io::stdout(),
        "git-filter",
        &mut |versions| versions.contains(&2).then_some(2),
        &["clean", "smudge"],
    )?;
    while let Some(mut request) = server.next_request()? {
        let mut content = Vec::new();
        request.as_read().read_to_end(&mut content)?;
        request.write_status(Status::success())?;
        request.as_write().write_all(&content)?;
        request.write_status(Status::Previous)?;
    }
    Ok(())
}
