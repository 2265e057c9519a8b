//! `wagi` serving, and the serve flags checked as serving would use them: the TLS pair, the
//! listen and metrics addresses and the access log. `wagi check` checks the same flags without
//! serving, as `nginx -t` does.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wagi_server::{AccessLog, LogFormat, Metrics, Routes, Services, Tls};

use crate::cli::{LogFormatArg, ServeArgs};
use crate::failure;
use crate::lifecycle::{self, Signals, Stop};
use crate::log_file::{self, LogFile};
use crate::server_log::announce;
use crate::startup::Startup;

/// The serve flags that name something outside the configuration, opened and checked.
pub(crate) struct ServeFlags {
    tls: Option<Arc<Tls>>,
    access_log: Option<Arc<AccessLog>>,
    log_file: Option<LogFile>,
}

impl ServeFlags {
    /// Reads the TLS pair, checks that the listen and metrics addresses resolve and differ, and
    /// opens the access log. Each failure is a usage error naming the flag's file or address.
    pub(crate) async fn check(args: &ServeArgs) -> Result<Self> {
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => {
                Some(Arc::new(Tls::load(cert, key).map_err(|e| failure::usage(&e.to_string()))?))
            }
            _ => None,
        };
        let listen = args.listen.resolve().await?;
        if let Some(metrics_listen) = &args.metrics_listen {
            let metrics = metrics_listen.resolve().await?;
            if let Some(shared) = metrics.iter().find(|addr| addr.port() != 0 && listen.contains(addr)) {
                return Err(failure::usage(&format!(
                    "`--metrics-listen {metrics_listen}` and `--listen {}` both name `{shared}`; give metrics a port of its own",
                    args.listen
                )));
            }
        }
        let (access_log, log_file) = access_log(args)?;
        Ok(Self { tls, access_log, log_file })
    }
}

/// Binds the listeners, serves `/healthz` (not ready yet) while the modules load, then serves
/// them, reloading on request, until SIGTERM or SIGINT.
pub(crate) async fn serve(args: ServeArgs) -> Result<()> {
    if args.cache.is_some() {
        tracing::warn!("`--cache` is accepted for compatibility and has no effect");
    }
    let ServeFlags { tls, access_log, log_file } = ServeFlags::check(&args).await?;
    let https = tls.is_some();
    let signals = Signals::install()?;
    let metrics = Arc::new(Metrics::new());
    metrics.set_build(env!("CARGO_PKG_VERSION"), env!("WAGI_WASMTIME_VERSION"), env!("WAGI_COMMIT"));
    let options = wagi_server::ServerOptions {
        default_host: args.hostname.clone(),
        shutdown_timeout: args.shutdown_timeout,
        max_running: usize::try_from(args.source.limits.max_instances).unwrap_or(usize::MAX),
        max_queued: args.max_queued,
        queue_timeout: args.queue_timeout,
        max_connections: args.max_connections,
        header_read_timeout: args.header_read_timeout,
        keep_alive_timeout: args.keep_alive_timeout,
    };
    let admission = options.admission(&metrics);
    let (source, settings) = args.source.split();
    let (startup, config) = Startup::new(&source, settings, Arc::clone(&metrics), Some(admission.clone())).await?;
    let listeners = args.listen.bind().await?;
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<Result<_, _>>()
        .context("cannot read the listening address")?;
    let urls: Vec<String> = addrs.iter().map(|addr| wagi_server::local_url(*addr, https)).collect();
    let urls = urls.join(" and ");
    let metrics_listeners = match &args.metrics_listen {
        Some(metrics_addr) => metrics_addr.bind().await?,
        None => Vec::new(),
    };

    let shutdown = CancellationToken::new();
    let routes = Arc::new(Routes::new());
    let services = Services {
        routes: Arc::clone(&routes),
        metrics: Arc::clone(&metrics),
        admission,
        access_log,
        tls: tls.clone(),
    };
    let server = tokio::spawn(wagi_server::serve(listeners, services, options, shutdown.clone().cancelled_owned()));
    for listener in metrics_listeners {
        let metrics_addr = listener.local_addr().context("cannot read the metrics address")?;
        announce(&format!("Metrics: serving on http://{metrics_addr}/metrics"));
        tokio::spawn(wagi_server::serve_metrics(listener, Arc::clone(&metrics), shutdown.clone().cancelled_owned()));
    }
    announce(&format!("Listening on {urls} while the modules load"));
    announce(&startup.total_memory_line());
    let (reload_requests, reload_queue) = mpsc::channel(1);
    let stop = Stop { token: shutdown.clone(), routes: Arc::clone(&routes), delay: args.shutdown_delay };
    tokio::spawn(signals.run(stop, reload_requests.clone(), log_file));

    let globals = source.globals(&config)?;
    let loaded = startup.load(config, &globals).await?;
    routes.install(loaded.table);
    announce(&format!("Ready: serving on {urls}"));
    tracing::info!(pooling = startup.is_pooling(), "serving");
    if args.watch {
        tokio::spawn(lifecycle::watch_files(source.watched_files(), reload_requests));
    }
    let reloader = lifecycle::Reloader { source, startup, routes, tls, metrics };
    tokio::spawn(reloader.run(reload_queue));
    server.await.context("the server task failed")??;
    Ok(())
}

/// The access log `--access-log` and `--log-format` ask for, and its file if it has one.
fn access_log(args: &ServeArgs) -> Result<(Option<Arc<AccessLog>>, Option<LogFile>)> {
    let format = match args.log_format {
        LogFormatArg::Common => LogFormat::Common,
        LogFormatArg::Combined => LogFormat::Combined,
        LogFormatArg::Json => LogFormat::Json,
    };
    let out: Box<dyn Write + Send> = match args.access_log.as_str() {
        "off" => return Ok((None, None)),
        "-" => Box::new(std::io::stdout()),
        path => Box::new(
            log_file::append(path.as_ref())
                .map_err(|error| failure::usage(&format!("cannot open the access log `{path}`: {error}")))?,
        ),
    };
    let log = Arc::new(AccessLog::new(format, out));
    let file = (args.access_log != "-").then(|| LogFile::new(args.access_log.as_ref(), Arc::clone(&log)));
    Ok((Some(log), file))
}
