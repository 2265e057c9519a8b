//! What a user sees when the configuration or the command line is wrong: one message per
//! problem naming the file and line (or the flag), and exit code 2. Expected output lives in
//! `tests/ui/<case>.stderr`; `UPDATE_EXPECT=1` rewrites it.

use std::path::Path;
use std::process::Command;

use crate::support::{Site, component};

pub(crate) fn check(case: &str, site: &Site, args: &[&str]) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_wagi")).args(args).current_dir(site.dir.path()).output().expect("run wagi");
    assert_eq!(output.status.code(), Some(2), "{case}: {}", String::from_utf8_lossy(&output.stderr));
    let site_dir = site.dir.path().display().to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).replace(&site_dir, "<site>");
    let expected_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui").join(format!("{case}.stderr"));
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_path, &stderr).expect("write expected");
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    assert_eq!(stderr, expected, "{case} (UPDATE_EXPECT=1 rewrites {})", expected_path.display());
}

fn site_with(toml: &str) -> Site {
    let site = Site::new();
    site.write("hello.wat", "(module (func (export \"_start\")))");
    site.write("modules.toml", toml);
    site
}

#[test]
fn typo_in_a_field() {
    let site = site_with("[[module]]\nroute = \"/hello\"\nmodule = \"hello.wat\"\nentrypiont = \"main\"\n");
    check("typo_field", &site, &["check", "-c", "modules.toml"]);
}

#[test]
fn duplicate_route() {
    let entry = "[[module]]\nroute = \"/hello\"\nmodule = \"hello.wat\"\n";
    let site = site_with(&format!("{entry}\n{entry}"));
    check("duplicate_route", &site, &["check", "-c", "modules.toml"]);
}

#[test]
fn missing_module_file() {
    let site = site_with("[[module]]\nroute = \"/hello\"\nmodule = \"missing.wasm\"\n");
    check("missing_module_file", &site, &["-c", "modules.toml", "-l", "127.0.0.1:0"]);
}

#[test]
fn malformed_env_flag() {
    let site = site_with("[[module]]\nroute = \"/hello\"\nmodule = \"hello.wat\"\n");
    check("malformed_env", &site, &["-c", "modules.toml", "-l", "127.0.0.1:0", "--env", "NOEQUALS"]);
}

#[test]
fn malformed_env_file() {
    let site = site_with("[[module]]\nroute = \"/hello\"\nmodule = \"hello.wat\"\n");
    site.write("vars.env", "GOOD=1\nthis is not a variable\n");
    check("malformed_env_file", &site, &["check", "-c", "modules.toml", "-l", "127.0.0.1:0", "--env-file", "vars.env"]);
}

#[test]
fn bad_module_sources() {
    let site = site_with(
        "[[module]]\nroute = \"/a\"\nmodule = \"oci://127.0.0.1:5000/Hello:1\"\n\
         [[module]]\nroute = \"/b\"\nmodule = \"bindle:hello\"\n\
         [[module]]\nroute = \"/c\"\nmodule = \"bindle:example.com/hello/1.0.0\"\n\
         [[module]]\nroute = \"/d\"\nmodule = \"https://example.com/hello.wasm\"\n",
    );
    check("bad_sources", &site, &["check", "-c", "modules.toml"]);
}

#[test]
fn bad_listen_address() {
    let site = site_with("[[module]]\nroute = \"/hello\"\nmodule = \"hello.wat\"\n");
    check("bad_listen", &site, &["-c", "modules.toml", "-l", "localhost"]);
}

#[test]
fn missing_config_file() {
    let site = Site::new();
    check("missing_config", &site, &["-c", "nope.toml", "-l", "127.0.0.1:0"]);
}

#[test]
fn invalid_environment_key() {
    let site = site_with("[[module]]\nroute = \"/hello\"\nmodule = \"hello.wat\"\nenvironment = { \"A B\" = \"x\" }\n");
    check("invalid_environment_key", &site, &["check", "-c", "modules.toml"]);
}

#[test]
fn an_entrypoint_on_a_component() {
    let site = site_with("[[module]]\nroute = \"/run\"\nmodule = \"run.wat\"\nentrypoint = \"main\"\n");
    site.write("run.wat", component(b"", "(i32.const 0)"));
    check("component_entrypoint", &site, &["check", "-c", "modules.toml"]);
}

#[test]
fn help_never_shows_secrets_from_the_environment() {
    let secrets = [
        ("BINDLE_HTTP_PASSWORD", "bindle-password-s3cr3t"),
        ("BINDLE_URL", "https://user:bindle-url-s3cr3t@bindle.example.com/v1"),
        ("WAGI_REGISTRY_PASSWORD", "registry-password-s3cr3t"),
    ];
    for args in [&["--help"][..], &["check", "--help"], &["pull", "--help"], &["run", "--help"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_wagi")).args(args).envs(secrets).output().expect("run wagi");
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("BINDLE_HTTP_PASSWORD") || args[0] == "run", "{args:?} lists the variable:\n{help}");
        assert!(!help.contains("s3cr3t"), "{args:?} shows a secret:\n{help}");
    }
}

/// `wagi check` tests the serve flags as serving would use them, as `nginx -t` does.
#[test]
fn check_tests_addresses_and_log_paths() {
    let site = site_with("[[module]]\nroute = \"/hello\"\nmodule = \"hello.wat\"\n");
    let same = ["check", "-c", "modules.toml", "-l", "127.0.0.1:9555", "--metrics-listen", "127.0.0.1:9555"];
    check("check_same_addresses", &site, &same);
    check("check_access_log", &site, &["check", "-c", "modules.toml", "--access-log", "missing/access.log"]);
}
