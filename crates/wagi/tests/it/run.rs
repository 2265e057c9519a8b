//! `wagi run`: one request through one module with no server, as module authors use it in
//! scripts; and `wagi --help` and `--version`, which name every subcommand.

use std::process::{Command, Output};

use crate::support::{Site, Then, component, fixture_text, printer};

/// Runs `wagi run ARGS` in the site and returns its output.
fn wagi_run(site: &Site, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wagi"))
        .arg("run")
        .arg("--module-cache")
        .arg(site.path("cache"))
        .args(args)
        .current_dir(site.dir.path())
        .output()
        .expect("run wagi run")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_module_prints_its_cgi_response_with_the_request_the_server_would_build() {
    let site = Site::new();
    site.fixture("dump.wat");
    let output = wagi_run(&site, &["-e", "GREETING=hi", "-H", "X-Trace: 7", "dump.wat", "/some/path?a=1&b=2"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let text = stdout(&output);
    let (head, body) = text.split_once("\n\n").expect("a header block");
    assert_eq!(head, "Content-Type: text/plain");
    for line in [
        "arg=/some/path",
        "arg=a=1",
        "env=GREETING=hi",
        "env=HTTP_X_TRACE=7",
        "env=PATH_INFO=/some/path",
        "env=QUERY_STRING=a=1&b=2",
        "env=REQUEST_METHOD=GET",
        "env=SCRIPT_NAME=/",
        "env=SERVER_NAME=localhost",
    ] {
        assert!(body.lines().any(|l| l == line), "no `{line}` in:\n{body}");
    }
}

#[test]
fn a_body_from_a_file_reaches_stdin_and_a_component_runs_too() {
    let site = Site::new();
    site.fixture("echo.wat");
    let body: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    site.write("body.bin", &body);
    let output = wagi_run(&site, &["-d", "@body.bin", "echo.wat"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.stdout, [b"Content-Type: application/octet-stream\n\n".as_slice(), &body].concat());

    let said = b"Content-Type: text/plain\n\nfrom a component";
    let run = format!("(drop (call $print (i32.const 1024) (i32.const {}))) (i32.const 0)", said.len());
    site.write("component.wat", component(said, &run));
    let output = wagi_run(&site, &["component.wat"]);
    assert_eq!(
        (output.status.code(), stdout(&output).as_str()),
        (Some(0), "Content-Type: text/plain\n\nfrom a component")
    );
}

#[test]
fn a_volume_is_seen_read_only() {
    let site = Site::new();
    site.fixture("volume.wat");
    site.write("files/greeting.txt", "hello from a volume\n");
    let output = wagi_run(&site, &["--volume", "/=files:ro", "volume.wat", "/read?greeting.txt"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout(&output), "Content-Type: text/plain\n\nhello from a volume\n");
}

#[test]
fn a_failing_module_exits_with_1_and_says_why() {
    let site = Site::new();
    let cases = [
        (printer(b"Content-Type: text/plain\n\nnever seen", Then::Exit(3)), "the module exited with code 3"),
        (printer(b"Content-Type: text/plain\n\nnever seen", Then::Trap), "unreachable"),
        (
            fixture_text("dump.wat").replace("(func (export \"_start\")", "(func (export \"_start\") (loop (br 0))"),
            "1s",
        ),
    ];
    for (wat, reason) in cases {
        site.write("failing.wat", wat);
        let output = wagi_run(&site, &["--timeout", "1s", "failing.wat"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("the module failed") && stderr.contains(reason), "`{reason}` not in: {stderr}");
        assert_eq!(stdout(&output), "", "a failed module's output is not printed");
    }
    let usage = wagi_run(&site, &["-H", "no colon", "failing.wat"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn http_prints_the_response_the_server_would_send() {
    let site = Site::new();
    site.write("redirect.wat", printer(b"Location: /elsewhere\nX-Why: moved\n\n", Then::Return));
    let output = wagi_run(&site, &["--http", "redirect.wat"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        stdout(&output),
        "HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\nx-why: moved\r\ncontent-length: 0\r\n\r\n"
    );
    let cgi = wagi_run(&site, &["redirect.wat"]);
    assert_eq!(stdout(&cgi), "Status: 302 Found\nLocation: /elsewhere\nX-Why: moved\n\n");
}

#[test]
fn help_and_version_describe_every_subcommand() {
    let wagi = |arg: &str| Command::new(env!("CARGO_BIN_EXE_wagi")).arg(arg).output().expect("run wagi");
    let version = wagi("--version");
    assert!(version.status.success());
    // The version, the wasmtime it links and the commit it was built from.
    let version = stdout(&version);
    assert!(version.starts_with(&format!("wagi {} (wasmtime 48.", env!("CARGO_PKG_VERSION"))), "{version}");
    let mut lines = version.lines();
    assert!(lines.next().is_some_and(|first| first.ends_with(')') && first.contains(", commit ")), "{version}");
    // And what it can run and serve.
    let features = lines.next().unwrap_or_default();
    assert!(
        features.starts_with("features: wasi-p1, wasi-p2, wasi-p3, wasi-http") && features.contains("otlp-traces"),
        "{version}"
    );
    let help = stdout(&wagi("--help"));
    for subcommand in ["check", "pull", "run"] {
        let line = help.lines().find(|l| l.trim_start().starts_with(subcommand)).unwrap_or_default();
        assert!(line.split_whitespace().count() > 2, "`{subcommand}` is not described in:\n{help}");
    }
}

/// Imports an interface nobody provides, and calls it.
const CALLS_THE_UNKNOWN: &str = r#"(component
  (import "example:unknown/api@1.0.0" (instance $api (export "call" (func))))
  (core func $call (canon lower (func $api "call")))
  (core module $m
    (import "host" "call" (func $call))
    (func (export "run") (result i32) (call $call) (i32.const 0)))
  (core instance $i (instantiate $m (with "host" (instance (export "call" (func $call))))))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $r (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $r)))"#;

#[test]
fn a_component_importing_what_wagi_does_not_provide_starts_and_its_call_fails_clearly() {
    let site = Site::new();
    site.write("unknown.wat", CALLS_THE_UNKNOWN);
    let output = wagi_run(&site, &["unknown.wat"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the component called `example:unknown/api@1.0.0#call`, which wagi does not provide"),
        "{stderr}"
    );
}

#[test]
fn a_wasi_http_component_runs_too_and_its_body_comes_back() {
    let module = crate::examples::root().join("target/examples/http_component.wasm");
    if crate::examples::skipped().iter().any(|name| name == "http-component") {
        return;
    }
    let site = Site::new();
    site.write("body.txt", "posted through wagi run");
    let module = module.to_str().expect("path");
    let echo = wagi_run(&site, &["-d", "@body.txt", module, "/echo"]);
    assert_eq!(echo.status.code(), Some(0), "{}", String::from_utf8_lossy(&echo.stderr));
    // The echo sets no headers: an empty header block, then the body.
    assert_eq!(stdout(&echo), "\nposted through wagi run");
    let request = wagi_run(&site, &["--http", "-H", "X-Trace: 7", module, "/request?q=1"]);
    let text = stdout(&request);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("path-with-query: /request?q=1\n") && text.contains("x-trace: 7\n"), "{text}");
    let failing = wagi_run(&site, &[module, "/fail"]);
    assert_eq!(failing.status.code(), Some(1), "{}", stdout(&failing));
}

#[test]
fn a_wasi_0_3_component_runs_too() {
    let Some(module) = crate::examples::built("http-service", "http_service.wasm") else { return };
    let site = Site::new();
    let module = module.to_str().expect("path");
    let chunks = wagi_run(&site, &["--http", module, "/chunks"]);
    assert_eq!(chunks.status.code(), Some(0), "{}", String::from_utf8_lossy(&chunks.stderr));
    let text = stdout(&chunks);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n") && text.ends_with("first\nsecond\n"), "{text}");
    let broken = wagi_run(&site, &[module, "/broken"]);
    assert_eq!(broken.status.code(), Some(1), "{}", stdout(&broken));
}
