//! Handlers: a module prepared for one route, and running it for a request.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use wagi_config::DEFAULT_ENTRYPOINT;
use wagi_outbound_http::{CdnLoop, OutboundGrant, OutboundPolicy, OutboundSession};
use wasmtime::component::ComponentExportIndex;
use wasmtime::{Engine, Extern, ExternType, InstancePre, Module, ModuleExport, Store, Trap};
use wasmtime_wasi::cli::AsyncStdinStream;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::argv::for_each_arg;
use crate::body::ResponseBody;
use crate::cgi_env::{StaticEnv, for_each_var};
use crate::component;
use crate::engine::{Compiled, CompiledModule, Observer, Runtime};
use crate::error::{CgiError, Error};
use crate::inputs::{Inputs, StringList};
use crate::memory_budget::MemoryBudget;
use crate::output::{OutputCapture, Overflow};
use crate::request::CgiRequest;
use crate::respond::{ResponseOptions, respond};
use crate::routes::{SubRoute, parse_routes_output};
use crate::state::{HttpCall, State};
use crate::stdin::RequestBody;
use crate::stdout::StdoutPipe;
use crate::wasi_http;

/// Room for the variables a request adds to the environment, in the common case: the
/// meta-variables and a few headers.
const REQUEST_ENVIRON_BYTES: usize = 1024;

/// Everything about one route's module that does not depend on the request.
#[derive(Clone, Debug)]
pub struct HandlerSpec {
    /// A name for logs, usually the module reference.
    pub name: String,
    /// The export called per request.
    pub entrypoint: String,
    /// The `argv` template, if any.
    pub argv_template: Option<String>,
    /// Configured variables, in increasing precedence (later pairs win).
    pub environment: Vec<(String, String)>,
    /// Directories the module may see.
    pub volumes: Vec<VolumeSpec>,
    /// Where the module may send HTTP requests.
    pub outbound: OutboundPolicy,
    /// Limits for each request.
    pub limits: Limits,
    /// When responses start streaming.
    pub response: ResponseOptions,
    /// Where the module's stderr is appended; `None` discards it.
    pub stderr_log: Option<PathBuf>,
}

/// A host directory made visible to a module.
#[derive(Clone, Debug)]
pub struct VolumeSpec {
    /// The path the module sees.
    pub guest_path: String,
    /// The host directory (absolute).
    pub host_path: PathBuf,
    /// Whether the module may only read.
    pub read_only: bool,
}

/// Per-request limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Wall-clock time for one request, instantiation included.
    pub timeout: Duration,
    /// Linear memory per instance, in bytes.
    pub max_memory: u64,
    /// Bytes of stdout kept; past it the request fails.
    pub max_output: usize,
    /// Bytes of stderr kept per request; the rest is dropped.
    pub max_stderr: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(30), max_memory: 256 << 20, max_output: 16 << 20, max_stderr: 1 << 20 }
    }
}

/// A module ready to answer requests for one route: linked once, instantiated per request.
pub struct Handler {
    entry: Entry,
    pool_slots: u32,
    spec: HandlerSpec,
    static_env: StaticEnv,
    outbound: Arc<OutboundGrant>,
    observer: Option<Arc<dyn Observer>>,
    memory_budget: Arc<MemoryBudget>,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler").field("spec", &self.spec).finish_non_exhaustive()
    }
}

/// What a request instantiates and calls, linked once.
enum Entry {
    /// A core module, its entrypoint export and its `memory` export, if it has one.
    Module { pre: InstancePre<State>, export: ModuleExport, memory: Option<ModuleExport> },
    /// A command component and the `run` function of its `wasi:cli/run` export.
    Component { pre: wasmtime::component::InstancePre<State>, run: ComponentExportIndex },
    /// A `wasi:http` component, called through its `wasi:http/incoming-handler` export.
    Http { pre: ProxyPre<State> },
}

