//! The listener: accepting connections, serving HTTP/1.1 and HTTP/2, and shutting down.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::task::Poll;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::access::AccessLog;
use crate::admission::Admission;
use crate::cores::Cores;
use crate::idle::{self, IdleLimits, OpenConnections};
use crate::metrics::Metrics;
use crate::routing::Routes;
use crate::service::handle;
use crate::state::{Connection, ServerOptions, ServerState};
use crate::tls::Tls;

/// What the server is made of besides its settings: the routes (swappable), the metrics it
/// updates, where it logs requests, and TLS.
#[derive(Debug)]
pub struct Services {
    /// The routing table; requests get 503 until one is installed.
    pub routes: Arc<Routes>,
    /// Counters and histograms updated by every request.
    pub metrics: Arc<Metrics>,
    /// The bound on instances running at once, shared with the runtime's reused instances
    /// (see [`ServerOptions::admission`](crate::ServerOptions::admission)).
    pub admission: Arc<Admission>,
    /// The access log; `None` logs nothing.
    pub access_log: Option<Arc<AccessLog>>,
    /// Serve HTTPS with this certificate; `None` serves plain HTTP.
    pub tls: Option<Arc<Tls>>,
}

/// Serves on `listeners` (every address `--listen` names) until `shutdown` completes, then stops
/// accepting and waits for open connections to finish their requests (up to the shutdown timeout).
///
/// Connections are accepted here and served on one thread per CPU, each connection on one
/// thread for its whole life; those threads stop when this returns.
pub async fn serve(
    listeners: Vec<TcpListener>,
    services: Services,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let shutdown_timeout = options.shutdown_timeout;
    let handshake_timeout = options.header_read_timeout;
    let idle_limits =
        IdleLimits { first_request: options.header_read_timeout, between_requests: options.keep_alive_timeout };
    let connections = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let open = Arc::new(OpenConnections::new());
    let builder = Arc::new(http_builder(&options));
    let tls = services.tls;
    let https = tls.is_some();
    let state = Arc::new(ServerState::new(
        services.routes,
        options,
        services.admission,
        services.metrics,
        services.access_log,
        https,
    ));
    let flusher = state.access_log.is_some().then(|| tokio::spawn(flush_access_log(Arc::downgrade(&state))));
    let graceful = GracefulShutdown::new();
    let cores = Cores::start()?;
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = accept(&listeners) => match accepted {
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
        let permit = match Arc::clone(&connections).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => match make_room(&connections, &open, &mut shutdown).await {
                Some(permit) => permit,
                None => break,
            },
        };
        let _ = stream.set_nodelay(true);
        // Handed to a serving thread, where the socket is registered with that thread's runtime.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(%remote, %error, "cannot hand the connection over");
                continue;
            }
        };
        let (activity, registration) = open.opened();
        let connection = Arc::new(Connection {
            state: Arc::clone(&state),
            remote_ip: Arc::from(remote.ip().to_string()),
            remote_port: remote.port(),
            activity: Arc::clone(&activity),
        });
        let service = service_fn(move |request| handle(request, Arc::clone(&connection)));
        let watcher = graceful.watcher();
        let builder = Arc::clone(&builder);
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        cores.spawn(async move {
            let stream = match TcpStream::from_std(stream) {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::debug!(%remote, %error, "cannot serve the connection");
                    return;
                }
            };
            let serve = async move {
                let served = match acceptor {
                    None => watcher.watch(builder.serve_connection_with_upgrades(TokioIo::new(stream), service)).await,
                    Some(acceptor) => match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            watcher.watch(builder.serve_connection_with_upgrades(TokioIo::new(stream), service)).await
                        }
                        Ok(Err(error)) => Err(error.into()),
                        Err(_) => Err("TLS handshake timed out".into()),
                    },
                };
                if let Err(error) = served {
                    tracing::debug!(%remote, error = %error, "connection ended with an error");
                }
            };
            // The connection runs in a task of its own on this thread, so that its watch is
            // polled only when its timer or an eviction wakes it, not at every read and write.
            // Aborting the task drops the connection, which closes it.
            let mut serving = tokio::spawn(serve);
            tokio::select! {
                _ = &mut serving => {}
                () = idle::watch(&activity, idle_limits) => {
                    serving.abort();
                    tracing::debug!(%remote, "closed a connection idle too long");
                }
            }
            drop((permit, registration));
        });
    }
    drop(listeners);
    if tokio::time::timeout(shutdown_timeout, graceful.shutdown()).await.is_err() {
        tracing::warn!(timeout = ?shutdown_timeout, "connections still open after the shutdown timeout");
    }
    if let Some(flusher) = flusher {
        flusher.abort();
    }
    if let Some(log) = &state.access_log {
        log.flush();
    }
    Ok(())
}

/// The next connection on any of `listeners`.
async fn accept(listeners: &[TcpListener]) -> std::io::Result<(TcpStream, SocketAddr)> {
    std::future::poll_fn(|cx| {
        for listener in listeners {
            if let Poll::Ready(accepted) = listener.poll_accept(cx) {
                return Poll::Ready(accepted);
            }
        }
        Poll::Pending
    })
    .await
}

/// Waits for room for one more connection at the cap, closing the connection idle longest to
/// make it; `None` when shutdown began meanwhile. A chosen connection that turned busy before it
/// noticed is spared, and another is chosen a little later.
async fn make_room(
    connections: &Arc<Semaphore>,
    open: &OpenConnections,
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> Option<tokio::sync::OwnedSemaphorePermit> {
    const RETRY: Duration = Duration::from_millis(50);
    loop {
        open.evict_idlest();
        tokio::select! {
            permit = Arc::clone(connections).acquire_owned() => return permit.ok(),
            () = tokio::time::sleep(RETRY) => {}
            () = shutdown.as_mut() => return None,
        }
    }
}

/// Writes out buffered access log lines regularly, so they appear even when traffic stops.
async fn flush_access_log(state: Weak<ServerState>) {
    let mut ticks = tokio::time::interval(AccessLog::FLUSH_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(state) = state.upgrade() else { return };
        if let Some(log) = &state.access_log {
            log.flush();
        }
    }
}

/// HTTP/1.1 and HTTP/2 with bounded headers and a deadline for receiving them (slowloris), and
/// HTTP/2 pings to clients that have gone silent.
fn http_builder(options: &ServerOptions) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32)
        .keep_alive_interval(options.keep_alive_timeout)
        .keep_alive_timeout(options.header_read_timeout);
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
