//! The shared wasm engines: configuration for serving (pooled instances, epoch interruption),
//! compiling modules and preparing handlers.
//!
//! There are two: one for core modules and WASI 0.2 components, and one with the component
//! model's `async` for WASI 0.3 components. Supporting `async` makes every store and every
//! component call of an engine costlier (about 1k instructions a request for `hello.wat`, 25k
//! for a `wasi:http` 0.2 hello), so only the components that need it pay for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wagi_outbound_http::{OutboundClient, OutboundLimits};
use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig};

use crate::admission::InstanceAdmission;
use crate::component::Wasi;
use crate::error::Error;
use crate::memory_budget::MemoryBudget;
use crate::state::State;

/// How the engine is set up for serving.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Instances that may exist at once; sizes the instance pool.
    pub max_instances: u32,
    /// The largest linear memory any handler may use, in bytes; sizes each pool slot.
    pub max_memory: u64,
    /// The linear memory all instances may have together, in bytes (`u64::MAX` for no bound).
    /// Growing past it fails as `memory.grow` returning -1; instantiating past it fails.
    pub max_total_memory: u64,
    /// Bytes of each memory slot kept resident between instances instead of being returned to
    /// the kernel. Resetting with `memset` instead of `madvise` avoids TLB shootdowns, which
    /// otherwise make two threads slower than one.
    pub memory_keep_resident: usize,
    /// How often running guests yield to other tasks.
    pub epoch_tick: Duration,
    /// Limits on modules' outbound HTTP requests.
    pub outbound: OutboundLimits,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            max_instances: 256,
            max_memory: 256 << 20,
            max_total_memory: u64::MAX,
            memory_keep_resident: 2 << 20,
            epoch_tick: Duration::from_millis(2),
            outbound: OutboundLimits::default(),
        }
    }
}

/// A compiled core module or WASI 0.2 component, shareable across threads and handlers.
#[derive(Clone, Debug)]
pub struct CompiledModule {
    pub(crate) code: Compiled,
    /// How many of the pool's instances, memories or tables one instance of it takes at most.
    pub(crate) pool_slots: u32,
}

/// What a [`CompiledModule`] holds; which one is read from the bytes, never configured.
#[derive(Clone, Debug)]
pub(crate) enum Compiled {
    Module(Module),
    Component(Component),
}

impl CompiledModule {
    /// Wraps compiled `code`; `wasm` is the binary it was compiled from.
    pub(crate) fn new(code: Compiled, wasm: &[u8]) -> Self {
        let pool_slots = match &code {
            Compiled::Module(_) => 1,
            Compiled::Component(component) => crate::component::pool_slots(component, wasm),
        };
        Self { code, pool_slots }
    }

    /// Whether this is a WASI 0.2 component rather than a core module.
    pub fn is_component(&self) -> bool {
        matches!(self.code, Compiled::Component(_))
    }
}

/// The wasm engine plus the linker every module is linked with.
///
/// Compiling ([`Runtime::compile`]) is CPU-heavy and belongs before serving or on a blocking
/// thread; preparing a handler ([`Runtime::prepare`](crate::Runtime::prepare)) resolves imports
/// once, so a request only instantiates.
pub struct Runtime {
    /// Core modules and WASI 0.2 components.
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<State>,
    pub(crate) component_linker: wasmtime::component::Linker<State>,
    /// WASI 0.3 components.
    pub(crate) concurrent: Concurrent,
    pub(crate) outbound: OutboundClient,
    pub(crate) observer: Option<Arc<dyn Observer>>,
    /// Where reused instances take their slots, when a server admits requests.
    pub(crate) admission: Option<Arc<dyn InstanceAdmission>>,
    /// Shared by every handler prepared here, across reloads.
    pub(crate) memory_budget: Arc<MemoryBudget>,
    pooling: bool,
    max_memory: u64,
    pub(crate) max_instances: u32,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("pooling", &self.pooling)
            .field("max_memory", &self.max_memory)
            .finish_non_exhaustive()
    }
}

