//! One request answered in memory, with no listener: how `wagi run` runs a module exactly as
//! the server would for a request from a client.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use wagi_runtime::ResponseBody;

use crate::metrics::Metrics;
use crate::routing::{Routes, RoutingTable};
use crate::service::answer;
use crate::state::{ServerOptions, ServerState};

/// The answer to one request.
#[derive(Debug)]
pub struct Answer {
    /// The response the server would send.
    pub response: Response<ResponseBody>,
    /// Why the route's module did not answer, when it did not (a trap, a non-zero exit, the
    /// timeout, a malformed CGI response...); `response` is then the error's.
    pub failure: Option<String>,
}

/// Answers `request`, from a client at `remote` over plain HTTP, through `table` with the
/// server's `options`: routed, admitted, given its body and run as [`serve`](crate::serve)
/// would, with no access log.
pub async fn answer_once(
    table: RoutingTable,
    options: ServerOptions,
    request: Request<Full<Bytes>>,
    remote: &str,
) -> Answer {
    let routes = Routes::new();
    routes.install(table);
    let metrics = Arc::new(Metrics::new());
    let admission = options.admission(&metrics);
    let state = ServerState::new(Arc::new(routes), options, admission, metrics, None, false);
    let host = request.headers().get(http::header::HOST).cloned();
    match answer(request, host, &state, (Arc::from(remote), 0)).await {
        (_, Ok(response)) => Answer { response, failure: None },
        (_, Err(error)) => Answer { response: error.to_response(), failure: Some(error.to_string()) },
    }
}
