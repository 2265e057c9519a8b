//! One request: health check, routing, reading the body, running the module, answering.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Version, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tracing::Instrument;
use wagi_cgi::{CgiRequest, MatchedRoute, ResponseBody, ServerAuthority};

use crate::access::{Exchange, LoggedBody};
use crate::admission::Slot;
use crate::routing::Route;
use crate::server::ServerState;
use crate::status::RequestError;

/// The response body type: from memory, or streamed from a running module.
pub(crate) type Body = ResponseBody;

/// The built-in health route; it wins over any configured route of the same path.
const HEALTHZ: &str = "/healthz";

pub(crate) async fn handle(
    request: Request<Incoming>,
    state: Arc<ServerState>,
    remote: SocketAddr,
) -> Result<Response<LoggedBody>, Infallible> {
    let exchange = Exchange {
        id: state.next_request_id(),
        started: Instant::now(),
        remote: remote.ip(),
        method: request.method().clone(),
        target: request.uri().path_and_query().map_or_else(|| request.uri().to_string(), ToString::to_string),
        version: request.version(),
        route: Arc::clone(&state.unrouted),
    };
    let span = tracing::info_span!("request", id = exchange.id);
    let (route, response) = answer(request, &state, remote, exchange.id).instrument(span).await;
    let status = response.status().as_u16();
    let exchange = match route {
        Some(route) => Exchange { route, ..exchange },
        None => exchange,
    };
    Ok(response.map(|body| LoggedBody::new(body, status, exchange, state)))
}

/// Routes and answers one request; also returns the route's label, if one matched.
async fn answer(
    request: Request<Incoming>,
    state: &ServerState,
    remote: SocketAddr,
    id: u64,
) -> (Option<Arc<str>>, Response<Body>) {
    let path = request.uri().path().to_owned();
    let Some(table) = state.routes.current() else {
        // Still loading: not ready, and nothing can be routed yet.
        return (None, not_ready());
    };
    if path == HEALTHZ {
        return (None, plain(StatusCode::OK, "OK"));
    }
    if !is_well_formed_path(&path) {
        tracing::debug!(%path, "malformed percent-encoding in the path");
        return (None, plain(StatusCode::BAD_REQUEST, "malformed percent-encoding in the path\n"));
    }
    let Some((route, matched)) = table.find(&path) else {
        tracing::debug!(%path, "no route");
        return (None, empty(StatusCode::NOT_FOUND));
    };
    let matched = MatchedRoute {
        script_name: matched.script_name.to_owned(),
        raw_path_info: matched.raw_path_info.to_owned(),
        pattern: route.pattern.to_string(),
    };
    let method = request.method().clone();
    let result = match state.admission.admit().await {
        Some(slot) => run(request, route, matched, state, remote, slot).await,
        None => Err(RequestError::Busy),
    };
    let response = result.unwrap_or_else(|error| {
        let status = error.status();
        tracing::warn!(request_id = id, %method, %path, route = %route.pattern, status = status.as_u16(), error = %error, "request failed");
        error.to_response()
    });
    (Some(Arc::clone(&route.label)), response)
}

/// 503 with Retry-After, before the first configuration is loaded.
fn not_ready() -> Response<Body> {
    let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, "not ready: the configuration is still loading\n");
    response.headers_mut().insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
    response
}

async fn run(
    request: Request<Incoming>,
    route: &Route,
    matched: MatchedRoute,
    state: &ServerState,
    remote: SocketAddr,
    slot: Slot,
) -> Result<Response<Body>, RequestError> {
    let (parts, body) = request.into_parts();
    let limit = route.max_body;
    if content_length(&parts.headers).is_some_and(|length| length > limit) {
        return Err(RequestError::BodyTooLarge { limit });
    }
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    // A client sending its body slowly must not hold an admission slot forever.
    let deadline = route.handler.spec().limits.timeout;
    let collected = tokio::time::timeout(deadline, Limited::new(body, limit_usize).collect())
        .await
        .map_err(|_| RequestError::BodyTimeout(deadline))?;
    let body = match collected {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return Err(RequestError::BodyTooLarge { limit });
        }
        Err(error) => return Err(RequestError::BodyRead(error.to_string())),
    };
    let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let authority = ServerAuthority::derive(
        host,
        parts.uri.authority().map(|a| a.as_str()),
        &state.options.default_host,
        state.https,
    );
    let cgi_request = CgiRequest {
        method: parts.method.as_str().to_owned(),
        raw_path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        protocol: protocol(parts.version),
        headers: parts.headers,
        body,
        remote_addr: remote.ip(),
        https: state.https,
        authority,
        route: matched,
    };
    Ok(route.handler.handle(&cgi_request, slot).await?)
}

/// RFC 3986 §2.1: every `%` starts a two-hex-digit escape.
fn is_well_formed_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'%')
        .all(|(idx, _)| bytes.get(idx + 1..idx + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

pub(crate) fn plain(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    response
}

fn empty(status: StatusCode) -> Response<Body> {
    plain(status, Bytes::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes_must_have_two_hex_digits() {
        for good in ["/", "/a%2Fb", "/%C3%A9", "/plain/path"] {
            assert!(is_well_formed_path(good), "{good}");
        }
        for bad in ["/%", "/%2", "/%zz", "/a%2"] {
            assert!(!is_well_formed_path(bad), "{bad}");
        }
    }
}
