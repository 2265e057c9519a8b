//! The request as a module sees it: environment, argv, stdin and volumes.

use std::io::Write;

use crate::support::{Site, component, entry, fixture_text, read_response, sha256_hex};

#[test]
fn worked_example_environment_argv_and_stdin() {
    let site = Site::new();
    site.fixture("dump.wat");
    let server = site.serve(&entry("/foo/...", "dump.wat"), &[]);
    let response = server.request(
        b"POST /foo/bar/baz?a=1&b=x%20y HTTP/1.1\r\nHost: localhost:3000\r\nUser-Agent: wagi-test\r\n\
          Accept: */*\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.dumped("arg="), ["/foo/bar/baz", "a=1", "b=x%20y"]);
    assert_eq!(
        response.dumped_env(),
        [
            "AUTH_TYPE=",
            "CONTENT_LENGTH=5",
            "CONTENT_TYPE=text/plain",
            "GATEWAY_INTERFACE=CGI/1.1",
            "HTTP_ACCEPT=*/*",
            "HTTP_CONTENT_LENGTH=5",
            "HTTP_CONTENT_TYPE=text/plain",
            "HTTP_HOST=localhost:3000",
            "HTTP_USER_AGENT=wagi-test",
            "PATH_INFO=/bar/baz",
            "PATH_TRANSLATED=/bar/baz",
            "QUERY_STRING=a=1&b=x%20y",
            "REMOTE_ADDR=127.0.0.1",
            "REMOTE_HOST=127.0.0.1",
            "REMOTE_USER=",
            "REQUEST_METHOD=POST",
            "SCRIPT_NAME=/foo",
            "SERVER_NAME=localhost",
            "SERVER_PORT=3000",
            "SERVER_PROTOCOL=HTTP/1.1",
            "SERVER_SOFTWARE=WAGI/1",
            "X_FULL_URL=http://localhost:3000/foo/bar/baz?a=1&b=x%20y",
            "X_MATCHED_ROUTE=/foo/...",
            "X_RAW_PATH_INFO=/bar/baz",
        ]
    );
    assert!(response.text().ends_with("stdin=hello"), "{}", response.text());
}

#[test]
fn module_and_global_environment_precedence_without_host_leaks() {
    let site = Site::new();
    site.fixture("dump.wat");
    site.write("vars.env", "B=file\nC=file\n# comment\nexport D = \"from file\"\n");
    let toml = format!(
        "{}environment = {{ A = \"module\", B = \"module\", HTTP_X_OVR = \"operator\" }}\n",
        entry("/env", "dump.wat")
    );
    site.write("modules.toml", toml);
    let vars = site.path("vars.env");
    let server = crate::support::Server::start(
        &site,
        &["--env-file", vars.to_str().expect("utf-8 path"), "-e", "C=cli", "-e", "SERVER_NAME=nope"],
        &[("WAGI_TEST_HOST_SECRET", "leaked")],
    );
    let response =
        server.request(b"GET /env HTTP/1.1\r\nHost: example.com\r\nX-Ovr: client\r\nConnection: close\r\n\r\n");
    assert_eq!(response.status, 200);
    assert_eq!(response.env_var("A").as_deref(), Some("module"));
    assert_eq!(response.env_var("B").as_deref(), Some("file"));
    assert_eq!(response.env_var("C").as_deref(), Some("cli"));
    assert_eq!(response.env_var("D").as_deref(), Some("from file"));
    assert_eq!(response.env_var("HTTP_X_OVR").as_deref(), Some("operator"));
    assert_eq!(response.env_var("SERVER_NAME").as_deref(), Some("example.com"));
    assert_eq!(response.env_var("SERVER_PORT").as_deref(), Some("80"));
    let env = response.dumped_env();
    assert!(env.iter().all(|line| !line.contains("leaked") && !line.starts_with("PATH=")), "{env:?}");
}

#[test]
fn volumes_are_readable_and_cannot_be_escaped() {
    let site = Site::new();
    site.fixture("volume.wat");
    site.write("volume/greeting.txt", "hello from a volume\n");
    site.write("secret.txt", "top secret\n");
    std::os::unix::fs::symlink(site.path("secret.txt"), site.path("volume/link.txt")).expect("symlink");
    let toml = format!("{}volumes = {{ \"/\" = \"volume\" }}\n", entry("/read", "volume.wat"));
    let server = site.serve(&toml, &[]);

    let response = server.get("/read?greeting.txt");
    assert_eq!((response.status, response.text().as_str()), (200, "hello from a volume\n"));
    for escape in ["../secret.txt", "link.txt", "/secret.txt", "missing.txt"] {
        let response = server.get(&format!("/read?{escape}"));
        assert_eq!(response.status, 404, "{escape}: {}", response.text());
        assert!(!response.text().contains("secret"), "{escape}");
    }
}

/// Reads stdin once (at most 64 bytes) and answers `first read: ` and what it got.
const FIRST_READ: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "Content-Type: text/plain\n\nfirst read: ")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 200))
    (i32.store (i32.const 4) (i32.const 64))
    (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 16) (i32.const 100))
    (i32.store (i32.const 20) (i32.const 38))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 32)))
    (i32.store (i32.const 16) (i32.const 200))
    (i32.store (i32.const 20) (i32.load (i32.const 8)))
    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 32)))))"#;

