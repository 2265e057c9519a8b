//! Instance reuse over real sockets, with the `http-service` example (a WASI 0.3 `wasip3`
//! component) and the `http-component` example (WASI 0.2), whose `count` paths say how many
//! requests their instance has been given: fresh instances by default, reused ones when an entry
//! or a flag asks, and a reused instance dropped when it loops past a deadline, traps, or grows
//! past `max_memory`.

use crate::examples::{built, root};
use crate::support::{Server, Site};

/// `modules.toml` with the 0.3 component at `/service/...`, with `extra` lines, and `hello.wat`
/// at `/hello`; `None` when `cargo xtask examples` skipped the wasm32-wasip2 examples.
fn config(extra: &str) -> Option<String> {
    config_of("http-service", "http_service.wasm", extra)
}

/// `modules.toml` with the `file` that the example `name` builds at `/service/...`, with `extra`
/// lines, and `hello.wat` at `/hello`.
fn config_of(name: &str, file: &str, extra: &str) -> Option<String> {
    let service = built(name, file)?;
    let hello = root().join("examples/hello.wat");
    Some(format!(
        "[[module]]\nroute = \"/service/...\"\nmodule = \"{}\"\n{extra}\n\n\
         [[module]]\nroute = \"/hello\"\nmodule = \"{}\"\n",
        service.display(),
        hello.display()
    ))
}

/// What `count` answers, one request after the other.
fn counts(server: &Server, requests: usize) -> Vec<String> {
    (0..requests)
        .map(|_| {
            let response = server.get("/service/count");
            assert_eq!(response.status, 200, "{}", response.text());
            response.text().trim().to_owned()
        })
        .collect()
}

#[test]
fn every_request_gets_a_fresh_instance_unless_the_route_asks_for_reuse() {
    let Some(fresh) = config("") else { return };
    let Some(reused) = config("instance_reuse = 3") else { return };
    let site = Site::new();
    let server = site.serve(&fresh, &[]);
    assert_eq!(counts(&server, 3), ["1", "1", "1"]);
    drop(server);

    // Three requests to one instance, then a new one.
    let server = site.serve(&reused, &[]);
    assert_eq!(counts(&server, 5), ["1", "2", "3", "1", "2"]);
    drop(server);

    // The flag sets the default; an entry's own value wins.
    let server = site.serve(&fresh, &["--instance-reuse", "2"]);
    assert_eq!(counts(&server, 3), ["1", "2", "1"]);
    drop(server);
    let server = site.serve(&reused, &["--instance-reuse", "2"]);
    assert_eq!(counts(&server, 4), ["1", "2", "3", "1"]);
}

#[test]
fn reused_instances_answer_400_requests_16_at_a_time() {
    let Some(config) = config("instance_reuse = 128\ninstance_concurrency = 16") else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);
    assert_eq!(server.get_concurrently("/service/", 16, 25, "hello from wagi\n"), 400);
}

#[test]
fn a_reused_instance_that_loops_is_dropped_at_the_deadline_while_health_answers() {
    let Some(config) = config("instance_reuse = 100\ntimeout = \"1s\"") else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);
    assert_eq!(counts(&server, 2), ["1", "2"]);
    let looping = server.get_in_background("/service/loop");
    assert_eq!(server.get("/healthz").status, 200);
    assert_eq!(server.get("/hello").status, 200);
    assert_eq!(looping.join().expect("the looping request"), 504);
    assert_eq!(counts(&server, 2), ["1", "2"], "the looping instance was dropped");
}

#[test]
fn a_reused_instance_that_traps_or_outgrows_its_memory_is_dropped() {
    let Some(config) = config("instance_reuse = 100\nmax_memory = \"32MiB\"") else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);
    assert_eq!(counts(&server, 2), ["1", "2"]);

    // A trap after the response started: the body is cut off and the instance goes.
    server.get_cut_off("/service/broken");
    assert_eq!(counts(&server, 1), ["1"], "the instance that trapped was dropped");

    // Memory grown by one request stays grown: max_memory bounds the instance.
    let grown = server.get("/service/grow?mib=8");
    assert_eq!((grown.status, grown.text()), (200, "8\n".to_owned()));
    assert_eq!(counts(&server, 1), ["3"]);
    assert_eq!(server.get("/service/grow?mib=64").status, 500);
    assert_eq!(counts(&server, 1), ["1"], "the instance past max_memory was dropped");
}

#[test]
fn a_spin_manifest_reuses_instances_when_the_flag_says_so() {
    let Some(service) = built("http-service", "http_service.wasm") else { return };
    let site = Site::new();
    site.write(
        "spin.toml",
        format!(
            "spin_manifest_version = 2\n\n[[trigger.http]]\nroute = \"/service/...\"\ncomponent = \"svc\"\n\n\
             [component.svc]\nsource = \"{}\"\n",
            service.display()
        ),
    );
    let args = ["--instance-reuse", "128", "--instance-concurrency", "16"];
    let server = Server::start_with_config(&site, &site.path("spin.toml"), &args, &[]);
    assert_eq!(counts(&server, 3), ["1", "2", "3"]);
}

#[test]
fn a_wasi_0_2_component_reuses_its_instances_one_request_at_a_time() {
    let extra = "instance_reuse = 3\ninstance_concurrency = 16\ntimeout = \"1s\"";
    let Some(config) = config_of("http-component", "http_component.wasm", extra) else { return };
    let site = Site::new();
    let server = site.serve(&config, &[]);
    assert_eq!(counts(&server, 4), ["1", "2", "3", "1"]);

    // A trap, or a loop past the deadline, drops the instance.
    assert_eq!(server.get("/service/fail").status, 500);
    assert_eq!(counts(&server, 1), ["1"], "the instance that trapped was dropped");
    let looping = server.get_in_background("/service/loop");
    assert_eq!(server.get("/healthz").status, 200);
    assert_eq!(looping.join().expect("the looping request"), 504);
    assert_eq!(counts(&server, 1), ["1"], "the looping instance was dropped");

    assert_eq!(server.get_concurrently("/service/", 16, 25, "hello from wagi\n"), 400);
}

#[test]
fn a_reused_instance_holds_its_slots_so_the_pool_never_runs_out() {
    let Some(service) = built("http-service", "http_service.wasm") else { return };
    let site = Site::new();
    let config = format!(
        "[[module]]\nroute = \"/reused/...\"\nmodule = \"{0}\"\ninstance_reuse = 100\ninstance_concurrency = 16\n\n\
         [[module]]\nroute = \"/fresh/...\"\nmodule = \"{0}\"\n",
        service.display()
    );
    // One instance of the component takes three slots, all there are.
    let server = site.serve(&config, &["--max-instances", "3", "--queue-timeout", "1s"]);
    let counts: Vec<String> = (0..2).map(|_| server.get("/reused/count").text()).collect();
    assert_eq!(counts, ["1\n", "2\n"], "one instance serves both, needing no slots of their own");

    // The idle instance still holds the pool's slots: a fresh instance waits for them and is
    // turned away with 503, where it would otherwise find the pool empty and fail with 500.
    let fresh = server.get("/fresh/");
    assert_eq!(fresh.status, 503, "{}", fresh.text());
    assert!(fresh.headers.iter().any(|(name, value)| name.eq_ignore_ascii_case("retry-after") && value == "1"));
    assert_eq!(server.get("/reused/count").text(), "3\n");
}
