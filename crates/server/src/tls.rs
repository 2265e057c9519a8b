//! TLS: the certificate chain and key from PEM files, offered with ALPN `h2` and `http/1.1`, and
//! replaceable while serving.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file cannot be read or holds no PEM certificate.
    #[error("cannot read a certificate chain from `{path}`: {reason}")]
    Certificate {
        /// The file named by `--tls-cert`.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The key file cannot be read or holds no PKCS#8, PKCS#1 or SEC1 PEM key.
    #[error("cannot read a private key from `{path}`: {reason}")]
    Key {
        /// The file named by `--tls-key`.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The key is of an unsupported kind or does not belong to the certificate.
    #[error("the key `{key}` cannot be used with the certificate `{cert}`: {reason}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls reported.
        reason: String,
    },
}

/// The server's TLS settings, read from a certificate file and a key file.
#[derive(Debug)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    config: ArcSwap<ServerConfig>,
}

impl Tls {
    /// Reads and checks the certificate chain and its key.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let config = server_config(cert, key)?;
        Ok(Self { cert: cert.to_owned(), key: key.to_owned(), config: ArcSwap::from_pointee(config) })
    }

    /// Reads both files again; new connections use them from now on. On error the previous
    /// certificate stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.cert, &self.key)?;
        self.config.store(Arc::new(config));
        Ok(())
    }

    /// An acceptor with the current certificate.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.load_full())
    }
}

/// Whether the PEM file at `path` holds an encrypted key (PKCS#8 `ENCRYPTED PRIVATE KEY`, or
/// OpenSSL's legacy `Proc-Type: 4,ENCRYPTED` header).
fn is_encrypted(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|pem| {
        pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") || pem.contains("Proc-Type: 4,ENCRYPTED")
    })
}

fn server_config(cert_path: &Path, key_path: &Path) -> Result<ServerConfig, TlsError> {
    let cert_error = |reason: String| TlsError::Certificate { path: cert_path.to_owned(), reason };
    let chain = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| cert_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_error("no `CERTIFICATE` PEM section".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
        let reason = if is_encrypted(key_path) {
            format!(
                "the key is encrypted; decrypt it with `openssl pkey -in {} -out KEY.pem` and give that file",
                key_path.display()
            )
        } else {
            e.to_string()
        };
        TlsError::Key { path: key_path.to_owned(), reason }
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|error| {
            let reason = match error {
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                    "the key does not belong to the certificate".to_owned()
                }
                other => other.to_string(),
            };
            TlsError::Mismatch { cert: cert_path.to_owned(), key: key_path.to_owned(), reason }
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
