//! What CGI reads from a request: its head, the length of its body, and what the server knows
//! beyond them (the client, the scheme, the authority and the route).

use std::sync::Arc;

use http::Version;
use http::request::Parts;

use crate::authority::ServerAuthority;

/// What the server knows about a request beyond its head and body.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// The client's IP address as text, as `REMOTE_ADDR` shows it (formatted once per
    /// connection by the server).
    pub remote_addr: Arc<str>,
    /// The client's port (`0` when there is no connection, as for `wagi run`).
    pub remote_port: u16,
    /// Whether the request came over TLS.
    pub https: bool,
    /// The host and port the request was addressed to.
    pub authority: ServerAuthority,
    /// What the route matched.
    pub route: MatchedRoute,
}

/// The part of the routing decision CGI exposes to the module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchedRoute {
    /// `SCRIPT_NAME`.
    pub script_name: String,
    /// `X_RAW_PATH_INFO`: the path below `SCRIPT_NAME`, still percent-encoded.
    pub raw_path_info: String,
    /// `X_MATCHED_ROUTE`: the route pattern as written, e.g. `/foo/...`.
    pub pattern: Arc<str>,
    /// What each `:name` segment of a Spin route matched, in route order; `wasi:http`
    /// components get them as `spin-path-match-NAME` headers.
    pub params: Vec<(String, String)>,
}

/// One request as a CGI program sees it: a view of the request's head, its body's length and
/// its context, from which [`argv`](CgiRequest::argv) and the
/// [environment](CgiRequest::environment) are built.
#[derive(Clone, Copy, Debug)]
pub struct CgiRequest<'a> {
    /// The method, target, version and headers as received.
    pub head: &'a Parts,
    /// The body's length in bytes: `CONTENT_LENGTH`.
    pub content_length: u64,
    /// What the server knows beyond the head.
    pub context: &'a RequestContext,
}

impl CgiRequest<'_> {
    /// The path as received, still percent-encoded, without the query.
    #[inline]
    pub fn raw_path(&self) -> &str {
        self.head.uri.path()
    }

    /// The raw query after `?`; `None` when the request had no `?`.
    #[inline]
    pub fn query(&self) -> Option<&str> {
        self.head.uri.query()
    }
}

/// `SERVER_PROTOCOL` for an HTTP version, e.g. `HTTP/1.1`.
#[inline]
pub fn protocol_name(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}
