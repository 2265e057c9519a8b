//! The guestbook example end to end: `examples/guestbook`, a WASI 0.2 component keeping its entries in a
//! writable volume, and `examples/static-files`, serving its stylesheet and logo from a read-only volume, as
//! `cargo xtask examples` builds them into `target/examples/`.
//!
//! The guestbook is built with `env-dump-wasip2`, for wasm32-wasip2. When `target/examples/skipped.txt` lists
//! it, these tests are skipped with a loud line, unless `CI` is set: then they fail.

use crate::examples::{root, skipped};
use crate::support::{Response, Server, Site};

/// Whether the guestbook was built; a test returns at once when it was not (`skipped` says so,
/// or fails under CI).
pub(crate) fn built() -> bool {
    !skipped().iter().any(|name| name == "guestbook")
}

/// A site serving the guestbook at `/guestbook` and `/guestbook/...`, with its entries in the site's `data/`,
/// and its static files at `/guestbook/static/...`.
pub(crate) fn guestbook_site() -> Site {
    let site = Site::new();
    std::fs::create_dir_all(site.path("data")).expect("create the data volume");
    let examples = root().join("target/examples");
    let guestbook = examples.join("guestbook.wasm");
    let volume = format!("volumes = {{ \"/data\" = {{ path = \"{}\" }} }}", site.path("data").display());
    let toml = format!(
        "[[module]]\nroute = \"/guestbook\"\nmodule = \"{guestbook}\"\n{volume}\n\n\
         [[module]]\nroute = \"/guestbook/...\"\nmodule = \"{guestbook}\"\n{volume}\n\n\
         [[module]]\nroute = \"/guestbook/static/...\"\nmodule = \"{static_files}\"\n\
         volumes = {{ \"/static\" = {{ path = \"{assets}\", read_only = true }} }}\n",
        guestbook = guestbook.display(),
        static_files = examples.join("static_files.wasm").display(),
        assets = root().join("examples/guestbook/static").display(),
    );
    site.write("modules.toml", toml);
    site
}

