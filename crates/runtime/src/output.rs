//! Capturing a module's stdout and stderr in memory, with a byte limit.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// What happens to writes past the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// The write fails and the guest sees an error (stdout: a response cut short must not be
    /// sent as if it were complete).
    Fail,
    /// Excess bytes are dropped silently (stderr: a log flood must not fail the request).
    Truncate,
}

/// An in-memory output stream shared between the guest's WASI context and the host.
#[derive(Clone, Debug)]
pub(crate) struct OutputCapture {
    buffer: Arc<Mutex<BytesMut>>,
    limit: usize,
    overflow: Overflow,
    overflowed: Arc<AtomicBool>,
}

impl OutputCapture {
    pub(crate) fn new(limit: usize, overflow: Overflow) -> Self {
        Self { buffer: Arc::default(), limit, overflow, overflowed: Arc::default() }
    }

    /// Everything written so far.
    pub(crate) fn take(&self) -> Bytes {
        std::mem::take(&mut *self.lock()).freeze()
    }

    /// Whether nothing was written since the last [`take`](Self::take).
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Whether a write was refused or truncated.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    fn lock(&self) -> MutexGuard<'_, BytesMut> {
        // A poisoned lock only means a writer panicked mid-append; the bytes are still usable.
        self.buffer.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends as much of `bytes` as the limit allows; returns how many were accepted, or an
    /// error when writes past the limit fail.
    fn append(&self, bytes: &[u8]) -> Result<usize, ()> {
        let mut buffer = self.lock();
        let room = self.limit.saturating_sub(buffer.len());
        if bytes.len() > room {
            self.overflowed.store(true, Ordering::Relaxed);
            if self.overflow == Overflow::Fail {
                return Err(());
            }
        }
        let accepted = bytes.len().min(room);
        buffer.extend_from_slice(&bytes[..accepted]);
        // Truncated writes report full success, so the guest does not retry forever.
        Ok(bytes.len())
    }
}

impl IsTerminal for OutputCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for OutputCapture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for OutputCapture {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes).map(|_| ()).map_err(|()| StreamError::Closed)
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Permit any write size: the limit is enforced in `write`, which records the overflow.
        Ok(usize::MAX / 2)
    }
}

#[async_trait::async_trait]
impl Pollable for OutputCapture {
    async fn ready(&mut self) {}
}

impl AsyncWrite for OutputCapture {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(self.append(buf).map_err(|()| io::Error::other("output limit reached")))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_capture_refuses_writes_past_the_limit() {
        let capture = OutputCapture::new(4, Overflow::Fail);
        assert_eq!(capture.append(b"abc"), Ok(3));
        assert_eq!(capture.append(b"de"), Err(()));
        assert!(capture.overflowed());
        assert_eq!(&capture.take()[..], b"abc");
    }

    #[test]
    fn truncating_capture_keeps_the_first_bytes() {
        let capture = OutputCapture::new(4, Overflow::Truncate);
        assert_eq!(capture.append(b"abc"), Ok(3));
        assert_eq!(capture.append(b"def"), Ok(3));
        assert!(capture.overflowed());
        assert_eq!(&capture.take()[..], b"abcd");
    }
}
