//! Hostile modules and hostile clients: each gets its documented status, and the server keeps
//! serving everyone else.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::support::{Server, Site, Then, component, entry, printer};

const WRITE: &str =
    r#"(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))"#;

/// A module whose `_start` body is `body`, with `fd_write` imported and one page of memory.
fn module(body: &str) -> String {
    format!("(module {WRITE} (memory (export \"memory\") 1) (func $f (export \"_start\") {body}))")
}

/// A module that writes `len` bytes from offset 0 to `fd`, `times` times, then prints `tail`.
fn writer(fd: u32, len: u32, times: u32, tail: &[u8]) -> String {
    let escaped: String = tail.iter().map(|b| format!("\\{b:02x}")).collect();
    format!(
        r#"(module {WRITE}
  (memory (export "memory") 17)
  (data (i32.const 1048576) "{escaped}")
  (func (export "_start") (local $n i32)
    (i32.store (i32.const 16) (i32.const 1024))
    (i32.store (i32.const 20) (i32.const {len}))
    (block $done (loop $again
      (br_if $done (i32.ge_u (local.get $n) (i32.const {times})))
      (drop (call $fd_write (i32.const {fd}) (i32.const 16) (i32.const 1) (i32.const 24)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $again)))
    (i32.store (i32.const 16) (i32.const 1048576))
    (i32.store (i32.const 20) (i32.const {tail_len}))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))"#,
        tail_len = tail.len()
    )
}

/// Writes a looping module at `/loop` (with `timeout`) and a hello module at `/hello` into the
/// site; returns the modules.toml text.
fn loop_and_hello(site: &Site, timeout: &str) -> String {
    site.write("loop.wat", module("(loop (br 0))"));
    site.write("hello.wat", printer(b"Content-Type: text/plain\n\nhello", Then::Return));
    format!("{}timeout = \"{timeout}\"\n\n{}", entry("/loop", "loop.wat"), entry("/hello", "hello.wat"))
}

