//! What every kind of handler shares to run its guest for one request: a fresh store with the
//! request's state, the memory limits, and an epoch deadline, under which the kind instantiates
//! and calls its export; and how a failed call is told apart (an exit, a trap, the deadline).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;

use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::I32Exit;

use crate::engine::Observer;
use crate::error::RunError;
use crate::spec::Limits;
use crate::state::State;

/// A module's run, from instantiation to exit, owning everything it needs.
pub(crate) type Guest = Pin<Box<dyn Future<Output = Result<(), RunError>> + Send>>;

/// What each kind of handler does in the store [`run`] makes: instantiate its module and call
/// the export that answers a request.
pub(crate) trait Call {
    /// The engine the module was compiled with.
    fn engine(&self) -> &Engine;

    /// Instantiates the module in `store`, reports it to `instantiated`, and calls it.
    fn call(
        &self,
        store: &mut Store<State>,
        instantiated: &Instantiated<'_>,
    ) -> impl Future<Output = Result<(), RunError>> + Send;
}

/// Tells the observer, if any, how long instantiation took.
pub(crate) struct Instantiated<'a> {
    observer: Option<&'a dyn Observer>,
    started: Instant,
}

impl Instantiated<'_> {
    /// Called by a kind once its instance exists, before calling into it.
    pub(crate) fn report(&self) {
        if let Some(observer) = self.observer {
            observer.instantiated(self.started.elapsed());
        }
    }
}

/// A store of `engine` holding `state`: memory limited, and yielding to other tasks on every
/// epoch. Made as soon as the state is, so the state is moved once and the store, a pointer, is
/// what travels.
pub(crate) fn store(engine: &Engine, state: State) -> Store<State> {
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limits);
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);
    store
}

/// Instantiates and calls `kind` in `store` (see [`store`]), stopping it at the deadline.
pub(crate) async fn run(
    kind: &impl Call,
    mut store: Store<State>,
    limits: &Limits,
    observer: Option<&dyn Observer>,
) -> Result<(), RunError> {
    let started = Instant::now();
    let instantiated = Instantiated { observer, started };
    let outcome = {
        let mut call = std::pin::pin!(kind.call(&mut store, &instantiated));
        // Most modules end within their first poll; only one still running needs a timer for
        // its deadline (a timer costs a runtime lookup, and a lock to set and to cancel it).
        match std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => {
                let deadline = tokio::time::Instant::from_std(started) + limits.timeout;
                tokio::time::timeout_at(deadline, call).await.map_err(|_| RunError::Timeout(limits.timeout))?
            }
        }
    };
    outcome.map_err(|error| store.data().limits.explain(error))
}

/// Turns a failed call into our error; `proc_exit(0)` is success.
pub(crate) fn classify(error: wasmtime::Error) -> Result<(), RunError> {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return if exit.0 == 0 { Ok(()) } else { Err(RunError::Exit(exit.0)) };
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        return Err(RunError::Trap(trap.to_string()));
    }
    Err(RunError::Trap(format!("{error:#}")))
}

/// Wraps a wasmtime error from instantiating a guest.
pub(crate) fn instantiate_error(error: wasmtime::Error) -> RunError {
    RunError::Instantiate(format!("{error:#}"))
}
