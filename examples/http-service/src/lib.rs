//! A `wasi:http` 0.3 component written with the `wasip3` crate: `handle` is an `async` function,
//! and the body of its response is a stream it keeps writing after it has returned. Build it for
//! `wasm32-wasip2` as a library (`crate-type = ["cdylib"]`).
//!
//! What it answers depends on the last segment of the path:
//!
//! - `echo`: the request body, read and written back piece by piece as it arrives;
//! - `chunks`: `first` and `second`, each a line, written as two pieces;
//! - `broken`: `first`, then a trap, so the response must be cut short;
//! - `fetch?url=URL`: a GET of `URL` through `wasi:http/client`: the peer's status and body, or
//!   `502` with the error code the host gave;
//! - `request`: what it was given: method, path with query, authority, scheme and the headers
//!   sorted by name, one `name: value` per line;
//! - `trailers`: `body` and then the trailer `x-checksum: 42`, announced in the head;
//! - `fetch-self`: a GET of this very URL through `wasi:http/client`, answered with the status
//!   that came back: a loop, which the host stops;
//! - `loop`: never answers;
//! - `count`: how many requests this instance has been given, this one included: always 1 with a
//!   fresh instance per request, more when the route reuses instances;
//! - `grow?mib=N`: fills N MiB of memory, then answers with N;
//! - anything else: `hello from wagi`, what `hello.wat` answers.

use std::sync::atomic::{AtomicU32, Ordering};

use wasip3::http::types::{ErrorCode, Fields, Request, Response, Scheme};
use wasip3::wit_bindgen::StreamResult;
use wasip3::{spawn_local, wit_future, wit_stream};

wasip3::http::service::export!(Service);

struct Service;

/// Bytes read from the request body at a time.
const READ: usize = 64 << 10;

/// Requests this instance has been given.
static GIVEN: AtomicU32 = AtomicU32::new(0);

impl wasip3::exports::http::handler::Guest for Service {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let target = request.get_path_with_query().unwrap_or_default();
        let path = target.split('?').next().unwrap_or_default();
        let last = path.rsplit('/').next().unwrap_or_default().to_owned();
        let given = GIVEN.fetch_add(1, Ordering::Relaxed) + 1;
        if last == "count" {
            return Ok(text(200, format!("{given}\n").into_bytes()));
        }
        if last == "grow" {
            let mib: usize = target.split_once("?mib=").and_then(|(_, n)| n.parse().ok()).unwrap_or(0);
            let filled = std::hint::black_box(vec![1_u8; mib << 20]);
            return Ok(text(200, format!("{}\n", filled.len() >> 20).into_bytes()));
        }
        if last == "request" {
            return Ok(text(200, describe(&request).into_bytes()));
        }
        if last == "fetch-self" {
            let scheme = match request.get_scheme() {
                Some(Scheme::Https) => "https",
                _ => "http",
            };
            let url = format!("{scheme}://{}{target}", request.get_authority().unwrap_or_default());
            return Ok(match get(&url).await {
                Ok((status, body)) => text(status, body),
                Err(code) => text(502, format!("{code:?}\n").into_bytes()),
            });
        }
        if last == "fetch" {
            let url = target.split_once("?url=").map_or("", |(_, url)| url);
            return Ok(match get(url).await {
                Ok((status, body)) => text(status, body),
                Err(code) => text(502, format!("{code:?}\n").into_bytes()),
            });
        }
        let (mut body, body_reader) = wit_stream::new();
        let (trailers, trailers_reader) = wit_future::new(|| Ok(None));
        drop(trailers);
        let (response, _sent) = Response::new(Fields::new(), Some(body_reader), trailers_reader);
        match last.as_str() {
            "echo" => {
                let (_read, read_reader) = wit_future::new(|| Ok(()));
                let (mut incoming, _trailers) = Request::consume_body(request, read_reader);
                spawn_local(async move {
                    loop {
                        let (result, chunk) = incoming.read(Vec::with_capacity(READ)).await;
                        if !chunk.is_empty() && !body.write_all(chunk).await.is_empty() {
                            return;
                        }
                        if !matches!(result, StreamResult::Complete(_)) {
                            return;
                        }
                    }
                });
            }
            "trailers" => {
                let (mut body, body_reader) = wit_stream::new();
                let (trailers, trailers_reader) = wit_future::new(|| Ok(None));
                // HTTP/1.1 sends only the trailers the head announces.
                let announced = Fields::from_list(&[("trailer".to_owned(), b"x-checksum".to_vec())])
                    .unwrap_or_else(|_| Fields::new());
                let (response, _sent) = Response::new(announced, Some(body_reader), trailers_reader);
                spawn_local(async move {
                    body.write_all(b"body\n".to_vec()).await;
                    drop(body);
                    let fields = Fields::from_list(&[("x-checksum".to_owned(), b"42".to_vec())]).ok();
                    let _ = trailers.write(Ok(fields)).await;
                });
                return Ok(response);
            }
            "chunks" => {
                spawn_local(async move {
                    if body.write_all(b"first\n".to_vec()).await.is_empty() {
                        body.write_all(b"second\n".to_vec()).await;
                    }
                });
            }
            "broken" => {
                spawn_local(async move {
                    body.write_all(b"first\n".to_vec()).await;
                    panic!("the component fails after its response started");
                });
            }
            "loop" =>
            {
                #[allow(clippy::empty_loop)]
                loop {}
            }
            _ => {
                spawn_local(async move {
                    body.write_all(b"hello from wagi\n".to_vec()).await;
                });
            }
        }
        Ok(response)
    }
}

