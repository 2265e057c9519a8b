//! `wagi logs ROUTE`: what a route's module wrote to stderr, found by route instead of by the
//! hash its file is named after.

use std::io::Write;

use anyhow::{Context, Result};
use wagi_config::RoutePattern;

use crate::cli::LogsArgs;
use crate::failure;
use crate::startup::{default_log_dir, stderr_log};

/// Prints the route's stderr file, or its path.
pub(crate) fn logs(args: LogsArgs) -> Result<()> {
    let route = RoutePattern::parse(&args.route)
        .map_err(|error| failure::usage(&format!("`{}` is not a route: {error}", args.route)))?;
    let log_dir = args.log_dir.unwrap_or_else(default_log_dir);
    let path = stderr_log(&log_dir, &route);
    let mut out = std::io::stdout().lock();
    if args.path {
        writeln!(out, "{}", path.display())?;
        return Ok(());
    }
    if !path.exists() {
        return Err(failure::usage(&format!(
            "no stderr log for the route `{route}` in `{}`: its module has not run with this --log-dir, or the route is \
             not one the configuration serves (`wagi check` lists them)",
            log_dir.display()
        )));
    }
    let mut file = std::fs::File::open(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
    std::io::copy(&mut file, &mut out).with_context(|| format!("cannot read `{}`", path.display()))?;
    Ok(())
}
