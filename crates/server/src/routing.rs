//! The routing table: which handler answers a request path.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwapOption;
use wagi_config::{RouteMatch, RoutePattern};
use wagi_runtime::Handler;

/// One route and the handler that answers it.
#[derive(Clone, Debug)]
pub struct Route {
    /// The pattern, with `_routes` sub-routes already joined to their parent.
    pub pattern: RoutePattern,
    /// The prepared module.
    pub handler: Arc<Handler>,
    /// The largest request body accepted, in bytes.
    pub max_body: u64,
    /// The pattern as written, shared by the access log and metrics labels.
    pub(crate) label: Arc<str>,
}

impl Route {
    /// A route answered by `handler`, accepting bodies up to `max_body` bytes.
    pub fn new(pattern: RoutePattern, handler: Arc<Handler>, max_body: u64) -> Self {
        let label = Arc::from(pattern.to_string());
        Self { pattern, handler, max_body, label }
    }
}

/// An immutable table of routes, most specific first.
///
/// Exact routes beat wildcards and a longer wildcard base beats a shorter one, whatever the order
/// of the configuration. Among equally specific routes the one given first wins, which is how
/// `_routes` sub-routes (given before their parent, last printed first) take precedence.
#[derive(Debug, Default)]
pub struct RoutingTable {
    exact: HashMap<String, usize>,
    routes: Vec<Route>,
}

impl RoutingTable {
    /// Builds the table from routes in precedence order for equal specificity.
    pub fn new(mut routes: Vec<Route>) -> Self {
        routes.sort_by(|a, b| a.pattern.cmp_specificity(&b.pattern));
        let mut exact = HashMap::new();
        for (idx, route) in routes.iter().enumerate() {
            if let RoutePattern::Exact(path) = &route.pattern {
                exact.entry(path.clone()).or_insert(idx);
            }
        }
        Self { exact, routes }
    }

    /// Finds the route for a raw request path.
    pub fn find<'a>(&'a self, path: &'a str) -> Option<(&'a Route, RouteMatch<'a>)> {
        if let Some(&idx) = self.exact.get(path) {
            let route = &self.routes[idx];
            return route.pattern.matches(path).map(|m| (route, m));
        }
        self.routes
            .iter()
            .filter(|route| !matches!(route.pattern, RoutePattern::Exact(_)))
            .find_map(|route| route.pattern.matches(path).map(|m| (route, m)))
    }

    /// The routes, most specific first.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

/// The routing table being served: empty until the first load, then replaced as a whole on
/// each reload. A request keeps the table it was routed with until it ends, so a reload never
/// disturbs requests in flight.
#[derive(Debug, Default)]
pub struct Routes {
    current: ArcSwapOption<RoutingTable>,
    /// Shutting down: `/healthz` is not ready, while requests are still routed.
    draining: AtomicBool,
}

impl Routes {
    /// No table yet: the server answers 503 (and `/healthz` is not ready) until one is installed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `table` from the next request on.
    pub fn install(&self, table: RoutingTable) {
        self.current.store(Some(Arc::new(table)));
    }

    /// The table requests are routed with now; `None` before the first load.
    pub fn current(&self) -> Option<Arc<RoutingTable>> {
        self.current.load_full()
    }

    /// From now on `/healthz` answers 503, so that load balancers stop sending requests, which
    /// are still served meanwhile (`--shutdown-delay`).
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether [`drain`](Self::drain) was called.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}