/// `GET /loop` on a new connection, from any thread; returns the status.
fn get_loop(addr: std::net::SocketAddr) -> u16 {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    stream.write_all(b"GET /loop HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    crate::support::read_response(&mut stream, false).status
}

fn rss_kib(server: &Server) -> u64 {
    status_kib(server, "VmRSS:")
}

/// The server's peak resident set size so far, in KiB.
pub(crate) fn peak_rss_kib(server: &Server) -> u64 {
    status_kib(server, "VmHWM:")
}

/// A size `field` of the server's `/proc/PID/status`, in KiB.
fn status_kib(server: &Server, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/PID/status"))
}

#[test]
fn hostile_modules_get_their_documented_status() {
    let site = Site::new();
    let header_line = [b"Content-Type: text/plain\nX-Long: ".as_slice(), &vec![b'a'; 1 << 20], b"\n\n"].concat();
    let cases: Vec<(&str, String, &str, u16)> = vec![
        ("loop", module("(loop (br 0))"), "timeout = \"1s\"\n", 504),
        ("write_loop", writer(2, 1024, u32::MAX, b""), "timeout = \"1s\"\n", 504),
        (
            "grow",
            module("(loop (br_if 0 (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))"),
            "max_memory = \"16MiB\"\n",
            500,
        ),
        ("recursion", module("(call $f)"), "", 500),
        ("stdout_flood", writer(1, 65536, 1600, b""), "", 502),
        ("no_header_end", printer(b"no blank line here", Then::Return), "", 500),
        ("long_header", printer(&header_line, Then::Return), "", 502),
        ("stderr_flood", writer(2, 65536, 160, b"Content-Type: text/plain\n\nstill fine"), "", 200),
    ];
    let mut toml = entry("/hello", "hello.wat");
    site.write("hello.wat", printer(b"Content-Type: text/plain\n\nhello", Then::Return));
    for (name, wat, extra, _) in &cases {
        site.write(&format!("{name}.wat"), wat);
        toml.push_str(&format!("{}{extra}\n", entry(&format!("/{name}"), &format!("{name}.wat"))));
    }
    let server = site.serve(&toml, &[]);
    for (name, _, _, status) in &cases {
        let response = server.get(&format!("/{name}"));
        assert_eq!(response.status, *status, "/{name}: {}", response.text());
        let hello = server.get("/hello");
        assert_eq!((hello.status, hello.text().as_str()), (200, "hello"), "after /{name}");
    }
    assert_eq!(server.get("/stderr_flood").text(), "still fine");
    // Per-request stderr is capped at 1 MiB: three flooding requests, at most 3 MiB on disk.
    let logs = std::fs::read_dir(&server.log_dir).expect("log dir");
    let total: u64 = logs
        .filter_map(Result::ok)
        .filter_map(|d| std::fs::metadata(d.path().join("module.stderr")).ok())
        .map(|m| m.len())
        .sum();
    assert!(total <= 3 << 20, "stderr logs hold {total} bytes");
    let rss = rss_kib(&server);
    assert!(rss < 512 * 1024, "server RSS is {rss} KiB");
}

#[test]
fn hostile_components_get_the_statuses_of_modules_while_health_answers() {
    let site = Site::new();
    let hello = b"Content-Type: text/plain\n\nhello";
    let print = format!("(drop (call $print (i32.const 1024) (i32.const {})))", hello.len());
    let flood = "(local $n i32) (block $done (loop $again
        (br_if $done (i32.ge_u (local.get $n) (i32.const 1600)))
        (br_if $done (call $print (i32.const 1024) (i32.const 65536)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $again))) (i32.const 0)";
    let cases: Vec<(&str, String, &str, u16)> = vec![
        ("loop", component(b"", "(loop (br 0)) (i32.const 0)"), "timeout = \"1s\"\n", 504),
        (
            "grow",
            component(b"", "(loop (br_if 0 (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) (i32.const 0)"),
            "max_memory = \"16MiB\"\n",
            500,
        ),
        ("stdout_flood", component(&[0; 65536], flood), "", 502),
        ("trap", component(hello, &format!("{print} unreachable")), "", 500),
        // `run` returning its error, and `exit` with an error, fail like `proc_exit(1)`.
        ("run_error", component(hello, &format!("{print} (i32.const 1)")), "", 500),
        ("exit_error", component(hello, &format!("{print} (call $exit (i32.const 1)) (i32.const 0)")), "", 500),
        ("exit_ok", component(hello, &format!("{print} (call $exit (i32.const 0)) (i32.const 0)")), "", 200),
        ("hello", component(hello, &format!("{print} (i32.const 0)")), "", 200),
    ];
    let mut toml = String::new();
    for (name, wat, extra, _) in &cases {
        site.write(&format!("{name}.wat"), wat);
        toml.push_str(&format!("{}{extra}\n", entry(&format!("/{name}"), &format!("{name}.wat"))));
    }
    let server = site.serve(&toml, &[]);
    for (name, _, _, status) in &cases {
        let addr = server.addr;
        let path = format!("/{name}");
        let request = std::thread::spawn(move || {
            let mut stream = std::net::TcpStream::connect(addr).expect("connect");
            stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
            let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            stream.write_all(head.as_bytes()).expect("send");
            crate::support::read_response(&mut stream, false)
        });
        let mut answered_meanwhile = 0;
        while !request.is_finished() {
            assert_eq!(server.get("/healthz").status, 200, "/healthz during /{name}");
            answered_meanwhile += 1;
        }
        let response = request.join().expect("request thread");
        assert_eq!(response.status, *status, "/{name}: {}", response.text());
        if *name == "loop" {
            assert!(answered_meanwhile > 0, "/healthz was not asked while /loop ran");
        }
        if *status == 200 {
            assert_eq!(response.text(), "hello", "/{name}");
        }
    }
}

/// A component exporting `wasi:http/incoming-handler` by name, whose `handle` takes nothing.
const HTTP_COMPONENT: &str = r#"(component
  (core module $m (func (export "handle")))
  (core instance $i (instantiate $m))
  (func $handle (canon lift (core func $i "handle")))
  (instance $handler (export "handle" (func $handle)))
  (export "wasi:http/incoming-handler@0.2.0" (instance $handler)))"#;

#[test]
fn startup_fails_clearly_for_looping_routes_and_bad_entrypoints() {
    let cases = [
        (
            module("(loop (br 0))").replace("\"_start\"", "\"_routes\""),
            "timeout = \"1s\"\n",
            "`_routes` failed: the module did not finish within 1s",
        ),
        (
            "(module (func (export \"_start\") (param i32)))".to_owned(),
            "",
            "the entrypoint `_start` must be a function with no parameters and no results",
        ),
        ("(module (func (export \"other\")))".to_owned(), "", "the module does not export the entrypoint `_start`"),
        (
            HTTP_COMPONENT.to_owned(),
            "",
            "`wasi:http/incoming-handler@0.2.0#handle` must be a function of an `incoming-request` and a `response-outparam`, found a function of ()",
        ),
    ];
    for (wat, extra, expected) in cases {
        let site = Site::new();
        site.write("bad.wat", wat);
        site.write("modules.toml", format!("{}{extra}", entry("/bad", "bad.wat")));
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_wagi"))
            .args(["check", "-c"])
            .arg(site.path("modules.toml"))
            .output()
            .expect("run wagi");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "expected `{expected}` in: {stderr}");
    }
}

