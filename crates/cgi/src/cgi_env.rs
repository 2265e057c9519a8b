//! The environment a module sees: RFC 3875 meta-variables, WAGI's `X_*` extensions, one
//! `HTTP_*` variable per request header, and the operator's configured variables.

use std::borrow::Cow;
use std::collections::HashSet;

use http::header;
use percent_encoding::percent_decode_str;

use crate::request::{CgiRequest, protocol_name};

impl CgiRequest<'_> {
    /// The environment a module gets for this request, given the configured variables in
    /// increasing precedence. Handlers merge the configured variables once, at load time (see
    /// [`StaticEnv`]); this does it per call.
    pub fn environment(&self, configured: &[(String, String)]) -> Vec<(String, String)> {
        let (static_env, _shadowed) = StaticEnv::new(configured.iter().cloned());
        build_env(self, &static_env)
    }
}

/// Names of the meta-variables, spelled as RFC 3875 §4.1 and the original WAGI spell them.
pub(crate) mod names {
    pub(crate) const AUTH_TYPE: &str = "AUTH_TYPE";
    pub(crate) const CONTENT_LENGTH: &str = "CONTENT_LENGTH";
    pub(crate) const CONTENT_TYPE: &str = "CONTENT_TYPE";
    pub(crate) const GATEWAY_INTERFACE: &str = "GATEWAY_INTERFACE";
    pub(crate) const HTTPS: &str = "HTTPS";
    pub(crate) const PATH_INFO: &str = "PATH_INFO";
    pub(crate) const PATH_TRANSLATED: &str = "PATH_TRANSLATED";
    pub(crate) const QUERY_STRING: &str = "QUERY_STRING";
    pub(crate) const REMOTE_ADDR: &str = "REMOTE_ADDR";
    pub(crate) const REMOTE_HOST: &str = "REMOTE_HOST";
    pub(crate) const REMOTE_USER: &str = "REMOTE_USER";
    pub(crate) const REQUEST_METHOD: &str = "REQUEST_METHOD";
    pub(crate) const SCRIPT_NAME: &str = "SCRIPT_NAME";
    pub(crate) const SERVER_NAME: &str = "SERVER_NAME";
    pub(crate) const SERVER_PORT: &str = "SERVER_PORT";
    pub(crate) const SERVER_PROTOCOL: &str = "SERVER_PROTOCOL";
    pub(crate) const SERVER_SOFTWARE: &str = "SERVER_SOFTWARE";
    pub(crate) const X_FULL_URL: &str = "X_FULL_URL";
    pub(crate) const X_MATCHED_ROUTE: &str = "X_MATCHED_ROUTE";
    pub(crate) const X_RAW_PATH_INFO: &str = "X_RAW_PATH_INFO";

    /// Every name the server sets itself; configuration cannot replace these.
    pub(crate) const ALL: &[&str] = &[
        AUTH_TYPE,
        CONTENT_LENGTH,
        CONTENT_TYPE,
        GATEWAY_INTERFACE,
        HTTPS,
        PATH_INFO,
        PATH_TRANSLATED,
        QUERY_STRING,
        REMOTE_ADDR,
        REMOTE_HOST,
        REMOTE_USER,
        REQUEST_METHOD,
        SCRIPT_NAME,
        SERVER_NAME,
        SERVER_PORT,
        SERVER_PROTOCOL,
        SERVER_SOFTWARE,
        X_FULL_URL,
        X_MATCHED_ROUTE,
        X_RAW_PATH_INFO,
    ];
}

/// Request headers that never become `HTTP_*` variables: credentials and hop-by-hop state
/// (as in the original), and `Proxy`, which would become `HTTP_PROXY` (httpoxy, CVE-2016-5385).
const HIDDEN_HEADERS: &[&str] = &["authorization", "connection", "proxy"];

/// The operator's variables for one handler, merged once at load time.
#[derive(Clone, Debug, Default)]
pub struct StaticEnv {
    vars: Vec<(String, String)>,
    names: HashSet<String>,
}