/// Posts `form`, already URL-encoded, to `/guestbook`.
fn sign(server: &Server, form: &str) -> Response {
    let request = format!(
        "POST /guestbook HTTP/1.1\r\nHost: localhost:3000\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    server.request(request.as_bytes())
}

/// A `GET` of `path` with one more request header, `header` (`Name: value`).
fn get_with(server: &Server, path: &str, header: &str) -> Response {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost:3000\r\n{header}\r\nConnection: close\r\n\r\n");
    server.request(request.as_bytes())
}

/// The guestbook page, checked to be one.
fn page(server: &Server) -> String {
    let page = server.get("/guestbook");
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    page.text()
}

/// Where `needle` is in `haystack`, which must hold it.
fn position(haystack: &str, needle: &str) -> usize {
    haystack.find(needle).unwrap_or_else(|| panic!("no {needle:?} in:\n{haystack}"))
}

#[test]
fn the_guestbook_takes_entries_and_shows_them_escaped_newest_first() {
    if !built() {
        return;
    }
    let site = guestbook_site();
    let server = Server::start(&site, &[], &[]);

    let empty = page(&server);
    for part in [
        "<!DOCTYPE html>",
        "<h1>Guestbook</h1>",
        "<form method=\"post\" action=\"/guestbook\">",
        "name=\"name\"",
        "name=\"message\"",
        "<button type=\"submit\">",
        "href=\"/guestbook/static/style.css\"",
        "src=\"/guestbook/static/logo.svg\"",
    ] {
        position(&empty, part);
    }

    let signed = sign(&server, "name=Ada+Lovelace&message=The+first+entry%2C+caf%C3%A9.");
    assert_eq!(signed.status, 303, "{}", signed.text());
    assert_eq!(signed.header("location"), Some("/guestbook"));
    let signed = sign(&server, "name=Mallory&message=%3Cscript%3Ealert(1)%3C%2Fscript%3E+%26+%22quotes%27");
    assert_eq!(signed.status, 303, "{}", signed.text());

    let text = page(&server);
    let first = position(&text, "The first entry, café.");
    let second = position(&text, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&#39;");
    assert!(second < first, "the newest entry comes first:\n{text}");
    assert!(!text.contains("<script>"), "an entry is not escaped:\n{text}");
    position(&text, "<span class=\"name\">Ada Lovelace</span>");
    position(&text, "UTC</time>");

    // A form with a mistake gets the page again, saying what is wrong and keeping what was typed.
    let invalid = sign(&server, "name=++&message=Kept+%3Cb%3Etext%3C%2Fb%3E");
    assert_eq!(invalid.status, 422);
    assert_eq!(invalid.header("content-type"), Some("text/html; charset=utf-8"));
    let text = invalid.text();
    position(&text, "class=\"error\"");
    position(&text, "Please enter your name.");
    position(&text, "Kept &lt;b&gt;text&lt;/b&gt;</textarea>");
    let invalid = sign(&server, "name=Bob+%22B%22&message=");
    assert_eq!(invalid.status, 422);
    let text = invalid.text();
    position(&text, "Please enter a message.");
    position(&text, "value=\"Bob &quot;B&quot;\"");
    let too_long = sign(&server, &format!("name=Eve&message={}", "m".repeat(501)));
    assert_eq!(too_long.status, 422);
    position(&too_long.text(), "at most 500 characters");
    let lines = std::fs::read_to_string(site.path("data/entries.tsv")).expect("read the entries");
    assert_eq!(lines.lines().count(), 2, "{lines}");

    let missing = server.get("/guestbook/nowhere");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-type"), Some("text/html; charset=utf-8"));
    position(&missing.text(), "href=\"/guestbook\"");

    let deleted = server.request(b"DELETE /guestbook HTTP/1.1\r\nHost: localhost:3000\r\nConnection: close\r\n\r\n");
    assert_eq!(deleted.status, 405);
    assert!(deleted.header("allow").is_some_and(|allow| allow.contains("GET") && allow.contains("POST")));
}

#[test]
fn the_static_files_have_validators_and_answer_conditional_requests() {
    if !built() {
        return;
    }
    let site = guestbook_site();
    let server = Server::start(&site, &[], &[]);
    let css = std::fs::read(root().join("examples/guestbook/static/style.css")).expect("read style.css");

    let style = server.get("/guestbook/static/style.css");
    assert_eq!(style.status, 200, "{}", style.text());
    assert_eq!(style.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(style.body, css);
    assert_eq!(style.header("cache-control"), Some("no-cache"));
    let etag = style.header("etag").expect("an ETag").to_owned();
    assert!(etag.starts_with(&format!("\"{}-", css.len())) && etag.ends_with('"'), "{etag}");
    let last_modified = style.header("last-modified").expect("a Last-Modified").to_owned();
    assert!(last_modified.ends_with(" GMT") && last_modified.len() == 29, "{last_modified}");

    let logo = server.get("/guestbook/static/logo.svg");
    assert_eq!(logo.status, 200);
    assert_eq!(logo.header("content-type"), Some("image/svg+xml"));
    assert!(logo.text().contains("<svg"));

    for header in [
        format!("If-None-Match: {etag}"),
        format!("If-None-Match: \"other\", W/{etag}"),
        "If-None-Match: *".to_owned(),
        format!("If-Modified-Since: {last_modified}"),
    ] {
        let cached = get_with(&server, "/guestbook/static/style.css", &header);
        assert_eq!(cached.status, 304, "{header}");
        assert!(cached.body.is_empty(), "{header}");
        assert_eq!(cached.header("etag"), Some(etag.as_str()), "{header}");
    }
    let changed = get_with(&server, "/guestbook/static/style.css", "If-None-Match: \"0-0\"");
    assert_eq!((changed.status, changed.body.len()), (200, css.len()));

    let head = server
        .request(b"HEAD /guestbook/static/style.css HTTP/1.1\r\nHost: localhost:3000\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("etag"), Some(etag.as_str()));

    assert_eq!(server.get("/guestbook/static/missing.css").status, 404);
    assert_eq!(server.get("/guestbook/static/%2e%2e/style.css").status, 400);
}

#[test]
fn concurrent_entries_are_all_kept_and_survive_a_restart() {
    if !built() {
        return;
    }
    const SIGNERS: usize = 50;
    let site = guestbook_site();
    let server = Server::start(&site, &[], &[]);

    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let signers: Vec<_> = (0..SIGNERS)
            .map(|i| {
                let server = &server;
                scope.spawn(move || sign(server, &format!("name=signer+{i}&message=message+{i}+of+{SIGNERS}")).status)
            })
            .collect();
        signers.into_iter().map(|signer| signer.join().expect("a signer thread")).collect()
    });
    assert_eq!(statuses, vec![303; SIGNERS]);

    // Every line is whole: one entry per line, none torn or interleaved.
    let data = std::fs::read_to_string(site.path("data/entries.tsv")).expect("read the entries");
    let mut signers: Vec<usize> = data
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let [time, name, message] = fields.as_slice() else { panic!("not an entry: {line:?}") };
            assert!(time.parse::<u64>().is_ok(), "{line:?}");
            let i = name.strip_prefix("signer ").and_then(|i| i.parse().ok()).expect("a signer's name");
            assert_eq!(*message, format!("message {i} of {SIGNERS}"), "{line:?}");
            i
        })
        .collect();
    signers.sort_unstable();
    assert_eq!(signers, (0..SIGNERS).collect::<Vec<_>>());

    let shows_everyone = |text: &str| {
        for i in 0..SIGNERS {
            position(text, &format!("<span class=\"name\">signer {i}</span>"));
            position(text, &format!("<p class=\"message\">message {i} of {SIGNERS}</p>"));
        }
    };
    shows_everyone(&page(&server));

    drop(server);
    let server = Server::start(&site, &[], &[]);
    shows_everyone(&page(&server));
}
