//! WASI 0.3 `wasi:http` components over real sockets: the `http-service` example (the `wasip3`
//! crate) that `cargo xtask examples` builds, beside a WAGI module and a WASI 0.2 component, from
//! a `modules.toml` and from a Spin manifest: bodies streamed both ways, trailers, route matches,
//! the deadline, outbound requests to a real peer under `allowed_hosts` and the hop count,
//! `max_body`, and HTTP/2 over TLS; a WASI 0.3 command with volumes and its stderr log; and a
//! componentize-py WASI 0.3 component.

use std::path::{Path, PathBuf};

use crate::examples::{built, root};
use crate::peer::Peer;
use crate::support::{Server, Site, sha256_hex};

/// The example's module, or `None` when `cargo xtask examples` skipped the wasm32-wasip2 examples.
fn example(file: &str) -> Option<PathBuf> {
    built("http-service", file)
}

/// `modules.toml` with the 0.3 component at `/service/...` (with `extra` lines), the 0.2
/// `http-component` at `/component/...` and `hello.wat` at `/hello`.
fn config(extra: &str) -> Option<String> {
    let service = example("http_service.wasm")?;
    let component = example("http_component.wasm")?;
    let hello = root().join("examples/hello.wat");
    Some(format!(
        "[[module]]\nroute = \"/service/...\"\nmodule = \"{}\"\n{extra}\n\n\
         [[module]]\nroute = \"/component/...\"\nmodule = \"{}\"\n\n\
         [[module]]\nroute = \"/hello\"\nmodule = \"{}\"\n",
        service.display(),
        component.display(),
        hello.display()
    ))
}

/// Serves `module` at `route` from a Spin manifest in `site`.
fn serve_spin(site: &Site, route: &str, module: &Path) -> Server {
    site.write(
        "spin.toml",
        format!(
            "spin_manifest_version = 2\n\n[[trigger.http]]\nroute = \"{route}\"\ncomponent = \"svc\"\n\n\
             [component.svc]\nsource = \"{}\"\n",
            module.display()
        ),
    );
    Server::start_with_config(site, &site.path("spin.toml"), &[], &[])
}

#[test]
fn a_wasi_0_3_component_answers_beside_a_wagi_module_and_a_wasi_0_2_component() {
    let Some(config) = config("") else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);
    for path in ["/service/", "/component/", "/hello"] {
        let response = server.get(path);
        assert_eq!((response.status, response.text()), (200, "hello from wagi\n".to_owned()), "{path}");
    }

    // 400 requests, 16 at a time, each to a fresh instance.
    assert_eq!(server.get_concurrently("/service/", 16, 25, "hello from wagi\n"), 400);
}

#[test]
fn a_wasi_0_3_component_streams_a_large_body_in_and_a_response_in_pieces_out() {
    let Some(config) = config("") else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);

    let body: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut request = format!(
        "POST /service/echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let echoed = server.request(&request);
    assert_eq!(echoed.status, 200);
    assert!(echoed.body == body, "the 1 MiB body comes back whole ({} bytes)", echoed.body.len());

    let chunks = server.get("/service/chunks");
    assert_eq!((chunks.status, chunks.text()), (200, "first\nsecond\n".to_owned()));

    // A component that traps after its response started: the response is cut off, so the client
    // cannot take it for complete.
    server.get_cut_off("/service/broken");
    assert_eq!(server.get("/healthz").status, 200);
}

#[test]
fn a_looping_wasi_0_3_component_gets_504_at_its_deadline_while_health_answers() {
    let Some(config) = config("timeout = \"1s\"") else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);
    let looping = server.get_in_background("/service/loop");
    assert_eq!(server.get("/healthz").status, 200);
    assert_eq!(server.get("/hello").status, 200);
    assert_eq!(looping.join().expect("the looping request"), 504);
    assert_eq!(server.get("/service/").status, 200, "the next request gets a fresh instance");
}

#[test]
fn a_spin_manifest_serves_a_wasi_0_3_component() {
    let Some(service) = example("http_service.wasm") else { return };
    let site = Site::new();
    let server = serve_spin(&site, "/svc/...", &service);
    let hello = server.get("/svc/");
    assert_eq!((hello.status, hello.text()), (200, "hello from wagi\n".to_owned()));
    assert_eq!(server.get("/svc/chunks").text(), "first\nsecond\n");
}

#[test]
fn outbound_requests_of_a_wasi_0_3_component_are_held_to_allowed_hosts() {
    let peer = Peer::start();
    let Some(config) = config(&format!("allowed_hosts = [\"http://{}\"]", peer.addr)) else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);

    let allowed = server.get(&format!("/service/fetch?url={}", peer.url("/echo")));
    assert_eq!((allowed.status, allowed.text()), (201, "hello from the peer".to_owned()));

    // The same host on another port, and another name for it, are refused before they are sent.
    let other_port = Peer::start();
    let name = peer.url("/echo").replace("127.0.0.1", "localhost");
    for refused in [other_port.url("/echo"), name] {
        let response = server.get(&format!("/service/fetch?url={refused}"));
        assert_eq!(response.status, 502, "{refused}: {}", response.text());
        assert!(response.text().contains("HttpRequestDenied"), "{refused}: {}", response.text());
    }
}