impl Entry {
    fn engine(&self) -> &Engine {
        match self {
            Self::Module { pre, .. } => pre.module().engine(),
            Self::Component { pre, .. } => pre.engine(),
            Self::Http { pre } => pre.engine(),
        }
    }
}

impl Runtime {
    /// Links `module` for `spec`: checks the entrypoint, resolves imports and merges the static
    /// environment, so a request only has to instantiate.
    pub fn prepare(&self, module: &CompiledModule, spec: HandlerSpec) -> Result<Handler, Error> {
        let link_error = |e: wasmtime::Error| Error::Link(format!("{e:#}"));
        if module.pool_slots > self.max_instances {
            return Err(Error::PoolTooSmall { needed: module.pool_slots, pool: self.max_instances });
        }
        let entry = match &module.code {
            Compiled::Module(module) => {
                let export = check_entrypoint(module, &spec.entrypoint)?;
                let pre = self.linker.instantiate_pre(module).map_err(link_error)?;
                Entry::Module { pre, export, memory: memory_export(module) }
            }
            Compiled::Component(component) => {
                if spec.entrypoint != DEFAULT_ENTRYPOINT {
                    return Err(Error::ComponentEntrypoint(spec.entrypoint.clone()));
                }
                let linker = component::linker_for(&self.component_linker, &self.engine, component)?;
                let pre = linker.instantiate_pre(component).map_err(link_error)?;
                if wasi_http::is_http_handler(component, &self.engine)? {
                    Entry::Http { pre: ProxyPre::new(pre).map_err(link_error)? }
                } else {
                    Entry::Component { pre, run: component::run_export(component, &self.engine)? }
                }
            }
        };
        let (static_env, shadowed) = StaticEnv::new(spec.environment.iter().cloned());
        for name in shadowed {
            tracing::warn!(module = %spec.name, variable = %name, "a configured variable cannot replace a CGI variable; ignoring it");
        }
        for volume in &spec.volumes {
            if !volume.host_path.is_dir() {
                return Err(Error::Volume {
                    guest_path: volume.guest_path.clone(),
                    host_path: volume.host_path.display().to_string(),
                    reason: "not a directory".to_owned(),
                });
            }
        }
        if let Some(log) = &spec.stderr_log {
            create_log(log).map_err(|source| Error::Log { path: log.display().to_string(), source })?;
        }
        let outbound = Arc::new(OutboundGrant { client: self.outbound.clone(), policy: spec.outbound.clone() });
        let pool_slots = module.pool_slots;
        let observer = self.observer.clone();
        let memory_budget = Arc::clone(&self.memory_budget);
        Ok(Handler { entry, pool_slots, spec, static_env, outbound, observer, memory_budget })
    }

    /// Calls the module's `_routes` export, if it has one, under `limits`, and parses the routes
    /// it prints. Its stderr is appended to `stderr_log`. Components have no `_routes`.
    pub async fn discover_routes(
        &self,
        module: &CompiledModule,
        limits: &Limits,
        stderr_log: &Path,
    ) -> Result<Option<Vec<SubRoute>>, Error> {
        const ROUTES: &str = "_routes";
        let Compiled::Module(module) = &module.code else { return Ok(None) };
        if module.get_export(ROUTES).is_none() {
            return Ok(None);
        }
        let export = check_entrypoint(module, ROUTES)?;
        let pre = self.linker.instantiate_pre(module).map_err(|e| Error::Link(format!("{e:#}")))?;
        let stdout = OutputCapture::new(1 << 20, Overflow::Fail);
        let stderr = OutputCapture::new(limits.max_stderr, Overflow::Truncate);
        let wasi = WasiCtxBuilder::new().stdout(stdout.clone()).stderr(stderr.clone()).build_p1();
        let no_access = OutboundGrant { client: self.outbound.clone(), policy: OutboundPolicy::default() };
        let outbound = OutboundSession::new(Arc::new(no_access), CdnLoop::default());
        let state = State::new(wasi, Inputs::default(), outbound, None, limits.max_memory, &self.memory_budget);
        let outcome =
            match run(&Entry::Module { pre, export, memory: memory_export(module) }, state, limits, None).await {
                Ok(()) if stdout.overflowed() => Err(CgiError::OutputTooLarge { limit: stdout.limit() }),
                outcome => outcome,
            };
        create_log(stderr_log).map_err(|source| Error::Log { path: stderr_log.display().to_string(), source })?;
        let written = stderr.take();
        if !written.is_empty() {
            append(stderr_log, &written)
                .await
                .map_err(|source| Error::Log { path: stderr_log.display().to_string(), source })?;
        }
        outcome.map_err(|e| Error::Routes(e.to_string()))?;
        parse_routes_output(&stdout.take()).map(Some).map_err(Error::Routes)
    }
}

