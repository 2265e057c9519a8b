//! The `wagi` binary: parses the command line, loads the configuration and serves it.

mod cli;
mod startup;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, ServeArgs};
use crate::startup::{ConfigError, UsageError};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    // Guests yield every epoch tick and are polled again at once, so a worker running busy
    // guests would look for new I/O only every 61 polls (tokio's default), which delays new
    // connections and `/healthz` by up to 61 ticks. Checking every 8 polls bounds that.
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().event_interval(8).build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Check(source)) => check(&source).await,
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

async fn check(source: &cli::SourceArgs) -> Result<()> {
    let loaded = startup::load(source).await?;
    let mut out = std::io::stdout().lock();
    for (route, entrypoint, module) in &loaded.summary {
        writeln!(out, "{route}\t{entrypoint}\t{module}")?;
    }
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<()> {
    if args.tls_cert.is_some() {
        return Err(startup::usage("TLS (`--tls-cert`/`--tls-key`) is not supported yet"));
    }
    if args.cache.is_some() {
        tracing::warn!("`--cache` is accepted for compatibility and has no effect");
    }
    let loaded = startup::load(&args.source).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on `{}`", args.listen))?;
    let addr = listener.local_addr().context("cannot read the listening address")?;
    let options = wagi_server::ServerOptions {
        default_host: args.hostname,
        https: false,
        shutdown_timeout: args.shutdown_timeout,
        max_running: usize::try_from(args.source.limits.max_instances).unwrap_or(usize::MAX),
        max_queued: args.max_queued,
        queue_timeout: args.queue_timeout,
        max_connections: args.max_connections,
        header_read_timeout: args.header_read_timeout,
    };
    println!("Ready: serving on {}", wagi_server::local_url(addr, options.https));
    std::io::stdout().flush().ok();
    tracing::info!(routes = loaded.table.routes().len(), pooling = loaded.runtime.is_pooling(), "serving");
    wagi_server::serve(listener, std::sync::Arc::new(loaded.table), options, shutdown_signal()).await?;
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                // Until reloading exists, SIGHUP must not end the server (its default action).
                let mut hangup = signal(SignalKind::hangup()).ok();
                loop {
                    tokio::select! {
                        _ = &mut interrupt => break,
                        _ = terminate.recv() => break,
                        Some(()) = async { hangup.as_mut()?.recv().await } => {
                            tracing::warn!("SIGHUP received; reloading is not supported yet, still serving");
                        }
                    }
                }
            }
            Err(_) => {
                let _ = (&mut interrupt).await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (&mut interrupt).await;
    }
    tracing::info!("shutting down");
}
