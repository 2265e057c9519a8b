//! Responses the server makes itself, without a module: the body type every response has, plain
//! text and empty answers, and the 503 of a server still loading.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use wagi_runtime::ResponseBody;

/// The response body type: from memory, or streamed from a running module.
pub(crate) type Body = ResponseBody;

/// 503 with Retry-After, before the first configuration is loaded.
pub(crate) fn not_ready() -> Response<Body> {
    let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, "not ready: the configuration is still loading\n");
    response.headers_mut().insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
    response
}

pub(crate) fn plain(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    response
}

pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    plain(status, Bytes::new())
}
