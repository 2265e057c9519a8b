//! Shows everything a module receives from WAGI: argv, the environment and stdin (the request body).
//!
//! Tests parse the output, so its shape is a contract:
//!
//! ```text
//! Content-Type: text/plain
//!
//! argv[0] = /env/some/path
//! argv[1] = a=1
//! NAME=value
//! OTHER=value
//! stdin:
//! <the whole request body, byte for byte, with nothing appended>
//! ```
//!
//! Every line ends with `\n`. The `argv[i] = value` lines come first, in order. The `NAME=value` lines
//! follow, one per variable, sorted by name (byte order); a name or value that is not UTF-8 is printed
//! lossily, and a value containing a newline would span lines (WAGI never sends one). The `stdin:` line
//! always comes last and everything after its newline is the raw body, which may be empty.

use std::env;
use std::io::{self, Read, Write};

fn main() -> io::Result<()> {
    let mut response = b"Content-Type: text/plain\n\n".to_vec();

    for (arg_idx, arg) in env::args_os().enumerate() {
        writeln!(response, "argv[{arg_idx}] = {}", arg.to_string_lossy())?;
    }

    let mut vars: Vec<(String, String)> = env::vars_os()
        .map(|(name, value)| (name.to_string_lossy().into_owned(), value.to_string_lossy().into_owned()))
        .collect();
    vars.sort();
    for (name, value) in &vars {
        writeln!(response, "{name}={value}")?;
    }

    response.extend_from_slice(b"stdin:\n");
    io::stdin().lock().read_to_end(&mut response)?;

    let mut stdout = io::stdout().lock();
    stdout.write_all(&response)?;
    stdout.flush()
}