impl StaticEnv {
    /// Merges variables in increasing precedence (later pairs replace earlier ones with the
    /// same name). Names the server sets itself are dropped and returned, so the caller can warn.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> (Self, Vec<String>) {
        let mut env = Self::default();
        let mut shadowed = Vec::new();
        for (name, value) in pairs {
            if names::ALL.contains(&name.as_str()) {
                shadowed.push(name);
            } else if env.names.contains(&name) {
                if let Some(slot) = env.vars.iter_mut().find(|(n, _)| *n == name) {
                    slot.1 = value;
                }
            } else {
                env.names.insert(name.clone());
                env.vars.push((name, value));
            }
        }
        (env, shadowed)
    }

    /// The bytes the variables take as `NAME=value` strings, terminators included.
    pub fn packed_len(&self) -> usize {
        self.vars.iter().map(|(name, value)| name.len() + value.len() + 2).sum()
    }
}

/// Builds the complete environment for one request.
fn build_env(request: &CgiRequest<'_>, static_env: &StaticEnv) -> Vec<(String, String)> {
    let mut env = Vec::with_capacity(static_env.vars.len() + names::ALL.len() + request.head.headers.keys_len());
    request.for_each_var(static_env, |name, value| env.push((name.to_owned(), value.concat())));
    env
}

impl CgiRequest<'_> {
    /// Calls `set` with each variable of the request's environment, borrowing what it can: a
    /// core module's environment is packed pair by pair straight into the buffer it reads. A
    /// value comes in pieces to be joined, most in one.
    ///
    /// Configured variables come first; the meta-variables follow and cannot be configured; a
    /// request header never replaces a configured variable (a client must not override what
    /// the operator set).
    pub fn for_each_var(&self, static_env: &StaticEnv, mut set: impl FnMut(&str, &[&str])) {
        for (name, value) in &static_env.vars {
            set(name, &[value]);
        }

        let (head, context) = (self.head, self.context);
        let route = &context.route;
        // PATH_INFO is decoded (RFC 3875 §4.1.5); invalid UTF-8 becomes U+FFFD and NUL, which no
        // environment string can carry, too.
        let mut path_info = percent_decode_str(&route.raw_path_info).decode_utf8_lossy();
        if path_info.contains('\0') {
            path_info = Cow::Owned(path_info.replace('\0', "\u{FFFD}"));
        }
        let raw_path = self.raw_path();
        let query = self.query().unwrap_or_default();
        let authority = &context.authority;
        let mut port = itoa::Buffer::new();
        let port = port.format(authority.port());
        // X_FULL_URL, in pieces: the caller joins them where it copies the value anyway.
        let scheme = if context.https { "https://" } else { "http://" };
        let url = [scheme, authority.name(), ":", port, raw_path, "?", query];
        let full_url = if self.query().is_some() { &url[..] } else { &url[..5] };

        set(names::AUTH_TYPE, &[""]);
        set(names::CONTENT_LENGTH, &[itoa::Buffer::new().format(self.content_length)]);
        let content_type = head.headers.get(header::CONTENT_TYPE).map(|value| header_text(value));
        set(names::CONTENT_TYPE, &[content_type.as_deref().unwrap_or_default()]);
        set(names::GATEWAY_INTERFACE, &["CGI/1.1"]);
        if context.https {
            set(names::HTTPS, &["on"]);
        }
        set(names::PATH_INFO, &[&path_info]);
        set(names::PATH_TRANSLATED, &[&path_info]);
        set(names::QUERY_STRING, &[query]);
        set(names::REMOTE_ADDR, &[&context.remote_addr]);
        set(names::REMOTE_HOST, &[&context.remote_addr]);
        set(names::REMOTE_USER, &[""]);
        set(names::REQUEST_METHOD, &[head.method.as_str()]);
        set(names::SCRIPT_NAME, &[&route.script_name]);
        set(names::SERVER_NAME, &[authority.name()]);
        set(names::SERVER_PORT, &[port]);
        set(names::SERVER_PROTOCOL, &[protocol_name(head.version)]);
        set(names::SERVER_SOFTWARE, &["WAGI/1"]);
        set(names::X_FULL_URL, full_url);
        set(names::X_MATCHED_ROUTE, &[&route.pattern]);
        set(names::X_RAW_PATH_INFO, &[&route.raw_path_info]);

        let mut var_name = String::with_capacity(64);
        for name in head.headers.keys() {
            // A header name with `_` would collide with its `-` twin (`X_Foo` and `X-Foo` both
            // give `HTTP_X_FOO`) and could spoof it, so such headers are dropped, as nginx and
            // Apache do.
            if HIDDEN_HEADERS.contains(&name.as_str()) || name.as_str().contains('_') {
                continue;
            }
            http_var_name(name.as_str(), &mut var_name);
            if static_env.names.contains(&var_name) {
                continue;
            }
            let mut values = head.headers.get_all(name).iter();
            let first = values.next().map(|value| header_text(value)).unwrap_or_default();
            // RFC 3875 §4.1.18: repeated headers are joined into one value with the same meaning.
            let separator = if name == header::COOKIE { "; " } else { ", " };
            let value = values.fold(first, |mut joined, value| {
                let joined_mut = joined.to_mut();
                joined_mut.push_str(separator);
                joined_mut.push_str(&header_text(value));
                joined
            });
            set(&var_name, &[&value]);
        }
    }
}

