//! The response body wrapper that, once hyper is done with a response, writes its access log
//! line, counts it in the metrics and marks its connection idle again.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use wagi_runtime::ResponseBody;

use crate::access::{Entry, Exchange};
use crate::idle::InFlight;
use crate::state::Connection;

/// A response body that, when hyper is done with it, logs the request and counts it.
pub(crate) struct LoggedBody {
    inner: ResponseBody,
    bytes: u64,
    status: u16,
    exchange: Exchange,
    connection: Arc<Connection>,
    /// Keeps the connection busy until the response has ended.
    _in_flight: InFlight,
}

impl std::fmt::Debug for LoggedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoggedBody").field("exchange", &self.exchange).finish_non_exhaustive()
    }
}

impl LoggedBody {
    pub(crate) fn new(
        inner: ResponseBody,
        status: u16,
        exchange: Exchange,
        connection: Arc<Connection>,
        in_flight: InFlight,
    ) -> Self {
        Self { inner, bytes: 0, status, exchange, connection, _in_flight: in_flight }
    }
}

impl Body for LoggedBody {
    type Data = Bytes;
    type Error = <ResponseBody as Body>::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        let duration = self.exchange.started.elapsed();
        let state = &self.connection.state;
        let route = self.exchange.route.as_ref().unwrap_or(&state.unrouted);
        state.metrics.request_done(route, self.status, duration);
        if let Some(log) = &state.access_log {
            let entry = Entry {
                exchange: &self.exchange,
                status: self.status,
                bytes: self.bytes,
                duration,
                time: SystemTime::now(),
            };
            log.write(&entry);
        }
    }
}