impl Handler {
    /// What this handler was prepared from.
    pub fn spec(&self) -> &HandlerSpec {
        &self.spec
    }

    /// How many of the instance pool's slots one request takes: 1 for a core module, more for a
    /// component made of several core instances. Admitting requests by this weight keeps the
    /// pool from running out.
    pub fn pool_slots(&self) -> u32 {
        self.pool_slots
    }

    /// Whether this handler runs a WASI 0.2 component rather than a core module.
    pub fn is_component(&self) -> bool {
        matches!(self.entry, Entry::Component { .. } | Entry::Http { .. })
    }

    /// Whether this handler runs a `wasi:http` component, which answers HTTP rather than CGI.
    pub fn is_http(&self) -> bool {
        matches!(self.entry, Entry::Http { .. })
    }

    /// Runs the module for one request and answers once its CGI header block is complete:
    /// from memory when it ends soon, else streaming the rest of its stdout (see
    /// [`ResponseOptions`]). `slot` is held until the module has ended, so a bound on slots
    /// bounds the instances alive, streamed responses included.
    pub async fn handle(
        self: &Arc<Self>,
        request: CgiRequest,
        slot: impl Send + 'static,
    ) -> Result<http::Response<ResponseBody>, CgiError> {
        if self.is_http() {
            return self.handle_http(request, slot).await;
        }
        let request = &request;
        let (stdout, output, output_limit) = StdoutPipe::new(self.spec.limits.max_output);
        let stderr = OutputCapture::new(self.spec.limits.max_stderr, Overflow::Truncate);
        let wasi = self.wasi_context(request, stdout.clone(), &stderr)?;
        let outbound = OutboundSession::new(Arc::clone(&self.outbound), CdnLoop::of(&request.headers));
        // Core modules read argv and the environment through `environ.rs`; components through
        // WASI 0.2, from the context.
        let inputs = if self.is_component() { Inputs::default() } else { self.inputs(request) };
        let state = State::new(wasi, inputs, outbound, Some(stdout), self.spec.limits.max_memory, &self.memory_budget);
        let handler = Arc::clone(self);
        let guest = Box::pin(async move {
            let spec = &handler.spec;
            let observer = handler.observer.as_deref();
            let outcome = run(&handler.entry, state, &spec.limits, observer).await;
            drop(slot);
            handler.log_stderr(&stderr).await;
            // A guest whose write failed at the limit may trap on it; the limit is the cause.
            if output_limit.overflowed() {
                return Err(CgiError::OutputTooLarge { limit: output_limit.limit() });
            }
            outcome
        });
        respond(guest, output, self.spec.response).await
    }

