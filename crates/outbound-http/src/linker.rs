//! The five host functions, reading their arguments from guest memory and writing results back.

use std::str::FromStr;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use reqwest::Url;
use tracing::Instrument;
use wasmtime::{Caller, Linker};
use wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS;

use crate::abi::{ErrorCode, GuestMemory, GuestSlice, MODULE};
use crate::client::OutgoingRequest;
use crate::observer::OutboundResult;
use crate::session::OutboundSession;
use crate::trace_context;

/// How a host function finds the session in the store's data.
type Accessor<T> = fn(&mut T) -> &mut OutboundSession;

/// Adds `req`, `body_read`, `header_get`, `headers_get_all` and `close` to `linker`. `req` is
/// asynchronous, so the store must be run with wasmtime's async support.
pub fn add_to_linker<T: Send + 'static>(linker: &mut Linker<T>, session: Accessor<T>) -> wasmtime::Result<()> {
    linker.func_wrap_async(MODULE, "req", move |mut caller: Caller<'_, T>, args: ReqArgs| {
        Box::new(async move { status(req(&mut caller, session, args).await) })
    })?;
    linker.func_wrap(
        MODULE,
        "body_read",
        move |mut caller: Caller<'_, T>, handle: i32, buf_ptr: i32, buf_len: i32, nread_ptr: i32| {
            status(body_read(&mut caller, session, handle, GuestSlice::new(buf_ptr, buf_len), nread_ptr))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "header_get",
        move |mut caller: Caller<'_, T>,
              handle: i32,
              name_ptr: i32,
              name_len: i32,
              value_ptr: i32,
              value_len: i32,
              nwritten_ptr: i32| {
            let name = GuestSlice::new(name_ptr, name_len);
            let value = GuestSlice::new(value_ptr, value_len);
            status(header_get(&mut caller, session, handle, name, value, nwritten_ptr))
        },
    )?;
    linker.func_wrap(
        MODULE,
        "headers_get_all",
        move |mut caller: Caller<'_, T>, handle: i32, buf_ptr: i32, buf_len: i32, nwritten_ptr: i32| {
            status(headers_get_all(&mut caller, session, handle, GuestSlice::new(buf_ptr, buf_len), nwritten_ptr))
        },
    )?;
    linker.func_wrap(MODULE, "close", move |mut caller: Caller<'_, T>, handle: i32| {
        status(session(caller.data_mut()).close(handle))
    })?;
    Ok(())
}

/// `url_ptr, url_len, method_ptr, method_len, headers_ptr, headers_len, body_ptr, body_len,
/// status_code_ptr, handle_ptr`.
type ReqArgs = (i32, i32, i32, i32, i32, i32, i32, i32, i32, i32);

fn status(result: Result<(), ErrorCode>) -> i32 {
    result.map_or_else(ErrorCode::code, |()| 0)
}

async fn req<T>(caller: &mut Caller<'_, T>, session: Accessor<T>, args: ReqArgs) -> Result<(), ErrorCode> {
    let (
        url_ptr,
        url_len,
        method_ptr,
        method_len,
        headers_ptr,
        headers_len,
        body_ptr,
        body_len,
        status_ptr,
        handle_ptr,
    ) = args;
    let memory = GuestMemory::of(caller)?;
    let url = memory.read_str(&*caller, GuestSlice::new(url_ptr, url_len))?;
    let method = memory.read_str(&*caller, GuestSlice::new(method_ptr, method_len))?;
    let headers = memory.read_str(&*caller, GuestSlice::new(headers_ptr, headers_len))?;
    let body = memory.read(&*caller, GuestSlice::new(body_ptr, body_len))?;
    memory.check(&*caller, GuestSlice::out(status_ptr, 2))?;
    memory.check(&*caller, GuestSlice::out(handle_ptr, 4))?;
    let mut request = OutgoingRequest {
        url: parse_url(&url)?,
        method: Method::from_str(&method).map_err(|_| ErrorCode::InvalidMethod)?,
        headers: parse_headers(&headers)?,
        body: Bytes::from(body),
    };

    let state = session(caller.data_mut());
    let grant = state.sender();
    if let Err(code) = state.admit() {
        grant.report(OutboundResult::Limited.unless_denied(code));
        return Err(code);
    }
    state.cdn_loop.stamp(&mut request.headers);
    let span = trace_context::span(&request.method, &request.url);
    trace_context::inject(&span, &mut request.headers);
    let held = state.held();
    let sent = grant.client.send(request, &grant.policy.allowed_hosts, held).instrument(span.clone()).await;
    grant.report(match &sent {
        Ok(response) => {
            trace_context::record_status(&span, response.status);
            OutboundResult::Response
        }
        Err(code) => OutboundResult::Failed.unless_denied(*code),
    });
    let response = sent?;
    let status = response.status.as_u16();
    let handle = session(caller.data_mut()).open(response);
    memory.write(&mut *caller, GuestSlice::out(status_ptr, 2), &status.to_le_bytes())?;
    memory.write_u32(&mut *caller, handle_ptr, handle)
}

fn body_read<T>(
    caller: &mut Caller<'_, T>,
    session: Accessor<T>,
    handle: i32,
    buf: GuestSlice,
    nread_ptr: i32,
) -> Result<(), ErrorCode> {
    let memory = GuestMemory::of(caller)?;
    memory.check(&*caller, buf)?;
    memory.check(&*caller, GuestSlice::out(nread_ptr, 4))?;
    let open = session(caller.data_mut()).get(handle)?;
    let rest = open.response.body.slice(open.read..);
    let chunk = rest.slice(..rest.len().min(buf.len()));
    open.read += chunk.len();
    memory.write(&mut *caller, buf, &chunk)?;
    memory.write_u32(&mut *caller, nread_ptr, u32::try_from(chunk.len()).unwrap_or(u32::MAX))
}

