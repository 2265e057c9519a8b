//! A module's stdout as a bounded pipe to the response: the guest writes chunks into a channel
//! the server reads from, and a full channel makes the guest wait (backpressure), so a large
//! response never sits in memory whole.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Chunks in flight between the guest and the client. WASI preview 1 writes stdout in pieces of
/// at most 4 KiB, so this holds up to 64 KiB per request.
const PIPE_CHUNKS: usize = 16;

/// The writing end, given to the guest's WASI context as stdout.
#[derive(Clone, Debug)]
pub(crate) struct StdoutPipe {
    sender: mpsc::Sender<Bytes>,
    limit: Arc<OutputLimit>,
}

/// The byte limit on a module's stdout, shared by every clone of the pipe.
#[derive(Debug)]
pub(crate) struct OutputLimit {
    limit: usize,
    written: AtomicUsize,
    overflowed: AtomicBool,
}

impl OutputLimit {
    /// Whether the module tried to write past the limit.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    fn accept(&self, len: usize) -> Result<(), StreamError> {
        let total = self.written.fetch_add(len, Ordering::Relaxed).saturating_add(len);
        if total > self.limit {
            self.overflowed.store(true, Ordering::Relaxed);
            return Err(StreamError::Closed);
        }
        Ok(())
    }
}

impl StdoutPipe {
    /// A pipe accepting at most `limit` bytes in all, and the receiving end.
    pub(crate) fn new(limit: usize) -> (Self, mpsc::Receiver<Bytes>, Arc<OutputLimit>) {
        let (sender, receiver) = mpsc::channel(PIPE_CHUNKS);
        let limit = Arc::new(OutputLimit { limit, written: AtomicUsize::new(0), overflowed: AtomicBool::new(false) });
        (Self { sender, limit: Arc::clone(&limit) }, receiver, limit)
    }
}

impl IsTerminal for StdoutPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StdoutPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(AsyncStdout { sender: PollSender::new(self.sender.clone()), limit: Arc::clone(&self.limit) })
    }
}

#[async_trait::async_trait]
impl OutputStream for StdoutPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.limit.accept(bytes.len())?;
        // `check_write` said there is room, and the guest is the only writer.
        self.sender.try_send(bytes).map_err(|_| StreamError::Closed)
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        if self.sender.is_closed() {
            // The client went away; the guest sees a broken pipe.
            return Err(StreamError::Closed);
        }
        Ok(if self.sender.capacity() == 0 { 0 } else { 64 << 10 })
    }
}

#[async_trait::async_trait]
impl Pollable for StdoutPipe {
    async fn ready(&mut self) {
        if self.sender.capacity() == 0 {
            // Waits for the client to take a chunk; the permit is returned at once, since the
            // write that follows sends without one.
            let _ = self.sender.reserve().await;
        }
    }
}

/// The pipe as a tokio writer, for WASI interfaces that write asynchronously.
struct AsyncStdout {
    sender: PollSender<Bytes>,
    limit: Arc<OutputLimit>,
}

impl AsyncWrite for AsyncStdout {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let closed = || io::Error::from(io::ErrorKind::BrokenPipe);
        ready!(self.sender.poll_reserve(cx)).map_err(|_| closed())?;
        self.limit.accept(buf.len()).map_err(|_| io::Error::other("output limit reached"))?;
        self.sender.send_item(Bytes::copy_from_slice(buf)).map_err(|_| closed())?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.sender.close();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_pipe_makes_the_writer_wait_and_the_limit_closes_it() {
        let (mut pipe, mut receiver, limit) = StdoutPipe::new(PIPE_CHUNKS + 1);
        for _ in 0..PIPE_CHUNKS {
            assert!(pipe.check_write().is_ok_and(|n| n > 0));
            pipe.write(Bytes::from_static(b"x")).expect("room");
        }
        assert_eq!(pipe.check_write().ok(), Some(0));
        assert_eq!(receiver.recv().await.as_deref(), Some(&b"x"[..]));
        pipe.ready().await;
        assert!(pipe.check_write().is_ok_and(|n| n > 0));
        pipe.write(Bytes::from_static(b"y")).expect("room again");
        assert!(pipe.write(Bytes::from_static(b"z")).is_err());
        assert!(limit.overflowed());
        drop(receiver);
        assert!(pipe.check_write().is_err());
    }
}
