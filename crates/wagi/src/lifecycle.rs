//! The server's life after startup: signals, watching the configuration, and reloading.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wagi_server::{Metrics, Routes, Tls};

use crate::config_source::ConfigSource;
use crate::failure::ConfigError;
use crate::log_file::LogFile;
use crate::server_log::announce;
use crate::startup::Startup;

/// The exit code after a second SIGINT or SIGTERM, as a shell gives a program that SIGINT ended.
const INTERRUPTED: i32 = 130;

/// SIGINT and SIGTERM (stop), SIGHUP (reload), SIGUSR1 (reopen the access log); installed
/// before loading so that a signal during startup is not fatal.
pub(crate) struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    user1: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn install() -> Result<Self> {
        #[cfg(unix)]
        {
            use anyhow::Context;
            use tokio::signal::unix::{SignalKind, signal};
            let terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
            let hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
            let user1 = signal(SignalKind::user_defined1()).context("cannot handle SIGUSR1")?;
            Ok(Self { terminate, hangup, user1 })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// On SIGINT or SIGTERM, stops as `stop` says; asks for a reload on each SIGHUP; reopens
    /// `log_file` on each SIGUSR1, as logrotate expects. A second SIGINT or SIGTERM during the
    /// shutdown exits at once, with code [`INTERRUPTED`].
    pub(crate) async fn run(mut self, stop: Stop, reload: mpsc::Sender<()>, log_file: Option<LogFile>) {
        let interrupt = tokio::signal::ctrl_c();
        tokio::pin!(interrupt);
        #[cfg(unix)]
        loop {
            tokio::select! {
                _ = &mut interrupt => break,
                _ = self.terminate.recv() => break,
                Some(()) = self.hangup.recv() => {
                    // A reload already queued covers this one too.
                    let _ = reload.try_send(());
                }
                Some(()) = self.user1.recv() => reopen(log_file.as_ref()),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (&mut interrupt).await;
            drop((reload, log_file));
        }
        stop.routes.drain();
        if !stop.delay.is_zero() {
            announce(&format!(
                "Shutting down in {} (--shutdown-delay): /healthz answers 503, requests are still served",
                humantime::format_duration(stop.delay)
            ));
            tokio::select! {
                () = tokio::time::sleep(stop.delay) => {}
                () = self.second_signal() => exit_now(),
            }
        }
        tracing::info!("shutting down: no new connections, waiting for requests in flight");
        stop.token.cancel();
        self.second_signal().await;
        exit_now();
    }

    /// Waits for another SIGINT or SIGTERM.
    async fn second_signal(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Ends wagi at a second signal, cutting off the requests in flight.
fn exit_now() -> ! {
    eprintln!("wagi: a second signal: exiting now, cutting off the requests in flight");
    std::process::exit(INTERRUPTED);
}

/// How the server stops on SIGINT or SIGTERM: `/healthz` of `routes` turns not ready at once,
/// requests are still served for `delay` so that load balancers notice, then `token` is
/// cancelled and the server drains.
pub(crate) struct Stop {
    pub(crate) token: CancellationToken,
    pub(crate) routes: Arc<Routes>,
    pub(crate) delay: Duration,
}

/// Reopens the access log's file, if it has one.
#[cfg(unix)]
fn reopen(log_file: Option<&LogFile>) {
    let Some(log_file) = log_file else { return };
    match log_file.reopen() {
        Ok(()) => announce(&format!("Reopened the access log `{}`", log_file.path().display())),
        Err(error) => tracing::error!("cannot reopen the access log `{}`: {error}", log_file.path().display()),
    }
}

/// Asks for a reload whenever one of `files` changes (size or modification time), checking
/// every second. Follows symbolic links, so a Kubernetes ConfigMap update is seen.
pub(crate) async fn watch_files(files: Vec<PathBuf>, reload: mpsc::Sender<()>) {
    let stamp = |path: &PathBuf| std::fs::metadata(path).ok().map(|m| (m.len(), m.modified().ok()));
    let mut last: Vec<Option<(u64, Option<SystemTime>)>> = files.iter().map(stamp).collect();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    loop {
        ticks.tick().await;
        let now: Vec<_> = files.iter().map(stamp).collect();
        if now != last {
            last = now;
            if reload.send(()).await.is_err() {
                return;
            }
        }
    }
}

/// Builds a new routing table on each request and swaps it in; a broken configuration leaves
/// the serving one in place.
pub(crate) struct Reloader {
    pub(crate) source: ConfigSource,
    pub(crate) startup: Startup,
    pub(crate) routes: Arc<Routes>,
    pub(crate) tls: Option<Arc<Tls>>,
    pub(crate) metrics: Arc<Metrics>,
}

impl Reloader {
    pub(crate) async fn run(self, mut requests: mpsc::Receiver<()>) {
        while requests.recv().await.is_some() {
            tracing::info!("reloading");
            let config = self.reload_config().await;
            let certificate = self.reload_certificate();
            self.metrics.reloaded(config && certificate);
            announce(match (config, certificate) {
                (true, true) => "Reloaded",
                (false, _) => "Reload failed: still serving the previous configuration",
                (true, false) => "Reloaded the configuration; the certificate failed, still using the previous one",
            });
        }
    }

    /// Swaps in a table built from the configuration as it is now; on error logs every problem.
    async fn reload_config(&self) -> bool {
        match self.startup.reload(&self.source).await {
            Ok(loaded) => {
                tracing::info!(routes = loaded.table.routes().len(), "configuration reloaded");
                self.routes.install(loaded.table);
                true
            }
            Err(error) => {
                match error.downcast_ref::<ConfigError>() {
                    Some(ConfigError(diagnostics)) => {
                        for diagnostic in &diagnostics.0 {
                            tracing::error!("reload: {diagnostic}");
                        }
                    }
                    None => tracing::error!("reload: {error:#}"),
                }
                false
            }
        }
    }

    /// Reads the TLS certificate and key again, if serving HTTPS.
    fn reload_certificate(&self) -> bool {
        let Some(tls) = &self.tls else { return true };
        match tls.reload() {
            Ok(()) => true,
            Err(error) => {
                tracing::error!("reload: {error}; still using the previous certificate");
                false
            }
        }
    }
}
