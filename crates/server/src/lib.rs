//! Serves HTTP for wagi: accepts connections (HTTP/1.1 and HTTP/2), routes each request to a
//! handler, and turns its CGI response or error into an HTTP response.
//!
//! [`serve`] runs the accept loop on a bound listener with an immutable [`RoutingTable`] of
//! [`Route`]s. Each request is routed (the built-in `/healthz` first, then the most specific
//! route), its body is read up to the route's limit, and the route's `wagi_cgi::Handler` runs.
//! Errors become statuses in one place (`status.rs`), and the client gets a short body.
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
mod reply;
mod routing;
mod server;
mod service;
mod state;
mod status;
mod tls;

pub use access::{AccessLog, LogFormat};
pub use metrics::{Metrics, serve_metrics};
pub use once::{Answer, answer_once};
pub use routing::{Route, Routes, RoutingTable};
pub use server::{Services, local_url, serve};
pub use state::ServerOptions;
pub use tls::{Tls, TlsError};
