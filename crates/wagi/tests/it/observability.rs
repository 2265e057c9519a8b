//! What an operator sees: one access log line per request (common, combined or JSON, on stdout
//! or in a file that SIGUSR1 reopens), the server's own messages on stderr, and Prometheus
//! metrics.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::support::{Server, Site, TIMEOUT, Then, entry, printer};

pub(crate) fn scrape(server: &Server) -> String {
    let addr = server.metrics_addr.expect("wagi printed its metrics address");
    let mut connection = TcpStream::connect(addr).expect("connect to metrics");
    connection.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    connection.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    let mut text = String::new();
    connection.read_to_string(&mut text).expect("read metrics");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text
}

fn site() -> Site {
    let site = Site::new();
    site.write("hello.wat", printer(b"Content-Type: text/plain\n\nhello\n", Then::Return));
    site.write("modules.toml", entry("/hello", "hello.wat"));
    site
}

#[test]
fn requests_are_logged_and_counted() {
    let site = site();
    let server = Server::start(&site, &["--metrics-listen", "127.0.0.1:0"], &[]);
    for _ in 0..3 {
        assert_eq!(server.get("/hello?x=1").status, 200);
    }
    assert_eq!(server.get("/missing").status, 404);

    // A request is logged and counted once its response has been sent, so after its line
    // appears the metrics include it.
    // Lines from different serving threads may come in any order.
    let lines: Vec<String> = (0..4).map(|_| server.wait_access_line("127.0.0.1 - - [")).collect();
    let hello = "] \"GET /hello?x=1 HTTP/1.1\" 200 6 route=\"/hello\" duration=";
    let missing = "] \"GET /missing HTTP/1.1\" 404 0 route=\"\" duration=";
    assert_eq!(lines.iter().filter(|line| line.contains(hello)).count(), 3, "{lines:?}");
    assert_eq!(lines.iter().filter(|line| line.contains(missing)).count(), 1, "{lines:?}");
    // Each request has its own id (threads take ids in blocks, so they need not be consecutive).
    let ids: std::collections::HashSet<u64> =
        lines.iter().filter_map(|l| l.rsplit_once(" id=")?.1.trim().parse().ok()).collect();
    assert_eq!(ids.len(), 4, "{lines:?}");

    let metrics = scrape(&server);
    for series in [
        "wagi_requests_total{route=\"/hello\",status=\"200\"} 3\n",
        "wagi_requests_total{route=\"\",status=\"404\"} 1\n",
        "wagi_request_duration_seconds_count{route=\"/hello\"} 3\n",
        "wagi_instantiation_duration_seconds_count 3\n",
        "wagi_instances_running 0\n",
        "wagi_requests_queued 0\n",
        "wagi_artifact_cache_total{outcome=\"miss\"} 1\n",
    ] {
        assert!(metrics.contains(series), "missing {series:?} in\n{metrics}");
    }
    for series in ["wagi_module_load_seconds{module=\"", "wagi_module_compile_seconds{module=\""] {
        assert!(metrics.contains(series), "missing {series:?} in\n{metrics}");
    }
}

#[test]
fn json_access_log_lines_go_to_a_file() {
    let site = site();
    let log = site.path("access.log");
    let log_arg = log.display().to_string();
    let server = Server::start(&site, &["--log-format", "json", "--access-log", &log_arg], &[]);
    assert_eq!(server.get("/hello").status, 200);
    assert_eq!(server.get("/hello").status, 200);
    // Every line is written when its response has been sent; a graceful stop waits for that.
    server.signal("TERM");
    assert_eq!(server.wait_exit().code(), Some(0));
    let text = std::fs::read_to_string(&log).expect("read the access log");
    let lines: Vec<serde_json::Value> =
        text.lines().map(|line| serde_json::from_str(line).expect("a JSON object per line")).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["method"], "GET");
    assert_eq!(lines[0]["target"], "/hello");
    assert_eq!(lines[0]["route"], "/hello");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["bytes"], 6);
}