#[test]
fn wagi_check_and_pull_accept_wasi_0_3_components() {
    let Some(config) = config("") else { return };
    let site = Site::new();
    let modules_toml = site.write("modules.toml", config);
    for command in ["check", "pull"] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_wagi"))
            .args([command, "-c"])
            .arg(&modules_toml)
            .arg("--module-cache")
            .arg(site.module_cache())
            .output()
            .expect("run");
        assert!(output.status.success(), "wagi {command}: {}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn a_wasi_0_3_component_is_held_to_max_body_and_answers_over_http2_and_tls() {
    let Some(config) = config("max_body = \"1KiB\"") else { return };
    let site = Site::new();
    site.write("modules.toml", config);
    let (server, cert) = crate::tls::serve_https(&site);

    let answer = crate::tls::https_get(server.addr, &cert, &[b"h2"], "/service/chunks");
    assert_eq!((answer.version, answer.status), (http::Version::HTTP_2, 200), "{}", answer.body);
    assert_eq!(answer.body, "first\nsecond\n");

    let plain = Server::start(&site, &[], &[]);
    let mut request =
        b"POST /service/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n".to_vec();
    request.extend_from_slice(&[b'x'; 4096]);
    assert_eq!(plain.request(&request).status, 413, "over max_body");
    let within =
        plain.request(b"POST /service/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    assert_eq!((within.status, within.text()), (200, "ok".to_owned()));
}

#[test]
fn a_componentize_py_wasi_0_3_component_answers_and_streams_the_request_body_back() {
    let Some(python) = built("python-http", "python_http.wasm") else { return };
    let site = Site::new();
    let config = format!("[[module]]\nroute = \"/py/...\"\nmodule = \"{}\"\n", python.display());
    let server = site.serve(&config, &[]);
    let hello = server.get("/py/");
    assert_eq!((hello.status, hello.text()), (200, "hello from wagi\n".to_owned()));

    let body: Vec<u8> = (0..256 << 10).map(|i: u32| (i % 251) as u8).collect();
    let mut request =
        format!("POST /py/echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
            .into_bytes();
    request.extend_from_slice(&body);
    let echoed = server.request(&request);
    assert_eq!(echoed.status, 200);
    assert!(echoed.body == body, "the body comes back whole ({} bytes)", echoed.body.len());
}

#[test]
fn a_wasi_0_3_component_gets_its_route_matches_and_sends_trailers() {
    let Some(service) = example("http_service.wasm") else { return };
    let site = Site::new();
    let server = serve_spin(&site, "/users/:id/...", &service);
    let described = server.get("/users/42/request?a=1");
    assert_eq!(described.status, 200, "{}", described.text());
    for line in [
        "path-with-query: /users/42/request?a=1\n",
        "spin-path-match-id: 42\n",
        "spin-matched-route: /users/:id/...\n",
        "spin-path-info: /request\n",
    ] {
        assert!(described.text().contains(line), "no {line:?} in\n{}", described.text());
    }

    // A client that takes trailers gets them after the last chunk.
    let raw = server.get_raw("/users/1/trailers", "TE: trailers\r\n");
    let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200 ok\r\n"), "{text}");
    assert!(text.ends_with("\r\n0\r\nx-checksum: 42\r\n\r\n"), "{text}");
}

#[test]
fn a_wasi_0_3_component_that_calls_itself_is_stopped_by_the_hop_count() {
    let Some(config) = config("allowed_hosts = [\"insecure:allow-all\"]") else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);
    let request = format!("GET /service/fetch-self HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr);
    let looped = server.request(request.as_bytes());
    assert_eq!(looped.status, 508, "{}", looped.text());
    assert_eq!(server.get("/service/").status, 200);
}

#[test]
fn a_wasi_0_3_command_reads_its_volumes_and_logs_its_stderr() {
    let Some(command) = built("env-dump-wasip3", "env_dump_wasip3.wasm") else { return };
    let site = Site::new();
    site.write("data/greeting.txt", "hello from a volume\n");
    let entry = |route: &str, file: &str| {
        format!(
            "[[module]]\nroute = \"{route}\"\nmodule = \"{}\"\nvolumes = {{ \"/data\" = {{ path = \"data\", read_only = true }} }}\nenvironment = {{ DUMP_FILE = \"{file}\" }}\n\n",
            command.display()
        )
    };
    let config = entry("/found", "/data/greeting.txt") + &entry("/missing", "/data/missing.txt");
    let server = site.serve(&config, &[]);
    let found = server.get("/found");
    assert_eq!(found.status, 200, "{}", found.text());
    assert!(found.text().ends_with("file:\nhello from a volume\n"), "{}", found.text());

    let missing = server.get("/missing");
    assert_eq!(missing.status, 200, "{}", missing.text());
    assert!(!missing.text().contains("file:"), "{}", missing.text());
    let log = server.log_dir.join(sha256_hex(b"/missing")).join("module.stderr");
    let log = std::fs::read_to_string(log).unwrap_or_default();
    assert!(log.contains("cannot read /data/missing.txt"), "the route's log: {log:?}");
}
