//! End-to-end tests: the real `wagi` binary on a loopback port, spoken to over real sockets.

mod bindle;
mod browser;
mod cli;
mod connections;
mod contract;
mod examples;
mod guestbook;
mod hostile;
mod lifecycle;
mod observability;
mod oci;
mod operator;
mod outbound;
mod peer;
mod registry;
mod responses;
mod reuse;
mod routing;
mod run;
mod spin;
mod spin_data;
mod startup;
mod support;
mod tls;
mod wasi_http;
mod wasi_p3;
