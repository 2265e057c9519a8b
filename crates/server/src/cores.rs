//! The threads connections are served on: one single-threaded runtime per CPU, each connection
//! staying on the thread it was handed to.
//!
//! On one shared work-stealing runtime a connection's task runs on whichever worker noticed its
//! socket was ready, so its buffers, its module's instance and the allocator's caches move
//! between CPUs from one request to the next. Kept on one thread they stay in that CPU's caches;
//! side by side this served `hello.wat` 8-26% faster on 2 CPUs.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// Guests yield every epoch tick and are polled again at once, so a thread running busy guests
/// would look for new I/O only every 61 polls (tokio's default) and take the connections handed
/// to it only every 31, each poll up to a tick long. With 8 looping guests on 2 CPUs that put
/// `/healthz`'s p99 at 70 ms; checking both every 4 polls brought it to 16 ms, with no cost
/// measurable in throughput.
const EVENT_INTERVAL: u32 = 4;
const GLOBAL_QUEUE_INTERVAL: u32 = 4;

/// The serving threads; they stop, cancelling what still runs on them, when this is dropped.
#[derive(Debug)]
pub(crate) struct Cores {
    handles: Vec<Handle>,
    next: AtomicUsize,
    /// Dropping these ends each thread's runtime.
    _stops: Vec<oneshot::Sender<()>>,
}

impl Cores {
    /// Starts one serving thread per CPU available to the process (at least one).
    pub(crate) fn start() -> std::io::Result<Self> {
        let count = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let mut handles = Vec::with_capacity(count);
        let mut stops = Vec::with_capacity(count);
        for index in 0..count {
            let runtime = Builder::new_current_thread()
                .enable_all()
                .event_interval(EVENT_INTERVAL)
                .global_queue_interval(GLOBAL_QUEUE_INTERVAL)
                .build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            handles.push(runtime.handle().clone());
            std::thread::Builder::new().name(format!("wagi-core-{index}")).spawn(move || {
                // Returns once `stop` is dropped; the runtime then drops the tasks left on it.
                let _ = runtime.block_on(stopped);
            })?;
            stops.push(stop);
        }
        Ok(Self { handles, next: AtomicUsize::new(0), _stops: stops })
    }

    /// Runs `task` on the next thread in turn.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[index].spawn(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_run_on_the_serving_threads_in_turn() {
        let cores = Cores::start().expect("threads start");
        let mut names = Vec::new();
        for _ in 0..cores.handles.len() * 2 {
            let (sender, receiver) = oneshot::channel();
            cores.spawn(async move {
                let _ = sender.send(std::thread::current().name().map(str::to_owned));
            });
            names.push(receiver.await.expect("the task ran").expect("a named thread"));
        }
        let count = cores.handles.len();
        for (index, name) in names.iter().enumerate() {
            assert_eq!(name, &format!("wagi-core-{}", index % count));
        }
    }
}
