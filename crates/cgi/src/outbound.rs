//! The `wasi_experimental_http` imports, linked so that modules written for outbound HTTP still
//! load. Every request is refused with the ABI's "destination not allowed" code: no
//! destination is allowed until outbound HTTP with an `allowed_hosts` policy is provided here.

use wasmtime::{Caller, Linker};

use crate::error::Error;
use crate::handler::State;

/// The import module name of the ABI.
const MODULE: &str = "wasi_experimental_http";
/// ABI error code: the handle names no open response.
const INVALID_HANDLE: i32 = 1;
/// ABI error code: the destination is not in `allowed_hosts`.
const DESTINATION_NOT_ALLOWED: i32 = 7;

/// Adds the five functions of the ABI to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<State>) -> Result<(), Error> {
    let link_error = |e: wasmtime::Error| Error::Engine(format!("{e:#}"));
    linker
        .func_wrap(
            MODULE,
            "req",
            |_: Caller<'_, State>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32| {
                DESTINATION_NOT_ALLOWED
            },
        )
        .map_err(link_error)?;
    linker
        .func_wrap(MODULE, "body_read", |_: Caller<'_, State>, _: i32, _: i32, _: i32, _: i32| INVALID_HANDLE)
        .map_err(link_error)?;
    linker
        .func_wrap(MODULE, "header_get", |_: Caller<'_, State>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32| {
            INVALID_HANDLE
        })
        .map_err(link_error)?;
    linker
        .func_wrap(MODULE, "headers_get_all", |_: Caller<'_, State>, _: i32, _: i32, _: i32, _: i32| INVALID_HANDLE)
        .map_err(link_error)?;
    linker.func_wrap(MODULE, "close", |_: Caller<'_, State>, _: i32| INVALID_HANDLE).map_err(link_error)?;
    Ok(())
}
