//! The runtime on its own: handlers prepared and run with no server.

mod kinds;
