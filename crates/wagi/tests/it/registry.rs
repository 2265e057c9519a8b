//! A real OCI registry for tests: the CNCF distribution server (`docker-registry`) on a free
//! loopback port with its storage in a temporary directory, and pushes with `oci-client`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use crate::support::TIMEOUT;

/// The layer media type of `wasm-to-oci` and the original WAGI.
pub(crate) const WASM_TO_OCI: (&str, &str) =
    ("application/vnd.wasm.content.layer.v1+wasm", "application/vnd.wasm.config.v1+json");
/// The CNCF wasm OCI artifact layout (`wkg`, `oci-wasm`).
pub(crate) const CNCF_WASM: (&str, &str) = ("application/wasm", "application/vnd.wasm.config.v0+json");

const BINARY: &str = "/usr/bin/docker-registry";

/// A running registry; stopped (by its process id) when dropped.
pub(crate) struct Registry {
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    pub(crate) host: String,
    /// The temporary directory holding the configuration and the storage.
    dir: tempfile::TempDir,
    credentials: Option<(String, String)>,
}

impl Registry {
    /// An anonymous registry.
    pub(crate) fn start() -> Self {
        Self::launch(None)
    }

    /// A registry that demands basic authentication as `user` with `password`.
    pub(crate) fn start_with_auth(user: &str, password: &str) -> Self {
        Self::launch(Some((user.to_owned(), password.to_owned())))
    }

    fn launch(credentials: Option<(String, String)>) -> Self {
        assert!(Path::new(BINARY).exists(), "{BINARY} is missing: apt-get install docker-registry apache2-utils");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut auth = String::new();
        if let Some((user, password)) = &credentials {
            let output = Command::new("htpasswd").args(["-Bbn", user, password]).output().expect("run htpasswd");
            assert!(output.status.success(), "htpasswd failed");
            std::fs::write(dir.path().join("htpasswd"), output.stdout).expect("write htpasswd");
            auth =
                format!("auth:\n  htpasswd: {{realm: wagi-test, path: {}}}\n", dir.path().join("htpasswd").display());
        }
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: {host}\n{auth}",
            dir.path().join("data").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).expect("write registry config");
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let registry = Self { child: Some(child), host, dir, credentials };
        registry.wait_ready();
        registry
    }

    /// Waits until `/v2/` answers (200, or 401 with authentication).
    fn wait_ready(&self) {
        let started = Instant::now();
        while started.elapsed() < TIMEOUT {
            if let Ok(mut stream) = TcpStream::connect(&self.host) {
                let request = format!("GET /v2/ HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.host);
                let mut response = String::new();
                let answered =
                    stream.write_all(request.as_bytes()).is_ok() && stream.read_to_string(&mut response).is_ok();
                if answered && (response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.1 401")) {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry on {} did not answer within {TIMEOUT:?}", self.host);
    }

    /// `oci://127.0.0.1:PORT/<repository>`, for modules.toml.
    pub(crate) fn url(&self, repository: &str) -> String {
        format!("oci://{}/{repository}", self.host)
    }

    /// Pushes `wasm` as `repository:tag` in the given (layer, config) media type layout and
    /// returns the manifest digest.
    pub(crate) fn push(
        &self,
        repository: &str,
        tag: &str,
        wasm: &[u8],
        (layer_type, config_type): (&str, &str),
    ) -> String {
        let reference = Reference::with_tag(self.host.clone(), repository.to_owned(), tag.to_owned());
        let layers = vec![ImageLayer::new(wasm.to_vec(), layer_type.to_owned(), None)];
        let config = Config::new(b"{}".to_vec(), config_type.to_owned(), None);
        let manifest = OciImageManifest::build(&layers, &config, None);
        let auth = match &self.credentials {
            Some((user, password)) => RegistryAuth::Basic(user.clone(), password.clone()),
            None => RegistryAuth::Anonymous,
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::new(ClientConfig { protocol: ClientProtocol::Http, ..ClientConfig::default() });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let pushed = runtime
            .block_on(client.push(&reference, &layers, config, &auth, Some(manifest)))
            .expect("push to the test registry");
        let digest = pushed.manifest_url.rsplit('/').next().unwrap_or_default().to_owned();
        assert!(digest.starts_with("sha256:"), "manifest url {}", pushed.manifest_url);
        digest
    }

    /// The file the registry stores a blob in.
    pub(crate) fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        self.dir.path().join(format!("data/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]))
    }

    /// Stops the registry now.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// Binary wasm of a module printing `Content-Type: text/plain`, a blank line and `body`.
pub(crate) fn module_saying(body: &str) -> Vec<u8> {
    let text =
        crate::support::printer(format!("Content-Type: text/plain\n\n{body}").as_bytes(), crate::support::Then::Return);
    wat::parse_str(text).expect("valid WAT")
}
