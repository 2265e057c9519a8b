//! Spin application manifests: `examples/spin/spin.toml`, a WAGI module and a `wasi:http`
//! component side by side, served as Spin serves them, and `wagi check` of it; a spin-sdk 7
//! application; and the Spin interfaces wagi refuses.

use std::process::{Command, Stdio};
use std::sync::mpsc;

use crate::examples::{root, skipped};
use crate::support::{Server, Site, TIMEOUT, fixture_text};

#[test]
fn a_spin_manifest_serves_a_wagi_module_and_a_wasi_http_component_side_by_side() {
    if skipped().iter().any(|name| name == "http-component") {
        return;
    }
    let manifest = root().join("examples/spin/spin.toml");
    let site = Site::new();
    let server = Server::start_with_config(&site, &manifest, &[], &[]);

    // The WAGI executor: argv from the template, the CGI environment and the component's own
    // variable.
    let env = server.get("/spin/env/some/path?a=1");
    assert_eq!(env.status, 200, "{}", env.text());
    let text = env.text();
    for line in [
        "argv[0] = /spin/env/some/path\n",
        "argv[1] = a=1\n",
        "argv[2] = from-spin\n",
        "GREETING=hello from spin.toml\n",
        "SCRIPT_NAME=/spin/env\n",
        "PATH_INFO=/some/path\n",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }

    // The HTTP executor: the request with Spin's headers under the base, its own environment,
    // and its files: globs and a mapped directory, without what `exclude_files` leaves out.
    let request = server.get("/spin/component/request");
    assert_eq!(request.status, 200, "{}", request.text());
    let text = request.text();
    for line in [
        "spin-matched-route: /spin/component/...\n",
        "spin-component-route: /spin/component\n",
        "spin-path-info: /request\n",
        "GREETING=hello from a component of spin.toml\n",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    // A `:name` segment matches one segment, and the component gets what it matched.
    let user = server.get("/spin/users/42/request");
    assert_eq!(user.status, 200, "{}", user.text());
    for line in ["spin-path-match-id: 42\n", "spin-matched-route: /spin/users/:id/...\n", "spin-path-info: /request\n"]
    {
        assert!(user.text().contains(line), "no {line:?} in\n{}", user.text());
    }
    assert_eq!(server.get("/spin/users//request").status, 404, "a `:name` segment is never empty");

    let file = |path: &str| server.get(&format!("/spin/component/file?path={path}"));
    let hello = file("/static/hello.txt");
    assert_eq!((hello.status, hello.text()), (200, "hello from a Spin component's files\n".to_owned()));
    assert_eq!(file("/data/greeting.txt").text(), hello.text(), "a file mapped to another path");
    assert_eq!(file("/static/draft.txt").status, 404, "exclude_files leaves it out");
    assert_eq!(file("/spin.toml").status, 404, "only the files named are there");
}

#[test]
fn wagi_check_and_pull_accept_a_spin_manifest_and_name_what_it_does_not_support() {
    let manifest = root().join("examples/spin/spin.toml");
    let cache = Site::new();
    for command in ["check", "pull"] {
        let output = Command::new(env!("CARGO_BIN_EXE_wagi"))
            .args([command, "-c"])
            .arg(&manifest)
            .arg("--module-cache")
            .arg(cache.module_cache())
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !skipped().iter().any(|name| name == "http-component") {
            assert!(output.status.success(), "wagi {command}: {stderr}");
        }
    }

    let site = Site::new();
    site.write(
        "spin.toml",
        "spin_manifest_version = 2\n\n[[trigger.http]]\nroute = \"/a\"\ncomponent = \"a\"\n\n\
         [component.a]\nsource = \"a.wasm\"\nai_models = [\"llama2-chat\"]\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .args(["check", "-c"])
        .arg(site.path("spin.toml"))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("spin.toml:9:1: component `a`: `ai_models`: wagi does not support AI models"), "{stderr}");
}

/// `openssl s_server -WWW` on a free loopback port: a real HTTPS server for the files in `dir`,
/// stopped when dropped.
struct HttpsFiles {
    port: u16,
    child: std::process::Child,
}

impl HttpsFiles {
    fn start(dir: &std::path::Path, cert: &std::path::Path, key: &std::path::Path) -> Self {
        let port = crate::registry::free_port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept", &format!("127.0.0.1:{port}"), "-cert"])
            .arg(cert)
            .arg("-key")
            .arg(key)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run openssl s_server");
        let server = Self { port, child };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("openssl s_server did not listen on port {port}");
    }
}

impl Drop for HttpsFiles {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_source_given_by_url_is_fetched_over_https_checked_and_kept_in_the_cache() {
    let site = Site::new();
    let key = rcgen::KeyPair::generate().expect("generate a key");
    let cert = crate::tls::certificate(&key);
    let cert_path = site.write("cert.pem", &cert);
    let key_path = site.write("key.pem", key.serialize_pem());
    let hello = wat::parse_file(root().join("examples/hello.wat")).expect("hello.wat");
    site.write("www/hello.wasm", &hello);
    let files = HttpsFiles::start(&site.path("www"), &cert_path, &key_path);
    let manifest = |digest: &str| {
        format!(
            "spin_manifest_version = 2\n\n[[trigger.http]]\nroute = \"/hello\"\ncomponent = \"hello\"\n\
             executor = {{ type = \"wagi\" }}\n\n[component.hello]\n\
             source = {{ url = \"https://localhost:{}/hello.wasm\", digest = \"{digest}\" }}\n",
            files.port
        )
    };
    let trust = [("SSL_CERT_FILE", cert_path.to_str().expect("path"))];

    // Content that does not match the digest is refused.
    let wrong = format!("sha256:{}", crate::support::sha256_hex(b"something else"));
    site.write("wrong.toml", manifest(&wrong));
    let check = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .args(["check", "-c"])
        .arg(site.path("wrong.toml"))
        .arg("--module-cache")
        .arg(site.module_cache())
        .env("SSL_CERT_FILE", &cert_path)
        .output()
        .expect("run wagi check");
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success() && stderr.contains("does not match its digest"), "{stderr}");

    let right = format!("sha256:{}", crate::support::sha256_hex(&hello));
    site.write("spin.toml", manifest(&right));
    let server = Server::start_with_config(&site, &site.path("spin.toml"), &[], &trust);
    assert_eq!(server.get("/hello").text(), "hello from wagi\n");
    drop(server);

    // With the HTTPS server gone, a restart takes the module from the cache, offline even.
    drop(files);
    let server = Server::start_with_config(&site, &site.path("spin.toml"), &["--offline"], &trust);
    assert_eq!(server.get("/hello").text(), "hello from wagi\n");
}

#[test]
fn a_reload_of_a_spin_manifest_stages_changed_files_anew() {
    let Some(component) = (!skipped().iter().any(|name| name == "http-component"))
        .then(|| root().join("target/examples/http_component.wasm"))
    else {
        return;
    };
    let site = Site::new();
    site.write("static/page.txt", "first");
    site.write(
        "spin.toml",
        format!(
            "spin_manifest_version = 2\n\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"c\"\n\n\
             [component.c]\nsource = \"{}\"\nfiles = [\"static/*\"]\n",
            component.display()
        ),
    );
    let server = Server::start_with_config(&site, &site.path("spin.toml"), &[], &[]);
    assert_eq!(server.get("/file?path=/static/page.txt").text(), "first");

    // The reload copies the changed file into a directory of its own, which the new table mounts.
    site.write("static/page.txt", "second, and longer");
    server.signal("HUP");
    server.wait_line("Reloaded");
    assert_eq!(server.get("/file?path=/static/page.txt").text(), "second, and longer");
}

#[test]
fn wagi_check_refuses_a_files_destination_that_climbs_out_and_writes_nothing() {
    let site = Site::new();
    site.write("app/dump.wat", fixture_text("dump.wat"));
    site.write("app/page.txt", "a page");
    site.write(
        "app/spin.toml",
        "spin_manifest_version = 2\n\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"c\"\n\
         executor = { type = \"wagi\" }\n\n[component.c]\nsource = \"dump.wat\"\n\
         files = [{ source = \"page.txt\", destination = \"/../../../x.txt\" }]\n",
    );
    let child = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .args(["check", "-c"])
        .arg(site.path("app/spin.toml"))
        .arg("--module-cache")
        .arg(site.module_cache())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    let pid = child.id();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    let Ok(output) = receiver.recv_timeout(TIMEOUT) else {
        let _ = Command::new("kill").args(["-s", "KILL", &pid.to_string()]).status();
        panic!("`wagi check` did not exit within {TIMEOUT:?}");
    };
    let output = output.expect("wait for wagi");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let status = output.status;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "spin.toml:10:47: component `c`: `destination` `/../../../x.txt` climbs out with `..`: \
             a destination must be inside the component's `/`"
        ),
        "{stderr}"
    );
    // From the staging directory `cache/files/.staging-PID/`, the destination is the site's root.
    assert!(!site.path("x.txt").exists(), "staging wrote outside the module cache");
}

