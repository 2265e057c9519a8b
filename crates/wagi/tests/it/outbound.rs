//! Outbound HTTP through the `wasi_experimental_http` imports, against a real peer on loopback:
//! the example guest built with the original's guest library, a WAT fixture that passes
//! garbage to every function, one that repeats a request (`wat/outbound_repeat.wat`) and one
//! that calls its own route (`wat/outbound_loop.wat`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::hostile::peak_rss_kib;
use crate::peer::Peer;
use crate::support::{Server, Site, Then, entry, fixture_text, printer};

fn http_fetch() -> PathBuf {
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/examples/http_fetch.wasm");
    assert!(built.exists(), "the example modules are missing: run `cargo xtask examples` first");
    built
}

/// `[[module]]` for the fetch example at `route` with `extra` lines.
pub(crate) fn fetch_entry(route: &str, extra: &str) -> String {
    format!("[[module]]\nroute = \"{route}\"\nmodule = \"{}\"\n{extra}\n", http_fetch().display())
}

fn post(server: &Server, path: &str, body: &str) -> crate::support::Response {
    server.request(
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nX-Demo: posted\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

#[test]
fn modules_call_a_real_peer_with_the_original_guest_library() {
    let peer = Peer::start();
    let site = Site::new();
    let allowed = format!("allowed_hosts = [\"http://{}\"]", peer.addr);
    let server = site.serve(&fetch_entry("/fetch", &allowed), &[]);

    let get = server.request(
        format!("GET /fetch?url={} HTTP/1.1\r\nHost: x\r\nX-Demo: abc\r\nConnection: close\r\n\r\n", peer.url("/echo"))
            .as_bytes(),
    );
    assert_eq!(get.status, 200, "{}", get.text());
    assert_eq!(
        get.text(),
        "status: 201\ncontent-type: text/plain\nx-demo: abc\nx-method: GET\nx-peer: yes\nbody: hello from the peer\n"
    );

    // The body is read back 7 bytes at a time; a longer one proves the chunks join up.
    let payload = "a request body that is longer than one chunk";
    let posted = post(&server, &format!("/fetch?url={}", peer.url("/echo")), payload);
    assert_eq!(posted.status, 200, "{}", posted.text());
    assert_eq!(
        posted.text(),
        format!(
            "status: 201\ncontent-type: text/plain\nx-demo: posted\nx-method: POST\nx-peer: yes\nbody: {payload}\n"
        )
    );

    // A redirect to a listed destination is followed.
    let redirected = server.get(&format!("/fetch?url={}", peer.url(&format!("/redirect?to={}", peer.url("/echo")))));
    assert!(redirected.text().starts_with("status: 201\n"), "{}", redirected.text());
}

#[test]
fn destinations_outside_allowed_hosts_are_refused() {
    let peer = Peer::start();
    let port = peer.addr.port();
    let site = Site::new();
    let config = [
        fetch_entry("/listed", &format!("allowed_hosts = [\"http://127.0.0.1:{port}\"]")),
        fetch_entry("/none", ""),
        fetch_entry("/empty", "allowed_hosts = []"),
        fetch_entry("/overridden", ""),
    ]
    .concat();
    let override_arg = format!("/overridden=127.0.0.1:{port}");
    let server = site.serve(&config, &["--allowed-hosts", &override_arg, "--metrics-listen", "127.0.0.1:0"]);
    let denied = "error: Wasi error 7\n";

    let other_port = if port == 65535 { port - 1 } else { port + 1 };
    for url in [
        format!("http://localhost:{port}/echo"),
        format!("http://127.0.0.1:{other_port}/echo"),
        format!("https://127.0.0.1:{port}/echo"),
        peer.url(&format!("/redirect?to=http://localhost:{port}/echo")),
    ] {
        let response = server.get(&format!("/listed?url={url}"));
        assert_eq!((response.status, response.text().as_str()), (502, denied), "{url}");
    }
    for route in ["/none", "/empty"] {
        let response = server.get(&format!("{route}?url={}", peer.url("/echo")));
        assert_eq!((response.status, response.text().as_str()), (502, denied), "{route}");
    }
    let allowed = server.get(&format!("/overridden?url={}", peer.url("/echo")));
    assert!(allowed.text().starts_with("status: 201\n"), "{}", allowed.text());

    // Each ended before its module answered, so the counts are complete.
    let metrics = crate::observability::scrape(&server);
    for series in [
        "wagi_outbound_requests_total{route=\"/listed\",result=\"denied\"} 4\n",
        "wagi_outbound_requests_total{route=\"/none\",result=\"denied\"} 1\n",
        "wagi_outbound_requests_total{route=\"/empty\",result=\"denied\"} 1\n",
        "wagi_outbound_requests_total{route=\"/overridden\",result=\"response\"} 1\n",
    ] {
        assert!(metrics.contains(series), "missing {series:?} in\n{metrics}");
    }
}

#[test]
fn slow_and_huge_peers_hit_the_outbound_limits() {
    let peer = Peer::start();
    let site = Site::new();
    let allowed = format!("allowed_hosts = [\"http://{}\"]", peer.addr);
    let server =
        site.serve(&fetch_entry("/fetch", &allowed), &["--outbound-timeout", "300ms", "--outbound-max-body", "1MiB"]);
    for path in ["/slow", "/huge"] {
        let response = server.get(&format!("/fetch?url={}", peer.url(path)));
        assert_eq!((response.status, response.text().as_str()), (502, "error: Wasi error 11\n"), "{path}");
    }
    let response = server.get(&format!("/fetch?url={}", peer.url("/echo")));
    assert_eq!(response.status, 200);
}

#[test]
fn garbage_arguments_get_error_codes_and_the_server_stays_healthy() {
    let peer = Peer::start();
    let site = Site::new();
    let url = peer.url("/echo");
    site.write(
        "abi.wat",
        fixture_text("outbound_abi.wat").replace("{URL_LEN}", &url.len().to_string()).replace("{URL}", &url),
    );
    let allowed = format!("allowed_hosts = [\"http://{}\"]", peer.addr);
    let config = format!(
        "[[module]]\nroute = \"/abi\"\nmodule = \"abi.wat\"\n{allowed}\n\n\
         [[module]]\nroute = \"/abi-one\"\nmodule = \"abi.wat\"\n{allowed}\nhttp_max_concurrency = 1\n"
    );
    let server = site.serve(&config, &[]);

    // Codes: 3 memory access, 6 UTF-8, 10 URL, 8 method, 9 header encoding, 1 handle, 4 buffer
    // too small, 5 header not found, 13 too many open responses.
    let abi = server.get("/abi");
    assert_eq!(abi.status, 200);
    assert_eq!(abi.text(), "3 6 10 8 9 1 1 1 1 0 201 0 6 4 5 3 3 0 1 0 0 0 3 ");
    let limited = server.get("/abi-one");
    assert_eq!(limited.text(), "3 6 10 8 9 1 1 1 1 0 201 0 6 4 5 3 3 13 0 0 0 0 3 ");

    assert_eq!(server.get("/healthz").status, 200);
    assert_eq!(server.get("/abi").text(), abi.text());
}

/// `wat/outbound_repeat.wat` sending a POST of `body` with `headers` to `url`, `count` times.
fn repeat_module(url: &str, headers: &str, body: &str, count: u32) -> String {
    let escape = |text: &str| text.bytes().map(|b| format!("\\{b:02x}")).collect::<String>();
    fixture_text("outbound_repeat.wat")
        .replace("{URL_LEN}", &url.len().to_string())
        .replace("{HEADERS_LEN}", &headers.len().to_string())
        .replace("{BODY_LEN}", &body.len().to_string())
        .replace("{COUNT}", &count.to_string())
        .replace("{URL}", &escape(url))
        .replace("{HEADERS}", &escape(headers))
        .replace("{BODY}", &escape(body))
}

#[test]
fn modules_cannot_set_host_or_the_framing_headers() {
    let peer = Peer::start();
    let site = Site::new();
    let headers = "Host: internal-admin.example\nConnection: keep-alive, x-kept\nTransfer-Encoding: chunked\n\
                   Content-Length: 5\nUpgrade: h2c\nx-kept: yes\n";
    site.write("headers.wat", repeat_module(&peer.url("/headers"), headers, "hello, peer", 1));
    let allowed = format!("allowed_hosts = [\"http://{}\"]", peer.addr);
    let server = site.serve(&format!("[[module]]\nroute = \"/headers\"\nmodule = \"headers.wat\"\n{allowed}\n"), &[]);

    let response = server.get("/headers");
    assert_eq!(response.status, 200, "{}", response.text());
    let text = response.text();
    let (codes, received) = text.split_once('\n').expect("codes, then the peer's answer");
    assert_eq!(codes, "0 0 0 ");
    let mut received: Vec<&str> = received.lines().collect();
    received.sort_unstable();
    let host = format!("host: {}", peer.addr);
    let mut expected = vec![
        "accept: */*",
        "body: hello, peer",
        "cdn-loop: wagi",
        "content-length: 11",
        host.as_str(),
        concat!("user-agent: wagi/", env!("CARGO_PKG_VERSION")),
        "x-kept: yes",
    ];
    expected.sort_unstable();
    assert_eq!(received, expected);
}

#[test]
fn a_module_calling_its_own_route_ends_with_508_after_max_hops_instances() {
    const MAX_HOPS: u32 = 10;
    let site = Site::new();
    site.fixture("outbound_loop.wat");
    site.write("hello.wat", printer(b"Content-Type: text/plain\n\nhello", Then::Return));
    let config = format!(
        "[[module]]\nroute = \"/loop\"\nmodule = \"outbound_loop.wat\"\nallowed_hosts = [\"insecure:allow-all\"]\n\n{}",
        entry("/hello", "hello.wat")
    );
    // One slot more than the loop may take, and no queue: a loop that took one more instance, or
    // a client request that found none free, would get 503 at once.
    let instances = (MAX_HOPS + 1).to_string();
    let server = site.serve(&config, &["--max-instances", &instances, "--max-queued", "0"]);

    let started = Instant::now();
    let looped = std::thread::scope(|scope| {
        let looping = scope.spawn(|| {
            let request = format!("GET /loop HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr);
            server.request(request.as_bytes())
        });
        // Other clients are answered while the loop runs, and after it.
        loop {
            let finished = looping.is_finished();
            assert_eq!(server.get("/healthz").status, 200);
            let hello = server.get("/hello");
            assert_eq!((hello.status, hello.text().as_str()), (200, "hello"));
            if finished {
                break looping.join().expect("the looping client");
            }
        }
    });
    assert_eq!(looped.status, 508, "{}", looped.text());
    // Well within the queue timeout (10 s) a stalled loop would wait out.
    assert!(started.elapsed() < Duration::from_secs(5), "the loop took {:?}", started.elapsed());
}

#[test]
fn open_responses_are_held_to_outbound_max_held_and_freed_on_close() {
    const COUNT: u32 = 60;
    let peer = Peer::start();
    let site = Site::new();
    site.write("hold.wat", repeat_module(&peer.url("/huge"), "", "", COUNT));
    let allowed = format!("allowed_hosts = [\"http://{}\"]", peer.addr);
    let config = format!("[[module]]\nroute = \"/hold\"\nmodule = \"hold.wat\"\n{allowed}\n");
    let server = site.serve(&config, &["--outbound-max-held", "9MiB"]);
    let peak_before = peak_rss_kib(&server);

    let response = server.get("/hold");
    assert_eq!(response.status, 200, "{}", response.text());
    // Four 2 MiB responses fit in 9 MiB; every later one is refused with code 11 and freed, and
    // closing one makes room for another.
    let codes = format!("{}{} 0 0 ", "0 ".repeat(4), "11 ".repeat(COUNT as usize - 4).trim_end());
    let text = response.text();
    assert_eq!(text.split_once('\n').map(|(codes, _)| codes), Some(codes.as_str()));
    // Without the budget the module would hold 120 MiB of responses.
    let grown_kib = peak_rss_kib(&server).saturating_sub(peak_before);
    assert!(grown_kib < 48 << 10, "the server's peak RSS grew by {grown_kib} KiB");
    assert_eq!(server.get("/healthz").status, 200);
}
