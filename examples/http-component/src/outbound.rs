//! One GET through `wasi:http/outgoing-handler`, shared by the `wasi:http` component and the `http-get`
//! command component.

use std::io::Read as _;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, OutgoingRequest, Scheme};

/// GETs `url` (`http://` or `https://` only): the status and the whole body, or the host's error code.
pub fn get(url: &str) -> Result<(u16, Vec<u8>), ErrorCode> {
    let (scheme, rest) = match url.split_once("://") {
        Some(("https", rest)) => (Scheme::Https, rest),
        Some(("http", rest)) => (Scheme::Http, rest),
        _ => return Err(ErrorCode::HttpRequestUriInvalid),
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
    let request = OutgoingRequest::new(Fields::new());
    let invalid = |()| ErrorCode::HttpRequestUriInvalid;
    request.set_scheme(Some(&scheme)).map_err(invalid)?;
    request.set_authority(Some(authority)).map_err(invalid)?;
    request.set_path_with_query(Some(path)).map_err(invalid)?;
    let pending = outgoing_handler::handle(request, None)?;
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(result)) => result?,
        _ => return Err(ErrorCode::InternalError(Some("the response never arrived".to_owned()))),
    };
    let status = response.status();
    let incoming = response.consume().map_err(|()| ErrorCode::HttpResponseIncomplete)?;
    let mut body = Vec::new();
    let mut stream = incoming.stream().map_err(|()| ErrorCode::HttpResponseIncomplete)?;
    stream.read_to_end(&mut body).map_err(|e| ErrorCode::InternalError(Some(e.to_string())))?;
    Ok((status, body))
}