#[test]
fn in_json_mode_stdout_and_stderr_carry_only_json_lines() {
    let site = site();
    let server = Server::start(&site, &["--log-format", "json", "--server-log-format", "json"], &[]);
    assert_eq!(server.get("/hello").status, 200);
    assert_eq!(server.get("/missing").status, 404);
    let (status, stdout, stderr) = server.stop();
    assert_eq!(status.code(), Some(0));
    let parse =
        |line: &String| serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let requests: Vec<serde_json::Value> = stdout.iter().map(parse).collect();
    assert_eq!(requests.len(), 2, "{stdout:?}");
    for request in &requests {
        // RFC 3339, in UTC.
        let time = request["time"].as_str().unwrap_or_default();
        assert!(time.len() == 27 && time.as_bytes()[10] == b'T' && time.ends_with('Z'), "{time}");
    }
    let messages: Vec<String> =
        stderr.iter().map(parse).map(|event| event["message"].as_str().unwrap_or_default().to_owned()).collect();
    assert!(messages.iter().any(|m| m.starts_with("Ready: serving on http://")), "{stderr:?}");
}

#[test]
fn the_combined_format_is_nginx_s() {
    let site = site();
    let server = Server::start(&site, &["--log-format", "combined"], &[]);
    let request = "GET /hello HTTP/1.1\r\nHost: x\r\nReferer: http://127.0.0.1/from\r\n\
                   User-Agent: probe/1.0\r\nConnection: close\r\n\r\n";
    assert_eq!(server.request(request.as_bytes()).status, 200);
    let line = server.wait_access_line("127.0.0.1 - - [");
    assert!(line.ends_with("] \"GET /hello HTTP/1.1\" 200 6 \"http://127.0.0.1/from\" \"probe/1.0\""), "{line}");
}

#[test]
fn sigusr1_reopens_the_access_log_for_logrotate() {
    let site = site();
    let log = site.path("access.log");
    let log_arg = log.display().to_string();
    let server = Server::start(&site, &["--access-log", &log_arg], &[]);
    assert_eq!(server.get("/hello?before").status, 200);
    // What logrotate does: move the file away, then ask for a new one.
    std::fs::rename(&log, site.path("access.log.1")).expect("move the log away");
    server.signal("USR1");
    server.wait_line("Reopened the access log");
    assert_eq!(server.get("/hello?after").status, 200);
    assert_eq!(server.stop().0.code(), Some(0));
    let new = std::fs::read_to_string(&log).expect("a new access log");
    let old = std::fs::read_to_string(site.path("access.log.1")).expect("the old access log");
    assert!(new.contains("GET /hello?after ") && !old.contains("?after"), "new: {new}\nold: {old}");
}

#[test]
fn the_build_and_the_reload_counts_are_exported_from_the_start() {
    let site = site();
    let server = Server::start(&site, &["--metrics-listen", "127.0.0.1:0"], &[]);
    let metrics = scrape(&server);
    let build = metrics.lines().find(|line| line.starts_with("wagi_build_info{")).unwrap_or_default();
    assert!(build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))), "{metrics}");
    assert!(build.contains("wasmtime=\"48.") && build.ends_with("} 1"), "{build}");
    for outcome in ["ok", "error"] {
        let line = format!("wagi_reloads_total{{outcome=\"{outcome}\"}} 0");
        assert!(metrics.lines().any(|l| l == line), "no `{line}` in\n{metrics}");
    }
    assert!(metrics.lines().any(|l| l == "wagi_last_reload_success 1"), "{metrics}");
    // The process's own series, under the names every Prometheus client library uses.
    let value = |name: &str| {
        let line = metrics.lines().find(|line| line.starts_with(&format!("{name} ")));
        line.and_then(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} in\n{metrics}"))
    };
    assert!(value("process_resident_memory_bytes") > 1e6);
    assert!(value("process_open_fds") >= 3.0 && value("process_max_fds") >= value("process_open_fds"));
    assert!(value("process_cpu_seconds_total") >= 0.0 && value("process_start_time_seconds") > 1.7e9);
}
