//! What the two `wasi:http` kinds share: the request as the client sent it, with the headers
//! Spin's HTTP trigger adds, the WASI context such a component runs with, and answering once the
//! component sets its response.
//!
//! Such a component answers HTTP itself; there is no CGI in between. It runs with the same
//! `State` as a CGI program (its WASI context, resource table, memory limit and epoch deadline),
//! so limits, volumes and stderr logging are shared with the CGI kinds.

use std::fmt::{Debug, Display};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::uri::{PathAndQuery, Scheme as UriScheme};
use http::{HeaderName, HeaderValue, Uri};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument as _;
use wagi_cgi::final_status;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi_http::p2::body::HyperIncomingBody;

use crate::body::{ResponseBody, Run};
use crate::error::RunError;
use crate::output::OutputCapture;
use crate::prepared::Prepared;
use crate::request::Request;
use crate::run::Guest;
use crate::stdin::RequestBody;

/// The prefix of the headers Spin's HTTP trigger adds; a client cannot send its own.
const SPIN_PREFIX: &str = "spin-";

/// The WASI context of a `wasi:http` component: its stdout and stderr both go to the route's
/// log, returned beside it; it sees only the configured environment, and the volumes.
pub(crate) fn context(prepared: &Prepared) -> Result<(WasiP1Ctx, OutputCapture), RunError> {
    let stderr = prepared.stderr();
    let mut builder = WasiCtxBuilder::new();
    builder.stdout(stderr.clone()).stderr(stderr.clone());
    builder.envs(&prepared.spec.environment);
    prepared.add_volumes(&mut builder)?;
    Ok((builder.build_p1(), stderr))
}

/// The request as the component sees it: the client's method, target, headers and body, the
/// scheme and authority in its URI, and the `spin-*` headers describing the route.
pub(crate) fn incoming_request(request: Request) -> Result<http::Request<HyperIncomingBody>, RunError> {
    let Request { mut head, body, context } = request;
    let bad =
        |what: &str| RunError::BadRequest(format!("the request's {what} cannot be given to a wasi:http component"));
    let mut uri = std::mem::take(&mut head.uri).into_parts();
    uri.scheme = Some(if context.https { UriScheme::HTTPS } else { UriScheme::HTTP });
    uri.authority = Some(context.authority.as_str().parse().map_err(|_| bad("URL"))?);
    uri.path_and_query = uri.path_and_query.or_else(|| Some(PathAndQuery::from_static("/")));
    head.uri = Uri::from_parts(uri).map_err(|_| bad("URL"))?;
    let headers = &mut head.headers;
    if headers.keys().any(|name| name.as_str().starts_with(SPIN_PREFIX)) {
        let forged: Vec<HeaderName> =
            headers.keys().filter(|name| name.as_str().starts_with(SPIN_PREFIX)).cloned().collect();
        for name in forged {
            headers.remove(name);
        }
    }
    let route = &context.route;
    let component_route = route.pattern.strip_suffix("/...").unwrap_or(&route.pattern);
    let component_route = if component_route.is_empty() { "/" } else { component_route };
    let client = if context.remote_addr.contains(':') {
        format!("[{}]:{}", context.remote_addr, context.remote_port)
    } else {
        format!("{}:{}", context.remote_addr, context.remote_port)
    };
    let full_url = head.uri.to_string();
    let values: [(HeaderName, &str); 7] = [
        (SPIN_FULL_URL, &full_url),
        (SPIN_PATH_INFO, &route.raw_path_info),
        (SPIN_MATCHED_ROUTE, &route.pattern),
        (SPIN_RAW_COMPONENT_ROUTE, &route.pattern),
        (SPIN_COMPONENT_ROUTE, component_route),
        (SPIN_BASE_PATH, "/"),
        (SPIN_CLIENT_ADDR, &client),
    ];
    headers.reserve(values.len() + route.params.len());
    for (name, value) in values {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    for (param, value) in &route.params {
        let name = HeaderName::from_bytes(format!("spin-path-match-{param}").as_bytes());
        if let (Ok(name), Ok(value)) = (name, HeaderValue::from_str(value)) {
            headers.insert(name, value);
        }
    }
    let body = match body {
        RequestBody::Full(bytes) => Full::new(bytes).map_err(|never| match never {}).boxed_unsync(),
        RequestBody::Streaming(stream) => ChannelBody(stream.take_receiver()).boxed_unsync(),
    };
    Ok(http::Request::from_parts(head, body))
}

// The headers Spin's HTTP trigger gives a component, so components written for Spin run
// unchanged. wagi serves every application at the base `/`.
const SPIN_FULL_URL: HeaderName = HeaderName::from_static("spin-full-url");
const SPIN_PATH_INFO: HeaderName = HeaderName::from_static("spin-path-info");
const SPIN_MATCHED_ROUTE: HeaderName = HeaderName::from_static("spin-matched-route");
const SPIN_RAW_COMPONENT_ROUTE: HeaderName = HeaderName::from_static("spin-raw-component-route");
const SPIN_COMPONENT_ROUTE: HeaderName = HeaderName::from_static("spin-component-route");
const SPIN_BASE_PATH: HeaderName = HeaderName::from_static("spin-base-path");
const SPIN_CLIENT_ADDR: HeaderName = HeaderName::from_static("spin-client-addr");

/// A streamed request body, as the chunks the server receives arrive.
struct ChannelBody(Option<mpsc::Receiver<std::io::Result<Bytes>>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Some(receiver) = self.get_mut().0.as_mut() else { return Poll::Ready(None) };
        receiver.poll_recv(cx).map(|chunk| {
            chunk.map(|chunk| {
                chunk.map(Frame::data).map_err(|error| {
                    wasmtime_wasi_http::Error::InternalError(Some(format!("the request body: {error}")))
                })
            })
        })
    }
}
/// Where a component's response arrives: the response, its body of type `B`, or the error code
/// `E` it answered with.
pub(crate) struct HttpAnswer<B, E> {
    set: oneshot::Receiver<Result<http::Response<B>, E>>,
}

