//! HTTPS with a generated certificate: a real rustls client, HTTP/1.1 and HTTP/2 chosen by
//! ALPN, every key format, and clear errors for keys that cannot be used.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::cli::check;
use crate::support::{Server, Site};

/// A self-signed certificate for `localhost` and `127.0.0.1`, signed with `key`.
pub(crate) fn certificate(key: &rcgen::KeyPair) -> String {
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("certificate parameters");
    params.self_signed(key).expect("sign the certificate").pem()
}

/// Runs `openssl` to convert or generate a key; the output file's PEM text.
fn openssl(site: &Site, args: &[&str], out: &str) -> String {
    let status = Command::new("openssl").args(args).current_dir(site.dir.path()).status().expect("run openssl");
    assert!(status.success(), "openssl {args:?}");
    std::fs::read_to_string(site.path(out)).expect("openssl output")
}

/// What a client saw: the protocol ALPN chose, the HTTP version, status and body.
pub(crate) struct Answer {
    pub(crate) alpn: Option<Vec<u8>>,
    pub(crate) version: http::Version,
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// GET `path` over TLS, trusting only `ca_pem`, offering `alpn`.
pub(crate) fn https_get(addr: SocketAddr, ca_pem: &str, alpn: &[&[u8]], path: &str) -> Answer {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA PEM")).expect("trust the CA");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let server_name = ServerName::try_from("localhost").expect("server name");
        let tls = connector.connect(server_name, tcp).await.expect("TLS handshake");
        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        let io = TokioIo::new(tls);
        let request = http::Request::get(format!("https://localhost:{}{path}", addr.port()))
            .header(http::header::HOST, format!("localhost:{}", addr.port()))
            .body(Empty::<Bytes>::new())
            .expect("request");
        let response = if alpn.as_deref() == Some(b"h2") {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.expect("h2 handshake");
            tokio::spawn(connection);
            sender.send_request(request).await.expect("h2 response")
        } else {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.expect("h1 handshake");
            tokio::spawn(connection);
            sender.send_request(request).await.expect("h1 response")
        };
        let (version, status) = (response.version(), response.status().as_u16());
        let body = response.into_body().collect().await.expect("body").to_bytes();
        Answer { alpn, version, status, body: String::from_utf8_lossy(&body).into_owned() }
    })
}

fn serve_tls(site: &Site, cert: &str, key: &str) -> Server {
    site.fixture("dump.wat");
    site.write("modules.toml", "[[module]]\nroute = \"/dump\"\nmodule = \"dump.wat\"\n");
    serve_with(site, cert, key)
}

/// Serves the site's `modules.toml` over HTTPS with a new self-signed certificate for
/// `localhost`: the server, and the certificate to trust.
pub(crate) fn serve_https(site: &Site) -> (Server, String) {
    let key = rcgen::KeyPair::generate().expect("generate a key");
    let cert = certificate(&key);
    (serve_with(site, &cert, &key.serialize_pem()), cert)
}

/// Serves the site's `modules.toml` over HTTPS with `cert` and `key`.
fn serve_with(site: &Site, cert: &str, key: &str) -> Server {
    site.write("cert.pem", cert);
    site.write("key.pem", key);
    let (cert, key) = (path(site, "cert.pem"), path(site, "key.pem"));
    Server::start(site, &["--tls-cert", &cert, "--tls-key", &key], &[])
}

fn path(site: &Site, name: &str) -> String {
    let path: PathBuf = site.path(name);
    path.display().to_string()
}

