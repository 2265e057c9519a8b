//! One request: health check, routing, reading the body, running the module, answering.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Version, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body as HttpBody, Incoming};
use tracing::Instrument;
use wagi_runtime::{MatchedRoute, RequestBody, RequestContext, ServerAuthority};

use crate::access::{Agents, Exchange};
use crate::admission::Slot;
use crate::logged_body::LoggedBody;
use crate::reply::{Body, empty, not_ready, plain};
use crate::request_span::{record_answer, request_span};
use crate::routing::Route;
use crate::state::{Connection, ServerState};
use crate::status::RequestError;

/// The built-in health route; it wins over any configured route of the same path.
const HEALTHZ: &str = "/healthz";

/// Whether the route written as `route` names `/healthz`, which wagi answers itself: such an
/// entry never sees a request for it.
pub fn is_shadowed_by_healthz(route: &str) -> bool {
    route.strip_suffix("/...").unwrap_or(route) == HEALTHZ
}

pub(crate) async fn handle(
    request: Request<Incoming>,
    connection: Arc<Connection>,
) -> Result<Response<LoggedBody>, Infallible> {
    let in_flight = connection.activity.request_started();
    let remote = Arc::clone(&connection.remote_ip);
    let mut exchange = Exchange {
        id: next_request_id(),
        started: Instant::now(),
        remote: Arc::clone(&remote),
        method: request.method().clone(),
        target: request
            .uri()
            .path_and_query()
            .map_or_else(|| request.uri().to_string(), |target| target.as_str().to_owned()),
        version: request.version(),
        route: None,
        agents: None,
    };
    // Only the combined and JSON formats record them.
    if connection.state.access_log.as_ref().is_some_and(|log| log.records_agents()) {
        let headers = request.headers();
        exchange.agents = Some(Box::new(Agents {
            referer: headers.get(header::REFERER).cloned(),
            user_agent: headers.get(header::USER_AGENT).cloned(),
        }));
    }
    let span = request_span(exchange.id, &request);
    let host = one_host(&request);
    let (route, response) = async {
        let (route, result) = match host {
            Ok(host) => answer(request, host, &connection.state, (remote, connection.remote_port)).await,
            Err(()) => (None, Ok(plain(StatusCode::BAD_REQUEST, "a request needs exactly one Host header\n"))),
        };
        let response = result.unwrap_or_else(|error| {
            let status = error.status();
            let path = exchange.target.split('?').next().unwrap_or_default();
            let (method, route) = (&exchange.method, route.as_deref().unwrap_or_default());
            tracing::warn!(request_id = exchange.id, %method, %path, %route, status = status.as_u16(), error = %error, "request failed");
            error.to_response()
        });
        (route, response)
    }
    .instrument(span.clone())
    .await;
    let status = response.status().as_u16();
    record_answer(&span, &exchange.method, route.as_deref(), status);
    let exchange = Exchange { route, ..exchange };
    Ok(response.map(|body| LoggedBody::new(body, status, exchange, connection, in_flight)))
}

/// The request's `Host`, found once. RFC 9112 §3.2: an HTTP/1.1 request has exactly one, and no
/// request has two; HTTP/2 and HTTP/1.0 may leave it out (HTTP/2 names the host in
/// `:authority`).
fn one_host<B>(request: &Request<B>) -> Result<Option<HeaderValue>, ()> {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) => Ok(Some(host.clone())),
        (None, _) if request.version() != Version::HTTP_11 => Ok(None),
        _ => Err(()),
    }
}

/// A number naming one request in logs, unique for this process. Each thread takes ids from
/// the process-wide counter in blocks, so threads do not contend for it on every request.
fn next_request_id() -> u64 {
    const BLOCK: u64 = 1024;
    static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        /// The next id this thread hands out, and the end of its block.
        static IDS: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
    }
    IDS.with(|ids| {
        let (mut next, mut end) = ids.get();
        if next == end {
            next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
            end = next + BLOCK;
        }
        ids.set((next + 1, end));
        next
    })
}

