//! What the two CGI kinds share: the request's body on stdin, stdout read by the server and
//! parsed as a CGI response (`respond.rs`), stderr to the route's log, and the volumes. Each
//! kind gives the program its argv and environment its own way.

use wagi_cgi::CgiRequest;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::cli::AsyncStdinStream;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;

use super::{Answer, Start};
use crate::body::ResponseBody;
use crate::error::RunError;
use crate::inputs::Inputs;
use crate::prepared::Prepared;
use crate::request::Request;
use crate::respond::respond;
use crate::run::Guest;
use crate::spec::ResponseOptions;
use crate::stdin::RequestBody;
use crate::stdout::{StdoutPipe, StdoutReader};

/// How a kind gives a program its argv and environment: in `builder`, or packed and returned.
pub(crate) type GiveInputs = fn(&Prepared, &CgiRequest<'_>, &mut WasiCtxBuilder) -> Inputs;

/// Sets a request up for a CGI program: stdout into a pipe the server reads, stderr kept for
/// the log, the body on stdin, argv and the environment given by `inputs`.
pub(crate) fn setup(
    prepared: &Prepared,
    request: &Request,
    inputs: GiveInputs,
    start: impl Start,
) -> Result<(Guest, Answer), RunError> {
    let limits = &prepared.spec.limits;
    let (stdout, output, output_limit) = StdoutPipe::new(limits.max_output);
    let stderr = prepared.stderr();
    let mut builder = WasiCtxBuilder::new();
    builder.stdout(stdout.clone()).stderr(stderr.clone());
    let packed = inputs(prepared, &request.cgi(), &mut builder);
    match &request.body {
        RequestBody::Full(bytes) => builder.stdin(MemoryInputPipe::new(bytes.clone())),
        RequestBody::Streaming(stream) => builder.stdin(AsyncStdinStream::new(stream.take_reader())),
    };
    prepared.add_volumes(&mut builder)?;
    let guest = start(
        prepared.state(builder.build_p1(), packed, &request.head.headers, Some(stdout)),
        stderr,
        Some(output_limit),
    );
    Ok((guest, Answer::Cgi(CgiAnswer { output, options: prepared.spec.response })))
}

/// A CGI program's response: what it writes to stdout.
pub(crate) struct CgiAnswer {
    output: StdoutReader,
    options: ResponseOptions,
}

impl CgiAnswer {
    /// Answers once the program's CGI header block is complete: from memory when it ends soon,
    /// else streaming the rest of its stdout (see [`ResponseOptions`]).
    pub(crate) async fn respond(self, guest: Guest) -> Result<http::Response<ResponseBody>, RunError> {
        respond(guest, self.output, self.options).await
    }
}