#[test]
fn looping_modules_do_not_stall_health_or_other_routes() {
    let site = Site::new();
    let server = site.serve(&loop_and_hello(&site, "2s"), &[]);
    let addr = server.addr;
    let hammers: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                for _ in 0..2 {
                    statuses.push(get_loop(addr));
                }
                statuses
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        for path in ["/healthz", "/hello"] {
            let begin = Instant::now();
            let response = server.get(path);
            latencies.push(begin.elapsed());
            assert_eq!(response.status, 200, "{path}");
        }
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    // A generous bound: the real figure belongs to benchmarks, this only proves nothing stalls.
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?} over {} requests", latencies.len());
    for hammer in hammers {
        assert_eq!(hammer.join().expect("hammer thread"), [504, 504]);
    }
}

#[test]
fn hostile_clients_get_errors_and_the_server_survives() {
    let site = Site::new();
    site.write("hello.wat", printer(b"Content-Type: text/plain\n\nhello", Then::Return));
    let toml = format!("{}max_body = \"1KiB\"\n", entry("/...", "hello.wat"));
    let server = site.serve(&toml, &["--header-read-timeout", "2s"]);

    let status_or_closed = |raw: &[u8]| -> Option<u16> {
        let mut stream = server.connect();
        // The server may close the connection before reading everything; that is an answer too.
        if stream.write_all(raw).is_err() {
            return None;
        }
        let mut buffer = Vec::new();
        let _ = stream.read_to_end(&mut buffer);
        let text = String::from_utf8_lossy(&buffer);
        text.split_whitespace().nth(1).and_then(|s| s.parse().ok())
    };
    let huge_header = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(1 << 20));
    let many_headers = format!("GET / HTTP/1.1\r\nHost: x\r\n{}\r\n", "X-H: 1\r\n".repeat(10_000));
    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        ("1 MB header", huge_header.into_bytes(), &[431]),
        ("10 000 headers", many_headers.into_bytes(), &[431]),
        ("invalid method", b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), &[400]),
        ("non-UTF-8 path", b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), &[400]),
        ("bad percent-encoding", b"GET /a%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), &[400]),
        (
            "body over the cap",
            [
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\nConnection: close\r\n\r\n".as_slice(),
                &[b'x'; 2048],
            ]
            .concat(),
            &[413],
        ),
        (
            "chunked body over the cap",
            [
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n800\r\n"
                    .as_slice(),
                &[b'x'; 2048],
                b"\r\n0\r\n\r\n",
            ]
            .concat(),
            &[413],
        ),
    ];
    for (name, raw, expected) in cases {
        if let Some(status) = status_or_closed(&raw) {
            assert!(expected.contains(&status), "{name}: got {status}");
        }
        assert_eq!(server.get("/").status, 200, "after {name}");
    }

    // Slowloris: one header byte per 300 ms never completes within the 2 s header deadline.
    let mut slow = server.connect();
    let begin = Instant::now();
    let mut closed = false;
    for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if slow.write_all(&[*byte]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        if begin.elapsed() > Duration::from_secs(6) {
            break;
        }
    }
    let mut rest = Vec::new();
    let read = slow.read_to_end(&mut rest);
    assert!(closed || read.is_ok(), "the slow connection was closed by the server");
    assert!(begin.elapsed() < Duration::from_secs(10), "the header deadline ended the slow client");
    assert_eq!(server.get("/").status, 200);
}

