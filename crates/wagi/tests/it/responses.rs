//! How module output becomes an HTTP response, including every way it can be wrong.

use std::io::Write;

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