impl<B, E> HttpAnswer<B, E>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Display,
    E: Debug,
{
    pub(crate) fn new(set: oneshot::Receiver<Result<http::Response<B>, E>>) -> Self {
        Self { set }
    }

    /// Drives `guest` until it sets its response, then answers with it; a guest still running
    /// then goes on in a task of its own, writing the body. A component that ends, or fails,
    /// without setting a response is an error.
    pub(crate) async fn respond(self, mut guest: Guest) -> Result<http::Response<ResponseBody>, RunError> {
        let mut set = self.set;
        tokio::select! {
            biased;
            response = &mut set => match response {
                Ok(Ok(response)) => {
                    if let Err(error) = final_status(response.status()) {
                        tokio::spawn(guest.in_current_span());
                        return Err(error.into());
                    }
                    let task = tokio::spawn(guest.in_current_span());
                    Ok(response.map(|body| body_of(body, Run::Running(task))))
                }
                Ok(Err(code)) => {
                    tokio::spawn(guest.in_current_span());
                    Err(RunError::ErrorResponse(format!("{code:?}")))
                }
                // The store is gone, so the guest has ended.
                Err(_) => Err(guest.await.err().unwrap_or(RunError::NoResponse)),
            },
            outcome = &mut guest => match set.try_recv() {
                Ok(Ok(response)) => {
                    final_status(response.status())?;
                    Ok(response.map(|body| body_of(body, Run::Ended(Some(outcome)))))
                }
                Ok(Err(code)) => Err(RunError::ErrorResponse(format!("{code:?}"))),
                Err(_) => Err(outcome.err().unwrap_or(RunError::NoResponse)),
            },
        }
    }
}

/// The body the component writes, complete only if `run` ends well.
fn body_of<B>(body: B, run: Run) -> ResponseBody
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Display,
{
    let body = body.map_err(|error| RunError::Trap(format!("the response body failed: {error}")));
    ResponseBody::streaming(body.boxed_unsync(), run)
}
