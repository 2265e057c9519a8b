//! The example server of README.md: the modules `cargo xtask examples` builds, served from the
//! `target/examples/modules.toml` it writes (`examples/modules.toml` without what it skipped).
//!
//! An example whose toolchain was missing is listed in `target/examples/skipped.txt`. Its test is
//! skipped with a loud line, unless `CI` is set: then it fails, so CI always runs all of them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::support::{Response, Server, Site};

/// The examples in languages other than Rust for wasm32-wasip1: the name `skipped.txt` uses, the
/// route prefix `examples/modules.toml` serves them under, and the `GREETING` it gives them. Each
/// prints what `env-dump` prints.
const LANGUAGES: &[(&str, &str, &str)] = &[
    ("env-dump-wasip2", "/env-wasip2", "hello from Rust for wasm32-wasip2"),
    ("env-dump-wasip3", "/env-wasip3", "hello from Rust for WASI 0.3"),
    ("c-env", "/c", "hello from C"),
    ("zig-env", "/zig", "hello from Zig"),
    ("assemblyscript-env", "/assemblyscript", "hello from AssemblyScript"),
    ("python-env", "/python", "hello from Python"),
    ("js-env", "/js", "hello from JavaScript"),
];

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The module `file` that `cargo xtask examples` built for the example `name`, or `None` when it
/// skipped that example.
pub(crate) fn built(name: &str, file: &str) -> Option<PathBuf> {
    if skipped().iter().any(|skipped| skipped == name) {
        return None;
    }
    Some(root().join("target/examples").join(file))
}

/// The examples `cargo xtask examples` skipped, after checking that it ran; each is named in a
/// loud line, and under CI any is a failure.
pub(crate) fn skipped() -> Vec<String> {
    let built = root().join("target/examples");
    let skipped = std::fs::read_to_string(built.join("skipped.txt"))
        .unwrap_or_else(|e| panic!("the examples are missing ({e}): run `cargo xtask examples` first"));
    let skipped: Vec<String> = skipped.lines().map(str::to_owned).collect();
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    assert!(!in_ci || skipped.is_empty(), "CI is set, but `cargo xtask examples` skipped {skipped:?}");
    for name in &skipped {
        eprintln!(
            "\n*** SKIPPED the test of example `{name}`: its toolchain is missing (see `cargo xtask examples`) ***\n"
        );
    }
    skipped
}

/// A site whose module cache holds every example compiled, shared by the tests of this file: the
/// Python and JavaScript components take half a minute to compile, longer than a test waits for
/// a server. The first test to get here compiles them with `wagi pull`; later runs reuse them.
fn examples_site() -> Site {
    static PULLED: Mutex<bool> = Mutex::new(false);
    let cache = root().join("target/examples-module-cache");
    let mut pulled = PULLED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !*pulled {
        let mut pull = Command::new(env!("CARGO_BIN_EXE_wagi"))
            .args(["pull", "-c"])
            .arg(root().join("target/examples/modules.toml"))
            .arg("--module-cache")
            .arg(&cache)
            .stdout(Stdio::null())
            .spawn()
            .expect("run wagi pull");
        let pid = pull.id();
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(pull.wait()));
        let Ok(status) = finished.recv_timeout(Duration::from_secs(600)) else {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("`wagi pull` of the examples took over 10 minutes");
        };
        let status = status.expect("wait for wagi pull");
        assert!(status.success(), "`wagi pull` of the examples failed: {status}");
        *pulled = true;
    }
    Site::with_module_cache(cache)
}

fn serve_examples(site: &Site) -> Server {
    Server::start_with_config(site, &root().join("target/examples/modules.toml"), &[], &[])
}

