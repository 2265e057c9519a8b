//! Runs WebAssembly handlers on wasmtime: core modules (WASI preview 1) and command components
//! (WASI 0.2) as CGI programs (RFC 3875), and `wasi:http` components as HTTP handlers.
//!
//! A [`Runtime`] owns the one wasm engine: it [compiles](Runtime::compile) modules and
//! [prepares](Runtime::prepare) a [`Handler`] per route, linking imports once. Which kind of
//! handler a module is (`kind/`), is read from its bytes. For each [`Request`],
//! [`Handler::handle`] runs a fresh instance under a deadline and memory limits and answers
//! with an HTTP response whose [`ResponseBody`] may still be streaming from the instance. A CGI
//! program gets its environment and argv from `wagi-cgi` and the request body on stdin, and its
//! stdout is parsed into the response; a `wasi:http` component gets the request as the client
//! sent it and sets the response itself. Either can fail with a [`RunError`].
//!
//! This crate knows no sockets, TOML, OCI or Bindle: routing and HTTP are `wagi-server`'s job,
//! fetching modules is `wagi-loader`'s. Guest code never runs without an epoch deadline, so a
//! busy guest yields its thread regularly and a looping one is stopped at its timeout.
//!
//! One request to a WAT module, with no server:
//!
//! ```
//! use std::sync::Arc;
//!
//! use http_body_util::BodyExt as _;
//! use wagi_runtime::{EngineOptions, HandlerSpec, MatchedRoute, Request, RequestContext, Runtime, ServerAuthority};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = Runtime::new(&EngineOptions { max_instances: 4, ..EngineOptions::default() })?;
//! let wasm = wat::parse_str(
//!     r#"(module
//!       (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
//!       (memory (export "memory") 1)
//!       (data (i32.const 16) "Content-Type: text/plain\n\nhello\n")
//!       (func (export "_start")
//!         (i32.store (i32.const 0) (i32.const 16))
//!         (i32.store (i32.const 4) (i32.const 32))
//!         (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
//! )?;
//! let handler = Arc::new(runtime.prepare(&runtime.compile(&wasm, false)?, HandlerSpec::new("hello"))?);
//!
//! let (head, ()) = http::Request::get("/hello").body(())?.into_parts();
//! let context = RequestContext {
//!     remote_addr: "127.0.0.1".into(),
//!     remote_port: 40000,
//!     https: false,
//!     authority: ServerAuthority::derive(None, None, "localhost:3000", false),
//!     route: MatchedRoute { script_name: "/hello".into(), pattern: "/hello".into(), ..MatchedRoute::default() },
//! };
//! let request = Request { head, body: bytes::Bytes::new().into(), context };
//! // The second argument is held until the instance has ended: an admission slot, say.
//! let response = handler.handle(request, ()).await?;
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.into_body().collect().await?.to_bytes(), "hello\n");
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod admission;
mod artifact;
mod body;
mod component;
mod engine;
mod environ;
mod error;
mod fd_write;
mod handler;
mod inputs;
mod kind;
mod memory_budget;
mod output;
mod prepared;
mod request;
mod respond;
mod reuse;
mod run;
mod spec;
mod state;
mod stdin;
mod stdout;

pub use admission::{InstanceAdmission, InstanceSlot};
pub use artifact::{ArtifactCache, ArtifactOrigin};
pub use body::ResponseBody;
pub use engine::{CompiledModule, EngineOptions, Observer, Runtime};
pub use error::{Error, RunError};
pub use handler::Handler;
pub use request::Request;
pub use spec::{HandlerSpec, Limits, ResponseOptions, Reuse, VolumeSpec};
pub use stdin::{BodySender, BodyStream, RequestBody};
pub use wagi_cgi::{CgiResponse, MatchedRoute, OutputError, RequestContext, ServerAuthority, SubRoute};
pub use wagi_outbound_http::{MAX_HOPS, OutboundLimits, OutboundObserver, OutboundPolicy, OutboundResult, loop_hops};
pub use wagi_platform::{
    Database, Databases, KeyValue, KeyValueStore, Platform, RedisStore, Sqlite, SqliteStore, StoreLimits, Stores,
    Variables,
};