/// The engine of WASI 0.3 components, with the component model's `async`, and its linker. It has
/// a pool of its own, of the same size: admission counts the slots of both together.
pub(crate) struct Concurrent {
    pub(crate) engine: Engine,
    pub(crate) component_linker: wasmtime::component::Linker<State>,
}

/// Receives a measurement each time a module is instantiated for a request, and the result of
/// each outbound request, e.g. to export metrics. Called on the request's task, so it must be
/// quick.
pub trait Observer: wagi_outbound_http::OutboundObserver {
    /// Creating one instance took `elapsed`.
    fn instantiated(&self, elapsed: Duration);
}

impl Runtime {
    /// Configures the engine. The pooling allocator is tried first; where the address space is
    /// too small for it, instances are allocated on demand instead (logged once).
    pub fn new(options: &EngineOptions) -> Result<Self, Error> {
        let engine_error = |e: wasmtime::Error| Error::Engine(format!("{e:#}"));
        let engines = Engine::new(&engine_config(options, Allocation::Pooled, false))
            .and_then(|engine| Ok((engine, Engine::new(&engine_config(options, Allocation::Pooled, true))?)));
        let ((engine, concurrent_engine), pooling) = match engines {
            Ok(engines) => (engines, true),
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "pooling allocator unavailable, allocating instances on demand");
                let on_demand = |concurrent| Engine::new(&engine_config(options, Allocation::OnDemand, concurrent));
                ((on_demand(false).map_err(engine_error)?, on_demand(true).map_err(engine_error)?), false)
            }
        };
        let mut linker = Linker::new(&engine);
        link_host_functions(&mut linker)?;
        let component_linker = crate::component::linker(&engine, Wasi::V02)?;
        let concurrent = Concurrent {
            component_linker: crate::component::linker(&concurrent_engine, Wasi::V03)?,
            engine: concurrent_engine,
        };
        let outbound = OutboundClient::new(options.outbound).map_err(|e| Error::Engine(e.to_string()))?;
        let ticker = EpochTicker::start(vec![engine.clone(), concurrent.engine.clone()], options.epoch_tick);
        Ok(Self {
            engine,
            linker,
            component_linker,
            concurrent,
            outbound,
            observer: None,
            admission: None,
            memory_budget: MemoryBudget::new(options.max_total_memory),
            pooling,
            max_memory: options.max_memory,
            max_instances: options.max_instances,
            _ticker: ticker,
        })
    }

    /// Reports instantiations of handlers prepared from now on to `observer`.
    pub fn set_observer(&mut self, observer: Arc<dyn Observer>) {
        self.observer = Some(observer);
    }

    /// Has instances that outlive a request, in handlers prepared from now on, take their slots
    /// from `admission`, as the server's requests do.
    pub fn set_instance_admission(&mut self, admission: Arc<dyn InstanceAdmission>) {
        self.admission = Some(admission);
    }

    /// The largest linear memory a handler of this engine may be given, in bytes.
    pub fn max_memory(&self) -> u64 {
        self.max_memory
    }

    /// Whether instances come from the pre-allocated pool.
    pub fn is_pooling(&self) -> bool {
        self.pooling
    }

    /// Compiles binary wasm: a core module, or a component when its header says so, with the
    /// engine it needs. `reused` says whether a route will reuse its instances
    /// ([`Reuse`](crate::Reuse)), which a `wasi:http` 0.2 component needs the concurrent engine
    /// for.
    pub fn compile(&self, wasm: &[u8], reused: bool) -> Result<CompiledModule, Error> {
        let compiled = if crate::component::is_component(wasm) {
            Component::new(self.engine_for(wasm, reused), wasm).map(Compiled::Component)
        } else {
            Module::new(&self.engine, wasm).map(Compiled::Module)
        };
        compiled.map(|code| CompiledModule::new(code, wasm)).map_err(|e| Error::Compile(format!("{e:#}")))
    }

    /// The engine `wasm` is compiled with: the concurrent one for a component that imports or
    /// exports a WASI 0.3 interface, or a `wasi:http` 0.2 component to be `reused`.
    pub(crate) fn engine_for(&self, wasm: &[u8], reused: bool) -> &Engine {
        if crate::component::is_component(wasm) && crate::component::needs_concurrency(wasm, reused) {
            &self.concurrent.engine
        } else {
            &self.engine
        }
    }

    /// Whether `engine` is the one with concurrent calls (the component model's `async`).
    pub(crate) fn is_concurrent(&self, engine: &Engine) -> bool {
        Engine::same(engine, &self.concurrent.engine)
    }

    /// The component linker of `engine`.
    pub(crate) fn component_linker(&self, engine: &Engine) -> &wasmtime::component::Linker<State> {
        if self.is_concurrent(engine) { &self.concurrent.component_linker } else { &self.component_linker }
    }
}

