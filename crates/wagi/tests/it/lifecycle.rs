//! The server's life: readiness while loading, reloading under load, and draining on SIGTERM,
//! after `--shutdown-delay` with `/healthz` failing.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::outbound::fetch_entry;
use crate::peer::Peer;
use crate::support::{Server, Site, TIMEOUT, Then, entry, printer, read_response};

fn text_module(text: &str) -> String {
    printer(format!("Content-Type: text/plain\n\n{text}\n").as_bytes(), Then::Return)
}

#[test]
fn healthz_is_not_ready_until_the_modules_are_loaded() {
    let site = Site::new();
    // Loading reads the module from a pipe, so it cannot finish before the test writes to it.
    let pipe = site.path("slow.wat");
    assert!(Command::new("mkfifo").arg(&pipe).status().expect("run mkfifo").success());
    site.write("modules.toml", entry("/hello", "slow.wat"));
    let server = Server::start_listening(&site, &["--access-log", "off"]);

    let health = server.get("/healthz");
    assert_eq!(health.status, 503, "{}", health.text());
    assert_eq!(health.header("retry-after"), Some("1"));
    assert_eq!(server.get("/hello").status, 503);

    std::fs::write(&pipe, text_module("hello")).expect("write the module into the pipe");
    server.wait_line("Ready: serving on ");
    let health = server.get("/healthz");
    assert_eq!((health.status, health.text().as_str()), (200, "OK"));
    assert_eq!(server.get("/hello").text(), "hello\n");
}

#[test]
fn sighup_swaps_routes_under_load_without_failing_a_request_and_a_broken_config_changes_nothing() {
    let site = Site::new();
    site.write("old.wat", text_module("old"));
    site.write("new.wat", text_module("new"));
    let server = Arc::new(site.serve(&entry("/a", "old.wat"), &["--access-log", "off"]));

    let stop = Arc::new(AtomicBool::new(false));
    let (started, first_answers) = mpsc::channel();
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let (server, stop, started) = (Arc::clone(&server), Arc::clone(&stop), started.clone());
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                while answers.is_empty() || !stop.load(Ordering::Relaxed) {
                    let response = server.get("/a");
                    assert_eq!(response.status, 200, "{}", response.text());
                    answers.push(response.text());
                    if answers.len() == 1 {
                        started.send(()).expect("report the first answer");
                    }
                }
                answers
            })
        })
        .collect();
    for _ in 0..2 {
        first_answers.recv_timeout(TIMEOUT).expect("a client's first answer");
    }

    site.write("modules.toml", format!("{}{}", entry("/a", "new.wat"), entry("/b", "old.wat")));
    server.signal("HUP");
    server.wait_line("Reloaded");
    assert_eq!(server.get("/a").text(), "new\n");
    assert_eq!(server.get("/b").text(), "old\n");

    site.write("modules.toml", "[[module]]\nroute = \"/c\"\nmodul = \"new.wat\"\n");
    server.signal("HUP");
    server.wait_line("Reload failed");
    assert_eq!(server.get("/a").text(), "new\n");
    assert_eq!(server.get("/b").text(), "old\n");
    assert_eq!(server.get("/c").status, 404);

    stop.store(true, Ordering::Relaxed);
    let answers: Vec<String> = clients.into_iter().flat_map(|c| c.join().expect("no client request failed")).collect();
    assert!(answers.iter().all(|a| a == "old\n" || a == "new\n"), "{answers:?}");
    assert!(answers.contains(&"old\n".to_owned()));
}

#[test]
fn sigterm_finishes_requests_in_flight_refuses_new_connections_and_exits_zero() {
    let peer = Peer::start();
    let site = Site::new();
    let allowed = format!("allowed_hosts = [\"http://{}\"]", peer.addr);
    let server = site.serve(&fetch_entry("/fetch", &allowed), &["--access-log", "off"]);
    let addr = server.addr;

    // Each request runs a module that waits at the peer's gate.
    let request = format!("GET /fetch?url={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", peer.url("/gate"));
    let in_flight: Vec<_> = (0..3)
        .map(|_| {
            let mut connection = server.connect();
            let request = request.clone();
            std::thread::spawn(move || {
                connection.write_all(request.as_bytes()).expect("send request");
                read_response(&mut connection, false)
            })
        })
        .collect();
    peer.wait_at_gate(3);

    server.signal("TERM");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match TcpStream::connect(addr) {
            Err(error) if error.kind() == ErrorKind::ConnectionRefused => break,
            _ => {
                assert!(Instant::now() < deadline, "still accepting connections after SIGTERM");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    peer.open_gate();
    for request in in_flight {
        let response = request.join().expect("a request in flight");
        assert_eq!(response.status, 200, "{}", response.text());
        assert!(response.text().contains("body: through the gate"), "{}", response.text());
    }
    assert_eq!(server.wait_exit().code(), Some(0));
}

#[test]
fn a_second_signal_during_the_graceful_shutdown_exits_at_once() {
    let peer = Peer::start();
    let site = Site::new();
    let allowed = format!("allowed_hosts = [\"http://{}\"]", peer.addr);
    let server = site.serve(&fetch_entry("/fetch", &allowed), &["--access-log", "off", "--shutdown-timeout", "10m"]);
    let addr = server.addr;

    // A request whose module waits at the peer's gate, which never opens.
    let request = format!("GET /fetch?url={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", peer.url("/gate"));
    let mut connection = server.connect();
    connection.write_all(request.as_bytes()).expect("send request");
    peer.wait_at_gate(1);

    server.signal("TERM");
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting connections after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The first signal waits for the request, for up to ten minutes; the second does not.
    server.signal("INT");
    assert_eq!(server.wait_exit().code(), Some(130));
    let mut rest = Vec::new();
    let _ = connection.read_to_end(&mut rest);
    assert!(!String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 200"), "the request in flight was cut off");
}

#[test]
fn with_a_shutdown_delay_healthz_fails_at_once_while_requests_are_still_served() {
    let site = Site::new();
    site.write("hello.wat", text_module("hello"));
    let config = entry("/hello", "hello.wat");
    // A long delay, ended by a second signal: the test does not wait for it.
    let server = site.serve(&config, &["--shutdown-delay", "1h"]);
    server.signal("TERM");
    server.wait_line("Shutting down in 1h (--shutdown-delay)");
    let health = server.get("/healthz");
    assert_eq!((health.status, health.text().as_str()), (503, "shutting down\n"));
    // New connections are still accepted and served, so nothing is lost while load balancers
    // take the server out.
    assert_eq!(server.get("/hello").status, 200);
    server.signal("TERM");
    assert_eq!(server.wait_exit().code(), Some(130));

    // A short delay ends by itself, then the server drains and exits as without one.
    let server = site.serve(&config, &["--shutdown-delay", "200ms"]);
    server.signal("TERM");
    assert_eq!(server.wait_exit().code(), Some(0));
}
