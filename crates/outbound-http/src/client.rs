//! Performing a module's request: the shared client, limits, the allow-list check on every hop
//! and reading the response body up to its cap.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, StatusCode, header};
use reqwest::Url;
use tokio::time::Instant;
use wagi_config::AllowedHosts;

use crate::abi::ErrorCode;
use crate::held::Held;

/// Limits on outbound HTTP, the same for every module.
#[derive(Clone, Copy, Debug)]
pub struct OutboundLimits {
    /// Time for one request, redirects and reading the body included.
    pub timeout: Duration,
    /// Bytes of a request body a module may send, and of a response body it may receive.
    pub max_body: usize,
    /// Requests one module invocation may make.
    pub max_requests: u32,
    /// Redirects followed (each one checked against `allowed_hosts`).
    pub max_redirects: u32,
    /// Bytes of outbound responses one request may hold in memory at once (see `held.rs`).
    pub max_held: usize,
}

impl Default for OutboundLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_body: 16 << 20,
            max_requests: 100,
            max_redirects: 10,
            max_held: 32 << 20,
        }
    }
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the outbound HTTP client: {0}")]
pub struct ClientError(String);

/// The process-wide HTTP client: a connection pool shared by every module, and the limits.
#[derive(Clone, Debug)]
pub struct OutboundClient {
    client: reqwest::Client,
    limits: OutboundLimits,
}

/// A request as the guest described it.
#[derive(Debug)]
pub(crate) struct OutgoingRequest {
    pub(crate) url: Url,
    pub(crate) method: Method,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// A response with its whole body, read up to the cap.
#[derive(Debug)]
pub(crate) struct StoredResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// The response's place in its request's budget, given back when it is closed.
    _held: Held,
}

impl OutboundClient {
    /// Builds the client. TLS uses rustls with the `ring` provider (installed as the process
    /// default if there is none) and the platform's trusted roots. Redirects are not followed
    /// by the client but hop by hop here, so each destination is checked.
    pub fn new(limits: OutboundLimits) -> Result<Self, ClientError> {
        // Fails only when a provider is already installed, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wagi/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError(error_chain(&e)))?;
        Ok(Self { client, limits })
    }

    /// The connection pool requests are sent through.
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The limits this client enforces.
    pub fn limits(&self) -> &OutboundLimits {
        &self.limits
    }

    /// Sends `request` if `allowed` permits it, following redirects to permitted destinations,
    /// and reads the response into `held`.
    pub(crate) async fn send(
        &self,
        mut request: OutgoingRequest,
        allowed: &AllowedHosts,
        held: Held,
    ) -> Result<StoredResponse, ErrorCode> {
        if request.body.len() > self.limits.max_body {
            tracing::info!(url = %request.url, limit = self.limits.max_body, "outbound request body too large");
            return Err(ErrorCode::RequestError);
        }
        let deadline = Instant::now() + self.limits.timeout;
        let mut redirects = 0;
        loop {
            check_allowed(&request.url, allowed)?;
            let response = tokio::time::timeout_at(deadline, self.send_once(&request)).await.map_err(|_| {
                tracing::info!(url = %request.url, timeout = ?self.limits.timeout, "outbound request timed out");
                ErrorCode::RequestError
            })??;
            let Some(next) = redirect_target(&request.url, &response) else {
                return tokio::time::timeout_at(deadline, self.read_body(&request.url, response, held)).await.map_err(
                    |_| {
                        tracing::info!(url = %request.url, timeout = ?self.limits.timeout, "outbound response timed out");
                        ErrorCode::RequestError
                    },
                )?;
            };
            redirects += 1;
            if redirects > self.limits.max_redirects {
                tracing::info!(url = %request.url, "too many outbound redirects");
                return Err(ErrorCode::RequestError);
            }
            follow(&mut request, response.status(), next);
        }
    }

    async fn send_once(&self, request: &OutgoingRequest) -> Result<reqwest::Response, ErrorCode> {
        self.client
            .request(request.method.clone(), request.url.clone())
            .headers(request.headers.clone())
            .body(request.body.clone())
            .send()
            .await
            .map_err(|error| {
                tracing::info!(url = %request.url, error = %error_chain(&error), "outbound request failed");
                ErrorCode::RequestError
            })
    }

    /// Reads the response whole, counting its headers and body in `held`; over the budget, what
    /// was read is freed and the module gets the code for a body over the size cap.
    async fn read_body(
        &self,
        url: &Url,
        mut response: reqwest::Response,
        mut held: Held,
    ) -> Result<StoredResponse, ErrorCode> {
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let over_budget = || {
            tracing::info!(%url, limit = self.limits.max_held, "outbound responses over --outbound-max-held");
            ErrorCode::RequestError
        };
        let header_bytes = headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
        if !held.grow(header_bytes) {
            return Err(over_budget());
        }
        let mut body = BytesMut::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.limits.max_body {
                        tracing::info!(%url, limit = self.limits.max_body, "outbound response body too large");
                        return Err(ErrorCode::RequestError);
                    }
                    if !held.grow(chunk.len()) {
                        return Err(over_budget());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::info!(%url, error = %error_chain(&error), "outbound response body failed");
                    return Err(ErrorCode::RequestError);
                }
            }
        }
        Ok(StoredResponse { status, headers, body: body.freeze(), _held: held })
    }
}

fn check_allowed(url: &Url, allowed: &AllowedHosts) -> Result<(), ErrorCode> {
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return Err(ErrorCode::InvalidUrl);
    };
    if allowed.allows(url.scheme(), host, port) {
        Ok(())
    } else {
        tracing::info!(%url, "outbound destination not in allowed_hosts");
        Err(ErrorCode::DestinationNotAllowed)
    }
}

/// Where a redirect response points, if it is one with a usable `Location`.
fn redirect_target(from: &Url, response: &reqwest::Response) -> Option<Url> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    from.join(location).ok().filter(|url| matches!(url.scheme(), "http" | "https"))
}

/// Turns `request` into the request for the next hop, as browsers do: 303 (and 301/302 after a
/// POST) continue as a GET without body; credentials are not sent to another origin.
fn follow(request: &mut OutgoingRequest, status: StatusCode, next: Url) {
    let becomes_get = status == StatusCode::SEE_OTHER
        || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND) && request.method == Method::POST);
    if becomes_get {
        request.method = Method::GET;
        request.body = Bytes::new();
        request.headers.remove(header::CONTENT_TYPE);
        request.headers.remove(header::CONTENT_LENGTH);
    }
    if next.origin() != request.url.origin() {
        for name in [header::AUTHORIZATION, header::COOKIE, header::PROXY_AUTHORIZATION] {
            request.headers.remove(name);
        }
    }
    request.url = next;
}

pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