#[test]
fn requests_beyond_the_instance_bound_get_503_with_retry_after() {
    let site = Site::new();
    let server = site.serve(
        &loop_and_hello(&site, "3s"),
        &["--max-instances", "1", "--max-queued", "0", "--metrics-listen", "127.0.0.1:0"],
    );
    let addr = server.addr;
    // With no queue, the looping request itself gets 503 if a `/hello` below holds the slot at
    // that moment: it retries until it runs.
    let looper = std::thread::spawn(move || (0..1000).map(|_| get_loop(addr)).find(|&status| status != 503));
    // Poll until the looping request holds the only slot; bounded by its 3 s deadline.
    let begin = Instant::now();
    let busy = loop {
        let response = server.get("/hello");
        if response.status == 503 || begin.elapsed() > Duration::from_secs(10) {
            break response;
        }
    };
    assert_eq!(busy.status, 503);
    assert_eq!(busy.header("retry-after"), Some("1"));
    assert_eq!(server.get("/healthz").status, 200, "health is never queued");
    assert_eq!(looper.join().expect("looper"), Some(504));
    assert_eq!(server.get("/hello").status, 200, "the slot is free again");
    // Those 503s are counted as admission's, apart from the statuses modules answer with.
    let metrics = crate::observability::scrape(&server);
    let full =
        metrics.lines().find_map(|line| line.strip_prefix("wagi_admission_rejections_total{reason=\"queue_full\"} "));
    assert!(full.and_then(|count| count.parse::<u64>().ok()).is_some_and(|count| count >= 1), "{metrics}");
    assert!(metrics.contains("wagi_admission_rejections_total{reason=\"queue_timeout\"} 0\n"), "{metrics}");
}

#[test]
fn components_made_of_several_instances_wait_for_the_pool_instead_of_failing() {
    let site = Site::new();
    // Two core instances (its memory's and its code's); a busy loop keeps each request running.
    let hello = b"Content-Type: text/plain\n\nhello";
    let run = format!(
        "(local $n i32) (loop $spin (local.set $n (i32.add (local.get $n) (i32.const 1)))
           (br_if $spin (i32.lt_u (local.get $n) (i32.const 20000000))))
         (drop (call $print (i32.const 1024) (i32.const {}))) (i32.const 0)",
        hello.len()
    );
    site.write("busy.wat", component(hello, &run));
    // Three slots: a second instance of the component needs four, so it must wait.
    let server = site.serve(&entry("/busy", "busy.wat"), &["--max-instances", "3"]);
    let addr = server.addr;
    let clients: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(move || {
                let mut stream = std::net::TcpStream::connect(addr).expect("connect");
                stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
                stream.write_all(b"GET /busy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
                crate::support::read_response(&mut stream, false).status
            })
        })
        .collect();
    let statuses: Vec<u16> = clients.into_iter().map(|c| c.join().expect("client")).collect();
    assert_eq!(statuses, [200; 6], "every request waits for its slots and runs");
}

/// A module that prints, for five bytes of its memory, what it found there before adding one:
/// in its data image's first page, in two untouched pages, at 1 MiB, and in a page it grows.
const REMEMBERER: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 20)
  (data (i32.const 16) "Content-Type: text/plain\n\n")
  (func $bump (param $at i32) (result i32) (local $old i32)
    (local.set $old (i32.load8_u (local.get $at)))
    (i32.store8 (local.get $at) (i32.add (local.get $old) (i32.const 1)))
    (i32.add (local.get $old) (i32.const 48)))
  (func (export "_start")
    (i32.store8 (i32.const 42) (call $bump (i32.const 12)))
    (i32.store8 (i32.const 43) (call $bump (i32.const 4096)))
    (i32.store8 (i32.const 44) (call $bump (i32.const 65536)))
    (i32.store8 (i32.const 45) (call $bump (i32.const 1048576)))
    (i32.store8 (i32.const 46)
      (call $bump (i32.add (i32.mul (memory.grow (i32.const 1)) (i32.const 65536)) (i32.const 8))))
    (i32.store8 (i32.const 47) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 32))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;

#[test]
fn no_request_sees_what_an_earlier_one_left_in_memory() {
    // Both ways of resetting pooled memory: pages kept resident and cleared in place (the
    // default), and pages returned to the kernel.
    for keep_resident in ["2MiB", "0"] {
        let site = Site::new();
        site.write("remember.wat", REMEMBERER);
        let server = site.serve(&entry("/remember", "remember.wat"), &["--memory-keep-resident", keep_resident]);
        let fresh = |response: crate::support::Response| {
            assert_eq!((response.status, response.text().as_str()), (200, "00000\n"), "{keep_resident}");
        };
        for _ in 0..20 {
            fresh(server.get("/remember"));
        }
        std::thread::scope(|scope| {
            let clients: Vec<_> =
                (0..8).map(|_| scope.spawn(|| (0..10).map(|_| server.get("/remember")).collect::<Vec<_>>())).collect();
            for client in clients {
                client.join().expect("client thread").into_iter().for_each(fresh);
            }
        });
    }
}

