//! WASI 0.3 `wasi:http` components over real sockets: the `http-service` example (the `wasip3`
//! crate) that `cargo xtask examples` builds, beside a WAGI module and a WASI 0.2 component, from
//! a `modules.toml` and from a Spin manifest: bodies streamed both ways, the deadline, and outbound
//! requests to a real peer under `allowed_hosts`, `max_body`, and HTTP/2 over TLS.

use std::path::PathBuf;

use crate::examples::{built, root};
use crate::peer::Peer;
use crate::support::{Server, Site};

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
    site.write(
        "spin.toml",
        format!(
            "spin_manifest_version = 2\n\n[[trigger.http]]\nroute = \"/svc/...\"\ncomponent = \"svc\"\n\n\
             [component.svc]\nsource = \"{}\"\n",
            service.display()
        ),
    );
    let server = Server::start_with_config(&site, &site.path("spin.toml"), &[], &[]);
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
    let key = rcgen::KeyPair::generate().expect("generate a key");
    let cert = crate::tls::certificate(&key);
    let cert_path = site.write("cert.pem", &cert).display().to_string();
    let key_path = site.write("key.pem", key.serialize_pem()).display().to_string();
    site.write("modules.toml", config);
    let server = Server::start(&site, &["--tls-cert", &cert_path, "--tls-key", &key_path], &[]);

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
