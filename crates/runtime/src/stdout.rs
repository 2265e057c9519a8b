//! A module's stdout as a bounded pipe to the response: the guest writes chunks into a channel
//! the server reads from, and a full channel makes the guest wait (backpressure), so a large
//! response never sits in memory whole.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::types::Errno;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Chunks in flight between the guest and the client. WASI preview 1 writes stdout in pieces of
/// at most [`CHUNK_BYTES`], so this holds up to 64 KiB per request; a component's one write may
/// be larger, up to the output limit.
const PIPE_CHUNKS: usize = 16;

/// The largest chunk a WASI preview 1 write puts in the pipe.
pub(crate) const CHUNK_BYTES: usize = 4 << 10;

/// The writing end, given to the guest's WASI context as stdout. Every clone is a writer; the
/// reader sees the end of the output once all of them are gone.
#[derive(Debug)]
pub(crate) struct StdoutPipe {
    shared: Arc<Shared>,
}

/// The reading end: the chunks the guest wrote, in order.
#[derive(Debug)]
pub(crate) struct StdoutReader {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    pipe: Mutex<Pipe>,
    limit: Arc<OutputLimit>,
}

/// The pipe's state. Guest and reader run on one thread, so the lock is never contended; it
/// replaces a channel, whose allocation and bookkeeping cost more than this per request. Wakers
/// are woken after the lock is released.
#[derive(Debug, Default)]
struct Pipe {
    chunks: VecDeque<Bytes>,
    writers: usize,
    reader_gone: bool,
    /// The reader, waiting for a chunk or the end.
    reader: Option<Waker>,
    /// Writers waiting for room.
    writers_waiting: Vec<Waker>,
}

impl Pipe {
    fn has_room(&self) -> bool {
        self.chunks.len() < PIPE_CHUNKS
    }

