//! The `wagi` binary: parses the command line, loads the configuration and serves it.

mod cli;
mod config_source;
mod failure;
mod lifecycle;
mod run;
mod startup;
mod stores;
mod total_memory;

/// Every request allocates and frees many small objects across the tokio workers; jemalloc's
/// per-thread caches cut the allocator's share of the CPU, which glibc's malloc made about a
/// fifth of the server's time (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;
use wagi_server::{AccessLog, LogFormat, Metrics, Routes, Services, Tls};

use crate::cli::{Cli, Command, LogFormatArg, ServeArgs, SourceArgs};
use crate::failure::{ConfigError, UsageError};
use crate::lifecycle::Signals;
use crate::startup::Startup;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && !no_color())
        .init();
    // Loading, reloads, signals and accepting run here; connections are served on threads of
    // their own (see `wagi_server::serve`).
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Check(source)) => check(*source).await,
            Some(Command::Pull(source)) => pull(*source).await,
            Some(Command::Run(args)) => run::run(*args).await,
            Some(Command::Completions { shell }) => {
                clap_complete::generate(
                    shell,
                    &mut <Cli as clap::CommandFactory>::command(),
                    "wagi",
                    &mut std::io::stdout(),
                );
                Ok(())
            }
            None => serve(cli.serve).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if let Some(ConfigError(diagnostics)) = error.downcast_ref::<ConfigError>() {
                for diagnostic in &diagnostics.0 {
                    eprintln!("error: {diagnostic}");
                }
                ExitCode::from(2)
            } else if let Some(UsageError(message)) = error.downcast_ref::<UsageError>() {
                eprintln!("error: {message}");
                ExitCode::from(2)
            } else {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        }
    }
}

async fn check(args: SourceArgs) -> Result<()> {
    let (source, settings) = args.split();
    let (startup, config) = Startup::new(&source, settings, Arc::new(Metrics::new()), None).await?;
    let globals = source.globals(&config)?;
    let loaded = startup.load(config, &globals).await?;
    let mut out = std::io::stdout().lock();
    for (route, entrypoint, module) in &loaded.summary {
        writeln!(out, "{route}\t{entrypoint}\t{module}")?;
    }
    Ok(())
}

async fn pull(args: SourceArgs) -> Result<()> {
    let (source, settings) = args.split();
    let (startup, config) = Startup::new(&source, settings, Arc::new(Metrics::new()), None).await?;
    let pulled = startup.pull(&config, std::io::stderr().is_terminal()).await?;
    let mut out = std::io::stdout().lock();
    for (module, digest, origin) in &pulled {
        writeln!(out, "{digest}\t{origin}\t{module}")?;
    }
    writeln!(out, "{} modules in {}", pulled.len(), startup.cache_dir().display())?;
    Ok(())
}

/// Binds the listeners, serves `/healthz` (not ready yet) while the modules load, then serves
/// them, reloading on request, until SIGTERM or SIGINT.
async fn serve(args: ServeArgs) -> Result<()> {
    if args.cache.is_some() {
        tracing::warn!("`--cache` is accepted for compatibility and has no effect");
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(Tls::load(cert, key).map_err(|e| failure::usage(&e.to_string()))?)),
        _ => None,
    };
    let access_log = access_log(&args)?;
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
    let listener = bind(args.listen)?;
    let addr = listener.local_addr().context("cannot read the listening address")?;
    let metrics_listener = match args.metrics_listen {
        Some(metrics_addr) => Some(bind(metrics_addr)?),
        None => None,
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
    let https = tls.is_some();
    let server = tokio::spawn(wagi_server::serve(listener, services, options, shutdown.clone().cancelled_owned()));
    if let Some(listener) = metrics_listener {
        let metrics_addr = listener.local_addr().context("cannot read the metrics address")?;
        announce(&format!("Metrics: serving on http://{metrics_addr}/metrics"));
        tokio::spawn(wagi_server::serve_metrics(listener, Arc::clone(&metrics), shutdown.clone().cancelled_owned()));
    }
    announce(&format!("Listening on {} while the modules load", wagi_server::local_url(addr, https)));
    announce(&startup.total_memory_line());
    let (reload_requests, reload_queue) = mpsc::channel(1);
    tokio::spawn(signals.run(shutdown.clone(), reload_requests.clone()));

    let globals = source.globals(&config)?;
    let loaded = startup.load(config, &globals).await?;
    routes.install(loaded.table);
    announce(&format!("Ready: serving on {}", wagi_server::local_url(addr, https)));
    tracing::info!(pooling = startup.is_pooling(), "serving");
    if args.watch {
        tokio::spawn(lifecycle::watch_files(source.watched_files(), reload_requests));
    }
    let reloader = lifecycle::Reloader { source, startup, routes, tls, metrics };
    tokio::spawn(reloader.run(reload_queue));
    server.await.context("the server task failed")??;
    Ok(())
}

/// Connections the kernel holds until wagi accepts them (it caps this at `net.core.somaxconn`).
/// Past it, a client's connection attempt is dropped and retried a second or more later; the
/// usual 128 overflowed when 512 clients connected at once.
const LISTEN_BACKLOG: u32 = 1024;

fn bind(addr: SocketAddr) -> Result<TcpListener> {
    let listen = || {
        let socket = if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }?;
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(LISTEN_BACKLOG)
    };
    listen().with_context(|| format!("cannot listen on `{addr}`"))
}

/// Whether `NO_COLOR` asks for output without colour: set and not empty, as no-color.org says.
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}

/// A line on stdout for whoever started wagi (scripts and tests wait for these).
fn announce(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn access_log(args: &ServeArgs) -> Result<Option<AccessLog>> {
    let format = match args.log_format {
        LogFormatArg::Common => LogFormat::Common,
        LogFormatArg::Json => LogFormat::Json,
    };
    let out: Box<dyn Write + Send> = match args.access_log.as_str() {
        "off" => return Ok(None),
        "-" => Box::new(std::io::stdout()),
        path => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| failure::usage(&format!("cannot open the access log `{path}`: {error}")))?,
        ),
    };
    Ok(Some(AccessLog::new(format, out)))
}