fn header_get<T>(
    caller: &mut Caller<'_, T>,
    session: Accessor<T>,
    handle: i32,
    name: GuestSlice,
    value_buf: GuestSlice,
    nwritten_ptr: i32,
) -> Result<(), ErrorCode> {
    let memory = GuestMemory::of(caller)?;
    let name = memory.read_str(&*caller, name)?.to_ascii_lowercase();
    let open = session(caller.data_mut()).get(handle)?;
    let value = open.response.headers.get(name.as_str()).ok_or(ErrorCode::HeaderNotFound)?.as_bytes().to_vec();
    write_sized(memory, caller, value_buf, &value, nwritten_ptr)
}

fn headers_get_all<T>(
    caller: &mut Caller<'_, T>,
    session: Accessor<T>,
    handle: i32,
    buf: GuestSlice,
    nwritten_ptr: i32,
) -> Result<(), ErrorCode> {
    let memory = GuestMemory::of(caller)?;
    let open = session(caller.data_mut()).get(handle)?;
    let mut text = Vec::new();
    for (name, value) in &open.response.headers {
        text.extend_from_slice(name.as_str().as_bytes());
        text.push(b':');
        text.extend_from_slice(value.as_bytes());
        text.push(b'\n');
    }
    write_sized(memory, caller, buf, &text, nwritten_ptr)
}

/// Writes `bytes` into the guest's buffer and their length at `nwritten_ptr`; 4 if they do not
/// fit.
fn write_sized<T>(
    memory: GuestMemory,
    caller: &mut Caller<'_, T>,
    buf: GuestSlice,
    bytes: &[u8],
    nwritten_ptr: i32,
) -> Result<(), ErrorCode> {
    memory.check(&*caller, GuestSlice::out(nwritten_ptr, 4))?;
    if bytes.len() > buf.len() {
        return Err(ErrorCode::BufferTooSmall);
    }
    memory.write(&mut *caller, buf, bytes)?;
    memory.write_u32(&mut *caller, nwritten_ptr, u32::try_from(bytes.len()).unwrap_or(u32::MAX))
}

fn parse_url(text: &str) -> Result<Url, ErrorCode> {
    let url = Url::parse(text).map_err(|_| ErrorCode::InvalidUrl)?;
    if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() {
        Ok(url)
    } else {
        Err(ErrorCode::InvalidUrl)
    }
}

/// Request headers as the guest encodes them: `name:value` lines separated by `\n`. Headers a
/// module may not set are dropped (see [`is_forbidden`]).
fn parse_headers(text: &str) -> Result<HeaderMap, ErrorCode> {
    let mut headers = HeaderMap::new();
    for line in text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line)).filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(ErrorCode::InvalidEncoding)?;
        let name = HeaderName::from_str(name.trim()).map_err(|_| ErrorCode::InvalidEncoding)?;
        let value = HeaderValue::from_str(value.trim()).map_err(|_| ErrorCode::InvalidEncoding)?;
        if is_forbidden(&name) {
            tracing::debug!(header = %name, "dropped an outbound request header a module may not set");
            continue;
        }
        headers.append(name, value);
    }
    Ok(headers)
}

/// Whether a module may not set the request header `name`: the headers `wasi:http` forbids
/// (`Host`, which would reach any name-based virtual host behind an allowed address, and the
/// hop-by-hop headers such as `Connection` and `Transfer-Encoding`), and `Content-Length`,
/// which the client derives from the body. A module setting the framing headers could make the
/// peer read the body as a second request. They are dropped rather than refused, as
/// `wasi:http` drops them from a request's initial headers, so a module written for the
/// original WAGI, which passed them on, still works.
fn is_forbidden(name: &HeaderName) -> bool {
    *name == header::CONTENT_LENGTH || DEFAULT_FORBIDDEN_HEADERS.contains(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_split_at_the_first_colon() {
        let headers = parse_headers("content-type:text/plain\nx-url: http://a:1/\n\n").expect("valid");
        assert_eq!(headers.get("content-type").map(HeaderValue::as_bytes), Some(&b"text/plain"[..]));
        assert_eq!(headers.get("x-url").map(HeaderValue::as_bytes), Some(&b"http://a:1/"[..]));
        assert_eq!(parse_headers("no colon"), Err(ErrorCode::InvalidEncoding));
        assert_eq!(parse_headers("bad name:x"), Err(ErrorCode::InvalidEncoding));
        assert_eq!(parse_headers("x:\u{7f}"), Err(ErrorCode::InvalidEncoding));
    }

    #[test]
    fn framing_and_routing_headers_are_dropped() {
        let text = "Host: internal-admin.example\nConnection: close\nTransfer-Encoding: chunked\n\
                    Content-Length: 5\nKeep-Alive: 1\nUpgrade: h2c\nProxy-Authorization: x\nx-kept: 1\n";
        let headers = parse_headers(text).expect("valid");
        let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["x-kept"]);
    }

    #[test]
    fn only_http_urls_with_a_host() {
        assert!(parse_url("https://example.com/x?y").is_ok());
        assert_eq!(parse_url("file:///etc/passwd").map(drop), Err(ErrorCode::InvalidUrl));
        assert_eq!(parse_url("not a url").map(drop), Err(ErrorCode::InvalidUrl));
    }
}
