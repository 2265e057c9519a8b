//! `wasi:http` components: the request handed to `wasi:http/incoming-handler` as the client sent
//! it, plus the headers Spin's HTTP trigger adds, and the response the component sets.
//!
//! Such a component answers HTTP itself; there is no CGI in between. It runs with the same
//! `State` as a CGI program (its WASI context, resource table, memory limit and epoch deadline),
//! so limits, volumes and stderr logging are shared with the CGI kinds.

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
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::{HyperIncomingBody, HyperOutgoingBody};

use super::{Answer, Start};
use crate::body::{ResponseBody, Run};
use crate::error::{Error, RunError};
use crate::inputs::Inputs;
use crate::prepared::Prepared;
use crate::request::Request;
use crate::run::{Call, Guest, Instantiated, classify, instantiate_error};
use crate::state::{HttpCall, State};
use crate::stdin::RequestBody;

/// The export of a `wasi:http` component, without its patch version: any `0.2.x` is served.
const INCOMING_HANDLER: &str = "wasi:http/incoming-handler@0.2.";

/// The prefix of the headers Spin's HTTP trigger adds; a client cannot send its own.
const SPIN_PREFIX: &str = "spin-";

/// A `wasi:http` component, linked, called through its `wasi:http/incoming-handler` export.
pub(crate) struct Http {
    pre: ProxyPre<State>,
}

impl Http {
    /// Whether `component` exports `wasi:http/incoming-handler@0.2.x`, and so answers HTTP; an
    /// export of that name whose `handle` is not a function of a request and a
    /// response-outparam is an error now rather than on the first request.
    pub(crate) fn answers(component: &Component, engine: &Engine) -> Result<bool, Error> {
        let component_type = component.component_type();
        let Some((name, item)) = component_type.exports(engine).find(|(name, _)| name.starts_with(INCOMING_HANDLER))
        else {
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
            Some(ComponentItem::ComponentFunc(func)) if func.params().len() == 2 && func.results().len() == 0 => {
                Ok(true)
            }
            Some(ComponentItem::ComponentFunc(func)) => {
                let params: Vec<String> = func.params().map(|(name, ty)| format!("{name}: {ty:?}")).collect();
                Err(Error::HandlerSignature { name: handle, found: format!("a function of ({})", params.join(", ")) })
            }
            _ => Err(Error::MissingEntrypoint(handle)),
        }
    }

    /// Links the component as a `wasi:http` handler.
    pub(crate) fn link(pre: InstancePre<State>) -> Result<Self, Error> {
        ProxyPre::new(pre).map(|pre| Self { pre }).map_err(|e| Error::Link(format!("{e:#}")))
    }
}

impl Call for Http {
    fn engine(&self) -> &Engine {
        self.pre.engine()
    }

    async fn call(&self, store: &mut Store<State>, instantiated: &Instantiated<'_>) -> Result<(), RunError> {
        let proxy = self.pre.instantiate_async(&mut *store).await.map_err(instantiate_error)?;
        instantiated.report();
        let call = store.data_mut().http_call.take();
        let call = call.ok_or_else(|| RunError::Instantiate("no request for the component".to_owned()))?;
        let handler = proxy.wasi_http_incoming_handler();
        handler.call_handle(&mut *store, call.request, call.response).await.or_else(classify)
    }
}

/// Sets a request up for a `wasi:http` component: the request as the client sent it, and a
/// place for the response it sets. Its stdout and stderr both go to the route's log; it sees
/// only the configured environment.
pub(crate) fn setup(prepared: &Prepared, request: Request, start: impl Start) -> Result<(Guest, Answer), RunError> {
    let stderr = prepared.stderr();
    let mut builder = WasiCtxBuilder::new();
    builder.stdout(stderr.clone()).stderr(stderr.clone());
    builder.envs(&prepared.spec.environment);
    prepared.add_volumes(&mut builder)?;
    let mut state = prepared.state(builder.build_p1(), Inputs::default(), &request.head.headers, None);
    let (scheme, incoming) = incoming_request(request)?;
    let (sender, receiver) = oneshot::channel();
    let mut http = state.http();
    let setup = |e: wasmtime::Error| RunError::Instantiate(format!("{e:#}"));
    let incoming = http.new_incoming_request(scheme, incoming).map_err(setup)?;
    let outparam = http.new_response_outparam(sender).map_err(setup)?;
    state.http_call = Some(HttpCall { request: incoming, response: outparam });
    Ok((start(state, stderr, None), Answer::Http(HttpAnswer { set: receiver })))
}

/// The request as the component sees it: the client's method, target, headers and body, the
/// scheme and authority in its URI, and the `spin-*` headers describing the route.
fn incoming_request(request: Request) -> Result<(Scheme, http::Request<HyperIncomingBody>), RunError> {
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
    let scheme = if context.https { Scheme::Https } else { Scheme::Http };
    Ok((scheme, http::Request::from_parts(head, body)))
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
type SetResponse = Result<http::Response<HyperOutgoingBody>, ErrorCode>;

/// Where a component's response arrives.
pub(crate) struct HttpAnswer {
    set: oneshot::Receiver<SetResponse>,
}

impl HttpAnswer {
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
fn body_of(body: HyperOutgoingBody, run: Run) -> ResponseBody {
    let body = body.map_err(|error| RunError::Trap(format!("the response body failed: {error}")));
    ResponseBody::streaming(body.boxed_unsync(), run)
}
