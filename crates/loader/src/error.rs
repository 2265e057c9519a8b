//! Why a module could not be loaded ([`LoadError`]), and why a file is not a module
//! ([`NotWasm`]): the errors every source shares.

use std::path::PathBuf;

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
