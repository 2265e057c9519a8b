//! A WASI 0.2 command component, run as CGI, that GETs the URL in its query string (`?url=URL`) through
//! `wasi:http/outgoing-handler` and prints the peer's status and body, or `502` and the host's error code.

#[path = "../outbound.rs"]
mod outbound;

use std::io::Write as _;

fn main() {
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    let url = query.split('&').find_map(|pair| pair.strip_prefix("url=")).unwrap_or_default();
    let (status, body) = match outbound::get(url) {
        Ok((status, body)) => (status, body),
        Err(error) => (502, format!("outbound request failed: {error:?}\n").into_bytes()),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "Content-Type: text/plain\nStatus: {status}\n\n");
    let _ = stdout.write_all(&body);
}
