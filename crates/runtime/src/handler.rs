//! Handlers: a module prepared for one route, and running it for a request.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use tracing::Instrument;
use wagi_cgi::{StaticEnv, SubRoute, parse_routes_output};
use wagi_outbound_http::{CdnLoop, OutboundGrant, OutboundObserver, OutboundPolicy, OutboundSession, Reporter};
use wasmtime_wasi::WasiCtxBuilder;

use crate::body::ResponseBody;
use crate::engine::{Compiled, CompiledModule, Observer, Runtime};
use crate::error::{Error, RunError};
use crate::inputs::Inputs;
use crate::kind::{Answer, Core, Kind};
use crate::output::{OutputCapture, Overflow};
use crate::prepared::{Prepared, append, create_log};
use crate::request::Request;
use crate::reuse::Reused;
use crate::run::{Call as _, Guest, run, store};
use crate::spec::{HandlerSpec, Limits};
use crate::state::State;
use crate::stdout::OutputLimit;

/// A module ready to answer requests for one route: linked once, instantiated per request.
pub struct Handler {
    kind: Kind,
    prepared: Arc<Prepared>,
    /// The route's reused instances, when it reuses them.
    reused: Option<Reused>,
    pool_slots: u32,
    observer: Option<Arc<dyn Observer>>,
}

/// A request as [`Handler::handle`] has begun it.
enum Begun<R> {
    /// Set up for a fresh instance.
    Fresh(Result<(Guest, Answer), RunError>),
    /// On its way to a reused instance.
    Reused(R),
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler").field("spec", &self.prepared.spec).finish_non_exhaustive()
    }
}

impl Runtime {
    /// Links `module` for `spec`: checks the entrypoint, resolves imports and merges the static
    /// environment, so a request only has to instantiate.
    pub fn prepare(&self, module: &CompiledModule, spec: HandlerSpec) -> Result<Handler, Error> {
        if module.pool_slots > self.max_instances {
            return Err(Error::PoolTooSmall { needed: module.pool_slots, pool: self.max_instances });
        }
        let kind = Kind::link(self, &module.code, &spec)?;
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
        let reporter = self.observer.clone().map(|observer| Reporter {
            observer: observer as Arc<dyn OutboundObserver>,
            route: Arc::clone(&spec.route),
        });
        let outbound =
            Arc::new(OutboundGrant { client: self.outbound.clone(), policy: spec.outbound.clone(), reporter });
        let memory_budget = Arc::clone(&self.memory_budget);
        let prepared = Arc::new(Prepared { spec, static_env, outbound, memory_budget });
        let reused = match kind.reusable() {
            Some(pre) if !prepared.spec.reuse.is_fresh() => {
                let slots = (self.admission.clone(), module.pool_slots);
                Some(Reused::new(pre, kind.engine().clone(), Arc::clone(&prepared), self.observer.clone(), slots))
            }
            _ => None,
        };
        Ok(Handler { kind, prepared, reused, pool_slots: module.pool_slots, observer: self.observer.clone() })
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
        let core = Core::link(self, module, ROUTES)?;
        let stdout = OutputCapture::new(1 << 20, Overflow::Fail);
        let stderr = OutputCapture::new(limits.max_stderr, Overflow::Truncate);
        let wasi = WasiCtxBuilder::new().stdout(stdout.clone()).stderr(stderr.clone()).build_p1();
        let no_access =
            OutboundGrant { client: self.outbound.clone(), policy: OutboundPolicy::default(), reporter: None };
        let outbound = OutboundSession::new(Arc::new(no_access), CdnLoop::default());
        let memory = (limits.max_memory, &self.memory_budget);
        let state = State::new(wasi, Inputs::default(), outbound, None, memory, Arc::default());
        let outcome = match run(&core, store(core.engine(), state), limits, None).await {
            Ok(()) if stdout.overflowed() => Err(RunError::OutputTooLarge { limit: stdout.limit() }),
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
        &self.prepared.spec
    }

    /// How many of the instance pool's slots one request takes: 1 for a core module, more for a
    /// component made of several core instances. Admitting requests by this weight keeps the
    /// pool from running out.
    pub fn pool_slots(&self) -> u32 {
        self.pool_slots
    }

    /// Runs a fresh instance of the module for `request` and answers: a CGI program once its
    /// header block is complete (from memory when it ends soon, else streaming the rest of its
    /// stdout, see [`ResponseOptions`](crate::ResponseOptions)), a `wasi:http` component once it
    /// sets its response. `slot` is held until the instance has ended, so a bound on slots
    /// bounds the instances alive, streamed responses included. A route that reuses instances
    /// ([`Reuse`](crate::Reuse)) gives the request to one, and holds `slot` until the response
    /// has ended.
    ///
    /// A fresh instance's request is set up before the returned future is first polled, so the
    /// future holds the guest and not the request.
    pub fn handle<S: Send + 'static>(
        self: &Arc<Self>,
        request: Request,
        slot: S,
    ) -> impl Future<Output = Result<http::Response<ResponseBody>, RunError>> + Send + use<S> {
        // The guest's time, a child of the request's span; disabled, and free, unless traces are
        // exported or the log asks for it.
        let span = tracing::info_span!(
            "guest",
            wagi.module.name = %self.prepared.spec.name,
            wagi.module.kind = self.kind.name(),
            wagi.instance = if self.reused.is_some() { "reused" } else { "fresh" },
        );
        let begun = match &self.reused {
            Some(reused) => Begun::Reused(reused.handle(request, slot).instrument(span)),
            None => Begun::Fresh(self.start(request, slot, span)),
        };
        async move {
            match begun {
                Begun::Fresh(started) => {
                    let (guest, answer) = started?;
                    answer.respond(guest).await
                }
                Begun::Reused(answered) => answered.await,
            }
        }
    }

    /// Whether the route reuses instances.
    pub fn reuses_instances(&self) -> bool {
        self.reused.is_some()
    }

    /// Sets `request` up and makes the guest's run: the instance, then releasing `slot` and
    /// logging stderr.
    fn start<S: Send + 'static>(
        self: &Arc<Self>,
        request: Request,
        slot: S,
        span: tracing::Span,
    ) -> Result<(Guest, Answer), RunError> {
        let handler = Arc::clone(self);
        self.kind.setup(&self.prepared, request, move |state, stderr, output_limit: Option<Arc<OutputLimit>>| {
            let store = store(handler.kind.engine(), state);
            Box::pin(
                async move {
                    let limits = &handler.prepared.spec.limits;
                    let outcome = run(&handler.kind, store, limits, handler.observer.as_deref()).await;
                    drop(slot);
                    handler.prepared.log_stderr(&stderr).await;
                    match output_limit {
                        // A guest whose write failed at the limit may trap on it; the limit is the cause.
                        Some(limit) if limit.overflowed() => Err(RunError::OutputTooLarge { limit: limit.limit() }),
                        _ => outcome,
                    }
                }
                .instrument(span),
            ) as Guest
        })
    }
}
