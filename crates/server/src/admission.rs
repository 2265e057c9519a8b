//! Admission control: a bound on modules running at once, with a bounded wait queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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
}

/// A slot to run one module; released when dropped.
#[derive(Debug)]
pub(crate) struct Slot(#[allow(dead_code, reason = "held for its drop")] OwnedSemaphorePermit);

impl Admission {
    pub(crate) fn new(running: usize, queue: usize, wait: Duration) -> Self {
        Self { slots: Arc::new(Semaphore::new(running.max(1))), waiting: AtomicUsize::new(0), queue, wait }
    }

    /// Waits for a slot; `None` when the queue is full or the wait timed out.
    pub(crate) async fn admit(&self) -> Option<Slot> {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Some(Slot(permit));
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match permit {
            Ok(Ok(permit)) => Some(Slot(permit)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn excess_requests_queue_then_are_turned_away() {
        let admission = Admission::new(1, 1, Duration::from_millis(50));
        let first = admission.admit().await.expect("a free slot");
        // The queue has room for one waiter, which times out because the slot stays taken.
        assert!(admission.admit().await.is_none());
        drop(first);
        assert!(admission.admit().await.is_some());
    }
}
