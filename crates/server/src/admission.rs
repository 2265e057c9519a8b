//! Admission control: a bound on modules running at once, with a bounded wait queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Lets at most `running` requests run modules at once; up to `queue` more wait for a slot, each
/// for at most `wait`. Anything beyond is turned away at once, so overload sheds load instead of
/// exhausting the instance pool or memory.
#[derive(Debug)]
pub(crate) struct Admission {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    wait: Duration,
    /// Slots taken and requests waiting, as exported metrics.
    running_gauge: Gauge,
    queued_gauge: Gauge,
}

/// A slot to run one module; released when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    running: Gauge,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.running.dec();
    }
}

impl Admission {
    /// `gauges` are (running, queued), kept up to date.
    pub(crate) fn new(running: usize, queue: usize, wait: Duration, gauges: (Gauge, Gauge)) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(running.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
            wait,
            running_gauge: gauges.0,
            queued_gauge: gauges.1,
        }
    }

    fn slot(&self, permit: OwnedSemaphorePermit) -> Slot {
        self.running_gauge.inc();
        Slot { _permit: permit, running: self.running_gauge.clone() }
    }

    /// Waits for a slot; `None` when the queue is full or the wait timed out.
    pub(crate) async fn admit(&self) -> Option<Slot> {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Some(self.slot(permit));
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        self.queued_gauge.inc();
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned()).await;
        self.queued_gauge.dec();
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match permit {
            Ok(Ok(permit)) => Some(self.slot(permit)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn excess_requests_queue_then_are_turned_away() {
        let admission = Admission::new(1, 1, Duration::from_millis(50), (Gauge::default(), Gauge::default()));
        let first = admission.admit().await.expect("a free slot");
        assert_eq!(admission.running_gauge.get(), 1);
        // The queue has room for one waiter, which times out because the slot stays taken.
        assert!(admission.admit().await.is_none());
        assert_eq!(admission.queued_gauge.get(), 0);
        drop(first);
        assert_eq!(admission.running_gauge.get(), 0);
        assert!(admission.admit().await.is_some());
    }
}