    /// Calls a `wasi:http` component's `handle` and answers with the response it sets. Its
    /// stdout and stderr both go to the module's log; it sees only the configured environment.
    async fn handle_http(
        self: &Arc<Self>,
        request: CgiRequest,
        slot: impl Send + 'static,
    ) -> Result<http::Response<ResponseBody>, CgiError> {
        let cdn_loop = CdnLoop::of(&request.headers);
        let (scheme, incoming) = wasi_http::incoming_request(request)?;
        let log = OutputCapture::new(self.spec.limits.max_stderr, Overflow::Truncate);
        let mut builder = WasiCtxBuilder::new();
        builder.stdout(log.clone()).stderr(log.clone());
        builder.envs(&self.spec.environment);
        self.add_volumes(&mut builder)?;
        let outbound = OutboundSession::new(Arc::clone(&self.outbound), cdn_loop);
        let mut state = State::new(
            builder.build_p1(),
            Inputs::default(),
            outbound,
            None,
            self.spec.limits.max_memory,
            &self.memory_budget,
        );
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let mut http = state.http();
        let setup = |e: wasmtime::Error| CgiError::Instantiate(format!("{e:#}"));
        let incoming = http.new_incoming_request(scheme, incoming).map_err(setup)?;
        let outparam = http.new_response_outparam(sender).map_err(setup)?;
        state.http_call = Some(HttpCall { request: incoming, response: outparam });
        let handler = Arc::clone(self);
        let guest = Box::pin(async move {
            let spec = &handler.spec;
            let outcome = run(&handler.entry, state, &spec.limits, handler.observer.as_deref()).await;
            drop(slot);
            handler.log_stderr(&log).await;
            outcome
        });
        wasi_http::respond(guest, receiver).await
    }

    /// The request's argv and environment, packed for the module to read.
    fn inputs(&self, request: &CgiRequest) -> Inputs {
        let mut args =
            StringList::with_capacity(request.raw_path.len() + request.query.as_ref().map_or(0, String::len) + 8);
        for_each_arg(self.spec.argv_template.as_deref(), &request.raw_path, request.query.as_deref(), |arg| {
            args.push(&[arg]);
        });
        let mut environ = StringList::with_capacity(self.static_env.packed_len() + REQUEST_ENVIRON_BYTES);
        for_each_var(request, &self.static_env, |name, value| environ.push(&[name, "=", value]));
        Inputs { args, environ }
    }

    /// The WASI context with the module's stdio and volumes. A core module's argv and
    /// environment are in [`Inputs`]; a component's are in the context.
    fn wasi_context(
        &self,
        request: &CgiRequest,
        stdout: StdoutPipe,
        stderr: &OutputCapture,
    ) -> Result<WasiP1Ctx, CgiError> {
        let mut builder = WasiCtxBuilder::new();
        builder.stdout(stdout).stderr(stderr.clone());
        if self.is_component() {
            for_each_arg(self.spec.argv_template.as_deref(), &request.raw_path, request.query.as_deref(), |arg| {
                builder.arg(arg);
            });
            for_each_var(request, &self.static_env, |name, value| {
                builder.env(name, value);
            });
        }
        match &request.body {
            RequestBody::Full(bytes) => builder.stdin(MemoryInputPipe::new(bytes.clone())),
            RequestBody::Streaming(stream) => builder.stdin(AsyncStdinStream::new(stream.take_reader())),
        };
        self.add_volumes(&mut builder)?;
        Ok(builder.build_p1())
    }

    /// Opens the module's volumes in `builder`.
    fn add_volumes(&self, builder: &mut WasiCtxBuilder) -> Result<(), CgiError> {
        for volume in &self.spec.volumes {
            let perms = if volume.read_only { FsPerms::ReadOnly } else { FsPerms::ReadWrite };
            builder
                .preopened_dir(&volume.host_path, &volume.guest_path, perms)
                .map_err(|e| CgiError::Volume { guest_path: volume.guest_path.clone(), reason: format!("{e:#}") })?;
        }
        Ok(())
    }

