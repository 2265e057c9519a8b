//! Turning a running module's stdout into a response: wait for the CGI header block, hold the
//! response a little, then either answer from memory or stream the rest.
//!
//! Holding keeps small responses what they were (one write, with `Content-Length`, and an error
//! status with none of the output if the module fails). The response starts as soon as the
//! module has exited, its body passes [`ResponseOptions::hold`], or
//! [`ResponseOptions::flush_interval`] has passed since the header block was complete.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::BytesMut;
use tokio::time::Instant;

use crate::body::ResponseBody;
use crate::error::CgiError;
use crate::response::{CgiResponse, http_response, parse_head, split_header_block};
use crate::stdout::StdoutReader;

/// When a response stops being held and starts streaming.
#[derive(Clone, Copy, Debug)]
pub struct ResponseOptions {
    /// Body bytes held before the response starts.
    pub hold: usize,
    /// How long a response is held after its header block is complete.
    pub flush_interval: Duration,
}

impl Default for ResponseOptions {
    fn default() -> Self {
        Self { hold: 64 << 10, flush_interval: Duration::from_millis(20) }
    }
}

/// A module's run, from instantiation to exit, owning everything it needs.
pub(crate) type Guest = Pin<Box<dyn Future<Output = Result<(), CgiError>> + Send>>;

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
) -> Result<http::Response<ResponseBody>, CgiError> {
    let mut buffer = BytesMut::new();
    // Where the body starts, once the header block is complete.
    let mut body_start: Option<usize> = None;
    let mut flush_at: Option<Instant> = None;
    let mut outcome: Option<Result<(), CgiError>> = None;
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
                    return CgiResponse::parse(buffer.freeze()).map(CgiResponse::into_http);
                }
            },
            result = &mut guest, if running => outcome = Some(result),
            () = flush_timer(flush_at), if running && flush_at.is_some() => break,
        }
    }
    // The module is still running and its header block is complete: start the response.
    let output_so_far = buffer.freeze();
    let block = split_header_block(&output_so_far)?.ok_or(CgiError::MissingHeaderEnd)?;
    let (status, headers) = parse_head(&block.lines)?;
    let body = output_so_far.slice(block.body_start..);
    // The guest keeps logging inside the request's span (its id) after the response started.
    let task = tokio::spawn(tracing::Instrument::in_current_span(guest));
    Ok(http_response(status, headers, ResponseBody::streaming(body, output, task)))
}
