//! What every kind of handler reads to set up a request, prepared once per route: the spec, the
//! configured environment merged, the outbound grant and the memory budget.

use std::path::Path;
use std::sync::Arc;

use http::HeaderMap;
use wagi_cgi::StaticEnv;
use wagi_outbound_http::{CdnLoop, OutboundGrant, OutboundSession};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::error::RunError;
use crate::inputs::Inputs;
use crate::memory_budget::MemoryBudget;
use crate::output::{OutputCapture, Overflow};
use crate::spec::HandlerSpec;
use crate::state::State;
use crate::stdout::StdoutPipe;

/// The request-independent part of a handler that its kind sets requests up from.
pub(crate) struct Prepared {
    pub(crate) spec: HandlerSpec,
    pub(crate) static_env: StaticEnv,
    pub(crate) outbound: Arc<OutboundGrant>,
    pub(crate) memory_budget: Arc<MemoryBudget>,
}

impl Prepared {
    /// Where the module's stderr is kept for this request, up to its limit.
    pub(crate) fn stderr(&self) -> OutputCapture {
        OutputCapture::new(self.spec.limits.max_stderr, Overflow::Truncate)
    }

    /// Opens the module's volumes in `builder`.
    pub(crate) fn add_volumes(&self, builder: &mut WasiCtxBuilder) -> Result<(), RunError> {
        for volume in &self.spec.volumes {
            let perms = if volume.read_only { FsPerms::ReadOnly } else { FsPerms::ReadWrite };
            builder
                .preopened_dir(&volume.host_path, &volume.guest_path, perms)
                .map_err(|e| RunError::Volume { guest_path: volume.guest_path.clone(), reason: format!("{e:#}") })?;
        }
        Ok(())
    }

    /// The state of one request's instance: its WASI context, a core module's packed argv and
    /// environment, and the request's stdout if the server reads it. Outbound calls carry on the
    /// loop count of the request's `headers`.
    pub(crate) fn state(
        &self,
        wasi: WasiP1Ctx,
        inputs: Inputs,
        headers: &HeaderMap,
        stdout: Option<StdoutPipe>,
    ) -> State {
        let outbound = OutboundSession::new(Arc::clone(&self.outbound), CdnLoop::of(headers));
        let memory = (self.spec.limits.max_memory, &self.memory_budget);
        State::new(wasi, inputs, outbound, stdout, memory, Arc::clone(&self.spec.platform))
    }

    /// Logs what the module wrote to stderr, and appends it to the route's log file.
    pub(crate) async fn log_stderr(&self, stderr: &OutputCapture) {
        let bytes = stderr.take();
        if bytes.is_empty() {
            return;
        }
        if tracing::enabled!(target: "wagi::module", tracing::Level::INFO) {
            for line in String::from_utf8_lossy(&bytes).lines() {
                tracing::info!(target: "wagi::module", module = %self.spec.name, "{line}");
            }
        }
        if stderr.overflowed() {
            tracing::warn!(module = %self.spec.name, limit = stderr.limit(), "module stderr truncated");
        }
        let Some(path) = &self.spec.stderr_log else { return };
        if let Err(error) = append(path, &bytes).await {
            tracing::warn!(path = %path.display(), %error, "cannot append to the module's stderr log");
        }
    }
}

/// Creates the log file `path` and its directory, if they do not exist.
pub(crate) fn create_log(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new().create(true).append(true).open(path).map(drop)
}

/// Appends `bytes` to the log file `path`.
pub(crate) async fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::OpenOptions::new().create(true).append(true).open(path).await?;
    file.write_all(bytes).await?;
    file.flush().await
}
