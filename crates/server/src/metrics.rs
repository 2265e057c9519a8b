//! Metrics in the Prometheus text format, served on their own listener.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, LabelValueEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::admission::Rejections;
use crate::per_thread::PerThread;

/// Every series wagi exports. Cheap to update from any thread.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    per_request: Arc<PerRequest>,
    pub(crate) running: Gauge,
    pub(crate) queued: Gauge,
    pub(crate) rejections: Rejections,
    module_load: Family<ModuleLabel, Gauge<f64, AtomicU64>>,
    module_compile: Family<ModuleLabel, Gauge<f64, AtomicU64>>,
    artifact_cache: Family<OutcomeLabel, Counter>,
    reloads: Family<OutcomeLabel, Counter>,
    outbound: Family<OutboundLabel, Counter>,
    last_reload_success: Gauge,
    build_info: Family<BuildLabel, Gauge>,
}

/// What a build is: its version, the wasmtime it links, the commit it was built from.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabel {
    version: String,
    wasmtime: String,
    commit: String,
}

/// A route pattern as a label value, shared with the routing table instead of copied.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
struct RouteName(Arc<str>);

impl EncodeLabelValue for RouteName {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(&self.0)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: RouteName,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: RouteName,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModuleLabel {
    module: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboundLabel {
    route: RouteName,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// The series every request updates: requests by route and status, their durations by route,
/// and instantiation times. Each thread tallies its own and a scrape sums them, so threads
/// serving requests never write to the same memory, nor take a shared lock.
#[derive(Debug, Default)]
struct PerRequest(PerThread<Tally>);

/// One thread's counts.
#[derive(Debug, Default)]
struct Tally {
    /// By the address of the route's label, which every request of a route shares.
    routes: HashMap<usize, RouteTally>,
    instantiation: HistogramTally,
}

#[derive(Debug)]
struct RouteTally {
    label: Arc<str>,
    /// Requests by status; a route answers with few distinct statuses.
    statuses: Vec<(u16, u64)>,
    duration: HistogramTally,
}

impl RouteTally {
    fn record(&mut self, status: u16, elapsed: Duration) {
        self.duration.observe(elapsed.as_secs_f64());
        match self.statuses.iter_mut().find(|(seen, _)| *seen == status) {
            Some((_, count)) => *count += 1,
            None => self.statuses.push((status, 1)),
        }
    }
}

/// Duration buckets from 50 µs to about 52 s (x4 each): a tiny module answers in tens of
/// microseconds, a slow one runs until its timeout.
const BUCKETS: usize = 11;

/// Each bucket's upper bound, in seconds.
const BOUNDS: [f64; BUCKETS] = {
    let mut bounds = [50e-6; BUCKETS];
    let mut index = 1;
    while index < BUCKETS {
        bounds[index] = bounds[index - 1] * 4.0;
        index += 1;
    }
    bounds
};

/// A histogram's sum, count and per-bucket counts; the last bucket is +Inf.
#[derive(Clone, Debug, Default)]
struct HistogramTally {
    sum: f64,
    count: u64,
    buckets: [u64; BUCKETS + 1],
}

impl HistogramTally {
    fn observe(&mut self, seconds: f64) {
        let bucket = BOUNDS.iter().position(|&bound| seconds <= bound).unwrap_or(BUCKETS);
        self.buckets[bucket] += 1;
        self.sum += seconds;
        self.count += 1;
    }

    fn add(&mut self, other: &Self) {
        self.sum += other.sum;
        self.count += other.count;
        for (total, count) in self.buckets.iter_mut().zip(other.buckets) {
            *total += count;
        }
    }

    fn encode(&self, mut encoder: prometheus_client::encoding::MetricEncoder<'_>) -> std::fmt::Result {
        // The encoder knows +Inf as `f64::MAX`.
        let buckets: Vec<(f64, u64)> =
            (0..=BUCKETS).map(|index| (BOUNDS.get(index).copied().unwrap_or(f64::MAX), self.buckets[index])).collect();
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, &buckets, None)
    }
}

impl PerRequest {
    fn request_done(&self, route: &Arc<str>, status: u16, elapsed: Duration) {
        let mut tally = self.0.mine();
        let key = Arc::as_ptr(route).cast::<u8>().addr();
        if let Some(tallied) = tally.routes.get_mut(&key) {
            tallied.record(status, elapsed);
            return;
        }
        // A reload gives a route a new label: its counts move to the new key, so there is one
        // entry per route however often the configuration is reloaded.
        let old_key = tally.routes.iter().find(|(_, tallied)| tallied.label == *route).map(|(old_key, _)| *old_key);
        let carried = old_key.and_then(|old_key| tally.routes.remove(&old_key));
        let fresh =
            || RouteTally { label: Arc::clone(route), statuses: Vec::new(), duration: HistogramTally::default() };
        let moved = carried.map(|tallied| RouteTally { label: Arc::clone(route), ..tallied });
        tally.routes.entry(key).or_insert(moved.unwrap_or_else(fresh)).record(status, elapsed);
    }

