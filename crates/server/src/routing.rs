//! The routing table: which handler answers a request path.

use std::collections::HashMap;
use std::sync::Arc;

use wagi_cgi::Handler;
use wagi_config::{RouteMatch, RoutePattern};

/// One route and the handler that answers it.
#[derive(Clone, Debug)]
pub struct Route {
    /// The pattern, with `_routes` sub-routes already joined to their parent.
    pub pattern: RoutePattern,
    /// The prepared module.
    pub handler: Arc<Handler>,
    /// The largest request body accepted, in bytes.
    pub max_body: u64,
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
            .filter(|route| matches!(route.pattern, RoutePattern::Prefix(_)))
            .find_map(|route| route.pattern.matches(path).map(|m| (route, m)))
    }

    /// The routes, most specific first.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}
