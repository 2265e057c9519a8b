//! Bindles: served from the `bindle` crate's own server (the workspace's test-support binary
//! `wagi-bindle-test-server`) and from a standalone bindle directory, with identical results.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use crate::support::{Server, Site, TIMEOUT, entry, fixture_text, sha256_hex};

const ID: &str = "example.com/site/1.0.0";

/// A running Bindle server seeded with standalone bindles; stopped by its process id on drop.
struct BindleServer {
    child: Child,
    /// The base URL, including `/v1`.
    url: String,
    _data: tempfile::TempDir,
}

impl BindleServer {
    /// Starts the server and pushes (signed) each bindle `ids` names from `standalone`.
    fn start(standalone: &Path, ids: &[&str]) -> Self {
        let binary = test_server_binary();
        let data = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(&binary)
            .arg(data.path())
            .arg(standalone)
            .args(ids)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("Serving ") {
                    let _ = sender.send(url.to_owned());
                }
            }
        });
        let Ok(url) = receiver.recv_timeout(TIMEOUT) else {
            let _ = child.kill();
            let status = child.wait().expect("wait");
            panic!("the bindle test server printed no URL ({status})");
        };
        Self { child, url, _data: data }
    }
}

impl Drop for BindleServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test-support binary sits beside the test executable's `deps` directory once
/// `cargo build -p wagi-bindle-test-server` (run by `cargo xtask ci`) has built it.
fn test_server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(Path::parent).expect("target directory");
    let binary = dir.join("wagi-bindle-test-server");
    assert!(binary.exists(), "{} is missing: run `cargo build -p wagi-bindle-test-server`", binary.display());
    binary
}

/// Writes a standalone bindle into `dir`: the invoice and each parcel under its sha256.
fn write_standalone(dir: &Path, id: &str, invoice: &str, parcels: &[&[u8]]) {
    let bindle = dir.join(sha256_hex(id.as_bytes()));
    std::fs::create_dir_all(bindle.join("parcels")).expect("create bindle dirs");
    std::fs::write(bindle.join("invoice.toml"), invoice).expect("write invoice");
    for parcel in parcels {
        std::fs::write(bindle.join("parcels").join(format!("{}.dat", sha256_hex(parcel))), parcel)
            .expect("write parcel");
    }
}

fn parcel(name: &str, media_type: &str, bytes: &[u8], wagi: &str, conditions: &str) -> String {
    format!(
        "[[parcel]]\n[parcel.label]\nname = \"{name}\"\nmediaType = \"{media_type}\"\nsize = {}\nsha256 = \"{}\"\n\
         [parcel.label.feature.wagi]\n{wagi}\n{conditions}\n",
        bytes.len(),
        sha256_hex(bytes)
    )
}

/// A bindle with two handlers: `/hello` (a printer) and `/files` (reads the file its query
/// names from `/`), which requires the `files` group holding one asset.
struct SiteBindle {
    invoice: String,
    hello: Vec<u8>,
    reader: Vec<u8>,
    asset: Vec<u8>,
}

fn site_bindle() -> SiteBindle {
    let hello = crate::registry::module_saying("hello from a bindle");
    let reader = wat::parse_str(fixture_text("volume.wat")).expect("valid WAT");
    let asset = b"an asset from the bindle\n".to_vec();
    let invoice = [
        "bindleVersion = \"1.0.0\"\n[bindle]\nname = \"example.com/site\"\nversion = \"1.0.0\"\n[[group]]\nname = \"files\"\n".to_owned(),
        parcel("hello.wasm", "application/wasm", &hello, "route = \"/hello\"", ""),
        parcel(
            "reader.wasm",
            "application/wasm",
            &reader,
            "route = \"/files\"\nargv = \"${SCRIPT_NAME} ${ARGS}\"",
            "[parcel.conditions]\nrequires = [\"files\"]",
        ),
        parcel("static/asset.txt", "text/plain", &asset, "file = \"true\"", "[parcel.conditions]\nmemberOf = [\"files\"]"),
    ]
    .concat();
    SiteBindle { invoice, hello, reader, asset }
}

fn assert_site(server: &Server) {
    let response = server.get("/hello");
    assert_eq!((response.status, response.text()), (200, "hello from a bindle".to_owned()));
    let response = server.get("/files?static/asset.txt");
    assert_eq!((response.status, response.text()), (200, "an asset from the bindle\n".to_owned()));
}

#[test]
fn a_bindle_serves_its_handlers_and_assets_from_a_server_and_from_a_directory() {
    let site = Site::new();
    let bindle = site_bindle();
    let standalone = site.path("bindles");
    write_standalone(&standalone, ID, &bindle.invoice, &[&bindle.hello, &bindle.reader, &bindle.asset]);

    let server = BindleServer::start(&standalone, &[ID]);
    assert_site(&Server::start_source(&site, &["-b", ID, "--bindle-url", &server.url], &[]));

    let fresh = Site::new();
    let standalone = standalone.display().to_string();
    assert_site(&Server::start_source(&fresh, &["-b", ID, "--bindle-path", &standalone], &[]));
}

#[test]
fn a_bindle_module_in_modules_toml_works_and_pull_warms_the_cache_so_no_server_is_needed() {
    let site = Site::new();
    let bindle = site_bindle();
    let standalone = site.path("bindles");
    write_standalone(&standalone, ID, &bindle.invoice, &[&bindle.hello, &bindle.reader, &bindle.asset]);
    let mut server = BindleServer::start(&standalone, &[ID]);
    site.write(
        "modules.toml",
        format!("{}bindle_server = \"{}\"\n", entry("/first", &format!("bindle:{ID}")), server.url),
    );
    let response = Server::start(&site, &[], &[]).get("/first");
    assert_eq!((response.status, response.text()), (200, "hello from a bindle".to_owned()));
    let pulled = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .args(["pull", "-b", ID, "--bindle-url", &server.url, "--module-cache"])
        .arg(site.path("cache"))
        .output()
        .expect("run wagi pull");
    assert!(pulled.status.success(), "{}", String::from_utf8_lossy(&pulled.stderr));

    let _ = server.child.kill();
    let _ = server.child.wait();
    assert_site(&Server::start_source(&site, &["-b", ID, "--bindle-url", &server.url], &[]));
}

#[test]
fn a_missing_parcel_or_bindle_is_a_clear_error() {
    let site = Site::new();
    let bindle = site_bindle();
    let standalone = site.path("bindles");
    write_standalone(&standalone, ID, &bindle.invoice, &[&bindle.hello, &bindle.reader]);
    let dir = standalone.display().to_string();
    let run = |id: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_wagi"))
            .args(["check", "-b", id, "--bindle-path", &dir, "--module-cache"])
            .arg(site.path("cache"))
            .arg("--log-dir")
            .arg(site.path("logs"))
            .output()
            .expect("run wagi check");
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = run(ID);
    let expected = format!("bindle `{ID}` is missing parcel `static/asset.txt` (sha256 {})", sha256_hex(&bindle.asset));
    assert!(stderr.contains(&expected), "{stderr}");
    let stderr = run("example.com/other/1.0.0");
    assert!(stderr.contains(&format!("bindle `example.com/other/1.0.0` was not found at {dir}")), "{stderr}");
}
