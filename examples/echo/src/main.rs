//! Shows that a request body reaches the module byte for byte: stdin is copied to stdout unchanged.
//!
//! The response is `Content-Type: application/octet-stream`, a blank line, then exactly the bytes of the
//! request body, binary included.

use std::io::{self, Read, Write};

const HEADER: &[u8] = b"Content-Type: application/octet-stream\n\n";

fn main() -> io::Result<()> {
    // One buffer and one write: Rust's stdout is line-buffered, so copying piecewise would split a binary
    // body at every newline into many small `fd_write` calls.
    let mut response = HEADER.to_vec();
    io::stdin().lock().read_to_end(&mut response)?;

    let mut stdout = io::stdout().lock();
    stdout.write_all(&response)?;
    stdout.flush()
}
