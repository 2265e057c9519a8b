//! Serves HTTP for wagi: accepts connections (HTTP/1.1 and HTTP/2, over TLS when given a
//! certificate), routes each request to its handler, and sends the handler's response, streamed
//! as the module writes it, or a status for its error.
//!
//! [`serve`] runs the accept loop on bound listeners with an immutable [`RoutingTable`] of
//! [`Route`]s, closing connections that stay idle and making room at the connection cap. Each
//! request is routed (the built-in `/healthz` first, then the most specific route), admitted by
//! the instance slots its handler needs, its body is read up to the route's limit, and the
//! route's `wagi_runtime::Handler` runs. Errors become statuses in one place (`status.rs`), and the
//! client gets a short body. Every response is logged and counted when its last byte is sent.
//!
//! This crate does not know where modules come from and never reads configuration files: the
//! `wagi` crate builds the table and hands it over.
#![deny(missing_docs)]

mod access;
mod admission;
mod cores;
mod idle;
mod logged_body;
mod metrics;
mod once;
mod per_thread;
#[cfg(target_os = "linux")]
mod process;
mod reply;
mod request_span;
mod routing;
mod server;
mod service;
mod state;
mod status;
mod tls;

pub use access::{AccessLog, LogFormat};
pub use admission::Admission;
pub use metrics::{Metrics, serve_metrics};
pub use once::{Answer, answer_once};
pub use routing::{Route, Routes, RoutingTable};
pub use server::{Services, local_url, serve};
pub use service::is_shadowed_by_healthz;
pub use state::ServerOptions;
pub use tls::{Tls, TlsError};
