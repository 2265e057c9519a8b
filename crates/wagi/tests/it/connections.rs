//! Connections that hold a place without using it: silent sockets, idle keep-alive connections
//! over HTTP/1.1 and HTTP/2, HTTP/2 clients that stop answering pings, and floods of them up to
//! the connection cap; and request heads whose `Host` is missing or repeated.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

use crate::support::{Site, TIMEOUT, Then, entry, printer, read_response};

/// A site with `/hello`, which answers `hello`.
fn hello_site() -> Site {
    let site = Site::new();
    site.write("hello.wat", printer(b"Content-Type: text/plain\n\nhello", Then::Return));
    site.write("modules.toml", entry("/hello", "hello.wat"));
    site
}

/// Reads until the server closes the connection, returning what it sent; fails the test if it
/// is still open after `TIMEOUT`.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => return received,
            Err(error) => panic!("the connection is still open after {TIMEOUT:?} ({error})"),
        }
    }
}

/// The client connection preface of HTTP/2 (RFC 9113 §3.4), with an empty SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// An HTTP/2 HEADERS frame opening stream 1 with a request for `path`, its header block in HPACK
/// with static-table names and literal values; `end_stream` says whether a body follows.
fn headers_frame(method_post: bool, path: &str, end_stream: bool) -> Vec<u8> {
    let method = if method_post { 0x83 } else { 0x82 };
    let mut block = vec![method, 0x86]; // :method, :scheme http
    for (index, value) in [(0x04, path), (0x01, "localhost")] {
        // A literal without indexing, its name from the static table (:path, :authority).
        block.push(index);
        block.push(u8::try_from(value.len()).expect("a short value"));
        block.extend_from_slice(value.as_bytes());
    }
    let flags = 0x4 | if end_stream { 0x1 } else { 0 };
    let length = u32::try_from(block.len()).expect("a short block").to_be_bytes();
    let mut frame = vec![length[1], length[2], length[3], 0x1, flags, 0, 0, 0, 1];
    frame.extend_from_slice(&block);
    frame
}

/// The types of the HTTP/2 frames in `bytes`, as a server sends them.
fn frame_types(mut bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while bytes.len() >= 9 {
        let length = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        types.push(bytes[3]);
        bytes = bytes.get(9 + length..).unwrap_or_default();
    }
    types
}

const HEADERS: u8 = 0x1;
const PING: u8 = 0x6;

#[test]
fn a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    let site = hello_site();
    let server = crate::support::Server::start(&site, &["--header-read-timeout", "1s"], &[]);
    let mut silent = server.connect();
    assert_eq!(read_until_closed(&mut silent), b"");
    let mut partial = server.connect();
    partial.write_all(b"GET /hello HT").expect("send part of a request line");
    assert_eq!(read_until_closed(&mut partial), b"");
    let mut partial_preface = server.connect();
    partial_preface.write_all(&PREFACE[..10]).expect("send part of the HTTP/2 preface");
    assert_eq!(read_until_closed(&mut partial_preface), b"");
    assert_eq!(server.get("/hello").text(), "hello");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let site = hello_site();
    let args = ["--header-read-timeout", "5m", "--keep-alive-timeout", "1s"];
    let server = crate::support::Server::start(&site, &args, &[]);
    let mut http1 = server.connect();
    http1.write_all(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("send a request");
    assert_eq!(read_response(&mut http1, false).text(), "hello");
    assert_eq!(read_until_closed(&mut http1), b"");

    let mut http2 = server.connect();
    http2.write_all(PREFACE).expect("send the preface");
    http2.write_all(&headers_frame(false, "/hello", true)).expect("send a request");
    let types = frame_types(&read_until_closed(&mut http2));
    assert!(types.contains(&HEADERS), "no response before the connection closed: frames {types:?}");
}

#[test]
fn an_http2_connection_that_stops_answering_pings_is_closed() {
    let site = hello_site();
    // With a request in flight the connection is not idle; only the pings can find it silent.
    let args = ["--header-read-timeout", "2s", "--keep-alive-timeout", "1s"];
    let server = crate::support::Server::start(&site, &args, &[]);
    let mut http2 = server.connect();
    http2.write_all(PREFACE).expect("send the preface");
    http2.write_all(&headers_frame(true, "/hello", false)).expect("start a request whose body never comes");
    let types = frame_types(&read_until_closed(&mut http2));
    assert!(types.contains(&PING), "no ping before the connection closed: frames {types:?}");
}

#[test]
fn at_the_connection_cap_the_connection_idle_longest_makes_room() {
    let site = hello_site();
    let server = crate::support::Server::start(&site, &["--max-connections", "50", "--header-read-timeout", "5m"], &[]);
    let silent: Vec<TcpStream> = (0..50).map(|_| server.connect()).collect();
    for _ in 0..3 {
        assert_eq!(server.get("/healthz").status, 200);
        assert_eq!(server.get("/hello").text(), "hello");
    }
    drop(silent);
}

/// The soft limit on open files of this process, which the server inherits.
fn open_files_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").expect("read /proc/self/limits");
    let line = limits.lines().find(|line| line.starts_with("Max open files")).expect("the open files limit");
    line.split_whitespace().nth(3).and_then(|soft| soft.parse().ok()).unwrap_or(usize::MAX)
}

#[test]
fn a_flood_of_silent_connections_does_not_stop_a_server_with_default_flags() {
    // As many silent sockets as the default cap admits, or as this machine lets one process hold.
    const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
    let flood = DEFAULT_MAX_CONNECTIONS.min(open_files_limit().saturating_sub(500));
    let site = hello_site();
    let server = crate::support::Server::start(&site, &[], &[]);
    let mut silent = Vec::with_capacity(flood);
    for _ in 0..flood {
        silent.push(server.connect());
    }
    // More than the cap holds: each new client closes the connection idle longest.
    for _ in 0..20 {
        assert_eq!(server.get("/healthz").status, 200);
        assert_eq!(server.get("/hello").text(), "hello");
    }
    drop(silent);
}

#[test]
fn an_http11_request_without_host_or_with_two_gets_400() {
    let site = hello_site();
    let server = crate::support::Server::start(&site, &[], &[]);
    let missing = server.request(b"GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert_eq!(missing.status, 400, "{}", missing.text());
    let two = server.request(b"GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n");
    assert_eq!(two.status, 400, "{}", two.text());
    let http10 = server.request(b"GET /hello HTTP/1.0\r\n\r\n");
    assert_eq!((http10.status, http10.text().as_str()), (200, "hello"));
    assert_eq!(server.get("/hello").text(), "hello");
}
