//! A `wasi:http` component: it answers HTTP requests itself, with no CGI in between, and runs in wagi beside
//! WAGI modules. Build it for `wasm32-wasip2` as a library (`crate-type = ["cdylib"]`).
//!
//! What it answers depends on the first segment of the path below its route, which wagi passes in the
//! `spin-path-info` header as Spin does:
//!
//! - `/stream?mib=N`: `N` MiB of `a` (10 by default), written in 64 KiB pieces while the client reads them;
//!   `&then=fail` makes it trap after the last piece and `&then=loop` makes it spin until its deadline, so the
//!   response must be cut short.
//! - `/echo`: the request body, read and written back piece by piece as it arrives.
//! - `/request`: what the component was given: method, path with query, authority, scheme, headers sorted
//!   by name, and the configured environment, one `name: value` or `NAME=value` per line.
//! - `/fetch?url=URL`: a GET of `URL` through `wasi:http/outgoing-handler`: the peer's status and body, or
//!   `502` with the error code the host gave.
//! - `/file?path=P`: the file `P` from the component's files, or `404`.
//! - `/alloc?mib=N`: allocates and fills `N` MiB before answering how much it allocated.
//! - `/status?code=N`: a response with status `N` (200 by default), even a 1xx one no server may send as final.
//! - `/count`: how many requests this instance has been given, this one included: always 1 with a
//!   fresh instance per request, more when the route reuses instances.
//! - `/fail`: traps before it sets a response.
//! - `/loop`: never answers.
//! - anything else: `hello from wagi`, what `hello.wat` answers.

mod outbound;

use std::sync::atomic::{AtomicU32, Ordering};

use wasip2::http::types::{Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam, Scheme};
use wasip2::io::streams::{OutputStream, StreamError};

wasip2::http::proxy::export!(Component);

struct Component;

/// Requests this instance has been given.
static GIVEN: AtomicU32 = AtomicU32::new(0);

impl wasip2::exports::http::incoming_handler::Guest for Component {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = header(&request, "spin-path-info").unwrap_or_default();
        let query = request.path_with_query().and_then(|p| p.split_once('?').map(|(_, q)| q.to_owned()));
        let param = |name: &str| query.as_deref().and_then(|q| query_param(q, name));
        let given = GIVEN.fetch_add(1, Ordering::Relaxed) + 1;
        match path.split('/').nth(1).unwrap_or_default() {
            "stream" => {
                let mib = param("mib").and_then(|n| n.parse().ok()).unwrap_or(10u32);
                stream(out, mib, param("then").as_deref());
            }
            "echo" => echo(request, out),
            "request" => {
                let text = describe(&request);
                respond(out, 200, "text/plain", text.as_bytes());
            }
            "fetch" => match param("url") {
                Some(url) => fetch(out, &url),
                None => respond(out, 400, "text/plain", b"missing ?url=\n"),
            },
            "file" => match std::fs::read(param("path").unwrap_or_default()) {
                Ok(bytes) => respond(out, 200, "application/octet-stream", &bytes),
                Err(error) => respond(out, 404, "text/plain", format!("{error}\n").as_bytes()),
            },
            "alloc" => {
                let mib: usize = param("mib").and_then(|n| n.parse().ok()).unwrap_or(1);
                let filled = vec![1u8; mib << 20];
                let text = format!("allocated {} MiB\n", filled.iter().map(|&b| usize::from(b)).sum::<usize>() >> 20);
                respond(out, 200, "text/plain", text.as_bytes());
            }
            "status" => {
                let code = param("code").and_then(|n| n.parse().ok()).unwrap_or(200);
                respond(out, code, "text/plain", format!("status {code}\n").as_bytes());
            }
            "count" => respond(out, 200, "text/plain", format!("{given}\n").as_bytes()),
            "fail" => panic!("failing before the response is set"),
            "loop" => spin(),
            _ => respond(out, 200, "text/plain", b"hello from wagi\n"),
        }
    }
}