/// A module with `pages` of initial memory that grows it by 20 MiB (trapping if that is
/// refused), prints `grown` and then reads stdin to its end, so it holds the memory until the
/// client has sent its whole body.
fn memory_holder(pages: u32) -> String {
    format!(
        r#"(module {WRITE}
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") {pages})
  (data (i32.const 1024) "Content-Type: text/plain\n\ngrown\n")
  (func (export "_start")
    (if (i32.eq (memory.grow (i32.const 320)) (i32.const -1)) (then unreachable))
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 32))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 16) (i32.const 2048))
    (i32.store (i32.const 20) (i32.const 64))
    (loop $more
      (br_if $more (i32.and
        (i32.eqz (call $fd_read (i32.const 0) (i32.const 16) (i32.const 1) (i32.const 24)))
        (i32.ne (i32.load (i32.const 24)) (i32.const 0)))))))"#
    )
}

/// A `POST` with a one-byte body; without `body`, only its head is sent.
fn post(server: &Server, path: &str, body: bool) -> std::net::TcpStream {
    let mut stream = server.connect();
    let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("send head");
    if body {
        stream.write_all(b"x").expect("send body");
    }
    stream
}

/// Reads from `stream` until what has arrived contains `needle`; returns all of it.
fn read_until(stream: &mut std::net::TcpStream, needle: &[u8]) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    while !received.windows(needle.len()).any(|w| w == needle) {
        let read = stream.read(&mut buffer).expect("read the response");
        assert!(read > 0, "the response ended before {:?}: {}", needle, String::from_utf8_lossy(&received));
        received.extend_from_slice(&buffer[..read]);
    }
    received
}

fn status_of(response: &[u8]) -> &str {
    std::str::from_utf8(&response[..12.min(response.len())]).expect("status line")
}

#[test]
fn instances_together_stay_within_max_total_memory() {
    let site = Site::new();
    site.write("hold.wat", memory_holder(1));
    site.write("big.wat", memory_holder(64));
    let per_module = "max_memory = \"128MiB\"\n\n";
    let modules =
        [entry("/hold", "hold.wat").trim_end(), per_module, entry("/big", "big.wat").trim_end(), per_module].join("\n");
    site.write("modules.toml", &modules);
    let server = Server::start_listening(&site, &["--max-total-memory", "64MiB"]);
    assert_eq!(
        server.wait_line("Memory: "),
        "Memory: instances may use 64 MiB of linear memory together (--max-total-memory)"
    );
    server.wait_line("Ready: ");

    // Three instances of 20 MiB and a page each hold 60.2 MiB of the 64 MiB.
    let mut holders: Vec<_> = (0..3)
        .map(|_| {
            let mut stream = post(&server, "/hold", false);
            let head = read_until(&mut stream, b"grown");
            assert_eq!(status_of(&head), "HTTP/1.1 200");
            stream
        })
        .collect();
    // A fourth can start, but its memory.grow returns -1, on which it traps.
    let mut refused = post(&server, "/hold", true);
    assert_eq!(status_of(&read_until(&mut refused, b"\r\n\r\n")), "HTTP/1.1 500");
    // An initial memory of 4 MiB does not fit in the 3.8 MiB left: it cannot start, and the
    // client is told to come back, as when every instance slot is taken.
    let mut too_big = post(&server, "/big", true);
    let head = read_until(&mut too_big, b"\r\n\r\n");
    assert_eq!(status_of(&head), "HTTP/1.1 503");
    assert!(String::from_utf8_lossy(&head).to_ascii_lowercase().contains("retry-after: 1"));

    for holder in &mut holders {
        holder.write_all(b"x").expect("send body");
        let mut rest = Vec::new();
        holder.read_to_end(&mut rest).expect("read the rest");
        assert!(rest.ends_with(b"0\r\n\r\n"), "the held response ends: {}", String::from_utf8_lossy(&rest));
    }
    // Their memory is free again once their responses have ended.
    for path in ["/hold", "/big"] {
        let mut stream = post(&server, path, true);
        let response = read_until(&mut stream, b"grown");
        assert_eq!(status_of(&response), "HTTP/1.1 200", "{path}");
    }
}

#[test]
fn startup_prints_the_default_total_memory_bound() {
    let site = Site::new();
    site.write("hello.wat", printer(b"Content-Type: text/plain\n\nhello", Then::Return));
    site.write("modules.toml", entry("/", "hello.wat"));
    let server = Server::start_listening(&site, &[]);
    let line = server.wait_line("Memory: ");
    assert!(line.contains("75% of "), "{line}");
    assert!(line.contains("set --max-total-memory"), "{line}");
}
