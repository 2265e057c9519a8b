//! Fetching module bytes from each kind of source.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wagi_config::{Invoice, ModuleRef, Parcel, WASM_MEDIA_TYPE};

use crate::bindle::BindleSource;
use crate::cache::ContentCache;
use crate::digest::Digest;

/// The bytes of one module, ready to compile.
#[derive(Clone, Debug)]
pub struct LoadedModule {
    /// Binary wasm.
    pub bytes: Arc<[u8]>,
    /// The sha256 of `bytes`.
    pub digest: Digest,
}

/// Why a module could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A local file could not be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The content is neither binary wasm nor valid WAT text.
    #[error("`{path}` is neither a wasm binary nor valid WAT text")]
    InvalidWat {
        /// The file.
        path: PathBuf,
        /// Where the text is wrong.
        #[source]
        source: wat::Error,
    },
    /// The registry wants credentials, or rejected the ones given.
    #[error(
        "registry `{registry}` refused access to `{reference}` (401 Unauthorized): pass `--registry-user` and \
         `--registry-password`, or log in with `docker login {registry}`"
    )]
    Unauthorized {
        /// The reference as written.
        reference: String,
        /// `host[:port]`.
        registry: String,
    },
    /// The registry does not have the repository, tag or digest.
    #[error("`{reference}` was not found in registry `{registry}` (404: no such repository, tag or digest)")]
    NotFound {
        /// The reference as written.
        reference: String,
        /// `host[:port]`.
        registry: String,
    },
    /// A registry or Bindle server could not be reached: unknown host, refused connection or
    /// timeout.
    #[error("cannot reach {server}")]
    Unreachable {
        /// Which server, e.g. ``registry `host:port` ``.
        server: String,
        /// What the connection attempt said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Fetched content does not hash to the digest that names it.
    #[error("`{reference}`: the content fetched does not match its digest {expected}; refusing to serve it ({detail})")]
    DigestMismatch {
        /// The reference as written.
        reference: String,
        /// The digest the content should have had.
        expected: String,
        /// What was received instead.
        detail: String,
    },
    /// The artifact has no layer with a wasm media type.
    #[error(
        "`{reference}` holds no wasm module: its layers are {found}; expected application/vnd.wasm.content.layer.v1+wasm \
         or application/wasm"
    )]
    UnsupportedMediaType {
        /// The reference as written.
        reference: String,
        /// The layer media types the manifest lists.
        found: String,
    },
    /// `--offline` was given and the module is not in the cache.
    #[error("`{reference}` is not in the module cache, and `--offline` forbids fetching it")]
    NotCached {
        /// The reference as written.
        reference: String,
    },
    /// The Bindle server wants credentials, or rejected the ones given.
    #[error(
        "Bindle server `{server}` refused access (401 Unauthorized): pass `--bindle-http-user` and \
         `--bindle-http-password`"
    )]
    BindleUnauthorized {
        /// The base URL.
        server: String,
    },
    /// The bindle does not exist at its source.
    #[error("bindle `{id}` was not found at {at}")]
    BindleNotFound {
        /// `name/version`.
        id: String,
        /// The server URL or standalone directory.
        at: String,
    },
    /// A parcel the invoice lists is not at the source.
    #[error("bindle `{id}` is missing parcel `{name}` (sha256 {sha256}) at {at}")]
    MissingParcel {
        /// `name/version`.
        id: String,
        /// The parcel's label name.
        name: String,
        /// The parcel's sha256.
        sha256: String,
        /// The server URL or file where it should be.
        at: String,
    },
    /// The invoice is not a valid WAGI bindle invoice.
    #[error("{0}")]
    Invoice(wagi_config::Diagnostics),
    /// Any other problem with a bindle.
    #[error("bindle `{id}`: {message}")]
    Bindle {
        /// `name/version` (or the URL asked for).
        id: String,
        /// What went wrong.
        message: String,
    },
    /// A request to a registry failed on the way (TLS, protocol, a broken connection).
    #[error("cannot pull `{reference}`")]
    Request {
        /// The reference as written.
        reference: String,
        /// What the HTTP client said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Any other failure a registry reported.
    #[error("cannot pull `{reference}`: {message}")]
    Registry {
        /// The reference as written.
        reference: String,
        /// What went wrong.
        message: String,
    },
    /// A module fetched by URL could not be had.
    #[error("cannot fetch `{url}`: {message}")]
    Url {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The module cache directory cannot be read or written.
    #[error("cannot use the module cache `{dir}`")]
    Cache {
        /// The cache directory.
        dir: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

/// How remote sources are reached.
#[derive(Clone, Debug)]
pub struct LoaderOptions {
    /// Serve only what the cache holds: resolve tags as last recorded, fetch nothing.
    pub offline: bool,
    /// How long connecting to a server, and each read from it, may take.
    pub timeout: Duration,
    /// OCI registries.
    pub registry: RegistryOptions,
    /// Bindle servers and directories.
    pub bindle: BindleOptions,
}

impl Default for LoaderOptions {
    fn default() -> Self {
        Self {
            offline: false,
            timeout: Duration::from_secs(30),
            registry: RegistryOptions::default(),
            bindle: BindleOptions::default(),
        }
    }
}

/// How OCI registries are reached.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// `host[:port]` of registries reached over plain HTTP; loopback registries always may be.
    pub insecure: Vec<String>,
    /// A user and password for every registry; without them the Docker configuration
    /// (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, and its credential helpers) is
    /// used, and anonymous access when it has nothing for the registry.
    pub credentials: Option<(String, String)>,
}

/// How bindles are reached.
#[derive(Clone, Debug, Default)]
pub struct BindleOptions {
    /// Where the parcels of the bindle served with `-b` come from.
    pub source: Option<BindleSource>,
    /// A user and password for Bindle servers (HTTP basic authentication).
    pub credentials: Option<(String, String)>,
    /// Accept any TLS certificate from Bindle servers.
    pub accept_invalid_certs: bool,
}

/// Loads modules from local files and, through its [`ContentCache`], from remote sources.
#[derive(Clone, Debug)]
pub struct Loader {
    cache: ContentCache,
    options: Arc<LoaderOptions>,
}

/// The first bytes of every binary wasm module.
const WASM_MAGIC: &[u8] = b"\0asm";

impl Loader {
    /// A loader whose remote fetches are cached in `cache`.
    pub fn new(cache: ContentCache, options: LoaderOptions) -> Self {
        Self { cache, options: Arc::new(options) }
    }

    /// The cache remote modules are kept in.
    pub fn cache(&self) -> &ContentCache {
        &self.cache
    }

    /// Loads the module `reference` names. Relative file paths must have been resolved already.
    pub async fn load(&self, reference: &ModuleRef) -> Result<LoadedModule, LoadError> {
        match reference {
            ModuleRef::File(path) => load_file(path).await,
            ModuleRef::Oci(reference) => {
                let bytes = crate::oci::fetch(reference, &self.cache, &self.options).await?;
                Ok(binary_module(bytes))
            }
            ModuleRef::Bindle { id, server } => {
                let server = server.clone().ok_or_else(|| LoadError::Bindle {
                    id: id.clone(),
                    message: "a `bindle:` module needs `bindle_server`".to_owned(),
                })?;
                let source = BindleSource::Server(server);
                let invoice = self.invoice(&source, id).await?;
                let parcel = invoice.first_module().ok_or_else(|| LoadError::Bindle {
                    id: id.clone(),
                    message: format!("the invoice has no global parcel of media type `{WASM_MEDIA_TYPE}`"),
                })?;
                Ok(binary_module(crate::bindle::parcel(&source, &parcel, &self.cache, &self.options).await?))
            }
            ModuleRef::Parcel(parcel) => {
                let source = self.options.bindle.source.as_ref().ok_or_else(|| LoadError::Bindle {
                    id: parcel.bindle.clone(),
                    message: "no bindle source was given".to_owned(),
                })?;
                Ok(binary_module(crate::bindle::parcel(source, parcel, &self.cache, &self.options).await?))
            }
            ModuleRef::Url { url, digest } => {
                Ok(binary_module(crate::url::fetch(url, digest, &self.cache, &self.options).await?))
            }
        }
    }

    /// Reads the invoice of bindle `id` from `source`.
    pub async fn invoice(&self, source: &BindleSource, id: &str) -> Result<Invoice, LoadError> {
        crate::bindle::invoice(source, id, &self.cache, &self.options).await
    }

    /// Fetches the asset parcels of the bindle served with `-b` into `dir`, each file at its
    /// label name.
    pub async fn place_assets(&self, assets: &[Parcel], dir: &Path) -> Result<(), LoadError> {
        let Some(source) = &self.options.bindle.source else { return Ok(()) };
        crate::bindle::place_assets(source, assets, dir, &self.cache, &self.options).await
    }
}

async fn load_file(path: &Path) -> Result<LoadedModule, LoadError> {
    let bytes = tokio::fs::read(path).await.map_err(|source| LoadError::Read { path: path.to_owned(), source })?;
    let bytes = to_binary(bytes).map_err(|source| LoadError::InvalidWat { path: path.to_owned(), source })?;
    Ok(binary_module(bytes))
}

fn binary_module(bytes: Vec<u8>) -> LoadedModule {
    let digest = Digest::of(&bytes);
    LoadedModule { bytes: bytes.into(), digest }
}

/// Converts WAT text to binary wasm; binary input is returned as it is.
fn to_binary(bytes: Vec<u8>) -> Result<Vec<u8>, wat::Error> {
    if bytes.starts_with(WASM_MAGIC) {
        return Ok(bytes);
    }
    wat::parse_bytes(&bytes).map(|wasm| wasm.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wat_is_recognised_by_content_and_binary_passes_through() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text_path = dir.path().join("module.wasm");
        std::fs::write(&text_path, "(module)").expect("write");
        let loader = Loader::new(ContentCache::new(dir.path().join("cache")), LoaderOptions::default());
        let from_text = loader.load(&ModuleRef::File(text_path)).await.expect("WAT loads");
        assert!(from_text.bytes.starts_with(WASM_MAGIC));
        assert_eq!(from_text.digest, Digest::of(&from_text.bytes));

        let binary_path = dir.path().join("module.wat");
        std::fs::write(&binary_path, &from_text.bytes).expect("write");
        let from_binary = loader.load(&ModuleRef::File(binary_path)).await.expect("binary loads");
        assert_eq!(from_binary.digest, from_text.digest);
    }

    #[tokio::test]
    async fn bad_sources_say_what_failed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let loader = Loader::new(ContentCache::new(dir.path()), LoaderOptions::default());
        let bad = dir.path().join("bad.wat");
        std::fs::write(&bad, "(module (func $f (oops)))").expect("write");
        let error = loader.load(&ModuleRef::File(bad)).await.expect_err("invalid WAT");
        assert!(matches!(error, LoadError::InvalidWat { .. }), "{error}");
    }
}