/// Routes and answers one request, whose `Host` is `host`, or says why the route's module could
/// not; also returns the route's label, if one matched.
pub(crate) async fn answer<B: RequestBodyStream>(
    request: Request<B>,
    host: Option<HeaderValue>,
    state: &ServerState,
    remote: (Arc<str>, u16),
) -> (Option<Arc<str>>, Result<Response<Body>, RequestError>) {
    // A shared reference to the request's bytes, kept for the log after the request is consumed.
    let uri = request.uri().clone();
    let path = uri.path();
    let Some(table) = state.routes.current() else {
        // Still loading: not ready, and nothing can be routed yet.
        return (None, Ok(not_ready()));
    };
    if path == HEALTHZ {
        if state.routes.is_draining() {
            return (None, Ok(plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")));
        }
        return (None, Ok(plain(StatusCode::OK, "OK")));
    }
    if !is_well_formed_path(path) {
        tracing::debug!(%path, "malformed percent-encoding in the path");
        return (None, Ok(plain(StatusCode::BAD_REQUEST, "malformed percent-encoding in the path\n")));
    }
    let Some((route, matched)) = table.find(path) else {
        tracing::debug!(%path, "no route");
        return (None, Ok(empty(StatusCode::NOT_FOUND)));
    };
    // RFC 8586: a request that has passed through wagi this often is in a call loop; refusing
    // it before admission keeps a loop from taking every instance.
    let hops = wagi_runtime::loop_hops(request.headers());
    if hops >= wagi_runtime::MAX_HOPS {
        return (Some(Arc::clone(&route.label)), Err(RequestError::LoopDetected { hops }));
    }
    let matched = MatchedRoute {
        script_name: matched.script_name.to_owned(),
        raw_path_info: matched.raw_path_info.to_owned(),
        pattern: Arc::clone(&route.label),
        params: matched.params.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect(),
    };
    // A route that reuses instances is admitted by its instances, which take their slots as they
    // are created and keep them while they live; its requests take none of their own.
    let admitted = if route.handler.reuses_instances() {
        Some(None)
    } else {
        state.admission.admit(route.handler.pool_slots()).await.map(Some)
    };
    let result = match admitted {
        Some(slot) => run(request, host, route, matched, state, remote, slot).await,
        None => Err(RequestError::Busy),
    };
    (Some(Arc::clone(&route.label)), result)
}

/// What a request's body may be: hyper's, from a connection, or one built in memory (`wagi run`).
pub(crate) trait RequestBodyStream:
    HttpBody<Data = Bytes, Error: std::error::Error + Send + Sync + 'static> + Send + Unpin + 'static
{
}

impl<B> RequestBodyStream for B where
    B: HttpBody<Data = Bytes, Error: std::error::Error + Send + Sync + 'static> + Send + Unpin + 'static
{
}

async fn run<B: RequestBodyStream>(
    request: Request<B>,
    host: Option<HeaderValue>,
    route: &Route,
    matched: MatchedRoute,
    state: &ServerState,
    (remote, remote_port): (Arc<str>, u16),
    slot: Option<Slot>,
) -> Result<Response<Body>, RequestError> {
    let (parts, body) = request.into_parts();
    let limit = route.max_body;
    let declared = content_length(&parts.headers);
    if declared.is_some_and(|length| length > limit) {
        return Err(RequestError::BodyTooLarge { limit });
    }
    let deadline = route.handler.spec().limits.timeout;
    let body = match declared {
        // HTTP framing holds the body to its declared length, so it can flow into stdin as it
        // arrives, under the module's own deadline.
        Some(length) if length > 0 => stream_body(body, length, deadline),
        _ => read_body(body, limit, deadline).await?,
    };
    let authority = ServerAuthority::derive(
        host.as_ref().and_then(|host| host.to_str().ok()),
        parts.uri.authority().map(|a| a.as_str()),
        &state.options.default_host,
        state.https,
    );
    let context = RequestContext { remote_addr: remote, remote_port, https: state.https, authority, route: matched };
    let request = wagi_runtime::Request { head: parts, body, context };
    Ok(route.handler.handle(request, slot).await?)
}

/// Reads a body of unknown length whole, up to `limit`, within `deadline`: a client sending its
/// body slowly must not hold an admission slot forever.
async fn read_body<B: RequestBodyStream>(body: B, limit: u64, deadline: Duration) -> Result<RequestBody, RequestError> {
    if body.is_end_stream() {
        // Most requests have no body: no timer to set.
        return Ok(Bytes::new().into());
    }
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let collected = tokio::time::timeout(deadline, Limited::new(body, limit_usize).collect())
        .await
        .map_err(|_| RequestError::BodyTimeout(deadline))?;
    match collected {
        Ok(collected) => Ok(collected.to_bytes().into()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(RequestError::BodyTooLarge { limit }),
        Err(error) => Err(RequestError::BodyRead(error.to_string())),
    }
}

/// Streams a body of `length` bytes into the module's stdin from a task of its own, which ends
/// when the body does, when the module has ended, or at `deadline`. A body that fails or stops
/// arriving makes the module's next read from stdin fail.
fn stream_body<B: RequestBodyStream>(mut body: B, length: u64, deadline: Duration) -> RequestBody {
    let (sender, request_body) = RequestBody::streaming(length);
    tokio::spawn(async move {
        let pump = async {
            while let Some(frame) = body.frame().await {
                let chunk = match frame {
                    Ok(frame) => match frame.into_data() {
                        Ok(data) => Ok(data),
                        Err(_) => continue,
                    },
                    Err(error) => Err(std::io::Error::other(error)),
                };
                let failed = chunk.is_err();
                if sender.send(chunk).await.is_err() || failed {
                    return;
                }
            }
        };
        if tokio::time::timeout(deadline, pump).await.is_err() {
            let _ = sender.try_send(Err(std::io::ErrorKind::TimedOut.into()));
        }
    });
    request_body
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http11_needs_exactly_one_host_and_no_request_may_have_two() {
        let request = |version: Version, hosts: &[&str]| {
            let mut builder = Request::builder().version(version).uri("/");
            for host in hosts {
                builder = builder.header(header::HOST, *host);
            }
            builder.body(()).expect("a request")
        };
        assert_eq!(one_host(&request(Version::HTTP_11, &["a"])), Ok(Some(HeaderValue::from_static("a"))));
        assert_eq!(one_host(&request(Version::HTTP_11, &[])), Err(()));
        assert_eq!(one_host(&request(Version::HTTP_11, &["a", "b"])), Err(()));
        assert_eq!(one_host(&request(Version::HTTP_10, &[])), Ok(None));
        assert_eq!(one_host(&request(Version::HTTP_2, &[])), Ok(None));
        assert_eq!(one_host(&request(Version::HTTP_2, &["a", "a"])), Err(()));
    }

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
