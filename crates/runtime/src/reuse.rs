//! Instance reuse, for `wasi:http` components whose route asks for it ([`Reuse`]): one instance
//! serves up to `requests` requests before it is dropped, a 0.3 one up to `concurrency` of them
//! at once, a 0.2 one one after the other. wasmtime-wasi-http's `ProxyHandler` hands requests to
//! instances and starts new ones (through the engine with concurrent calls, which is why a 0.2
//! component to be reused is compiled for it); this file says when an instance takes a request
//! and when it must go.
//!
//! What reuse keeps per request and what it shares:
//! - each request keeps its deadline, which covers its response body too: when one passes, the
//!   request gets 504 and its instance is dropped, and with it every request it was serving;
//! - an instance that traps (a memory access out of bounds, growing past `max_memory`...) is
//!   dropped: the request it was answering gets 500, and every body it was still writing is cut
//!   off, never ended cleanly;
//! - an instance's memory, globals and open resources outlive the request that made them, so a
//!   later request may see them: `max_memory` bounds the instance, not one request;
//! - stderr goes to the route's log as each request ends, interleaved when requests overlap;
//! - outbound calls carry the highest `CDN-Loop` count of the requests the instance has served,
//!   so a loop through a reused instance is still stopped;
//! - an instance idle for [`IDLE`] is dropped.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http::HeaderMap;
use http_body_util::BodyExt as _;
use tokio::sync::{oneshot, watch};
use tokio::time::{Instant, Sleep};
use wagi_cgi::final_status;
use wagi_outbound_http::{CdnLoop, OutboundSession, loop_hops};
use wasmtime::component::GuestTaskId;
use wasmtime::{Engine, Store, StoreContextMut};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::handler::{
    ExpirationError, HandlerState, Instance, InstantiationError, ProxyHandler, ProxyPre, ShouldAccept,
    TrapOrPanicError, WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode as ErrorCode02;
use wasmtime_wasi_http::p3::bindings::http::types::ErrorCode;

use crate::admission::{InstanceAdmission, InstanceSlot};
use crate::body::{ResponseBody, Run, SharedRun};
use crate::engine::Observer;
use crate::error::RunError;
use crate::inputs::Inputs;
use crate::kind::wasi_http::{context, incoming_request};
use crate::output::OutputCapture;
use crate::prepared::Prepared;
use crate::request::Request;
use crate::run::{classify, store};
use crate::spec::Reuse;
use crate::state::State;

/// How long an instance with no request to serve is kept.
pub(crate) const IDLE: Duration = Duration::from_secs(10);

/// A route's reused instances.
pub(crate) struct Reused {
    handler: ProxyHandler<Instances>,
    timeout: Duration,
}

impl Reused {
    /// Reuses instances of `pre`; each takes `slots.1` slots from the admission `slots.0`, if
    /// any, while it lives.
    pub(crate) fn new(
        pre: ProxyPre<State>,
        engine: Engine,
        prepared: Arc<Prepared>,
        observer: Option<Arc<dyn Observer>>,
        slots: (Option<Arc<dyn InstanceAdmission>>, u32),
    ) -> Self {
        let timeout = prepared.spec.limits.timeout;
        let (admission, pool_slots) = slots;
        let instances = Instances { pre, engine, prepared, observer, admission, pool_slots };
        Self { handler: ProxyHandler::new(instances), timeout }
    }

    /// Answers `request` from an instance with room for it, or a new one, which first takes its
    /// slots from the admission. `slot` is held until the response body has ended.
    pub(crate) fn handle<S: Send + 'static>(
        &self,
        request: Request,
        slot: S,
    ) -> impl Future<Output = Result<http::Response<ResponseBody>, RunError>> + Send + use<S> {
        let handler = self.handler.clone();
        let timeout = self.timeout;
        async move {
            let deadline = Instant::now() + timeout;
            let hops = loop_hops(&request.head.headers);
            let cdn_loop = CdnLoop::of(&request.head.headers);
            let incoming = incoming_request(request)?;
            let (placed, mut place) = oneshot::channel();
            let ticket = Ticket { deadline, hops, cdn_loop, placed };
            let answered = tokio::time::timeout_at(deadline, handler.handle(ticket, incoming)).await;
            // Sent when the instance took the request, so before it answered.
            let place = place.try_recv().ok();
            let response = match answered {
                Err(_) => return Err(RunError::Timeout(timeout)),
                Ok(Err(error)) => return Err(failure(&error, place.as_ref(), deadline, timeout).await),
                Ok(Ok(response)) => response,
            };
            final_status(response.status())?;
            let place = place.ok_or_else(|| RunError::Trap("the response came from no instance".to_owned()))?;
            let run = Run::Shared(Box::new(Served { place, _slot: Box::new(slot) }));
            Ok(response.map(|body| {
                let body = body.map_err(|error| RunError::Trap(format!("the response body failed: {error}")));
                ResponseBody::streaming(body.boxed_unsync(), run)
            }))
        }
    }
}

