//! What the server's connections and requests share: the settings ([`ServerOptions`]), the state
//! of the whole server ([`ServerState`]) and of one connection ([`Connection`]).

use std::sync::Arc;
use std::time::Duration;

use crate::access::AccessLog;
use crate::admission::Admission;
use crate::idle::Activity;
use crate::metrics::Metrics;
use crate::routing::Routes;

/// Server-wide settings.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// `host[:port]` used for `SERVER_NAME`/`SERVER_PORT` when a request names no host.
    pub default_host: String,
    /// How long in-flight requests may take to finish after shutdown begins.
    pub shutdown_timeout: Duration,
    /// Modules that may run at once; size it to the instance pool.
    pub max_running: usize,
    /// Requests that may wait for a free slot; beyond it they get 503.
    pub max_queued: usize,
    /// How long a request may wait for a slot before it gets 503.
    pub queue_timeout: Duration,
    /// Open connections at once. When a client connects beyond it, the connection idle longest
    /// is closed to make room; when none is idle, the client waits in the kernel's backlog.
    pub max_connections: usize,
    /// How long a client may take, from accept, to complete the TLS handshake and send its first
    /// request's headers; and how long it may take to send the headers of later requests once
    /// their first byte has arrived.
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in flight between requests. An HTTP/2
    /// client that sends nothing for this long is pinged, and closed if it does not answer within
    /// `header_read_timeout`.
    pub keep_alive_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            default_host: "localhost:3000".to_owned(),
            shutdown_timeout: Duration::from_secs(30),
            max_running: 256,
            max_queued: 1024,
            queue_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(60),
        }
    }
}

/// What every connection shares.
#[derive(Debug)]
pub(crate) struct ServerState {
    pub(crate) routes: Arc<Routes>,
    pub(crate) options: ServerOptions,
    pub(crate) admission: Arc<Admission>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) access_log: Option<Arc<AccessLog>>,
    pub(crate) https: bool,
    /// The route label of requests no configured route answered (empty), shared, not rebuilt.
    pub(crate) unrouted: Arc<str>,
}

impl ServerOptions {
    /// The admission these options describe, counted in `metrics`: one for the server's requests
    /// and the runtime's reused instances together.
    pub fn admission(&self, metrics: &Metrics) -> Arc<Admission> {
        let gauges = (metrics.running.clone(), metrics.queued.clone());
        let rejections = metrics.rejections.clone();
        Arc::new(Admission::new(self.max_running, self.max_queued, self.queue_timeout, gauges, rejections))
    }
}

impl ServerState {
    pub(crate) fn new(
        routes: Arc<Routes>,
        options: ServerOptions,
        admission: Arc<Admission>,
        metrics: Arc<Metrics>,
        access_log: Option<Arc<AccessLog>>,
        https: bool,
    ) -> Self {
        Self { routes, options, admission, metrics, access_log, https, unrouted: Arc::from("") }
    }
}

/// What the requests of one connection share. Each request holds this per-connection handle
/// rather than the server's state itself, so threads serving different connections do not
/// contend for one reference count on every request.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) state: Arc<ServerState>,
    /// The client's IP address, formatted once here, not for each request's log line and
    /// environment.
    pub(crate) remote_ip: Arc<str>,
    /// The client's port.
    pub(crate) remote_port: u16,
    /// Whether a request is in flight, and since when none has been.
    pub(crate) activity: Arc<Activity>,
}
