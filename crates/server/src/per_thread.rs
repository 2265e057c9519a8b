//! Values kept once per thread, so threads serving requests at once each update memory of their
//! own instead of passing one cache line back and forth.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// One `T` per slot, each alone on its cache lines. A thread always takes the same slot; there
/// are twice as many slots as CPUs, so other threads rarely share one with a serving thread.
/// Readers visit every slot and combine what they find.
pub(crate) struct PerThread<T> {
    slots: Box<[Slot<T>]>,
}

#[repr(align(128))]
#[derive(Default)]
struct Slot<T>(Mutex<T>);

impl<T: Default> Default for PerThread<T> {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self { slots: (0..threads * 2).map(|_| Slot::default()).collect() }
    }
}

impl<T> std::fmt::Debug for PerThread<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerThread").field("slots", &self.slots.len()).finish_non_exhaustive()
    }
}

impl<T> PerThread<T> {
    /// This thread's slot, locked.
    pub(crate) fn mine(&self) -> MutexGuard<'_, T> {
        thread_local! {
            /// This thread's slot number; assigned in turn on first use.
            static INDEX: usize = {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                NEXT.fetch_add(1, Ordering::Relaxed)
            };
        }
        let index = INDEX.with(|index| *index % self.slots.len());
        lock(&self.slots[index].0)
    }

    /// Every slot, locked one at a time.
    pub(crate) fn each(&self) -> impl Iterator<Item = MutexGuard<'_, T>> {
        self.slots.iter().map(|slot| lock(&slot.0))
    }
}

/// A poisoned lock still holds a usable value: each update leaves it whole.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_its_slot_and_readers_see_every_slot() {
        let counts = std::sync::Arc::new(PerThread::<u64>::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counts = std::sync::Arc::clone(&counts);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        *counts.mine() += 1;
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("counting thread");
        }
        assert_eq!(counts.each().map(|count| *count).sum::<u64>(), 4000);
        *counts.mine() += 1;
        *counts.mine() += 1;
        assert!(counts.each().any(|count| *count % 1000 == 2), "one thread's two updates land in one slot");
    }
}
