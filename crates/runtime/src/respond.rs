//! Turning a running module's stdout into a response: wait for the CGI header block, hold the
//! response a little, then either answer from memory or stream the rest.
//!
//! Holding keeps small responses what they were (one write, with `Content-Length`, and an error
//! status with none of the output if the module fails). The response starts as soon as the
//! module has exited, its body passes [`ResponseOptions::hold`], or
//! [`ResponseOptions::flush_interval`] has passed since the header block was complete.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use tokio::time::Instant;
use wagi_cgi::{CgiResponse, OutputError, http_response, parse_head, split_header_block};

use crate::body::{ResponseBody, Run};
use crate::error::RunError;
use crate::run::Guest;
use crate::spec::ResponseOptions;
use crate::stdout::StdoutReader;

/// Chunks already waiting are joined into frames of up to this size, so a module's 4 KiB
/// writes do not each become a frame on the wire.
const FRAME_TARGET: usize = 64 << 10;

/// Completes at `deadline`. `select!` builds every branch's future on each turn, disabled ones
/// too, so the timer is only created once this is polled: a module that ends before its output
/// is read never touches the timer wheel.
async fn flush_timer(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Drives `guest` while reading its stdout from `output`, and answers.
pub(crate) async fn respond(
    mut guest: Guest,
    mut output: StdoutReader,
    options: ResponseOptions,
) -> Result<http::Response<ResponseBody>, RunError> {
    let mut buffer = BytesMut::new();
    // Where the body starts, once the header block is complete.
    let mut body_start: Option<usize> = None;
    let mut flush_at: Option<Instant> = None;
    let mut outcome: Option<Result<(), RunError>> = None;
    loop {
        let running = outcome.is_none();
        tokio::select! {
            biased;
            chunk = output.recv() => match chunk {
                Some(bytes) => {
                    buffer.extend_from_slice(&bytes);
                    if body_start.is_none() {
                        body_start = split_header_block(&buffer)?.map(|block| block.body_start);
                        // Only a module still running can be waited for.
                        if body_start.is_some() && running {
                            flush_at = Some(Instant::now() + options.flush_interval);
                        }
                    }
                    if let Some(start) = body_start
                        && running
                        && buffer.len() - start > options.hold
                    {
                        break;
                    }
                }
                // Every writer is gone: the module has ended, and all its output is here.
                None => {
                    let outcome = match outcome {
                        Some(outcome) => outcome,
                        None => guest.await,
                    };
                    outcome?;
                    return Ok(CgiResponse::parse(buffer.freeze())?.into_http());
                }
            },
            result = &mut guest, if running => outcome = Some(result),
            () = flush_timer(flush_at), if running && flush_at.is_some() => break,
        }
    }
    // The module is still running and its header block is complete: start the response.
    let output_so_far = buffer.freeze();
    let block = split_header_block(&output_so_far)?.ok_or(OutputError::MissingHeaderEnd)?;
    let (status, headers) = parse_head(&block.lines)?;
    let body = output_so_far.slice(block.body_start..);
    // The guest keeps logging inside the request's span (its id) after the response started.
    let task = tokio::spawn(tracing::Instrument::in_current_span(guest));
    let rest = StdoutBody { prefix: (!body.is_empty()).then_some(body), output };
    Ok(http_response(status, headers, ResponseBody::streaming(rest.boxed_unsync(), Run::Running(task))))
}

/// The rest of a module's stdout, after what was read while the response was held.
struct StdoutBody {
    /// Output read while the response was held.
    prefix: Option<Bytes>,
    output: StdoutReader,
}

impl Body for StdoutBody {
    type Data = Bytes;
    type Error = RunError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, RunError>>> {
        let this = self.get_mut();
        if let Some(prefix) = this.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        // `None` once every writer is gone: the module has ended.
        this.output.poll_recv(cx).map(|first| first.map(|first| Ok(Frame::data(this.join_waiting(first)))))
    }
}

impl StdoutBody {
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