    /// Ready once there is room or nobody reads any more.
    fn poll_room(&mut self, cx: &Context<'_>) -> Poll<()> {
        if self.has_room() || self.reader_gone {
            return Poll::Ready(());
        }
        if !self.writers_waiting.iter().any(|waker| waker.will_wake(cx.waker())) {
            self.writers_waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Shared {
    fn pipe(&self) -> MutexGuard<'_, Pipe> {
        // Every update leaves the pipe whole, so a poisoned lock still holds a usable one.
        self.pipe.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `chunk` for the reader, unless nobody reads any more. Past the limit, only the
    /// bytes below it are queued, and the refusal says how many that was.
    fn push(&self, mut chunk: Bytes) -> Result<(), Refused> {
        let reader = {
            let mut pipe = self.pipe();
            if pipe.reader_gone {
                return Err(Refused::ReaderGone);
            }
            let len = chunk.len();
            let accepted = self.limit.reserve(len);
            chunk.truncate(accepted);
            if !chunk.is_empty() {
                pipe.chunks.push_back(chunk);
            }
            if accepted < len {
                let reader = pipe.reader.take();
                drop(pipe);
                wake(reader);
                return Err(Refused::OverLimit { accepted });
            }
            pipe.reader.take()
        };
        wake(reader);
        Ok(())
    }
}

/// Why a chunk was not queued whole.
enum Refused {
    ReaderGone,
    /// The limit took only the first `accepted` bytes.
    OverLimit {
        accepted: usize,
    },
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

    /// The bytes the limit still allows.
    fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.written.load(Ordering::Relaxed))
    }

    /// Counts up to `len` more bytes against the limit and returns how many it took; taking
    /// fewer marks the output as overflowed. Only the guest writes, one write at a time.
    fn reserve(&self, len: usize) -> usize {
        let written = self.written.load(Ordering::Relaxed);
        let accepted = len.min(self.remaining());
        self.written.store(written + accepted, Ordering::Relaxed);
        if accepted < len {
            self.overflowed.store(true, Ordering::Relaxed);
        }
        accepted
    }
}

impl StdoutPipe {
    /// A pipe accepting at most `limit` bytes in all, and the reading end.
    pub(crate) fn new(limit: usize) -> (Self, StdoutReader, Arc<OutputLimit>) {
        let limit = Arc::new(OutputLimit { limit, written: AtomicUsize::new(0), overflowed: AtomicBool::new(false) });
        let pipe = Pipe { writers: 1, ..Pipe::default() };
        let shared = Arc::new(Shared { pipe: Mutex::new(pipe), limit: Arc::clone(&limit) });
        (Self { shared: Arc::clone(&shared) }, StdoutReader { shared }, limit)
    }
}

impl StdoutPipe {
    /// Queues `chunk` once there is room, the way a blocking `write` would: the bytes taken, or
    /// those taken before the limit or a departed reader stopped the write, with the errno.
    pub(crate) async fn send(&self, chunk: Bytes) -> Result<usize, (usize, Errno)> {
        poll_fn(|cx| self.shared.pipe().poll_room(cx)).await;
        let len = chunk.len();
        match self.shared.push(chunk) {
            Ok(()) => Ok(len),
            Err(Refused::ReaderGone) => Err((0, Errno::Pipe)),
            Err(Refused::OverLimit { accepted }) => Err((accepted, Errno::Fbig)),
        }
    }
}

impl Clone for StdoutPipe {
    fn clone(&self) -> Self {
        self.shared.pipe().writers += 1;
        Self { shared: Arc::clone(&self.shared) }
    }
}

impl Drop for StdoutPipe {
    fn drop(&mut self) {
        let reader = {
            let mut pipe = self.shared.pipe();
            pipe.writers -= 1;
            if pipe.writers == 0 { pipe.reader.take() } else { None }
        };
        wake(reader);
    }
}

fn wake(waker: impl IntoIterator<Item = Waker>) {
    waker.into_iter().for_each(Waker::wake);
}

impl StdoutReader {
    /// The next chunk; `None` once every writer is gone and all chunks are read.
    pub(crate) fn poll_recv(&mut self, cx: &Context<'_>) -> Poll<Option<Bytes>> {
        let mut pipe = self.shared.pipe();
        if let Some(chunk) = pipe.chunks.pop_front() {
            let writers = std::mem::take(&mut pipe.writers_waiting);
            drop(pipe);
            wake(writers);
            return Poll::Ready(Some(chunk));
        }
        if pipe.writers == 0 {
            return Poll::Ready(None);
        }
        if !pipe.reader.as_ref().is_some_and(|waker| waker.will_wake(cx.waker())) {
            pipe.reader = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Waits for [`Self::poll_recv`].
    pub(crate) async fn recv(&mut self) -> Option<Bytes> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// A chunk already written, if any.
    pub(crate) fn try_recv(&mut self) -> Option<Bytes> {
        let mut pipe = self.shared.pipe();
        let chunk = pipe.chunks.pop_front()?;
        let writers = std::mem::take(&mut pipe.writers_waiting);
        drop(pipe);
        wake(writers);
        Some(chunk)
    }
}

impl Drop for StdoutReader {
    fn drop(&mut self) {
        let (chunks, writers) = {
            let mut pipe = self.shared.pipe();
            pipe.reader_gone = true;
            (std::mem::take(&mut pipe.chunks), std::mem::take(&mut pipe.writers_waiting))
        };
        drop(chunks);
        wake(writers);
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
        Box::new(AsyncStdout(Some(self.clone())))
    }
}

#[async_trait::async_trait]
impl OutputStream for StdoutPipe {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        if bytes.is_empty() {
            return Ok(());
        }
        // `check_write` said there is room, and the guest is the only writer. Either refusal
        // closes the stream; the limit's own flag tells the handler which it was.
        self.shared.push(bytes).map_err(|_| StreamError::Closed)
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    /// How WASI preview 1's `fd_write` writes, in pieces of at most 4 KiB. The default asks
    /// `ready` and `check_write` before and after each write, each through a boxed future; a
    /// pipe needs one wait for room.
    async fn blocking_write_and_flush(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        poll_fn(|cx| self.shared.pipe().poll_room(cx)).await;
        self.write(bytes)
    }

    /// With room in the pipe, a write may be as large as the rest of the output limit, as a
    /// blocking write to a pipe takes everything it is given: wasi-libc writes only what this
    /// permits and returns a short count, which programs such as CPython's `print` ignore.
    fn check_write(&mut self) -> Result<usize, StreamError> {
        let pipe = self.shared.pipe();
        if pipe.reader_gone {
            // The client went away; the guest sees a broken pipe.
            return Err(StreamError::Closed);
        }
        // Past the limit, one more write is let through to fail and mark the overflow.
        Ok(if pipe.has_room() { self.shared.limit.remaining().max(CHUNK_BYTES) } else { 0 })
    }
}

#[async_trait::async_trait]
impl Pollable for StdoutPipe {
    async fn ready(&mut self) {
        poll_fn(|cx| self.shared.pipe().poll_room(cx)).await;
    }
}

/// The pipe as a tokio writer, for WASI interfaces that write asynchronously; shutting it down
/// drops its writer.
struct AsyncStdout(Option<StdoutPipe>);

impl AsyncWrite for AsyncStdout {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let closed = || io::Error::from(io::ErrorKind::BrokenPipe);
        let Some(writer) = self.0.as_mut() else { return Poll::Ready(Err(closed())) };
        std::task::ready!(writer.shared.pipe().poll_room(cx));
        Poll::Ready(match writer.shared.push(Bytes::copy_from_slice(buf)) {
            Ok(()) => Ok(buf.len()),
            Err(Refused::ReaderGone) => Err(closed()),
            Err(Refused::OverLimit { .. }) => Err(io::Error::other("output limit reached")),
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0 = None;
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

    #[tokio::test]
    async fn the_reader_gets_every_chunk_then_the_end_once_every_writer_is_gone() {
        let (pipe, mut reader, _) = StdoutPipe::new(1 << 20);
        let mut writer = pipe.clone();
        drop(pipe);
        let chunks: Vec<u8> = (0..PIPE_CHUNKS * 3).map(|i| i as u8).collect();
        let expected = chunks.clone();
        let writing = tokio::spawn(async move {
            for chunk in chunks {
                writer.ready().await;
                writer.write(Bytes::from(vec![chunk])).expect("room");
            }
        });
        let mut seen = Vec::new();
        while let Some(chunk) = reader.recv().await {
            seen.extend_from_slice(&chunk);
        }
        writing.await.expect("the writer ends");
        assert_eq!(seen, expected);
    }
}
