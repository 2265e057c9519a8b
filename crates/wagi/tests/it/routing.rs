//! Route precedence, trailing slashes, `_routes`, entrypoints and built-in routes.

use crate::support::{Site, Then, dump_with_routes, entry, printer};

#[test]
fn dynamic_routes_table_of_the_original() {
    let site = Site::new();
    site.write("routes.wat", dump_with_routes());
    let toml =
        [entry("/", "routes.wat"), entry("/exactparent", "routes.wat"), entry("/wildcardparent/...", "routes.wat")]
            .concat();
    let server = site.serve(&toml, &[]);
    // (url, entrypoint that ran, SCRIPT_NAME, PATH_INFO, X_MATCHED_ROUTE)
    let cases = [
        ("/", "_start", "/", "", "/"),
        ("/exactparent", "_start", "/exactparent", "", "/exactparent"),
        ("/exactparent/exact", "on_exact", "/exactparent/exact", "", "/exactparent/exact"),
        (
            "/exactparent/wildcard/fizz/buzz",
            "on_wildcard",
            "/exactparent/wildcard",
            "/fizz/buzz",
            "/exactparent/wildcard/...",
        ),
        ("/wildcardparent", "_start", "/wildcardparent", "", "/wildcardparent/..."),
        ("/wildcardparent/fizz/buzz", "_start", "/wildcardparent", "/fizz/buzz", "/wildcardparent/..."),
        ("/wildcardparent/exact", "on_exact", "/wildcardparent/exact", "", "/wildcardparent/exact"),
        (
            "/wildcardparent/wildcard/fizz/buzz",
            "on_wildcard",
            "/wildcardparent/wildcard",
            "/fizz/buzz",
            "/wildcardparent/wildcard/...",
        ),
        ("/main", "_start", "/main", "", "/main"),
    ];
    for (url, label, script_name, path_info, matched) in cases {
        let response = server.get(url);
        assert_eq!(response.status, 200, "{url}");
        assert_eq!(response.dumped("label="), [label], "{url}");
        assert_eq!(response.env_var("SCRIPT_NAME").as_deref(), Some(script_name), "{url}");
        assert_eq!(response.env_var("PATH_INFO").as_deref(), Some(path_info), "{url}");
        assert_eq!(response.env_var("X_RAW_PATH_INFO").as_deref(), Some(path_info), "{url}");
        assert_eq!(response.env_var("X_MATCHED_ROUTE").as_deref(), Some(matched), "{url}");
    }
    assert_eq!(server.get("/exactparent/other").status, 404);
}

#[test]
fn most_specific_route_wins_whatever_the_file_order() {
    let site = Site::new();
    for name in ["any", "a", "ab", "exact"] {
        site.write(
            &format!("{name}.wat"),
            printer(format!("Content-Type: text/plain\n\n{name}").as_bytes(), Then::Return),
        );
    }
    let toml =
        [entry("/...", "any.wat"), entry("/a/...", "a.wat"), entry("/a/b/...", "ab.wat"), entry("/a/b/c", "exact.wat")]
            .concat();
    let server = site.serve(&toml, &[]);
    for (url, expected) in [
        ("/", "any"),
        ("/x", "any"),
        ("/a", "a"),
        ("/a/", "a"),
        ("/ab", "any"),
        ("/a/b", "ab"),
        ("/a/b/c", "exact"),
        ("/a/b/c/", "ab"),
        ("/a/b/cd", "ab"),
        ("/a%2Fb", "any"),
    ] {
        assert_eq!(server.get(url).text(), expected, "{url}");
    }
}

#[test]
fn exact_routes_respect_trailing_slashes() {
    let site = Site::new();
    site.write("slash.wat", printer(b"Content-Type: text/plain\n\nslash", Then::Return));
    site.write("bare.wat", printer(b"Content-Type: text/plain\n\nbare", Then::Return));
    let server = site.serve(&[entry("/x/", "slash.wat"), entry("/y", "bare.wat")].concat(), &[]);
    assert_eq!(server.get("/x/").text(), "slash");
    assert_eq!(server.get("/x").status, 404);
    assert_eq!(server.get("/y").text(), "bare");
    assert_eq!(server.get("/y/").status, 404);
    assert_eq!(server.get("/yz").status, 404);
}

#[test]
fn entrypoints_choose_the_exported_function() {
    let site = Site::new();
    site.fixture("dump.wat");
    let toml = format!("{}{}entrypoint = \"on_exact\"\n", entry("/default", "dump.wat"), entry("/custom", "dump.wat"));
    let server = site.serve(&toml, &[]);
    assert_eq!(server.get("/default").dumped("label="), ["_start"]);
    assert_eq!(server.get("/custom").dumped("label="), ["on_exact"]);
}

#[test]
fn healthz_is_built_in_and_head_has_no_body() {
    let site = Site::new();
    site.write("hello.wat", printer(b"Content-Type: text/plain\n\nhello", Then::Return));
    let server = site.serve(&[entry("/healthz", "hello.wat"), entry("/hello", "hello.wat")].concat(), &[]);
    let health = server.get("/healthz");
    assert_eq!((health.status, health.text().as_str()), (200, "OK"));
    let head = server.request(b"HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("5"));
    let mut connection = server.connect();
    use std::io::{Read, Write};
    connection.write_all(b"HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("send");
    let mut raw = Vec::new();
    connection.read_to_end(&mut raw).expect("read");
    assert!(raw.ends_with(b"\r\n\r\n"), "HEAD response carries no body");
    let missing = server.get("/nope");
    assert_eq!((missing.status, missing.body.len()), (404, 0));
    for method in ["PUT", "DELETE", "OPTIONS", "PATCH"] {
        let response = server.request(
            format!("{method} /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(response.status, 200, "{method}");
    }
}
