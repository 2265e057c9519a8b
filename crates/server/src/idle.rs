//! Connections that hold a place without using it: each connection's [`Activity`], the
//! [`watch`] that closes it when it has been idle too long, and the [`OpenConnections`] the accept
//! loop asks to close the connection idle longest when the connection cap is reached.
//!
//! A connection is idle while no request of it is in flight: from accept until its first request
//! head is complete, and between requests. It may be idle for `--header-read-timeout` before its
//! first request (counted from accept, so a client that never sends a byte is closed as surely as
//! one that sends slowly) and for `--keep-alive-timeout` after each. HTTP/1.1 and HTTP/2 are
//! alike here: an HTTP/2 connection with no stream open is idle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How long connections may be idle.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IdleLimits {
    /// Before the first request head is complete, counted from accept.
    pub(crate) first_request: Duration,
    /// After a response, until the next request head is complete.
    pub(crate) between_requests: Duration,
}

/// What one connection is doing, written by its requests and read by its watch and by eviction.
/// Only the connection's own thread writes it, so the atomics are never contended.
#[derive(Debug)]
pub(crate) struct Activity {
    /// The table's clock, which `idle_since` counts from.
    clock: Instant,
    /// Requests whose head has arrived and whose response has not ended.
    in_flight: AtomicU32,
    /// Whether any request has started.
    served: AtomicBool,
    /// When the connection last became idle, in milliseconds since `clock`.
    idle_since: AtomicU64,
    /// Told when the accept loop wants this connection closed to make room.
    evict: Notify,
}

impl Activity {
    /// A request's head has arrived; the connection is busy until the guard is dropped, when the
    /// response has ended.
    pub(crate) fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.served.store(true, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
    }

    fn idle_since(&self) -> Instant {
        self.clock + Duration::from_millis(self.idle_since.load(Ordering::Relaxed))
    }

    fn now_millis(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A request in flight on a connection; dropping it marks the connection idle from now, once no
/// other request of it is in flight.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        activity.idle_since.store(activity.now_millis(), Ordering::Relaxed);
        activity.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Returns when the connection should be closed: it has been idle past its limit, or it was asked
/// to make room while idle. The caller drops the connection, which closes it.
pub(crate) async fn watch(activity: &Activity, limits: IdleLimits) {
    loop {
        let limit =
            if activity.served.load(Ordering::Relaxed) { limits.between_requests } else { limits.first_request };
        // Requests come and go without waking the watch, so it looks again at least every
        // shorter limit: an idle spell that began meanwhile ends by then plus its own limit.
        let recheck = Instant::now() + limits.first_request.min(limits.between_requests);
        let deadline = if activity.is_idle() { recheck.min(activity.idle_since() + limit) } else { recheck };
        tokio::select! {
            () = activity.evict.notified() => {
                if activity.is_idle() {
                    return;
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                if activity.is_idle() && activity.idle_since() + limit <= Instant::now() {
                    return;
                }
            }
        }
    }
}

/// Every open connection's activity, so that the one idle longest can be found when there is no
/// room for another.
#[derive(Debug)]
pub(crate) struct OpenConnections {
    clock: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Weak<Activity>>>,
}

impl OpenConnections {
    pub(crate) fn new() -> Self {
        Self { clock: Instant::now(), next_id: AtomicU64::new(0), open: Mutex::new(HashMap::new()) }
    }

    /// A connection accepted now, idle until its first request; it is forgotten when the returned
    /// registration is dropped.
    pub(crate) fn opened(self: &Arc<Self>) -> (Arc<Activity>, Registration) {
        let activity = Arc::new(Activity {
            clock: self.clock,
            in_flight: AtomicU32::new(0),
            served: AtomicBool::new(false),
            idle_since: AtomicU64::new(0),
            evict: Notify::new(),
        });
        activity.idle_since.store(activity.now_millis(), Ordering::Relaxed);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, Arc::downgrade(&activity));
        (activity, Registration { table: Arc::clone(self), id })
    }

    /// Asks the connection idle longest to close; false when every connection is busy.
    pub(crate) fn evict_idlest(&self) -> bool {
        let open = self.lock();
        let idlest = open
            .values()
            .filter_map(Weak::upgrade)
            .filter(|activity| activity.is_idle())
            .min_by_key(|activity| activity.idle_since.load(Ordering::Relaxed));
        match idlest {
            Some(activity) => {
                activity.evict.notify_one();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Weak<Activity>>> {
        // The map stays whole if a holder panicked: every change is one insert or remove.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection's place in [`OpenConnections`], given up when the connection ends.
#[derive(Debug)]
pub(crate) struct Registration {
    table: Arc<OpenConnections>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.table.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: IdleLimits =
        IdleLimits { first_request: Duration::from_secs(10), between_requests: Duration::from_secs(60) };

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_is_closed_at_the_first_request_limit() {
        let table = Arc::new(OpenConnections::new());
        let (activity, _registration) = table.opened();
        let opened = Instant::now();
        watch(&activity, LIMITS).await;
        assert_eq!(opened.elapsed(), LIMITS.first_request);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_is_kept_and_then_given_the_keep_alive_limit() {
        let table = Arc::new(OpenConnections::new());
        let (activity, _registration) = table.opened();
        let request = activity.request_started();
        let watched = tokio::spawn({
            let activity = Arc::clone(&activity);
            async move { watch(&activity, LIMITS).await }
        });
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert!(!watched.is_finished(), "a connection with a request in flight was closed");
        drop(request);
        let ended = Instant::now();
        watched.await.expect("the watch");
        assert!(ended.elapsed() >= LIMITS.between_requests, "closed after {:?}", ended.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_during_a_long_first_wait_gives_the_short_keep_alive_limit() {
        let limits = IdleLimits { first_request: Duration::from_secs(300), between_requests: Duration::from_secs(1) };
        let table = Arc::new(OpenConnections::new());
        let (activity, _registration) = table.opened();
        let watched = tokio::spawn({
            let activity = Arc::clone(&activity);
            async move { watch(&activity, limits).await }
        });
        tokio::time::advance(Duration::from_millis(500)).await;
        drop(activity.request_started());
        let ended = Instant::now();
        watched.await.expect("the watch");
        assert!(ended.elapsed() >= limits.between_requests, "closed after {:?}", ended.elapsed());
        assert!(ended.elapsed() <= 2 * limits.between_requests, "closed after {:?}", ended.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn eviction_picks_the_connection_idle_longest_and_spares_busy_ones() {
        let table = Arc::new(OpenConnections::new());
        let (oldest_busy, _a) = table.opened();
        let _request = oldest_busy.request_started();
        tokio::time::advance(Duration::from_secs(1)).await;
        let (idle_longest, _b) = table.opened();
        tokio::time::advance(Duration::from_secs(1)).await;
        let (newest, _c) = table.opened();
        assert!(table.evict_idlest());
        // The notified connection's watch returns at once; the others keep waiting.
        tokio::time::timeout(Duration::from_millis(1), watch(&idle_longest, LIMITS)).await.expect("evicted");
        assert!(tokio::time::timeout(Duration::from_millis(1), watch(&newest, LIMITS)).await.is_err());
        assert!(tokio::time::timeout(Duration::from_millis(1), watch(&oldest_busy, LIMITS)).await.is_err());
    }

    #[test]
    fn a_table_of_busy_connections_has_nothing_to_evict() {
        let table = Arc::new(OpenConnections::new());
        let (activity, registration) = table.opened();
        let _request = activity.request_started();
        assert!(!table.evict_idlest());
        drop(registration);
        assert!(table.lock().is_empty());
    }
}