/// Writes `HTTP_` and the header name, upper-cased with `-` turned into `_`, into `var`.
#[inline]
fn http_var_name(header_name: &str, var: &mut String) {
    var.clear();
    var.push_str("HTTP_");
    // Header names are ASCII (RFC 9110 tokens), so bytes map to chars one to one.
    var.extend(header_name.bytes().map(|b| if b == b'-' { '_' } else { char::from(b.to_ascii_uppercase()) }));
}

/// Header values are bytes; modules get them as text, with invalid UTF-8 replaced.
#[inline]
fn header_text(value: &http::HeaderValue) -> Cow<'_, str> {
    String::from_utf8_lossy(value.as_bytes())
}

#[cfg(test)]
mod tests {

    use http::request::Parts;

    use super::*;
    use crate::authority::ServerAuthority;
    use crate::request::{MatchedRoute, RequestContext};

    /// A request's head, the length of its body and its context.
    struct Request {
        head: Parts,
        content_length: u64,
        context: RequestContext,
    }

    impl Request {
        fn cgi(&self) -> CgiRequest<'_> {
            CgiRequest { head: &self.head, content_length: self.content_length, context: &self.context }
        }
    }

    fn request(headers: &[(&'static str, &'static str)]) -> Request {
        let mut builder = http::Request::builder().method("POST").uri("/foo/bar/baz?a=1&b=x%20y");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (head, ()) = builder.body(()).expect("a valid request").into_parts();
        let context = RequestContext {
            remote_addr: "127.0.0.1".into(),
            remote_port: 40000,
            https: false,
            authority: ServerAuthority::derive(None, None, "localhost:3000", false),
            route: MatchedRoute {
                script_name: "/foo".into(),
                raw_path_info: "/bar/baz".into(),
                pattern: "/foo/...".into(),
                params: Vec::new(),
            },
        };
        Request { head, content_length: 5, context }
    }

    fn render(env: &[(String, String)]) -> Vec<String> {
        let mut lines: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        lines.sort();
        lines
    }

    #[test]
    fn worked_example_of_the_reference() {
        let request = request(&[
            ("host", "localhost:3000"),
            ("user-agent", "curl/8"),
            ("accept", "*/*"),
            ("content-length", "5"),
            ("content-type", "text/plain"),
        ]);
        let env = build_env(&request.cgi(), &StaticEnv::default());
        assert_eq!(
            render(&env),
            [
                "AUTH_TYPE=",
                "CONTENT_LENGTH=5",
                "CONTENT_TYPE=text/plain",
                "GATEWAY_INTERFACE=CGI/1.1",
                "HTTP_ACCEPT=*/*",
                "HTTP_CONTENT_LENGTH=5",
                "HTTP_CONTENT_TYPE=text/plain",
                "HTTP_HOST=localhost:3000",
                "HTTP_USER_AGENT=curl/8",
                "PATH_INFO=/bar/baz",
                "PATH_TRANSLATED=/bar/baz",
                "QUERY_STRING=a=1&b=x%20y",
                "REMOTE_ADDR=127.0.0.1",
                "REMOTE_HOST=127.0.0.1",
                "REMOTE_USER=",
                "REQUEST_METHOD=POST",
                "SCRIPT_NAME=/foo",
                "SERVER_NAME=localhost",
                "SERVER_PORT=3000",
                "SERVER_PROTOCOL=HTTP/1.1",
                "SERVER_SOFTWARE=WAGI/1",
                "X_FULL_URL=http://localhost:3000/foo/bar/baz?a=1&b=x%20y",
                "X_MATCHED_ROUTE=/foo/...",
                "X_RAW_PATH_INFO=/bar/baz",
            ]
        );
    }

    #[test]
    fn path_info_is_percent_decoded() {
        let mut request = request(&[]);
        request.context.route.raw_path_info = "/a%2Fb%3bc+d%C3%A9%FF%00".into();
        let env = build_env(&request.cgi(), &StaticEnv::default());
        let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(get("PATH_INFO"), Some("/a/b;c+dé\u{FFFD}\u{FFFD}"));
        assert_eq!(get("X_RAW_PATH_INFO"), Some("/a%2Fb%3bc+d%C3%A9%FF%00"));
    }

    #[test]
    fn secrets_hop_by_hop_and_proxy_headers_are_hidden() {
        let request = request(&[("authorization", "Basic x"), ("connection", "close"), ("proxy", "http://evil")]);
        let env = build_env(&request.cgi(), &StaticEnv::default());
        assert!(
            env.iter().all(|(k, _)| !matches!(k.as_str(), "HTTP_AUTHORIZATION" | "HTTP_CONNECTION" | "HTTP_PROXY"))
        );
    }

    #[test]
    fn headers_with_underscores_cannot_spoof_their_dashed_twins() {
        let request = request(&[("x-forwarded-for", "10.0.0.1"), ("x_forwarded_for", "6.6.6.6")]);
        let env = build_env(&request.cgi(), &StaticEnv::default());
        let values: Vec<&str> =
            env.iter().filter(|(k, _)| k == "HTTP_X_FORWARDED_FOR").map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, ["10.0.0.1"]);
    }

    #[test]
    fn repeated_headers_are_joined_and_cookies_with_semicolons() {
        let request = request(&[("x-d", "1"), ("x-d", "2"), ("cookie", "a=1"), ("cookie", "b=2")]);
        let env = build_env(&request.cgi(), &StaticEnv::default());
        assert!(env.contains(&("HTTP_X_D".into(), "1, 2".into())));
        assert!(env.contains(&("HTTP_COOKIE".into(), "a=1; b=2".into())));
    }

    #[test]
    fn configured_variables_merge_and_cannot_be_overridden_by_clients() {
        let pairs = [("A", "module"), ("HTTP_X_OVR", "operator"), ("A", "global"), ("SERVER_NAME", "no")];
        let (static_env, shadowed) = StaticEnv::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(shadowed, ["SERVER_NAME"]);
        let mut request = request(&[("x-ovr", "client")]);
        request.context.https = true;
        let env = build_env(&request.cgi(), &static_env);
        let values = |name: &str| env.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
        assert_eq!(values("A"), ["global"]);
        assert_eq!(values("HTTP_X_OVR"), ["operator"]);
        assert_eq!(values("SERVER_NAME"), ["localhost"]);
        assert_eq!(values("HTTPS"), ["on"]);
        assert_eq!(values("X_FULL_URL"), ["https://localhost:3000/foo/bar/baz?a=1&b=x%20y"]);
    }
}
