//! The server's own messages, all on stderr so that stdout carries only the access log: the
//! lines scripts wait for ("Listening on", "Ready: serving on", "Reloaded") and tracing's
//! events, as text or, with `--server-log-format json`, as JSON lines.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::SystemTime;

use tracing_subscriber::EnvFilter;

use crate::cli::ServerLogFormat;

/// The format chosen at startup; text until then.
static FORMAT: OnceLock<ServerLogFormat> = OnceLock::new();

/// Sends tracing's events (by default warnings and errors; `RUST_LOG` chooses) to stderr in
/// `format`.
pub(crate) fn init(format: ServerLogFormat) {
    let _ = FORMAT.set(format);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        ServerLogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal() && !no_color()).init(),
        ServerLogFormat::Json => builder.json().flatten_event(true).with_current_span(false).init(),
    }
}

/// Whether `NO_COLOR` asks for output without colour: set and not empty, as no-color.org says.
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}

/// A message for whoever started wagi, on stderr whatever `RUST_LOG` says: scripts and tests
/// wait for these. In JSON, it is an event at level INFO, as tracing's JSON writes one.
pub(crate) fn announce(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = match FORMAT.get() {
        Some(ServerLogFormat::Json) => writeln!(
            err,
            "{}",
            serde_json::json!({
                "timestamp": humantime::format_rfc3339_micros(SystemTime::now()).to_string(),
                "level": "INFO",
                "message": line,
                "target": "wagi",
            })
        ),
        _ => writeln!(err, "{line}"),
    };
}
