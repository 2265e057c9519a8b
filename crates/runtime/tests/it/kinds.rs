//! The kinds of handler, run with no server: core modules and command components as CGI
//! programs, and `wasi:http` components. Each gets its request, streams its output, and fails
//! at a trap or at its deadline with the error that says so.
//!
//! The core modules are WAT; the components are the `wat/component.wat` template of the
//! end-to-end tests and the Rust examples that `cargo xtask examples` builds into
//! `target/examples`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use wagi_runtime::{
    EngineOptions, Handler, HandlerSpec, Limits, MatchedRoute, Request, RequestBody, RequestContext, ResponseBody,
    ResponseOptions, Reuse, RunError, Runtime, ServerAuthority,
};

/// Every test ends well within this.
const BOUND: Duration = Duration::from_secs(60);

/// The deadline of the handlers that loop.
const DEADLINE: Duration = Duration::from_millis(300);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A WAT fixture of the end-to-end tests.
fn fixture(name: &str) -> String {
    let path = root().join("crates/wagi/tests/it/wat").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A module that `cargo xtask examples` builds.
fn example(name: &str) -> Vec<u8> {
    let path = root().join("target/examples").join(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; build the examples with `cargo xtask examples`", path.display()))
}

/// A command component whose `wasi:cli/run` runs `run`, core WAT returning 0 for success.
fn component(run: &str) -> Vec<u8> {
    let text = fixture("component.wat").replace("{{PAGES}}", "1").replace("{{DATA}}", "").replace("{{RUN}}", run);
    wat::parse_str(text).expect("valid component WAT")
}

fn runtime() -> Runtime {
    Runtime::new(&EngineOptions { max_instances: 16, max_memory: 64 << 20, ..EngineOptions::default() })
        .expect("an engine")
}

fn handler(runtime: &Runtime, wasm: &[u8], response: ResponseOptions) -> Arc<Handler> {
    let module = runtime.compile(wasm, false).expect("compiles");
    let spec = HandlerSpec {
        environment: vec![("GREETING".to_owned(), "hello".to_owned())],
        limits: Limits { timeout: DEADLINE, ..Limits::default() },
        response,
        ..HandlerSpec::new("test")
    };
    Arc::new(runtime.prepare(&module, spec).expect("links"))
}

/// `POST target` with `body`, routed by `/app/...`, from 127.0.0.1:40000 to example.com:8080.
fn request(target: &str, body: &'static str) -> Request {
    let (head, ()) = http::Request::post(target)
        .header("host", "example.com:8080")
        .header("x-custom", "yes")
        .body(())
        .expect("a valid request")
        .into_parts();
    let path_info = head.uri.path().strip_prefix("/app").unwrap_or_default().to_owned();
    let context = RequestContext {
        remote_addr: "127.0.0.1".into(),
        remote_port: 40000,
        https: false,
        authority: ServerAuthority::derive(Some("example.com:8080"), None, "localhost:3000", false),
        route: MatchedRoute {
            script_name: "/app".to_owned(),
            raw_path_info: path_info,
            pattern: "/app/...".into(),
            params: Vec::new(),
        },
    };
    Request { head, body: Bytes::from_static(body.as_bytes()).into(), context }
}

/// What a handler answered: its status and headers, and its body or the error that cut it.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    streamed: bool,
    body: Result<String, RunError>,
}

async fn answer(handler: &Arc<Handler>, request: Request) -> Result<Answer, RunError> {
    let response = tokio::time::timeout(BOUND, handler.handle(request, ())).await.expect("answers in time")?;
    let (head, body): (_, ResponseBody) = response.into_parts();
    let streamed = body.is_streaming();
    let body = tokio::time::timeout(BOUND, body.collect()).await.expect("the body ends in time");
    let body = body.map(|collected| String::from_utf8_lossy(&collected.to_bytes()).into_owned());
    Ok(Answer { status: head.status, headers: head.headers, streamed, body })
}

/// Asserts that each of `lines` is a line of `body`.
fn assert_lines(body: &str, lines: &[&str]) {
    for line in lines {
        assert!(body.lines().any(|l| l == *line), "no `{line}` in:\n{body}");
    }
}

/// A core module that prints the CGI header block, then `body`.
fn core_module(body: &str) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "Content-Type: text/plain\n\nfirst\n")
  (func $print_first
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 32))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start") {body}))"#
    )
}

