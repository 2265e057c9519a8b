//! Fuzzes what a module receives: argv from the query and the environment from untrusted
//! headers, host and path. PATH_INFO never carries a NUL, and configured variables win over
//! request headers.
#![no_main]

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use wagi_cgi::{CgiRequest, MatchedRoute, ServerAuthority};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\n');
    let path = parts.next().unwrap_or_default().to_owned();
    let query = parts.next().map(str::to_owned);
    let host = parts.next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for line in parts {
        if let Some((name, value)) = line.split_once(':') {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                headers.append(name, value);
            }
        }
    }
    let request = CgiRequest {
        method: "GET".to_owned(),
        raw_path: path.clone(),
        query,
        protocol: "HTTP/1.1",
        headers,
        body: Bytes::new().into(),
        remote_addr: "127.0.0.1".into(),
            remote_port: 40000,
        https: false,
        authority: ServerAuthority::derive(Some(host), None, "localhost:3000", false),
        route: MatchedRoute {
            script_name: "/".to_owned(),
            raw_path_info: path,
            pattern: "/...".into(),
            params: Vec::new(),
        },
    };
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
