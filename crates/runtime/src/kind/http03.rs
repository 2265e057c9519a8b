//! `wasi:http` 0.3 components: those exporting `wasi:http/handler@0.3.x` (the `service` world),
//! which spin-sdk 7 and the `wasip3` crate build. `handle` is an `async` function: it is called
//! in the store's event loop (`run_concurrent`), which must keep running while the body of the
//! response it returns streams, since the body is written from inside the store.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use tokio::sync::oneshot;
use wasmtime::component::{Component, InstancePre};
use wasmtime::{Engine, Store};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p3::bindings::ServicePre;

use super::wasi_http::{HttpAnswer, context, incoming_request};
use super::{Answer, Start};
use crate::error::{Error, RunError};
use crate::inputs::Inputs;
use crate::prepared::Prepared;
use crate::request::Request;
use crate::run::{Call, Guest, Instantiated, classify, instantiate_error};
use crate::state::{Body03, ServiceCall, State};

/// The export of a `wasi:http` 0.3 component, without its patch version: any `0.3.x` is served.
const HANDLER: &str = "wasi:http/handler@0.3.";

/// A `wasi:http` 0.3 component, linked.
pub(crate) struct Http03 {
    pre: ServicePre<State>,
}

impl Http03 {
    /// Whether `component` exports `wasi:http/handler@0.3.x`, and so answers HTTP.
    pub(crate) fn answers(component: &Component, engine: &Engine) -> bool {
        component.component_type().exports(engine).any(|(name, _)| name.starts_with(HANDLER))
    }

    /// How instances are made for reuse (`reuse.rs`).
    pub(crate) fn reusable(&self) -> wasmtime_wasi_http::handler::ProxyPre<State> {
        wasmtime_wasi_http::handler::ProxyPre::P3(self.pre.clone())
    }

    /// Links the component as a `wasi:http` 0.3 handler.
    pub(crate) fn link(pre: InstancePre<State>) -> Result<Self, Error> {
        ServicePre::new(pre).map(|pre| Self { pre }).map_err(|e| Error::Link(format!("{e:#}")))
    }
}

impl Call for Http03 {
    fn engine(&self) -> &Engine {
        self.pre.engine()
    }

    async fn call(&self, store: &mut Store<State>, instantiated: &Instantiated<'_>) -> Result<(), RunError> {
        let service = self.pre.instantiate_async(&mut *store).await.map_err(instantiate_error)?;
        instantiated.report();
        let call = store.data_mut().service_call.take();
        let ServiceCall { request, respond } =
            call.ok_or_else(|| RunError::Instantiate("no request for the component".to_owned()))?;
        let served = store
            .run_concurrent(async |accessor| -> wasmtime::Result<()> {
                match service.handle(accessor, request).await? {
                    Ok(response) => {
                        let response = accessor.with(|store| response.into_http(store, async { Ok(()) }))?;
                        let (sent, body_sent) = oneshot::channel();
                        let response = response.map(|body| Sent { body, sent: Some(sent) }.boxed_unsync());
                        // The body is written from inside this loop: keep it running until the
                        // body has ended or the server has dropped it.
                        if respond.send(Ok(response)).is_ok() {
                            let _ = body_sent.await;
                        }
                    }
                    Err(code) => {
                        let _ = respond.send(Err(code));
                    }
                }
                Ok(())
            })
            .await;
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) | Err(error) => classify(error),
        }
    }
}

/// Sets a request up for a `wasi:http` 0.3 component: the request as the client sent it, and
/// where the response it returns goes.
pub(crate) fn setup(prepared: &Prepared, request: Request, start: impl Start) -> Result<(Guest, Answer), RunError> {
    let (wasi, stderr) = context(prepared)?;
    let mut state = prepared.state(wasi, Inputs::default(), &request.head.headers, None);
    let incoming = incoming_request(request)?;
    // The future says when the component has read the request body, or why it could not;
    // nothing waits for it: a failure shows in the component's response.
    let (request, _read) = wasmtime_wasi_http::p3::Request::from_http(state.http().hooks, incoming);
    let (respond, set) = oneshot::channel();
    state.service_call = Some(ServiceCall { request, respond });
    Ok((start(state, stderr, None), Answer::Http03(HttpAnswer::new(set))))
}

/// A response body that says when it has ended or been dropped, so the store's loop writing it
/// can end.
struct Sent {
    body: Body03,
    sent: Option<oneshot::Sender<()>>,
}

impl Body for Sent {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = std::task::ready!(Pin::new(&mut self.body).poll_frame(cx));
        if !matches!(frame, Some(Ok(_)))
            && let Some(sent) = self.sent.take()
        {
            let _ = sent.send(());
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