    fn instantiated(&self, elapsed: Duration) {
        self.0.mine().instantiation.observe(elapsed.as_secs_f64());
    }
}

impl Collector for PerRequest {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        // Routes by label: a reload gives the same route a new label `Arc`.
        let mut statuses = BTreeMap::<(Arc<str>, u16), u64>::new();
        let mut durations = BTreeMap::<Arc<str>, HistogramTally>::new();
        let mut instantiation = HistogramTally::default();
        for tally in self.0.each() {
            instantiation.add(&tally.instantiation);
            for route in tally.routes.values() {
                for &(status, count) in &route.statuses {
                    *statuses.entry((Arc::clone(&route.label), status)).or_default() += count;
                }
                durations.entry(Arc::clone(&route.label)).or_default().add(&route.duration);
            }
        }
        let mut requests = encoder.encode_descriptor(
            "requests",
            "Requests answered, by route and status.",
            None,
            MetricType::Counter,
        )?;
        for ((route, status), count) in statuses {
            let labels = RouteStatus { route: RouteName(route), status };
            requests.encode_family(&labels)?.encode_counter::<NoLabelSet, _, f64>(&count, None)?;
        }
        let mut by_route = encoder.encode_descriptor(
            "request_duration_seconds",
            "Time from receiving a request to sending the last byte of its response, by route.",
            None,
            MetricType::Histogram,
        )?;
        for (route, duration) in durations {
            duration.encode(by_route.encode_family(&RouteLabel { route: RouteName(route) })?)?;
        }
        instantiation.encode(encoder.encode_descriptor(
            "instantiation_duration_seconds",
            "Time to create a module instance.",
            None,
            MetricType::Histogram,
        )?)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All series registered, all zero.
    pub fn new() -> Self {
        // The process series keep the names every client library gives them; wagi's own are
        // prefixed.
        let mut root = Registry::default();
        #[cfg(target_os = "linux")]
        root.register_collector(Box::new(crate::process::Process));
        let registry = root.sub_registry_with_prefix("wagi");
        let per_request = Arc::new(PerRequest::default());
        registry.register_collector(Box::new(Arc::clone(&per_request)));
        let running = Gauge::default();
        registry.register("instances_running", "Module instances running now", running.clone());
        let queued = Gauge::default();
        registry.register("requests_queued", "Requests waiting for a free instance", queued.clone());
        let rejected = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "admission_rejections",
            "Requests answered 503 because no instance was free: the queue was full (queue_full) or the wait ran out (queue_timeout)",
            rejected.clone(),
        );
        // One at a time: the family stays locked while a series it returned is borrowed.
        let queue_full = rejected.get_or_create(&ReasonLabel { reason: "queue_full" }).clone();
        let queue_timeout = rejected.get_or_create(&ReasonLabel { reason: "queue_timeout" }).clone();
        let rejections = Rejections { queue_full, queue_timeout };
        let module_load = Family::<ModuleLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "module_load_seconds",
            "Time the last (re)load took to fetch each module",
            module_load.clone(),
        );
        let module_compile = Family::<ModuleLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "module_compile_seconds",
            "Time the last (re)load took to compile each module or read its compiled code",
            module_compile.clone(),
        );
        let artifact_cache = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "artifact_cache",
            "Modules whose compiled code was found in the cache (hit) or compiled (miss)",
            artifact_cache.clone(),
        );
        let reloads = Family::<OutcomeLabel, Counter>::default();
        registry.register("reloads", "Configuration reloads, by outcome", reloads.clone());
        // Both outcomes are there from the start, so a rate over them has a series before the
        // first reload.
        for outcome in ["ok", "error"] {
            drop(reloads.get_or_create(&OutcomeLabel { outcome }));
        }
        let outbound = Family::<OutboundLabel, Counter>::default();
        registry.register(
            "outbound_requests",
            "Outbound HTTP requests modules made, by route and result: response (any status), denied (allowed_hosts), limited, failed",
            outbound.clone(),
        );
        let last_reload_success = Gauge::default();
        registry.register(
            "last_reload_success",
            "1 when the configuration in use is the one last read (startup or the last reload), 0 when the last reload failed",
            last_reload_success.clone(),
        );
        last_reload_success.set(1);
        let build_info = Family::<BuildLabel, Gauge>::default();
        registry.register("build_info", "The running build, as labels; always 1", build_info.clone());
        Self {
            registry: root,
            per_request,
            running,
            queued,
            rejections,
            module_load,
            module_compile,
            artifact_cache,
            reloads,
            outbound,
            last_reload_success,
            build_info,
        }
    }

    /// Counts one answered request.
    pub(crate) fn request_done(&self, route: &Arc<str>, status: u16, elapsed: Duration) {
        self.per_request.request_done(route, status, elapsed);
    }

    /// Records how long the last load took to fetch `module`.
    pub fn module_fetched(&self, module: &str, took: Duration) {
        self.module_load.get_or_create(&ModuleLabel { module: module.to_owned() }).set(took.as_secs_f64());
    }

    /// Records how long the last load took to compile `module`, and whether its compiled code
    /// came from the cache.
    pub fn module_compiled(&self, module: &str, took: Duration, cache_hit: bool) {
        self.module_compile.get_or_create(&ModuleLabel { module: module.to_owned() }).set(took.as_secs_f64());
        let outcome = if cache_hit { "hit" } else { "miss" };
        self.artifact_cache.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// Says which build is running: `wagi_build_info{version, wasmtime, commit} 1`.
    pub fn set_build(&self, version: &str, wasmtime: &str, commit: &str) {
        let label =
            BuildLabel { version: version.to_owned(), wasmtime: wasmtime.to_owned(), commit: commit.to_owned() };
        self.build_info.get_or_create(&label).set(1);
    }

    /// Counts a reload attempt.
    pub fn reloaded(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.reloads.get_or_create(&OutcomeLabel { outcome }).inc();
        self.last_reload_success.set(i64::from(ok));
    }

    /// The text exposition of every series.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            let _ = writeln!(text, "# encoding failed: {error}");
        }
        text
    }
}

