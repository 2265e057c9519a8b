//! The `wagi` binary: parses the command line, loads the configuration and serves it.

mod cli;
mod config_source;
mod failure;
mod lifecycle;
mod listen;
mod log_file;
mod logs;
mod run;
mod serve;
mod server_log;
mod startup;
mod stores;
mod total_memory;
mod traces;

/// Every request allocates and frees many small objects across the tokio workers; jemalloc's
/// per-thread caches cut the allocator's share of the CPU, which glibc's malloc made about a
/// fifth of the server's time (see docs/performance.md). jemalloc does not build with MSVC.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use clap::Parser;
use wagi_server::Metrics;

use crate::cli::{Cli, Command, ServeArgs, ServerLogFormat, SourceArgs};
use crate::failure::{ConfigError, UsageError};
use crate::serve::ServeFlags;
use crate::startup::Startup;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let traces = server_log::init(match &cli.command {
        None => cli.serve.server_log_format,
        Some(Command::Check(args)) => args.server_log_format,
        Some(_) => ServerLogFormat::Text,
    });
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
            Some(Command::Check(args)) => check(*args).await,
            Some(Command::Pull(source)) => pull(*source).await,
            Some(Command::Run(args)) => run::run(*args).await,
            Some(Command::Logs(args)) => logs::logs(args),
            Some(Command::Completions { shell }) => {
                clap_complete::generate(
                    shell,
                    &mut <Cli as clap::CommandFactory>::command(),
                    "wagi",
                    &mut std::io::stdout(),
                );
                Ok(())
            }
            None => serve::serve(cli.serve).await,
        }
    });
    drop(runtime);
    if let Some(traces) = traces
        && let Err(error) = traces.shutdown()
    {
        eprintln!("warning: the last traces may not have been exported: {error}");
    }
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

/// Checks every serve flag and the configuration, loading and compiling its modules, and
/// prints the route table.
async fn check(args: ServeArgs) -> Result<()> {
    ServeFlags::check(&args).await?;
    let (source, settings) = args.source.split();
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
