//! The request body as the module's stdin: whole from memory, or streamed through a bounded
//! channel while the client is still sending it, so the module can start on the first bytes and
//! a large upload never sits in memory whole.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

/// Chunks of a streamed body in flight between the client and the module.
const BODY_CHUNKS: usize = 16;

/// A request body.
#[derive(Clone, Debug)]
pub enum RequestBody {
    /// The whole body, already received.
    Full(Bytes),
    /// A body of known length that arrives while the module runs (see [`RequestBody::streaming`]).
    Streaming(BodyStream),
}

/// The receiving end of a streamed body. Clones share it; the module's stdin takes it once.
#[derive(Clone, Debug)]
pub struct BodyStream {
    length: u64,
    receiver: Arc<Mutex<Option<mpsc::Receiver<io::Result<Bytes>>>>>,
}

/// Where the server sends a streamed body's chunks, or the error that cut it short. Sending
/// waits while the module has not read what was sent before (backpressure) and fails once the
/// module has ended.
pub type BodySender = mpsc::Sender<io::Result<Bytes>>;

impl RequestBody {
    /// A body of `length` bytes (its `Content-Length`) to be sent through the returned sender.
    pub fn streaming(length: u64) -> (BodySender, Self) {
        let (sender, receiver) = mpsc::channel(BODY_CHUNKS);
        let stream = BodyStream { length, receiver: Arc::new(Mutex::new(Some(receiver))) };
        (sender, Self::Streaming(stream))
    }

    /// The body's length in bytes: `CONTENT_LENGTH`.
    pub fn len(&self) -> u64 {
        match self {
            Self::Full(bytes) => bytes.len() as u64,
            Self::Streaming(stream) => stream.length,
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Bytes> for RequestBody {
    fn from(bytes: Bytes) -> Self {
        Self::Full(bytes)
    }
}

impl BodyStream {
    /// The reader of the body for the module's stdin; empty if it was taken already.
    pub(crate) fn take_reader(&self) -> BodyReader {
        BodyReader { receiver: self.take_receiver(), pending: Bytes::new() }
    }

    /// The body's chunks as they arrive; `None` if they were taken already.
    pub(crate) fn take_receiver(&self) -> Option<mpsc::Receiver<io::Result<Bytes>>> {
        self.receiver.lock().map(|mut slot| slot.take()).unwrap_or_default()
    }
}

/// Reads a streamed body's chunks as one byte stream.
#[derive(Debug)]
pub(crate) struct BodyReader {
    receiver: Option<mpsc::Receiver<io::Result<Bytes>>>,
    pending: Bytes,
}

impl AsyncRead for BodyReader {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        while self.pending.is_empty() {
            let Some(receiver) = self.receiver.as_mut() else { return Poll::Ready(Ok(())) };
            match ready!(receiver.poll_recv(cx)) {
                Some(Ok(chunk)) => self.pending = chunk,
                Some(Err(error)) => {
                    self.receiver = None;
                    return Poll::Ready(Err(error));
                }
                None => {
                    self.receiver = None;
                    return Poll::Ready(Ok(()));
                }
            }
        }
        let take = buf.remaining().min(self.pending.len());
        let chunk = self.pending.split_to(take);
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn chunks_read_as_one_stream_and_an_error_ends_it() {
        let (sender, body) = RequestBody::streaming(11);
        assert_eq!(body.len(), 11);
        let RequestBody::Streaming(stream) = body else { panic!("a streaming body") };
        let mut reader = stream.take_reader();
        sender.send(Ok(Bytes::from_static(b"hello "))).await.expect("send");
        sender.send(Ok(Bytes::new())).await.expect("send");
        sender.send(Ok(Bytes::from_static(b"world"))).await.expect("send");
        drop(sender);
        let mut text = String::new();
        reader.read_to_string(&mut text).await.expect("read");
        assert_eq!(text, "hello world");

        let (sender, body) = RequestBody::streaming(4);
        let RequestBody::Streaming(stream) = body else { panic!("a streaming body") };
        let mut reader = stream.take_reader();
        sender.send(Err(io::Error::other("client went away"))).await.expect("send");
        assert!(reader.read_to_end(&mut Vec::new()).await.is_err());
        let mut again = Vec::new();
        stream.take_reader().read_to_end(&mut again).await.expect("a second reader is empty");
        assert!(again.is_empty());
    }
}
