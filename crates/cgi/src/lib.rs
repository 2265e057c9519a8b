//! The CGI contract (RFC 3875) as wagi keeps it: what a program is given for a request, its
//! argv and environment, and how its output becomes an HTTP response.
//!
//! A [`CgiRequest`] is a view of a request's head, its body's length and its
//! [`RequestContext`] (the client, the scheme, the [`ServerAuthority`] and the
//! [`MatchedRoute`]). It gives the [argv](CgiRequest::argv) and the
//! [environment](CgiRequest::environment) the original WAGI gave; [`CgiResponse::parse`] reads
//! the header block and body a program prints, and [`parse_routes_output`] the routes its
//! `_routes` export prints.
//!
//! This crate runs nothing: `wagi-runtime` runs the programs, on wasmtime, and uses this crate
//! for what they see and say. Keeping the contract apart lets it be read, tested and fuzzed
//! without a wasm engine.
//!
//! ```
//! use wagi_cgi::{CgiRequest, MatchedRoute, RequestContext, ServerAuthority};
//!
//! let (head, ()) = http::Request::get("/hello/world?a=1&b=2").body(()).unwrap().into_parts();
//! let context = RequestContext {
//!     remote_addr: "127.0.0.1".into(),
//!     remote_port: 40000,
//!     https: false,
//!     authority: ServerAuthority::derive(Some("localhost:3000"), None, "localhost:3000", false),
//!     route: MatchedRoute {
//!         script_name: "/hello".into(),
//!         raw_path_info: "/world".into(),
//!         pattern: "/hello/...".into(),
//!         params: Vec::new(),
//!     },
//! };
//! let request = CgiRequest { head: &head, content_length: 0, context: &context };
//! assert_eq!(request.argv(None), ["/hello/world", "a=1", "b=2"]);
//! let env = request.environment(&[]);
//! assert!(env.contains(&("PATH_INFO".to_owned(), "/world".to_owned())));
//! ```
#![deny(missing_docs)]

mod argv;
mod authority;
mod cgi_env;
mod error;
mod request;
mod response;
mod routes;

pub use authority::ServerAuthority;
pub use cgi_env::StaticEnv;
pub use error::OutputError;
pub use request::{CgiRequest, MatchedRoute, RequestContext, protocol_name};
pub use response::{
    CgiResponse, HeaderBlock, MAX_HEADER_BLOCK, final_status, http_response, parse_head, split_header_block,
};
pub use routes::{SubRoute, parse_routes_output};
