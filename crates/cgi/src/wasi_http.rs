//! `wasi:http` components: the request handed to `wasi:http/incoming-handler` as the client sent
//! it, plus the headers Spin's HTTP trigger adds, and the response the component sets.
//!
//! Such a component answers HTTP itself; there is no CGI in between. It runs with the same
//! `State` as a CGI handler (its WASI context, resource table, memory limit and epoch deadline),
//! so limits, volumes and stderr logging are shared with `handler.rs`.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument as _;
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::{HyperIncomingBody, HyperOutgoingBody};

use crate::body::{ComponentRun, ResponseBody};
use crate::error::{CgiError, Error};
use crate::request::CgiRequest;
use crate::respond::Guest;
use crate::response::final_status;
use crate::stdin::RequestBody;

/// The export of a `wasi:http` component, without its patch version: any `0.2.x` is served.
const INCOMING_HANDLER: &str = "wasi:http/incoming-handler@0.2.";

/// The prefix of the headers Spin's HTTP trigger adds; a client cannot send its own.
const SPIN_PREFIX: &str = "spin-";

/// Whether `component` exports `wasi:http/incoming-handler@0.2.x`, and so answers HTTP; an
/// export of that name whose `handle` is not a function of a request and a response-outparam is
/// an error now rather than on the first request.
pub(crate) fn is_http_handler(component: &Component, engine: &Engine) -> Result<bool, Error> {
    let component_type = component.component_type();
    let Some((name, item)) = component_type.exports(engine).find(|(name, _)| name.starts_with(INCOMING_HANDLER)) else {
        return Ok(false);
    };
    let ComponentItem::ComponentInstance(instance) = item.ty else {
        return Err(Error::HandlerSignature {
            name: name.to_owned(),
            found: "an export that is not an instance".to_owned(),
        });
    };
    let handle = format!("{name}#handle");
    match instance.exports(engine).find(|(item, _)| *item == "handle").map(|(_, export)| export.ty) {
        Some(ComponentItem::ComponentFunc(func)) if func.params().len() == 2 && func.results().len() == 0 => Ok(true),
        Some(ComponentItem::ComponentFunc(func)) => {
            let params: Vec<String> = func.params().map(|(name, ty)| format!("{name}: {ty:?}")).collect();
            Err(Error::HandlerSignature { name: handle, found: format!("a function of ({})", params.join(", ")) })
        }
        _ => Err(Error::MissingEntrypoint(handle)),
    }
}

/// The request as the component sees it: the client's method, path, query, headers and body,
/// its authority in the URI, and the `spin-*` headers describing the route.
pub(crate) fn incoming_request(request: CgiRequest) -> Result<(Scheme, http::Request<HyperIncomingBody>), CgiError> {
    let scheme = if request.https { "https" } else { "http" };
    let authority = authority(&request);
    let query = request.query.as_deref().map_or_else(String::new, |query| format!("?{query}"));
    let full_url = format!("{scheme}://{authority}{}{query}", request.raw_path);
    let bad =
        |what: &str| CgiError::BadRequest(format!("the request's {what} cannot be given to a wasi:http component"));
    let uri = http::Uri::try_from(full_url.as_str()).map_err(|_| bad("URL"))?;
    let method = http::Method::from_bytes(request.method.as_bytes()).map_err(|_| bad("method"))?;
    let mut headers = request.headers;
    if headers.keys().any(|name| name.as_str().starts_with(SPIN_PREFIX)) {
        let forged: Vec<HeaderName> =
            headers.keys().filter(|name| name.as_str().starts_with(SPIN_PREFIX)).cloned().collect();
        for name in forged {
            headers.remove(name);
        }
    }
    let route = &request.route;
    let component_route = route.pattern.strip_suffix("/...").unwrap_or(&route.pattern);
    let component_route = if component_route.is_empty() { "/" } else { component_route };
    let client = if request.remote_addr.contains(':') {
        format!("[{}]:{}", request.remote_addr, request.remote_port)
    } else {
        format!("{}:{}", request.remote_addr, request.remote_port)
    };
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
    let body = match request.body {
        RequestBody::Full(bytes) => Full::new(bytes).map_err(|never| match never {}).boxed_unsync(),
        RequestBody::Streaming(stream) => ChannelBody(stream.take_receiver()).boxed_unsync(),
    };
    let mut builder = http::Request::builder().method(method).uri(uri);
    if let Some(map) = builder.headers_mut() {
        *map = headers;
    }
    let scheme = if request.https { Scheme::Https } else { Scheme::Http };
    builder.body(body).map(|request| (scheme, request)).map_err(|_| bad("head"))
}

/// The authority the client addressed: its `Host` header (or HTTP/2 `:authority`) as sent when
/// it is a valid authority, else the server's name and port.
fn authority(request: &CgiRequest) -> String {
    let sent = request.headers.get(http::header::HOST).and_then(|host| host.to_str().ok());
    match sent.filter(|host| host.parse::<http::uri::Authority>().is_ok()) {
        Some(host) => host.to_owned(),
        None => {
            let default_port = if request.https { 443 } else { 80 };
            let name = &request.authority.name;
            match request.authority.port {
                port if port == default_port => name.clone(),
                port => format!("{name}:{port}"),
            }
        }
    }
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

/// What the component sets as its response.
pub(crate) type SetResponse = Result<http::Response<HyperOutgoingBody>, ErrorCode>;

/// Drives `guest` until it sets its response, then answers with it; a guest still running then
/// goes on in a task of its own, writing the body. A component that ends, or fails, without
/// setting a response is an error.
pub(crate) async fn respond(
    mut guest: Guest,
    mut set: oneshot::Receiver<SetResponse>,
) -> Result<http::Response<ResponseBody>, CgiError> {
    tokio::select! {
        biased;
        response = &mut set => match response {
            Ok(Ok(response)) => {
                if let Err(error) = final_status(response.status()) {
                    tokio::spawn(guest.in_current_span());
                    return Err(error);
                }
                let task = tokio::spawn(guest.in_current_span());
                Ok(response.map(|body| ResponseBody::from_component(body, ComponentRun::Running(task))))
            }
            Ok(Err(code)) => {
                tokio::spawn(guest.in_current_span());
                Err(CgiError::ErrorResponse(format!("{code:?}")))
            }
            // The store is gone, so the guest has ended.
            Err(_) => Err(guest.await.err().unwrap_or(CgiError::NoResponse)),
        },
        outcome = &mut guest => match set.try_recv() {
            Ok(Ok(response)) => final_status(response.status())
                .map(|_| response.map(|body| ResponseBody::from_component(body, ComponentRun::Ended(Some(outcome))))),
            Ok(Err(code)) => Err(CgiError::ErrorResponse(format!("{code:?}"))),
            Err(_) => Err(outcome.err().unwrap_or(CgiError::NoResponse)),
        },
    }
}
