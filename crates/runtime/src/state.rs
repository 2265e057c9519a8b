//! The per-instance state every kind of handler runs with, and what it gives wasmtime-wasi and
//! wasmtime-wasi-http to work on: the WASI context, argv and the environment, the request's
//! stdout, outbound HTTP, the memory limits, and a `wasi:http` component's request (0.2 or 0.3).

use std::sync::Arc;

use wagi_outbound_http::OutboundSession;
use wagi_platform::{Platform, PlatformState, PlatformView};
use wasmtime::Memory;
use wasmtime::StoreLimitsBuilder;
use wasmtime::component::Resource;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::types::{HostIncomingRequest, HostResponseOutparam};
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::inputs::Inputs;
use crate::memory_budget::{Limiter, MemoryBudget};
use crate::stdout::StdoutPipe;

/// The per-instance state: the WASI context, argv and environment, outbound HTTP responses and
/// the resource limits, with the instance's share of the memory budget.
pub(crate) struct State {
    pub(crate) wasi: WasiP1Ctx,
    /// `wasi:http`'s own context, for components.
    pub(crate) http: WasiHttpCtx,
    /// The request and response resources a `wasi:http` 0.2 component's `handle` is called with.
    pub(crate) http_call: Option<HttpCall>,
    /// The request a `wasi:http` 0.3 component's `handle` is called with, and where its
    /// response goes.
    pub(crate) service_call: Option<ServiceCall>,
    pub(crate) inputs: Inputs,
    pub(crate) outbound: OutboundSession,
    /// The request's stdout while fd 1 is still it, for `fd_write`'s fast path.
    pub(crate) stdout: Option<StdoutPipe>,
    /// The instance's exported `memory`, found by index once it is instantiated, so the host
    /// calls need not look it up by name.
    pub(crate) memory: Option<Memory>,
    pub(crate) limits: Limiter,
    /// What the component may use besides WASI and HTTP.
    pub(crate) platform: Arc<Platform>,
}

impl State {
    pub(crate) fn new(
        wasi: WasiP1Ctx,
        inputs: Inputs,
        outbound: OutboundSession,
        stdout: Option<StdoutPipe>,
        (max_memory, budget): (u64, &Arc<MemoryBudget>),
        platform: Arc<Platform>,
    ) -> Self {
        let max_memory = usize::try_from(max_memory).unwrap_or(usize::MAX);
        let limits = StoreLimitsBuilder::new().memory_size(max_memory).trap_on_grow_failure(true).build();
        let limits = Limiter::new(limits, budget);
        let http = WasiHttpCtx::new();
        Self {
            wasi,
            http,
            http_call: None,
            service_call: None,
            inputs,
            outbound,
            stdout,
            memory: None,
            limits,
            platform,
        }
    }
}

/// The resources a component's `handle` is called with.
pub(crate) struct HttpCall {
    pub(crate) request: Resource<HostIncomingRequest>,
    pub(crate) response: Resource<HostResponseOutparam>,
}

/// What a WASI 0.3 component's `handle` is called with, and where the response it returns goes.
pub(crate) struct ServiceCall {
    pub(crate) request: wasmtime_wasi_http::p3::Request,
    pub(crate) respond: tokio::sync::oneshot::Sender<SetResponse03>,
}

/// A WASI 0.3 component's response, its body streaming from the instance, or its error code.
pub(crate) type SetResponse03 = Result<http::Response<Body03>, ErrorCode>;

/// The body of a WASI 0.3 component's response.
pub(crate) type Body03 = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, wasmtime_wasi_http::Error>;

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.ctx()
    }
}

impl PlatformState for State {
    fn platform(&mut self) -> PlatformView<'_> {
        let WasiCtxView { table, .. } = self.wasi.ctx();
        PlatformView { platform: &self.platform, table }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        let WasiCtxView { table, .. } = self.wasi.ctx();
        WasiHttpCtxView { ctx: &mut self.http, table, hooks: &mut self.outbound }
    }
}
