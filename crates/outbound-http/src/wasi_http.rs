//! `wasi:http/outgoing-handler` for components: each request is checked against the handler's
//! `allowed_hosts` and the outbound limits, then sent with the process's one client. A component
//! follows its own redirects, so every hop is a new request and is checked again.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Limited};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{Instrument, Span};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::client::{OutboundClient, error_chain};
use crate::held::Held;
use crate::observer::OutboundResult;
use crate::session::OutboundSession;
use crate::trace_context;

/// What `send_request` returns: the response, and a future that reports a failure of its body.
type Sent = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>), Error>;

impl WasiHttpHooks for OutboundSession {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _response_done: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        let admitted = self.admit_wasi_http(request.uri());
        self.cdn_loop.stamp(request.headers_mut());
        let span = trace_context::span(request.method(), request.uri());
        trace_context::inject(&span, request.headers_mut());
        let held = self.held();
        let grant = self.sender();
        let send = async move {
            let permit = admitted.inspect_err(|error| grant.report(result_of(error)))?;
            let sent = grant.client.send_wasi_http(request, held).await;
            grant.report(sent.as_ref().map_or_else(result_of, |_| OutboundResult::Response));
            let response = sent?;
            trace_context::record_status(&Span::current(), response.status());
            let done: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
            Ok((response.map(|body| PermitBody { body, _permit: permit }.boxed_unsync()), done))
        };
        Box::new(send.instrument(span))
    }
}

impl OutboundSession {
    /// Checks a component's request against `allowed_hosts`, the requests left to this
    /// invocation and `http_max_concurrency`; the permit, if any, is held by the response's body.
    fn admit_wasi_http(&mut self, uri: &http::Uri) -> Result<Option<OwnedSemaphorePermit>, Error> {
        let scheme = uri.scheme_str().unwrap_or("https");
        let default_port = if scheme == "http" { 80 } else { 443 };
        let port = uri.port_u16().unwrap_or(default_port);
        let host = uri.host().unwrap_or_default();
        let policy = &self.grant.policy;
        if !policy.allowed_hosts.allows(scheme, host, port) {
            tracing::info!(%uri, "outbound destination not in allowed_hosts");
            return Err(Error::HttpRequestDenied);
        }
        if self.requests_made >= self.grant.client.limits().max_requests {
            tracing::info!(limit = self.requests_made, "outbound request over the per-invocation limit");
            return Err(Error::ConnectionLimitReached);
        }
        let permit = match policy.max_concurrency {
            None => None,
            Some(max) => {
                let open = self.open_components.get_or_insert_with(|| Arc::new(Semaphore::new(max as usize)));
                let permit = Arc::clone(open).try_acquire_owned().map_err(|_| {
                    tracing::info!(max, "outbound request over http_max_concurrency");
                    Error::ConnectionLimitReached
                })?;
                Some(permit)
            }
        };
        self.requests_made += 1;
        Ok(permit)
    }
}

impl OutboundClient {
    /// Sends a component's request, whose body is read first, up to the body limit and counted
    /// in `held` until the response's head arrives; the response's body streams to the
    /// component, up to the same limit, all within the outbound timeout, and is not held.
    async fn send_wasi_http(
        &self,
        request: http::Request<WasiBody>,
        mut held: Held,
    ) -> Result<http::Response<WasiBody>, Error> {
        let limits = *self.limits();
        let (parts, body) = request.into_parts();
        let mut body = Limited::new(body, limits.max_body);
        let mut collected = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| match error.downcast::<Error>() {
                Ok(error) => *error,
                Err(_) => Error::HttpRequestBodySize(None),
            })?;
            let Ok(data) = frame.into_data() else { continue };
            if !held.grow(data.len()) {
                tracing::info!(limit = limits.max_held, "outbound request bodies over --outbound-max-held");
                return Err(Error::HttpRequestBodySize(None));
            }
            collected.extend_from_slice(&data);
        }
        let body = collected.freeze();
        let url = parts.uri.to_string();
        let mut outgoing = reqwest::Request::try_from(http::Request::from_parts(parts, body))
            .map_err(|_| Error::HttpRequestUriInvalid)?;
        *outgoing.timeout_mut() = Some(limits.timeout);
        let response = self.client().execute(outgoing).await.map_err(|error| {
            tracing::info!(%url, error = %error_chain(&error), "outbound request failed");
            send_error(&error)
        })?;
        drop(held);
        let response = http::Response::<reqwest::Body>::from(response);
        Ok(response.map(|body| {
            Limited::new(body, limits.max_body)
                .map_err(|error| match error.downcast::<reqwest::Error>() {
                    Ok(error) if error.is_timeout() => Error::ConnectionReadTimeout,
                    Ok(error) => Error::InternalError(Some(error_chain(&*error))),
                    Err(_) => Error::HttpResponseBodySize(None),
                })
                .boxed_unsync()
        }))
    }
}

/// How a request that got `error` ended, for the reporter.
fn result_of(error: &Error) -> OutboundResult {
    match error {
        Error::HttpRequestDenied => OutboundResult::Denied,
        Error::ConnectionLimitReached | Error::HttpRequestBodySize(_) => OutboundResult::Limited,
        _ => OutboundResult::Failed,
    }
}

/// The error code a component is given for a request the client could not send.
fn send_error(error: &reqwest::Error) -> Error {
    if error.is_timeout() {
        Error::ConnectionTimeout
    } else if error.is_connect() {
        Error::ConnectionRefused
    } else {
        Error::InternalError(Some(error_chain(error)))
    }
}

/// A response body that holds its request's place under `http_max_concurrency` until dropped.
struct PermitBody {
    body: WasiBody,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Body for PermitBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
