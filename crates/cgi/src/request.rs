//! What the server hands the CGI runtime for one request.

use std::sync::Arc;

use http::HeaderMap;

use crate::stdin::RequestBody;

/// One HTTP request, already routed, as the CGI runtime needs it.
#[derive(Clone, Debug)]
pub struct CgiRequest {
    /// The method as sent, e.g. `GET`.
    pub method: String,
    /// The path as received, still percent-encoded, without the query.
    pub raw_path: String,
    /// The raw query after `?`; `None` when the request had no `?`.
    pub query: Option<String>,
    /// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2.0`.
    pub protocol: &'static str,
    /// The request headers.
    pub headers: HeaderMap,
    /// The request body, for stdin.
    pub body: RequestBody,
    /// The client's IP address as text, as `REMOTE_ADDR` shows it (formatted once per
    /// connection by the server).
    pub remote_addr: Arc<str>,
    /// The client's port (`0` when there is no connection, as for `wagi run`).
    pub remote_port: u16,
    /// Whether the request came over TLS.
    pub https: bool,
    /// The host and port the request was addressed to (see [`ServerAuthority::derive`]).
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

/// `SERVER_NAME` and `SERVER_PORT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAuthority {
    /// The host name or address; IPv6 addresses keep their brackets (RFC 3875 §4.1.14).
    pub name: String,
    /// The port.
    pub port: u16,
}

impl ServerAuthority {
    /// Derives the authority from the `Host` header, else the request URI's authority (HTTP/2
    /// `:authority`), else `default_host` (the `--hostname` flag). A host without a port gets
    /// the scheme's default port, not the default host's.
    pub fn derive(host_header: Option<&str>, uri_authority: Option<&str>, default_host: &str, https: bool) -> Self {
        let default_port = if https { 443 } else { 80 };
        [host_header, uri_authority, Some(default_host)]
            .into_iter()
            .flatten()
            .find_map(|candidate| split_host_port(candidate, default_port))
            .unwrap_or_else(|| Self { name: "localhost".to_owned(), port: default_port })
    }
}

/// Splits `host[:port]`, `[v6]` or `[v6]:port`; `None` when the text is not a valid authority.
fn split_host_port(text: &str, default_port: u16) -> Option<ServerAuthority> {
    let text = text.trim();
    let (name, port) = if text.starts_with('[') {
        let end = text.find(']')?;
        let (name, rest) = text.split_at(end + 1);
        match rest {
            "" => (name, None),
            _ => (name, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match text.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (text, None),
        }
    };
    if name.is_empty() || name.contains(['/', ' ', '@']) {
        return None;
    }
    let port = match port {
        Some(port) => port.parse().ok()?,
        None => default_port,
    };
    Some(ServerAuthority { name: name.to_owned(), port })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(host: Option<&str>, uri: Option<&str>, default: &str, https: bool, expected: (&str, u16)) {
        let authority = ServerAuthority::derive(host, uri, default, https);
        assert_eq!((authority.name.as_str(), authority.port), expected, "{host:?} {uri:?} {default}");
    }

    #[test]
    fn host_header_wins_and_defaults_to_the_scheme_port() {
        check(Some("localhost:3000"), None, "localhost:3000", false, ("localhost", 3000));
        check(Some("example.com"), None, "localhost:3000", false, ("example.com", 80));
        check(Some("example.com"), None, "localhost:3000", true, ("example.com", 443));
        check(Some("example.com:8443"), Some("other:1"), "localhost:3000", true, ("example.com", 8443));
    }

    #[test]
    fn ipv6_hosts_keep_their_brackets() {
        check(Some("[::1]:3900"), None, "localhost:3000", false, ("[::1]", 3900));
        check(Some("[::1]"), None, "localhost:3000", false, ("[::1]", 80));
    }

    #[test]
    fn falls_back_to_uri_authority_then_default_host() {
        check(None, Some("h2.example:8080"), "localhost:3000", false, ("h2.example", 8080));
        check(None, None, "localhost:3000", false, ("localhost", 3000));
        check(Some("bad:port"), None, "localhost:3000", false, ("localhost", 3000));
        check(None, None, "", false, ("localhost", 80));
    }
}
