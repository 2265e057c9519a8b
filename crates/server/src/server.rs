//! The listener: accepting connections, serving HTTP/1.1 and HTTP/2, and shutting down.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::admission::Admission;
use crate::routing::RoutingTable;
use crate::service::handle;

/// Server-wide settings.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// `host[:port]` used for `SERVER_NAME`/`SERVER_PORT` when a request names no host.
    pub default_host: String,
    /// Whether connections are TLS (sets `HTTPS` and the `https` scheme in `X_FULL_URL`).
    pub https: bool,
    /// How long in-flight requests may take to finish after shutdown begins.
    pub shutdown_timeout: Duration,
    /// Modules that may run at once; size it to the instance pool.
    pub max_running: usize,
    /// Requests that may wait for a free slot; beyond it they get 503.
    pub max_queued: usize,
    /// How long a request may wait for a slot before it gets 503.
    pub queue_timeout: Duration,
    /// Open connections accepted at once; further clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// How long a client may take to send its request headers.
    pub header_read_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            default_host: "localhost:3000".to_owned(),
            https: false,
            shutdown_timeout: Duration::from_secs(30),
            max_running: 256,
            max_queued: 1024,
            queue_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// What every connection shares.
#[derive(Debug)]
pub(crate) struct ServerState {
    table: Arc<RoutingTable>,
    pub(crate) options: ServerOptions,
    pub(crate) admission: Admission,
}

impl ServerState {
    pub(crate) fn table(&self) -> &RoutingTable {
        &self.table
    }
}

/// Serves `table` on `listener` until `shutdown` completes, then stops accepting and waits for
/// open connections to finish their requests (up to the shutdown timeout).
pub async fn serve(
    listener: TcpListener,
    table: Arc<RoutingTable>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let shutdown_timeout = options.shutdown_timeout;
    let connections = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let builder = http_builder(&options);
    let admission = Admission::new(options.max_running, options.max_queued, options.queue_timeout);
    let state = Arc::new(ServerState { table, options, admission });
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Running out of file descriptors must not end the server: back off and retry.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let service = service_fn(move |request| handle(request, Arc::clone(&state), remote));
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%remote, error = %error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(shutdown_timeout, graceful.shutdown()).await.is_err() {
        tracing::warn!(timeout = ?shutdown_timeout, "connections still open after the shutdown timeout");
    }
    Ok(())
}

/// HTTP/1.1 and HTTP/2 with bounded headers and a deadline for receiving them (slowloris).
fn http_builder(options: &ServerOptions) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    builder.http2().timer(TokioTimer::new()).max_header_list_size(MAX_HEADER_BYTES as u32);
    builder
}

/// Request headers accepted, in bytes and in count; beyond them the client gets 431.
const MAX_HEADER_BYTES: usize = 64 << 10;
const MAX_HEADERS: usize = 100;

/// The address a listener is bound to, for the "serving on" message.
pub fn local_url(addr: SocketAddr, https: bool) -> String {
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{addr}")
}
