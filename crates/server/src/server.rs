//! The listener: accepting connections, serving HTTP/1.1 and HTTP/2, and shutting down.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

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
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self { default_host: "localhost:3000".to_owned(), https: false, shutdown_timeout: Duration::from_secs(30) }
    }
}

/// What every connection shares.
#[derive(Debug)]
pub(crate) struct ServerState {
    table: Arc<RoutingTable>,
    pub(crate) options: ServerOptions,
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
    let state = Arc::new(ServerState { table, options });
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
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
        });
    }
    drop(listener);
    if tokio::time::timeout(shutdown_timeout, graceful.shutdown()).await.is_err() {
        tracing::warn!(timeout = ?shutdown_timeout, "connections still open after the shutdown timeout");
    }
    Ok(())
}

/// The address a listener is bound to, for the "serving on" message.
pub fn local_url(addr: SocketAddr, https: bool) -> String {
    let scheme = if https { "https" } else { "http" };
    format!("{scheme}://{addr}")
}
