//! How module output becomes an HTTP response, including every way it can be wrong.

use std::io::Write;
use std::path::Path;

use crate::support::{Site, Then, entry, printer, read_response};

fn serve_outputs(cases: &[(&str, &[u8], Then)]) -> (Site, crate::support::Server) {
    let site = Site::new();
    let mut toml = String::new();
    for (name, output, then) in cases {
        site.write(&format!("{name}.wat"), printer(output, *then));
        toml.push_str(&entry(&format!("/{name}"), &format!("{name}.wat")));
    }
    let server = site.serve(&toml, &[]);
    (site, server)
}

#[test]
fn statuses_headers_and_exits() {
    let (_site, server) = serve_outputs(&[
        ("status_first", b"Status: 201 Created\nLocation: /there\n\n", Then::Return),
        ("location_first", b"Location: /there\nStatus: 201\n\n", Then::Return),
        ("redirect", b"Location: /there\n\n", Then::Return),
        ("cookies", b"Content-Type: text/plain\nSet-Cookie: a=1\nSet-Cookie: b=2\n\nc", Then::Return),
        ("crlf", b"content-type: text/html;charset=UTF-8\r\n\r\nOh hi world\r\n", Then::Return),
        ("no_headers", b"just a body", Then::Return),
        ("no_required", b"X-Only: 1\n\nbody", Then::Return),
        ("bad_status", b"Status: abc\n\nbody", Then::Return),
        ("exit0", b"Content-Type: text/plain\n\nexited", Then::Exit(0)),
        ("exit3", b"Content-Type: text/plain\n\nexited", Then::Exit(3)),
        ("trap", b"Content-Type: text/plain\n\ntrapped", Then::Trap),
        ("not_found", b"Status: 404 Not Found\n\nnope", Then::Return),
    ]);
    for path in ["/status_first", "/location_first"] {
        let response = server.get(path);
        assert_eq!((response.status, response.header("location")), (201, Some("/there")), "{path}");
    }
    assert_eq!(server.get("/redirect").status, 302);
    let cookies = server.get("/cookies");
    assert_eq!(cookies.header_all("set-cookie"), ["a=1", "b=2"]);
    let crlf = server.get("/crlf");
    assert_eq!(crlf.header("content-type"), Some("text/html;charset=UTF-8"));
    assert_eq!(crlf.body, b"Oh hi world\r\n");
    for path in ["/no_headers", "/no_required"] {
        let response = server.get(path);
        assert_eq!(response.status, 500, "{path}");
        assert_eq!(response.text(), "Exactly one of 'location' or 'content-type' must be specified");
    }
    assert_eq!(server.get("/bad_status").status, 502);
    let exit0 = server.get("/exit0");
    assert_eq!((exit0.status, exit0.text().as_str()), (200, "exited"));
    for path in ["/exit3", "/trap"] {
        let response = server.get(path);
        assert_eq!(response.status, 500, "{path}");
        assert!(!response.text().contains("exited") && !response.text().contains("trapped"), "{path}");
    }
    let not_found = server.get("/not_found");
    assert_eq!((not_found.status, not_found.text().as_str()), (404, "nope"));
}

#[test]
fn an_invalid_header_value_is_502_and_the_connection_survives() {
    let (_site, server) = serve_outputs(&[
        ("control", b"Content-Type: text/plain\nX-Bad: a\x01b\n\nbody", Then::Return),
        ("ok", b"Content-Type: text/plain\n\nfine", Then::Return),
    ]);
    let mut connection = server.connect();
    connection.write_all(b"GET /control HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
    let first = read_response(&mut connection, false);
    assert_eq!(first.status, 502);
    connection.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    let second = read_response(&mut connection, false);
    assert_eq!((second.status, second.text().as_str()), (200, "fine"));
}

/// `examples/stream.wat` writing `chunks` blocks of 64 KiB (bytes `a`) after its header block,
/// then either returning or looping until its deadline.
fn streamer(chunks: u32, then_loop: bool) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/stream.wat");
    let example = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(example.contains("(i32.const 160)") && example.contains(";; END"), "stream.wat changed shape");
    let module = example.replace("(i32.const 160)", &format!("(i32.const {chunks})"));
    if then_loop { module.replace(";; END", "(loop $spin (br $spin))") } else { module }
}

#[test]
fn large_responses_stream_and_small_ones_are_sent_whole() {
    let site = Site::new();
    site.write("big.wat", streamer(160, false));
    site.write("hang.wat", streamer(16, true));
    site.write("small.wat", printer(b"Content-Type: text/plain\n\nsmall", Then::Return));
    let config = format!(
        "{}\n{}timeout = \"2s\"\n\n{}",
        entry("/big", "big.wat"),
        entry("/hang", "hang.wat"),
        entry("/small", "small.wat")
    );
    let server = site.serve(&config, &[]);

    // 10 MiB arrive complete and byte-exact, chunked, since the length was not known up front.
    let big = server.get("/big");
    assert_eq!(big.status, 200);
    assert_eq!(big.header("transfer-encoding"), Some("chunked"));
    assert_eq!(big.body.len(), 160 << 16);
    assert!(big.body.iter().all(|&b| b == b'a'));

    // The response starts while the module still runs: a 200 and the first megabyte arrive from
    // a module that is killed at its deadline, and the stream is then cut short without its
    // final chunk, so the client cannot take it for complete.
    let raw = server.get_cut_off("/hang");
    assert!(String::from_utf8_lossy(&raw).to_ascii_lowercase().contains("transfer-encoding: chunked"));
    assert!(raw.len() > 16 << 16, "only {} bytes arrived", raw.len());

    let small = server.get("/small");
    assert_eq!((small.status, small.header("content-length")), (200, Some("5")));
    assert_eq!(server.get("/healthz").status, 200);
}

#[test]
fn an_informational_status_is_502_over_http1_and_http2() {
    let informational: [(&str, &[u8]); 3] = [
        ("switching", b"Status: 101 Switching Protocols\nUpgrade: websocket\nConnection: upgrade\n\n"),
        ("continue", b"Status: 100 Continue\nContent-Type: text/plain\n\nbody"),
        ("hints", b"Status: 103\nLink: </a.css>; rel=preload\n\n"),
    ];
    let mut cases: Vec<(&str, &[u8], Then)> =
        informational.iter().map(|(name, output)| (*name, *output, Then::Return)).collect();
    cases.push(("ok", b"Content-Type: text/plain\n\nfine", Then::Return));
    let (site, plain) = serve_outputs(&cases);

    // HTTP/1.1: a 502 with no protocol switch, and the connection goes on serving.
    let mut connection = plain.connect();
    for (name, _) in informational {
        connection.write_all(format!("GET /{name} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).expect("send");
        let response = read_response(&mut connection, false);
        assert_eq!((response.status, response.header("upgrade")), (502, None), "{name}");
    }
    connection.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    let ok = read_response(&mut connection, false);
    assert_eq!((ok.status, ok.text().as_str()), (200, "fine"));
    drop(plain);

    // HTTP/2: a 502 too, not a reset stream.
    let (tls, cert) = crate::tls::serve_https(&site);
    for (name, _) in informational {
        let answer = crate::tls::https_get(tls.addr, &cert, &[b"h2"], &format!("/{name}"));
        assert_eq!((answer.version, answer.status), (http::Version::HTTP_2, 502), "{name}");
    }
}
