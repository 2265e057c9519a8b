//! Relays an outbound HTTP request made through the `wasi_experimental_http` imports, with the
//! guest library modules written for the original WAGI use.
//!
//! `GET /fetch?url=URL` fetches `URL`; any other method is sent on with the request body. The
//! request's `X-Demo` header, if any, is passed on as `x-demo`. The response is plain text: the
//! peer's status, its `content-type` (read with `header_get`), every `x-` header (read with
//! `headers_get_all`), then its body, read 7 bytes at a time. If the request fails, the module
//! answers 502 with the error.

use std::io::{self, Read, Write};

use bytes::Bytes;

fn main() -> io::Result<()> {
    let text = match fetch() {
        Ok(text) => format!("Content-Type: text/plain\n\n{text}"),
        Err(error) => format!("Status: 502\nContent-Type: text/plain\n\nerror: {error}\n"),
    };
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

fn fetch() -> Result<String, String> {
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    let url = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("url="))
        .map(percent_decode)
        .ok_or("pass the destination as `?url=...`")?;
    let method = std::env::var("REQUEST_METHOD").unwrap_or_else(|_| "GET".to_owned());
    let mut body = Vec::new();
    io::stdin().read_to_end(&mut body).map_err(|e| e.to_string())?;

    let mut request = http::Request::builder().method(method.as_str()).uri(&url);
    if let Ok(demo) = std::env::var("HTTP_X_DEMO") {
        request = request.header("x-demo", demo);
    }
    if let Ok(content_type) = std::env::var("CONTENT_TYPE") {
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
    }
    let body = if method == "GET" { None } else { Some(Bytes::from(body)) };
    let request = request.body(body).map_err(|e| e.to_string())?;
    let mut response = wasi_experimental_http::request(request).map_err(|e| e.to_string())?;

    let mut text = format!("status: {}\n", response.status_code.as_u16());
    match response.header_get("Content-Type".to_owned()) {
        Ok(value) => text.push_str(&format!("content-type: {value}\n")),
        Err(error) => text.push_str(&format!("content-type: ({error})\n")),
    }
    let headers = response.headers_get_all().map_err(|e| e.to_string())?;
    let mut extra: Vec<String> = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-"))
        .map(|(name, value)| format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())))
        .collect();
    extra.sort();
    text.extend(extra);

    let mut chunk = [0u8; 7];
    let mut received = Vec::new();
    loop {
        let read = response.body_read(&mut chunk).map_err(|e| e.to_string())?;
        if read == 0 {
            break;
        }
        received.extend_from_slice(&chunk[..read]);
    }
    text.push_str("body: ");
    text.push_str(&String::from_utf8_lossy(&received));
    text.push('\n');
    Ok(text)
}

/// Decodes `%XX` escapes; anything else is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes.get(i + 1..i + 3).and_then(|hex| std::str::from_utf8(hex).ok());
        match (bytes[i], escaped.and_then(|hex| u8::from_str_radix(hex, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