#[test]
fn https_serves_http1_and_http2_by_alpn_and_tells_the_module() {
    let site = Site::new();
    let key = rcgen::KeyPair::generate().expect("generate a key");
    let cert = certificate(&key);
    let server = serve_tls(&site, &cert, &key.serialize_pem());

    let h2 = https_get(server.addr, &cert, &[b"h2", b"http/1.1"], "/dump?q=1");
    assert_eq!(h2.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!((h2.version, h2.status), (http::Version::HTTP_2, 200), "{}", h2.body);
    assert!(h2.body.contains("env=HTTPS=on\n"), "{}", h2.body);
    assert!(h2.body.contains("env=SERVER_PROTOCOL=HTTP/2.0\n"), "{}", h2.body);
    let full_url = format!("env=X_FULL_URL=https://localhost:{}/dump?q=1\n", server.addr.port());
    assert!(h2.body.contains(&full_url), "{}", h2.body);

    let h1 = https_get(server.addr, &cert, &[b"http/1.1"], "/dump");
    assert_eq!(h1.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!((h1.version, h1.status), (http::Version::HTTP_11, 200), "{}", h1.body);
    assert!(h1.body.contains("env=HTTPS=on\n"), "{}", h1.body);

    // A client that offers no ALPN at all still gets HTTP/1.1.
    let plain = https_get(server.addr, &cert, &[], "/healthz");
    assert_eq!((plain.alpn, plain.status, plain.body.as_str()), (None, 200, "OK"));
}

#[test]
fn keys_in_pkcs8_sec1_and_pkcs1_pem_all_work() {
    // PKCS#8 and SEC1: one P-256 key in both encodings.
    let site = Site::new();
    let ec = rcgen::KeyPair::generate().expect("generate a key");
    let ec_cert = certificate(&ec);
    site.write("ec8.pem", ec.serialize_pem());
    let sec1 = openssl(&site, &["ec", "-in", "ec8.pem", "-out", "sec1.pem"], "sec1.pem");
    assert!(sec1.contains("BEGIN EC PRIVATE KEY"), "{sec1}");
    // PKCS#1: an RSA key, converted to the traditional encoding.
    openssl(
        &site,
        &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa8.pem"],
        "rsa8.pem",
    );
    let rsa = rcgen::KeyPair::from_pem(&std::fs::read_to_string(site.path("rsa8.pem")).expect("rsa key"))
        .expect("load the RSA key");
    let rsa_cert = certificate(&rsa);
    let pkcs1 = openssl(&site, &["rsa", "-in", "rsa8.pem", "-traditional", "-out", "rsa1.pem"], "rsa1.pem");
    assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"), "{pkcs1}");

    for (name, cert, key) in
        [("PKCS#8", &ec_cert, ec.serialize_pem()), ("SEC1", &ec_cert, sec1), ("PKCS#1", &rsa_cert, pkcs1)]
    {
        let site = Site::new();
        let server = serve_tls(&site, cert, &key);
        let answer = https_get(server.addr, cert, &[b"h2"], "/healthz");
        assert_eq!((answer.status, answer.body.as_str()), (200, "OK"), "{name}");
    }
}

#[test]
fn a_key_that_does_not_match_or_cannot_be_read_is_a_startup_error() {
    let site = Site::new();
    site.write("hello.wat", "(module (func (export \"_start\")))");
    site.write("modules.toml", "[[module]]\nroute = \"/\"\nmodule = \"hello.wat\"\n");
    let key = rcgen::KeyPair::generate().expect("generate a key");
    site.write("cert.pem", certificate(&key));
    site.write("other.pem", rcgen::KeyPair::generate().expect("generate a key").serialize_pem());
    site.write("garbage.pem", "not a key\n");
    let args = |key: &str| {
        ["-c", "modules.toml", "-l", "127.0.0.1:0", "--tls-cert", "cert.pem", "--tls-key", key].map(str::to_owned)
    };
    check("tls_wrong_key", &site, &args("other.pem").each_ref().map(String::as_str));
    check("tls_unreadable_key", &site, &args("garbage.pem").each_ref().map(String::as_str));
    check("tls_missing_cert", &site, &["-c", "modules.toml", "--tls-cert", "none.pem", "--tls-key", "other.pem"]);
}

#[test]
fn wagi_check_reads_the_tls_pair_and_says_how_to_decrypt_a_key() {
    let site = Site::new();
    site.write("hello.wat", "(module (func (export \"_start\")))");
    site.write("modules.toml", "[[module]]\nroute = \"/\"\nmodule = \"hello.wat\"\n");
    let key = rcgen::KeyPair::generate().expect("generate a key");
    site.write("cert.pem", certificate(&key));
    site.write("key.pem", key.serialize_pem());
    openssl(
        &site,
        &["pkcs8", "-topk8", "-in", "key.pem", "-out", "encrypted.pem", "-passout", "pass:secret"],
        "encrypted.pem",
    );
    let args = |key: &'static str| ["check", "-c", "modules.toml", "--tls-cert", "cert.pem", "--tls-key", key];
    check("check_tls_missing_key", &site, &args("none.pem"));
    check("check_tls_encrypted_key", &site, &args("encrypted.pem"));
}
