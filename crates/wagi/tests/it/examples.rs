//! The example server of README.md: `examples/modules.toml` with the modules `cargo xtask
//! examples` builds.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::Server;

#[test]
fn the_examples_answer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let built = root.join("target/examples/env_dump.wasm");
    assert!(built.exists(), "the example modules are missing: run `cargo xtask examples` first");
    let site = crate::support::Site::new();
    let server = Server::start_with_config(&site, &root.join("examples/modules.toml"), &[], &[]);

    let hello = server.get("/hello");
    assert_eq!((hello.status, hello.text().as_str()), (200, "hello from wagi\n"));

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

    // `wagi check` prints the same table it serves.
    let output = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .args(["check", "-c"])
        .arg(root.join("examples/modules.toml"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run wagi check");
    assert!(output.status.success());
    let table = String::from_utf8_lossy(&output.stdout);
    let routes: Vec<&str> = table.lines().filter_map(|l| l.split('\t').next()).collect();
    assert_eq!(
        routes,
        [
            "/hello",
            "/stream",
            "/echo",
            "/routes/exact",
            "/fetch",
            "/routes/wildcard/...",
            "/routes/...",
            "/files/...",
            "/env/..."
        ]
    );
}