#[tokio::test]
async fn a_core_module_gets_the_cgi_environment_argv_and_stdin() {
    let runtime = runtime();
    let dump = wat::parse_str(fixture("dump.wat")).expect("valid WAT");
    let handler = handler(&runtime, &dump, ResponseOptions::default());
    let answer = answer(&handler, request("/app/world?a=1&b=2", "the body")).await.expect("answers");
    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.body.expect("complete");
    assert_lines(
        &body,
        &[
            "arg=/app/world",
            "arg=a=1",
            "arg=b=2",
            "env=GREETING=hello",
            "env=PATH_INFO=/world",
            "env=SCRIPT_NAME=/app",
            "env=SERVER_NAME=example.com",
            "env=SERVER_PORT=8080",
            "env=HTTP_X_CUSTOM=yes",
            "env=CONTENT_LENGTH=8",
            "env=X_FULL_URL=http://example.com:8080/app/world?a=1&b=2",
        ],
    );
    assert!(body.ends_with("stdin=the body"), "{body}");
}

#[tokio::test]
async fn a_core_module_streams_and_a_failure_after_the_start_cuts_the_body() {
    let runtime = runtime();
    let options = ResponseOptions { hold: 0, flush_interval: Duration::from_millis(1) };
    let looping = core_module("(call $print_first) (loop $forever (br $forever))");
    let handler = handler(&runtime, &wat::parse_str(looping).expect("valid WAT"), options);
    let answer = answer(&handler, request("/app", "")).await.expect("the response starts");
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.streamed);
    assert!(matches!(answer.body, Err(RunError::Timeout(DEADLINE))), "{:?}", answer.body);
}

#[tokio::test]
async fn a_core_module_that_traps_or_loops_before_its_headers_fails() {
    let runtime = runtime();
    let trapping =
        handler(&runtime, &wat::parse_str(core_module("unreachable")).expect("WAT"), ResponseOptions::default());
    assert!(matches!(answer(&trapping, request("/app", "")).await, Err(RunError::Trap(_))));
    let looping = core_module("(loop $forever (br $forever))");
    let looping = handler(&runtime, &wat::parse_str(looping).expect("WAT"), ResponseOptions::default());
    assert!(matches!(answer(&looping, request("/app", "")).await, Err(RunError::Timeout(DEADLINE))));
}

#[tokio::test]
async fn a_command_component_gets_the_cgi_environment_argv_and_stdin() {
    let runtime = runtime();
    let handler = handler(&runtime, &example("env_dump_wasip2.wasm"), ResponseOptions::default());
    let answer = answer(&handler, request("/app/world?a=1", "the body")).await.expect("answers");
    let body = answer.body.expect("complete");
    assert_lines(
        &body,
        &["argv[0] = /app/world", "argv[1] = a=1", "GREETING=hello", "PATH_INFO=/world", "HTTP_X_CUSTOM=yes"],
    );
    assert!(body.ends_with("stdin:\nthe body"), "{body}");
}

#[tokio::test]
async fn a_command_component_that_traps_or_loops_fails() {
    let runtime = runtime();
    let trapping = handler(&runtime, &component("unreachable"), ResponseOptions::default());
    assert!(matches!(answer(&trapping, request("/app", "")).await, Err(RunError::Trap(_))));
    let looping =
        handler(&runtime, &component("(loop $forever (br $forever)) (i32.const 0)"), ResponseOptions::default());
    assert!(matches!(answer(&looping, request("/app", "")).await, Err(RunError::Timeout(DEADLINE))));
}

#[tokio::test]
async fn a_wasi_http_component_gets_the_request_as_sent() {
    let runtime = runtime();
    let handler = handler(&runtime, &example("http_component.wasm"), ResponseOptions::default());
    let answer = answer(&handler, request("/app/request?x=1", "")).await.expect("answers");
    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.body.expect("complete");
    assert_lines(
        &body,
        &[
            "method: POST",
            "path-with-query: /app/request?x=1",
            "authority: example.com:8080",
            "scheme: http",
            "spin-full-url: http://example.com:8080/app/request?x=1",
            "spin-path-info: /request",
            "spin-client-addr: 127.0.0.1:40000",
            "x-custom: yes",
        ],
    );
}

