//! The body of a response: whole, or streamed from a module that is still running.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use tokio::task::JoinHandle;

use crate::error::RunError;

/// A response body: bytes in memory, or what a running module writes.
///
/// A streamed body ends only once the module's run has ended too, and only when it ended well:
/// a module that traps, exits with an error or times out after its response started makes the
/// body end with an error, so the connection is aborted and the client never takes a partial
/// body for a complete one. Dropping a streamed body stops its module.
#[derive(Debug)]
pub struct ResponseBody(Kind);

#[derive(Debug)]
enum Kind {
    Full(Option<Bytes>),
    Stream(Box<Streaming>),
}

/// What a module writes, as it writes it, and its run.
struct Streaming {
    /// The bytes, from the module's stdout or its own response body; every kind of handler
    /// supplies its own.
    source: UnsyncBoxBody<Bytes, RunError>,
    run: Run,
}

impl std::fmt::Debug for Streaming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming").field("run", &self.run).finish_non_exhaustive()
    }
}

/// A module's run, as a body it writes sees it.
#[derive(Debug)]
pub(crate) enum Run {
    /// It ended with this outcome; `None` once the body has reported it.
    Ended(Option<Result<(), RunError>>),
    /// It is still running in this task, which is aborted if the body is dropped first.
    Running(JoinHandle<Result<(), RunError>>),
    /// It runs in an instance that serves other requests too, which says how it went.
    Shared(Box<dyn SharedRun>),
}

/// A request's run in an instance other requests share (see `reuse.rs`): dropping it says the
/// request is over.
pub(crate) trait SharedRun: Send + std::fmt::Debug {
    /// How the request went, asked once its body has ended: an error if its instance failed.
    fn outcome(&self) -> Result<(), RunError>;
}

impl Run {
    /// The run's outcome, once it has ended; reported once.
    fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RunError>> {
        let outcome = match self {
            Self::Ended(outcome) => outcome.take().unwrap_or(Ok(())),
            Self::Running(task) => match std::task::ready!(Pin::new(task).poll(cx)) {
                Ok(outcome) => outcome,
                Err(join) => Err(RunError::Trap(join.to_string())),
            },
            Self::Shared(run) => run.outcome(),
        };
        *self = Self::Ended(None);
        Poll::Ready(outcome)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Self::Running(task) = self {
            task.abort();
        }
    }
}

impl ResponseBody {
    /// A body of `bytes`.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self(Kind::Full(Some(bytes.into())))
    }

    /// What `source` yields, complete only if `run` ends well.
    pub(crate) fn streaming(source: UnsyncBoxBody<Bytes, RunError>, run: Run) -> Self {
        Self(Kind::Stream(Box::new(Streaming { source, run })))
    }

    /// Whether the body is streamed from a running module.
    pub fn is_streaming(&self) -> bool {
        matches!(self.0, Kind::Stream(_))
    }
}

impl From<Bytes> for ResponseBody {
    fn from(bytes: Bytes) -> Self {
        Self::full(bytes)
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = RunError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, RunError>>> {
        match &mut self.get_mut().0 {
            Kind::Full(bytes) => Poll::Ready(bytes.take().filter(|b| !b.is_empty()).map(|b| Ok(Frame::data(b)))),
            Kind::Stream(streaming) => streaming.poll_next(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(&self.0, Kind::Full(bytes) if bytes.as_ref().is_none_or(Bytes::is_empty))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Stream(streaming) => streaming.source.size_hint(),
        }
    }
}

impl Streaming {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, RunError>>> {
        let failed = match std::task::ready!(Pin::new(&mut self.source).poll_frame(cx)) {
            Some(Ok(frame)) => return Poll::Ready(Some(Ok(frame))),
            Some(Err(error)) => Err(error),
            // The source ends when the module has written everything, and also when its store is
            // dropped because it failed: only the run's outcome says which.
            None => std::task::ready!(self.run.poll_outcome(cx)),
        };
        match failed {
            Ok(()) => Poll::Ready(None),
            Err(error) => {
                tracing::warn!(%error, "the module failed after its response started; aborting the response");
                Poll::Ready(Some(Err(error)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::Duration;

    use http_body_util::BodyExt;

    use super::*;

    /// A source that yields these chunks, then ends.
    struct Chunks(VecDeque<Result<Bytes, RunError>>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = RunError;

        fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, RunError>>> {
            Poll::Ready(self.0.pop_front().map(|chunk| chunk.map(Frame::data)))
        }
    }

    fn streamed(chunks: Vec<Result<&'static str, RunError>>, run: Run) -> ResponseBody {
        let chunks = chunks.into_iter().map(|chunk| chunk.map(|text| Bytes::from_static(text.as_bytes()))).collect();
        ResponseBody::streaming(Chunks(chunks).boxed_unsync(), run)
    }

    async fn collect(body: ResponseBody) -> Result<Bytes, RunError> {
        body.collect().await.map(http_body_util::Collected::to_bytes)
    }

    #[tokio::test]
    async fn a_streamed_body_is_complete_only_when_its_run_ended_well() {
        let ended_well = streamed(vec![Ok("a"), Ok("b")], Run::Ended(Some(Ok(()))));
        assert!(ended_well.is_streaming());
        assert_eq!(collect(ended_well).await.expect("complete"), "ab");

        let exited = streamed(vec![Ok("a")], Run::Ended(Some(Err(RunError::Exit(1)))));
        assert!(matches!(collect(exited).await, Err(RunError::Exit(1))));

        let running = tokio::spawn(async { Err(RunError::Timeout(Duration::from_secs(1))) });
        let timed_out = streamed(vec![Ok("a")], Run::Running(running));
        assert!(matches!(collect(timed_out).await, Err(RunError::Timeout(_))));

        let finishing = tokio::spawn(async { Ok(()) });
        assert_eq!(collect(streamed(vec![Ok("x")], Run::Running(finishing))).await.expect("complete"), "x");

        let broken = streamed(vec![Ok("a"), Err(RunError::Trap("the body failed".into()))], Run::Ended(Some(Ok(()))));
        assert!(matches!(collect(broken).await, Err(RunError::Trap(_))));
    }

    #[tokio::test]
    async fn dropping_a_streamed_body_stops_its_run() {
        let (alive, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(async move {
            let _alive = alive;
            std::future::pending::<Result<(), RunError>>().await
        });
        drop(streamed(vec![Ok("a")], Run::Running(run)));
        let dropped = tokio::time::timeout(Duration::from_secs(10), stopped).await.expect("the run is stopped");
        assert!(dropped.is_err(), "the run ended without finishing");
    }

    #[test]
    fn a_full_body_is_one_frame() {
        let body = ResponseBody::full("hello");
        assert!(!body.is_streaming());
        assert_eq!(body.size_hint().exact(), Some(5));
        assert!(ResponseBody::full("").is_end_stream());
    }
}
