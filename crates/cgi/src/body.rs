//! The body of a response: whole, or streamed from a module that is still running.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tokio::task::JoinHandle;

use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::error::CgiError;
use crate::stdout::StdoutReader;

/// Chunks already waiting are joined into frames of up to this size, so a module's 4 KiB
/// writes do not each become a frame on the wire.
const FRAME_TARGET: usize = 64 << 10;

/// A response body: bytes in memory, or the rest of a running module's stdout.
///
/// A streamed body that fails (the module traps or times out after the response started) ends
/// with an error, so the connection is aborted and the client never takes a partial body for a
/// complete one. Dropping a streamed body stops its module.
#[derive(Debug)]
pub struct ResponseBody(Kind);

#[derive(Debug)]
enum Kind {
    Full(Option<Bytes>),
    Stream(Box<Streaming>),
    Component(Box<FromComponent>),
}

/// The body of a `wasi:http` component's response, and the run that writes it.
struct FromComponent {
    body: HyperOutgoingBody,
    run: ComponentRun,
}

impl std::fmt::Debug for FromComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FromComponent").field("run", &self.run).finish_non_exhaustive()
    }
}

/// A component's run, as a body that it writes sees it.
#[derive(Debug)]
pub(crate) enum ComponentRun {
    /// It ended with this outcome; `None` once the body has reported it.
    Ended(Option<Result<(), CgiError>>),
    /// It is still running in this task.
    Running(JoinHandle<Result<(), CgiError>>),
}

#[derive(Debug)]
struct Streaming {
    /// Output read while the response was held.
    prefix: Option<Bytes>,
    output: StdoutReader,
    guest: AbortOnDrop,
}

/// The task running the module; aborted if the body is dropped before it ends.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<Result<(), CgiError>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl ResponseBody {
    /// A body of `bytes`.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self(Kind::Full(Some(bytes.into())))
    }

    /// The output already read, then whatever `guest` writes to `output` until it ends.
    pub(crate) fn streaming(prefix: Bytes, output: StdoutReader, guest: JoinHandle<Result<(), CgiError>>) -> Self {
        let prefix = (!prefix.is_empty()).then_some(prefix);
        Self(Kind::Stream(Box::new(Streaming { prefix, output, guest: AbortOnDrop(guest) })))
    }

    /// The body a `wasi:http` component writes, complete only if `run` ends well: when the
    /// component fails, the body it began ends with an error, so the connection is aborted.
    pub(crate) fn from_component(body: HyperOutgoingBody, run: ComponentRun) -> Self {
        Self(Kind::Component(Box::new(FromComponent { body, run })))
    }

    /// Whether the body is streamed from a running module.
    pub fn is_streaming(&self) -> bool {
        matches!(self.0, Kind::Stream(_) | Kind::Component(_))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = CgiError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, CgiError>>> {
        match &mut self.get_mut().0 {
            Kind::Full(bytes) => Poll::Ready(bytes.take().filter(|b| !b.is_empty()).map(|b| Ok(Frame::data(b)))),
            Kind::Stream(streaming) => streaming.poll_next(cx),
            Kind::Component(component) => component.poll_next(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(&self.0, Kind::Full(bytes) if bytes.as_ref().is_none_or(Bytes::is_empty))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Stream(_) => SizeHint::default(),
            Kind::Component(component) => component.body.size_hint(),
        }
    }
}

impl FromComponent {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, CgiError>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
            Poll::Ready(Some(Err(error))) => {
                tracing::warn!(%error, "the component's response body failed; aborting the response");
                Poll::Ready(Some(Err(CgiError::Trap(format!("the response body failed: {error}")))))
            }
            // The body reports its end when the component finishes it, and also when the
            // component's store is dropped: only the run's outcome says which.
            Poll::Ready(None) => {
                let outcome = match &mut self.run {
                    ComponentRun::Ended(outcome) => outcome.take().unwrap_or(Ok(())),
                    ComponentRun::Running(task) => match std::task::ready!(Pin::new(&mut *task).poll(cx)) {
                        Ok(outcome) => {
                            self.run = ComponentRun::Ended(None);
                            outcome
                        }
                        Err(join) => {
                            self.run = ComponentRun::Ended(None);
                            Err(CgiError::Trap(join.to_string()))
                        }
                    },
                };
                match outcome {
                    Ok(()) => Poll::Ready(None),
                    Err(error) => {
                        tracing::warn!(%error, "component failed after its response started; aborting the response");
                        Poll::Ready(Some(Err(error)))
                    }
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for FromComponent {
    fn drop(&mut self) {
        if let ComponentRun::Running(task) = &self.run {
            task.abort();
        }
    }
}

impl Streaming {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, CgiError>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        match self.output.poll_recv(cx) {
            Poll::Ready(Some(first)) => Poll::Ready(Some(Ok(Frame::data(self.join_waiting(first))))),
            // Every writer is gone: the module has ended. Its outcome says whether the body is
            // complete.
            Poll::Ready(None) => match Pin::new(&mut self.guest.0).poll(cx) {
                Poll::Ready(Ok(Ok(()))) => Poll::Ready(None),
                Poll::Ready(Ok(Err(error))) => {
                    tracing::warn!(%error, "module failed after its response started; aborting the response");
                    Poll::Ready(Some(Err(error)))
                }
                Poll::Ready(Err(join)) => Poll::Ready(Some(Err(CgiError::Trap(join.to_string())))),
                Poll::Pending => Poll::Pending,
            },
            Poll::Pending => Poll::Pending,
        }
    }

    /// `first` plus the chunks already waiting, up to [`FRAME_TARGET`].
    fn join_waiting(&mut self, first: Bytes) -> Bytes {
        let mut joined: Option<BytesMut> = None;
        while joined.as_ref().map_or(first.len(), BytesMut::len) < FRAME_TARGET {
            let Some(next) = self.output.try_recv() else { break };
            joined.get_or_insert_with(|| BytesMut::from(&first[..])).extend_from_slice(&next);
        }
        joined.map_or(first, BytesMut::freeze)
    }
}
