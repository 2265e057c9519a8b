//! What the server hands the runtime for one request.

use http::request::Parts;
use wagi_cgi::{CgiRequest, RequestContext};

use crate::stdin::RequestBody;

/// One request, already routed: its head as received, its body, and what the server knows
/// beyond them. A CGI program gets it through [`CgiRequest`]; a `wasi:http` component gets the
/// head and body as they are.
#[derive(Debug)]
pub struct Request {
    /// The method, target, version and headers as received.
    pub head: Parts,
    /// The body, for stdin or the component's incoming body.
    pub body: RequestBody,
    /// The client, the scheme, the authority and the route.
    pub context: RequestContext,
}

impl Request {
    /// The request as a CGI program sees it.
    pub fn cgi(&self) -> CgiRequest<'_> {
        CgiRequest { head: &self.head, content_length: self.body.len(), context: &self.context }
    }
}