/// Sets a response of `status` with `body`, written whole.
fn respond(out: ResponseOutparam, status: u16, content_type: &str, body: &[u8]) {
    let headers =
        Fields::from_list(&[("content-type".to_owned(), content_type.as_bytes().to_vec())]).expect("a valid header");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("a valid status");
    let outgoing = response.body().expect("the body, taken once");
    ResponseOutparam::set(out, Ok(response));
    let stream = outgoing.write().expect("the body's stream, taken once");
    write_all(&stream, body).expect("the client is reading");
    drop(stream);
    OutgoingBody::finish(outgoing, None).expect("the body is complete");
}

/// Writes `bytes` in pieces as large as the stream accepts, waiting while it accepts none.
fn write_all(stream: &OutputStream, mut bytes: &[u8]) -> Result<(), StreamError> {
    while !bytes.is_empty() {
        let permitted = stream.check_write()?;
        if permitted == 0 {
            stream.subscribe().block();
            continue;
        }
        let len = bytes.len().min(usize::try_from(permitted).unwrap_or(usize::MAX));
        stream.write(&bytes[..len])?;
        bytes = &bytes[len..];
    }
    stream.blocking_flush()
}

/// Never returns; the host stops it at its deadline.
fn spin() -> ! {
    loop {
        std::hint::spin_loop();
    }
}

fn stream(out: ResponseOutparam, mib: u32, then: Option<&str>) {
    let response = OutgoingResponse::new(Fields::new());
    let outgoing = response.body().expect("the body, taken once");
    ResponseOutparam::set(out, Ok(response));
    let stream = outgoing.write().expect("the body's stream, taken once");
    let piece = [b'a'; 64 << 10];
    for _ in 0..mib * 16 {
        if write_all(&stream, &piece).is_err() {
            return;
        }
    }
    match then {
        Some("fail") => panic!("failing after the response started"),
        Some("loop") => spin(),
        _ => {}
    }
    drop(stream);
    OutgoingBody::finish(outgoing, None).expect("the body is complete");
}

fn echo(request: IncomingRequest, out: ResponseOutparam) {
    let incoming = request.consume().expect("the request body, taken once");
    let input = incoming.stream().expect("the request body's stream, taken once");
    let response = OutgoingResponse::new(Fields::new());
    let outgoing = response.body().expect("the body, taken once");
    ResponseOutparam::set(out, Ok(response));
    let output = outgoing.write().expect("the body's stream, taken once");
    loop {
        match input.blocking_read(64 << 10) {
            Ok(piece) => {
                if write_all(&output, &piece).is_err() {
                    return;
                }
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(error)) => panic!("reading the request: {}", error.to_debug_string()),
        }
    }
    drop(output);
    OutgoingBody::finish(outgoing, None).expect("the body is complete");
}

fn describe(request: &IncomingRequest) -> String {
    let mut text = format!(
        "method: {}\npath-with-query: {}\nauthority: {}\nscheme: {}\n",
        method_name(&request.method()),
        request.path_with_query().unwrap_or_default(),
        request.authority().unwrap_or_default(),
        match request.scheme() {
            Some(Scheme::Http) => "http".to_owned(),
            Some(Scheme::Https) => "https".to_owned(),
            Some(Scheme::Other(other)) => other,
            None => String::new(),
        }
    );
    let mut headers: Vec<(String, String)> = request
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    headers.sort();
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\n"));
    }
    let mut environment: Vec<(String, String)> = std::env::vars().collect();
    environment.sort();
    for (name, value) in environment {
        text.push_str(&format!("{name}={value}\n"));
    }
    text
}

fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => other,
    }
    .to_owned()
}

/// GETs `url` and answers with the peer's status and body, or 502 and the host's error code.
fn fetch(out: ResponseOutparam, url: &str) {
    match outbound::get(url) {
        Ok((status, body)) => respond(out, status, "text/plain", &body),
        Err(error) => respond(out, 502, "text/plain", format!("outbound request failed: {error:?}\n").as_bytes()),
    }
}

fn header(request: &IncomingRequest, name: &str) -> Option<String> {
    request.headers().get(name).first().map(|value| String::from_utf8_lossy(value).into_owned())
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| value.to_owned())
    })
}
