//! Outbound HTTP for modules: the five host functions of the `wasi_experimental_http` ABI,
//! which modules written for the original WAGI import to make HTTP requests, and
//! `wasi:http/outgoing-handler` for WASI 0.2 components (an [`OutboundSession`] is their
//! `WasiHttpHooks`).
//!
//! An [`OutboundClient`] (one per process: a shared connection pool and the global
//! [`OutboundLimits`]) performs requests; an [`OutboundPolicy`] (one per handler) says where a
//! module may connect; an [`OutboundSession`] (one per request) holds the responses the guest
//! has open. [`add_to_linker`] links the functions once into a wasmtime linker. A handler's
//! [`Reporter`] tells an [`OutboundObserver`] how each request ended. Each request has a span of
//! its own, whose W3C trace context it carries when traces are exported.
//!
//! Every destination, redirect hops included, is checked against the handler's
//! `allowed_hosts`. Every request carries the `CDN-Loop` entries of the request the module runs
//! for plus one of its own ([`CdnLoop`]), so the server can refuse a call loop ([`loop_hops`]).
//! Nothing a guest passes can panic the host: bad pointers, handles, text or
//! headers come back as the ABI's error codes ([`ErrorCode`]).
#![deny(missing_docs)]

mod abi;
mod cdn_loop;
mod client;
mod held;
mod linker;
mod observer;
mod session;
mod trace_context;
mod wasi_http;

pub use abi::ErrorCode;
pub use cdn_loop::{CdnLoop, MAX_HOPS, loop_hops};
pub use client::{ClientError, OutboundClient, OutboundLimits};
pub use linker::add_to_linker;
pub use observer::{OutboundObserver, OutboundResult, Reporter};
pub use session::{OutboundGrant, OutboundPolicy, OutboundSession};
