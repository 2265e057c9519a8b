//! End-to-end tests: the real `wagi` binary on a loopback port, spoken to over real sockets.

mod cli;
mod contract;
mod examples;
mod hostile;
mod outbound;
mod peer;
mod responses;
mod routing;
mod startup;
mod support;
