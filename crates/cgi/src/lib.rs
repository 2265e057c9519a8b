//! Runs WebAssembly modules as CGI programs (RFC 3875) on wasmtime, WASI preview 1.
//!
//! A [`Runtime`] owns the one wasm engine: it [compiles](Runtime::compile) modules and
//! [prepares](Runtime::prepare) a [`Handler`] per route, linking imports once. For each request
//! [`Handler::handle`] takes a [`CgiRequest`], builds the CGI environment and argv, runs a fresh
//! instance with the request body on stdin under a deadline and memory limit, and parses stdout
//! into a [`CgiResponse`], or fails with a [`CgiError`].
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
mod output;
mod request;
mod respond;
mod response;
mod routes;
mod stdin;
mod stdout;

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
pub use wagi_outbound_http::{OutboundLimits, OutboundPolicy};