/// Every host function a module can import: WASI preview 1 (with the calls of `environ.rs` and
/// `fd_write.rs` in place of wasmtime-wasi's) and outbound HTTP. This is the one place the
/// linker is built.
fn link_host_functions(linker: &mut Linker<State>) -> Result<(), Error> {
    let link_error = |e: wasmtime::Error| Error::Engine(format!("{e:#}"));
    wasmtime_wasi::p1::add_to_linker_async(linker, |state: &mut State| &mut state.wasi).map_err(link_error)?;
    crate::environ::add_to_linker(linker).map_err(link_error)?;
    crate::fd_write::add_to_linker(linker).map_err(link_error)?;
    wagi_outbound_http::add_to_linker(linker, |state: &mut State| &mut state.outbound).map_err(link_error)
}

/// How an engine allocates instances.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Allocation {
    /// From a pool reserved up front.
    Pooled,
    /// As each instance is created.
    OnDemand,
}

/// Fiber stacks the pool of the concurrent engine keeps per instance: a WASI 0.3 instance may run
/// several guest tasks at once, each on a stack of its own while it is blocked in a call.
const STACKS_PER_CONCURRENT_INSTANCE: u32 = 4;

/// An engine's configuration; `concurrent` turns on the component model's `async` (`stream`,
/// `future`, `async` functions) for WASI 0.3, and turns concurrency off otherwise.
fn engine_config(options: &EngineOptions, allocation: Allocation, concurrent: bool) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    if concurrent {
        config.wasm_component_model_async(true);
    } else {
        config.concurrency_support(false);
    }
    if allocation == Allocation::Pooled {
        let max_memory = usize::try_from(options.max_memory).unwrap_or(usize::MAX);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(options.max_instances)
            .total_memories(options.max_instances)
            .total_tables(options.max_instances)
            .total_stacks(if concurrent {
                options.max_instances.saturating_mul(STACKS_PER_CONCURRENT_INSTANCE)
            } else {
                options.max_instances
            })
            .max_memory_size(max_memory)
            .linear_memory_keep_resident(options.memory_keep_resident)
            .table_keep_resident(64 << 10)
            .async_stack_keep_resident(64 << 10)
            // Reset only the pages a module wrote (Linux 6.7+), not all of the kept-resident
            // bytes: a Rust guest's memory starts with a 1 MiB stack it barely touches.
            .pagemap_scan(Enabled::Auto)
            .max_unused_warm_slots(options.max_instances.min(100));
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// A thread that advances the engines' epochs every tick, so running guests yield regularly.
#[derive(Debug)]
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engines: Vec<Engine>, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("wagi-epoch".to_owned())
            .spawn(move || {
                while !thread_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engines.iter().for_each(Engine::increment_epoch);
                }
            })
            .ok();
        if thread.is_none() {
            tracing::error!("cannot start the epoch thread; long-running guests will not yield");
        }
        Self { stop, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