#[test]
fn the_body_reaches_stdin_while_the_client_is_still_sending_it() {
    let site = Site::new();
    site.write("first.wat", FIRST_READ);
    let server = site.serve(&entry("/first", "first.wat"), &[]);
    let mut connection = server.connect();
    let head = "POST /first HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\nConnection: close\r\n\r\n";
    connection.write_all(format!("{head}hello").as_bytes()).expect("send half the body");
    // The other half is never sent: the module answers from what has arrived.
    let response = read_response(&mut connection, false);
    assert_eq!((response.status, response.text().as_str()), (200, "first read: hello"));
}

#[test]
fn stdin_carries_a_binary_body_byte_exact() {
    let site = Site::new();
    site.fixture("echo.wat");
    let server = site.serve(&entry("/echo", "echo.wat"), &[]);
    let body: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut request =
        format!("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
            .into_bytes();
    request.extend_from_slice(&body);
    let response = server.request(&request);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/octet-stream"));
    assert!(response.body == body, "echoed body differs (len {} vs {})", response.body.len(), body.len());
}

#[test]
fn module_stderr_is_appended_to_the_route_log() {
    let site = Site::new();
    let wat = fixture_text("echo.wat").replace(
        "(i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)",
        "(i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)",
    );
    site.write("stderr.wat", wat);
    let server = site.serve(&entry("/stderr", "stderr.wat"), &[]);
    let response =
        server.request(b"POST /stderr HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops");
    // Everything went to stderr, so stdout has no headers.
    assert_eq!(response.status, 500);
    // The original's layout: <log-dir>/<sha256(route)>/module.stderr.
    let log =
        server.log_dir.join("3b45426f3a69c7f982c999d4c2db97d34b7a08f307fda75871fa28e57923204b").join("module.stderr");
    let content = std::fs::read(&log).expect("stderr log");
    assert_eq!(content, b"Content-Type: application/octet-stream\n\noops");

    // `wagi logs ROUTE` finds it by route.
    let logs = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wagi"))
            .arg("logs")
            .args(args)
            .arg("--log-dir")
            .arg(&server.log_dir)
            .output()
            .expect("run wagi logs")
    };
    let printed = logs(&["/stderr"]);
    assert!(printed.status.success());
    assert_eq!(printed.stdout, content);
    assert_eq!(String::from_utf8_lossy(&logs(&["/stderr", "--path"]).stdout).trim_end(), log.display().to_string());
    let never_ran = logs(&["/other"]);
    assert_eq!(never_ran.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&never_ran.stderr).contains("no stderr log for the route `/other`"));
}

#[test]
fn one_write_of_a_component_takes_everything_it_is_given() {
    // As wasi-libc's `write` does: ask `check-write`, write what it permits, return the count.
    // CPython's `print` ignores that count, so a short one loses the rest of the text.
    let site = Site::new();
    let header = b"Content-Type: text/plain\n\n";
    let run = format!(
        "(drop (memory.grow (i32.const 4))) (memory.fill (i32.const 65536) (i32.const 120) (i32.const 200000))
         (drop (call $print (i32.const 1024) (i32.const {})))
         (drop (call $write_once (i32.const 65536) (i32.const 200000))) (i32.const 0)",
        header.len()
    );
    site.write("once.wat", component(header, &run));
    let server = site.serve(&entry("/once", "once.wat"), &[]);
    let response = server.get("/once");
    assert_eq!(response.status, 200);
    assert!(response.body == vec![b'x'; 200_000], "got {} bytes", response.body.len());
}

#[test]
fn every_iovec_of_a_write_arrives_on_stdout_stderr_and_in_a_file() {
    let site = Site::new();
    site.fixture("gathered.wat");
    std::fs::create_dir(site.path("out")).expect("volume dir");
    let toml = format!("{}volumes = {{ \"/\" = \"out\" }}\n", entry("/gathered", "gathered.wat"));
    let server = site.serve(&toml, &[]);

    let response = server.get("/gathered");
    // Each count is the sum of that call's iovecs: 6 + 0 + 6, 7 + 0 + 7, 25 + 1 + 0 + 7 + 7.
    assert_eq!((response.status, response.text().as_str()), (200, "body-a body-b\nstderr 12 file 14 stdout 40\n"));
    let file = std::fs::read_to_string(site.path("out/gathered.txt")).expect("gathered.txt");
    assert_eq!(file, "file-a file-b\n");
    // After `fd_renumber` put a file on fd 1, writes to fd 1 go to that file.
    let moved = std::fs::read_to_string(site.path("out/moved.txt")).expect("moved.txt");
    assert_eq!(moved, "into the file\n");
    let log = server.log_dir.join(sha256_hex(b"/gathered")).join("module.stderr");
    assert_eq!(std::fs::read_to_string(log).expect("stderr log"), "err-a err-b\n");
}
