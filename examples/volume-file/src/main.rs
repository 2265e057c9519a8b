//! Shows volumes: serves files from the host directory that `modules.toml` mounts at `/data`.
//!
//! The file name comes from `PATH_INFO`, so with the module at `/files/...` a request for
//! `/files/greeting.txt` returns `/data/greeting.txt` as `text/plain`. A missing file gives
//! `Status: 404`, a path with a `..` segment gives `Status: 400`; WASI already keeps a module inside its
//! volumes, but refusing early gives the client a clear answer instead of an opaque error.

use std::env;
use std::fs;
use std::io::{self, ErrorKind, Write};
use std::path::Path;

/// Where `modules.toml` mounts the volume inside the guest.
const VOLUME: &str = "/data";

fn main() -> io::Result<()> {
    let path_info = env::var("PATH_INFO").unwrap_or_default();
    let response = respond(&path_info);
    let mut stdout = io::stdout().lock();
    stdout.write_all(&response)?;
    stdout.flush()
}

fn respond(path_info: &str) -> Vec<u8> {
    let name = path_info.trim_start_matches('/');
    if name.split('/').any(|segment| segment == "..") {
        return error_response("400 Bad Request", &format!("refusing path `{path_info}`: it contains `..`"));
    }
    if name.is_empty() {
        return error_response("400 Bad Request", "name a file after the route, e.g. `/files/greeting.txt`");
    }
    match fs::read(Path::new(VOLUME).join(name)) {
        Ok(contents) => {
            let mut response = b"Content-Type: text/plain\n\n".to_vec();
            response.extend_from_slice(&contents);
            response
        }
        Err(err) if matches!(err.kind(), ErrorKind::NotFound | ErrorKind::IsADirectory) => {
            error_response("404 Not Found", &format!("no file `{name}` in the volume"))
        }
        Err(err) => error_response("500 Internal Server Error", &format!("cannot read `{name}`: {err}")),
    }
}

fn error_response(status: &str, message: &str) -> Vec<u8> {
    format!("Status: {status}\nContent-Type: text/plain\n\n{message}\n").into_bytes()
}
