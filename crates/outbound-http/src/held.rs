//! The outbound bytes one request holds in host memory at once, under `--outbound-max-held`:
//! the `wasi_experimental_http` responses it has open (headers and body, until closed) and the
//! `wasi:http` request bodies being collected and sent. They live outside the module's linear
//! memory, so `max_memory` does not bound them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One request's budget, shared by everything that holds its bytes.
#[derive(Debug)]
pub(crate) struct HeldBudget {
    held: AtomicUsize,
    max: usize,
}

impl HeldBudget {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { held: AtomicUsize::new(0), max })
    }
}

/// A share of a request's budget, given back when dropped.
#[derive(Debug)]
pub(crate) struct Held {
    budget: Arc<HeldBudget>,
    bytes: usize,
}

impl Held {
    /// An empty share of `budget`.
    pub(crate) fn new(budget: &Arc<HeldBudget>) -> Self {
        Self { budget: Arc::clone(budget), bytes: 0 }
    }

    /// Counts `more` bytes; `false`, counting nothing, when the request would then hold more
    /// than its budget.
    #[must_use]
    pub(crate) fn grow(&mut self, more: usize) -> bool {
        let budget = &self.budget;
        let grown = budget
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(more).filter(|total| *total <= budget.max)
            })
            .is_ok();
        if grown {
            self.bytes += more;
        }
        grown
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_count_against_one_budget_until_dropped() {
        let budget = HeldBudget::new(10);
        let mut first = Held::new(&budget);
        let mut second = Held::new(&budget);
        assert!(first.grow(6));
        assert!(!second.grow(5), "6 + 5 is over 10");
        assert!(second.grow(4));
        assert!(!first.grow(1));
        drop(first);
        assert!(second.grow(6));
        assert!(!second.grow(usize::MAX), "no overflow");
    }
}