/// Why a request to a reused instance got no response: when its instance failed, how, which
/// the instance says as soon as it has been dropped.
async fn failure(error: &wasmtime::Error, place: Option<&Place>, deadline: Instant, timeout: Duration) -> RunError {
    // An instance past a deadline says so before it goes; a 0.2 request it was serving may get
    // "no response" first.
    if let Some(failed) = place.and_then(|place| place.life.failed.borrow().clone()) {
        return failed;
    }
    if let Some(place) = place
        && error.is::<TrapOrPanicError>()
    {
        let mut failed = place.life.failed.subscribe();
        if let Ok(Ok(failed)) = tokio::time::timeout_at(deadline, failed.wait_for(Option::is_some)).await
            && let Some(failed) = failed.as_ref()
        {
            return failed.clone();
        }
    }
    if let Some(instantiation) = error.downcast_ref::<InstantiationError<Ticket>>() {
        if let Some(failed) = instantiation.error.downcast_ref::<RunError>() {
            return failed.clone();
        }
        return RunError::Instantiate(format!("{:#}", instantiation.error));
    }
    if error.is::<ExpirationError>() {
        return RunError::Timeout(timeout);
    }
    if let Some(code) = error.downcast_ref::<ErrorCode>() {
        return RunError::ErrorResponse(format!("{code:?}"));
    }
    if let Some(code) = error.downcast_ref::<ErrorCode02>() {
        return RunError::ErrorResponse(format!("{code:?}"));
    }
    RunError::Trap(format!("{error:#}"))
}

/// What `ProxyHandler` starts instances with.
struct Instances {
    pre: ProxyPre<State>,
    engine: Engine,
    prepared: Arc<Prepared>,
    observer: Option<Arc<dyn Observer>>,
    /// Where each instance takes its `pool_slots` slots.
    admission: Option<Arc<dyn InstanceAdmission>>,
    pool_slots: u32,
}

impl HandlerState for Instances {
    type StoreData = State;
    type WorkerExpiration = Expiry;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<State, Expiry, Worker>> {
        let slot = match &self.admission {
            Some(admission) => {
                Some(Arc::clone(admission).admit_instance(self.pool_slots).await.ok_or(RunError::NoInstanceSlot)?)
            }
            None => None,
        };
        let started = std::time::Instant::now();
        let (wasi, stderr) = context(&self.prepared)?;
        let state = self.prepared.state(wasi, Inputs::default(), &HeaderMap::new(), None);
        let mut store = store(&self.engine, state);
        let limits = &self.prepared.spec.limits;
        let proxy = tokio::time::timeout(limits.timeout, self.pre.instantiate_async(&mut store))
            .await
            .map_err(|_| RunError::Timeout(limits.timeout))??;
        if let Some(observer) = &self.observer {
            observer.instantiated(started.elapsed());
        }
        let life = Arc::new(Life::default());
        Ok(Instance {
            store,
            proxy,
            view: <State as WasiHttpView>::http,
            expiration: Expiry::new(Arc::clone(&life), limits.timeout),
            state: Worker {
                life,
                reuse: self.prepared.spec.reuse,
                prepared: Arc::clone(&self.prepared),
                stderr,
                hops: AtomicUsize::new(0),
                _slot: slot,
            },
        })
    }
}

/// What a request brings to the instance that takes it.
struct Ticket {
    deadline: Instant,
    /// The request's `CDN-Loop` entries, and how many are wagi's.
    hops: usize,
    cdn_loop: CdnLoop,
    /// Where the instance says it took the request.
    placed: oneshot::Sender<Place>,
}

/// The instance a request was given to, until the request is over.
struct Place {
    life: Arc<Life>,
    deadline: Instant,
    prepared: Arc<Prepared>,
    stderr: OutputCapture,
}

impl std::fmt::Debug for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Place").field("deadline", &self.deadline).finish_non_exhaustive()
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.life.release(self.deadline);
        if !self.stderr.is_empty()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (prepared, stderr) = (Arc::clone(&self.prepared), self.stderr.clone());
            runtime.spawn(async move { prepared.log_stderr(&stderr).await });
        }
    }
}

/// A request whose response is streaming from a reused instance.
struct Served<S> {
    place: Place,
    _slot: Box<S>,
}

impl<S: Send + 'static> SharedRun for Served<S> {
    fn outcome(&self) -> Result<(), RunError> {
        // An instance says how it failed before its store is dropped, which is what ends the
        // bodies it was writing.
        self.place.life.failed.borrow().as_ref().map_or(Ok(()), |failed| Err(failed.clone()))
    }
}

