//! The kinds of handler, each in a file of its own. What a module is, decided once from its
//! bytes when its route is prepared, says how a request reaches it and how it answers:
//!
//! - [`core`]: a WASI preview 1 core module, run as a CGI program;
//! - [`command`]: a WASI 0.2 command component, run as a CGI program;
//! - [`command03`]: a WASI 0.3 command component, run as a CGI program;
//! - [`http`]: a `wasi:http` 0.2 component, which answers HTTP itself;
//! - [`http03`]: a `wasi:http` 0.3 component, which answers HTTP itself.
//!
//! The two CGI kinds share [`cgi`], the two `wasi:http` kinds [`wasi_http`]. A kind sets a request up and hands the instance's state to
//! the handler, which makes the guest's run ([`crate::run`]); the kind's [`Answer`] turns what
//! the guest does into a response. A new kind is a new file here and an arm in each `match`
//! below.

mod cgi;
mod command;
mod command03;
mod core;
mod http;
mod http03;
pub(crate) mod wasi_http;

use std::sync::Arc;

use wasmtime::{Engine, Store};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::body::ResponseBody;
use crate::engine::{Compiled, Runtime};
use crate::error::{Error, RunError};
use crate::output::OutputCapture;
use crate::prepared::Prepared;
use crate::request::Request;
use crate::run::{Call, Guest, Instantiated};
use crate::spec::HandlerSpec;
use crate::state::{Body03, State};
use crate::stdout::OutputLimit;

pub(crate) use self::core::Core;

/// A module linked for one route, as one of the kinds.
pub(crate) enum Kind {
    Core(core::Core),
    Command(command::Command),
    Command03(command03::Command03),
    Http(http::Http),
    Http03(http03::Http03),
}

/// What a kind hands the handler to start its guest with: the instance's state, what the module
/// writes to stderr (and, for a `wasi:http` component, to stdout), and the limit on the stdout
/// the server reads, if it reads one (a guest whose write failed at the limit may trap on it,
/// and the limit is then the cause). Passed as arguments rather than a struct, so the state is
/// moved once, into the guest.
pub(crate) trait Start: FnOnce(State, OutputCapture, Option<Arc<OutputLimit>>) -> Guest {}

impl<F: FnOnce(State, OutputCapture, Option<Arc<OutputLimit>>) -> Guest> Start for F {}

/// How a kind's response comes while its guest runs.
pub(crate) enum Answer {
    Cgi(cgi::CgiAnswer),
    Http(wasi_http::HttpAnswer<HyperOutgoingBody, wasmtime_wasi_http::p2::bindings::http::types::ErrorCode>),
    Http03(wasi_http::HttpAnswer<Body03, wasmtime_wasi_http::p3::bindings::http::types::ErrorCode>),
}

impl Kind {
    /// The kind's name, for traces: `cgi` or `wasi-http`, and what the module is.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Core(_) => "cgi (WASI preview 1 module)",
            Self::Command(_) => "cgi (WASI 0.2 component)",
            Self::Command03(_) => "cgi (WASI 0.3 component)",
            Self::Http(_) => "wasi-http (WASI 0.2 component)",
            Self::Http03(_) => "wasi-http (WASI 0.3 component)",
        }
    }

    /// Links `code` for `spec`, as the kind its bytes say it is.
    pub(crate) fn link(runtime: &Runtime, code: &Compiled, spec: &HandlerSpec) -> Result<Self, Error> {
        match code {
            Compiled::Module(module) => core::Core::link(runtime, module, &spec.entrypoint).map(Self::Core),
            Compiled::Component(component) => {
                let engine = component.engine();
                let linker = runtime.component_linker(engine);
                let pre = crate::component::instantiate_pre(linker, engine, component, &spec.entrypoint)?;
                if http03::Http03::answers(component, engine) {
                    http03::Http03::link(pre).map(Self::Http03)
                } else if http::Http::answers(component, engine)? {
                    http::Http::link(pre, runtime.is_concurrent(engine)).map(Self::Http)
                } else if command03::Command03::runs(component, engine) {
                    command03::Command03::link(pre).map(Self::Command03)
                } else {
                    command::Command::link(pre, component, engine).map(Self::Command)
                }
            }
        }
    }

    /// How a `wasi:http` component is instantiated for reuse; `None` for the kinds that get a
    /// fresh instance for every request, and for a 0.2 component compiled without reuse.
    pub(crate) fn reusable(&self) -> Option<wasmtime_wasi_http::handler::ProxyPre<State>> {
        match self {
            Self::Http03(kind) => Some(kind.reusable()),
            Self::Http(kind) => kind.reusable(),
            Self::Core(_) | Self::Command(_) | Self::Command03(_) => None,
        }
    }

    /// Sets `request` up for a fresh instance, whose guest `start` makes.
    pub(crate) fn setup(
        &self,
        prepared: &Prepared,
        request: Request,
        start: impl Start,
    ) -> Result<(Guest, Answer), RunError> {
        match self {
            Self::Core(_) => cgi::setup(prepared, &request, core::Core::inputs, start),
            Self::Command(_) | Self::Command03(_) => cgi::setup(prepared, &request, command::Command::inputs, start),
            Self::Http(_) => http::setup(prepared, request, start),
            Self::Http03(_) => http03::setup(prepared, request, start),
        }
    }
}

impl Call for Kind {
    fn engine(&self) -> &Engine {
        match self {
            Self::Core(kind) => kind.engine(),
            Self::Command(kind) => kind.engine(),
            Self::Command03(kind) => kind.engine(),
            Self::Http(kind) => kind.engine(),
            Self::Http03(kind) => kind.engine(),
        }
    }

    async fn call(&self, store: &mut Store<State>, instantiated: &Instantiated<'_>) -> Result<(), RunError> {
        match self {
            Self::Core(kind) => kind.call(store, instantiated).await,
            Self::Command(kind) => kind.call(store, instantiated).await,
            Self::Command03(kind) => kind.call(store, instantiated).await,
            Self::Http(kind) => kind.call(store, instantiated).await,
            Self::Http03(kind) => kind.call(store, instantiated).await,
        }
    }
}

impl Answer {
    /// Drives `guest` until the response can start, and answers.
    pub(crate) async fn respond(self, guest: Guest) -> Result<::http::Response<ResponseBody>, RunError> {
        match self {
            Self::Cgi(answer) => answer.respond(guest).await,
            Self::Http(answer) => answer.respond(guest).await,
            Self::Http03(answer) => answer.respond(guest).await,
        }
    }
}
