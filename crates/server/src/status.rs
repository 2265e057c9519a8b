//! The one place request-time errors become HTTP statuses.

use http::{HeaderValue, Response, StatusCode, header};
use wagi_runtime::{OutputError, RunError};

use crate::reply::{Body, plain};

/// A request that failed before or while its module ran.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    /// Every instance slot is taken and the wait queue is full, or the wait timed out.
    #[error("too many requests running and queued")]
    Busy,
    /// The body is larger than the route accepts.
    #[error("request body larger than {limit} bytes")]
    BodyTooLarge { limit: u64 },
    /// The client did not send its body within the route's timeout.
    #[error("request body not received within {0:?}")]
    BodyTimeout(std::time::Duration),
    /// The body could not be read from the client.
    #[error("cannot read the request body: {0}")]
    BodyRead(String),
    /// The request's `CDN-Loop` says it has passed through wagi `MAX_HOPS` times or more.
    #[error("call loop: the request has passed through wagi {hops} times")]
    LoopDetected { hops: usize },
    /// The module failed.
    #[error(transparent)]
    Run(#[from] RunError),
}

impl RequestError {
    /// The status the client gets.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyRead(_) => StatusCode::BAD_REQUEST,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::LoopDetected { .. } => StatusCode::LOOP_DETECTED,
            Self::Run(error) => match error {
                RunError::Output(OutputError::MissingHeaderEnd | OutputError::MissingRequiredHeader) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                RunError::Output(_) | RunError::OutputTooLarge { .. } => StatusCode::BAD_GATEWAY,
                RunError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                RunError::NoMemoryLeft(_) | RunError::NoInstanceSlot => StatusCode::SERVICE_UNAVAILABLE,
                RunError::BadRequest(_) => StatusCode::BAD_REQUEST,
                RunError::Exit(_)
                | RunError::Trap(_)
                | RunError::Volume { .. }
                | RunError::Instantiate(_)
                | RunError::NoResponse
                | RunError::ErrorResponse(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// A short body for the client, with no internals.
    pub(crate) fn client_message(&self) -> String {
        match self {
            Self::Busy => "server busy, retry later\n".to_owned(),
            Self::BodyTooLarge { limit } => format!("request body larger than {limit} bytes\n"),
            Self::BodyRead(_) => "cannot read the request body\n".to_owned(),
            Self::BodyTimeout(_) => "request body not received in time\n".to_owned(),
            Self::LoopDetected { .. } => "loop detected: too many calls through wagi\n".to_owned(),
            // compat(deislabs/wagi): the message a module without headers has always produced.
            Self::Run(RunError::Output(OutputError::MissingHeaderEnd | OutputError::MissingRequiredHeader)) => {
                "Exactly one of 'location' or 'content-type' must be specified".to_owned()
            }
            Self::Run(_) => {
                let status = self.status();
                format!("{}\n", status.canonical_reason().unwrap_or("error"))
            }
        }
    }

    /// The response the client gets: the status, a short body, and `Retry-After` when busy.
    pub(crate) fn to_response(&self) -> Response<Body> {
        let mut response = plain(self.status(), self.client_message());
        if matches!(self, Self::Busy | Self::Run(RunError::NoMemoryLeft(_) | RunError::NoInstanceSlot)) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
