//! The smallest Spin 4 HTTP component: spin-sdk 7's `#[http_service]`, which builds a WASI 0.3
//! `wasi:http` component (exporting `wasi:http/handler@0.3.0`). It answers every request with
//! `hello from wagi`, as `hello.wat` does through CGI. Build it for `wasm32-wasip2` as a library
//! (`crate-type = ["cdylib"]`); `spin.toml` beside it serves it.

use spin_sdk::http::{IntoResponse, Request};
use spin_sdk::http_service;

#[http_service]
async fn handle(_request: Request) -> impl IntoResponse {
    "hello from wagi\n"
}
