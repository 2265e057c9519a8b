//! `wasi:http` components beside WAGI modules, over real sockets: the `http-component` example
//! (and its `http-get` command) that `cargo xtask examples` builds, routing, streaming both ways,
//! limits, HTTPS with HTTP/2, and outbound requests to a real peer under `allowed_hosts`.

use std::io::{Read, Write};
use std::path::PathBuf;

use crate::examples::{built, root};
use crate::peer::Peer;
use crate::support::Site;

/// The example's module, or `None` when `cargo xtask examples` skipped the wasm32-wasip2 examples.
fn example(file: &str) -> Option<PathBuf> {
    built("http-component", file)
}

/// `modules.toml` with the component at `/component/...` (with `extra` lines) and `hello.wat` at
/// `/hello`, or `None` when the example was skipped.
fn config(extra: &str) -> Option<String> {
    let component = example("http_component.wasm")?;
    let hello = root().join("examples/hello.wat");
    Some(format!(
        "[[module]]\nroute = \"/component/...\"\nmodule = \"{}\"\nenvironment = {{ GREETING = \"hi\" }}\n{extra}\n\n\
         [[module]]\nroute = \"/hello\"\nmodule = \"{}\"\n",
        component.display(),
        hello.display()
    ))
}

#[test]
fn a_wasi_http_component_and_a_wagi_module_answer_on_neighbouring_routes() {
    let Some(config) = config("") else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);

    let component = server.get("/component/");
    let module = server.get("/hello");
    assert_eq!((component.status, component.text()), (200, "hello from wagi\n".to_owned()));
    assert_eq!((module.status, module.text()), (200, "hello from wagi\n".to_owned()));

    // The request as the client sent it, the headers Spin adds (not the client's own), and only
    // the configured environment.
    let request = server.request(
        b"PUT /component/request/a%20b?x=1&y HTTP/1.1\r\nHost: example.com:8080\r\nX-Custom: yes\r\n\
          Spin-Full-Url: forged\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(request.status, 200, "{}", request.text());
    let text = request.text();
    for line in [
        "method: PUT\n",
        "path-with-query: /component/request/a%20b?x=1&y\n",
        "authority: example.com:8080\n",
        "scheme: http\n",
        "x-custom: yes\n",
        "spin-full-url: http://example.com:8080/component/request/a%20b?x=1&y\n",
        "spin-path-info: /request/a%20b\n",
        "spin-matched-route: /component/...\n",
        "spin-raw-component-route: /component/...\n",
        "spin-component-route: /component\n",
        "spin-base-path: /\n",
        "spin-client-addr: 127.0.0.1:",
        "GREETING=hi\n",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    assert!(!text.contains("forged"), "{text}");
    let variables: Vec<&str> = text.lines().filter(|line| line.contains('=') && !line.contains(": ")).collect();
    assert_eq!(variables, ["GREETING=hi"], "the component sees only its configured environment");
}

#[test]
fn a_component_streams_its_response_and_one_that_fails_after_starting_is_cut_short() {
    let Some(config) = config("timeout = \"2s\"") else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);

    let whole = server.get("/component/stream");
    assert_eq!((whole.status, whole.header("transfer-encoding")), (200, Some("chunked")));
    assert_eq!(whole.body.len(), 10 << 20);
    assert!(whole.body.iter().all(|&b| b == b'a'));

    // The whole 10 MiB arrive from a component that is still running, then spins until it is
    // stopped at its deadline: the response started before the component finished, and its end
    // is cut off, so the client cannot take it for complete.
    for then in ["loop", "fail"] {
        let raw = server.get_cut_off(&format!("/component/stream?then={then}"));
        assert!(raw.len() > 10 << 20, "{then}: only {} bytes arrived", raw.len());
    }
    assert_eq!(server.get("/healthz").status, 200);
}

#[test]
fn a_request_body_streams_into_the_component_while_its_answer_streams_out() {
    let Some(config) = config("") else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);

    // Half the body goes out; its echo comes back before the client sends the other half.
    let half = vec![b'x'; 256 << 10];
    let mut connection = server.connect();
    let head = format!("POST /component/echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", 2 * half.len());
    connection.write_all(head.as_bytes()).expect("send the head");
    connection.write_all(&half).expect("send the first half");
    let mut echoed = Vec::new();
    let mut buffer = [0u8; 64 << 10];
    while echoed.windows(4).position(|w| w == b"\r\n\r\n").is_none_or(|end| echoed.len() < end + 4 + 1024) {
        let read = connection.read(&mut buffer).expect("the echo of the first half");
        assert!(read > 0, "the connection closed early");
        echoed.extend_from_slice(&buffer[..read]);
    }
    assert!(echoed.starts_with(b"HTTP/1.1 200 OK\r\n"), "{}", String::from_utf8_lossy(&echoed));
    connection.write_all(&half).expect("send the second half");

    // A whole body, not all `x`, comes back byte for byte.
    let body: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut request = format!(
        "POST /component/echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let echo = server.request(&request);
    assert_eq!(echo.status, 200);
    assert!(echo.body == body, "the echo differs from the body sent");
}