    async fn log_stderr(&self, stderr: &OutputCapture) {
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

/// Instantiates and calls `entry` with a deadline, yielding to other tasks every epoch.
async fn run(entry: &Entry, state: State, limits: &Limits, observer: Option<&dyn Observer>) -> Result<(), CgiError> {
    let mut store = Store::new(entry.engine(), state);
    store.limiter(|state| &mut state.limits);
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);

    let started = Instant::now();
    let instantiated = |observer: Option<&dyn Observer>| {
        if let Some(observer) = observer {
            observer.instantiated(started.elapsed());
        }
    };
    let instantiate_error = |e: wasmtime::Error| CgiError::Instantiate(format!("{e:#}"));
    let call = async {
        match entry {
            Entry::Module { pre, export, memory } => {
                let instance = pre.instantiate_async(&mut store).await.map_err(instantiate_error)?;
                instantiated(observer);
                if let Some(memory) = memory {
                    let memory = instance.get_module_export(&mut store, memory).and_then(Extern::into_memory);
                    store.data_mut().memory = memory;
                }
                // `prepare` checked that the export is a function without parameters or results.
                let func = instance
                    .get_module_export(&mut store, export)
                    .and_then(Extern::into_func)
                    .ok_or_else(|| CgiError::Instantiate("the entrypoint is not a function".to_owned()))?;
                func.call_async(&mut store, &[], &mut []).await.or_else(classify)
            }
            Entry::Component { pre, run } => {
                let instance = pre.instantiate_async(&mut store).await.map_err(instantiate_error)?;
                instantiated(observer);
                let func = instance
                    .get_typed_func::<(), (Result<(), ()>,)>(&mut store, run)
                    .map_err(|e| CgiError::Instantiate(format!("`wasi:cli/run`: {e:#}")))?;
                match func.call_async(&mut store, ()).await {
                    Ok((Ok(()),)) => Ok(()),
                    // `run` returning its error is the same failure as exiting with 1.
                    Ok((Err(()),)) => Err(CgiError::Exit(1)),
                    Err(error) => classify(error),
                }
            }
            Entry::Http { pre } => {
                let proxy = pre.instantiate_async(&mut store).await.map_err(instantiate_error)?;
                instantiated(observer);
                let call = store.data_mut().http_call.take();
                let call = call.ok_or_else(|| CgiError::Instantiate("no request for the component".to_owned()))?;
                let handler = proxy.wasi_http_incoming_handler();
                handler.call_handle(&mut store, call.request, call.response).await.or_else(classify)
            }
        }
    };
    let outcome = {
        let mut call = std::pin::pin!(call);
        // Most modules end within their first poll; only one still running needs a timer for
        // its deadline (a timer costs a runtime lookup, and a lock to set and to cancel it).
        match std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => {
                let deadline = tokio::time::Instant::from_std(started) + limits.timeout;
                tokio::time::timeout_at(deadline, call).await.map_err(|_| CgiError::Timeout(limits.timeout))?
            }
        }
    };
    outcome.map_err(|error| store.data().limits.explain(error))
}

/// Turns a failed call into our error; `proc_exit(0)` is success.
fn classify(error: wasmtime::Error) -> Result<(), CgiError> {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return if exit.0 == 0 { Ok(()) } else { Err(CgiError::Exit(exit.0)) };
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return Err(CgiError::Trap(trap.to_string()));
    }
    Err(CgiError::Trap(format!("{error:#}")))
}

/// The index of the module's `memory` export, the memory WASI calls read and write.
fn memory_export(module: &Module) -> Option<ModuleExport> {
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => module.get_export_index("memory"),
        _ => None,
    }
}

/// Checks that `name` is a function without parameters or results, and returns its index for
/// finding it in each instance without a lookup by name.
fn check_entrypoint(module: &Module, name: &str) -> Result<ModuleExport, Error> {
    match module.get_export(name) {
        Some(ExternType::Func(func)) if func.params().len() == 0 && func.results().len() == 0 => {
            module.get_export_index(name).ok_or_else(|| Error::MissingEntrypoint(name.to_owned()))
        }
        Some(ExternType::Func(func)) => {
            Err(Error::EntrypointSignature { name: name.to_owned(), found: format!("{func}") })
        }
        Some(other) => Err(Error::EntrypointSignature { name: name.to_owned(), found: format!("{other:?}") }),
        None => Err(Error::MissingEntrypoint(name.to_owned())),
    }
}

fn create_log(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new().create(true).append(true).open(path).map(drop)
}

async fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::OpenOptions::new().create(true).append(true).open(path).await?;
    file.write_all(bytes).await?;
    file.flush().await
}
