//! The linear memory of all instances together: one budget shared by every store, charged as a
//! memory is created or grows and credited back when the store is dropped.
//!
//! The per-instance limit (`max_memory`) alone lets `max_instances` instances take
//! `max_instances × max_memory` bytes, far more than a machine has; this bounds their sum.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::{ResourceLimiter, StoreLimits};

use crate::error::RunError;

/// Bytes of linear memory that the instances of one runtime may have together.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    limit: u64,
    used: AtomicU64,
}

impl MemoryBudget {
    pub(crate) fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self { limit, used: AtomicU64::new(0) })
    }

    /// Takes `bytes` from the budget, unless that would take it past its limit.
    fn try_charge(&self, bytes: u64) -> bool {
        // Relaxed: the counter publishes no other data, only its own value has to be exact.
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    fn credit(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// One store's resource limiter: the per-instance limits first, then the shared budget.
///
/// Every memory of the store (a component has several) is charged as it is created and as it
/// grows; all of it is credited back when the store, and with it this limiter, is dropped.
pub(crate) struct Limiter {
    limits: StoreLimits,
    budget: Arc<MemoryBudget>,
    charged: u64,
    refused: bool,
}

impl Limiter {
    pub(crate) fn new(limits: StoreLimits, budget: &Arc<MemoryBudget>) -> Self {
        Self { limits, budget: Arc::clone(budget), charged: 0, refused: false }
    }

    /// Why the instance failed, if the budget refused it memory: an instantiation the budget
    /// refused gets a message naming the limit in place of wasmtime's; a trap after a refused
    /// `memory.grow` (a guest allocator's usual answer to it) says so.
    pub(crate) fn explain(&self, error: RunError) -> RunError {
        if !self.refused {
            return error;
        }
        let limit = self.budget.limit;
        let why = format!("the memory of all instances together is at --max-total-memory ({limit} bytes)");
        match error {
            RunError::Instantiate(_) => RunError::NoMemoryLeft(why),
            RunError::Trap(trap) => RunError::Trap(format!("{trap}, after memory.grow was refused: {why}")),
            other => other,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if !self.limits.memory_growing(current, desired, maximum)? {
            return Ok(false);
        }
        // Instantiation asks for the initial size with `current` 0, so it is charged too.
        let bytes = u64::try_from(desired.saturating_sub(current)).unwrap_or(u64::MAX);
        if !self.budget.try_charge(bytes) {
            // `memory.grow` returns -1, as the wasm spec lets any growth fail; an instantiation
            // fails. Not a trap: the budget is shared, so a module that can do with less may.
            self.refused = true;
            return Ok(false);
        }
        self.charged += bytes;
        Ok(true)
    }

    // A growth charged above and then failed (e.g. the memory cannot move) stays charged until
    // the store is dropped, which `trap_on_grow_failure` makes right away.
    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl Drop for Limiter {
    fn drop(&mut self) {
        self.budget.credit(self.charged);
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::{Engine, Instance, Module, Store, StoreLimitsBuilder};

    use super::*;

    const PAGE: u64 = 64 << 10;

    fn used(budget: &MemoryBudget) -> u64 {
        budget.used.load(Ordering::Relaxed)
    }

    fn limiter(budget: &Arc<MemoryBudget>, max_memory: usize) -> Limiter {
        Limiter::new(StoreLimitsBuilder::new().memory_size(max_memory).trap_on_grow_failure(true).build(), budget)
    }

    #[test]
    fn charges_refuses_past_the_limit_and_credits_on_drop() {
        let budget = MemoryBudget::new(100);
        let mut first = limiter(&budget, 1000);
        assert!(first.memory_growing(0, 60, None).expect("no trap"));
        assert_eq!(used(&budget), 60);
        let mut second = limiter(&budget, 1000);
        assert!(second.memory_growing(0, 40, None).expect("no trap"));
        assert_eq!(used(&budget), 100);
        assert!(!second.memory_growing(40, 41, None).expect("no trap"), "one byte past the budget is refused");
        assert_eq!(used(&budget), 100, "a refusal charges nothing");
        drop(first);
        assert_eq!(used(&budget), 40);
        assert!(second.memory_growing(40, 90, None).expect("no trap"), "what a dropped store had is free again");
        drop(second);
        assert_eq!(used(&budget), 0);
    }

    #[test]
    fn the_per_instance_limit_still_traps_before_the_budget_is_asked() {
        let budget = MemoryBudget::new(1000);
        let mut limiter = limiter(&budget, 10);
        assert!(limiter.memory_growing(0, 11, None).is_err());
        assert_eq!(used(&budget), 0);
    }

    /// Through wasmtime: the initial memory is charged, a refused instantiation fails, a refused
    /// `memory.grow` returns -1, and dropping the store frees its share.
    #[test]
    fn instances_share_the_budget() {
        let engine = Engine::default();
        let wat = r#"(module (memory (export "memory") 2)
            (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#;
        let module = Module::new(&engine, wat::parse_str(wat).expect("valid wat")).expect("compiles");
        let budget = MemoryBudget::new(5 * PAGE);
        let store = |budget: &Arc<MemoryBudget>| {
            let mut store = Store::new(&engine, limiter(budget, 1 << 30));
            store.limiter(|limiter| limiter);
            store
        };
        let mut first = store(&budget);
        let instance = Instance::new(&mut first, &module, &[]).expect("fits");
        let grow = instance.get_typed_func::<i32, i32>(&mut first, "grow").expect("exported");
        assert_eq!(grow.call(&mut first, 1).expect("no trap"), 2, "3 of 5 pages");
        let mut second = store(&budget);
        Instance::new(&mut second, &module, &[]).expect("fits");
        assert_eq!(used(&budget), 5 * PAGE);
        assert_eq!(grow.call(&mut first, 1).expect("no trap"), -1, "a sixth page is refused");
        let mut third = store(&budget);
        assert!(Instance::new(&mut third, &module, &[]).is_err(), "no room for an initial memory");
        drop(second);
        assert_eq!(used(&budget), 3 * PAGE);
        assert_eq!(grow.call(&mut first, 1).expect("no trap"), 3);
        drop(first);
        drop(third);
        assert_eq!(used(&budget), 0);
    }
}