/// `POST <prefix>/some/path?a=1&b=2` with a body that is not UTF-8.
fn post_env(server: &Server, prefix: &str) -> (Response, Vec<u8>) {
    let body = [b"a body \xff\x00 ".as_slice(), &[b'z'; 70_000]].concat();
    let mut request = format!(
        "POST {prefix}/some/path?a=1&b=2 HTTP/1.1\r\nHost: localhost:3000\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    (server.request(&request), body)
}

#[test]
fn the_examples_answer() {
    let root = root();
    let skipped = skipped();
    let site = examples_site();
    let server = serve_examples(&site);

    let hello = server.get("/hello");
    assert_eq!((hello.status, hello.text().as_str()), (200, "hello from wagi\n"));
    if !skipped.iter().any(|name| name == "http-component") {
        let component = server.get("/http-component/request");
        assert_eq!(component.status, 200, "{}", component.text());
        assert!(component.text().contains("GREETING=hello from a wasi:http component\n"), "{}", component.text());
    }

    let stream = server.get("/stream");
    assert_eq!((stream.status, stream.body.len()), (200, 160 << 16));

    let env = server.get("/env/some/path?a=1&b=2");
    assert_eq!(env.status, 200);
    let text = env.text();
    assert!(text.contains("argv[0] = /env/some/path\nargv[1] = a=1\nargv[2] = b=2\n"), "{text}");
    assert!(text.contains("GREETING=hello\n") && text.contains("PATH_INFO=/some/path\n"), "{text}");

    let echo = server.request(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
    assert_eq!((echo.status, echo.body.as_slice()), (200, b"abc".as_slice()));

    for (path, entrypoint) in
        [("/routes/exact", "on_exact"), ("/routes/wildcard/a", "on_wildcard"), ("/routes/x", "_start")]
    {
        let response = server.get(path);
        assert!(response.text().contains(&format!("entrypoint: {entrypoint}")), "{path}: {}", response.text());
    }

    let file = server.get("/files/greeting.txt");
    assert_eq!(file.status, 200);
    assert_eq!(file.text(), std::fs::read_to_string(root.join("examples/data/greeting.txt")).expect("greeting"));
    assert_eq!(server.get("/files/missing.txt").status, 404);

    // `wagi check` prints the same table it serves: every route of `examples/modules.toml` but
    // those of skipped examples.
    let output = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .args(["check", "-c"])
        .arg(root.join("target/examples/modules.toml"))
        .arg("--module-cache")
        .arg(site.module_cache())
        .stderr(Stdio::inherit())
        .output()
        .expect("run wagi check");
    assert!(output.status.success());
    let table = String::from_utf8_lossy(&output.stdout);
    let mut routes: Vec<&str> = table.lines().filter_map(|l| l.split('\t').next()).collect();
    routes.sort_unstable();
    let mut expected = vec![
        "/echo",
        "/guestbook/static/...",
        "/env/...",
        "/fetch",
        "/files/...",
        "/hello",
        "/routes/...",
        "/routes/exact",
        "/routes/wildcard/...",
        "/stream",
    ];
    let language_routes: Vec<String> = LANGUAGES
        .iter()
        .filter(|(name, _, _)| !skipped.iter().any(|s| s == name))
        .map(|(_, prefix, _)| format!("{prefix}/..."))
        .collect();
    expected.extend(language_routes.iter().map(String::as_str));
    if !skipped.iter().any(|s| s == "guestbook") {
        expected.extend(["/guestbook", "/guestbook/..."]);
    }
    if !skipped.iter().any(|s| s == "http-component") {
        expected.push("/http-component/...");
    }
    if !skipped.iter().any(|s| s == "http-service") {
        expected.push("/http-service/...");
    }
    if !skipped.iter().any(|s| s == "js-http") {
        expected.push("/js-http/...");
    }
    expected.sort_unstable();
    assert_eq!(routes, expected);
}

/// Every language's example gets the request exactly as `env-dump` does: argv, the environment
/// with its own `GREETING`, and the body byte for byte.
#[test]
fn the_examples_in_every_language_read_the_request_alike() {
    let skipped = skipped();
    let site = examples_site();
    let server = serve_examples(&site);
    let (reference, body) = post_env(&server, "/env");
    assert_eq!(reference.status, 200);
    let without_env_lines = |response: &Response, prefix: &str| -> Vec<u8> {
        // The route prefix shows in argv[0] and in a few variables; compare the rest.
        let text = String::from_utf8_lossy(&response.body).into_owned();
        let head = text.split("stdin:\n").next().unwrap_or_default().replace(prefix, "<prefix>");
        head.into_bytes()
    };
    for (name, prefix, greeting) in LANGUAGES {
        if skipped.iter().any(|s| s == name) {
            continue;
        }
        let (response, _) = post_env(&server, prefix);
        assert_eq!(response.status, 200, "{name}: {}", response.text());
        assert_eq!(response.header("content-type"), Some("text/plain"), "{name}");
        let text = response.text();
        let argv = format!("argv[0] = {prefix}/some/path\nargv[1] = a=1\nargv[2] = b=2\n");
        assert!(text.starts_with(&argv), "{name}: {text}");
        assert_eq!(variable(&response, "GREETING"), Some(*greeting), "{name}");
        assert_eq!(variable(&response, "REQUEST_METHOD"), Some("POST"), "{name}");
        assert_eq!(variable(&response, "PATH_INFO"), Some("/some/path"), "{name}");
        let stdin = response.body.windows(7).position(|w| w == b"stdin:\n").map(|at| &response.body[at + 7..]);
        assert!(stdin == Some(body.as_slice()), "{name}: the body differs");
        // Apart from the route and GREETING, every line is env-dump's.
        let theirs = without_env_lines(&response, prefix);
        let ours = without_env_lines(&reference, "/env");
        let lines = |text: &[u8]| -> Vec<String> {
            String::from_utf8_lossy(text).lines().filter(|l| !l.starts_with("GREETING=")).map(str::to_owned).collect()
        };
        assert_eq!(lines(&theirs), lines(&ours), "{name} differs from env-dump");
    }
}

/// The value of `name` in what `env-dump` printed.
fn variable<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    let end = response.body.windows(7).position(|w| w == b"stdin:\n")?;
    let head = std::str::from_utf8(&response.body[..end]).ok()?;
    head.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
}

/// A component sees volumes as preopened directories, and a read-only one refuses writes.
#[test]
fn a_component_reads_files_from_a_volume() {
    if skipped().iter().any(|s| s == "env-dump-wasip2") {
        return;
    }
    let site = Site::new();
    let module = root().join("target/examples/volume_file_wasip2.wasm");
    site.write("data/greeting.txt", "hello from a volume\n");
    let toml = format!(
        "[[module]]\nroute = \"/files/...\"\nmodule = \"{}\"\nvolumes = {{ \"/data\" = {{ path = \"data\", read_only = true }} }}\n",
        module.display()
    );
    let server = site.serve(&toml, &[]);
    let file = server.get("/files/greeting.txt");
    assert_eq!((file.status, file.text().as_str()), (200, "hello from a volume\n"));
    assert_eq!(server.get("/files/missing.txt").status, 404);
}

/// The JavaScript `wasi:http` component (componentize-js, fetch-event style) answers, and its
/// `fetch` reaches only the hosts of its entry's `allowed_hosts`.
#[test]
fn a_javascript_wasi_http_component_answers_and_fetches_where_allowed() {
    if skipped().iter().any(|name| name == "js-http") {
        return;
    }
    let peer = crate::peer::Peer::start();
    let site = examples_site();
    let module = root().join("target/examples/js_http.wasm");
    let config = format!(
        "[[module]]\nroute = \"/js/...\"\nmodule = \"{}\"\nallowed_hosts = [\"http://{}\"]\n",
        module.display(),
        peer.addr
    );
    let server = site.serve(&config, &[]);

    let hello = server.request(
        b"POST /js/some/path HTTP/1.1\r\nHost: x\r\nX-Demo: yes\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(hello.status, 200, "{}", hello.text());
    assert_eq!(hello.text(), "hello from JavaScript\nmethod: POST\npath-info: /some/path\nx-demo: yes\n");

    let allowed = server.get(&format!("/js/fetch?url={}", peer.url("/echo")));
    assert_eq!((allowed.status, allowed.text()), (201, "hello from the peer".to_owned()));
    let other = crate::peer::Peer::start();
    let refused = server.get(&format!("/js/fetch?url={}", other.url("/echo")));
    assert_eq!(refused.status, 502, "{}", refused.text());
    assert!(refused.text().starts_with("outbound request failed"), "{}", refused.text());
}
