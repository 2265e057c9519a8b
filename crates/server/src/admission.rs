//! Admission control: a bound on modules running at once, with a bounded wait queue.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wagi_runtime::{InstanceAdmission, InstanceSlot};

/// Lets modules take at most `running` slots at once (a core module takes one, a component one
/// per core instance it creates, see `Handler::pool_slots`); up to `queue` more requests wait for
/// their slots, each for at most `wait`. Anything beyond is turned away at once, so overload
/// sheds load instead of exhausting the instance pool or memory.
#[derive(Debug)]
pub struct Admission {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    wait: Duration,
    /// Slots taken and requests waiting, as exported metrics.
    running_gauge: Gauge,
    queued_gauge: Gauge,
    rejections: Rejections,
}

/// Requests admission turned away, by why: the series that tells its `503`s from modules' own.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rejections {
    /// The queue was full.
    pub(crate) queue_full: Counter,
    /// The request waited `--queue-timeout` in the queue.
    pub(crate) queue_timeout: Counter,
}

/// The slots to run one module; released when dropped.
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
    /// `gauges` are (running, queued), kept up to date; `rejections` are counted.
    pub(crate) fn new(
        running: usize,
        queue: usize,
        wait: Duration,
        gauges: (Gauge, Gauge),
        rejections: Rejections,
    ) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(running.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
            wait,
            running_gauge: gauges.0,
            queued_gauge: gauges.1,
            rejections,
        }
    }

    fn slot(&self, permit: OwnedSemaphorePermit) -> Slot {
        self.running_gauge.inc();
        Slot { _permit: permit, running: self.running_gauge.clone() }
    }

    /// Waits for `slots` slots; `None` when the queue is full or the wait timed out.
    pub(crate) async fn admit(&self, slots: u32) -> Option<Slot> {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_many_owned(slots) {
            return Some(self.slot(permit));
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            self.rejections.queue_full.inc();
            return None;
        }
        self.queued_gauge.inc();
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_many_owned(slots)).await;
        self.queued_gauge.dec();
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match permit {
            Ok(Ok(permit)) => Some(self.slot(permit)),
            _ => {
                self.rejections.queue_timeout.inc();
                None
            }
        }
    }
}

/// Reused instances wait for their slots as requests do, in the same queue.
impl InstanceAdmission for Admission {
    fn admit_instance(self: Arc<Self>, slots: u32) -> Pin<Box<dyn Future<Output = Option<InstanceSlot>> + Send>> {
        Box::pin(async move { self.admit(slots).await.map(|slot| Box::new(slot) as InstanceSlot) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn excess_requests_queue_then_are_turned_away() {
        let rejections = Rejections::default();
        let admission =
            Admission::new(1, 1, Duration::from_millis(50), (Gauge::default(), Gauge::default()), rejections.clone());
        let first = admission.admit(1).await.expect("a free slot");
        assert_eq!(admission.running_gauge.get(), 1);
        // The queue has room for one waiter, which times out because the slot stays taken.
        assert!(admission.admit(1).await.is_none());
        assert_eq!(admission.queued_gauge.get(), 0);
        assert_eq!((rejections.queue_full.get(), rejections.queue_timeout.get()), (0, 1));
        drop(first);
        assert_eq!(admission.running_gauge.get(), 0);
        assert!(admission.admit(1).await.is_some());
    }

    #[tokio::test]
    async fn a_request_takes_as_many_slots_as_its_module_needs() {
        let admission = Admission::new(
            4,
            1,
            Duration::from_millis(50),
            (Gauge::default(), Gauge::default()),
            Rejections::default(),
        );
        let component = admission.admit(3).await.expect("three free slots");
        // One slot is left: a request that needs two waits and times out, one that needs one runs.
        assert!(admission.admit(2).await.is_none());
        let module = admission.admit(1).await.expect("the last slot");
        assert_eq!(admission.running_gauge.get(), 2);
        drop((component, module));
        assert!(admission.admit(4).await.is_some());
    }
}