/// A Spin 4 application built with spin-sdk 7 (`#[http_service]`, a WASI 0.3 component) runs
/// from its own `spin.toml`, unchanged.
#[test]
fn a_spin_sdk_7_http_service_runs_from_its_spin_toml() {
    if skipped().iter().any(|name| name == "spin-hello") {
        return;
    }
    let site = Site::new();
    let server = Server::start_with_config(&site, &root().join("examples/spin-hello/spin.toml"), &[], &[]);
    for path in ["/", "/any/path?x=1"] {
        let response = server.get(path);
        assert_eq!((response.status, response.text()), (200, "hello from wagi\n".to_owned()), "{path}");
    }
}

/// A component that imports one of Spin's own interfaces is refused when it is linked, naming the
/// interface, instead of failing its requests later.
#[test]
fn a_component_importing_a_spin_interface_is_refused_naming_it() {
    let site = Site::new();
    site.write(
        "llm.wat",
        r#"(component
  (import "fermyon:spin/llm@2.0.0" (instance (export "get" (func (param "key" string) (result string)))))
  (core module $m (func (export "run") (result i32) (i32.const 0)))
  (core instance $i (instantiate $m))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $r (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $r)))"#,
    );
    site.write(
        "spin.toml",
        "spin_manifest_version = 2\n\n[[trigger.http]]\nroute = \"/...\"\ncomponent = \"db\"\n\n[component.db]\nsource = \"llm.wat\"\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .args(["check", "-c"])
        .arg(site.path("spin.toml"))
        .arg("--module-cache")
        .arg(site.module_cache())
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`fermyon:spin/llm@2.0.0`, a Spin interface wagi does not provide"), "{stderr}");
}
