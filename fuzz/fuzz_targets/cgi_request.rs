//! Fuzzes what a module receives: argv from the query and the environment from untrusted
//! headers, host and request target. PATH_INFO never carries a NUL, and configured variables win over
//! request headers.
#![no_main]

use http::{HeaderName, HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use wagi_cgi::{CgiRequest, MatchedRoute, RequestContext, ServerAuthority};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\n');
    let target = parts.next().unwrap_or_default();
    let host = parts.next().unwrap_or_default();
    let mut request = Request::get(target);
    for line in parts {
        if let Some((name, value)) = line.split_once(':') {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                request = request.header(name, value);
            }
        }
    }
    // Only a target HTTP can carry reaches a module.
    let Ok(request) = request.body(()) else { return };
    let (head, ()) = request.into_parts();
    let context = RequestContext {
        remote_addr: "127.0.0.1".into(),
        remote_port: 40000,
        https: false,
        authority: ServerAuthority::derive(Some(host), None, "localhost:3000", false),
        route: MatchedRoute {
            script_name: "/".to_owned(),
            raw_path_info: head.uri.path().to_owned(),
            pattern: "/...".into(),
            params: Vec::new(),
        },
    };
    let request = CgiRequest { head: &head, content_length: 0, context: &context };
    let argv = request.argv(None);
    assert!(!argv.is_empty());
    let _ = request.argv(Some("${SCRIPT_NAME} x ${ARGS}"));
    let configured = [("HTTP_X_A".to_owned(), "operator".to_owned())];
    let env = request.environment(&configured);
    let path_info = env.iter().find(|(n, _)| n == "PATH_INFO").map(|(_, v)| v);
    assert!(path_info.is_some_and(|v| !v.contains('\0')), "PATH_INFO never carries NUL");
    let x_a: Vec<&String> = env.iter().filter(|(n, _)| n == "HTTP_X_A").map(|(_, v)| v).collect();
    assert_eq!(x_a, ["operator"]);
});
