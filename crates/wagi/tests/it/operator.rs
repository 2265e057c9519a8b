//! Running wagi the way operators run servers: flags from `WAGI_*` environment variables, the
//! configuration found when none is named (or a directory is), the last of a repeated flag
//! winning, `NO_COLOR`, and `--help` grouped under headings.

use crate::examples::root;
use crate::support::{Server, Site, entry};

/// `modules.toml` text serving `hello.wat` at `/hello`.
fn hello_toml() -> String {
    entry("/hello", &root().join("examples/hello.wat").display().to_string())
}

fn assert_serves_hello(server: &Server) {
    let hello = server.get("/hello");
    assert_eq!((hello.status, hello.text()), (200, "hello from wagi\n".to_owned()));
}

#[test]
fn with_no_config_wagi_serves_the_modules_toml_of_its_directory_on_wagi_listen() {
    let site = Site::new();
    site.write("modules.toml", hello_toml());
    let server = Server::start_bare(&site, &[], &[("WAGI_LISTEN", "127.0.0.1:0")]);
    assert_serves_hello(&server);
}

#[test]
fn with_no_config_and_no_modules_toml_wagi_serves_spin_toml() {
    let site = Site::new();
    site.write(
        "spin.toml",
        format!(
            "spin_manifest_version = 2\n\n[[trigger.http]]\nroute = \"/hello\"\ncomponent = \"hello\"\n\
             executor = {{ type = \"wagi\" }}\n\n[component.hello]\nsource = \"{}\"\n",
            root().join("examples/hello.wat").display()
        ),
    );
    let server = Server::start_bare(&site, &["-l", "127.0.0.1:0"], &[]);
    assert_serves_hello(&server);
}

#[test]
fn wagi_config_and_dash_c_take_a_file_or_a_directory() {
    let site = Site::new();
    site.write("app/modules.toml", hello_toml());
    let app = site.path("app").display().to_string();
    let file = site.path("app/modules.toml").display().to_string();
    for env in [("WAGI_CONFIG", app.as_str()), ("WAGI_CONFIG", file.as_str())] {
        let server = Server::start_bare(&site, &["-l", "127.0.0.1:0"], &[env]);
        assert_serves_hello(&server);
    }
    let server = Server::start_bare(&site, &["-l", "127.0.0.1:0", "-c", &app], &[]);
    assert_serves_hello(&server);
}

#[test]
fn the_last_of_a_repeated_flag_wins_over_earlier_ones_and_the_environment() {
    let site = Site::new();
    site.write("modules.toml", hello_toml());
    let server =
        Server::start_bare(&site, &["-l", "127.0.0.1:0", "-l", "127.0.0.2:0"], &[("WAGI_LISTEN", "127.0.0.3:0")]);
    assert_eq!(server.addr.ip().to_string(), "127.0.0.2");
    assert_serves_hello(&server);
}

#[test]
fn a_listen_address_may_name_a_host_and_is_served_on_what_it_resolves_to() {
    let site = Site::new();
    site.write("modules.toml", hello_toml());
    let server = Server::start_bare(&site, &["-l", "localhost:0"], &[]);
    assert!(server.addr.ip().is_loopback(), "{}", server.addr);
    assert_serves_hello(&server);
}

#[test]
fn wagi_check_warns_of_a_route_that_healthz_shadows() {
    let site = Site::new();
    site.write("modules.toml", entry("/healthz", &root().join("examples/hello.wat").display().to_string()));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wagi"))
        .args(["check", "-c"])
        .arg(site.path("modules.toml"))
        .arg("--module-cache")
        .arg(site.module_cache())
        .output()
        .expect("run wagi");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the route `/healthz` never sees a request for `/healthz`"), "{stderr}");
}

#[test]
fn no_color_keeps_escapes_out_of_the_log_on_a_terminal() {
    let site = Site::new();
    site.write("modules.toml", hello_toml());
    // `script` runs wagi on a terminal of its own, as a person would.
    let on_a_terminal = |no_color: &str| {
        let command = format!("{} check -c {}", env!("CARGO_BIN_EXE_wagi"), site.path("modules.toml").display());
        let output = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", no_color)
            .output()
            .expect("run script");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(on_a_terminal("").contains("\u{1b}["), "on a terminal, the log is coloured");
    let plain = on_a_terminal("1");
    assert!(plain.contains("DEBUG") && !plain.contains("\u{1b}["), "{plain}");
}

#[test]
fn help_groups_the_flags_under_headings_and_leaves_none_loose() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wagi")).arg("--help").output().expect("run wagi");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    let headings: Vec<&str> = help.lines().filter(|line| line.ends_with(':') && !line.starts_with(' ')).collect();
    for heading in [
        "Options:",
        "Sources:",
        "Environment and application data:",
        "Logs and metrics:",
        "Limits:",
        "Outbound HTTP:",
        "Serving:",
        "TLS:",
    ] {
        assert!(headings.contains(&heading), "no `{heading}` in {headings:?}");
    }
    // Under the plain `Options:` only help and version are left.
    let options: Vec<&str> = help
        .split("\nOptions:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .map(|block| block.lines().filter(|line| line.trim_start().starts_with('-')).collect())
        .unwrap_or_default();
    assert!(options.iter().all(|line| line.contains("--help") || line.contains("--version")), "{options:#?}");
    assert!(help.contains("cached on disk in the module cache"), "the --cache text");
}

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [("bash", "_wagi()"), ("zsh", "#compdef wagi"), ("fish", "complete -c wagi")] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_wagi"))
            .args(["completions", shell])
            .output()
            .expect("run wagi");
        assert!(output.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(script.contains(marker) && script.contains("listen"), "{shell}: {script:.200}");
    }
}