impl wagi_runtime::OutboundObserver for Metrics {
    fn outbound_done(&self, route: &Arc<str>, result: wagi_runtime::OutboundResult) {
        let label = OutboundLabel { route: RouteName(Arc::clone(route)), result: result.as_str() };
        self.outbound.get_or_create(&label).inc();
    }
}

impl wagi_runtime::Observer for Metrics {
    fn instantiated(&self, elapsed: Duration) {
        self.per_request.instantiated(elapsed);
    }
}

/// Serves `GET /metrics` on `listener` until `shutdown` completes.
pub async fn serve_metrics(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "metrics accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let metrics = Arc::clone(&metrics);
        let service = service_fn(move |request| scrape(request, Arc::clone(&metrics)));
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10));
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "metrics connection ended with an error");
            }
        });
    }
}

async fn scrape(request: Request<Incoming>, metrics: Arc<Metrics>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, content_type, body) = if request.uri().path() == "/metrics" {
        (StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", metrics.encode())
    } else {
        (StatusCode::NOT_FOUND, "text/plain", "not found; metrics are at /metrics\n".to_owned())
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use wagi_runtime::Observer as _;

    use super::*;

    #[test]
    fn tallies_from_every_thread_add_up_by_route() {
        let metrics = Metrics::new();
        // A reload gives the same route a new label.
        let first: Arc<str> = Arc::from("/a");
        let reloaded: Arc<str> = Arc::from("/a");
        metrics.request_done(&first, 200, Duration::from_micros(10));
        metrics.request_done(&reloaded, 200, Duration::from_millis(1));
        std::thread::scope(|threads| {
            threads.spawn(|| metrics.request_done(&first, 500, Duration::from_secs(100)));
        });
        metrics.instantiated(Duration::from_micros(60));
        // Each thread keeps one entry per route, however many labels reloads gave it.
        assert!(metrics.per_request.0.each().all(|tally| tally.routes.len() <= 1));
        let text = metrics.encode();
        for line in [
            "wagi_requests_total{route=\"/a\",status=\"200\"} 2\n",
            "wagi_requests_total{route=\"/a\",status=\"500\"} 1\n",
            "wagi_request_duration_seconds_count{route=\"/a\"} 3\n",
            "wagi_request_duration_seconds_bucket{le=\"0.00005\",route=\"/a\"} 1\n",
            "wagi_request_duration_seconds_bucket{le=\"0.0032\",route=\"/a\"} 2\n",
            "wagi_request_duration_seconds_bucket{le=\"+Inf\",route=\"/a\"} 3\n",
            "wagi_instantiation_duration_seconds_bucket{le=\"0.0002\"} 1\n",
            "wagi_instantiation_duration_seconds_count 1\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from\n{text}");
        }
    }
}
