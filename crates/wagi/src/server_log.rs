//! The server's own messages, all on stderr so that stdout carries only the access log: the
//! lines scripts wait for ("Listening on", "Ready: serving on", "Reloaded") and tracing's
//! events, as text or, with `--server-log-format json`, as JSON lines; and where spans go when
//! traces are exported.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::SystemTime;

use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, fmt};

use crate::cli::ServerLogFormat;
use crate::traces;

/// The format chosen at startup; text until then.
static FORMAT: OnceLock<ServerLogFormat> = OnceLock::new();

/// Sends tracing's events (by default warnings and errors; `RUST_LOG` chooses) to stderr in
/// `format`, and wagi's spans to an OTLP exporter when the environment names one (see
/// `traces.rs`). Returns the exporter, to be shut down (flushing its last spans) before exiting.
pub(crate) fn init(format: ServerLogFormat) -> Option<SdkTracerProvider> {
    let _ = FORMAT.set(format);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let log = match format {
        ServerLogFormat::Text => {
            fmt::layer().with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal() && !no_color()).boxed()
        }
        ServerLogFormat::Json => {
            fmt::layer().json().flatten_event(true).with_current_span(false).with_writer(std::io::stderr).boxed()
        }
    };
    let (traces, provider) = traces::from_env().unzip();
    tracing_subscriber::registry().with(log.with_filter(filter)).with(traces).init();
    provider
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
