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
        source: NotWasm,
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

/// Why a file is not a module: where its text goes wrong and how, never what it says. A module
/// path pointed at a secret (`/proc/self/environ`, a key file) must not put the secret in a
/// message, and a parser's error quotes the offending line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotWasm {
    /// Neither the wasm magic number nor UTF-8 text.
    #[error("not WebAssembly: expected a binary module or WebAssembly text; the file is not UTF-8 text")]
    NotText,
    /// UTF-8 text that is not a WAT module or component.
    #[error("not WebAssembly: expected a binary module or WebAssembly text; {problem} at line {line}, column {column}")]
    InvalidText {
        /// What kind of problem.
        problem: TextProblem,
        /// The 1-based line.
        line: usize,
        /// The 1-based column, in bytes.
        column: usize,
    },
}

/// What is wrong with a text that is not WAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TextProblem {
    /// A character or token the WAT syntax does not have.
    Token,
    /// Valid tokens that do not make a module or component.
    Syntax,
}

impl std::fmt::Display for TextProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Token => "the text has a token WebAssembly text cannot contain",
            Self::Syntax => "the text does not parse",
        })
    }
}

/// Converts WAT text to binary wasm; binary input is returned as it is.
fn to_binary(bytes: Vec<u8>) -> Result<Vec<u8>, NotWasm> {
    if bytes.starts_with(WASM_MAGIC) {
        return Ok(bytes);
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| NotWasm::NotText)?;
    parse_wat(text).map_err(|error| {
        // Only the position and the kind are kept: the error's message may quote the text.
        let (line, column) = error.span().linecol_in(text);
        let problem = if error.lex_error().is_some() { TextProblem::Token } else { TextProblem::Syntax };
        NotWasm::InvalidText { problem, line: line + 1, column: column + 1 }
    })
}

fn parse_wat(text: &str) -> Result<Vec<u8>, wast::Error> {
    let buffer = wast::parser::ParseBuffer::new(text)?;
    wast::parser::parse::<wast::Wat<'_>>(&buffer)?.encode()
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

    fn check_not_wasm(content: &[u8], expected: &str) {
        let error = to_binary(content.to_vec()).expect_err("not a module");
        assert_eq!(
            error.to_string(),
            format!("not WebAssembly: expected a binary module or WebAssembly text; {expected}")
        );
    }

    // See: issue 22, item 10.
    #[test]
    fn not_wasm_errors_give_a_position_and_never_the_text() {
        check_not_wasm(
            b"SECRET_TOKEN=hunter2\0PATH=/bin\0",
            "the text has a token WebAssembly text cannot contain at line 1, column 21",
        );
        check_not_wasm(b"SECRET_TOKEN=hunter2\n", "the text does not parse at line 1, column 1");
        check_not_wasm(b"(module\n  (func $f (oops_hunter2)))", "the text does not parse at line 2, column 13");
        check_not_wasm(
            b"(module \"hunter2",
            "the text has a token WebAssembly text cannot contain at line 1, column 17",
        );
        check_not_wasm(b"\xffhunter2", "the file is not UTF-8 text");
        check_not_wasm(b"(module (func $hunter2) (func $hunter2))", "the text does not parse at line 1, column 31");
    }
}