#[test]
fn components_are_held_to_the_limits_of_their_route() {
    let Some(config) = config("timeout = \"1s\"\nmax_memory = \"16MiB\"\nmax_body = \"1KiB\"") else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);

    // A looping component gets 504 at its deadline, while /healthz and the neighbour answer.
    let looping = server.get_in_background("/component/loop");
    assert_eq!(server.get("/healthz").status, 200);
    assert_eq!(server.get("/hello").status, 200);
    assert_eq!(looping.join().expect("the looping request"), 504);

    let within = server.get("/component/alloc?mib=4");
    assert_eq!((within.status, within.text()), (200, "allocated 4 MiB\n".to_owned()));
    assert_eq!(server.get("/component/alloc?mib=32").status, 500, "over max_memory");
    assert_eq!(server.get("/component/fail").status, 500, "a trap before the response");
    let large = server.request(
        format!(
            "POST /component/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\nConnection: close\r\n\r\n{}",
            "z".repeat(2048)
        )
        .as_bytes(),
    );
    assert_eq!(large.status, 413);
    assert_eq!(server.get("/component/").status, 200);
}

#[test]
fn https_with_http2_reaches_a_component() {
    let Some(config) = config("") else { return };
    let site = Site::new();
    site.write("modules.toml", config);
    let (server, cert) = crate::tls::serve_https(&site);

    let answer = crate::tls::https_get(server.addr, &cert, &[b"h2"], "/component/request?q=1");
    assert_eq!((answer.version, answer.status), (http::Version::HTTP_2, 200), "{}", answer.body);
    let url = format!("spin-full-url: https://localhost:{}/component/request?q=1\n", server.addr.port());
    assert!(answer.body.contains("scheme: https\n") && answer.body.contains(&url), "{}", answer.body);
}

#[test]
fn a_component_setting_an_informational_status_gets_502_over_http1_and_http2() {
    let Some(config) = config("") else { return };
    let site = Site::new();
    site.write("modules.toml", config);
    let (server, cert) = crate::tls::serve_https(&site);

    for code in [100, 101, 103] {
        let path = format!("/component/status?code={code}");
        for alpn in [&b"http/1.1"[..], b"h2"] {
            let answer = crate::tls::https_get(server.addr, &cert, &[alpn], &path);
            assert_eq!(answer.status, 502, "{code} over {}", String::from_utf8_lossy(alpn));
        }
    }
    let created = crate::tls::https_get(server.addr, &cert, &[b"h2"], "/component/status?code=201");
    assert_eq!((created.status, created.body.as_str()), (201, "status 201\n"));
}

#[test]
fn outbound_requests_of_both_component_kinds_are_held_to_allowed_hosts() {
    let Some(http_get) = example("http_get.wasm") else { return };
    let peer = Peer::start();
    let allowed = format!("allowed_hosts = [\"http://{}\"]", peer.addr);
    let Some(mut config) = config(&allowed) else { return };
    config.push_str(&format!("\n[[module]]\nroute = \"/command\"\nmodule = \"{}\"\n{allowed}\n", http_get.display()));
    let site = Site::new();
    let server = site.serve(&config, &[]);

    let other_port = Peer::start();
    for prefix in ["/component/fetch", "/command"] {
        let allowed = server.get(&format!("{prefix}?url={}", peer.url("/echo")));
        assert_eq!((allowed.status, allowed.text()), (201, "hello from the peer".to_owned()), "{prefix}");

        // The same host on another port, and another name for it, are refused.
        let port = other_port.url("/echo");
        let name = peer.url("/echo").replace("127.0.0.1", "localhost");
        for refused in [port, name] {
            let response = server.get(&format!("{prefix}?url={refused}"));
            assert_eq!(response.status, 502, "{prefix} {refused}: {}", response.text());
            assert!(response.text().contains("HttpRequestDenied"), "{prefix} {refused}: {}", response.text());
        }

        // A redirect comes back to the component, which follows it itself: each hop is a
        // request of its own, checked like the first.
        let outside = format!("http://localhost:{}/echo", peer.addr.port());
        let redirect = server.get(&format!("{prefix}?url={}", peer.url(&format!("/redirect?to={outside}"))));
        assert_eq!(redirect.status, 302, "{prefix}: {}", redirect.text());
    }
}

#[test]
fn the_outbound_limits_hold_for_components() {
    let peer = Peer::start();
    let allowed = format!("allowed_hosts = [\"http://{}\"]", peer.addr);
    let Some(config) = config(&allowed) else { return };
    let site = Site::new();
    let server = site.serve(&config, &["--outbound-timeout", "1s", "--outbound-max-body", "1KiB"]);

    let slow = server.get(&format!("/component/fetch?url={}", peer.url("/slow")));
    assert_eq!(slow.status, 502, "{}", slow.text());
    assert!(slow.text().contains("ConnectionTimeout"), "{}", slow.text());
    let huge = server.get(&format!("/component/fetch?url={}", peer.url("/huge")));
    assert_eq!(huge.status, 502, "a body over --outbound-max-body: {}", huge.text());
    let small = server.get(&format!("/component/fetch?url={}", peer.url("/echo")));
    assert_eq!(small.status, 201, "{}", small.text());
}

#[test]
fn component_requests_carry_the_cdn_loop_entries_and_one_of_wagi() {
    let peer = Peer::start();
    let allowed = format!("allowed_hosts = [\"http://{}\"]", peer.addr);
    let Some(config) = config(&allowed) else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);

    let target = format!("/component/fetch?url={}", peer.url("/headers"));
    let plain = server.get(&target);
    assert_eq!(plain.status, 200, "{}", plain.text());
    assert_eq!(cdn_loop(&plain.text()), "wagi", "{}", plain.text());
    let chained = server.request(
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nCDN-Loop: cdn.example, wagi\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(cdn_loop(&chained.text()), "cdn.example, wagi, wagi", "{}", chained.text());
}

/// The `CDN-Loop` list the peer's `/headers` received, its field lines joined as RFC 9110 §5.3
/// combines them.
fn cdn_loop(received: &str) -> String {
    received.lines().filter_map(|line| line.strip_prefix("cdn-loop: ")).collect::<Vec<_>>().join(", ")
}
