//! Metrics in the Prometheus text format, served on their own listener.

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
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// Every series wagi exports. Cheap to update from any thread.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RouteStatus, Counter>,
    durations: Family<RouteLabel, Histogram, Buckets>,
    instantiation: Histogram,
    pub(crate) running: Gauge,
    pub(crate) queued: Gauge,
    module_load: Family<ModuleLabel, Gauge<f64, AtomicU64>>,
    module_compile: Family<ModuleLabel, Gauge<f64, AtomicU64>>,
    artifact_cache: Family<OutcomeLabel, Counter>,
    reloads: Family<OutcomeLabel, Counter>,
}

/// A route pattern as a label value, shared with the routing table instead of copied.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
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

/// Duration buckets from 50 µs to about 52 s (x4 each): a tiny module answers in tens of
/// microseconds, a slow one runs until its timeout.
#[derive(Clone, Copy, Debug)]
struct Buckets;

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(exponential_buckets(50e-6, 4.0, 11))
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
        let mut registry = Registry::with_prefix("wagi");
        let requests = Family::<RouteStatus, Counter>::default();
        registry.register("requests", "Requests answered, by route and status", requests.clone());
        let durations = Family::new_with_constructor(Buckets);
        registry.register(
            "request_duration_seconds",
            "Time from receiving a request to sending the last byte of its response, by route",
            durations.clone(),
        );
        let instantiation = Buckets.new_metric();
        registry.register("instantiation_duration_seconds", "Time to create a module instance", instantiation.clone());
        let running = Gauge::default();
        registry.register("instances_running", "Module instances running now", running.clone());
        let queued = Gauge::default();
        registry.register("requests_queued", "Requests waiting for a free instance", queued.clone());
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
        Self {
            registry,
            requests,
            durations,
            instantiation,
            running,
            queued,
            module_load,
            module_compile,
            artifact_cache,
            reloads,
        }
    }

    /// Counts one answered request.
    pub(crate) fn request_done(&self, route: &Arc<str>, status: u16, elapsed: Duration) {
        let route = RouteName(Arc::clone(route));
        self.durations.get_or_create(&RouteLabel { route: route.clone() }).observe(elapsed.as_secs_f64());
        self.requests.get_or_create(&RouteStatus { route, status }).inc();
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

    /// Counts a reload attempt.
    pub fn reloaded(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.reloads.get_or_create(&OutcomeLabel { outcome }).inc();
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

impl wagi_cgi::Observer for Metrics {
    fn instantiated(&self, elapsed: Duration) {
        self.instantiation.observe(elapsed.as_secs_f64());
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
