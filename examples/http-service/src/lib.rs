//! A `wasi:http` 0.3 component written with the `wasip3` crate: `handle` is an `async` function,
//! and the body of its response is a stream it keeps writing after it has returned. Build it for
//! `wasm32-wasip2` as a library (`crate-type = ["cdylib"]`).
//!
//! What it answers depends on the last segment of the path:
//!
//! - `echo`: the request body, read and written back piece by piece as it arrives;
//! - `chunks`: `first` and `second`, each a line, written as two pieces;
//! - `broken`: `first`, then a trap, so the response must be cut short;
//! - `loop`: never answers;
//! - anything else: `hello from wagi`, what `hello.wat` answers.

use wasip3::http::types::{ErrorCode, Fields, Request, Response};
use wasip3::wit_bindgen::StreamResult;
use wasip3::{spawn_local, wit_future, wit_stream};

wasip3::http::service::export!(Service);

struct Service;

/// Bytes read from the request body at a time.
const READ: usize = 64 << 10;

impl wasip3::exports::http::handler::Guest for Service {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let target = request.get_path_with_query().unwrap_or_default();
        let path = target.split('?').next().unwrap_or_default();
        let last = path.rsplit('/').next().unwrap_or_default().to_owned();
        let (mut body, body_reader) = wit_stream::new();
        let (trailers, trailers_reader) = wit_future::new(|| Ok(None));
        drop(trailers);
        let (response, _sent) = Response::new(Fields::new(), Some(body_reader), trailers_reader);
        match last.as_str() {
            "echo" => {
                let (_read, read_reader) = wit_future::new(|| Ok(()));
                let (mut incoming, _trailers) = Request::consume_body(request, read_reader);
                spawn_local(async move {
                    loop {
                        let (result, chunk) = incoming.read(Vec::with_capacity(READ)).await;
                        if !chunk.is_empty() && !body.write_all(chunk).await.is_empty() {
                            return;
                        }
                        if !matches!(result, StreamResult::Complete(_)) {
                            return;
                        }
                    }
                });
            }
            "chunks" => {
                spawn_local(async move {
                    if body.write_all(b"first\n".to_vec()).await.is_empty() {
                        body.write_all(b"second\n".to_vec()).await;
                    }
                });
            }
            "broken" => {
                spawn_local(async move {
                    body.write_all(b"first\n".to_vec()).await;
                    panic!("the component fails after its response started");
                });
            }
            "loop" =>
            {
                #[allow(clippy::empty_loop)]
                loop {}
            }
            _ => {
                spawn_local(async move {
                    body.write_all(b"hello from wagi\n".to_vec()).await;
                });
            }
        }
        Ok(response)
    }
}