impl<S> std::fmt::Debug for Served<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served").field("place", &self.place).finish_non_exhaustive()
    }
}

/// What an instance's requests and its expiry share: how it failed, if it did, and the
/// deadlines of the requests it is serving.
#[derive(Debug)]
struct Life {
    failed: watch::Sender<Option<RunError>>,
    deadlines: Mutex<BTreeMap<Instant, usize>>,
}

impl Default for Life {
    fn default() -> Self {
        Self { failed: watch::Sender::new(None), deadlines: Mutex::default() }
    }
}

impl Life {
    fn deadlines(&self) -> std::sync::MutexGuard<'_, BTreeMap<Instant, usize>> {
        self.deadlines.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hold(&self, deadline: Instant) {
        *self.deadlines().entry(deadline).or_insert(0) += 1;
    }

    /// A request is over. One over after its deadline stays, so that its instance expires.
    fn release(&self, deadline: Instant) {
        if Instant::now() >= deadline {
            return;
        }
        let mut deadlines = self.deadlines();
        if let Some(count) = deadlines.get_mut(&deadline) {
            *count -= 1;
            if *count == 0 {
                deadlines.remove(&deadline);
            }
        }
    }

    fn earliest(&self) -> Option<Instant> {
        self.deadlines().keys().next().copied()
    }

    /// Records the first way the instance failed.
    fn fail(&self, error: RunError) {
        self.failed.send_if_modified(|failed| {
            let first = failed.is_none();
            if first {
                *failed = Some(error);
            }
            first
        });
    }
}

/// One instance's say in which requests it takes.
struct Worker {
    life: Arc<Life>,
    reuse: Reuse,
    prepared: Arc<Prepared>,
    stderr: OutputCapture,
    /// The highest `CDN-Loop` count of the requests taken so far.
    hops: AtomicUsize,
    /// The instance's slots in the server's admission, given back when it is dropped.
    _slot: Option<InstanceSlot>,
}

impl WorkerState for Worker {
    type StoreData = State;
    type RequestData = Ticket;

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.reuse.requests as usize {
            ShouldAccept::Never
        } else if concurrent >= self.reuse.concurrency as usize {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        mut store: StoreContextMut<'_, State>,
        ticket: Ticket,
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        let Ticket { deadline, hops, cdn_loop, placed } = ticket;
        if hops > self.hops.fetch_max(hops, Ordering::Relaxed) {
            store.data_mut().outbound = OutboundSession::new(Arc::clone(&self.prepared.outbound), cdn_loop);
        }
        self.life.hold(deadline);
        let place = Place {
            life: Arc::clone(&self.life),
            deadline,
            prepared: Arc::clone(&self.prepared),
            stderr: self.stderr.clone(),
        };
        // A request whose client has gone expires at once; its place, dropped, releases it.
        let waited = placed.send(place).is_ok();
        Box::pin(async move {
            if waited {
                tokio::time::sleep_until(deadline).await;
            }
        })
    }

    fn drop(&self, store: Store<State>, result: wasmtime::Result<()>) {
        if let Err(error) = result.or_else(classify) {
            tracing::warn!(module = %self.prepared.spec.name, %error, "dropping a reused instance");
            self.life.fail(store.data().limits.explain(error));
        }
        drop(store);
        if !self.stderr.is_empty()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (prepared, stderr) = (Arc::clone(&self.prepared), self.stderr.clone());
            runtime.spawn(async move { prepared.log_stderr(&stderr).await });
        }
    }
}

/// When an instance must go: when the earliest deadline of the requests it serves has passed,
/// or when it has been idle for [`IDLE`].
struct Expiry {
    life: Arc<Life>,
    timeout: Duration,
    timer: Pin<Box<Sleep>>,
}

impl Expiry {
    fn new(life: Arc<Life>, timeout: Duration) -> Self {
        Self { life, timeout, timer: Box::pin(tokio::time::sleep(timeout)) }
    }
}

impl WorkerExpiration for Expiry {
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        status: WorkerStatus,
        since: std::time::Instant,
    ) -> Poll<()> {
        let since = Instant::from_std(since);
        let until = match status {
            WorkerStatus::Idle => since + IDLE,
            // Work left after the responses (a guest task still running) gets one timeout.
            WorkerStatus::Requests | WorkerStatus::PostReturn => self.life.earliest().unwrap_or(since + self.timeout),
        };
        if self.timer.deadline() != until {
            self.timer.as_mut().reset(until);
        }
        if Instant::now() < until && self.timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if status != WorkerStatus::Idle {
            let timeout = self.timeout;
            self.life.fail(RunError::Timeout(timeout));
        }
        Poll::Ready(())
    }
}
