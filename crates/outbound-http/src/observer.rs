//! Who is told how each outbound request ended: the server's metrics count them by route and
//! result.

use std::fmt;
use std::sync::Arc;

/// How one outbound request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutboundResult {
    /// A response came back, whatever its status.
    Response,
    /// The destination is not in `allowed_hosts`.
    Denied,
    /// A limit refused it: requests per invocation, `http_max_concurrency`, body sizes or
    /// `--outbound-max-held`.
    Limited,
    /// It could not be sent or answered: a bad request, a connection error, a timeout, too many
    /// redirects.
    Failed,
}

impl OutboundResult {
    /// `self`, or [`Denied`](Self::Denied) when the ABI's error `code` says so.
    pub(crate) fn unless_denied(self, code: crate::abi::ErrorCode) -> Self {
        if code == crate::abi::ErrorCode::DestinationNotAllowed { Self::Denied } else { self }
    }

    /// The result as a metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Response => "response",
            Self::Denied => "denied",
            Self::Limited => "limited",
            Self::Failed => "failed",
        }
    }
}

/// Told the result of every outbound request a module makes. Called on the request's task, so
/// it must be quick.
pub trait OutboundObserver: Send + Sync + fmt::Debug {
    /// A request made by the handler of `route` ended with `result`.
    fn outbound_done(&self, route: &Arc<str>, result: OutboundResult);
}

/// A handler's observer and the route it reports under.
#[derive(Clone, Debug)]
pub struct Reporter {
    /// Told of each request.
    pub observer: Arc<dyn OutboundObserver>,
    /// The route, as written in the configuration.
    pub route: Arc<str>,
}

impl Reporter {
    pub(crate) fn report(&self, result: OutboundResult) {
        self.observer.outbound_done(&self.route, result);
    }
}
