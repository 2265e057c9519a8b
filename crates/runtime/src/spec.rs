//! What a route's handler is prepared from: everything about its module that does not depend
//! on the request.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wagi_outbound_http::OutboundPolicy;
use wagi_platform::Platform;

/// Everything about one route's module that does not depend on the request.
#[derive(Clone, Debug)]
pub struct HandlerSpec {
    /// A name for logs, usually the module reference.
    pub name: String,
    /// The route the handler answers, as written; labels its outbound requests' metrics.
    pub route: Arc<str>,
    /// The export called per request.
    pub entrypoint: String,
    /// The `argv` template, if any.
    pub argv_template: Option<String>,
    /// Configured variables, in increasing precedence (later pairs win).
    pub environment: Vec<(String, String)>,
    /// Directories the module may see.
    pub volumes: Vec<VolumeSpec>,
    /// Where the module may send HTTP requests.
    pub outbound: OutboundPolicy,
    /// Limits for each request.
    pub limits: Limits,
    /// When responses start streaming.
    pub response: ResponseOptions,
    /// Where the module's stderr is appended; `None` discards it.
    pub stderr_log: Option<PathBuf>,
    /// How many requests one instance serves; by default each gets a fresh one.
    pub reuse: Reuse,
    /// What a component may use besides WASI and HTTP: its variables and key-value stores.
    pub platform: Arc<Platform>,
}

impl HandlerSpec {
    /// A spec named `name` with the defaults of a `modules.toml` entry: the `_start`
    /// entrypoint, no argv template, configured variables or volumes, no outbound HTTP, the
    /// default limits, no stderr log.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            route: Arc::from(""),
            entrypoint: wagi_config::DEFAULT_ENTRYPOINT.to_owned(),
            argv_template: None,
            environment: Vec::new(),
            volumes: Vec::new(),
            outbound: OutboundPolicy::default(),
            limits: Limits::default(),
            response: ResponseOptions::default(),
            stderr_log: None,
            reuse: Reuse::default(),
            platform: Arc::default(),
        }
    }
}

/// How many requests one instance of a `wasi:http` component serves. CGI programs get a fresh
/// instance for every request whatever this says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reuse {
    /// Requests one instance serves before it is dropped; 1 gives every request its own.
    pub requests: u32,
    /// Requests one instance serves at once; a WASI 0.2 instance serves one at a time.
    pub concurrency: u32,
}

impl Reuse {
    /// Whether every request gets a fresh instance.
    pub fn is_fresh(&self) -> bool {
        self.requests <= 1
    }
}

impl Default for Reuse {
    fn default() -> Self {
        Self { requests: 1, concurrency: 1 }
    }
}

/// A host directory made visible to a module.
#[derive(Clone, Debug)]
pub struct VolumeSpec {
    /// The path the module sees.
    pub guest_path: String,
    /// The host directory (absolute).
    pub host_path: PathBuf,
    /// Whether the module may only read.
    pub read_only: bool,
}

/// Per-request limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Wall-clock time for one request, instantiation included.
    pub timeout: Duration,
    /// Linear memory per instance, in bytes.
    pub max_memory: u64,
    /// Bytes of stdout kept; past it the request fails.
    pub max_output: usize,
    /// Bytes of stderr kept per request; the rest is dropped.
    pub max_stderr: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(30), max_memory: 256 << 20, max_output: 16 << 20, max_stderr: 1 << 20 }
    }
}

/// When a response stops being held and starts streaming.
#[derive(Clone, Copy, Debug)]
pub struct ResponseOptions {
    /// Body bytes held before the response starts.
    pub hold: usize,
    /// How long a response is held after its header block is complete.
    pub flush_interval: Duration,
}

impl Default for ResponseOptions {
    fn default() -> Self {
        Self { hold: 64 << 10, flush_interval: Duration::from_millis(20) }
    }
}
