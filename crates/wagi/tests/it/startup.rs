//! Startup: compiled modules are kept on disk and reused by the next start.

use std::process::Command;

use crate::support::{Server, Site, Then, entry, printer};

/// Runs `wagi <command>` on the site's modules.toml and cache with debug logging; its stdout and
/// stderr.
fn run(site: &Site, command: &str) -> (String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .args([command, "-c"])
        .arg(site.path("modules.toml"))
        .arg("--module-cache")
        .arg(site.path("cache"))
        .arg("--log-dir")
        .arg(site.path("logs"))
        .env("RUST_LOG", "wagi=debug")
        .output()
        .expect("run wagi");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn check_with_debug_log(site: &Site) -> String {
    run(site, "check").1
}

fn pull(site: &Site) -> String {
    run(site, "pull").0
}

#[test]
fn a_second_start_loads_compiled_modules_from_the_cache() {
    let site = Site::new();
    site.write("a.wat", printer(b"Content-Type: text/plain\n\na", Then::Return));
    site.write("b.wat", printer(b"Content-Type: text/plain\n\nb", Then::Return));
    site.write("modules.toml", [entry("/a", "a.wat"), entry("/b", "b.wat"), entry("/b2", "b.wat")].concat());

    let first = check_with_debug_log(&site);
    assert_eq!(first.matches("origin=Compiled").count(), 2, "{first}");
    let artifacts = std::fs::read_dir(site.path("cache/compiled")).expect("artifact dir").count();
    assert_eq!(artifacts, 2, "one artifact per distinct module");

    let second = check_with_debug_log(&site);
    assert_eq!(second.matches("origin=Cache").count(), 2, "{second}");
    assert_eq!(second.matches("origin=Compiled").count(), 0, "{second}");
}

#[test]
fn pull_warms_the_cache_so_serving_compiles_nothing() {
    let site = Site::new();
    site.write("a.wat", printer(b"Content-Type: text/plain\n\na", Then::Return));
    site.write("modules.toml", [entry("/a", "a.wat"), entry("/a2", "a.wat")].concat());

    let first = pull(&site);
    assert_eq!(first.matches("\tcompiled\t").count(), 1, "{first}");
    assert!(first.ends_with(&format!("1 modules in {}\n", site.path("cache").display())), "{first}");
    let second = pull(&site);
    assert_eq!(second.matches("\tcached\t").count(), 1, "{second}");

    let server = Server::start(&site, &["--metrics-listen", "127.0.0.1:0", "--access-log", "off"], &[]);
    let metrics = crate::observability::scrape(&server);
    assert!(metrics.contains("wagi_artifact_cache_total{outcome=\"hit\"} 1\n"), "{metrics}");
    assert!(!metrics.contains("outcome=\"miss\""), "{metrics}");
}

#[test]
fn a_module_file_that_is_not_wasm_is_refused_without_quoting_it() {
    let site = Site::new();
    site.write("secret.env", "API_TOKEN=hunter2-in-a-file\n");
    let mut modules = entry("/file", "secret.env");
    // wagi's own environment, as a module path pointed at it would read.
    let environ = std::path::Path::new("/proc/self/environ");
    if environ.exists() {
        modules.push_str(&entry("/environ", &environ.display().to_string()));
    }
    site.write("modules.toml", modules);
    let output = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .args(["check", "-c"])
        .arg(site.path("modules.toml"))
        .arg("--module-cache")
        .arg(site.path("cache"))
        .env("WAGI_TEST_SECRET", "hunter2-in-the-environment")
        .output()
        .expect("run wagi");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "not WebAssembly: expected a binary module or WebAssembly text; the text does not parse at line 1, column 1"
        ),
        "{stderr}"
    );
}
