//! `wasi:http` 0.2 components: those exporting `wasi:http/incoming-handler@0.2.x`, handed the
//! request as the client sent it (`wasi_http.rs`) through wasmtime-wasi-http's resources, and
//! answering with the response they set on their outparam.

use tokio::sync::oneshot;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre};
use wasmtime::{Engine, Store};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

use super::wasi_http::{HttpAnswer, context, incoming_request};
use super::{Answer, Start};
use crate::component::INCOMING_HANDLER_02;
use crate::error::{Error, RunError};
use crate::inputs::Inputs;
use crate::prepared::Prepared;
use crate::request::Request;
use crate::run::{Call, Guest, Instantiated, classify, instantiate_error};
use crate::state::{HttpCall, State};

/// A `wasi:http` 0.2 component, linked, called through its `wasi:http/incoming-handler` export.
pub(crate) struct Http {
    pre: ProxyPre<State>,
    /// Whether it was compiled for the engine with concurrent calls, which reusing its
    /// instances takes.
    concurrent: bool,
}

impl Http {
    /// Whether `component` exports `wasi:http/incoming-handler@0.2.x`, and so answers HTTP; an
    /// export of that name whose `handle` is not a function of a request and a
    /// response-outparam is an error now rather than on the first request.
    pub(crate) fn answers(component: &Component, engine: &Engine) -> Result<bool, Error> {
        let component_type = component.component_type();
        let Some((name, item)) = component_type.exports(engine).find(|(name, _)| name.starts_with(INCOMING_HANDLER_02))
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

    /// Links the component as a `wasi:http` handler; `concurrent` says whether its engine has
    /// concurrent calls.
    pub(crate) fn link(pre: InstancePre<State>, concurrent: bool) -> Result<Self, Error> {
        ProxyPre::new(pre).map(|pre| Self { pre, concurrent }).map_err(|e| Error::Link(format!("{e:#}")))
    }

    /// How instances are made for reuse (`reuse.rs`), if its engine allows it.
    pub(crate) fn reusable(&self) -> Option<wasmtime_wasi_http::handler::ProxyPre<State>> {
        self.concurrent.then(|| wasmtime_wasi_http::handler::ProxyPre::P2(self.pre.clone()))
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

/// Sets a request up for a `wasi:http` 0.2 component: the request as the client sent it, and
/// the outparam its response is set on.
pub(crate) fn setup(prepared: &Prepared, request: Request, start: impl Start) -> Result<(Guest, Answer), RunError> {
    let (wasi, stderr) = context(prepared)?;
    let mut state = prepared.state(wasi, Inputs::default(), &request.head.headers, None);
    let scheme = if request.context.https { Scheme::Https } else { Scheme::Http };
    let incoming = incoming_request(request)?;
    let (sender, receiver) = oneshot::channel();
    let mut http = state.http();
    let setup = |e: wasmtime::Error| RunError::Instantiate(format!("{e:#}"));
    let incoming = http.new_incoming_request(scheme, incoming).map_err(setup)?;
    let outparam = http.new_response_outparam(sender).map_err(setup)?;
    state.http_call = Some(HttpCall { request: incoming, response: outparam });
    Ok((start(state, stderr, None), Answer::Http(HttpAnswer::new(receiver))))
}
