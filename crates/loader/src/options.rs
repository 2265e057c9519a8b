//! How remote sources are reached: the options of the loader and of each kind of source.

use std::path::PathBuf;
use std::time::Duration;

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

impl LoaderOptions {
    /// What every remote source takes of these options.
    pub(crate) fn reach(&self) -> Reach {
        Reach { offline: self.offline, timeout: self.timeout }
    }
}

/// What every remote source needs, whatever it fetches from: whether it may fetch at all, and
/// how long a server may take. Each source also takes its own options, and only those.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reach {
    /// Serve only what the cache holds.
    pub(crate) offline: bool,
    /// How long connecting to a server, and each read from it, may take.
    pub(crate) timeout: Duration,
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

/// Where a bindle is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindleSource {
    /// A Bindle server's base URL, including `/v1`.
    Server(String),
    /// A directory of standalone bindles.
    Directory(PathBuf),
}