/// What `request` was given, one line each.
fn describe(request: &Request) -> String {
    let scheme = match request.get_scheme() {
        Some(Scheme::Http) => "http".to_owned(),
        Some(Scheme::Https) => "https".to_owned(),
        Some(Scheme::Other(other)) => other,
        None => String::new(),
    };
    let mut text = format!(
        "method: {:?}\npath-with-query: {}\nauthority: {}\nscheme: {scheme}\n",
        request.get_method(),
        request.get_path_with_query().unwrap_or_default(),
        request.get_authority().unwrap_or_default(),
    );
    let mut headers: Vec<(String, String)> = request
        .get_headers()
        .copy_all()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    headers.sort();
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\n"));
    }
    text
}

/// A response of `status` whose body is `bytes`.
fn text(status: u16, bytes: Vec<u8>) -> Response {
    let (mut body, body_reader) = wit_stream::new();
    let (trailers, trailers_reader) = wit_future::new(|| Ok(None));
    drop(trailers);
    let (response, _sent) = Response::new(Fields::new(), Some(body_reader), trailers_reader);
    let _ = response.set_status_code(status);
    spawn_local(async move {
        body.write_all(bytes).await;
    });
    response
}

/// GETs `url` (`http://` or `https://` only): the status and the whole body, or the host's error code.
async fn get(url: &str) -> Result<(u16, Vec<u8>), ErrorCode> {
    let (scheme, rest) = match url.split_once("://") {
        Some(("https", rest)) => (Scheme::Https, rest),
        Some(("http", rest)) => (Scheme::Http, rest),
        _ => return Err(ErrorCode::HttpRequestUriInvalid),
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
    let (trailers, trailers_reader) = wit_future::new(|| Ok(None));
    drop(trailers);
    let (request, _sent) = Request::new(Fields::new(), None, trailers_reader, None);
    let invalid = |()| ErrorCode::HttpRequestUriInvalid;
    request.set_scheme(Some(&scheme)).map_err(invalid)?;
    request.set_authority(Some(authority)).map_err(invalid)?;
    request.set_path_with_query(Some(path)).map_err(invalid)?;
    let response = wasip3::http::client::send(request).await?;
    let status = response.get_status_code();
    let (_read, read_reader) = wit_future::new(|| Ok(()));
    let (body, _trailers) = Response::consume_body(response, read_reader);
    Ok((status, body.collect().await))
}