#[tokio::test]
async fn a_wasi_http_component_streams_and_a_failure_after_the_start_cuts_the_body() {
    let runtime = runtime();
    let handler = handler(&runtime, &example("http_component.wasm"), ResponseOptions::default());
    let whole = answer(&handler, request("/app/stream?mib=1", "")).await.expect("answers");
    assert!(whole.streamed);
    assert_eq!(whole.body.expect("complete").len(), 1 << 20);
    assert!(whole.headers.get("content-length").is_none());
    let failing = answer(&handler, request("/app/stream?mib=1&then=fail", "")).await.expect("the response starts");
    assert!(matches!(failing.body, Err(RunError::Trap(_))), "{:?}", failing.body.map(|b| b.len()));
}

#[tokio::test]
async fn a_wasi_http_component_that_traps_or_loops_before_answering_fails() {
    let runtime = runtime();
    let handler = handler(&runtime, &example("http_component.wasm"), ResponseOptions::default());
    assert!(matches!(answer(&handler, request("/app/fail", "")).await, Err(RunError::Trap(_))));
    assert!(matches!(answer(&handler, request("/app/loop", "")).await, Err(RunError::Timeout(DEADLINE))));
}

#[tokio::test]
async fn a_wasi_http_0_3_component_streams_both_ways_and_a_failure_after_the_start_cuts_the_body() {
    let runtime = runtime();
    let handler = handler(&runtime, &example("http_service.wasm"), ResponseOptions::default());
    let echoed = answer(&handler, request("/app/echo", "the body")).await.expect("answers");
    assert_eq!((echoed.status, echoed.body.expect("complete")), (StatusCode::OK, "the body".to_owned()));
    let broken = answer(&handler, request("/app/broken", "")).await.expect("the response starts");
    assert!(broken.streamed);
    assert!(matches!(broken.body, Err(RunError::Trap(_))), "{:?}", broken.body);
    assert!(matches!(answer(&handler, request("/app/loop", "")).await, Err(RunError::Timeout(DEADLINE))));
}

#[tokio::test]
async fn a_reused_wasi_http_0_3_instance_that_traps_cuts_off_every_request_it_serves() {
    let runtime = runtime();
    let module = runtime.compile(&example("http_service.wasm"), true).expect("compiles");
    let spec = HandlerSpec {
        limits: Limits { timeout: BOUND, ..Limits::default() },
        reuse: Reuse { requests: 100, concurrency: 16 },
        ..HandlerSpec::new("test")
    };
    let handler = Arc::new(runtime.prepare(&module, spec).expect("links"));

    // An echo whose request body is still arriving: its response has started, and its instance
    // waits for the rest of the body.
    let (sender, body) = RequestBody::streaming(12);
    let echo = Request { body, ..request("/app/echo", "") };
    sender.send(Ok(Bytes::from_static(b"first "))).await.expect("the echo reads its body");
    let echo = tokio::time::timeout(BOUND, handler.handle(echo, ())).await.expect("in time").expect("starts");
    let mut echo = echo.into_body();
    let first = tokio::time::timeout(BOUND, echo.frame()).await.expect("in time").expect("a frame");
    assert_eq!(first.expect("data").into_data().expect("data"), "first ");

    // The same instance takes the next requests meanwhile.
    let count = answer(&handler, request("/app/count", "")).await.expect("answers");
    assert_eq!(count.body.expect("complete"), "2\n");
    let broken = answer(&handler, request("/app/broken", "")).await.expect("the response starts");
    assert!(matches!(broken.body, Err(RunError::Trap(_))), "{:?}", broken.body);

    // Its trap took the instance, and the echo it was still serving is cut off too.
    let rest = tokio::time::timeout(BOUND, echo.collect()).await.expect("the echo ends in time");
    assert!(matches!(rest, Err(RunError::Trap(_))), "{rest:?}");
    let count = answer(&handler, request("/app/count", "")).await.expect("answers");
    assert_eq!(count.body.expect("complete"), "1\n", "the next request gets a new instance");
}
