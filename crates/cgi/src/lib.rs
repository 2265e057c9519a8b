//! Runs WebAssembly handlers on wasmtime: core modules (WASI preview 1) and command components
//! (WASI 0.2) as CGI programs (RFC 3875), and `wasi:http` components as HTTP handlers.
//!
//! A [`Runtime`] owns the one wasm engine: it [compiles](Runtime::compile) modules and
//! [prepares](Runtime::prepare) a [`Handler`] per route, linking imports once; which kind a
//! module is, is read from its bytes. For each request [`Handler::handle`] takes a
//! [`CgiRequest`] and runs a fresh instance under a deadline and memory limit. A CGI handler
//! gets the CGI environment and argv and the request body on stdin, and its stdout is parsed
//! into a [`CgiResponse`]; a `wasi:http` component gets the request as the client sent it and
//! sets the response itself. Either can fail with a [`CgiError`].
//!
//! This crate knows no sockets, TOML, OCI or Bindle: routing and HTTP are `wagi-server`'s job,
//! fetching modules is `wagi-loader`'s. Guest code never runs without an epoch deadline, so a
//! busy guest yields its thread regularly and a looping one is stopped at its timeout.
#![deny(missing_docs)]

mod argv;
mod artifact;
mod body;
mod cgi_env;
mod component;
mod engine;
mod environ;
mod error;
mod fd_write;
mod handler;
mod inputs;
mod memory_budget;
mod output;
mod request;
mod respond;
mod response;
mod routes;
mod state;
mod stdin;
mod stdout;
mod wasi_http;

pub use artifact::{ArtifactCache, ArtifactOrigin};
pub use body::ResponseBody;
pub use engine::{CompiledModule, EngineOptions, Observer, Runtime};
pub use error::{CgiError, Error};
pub use handler::{Handler, HandlerSpec, Limits, VolumeSpec};
pub use request::{CgiRequest, MatchedRoute, ServerAuthority};
pub use respond::ResponseOptions;
pub use response::CgiResponse;
pub use routes::SubRoute;
pub use stdin::{BodySender, BodyStream, RequestBody};
pub use wagi_outbound_http::{MAX_HOPS, OutboundLimits, OutboundPolicy, loop_hops};
