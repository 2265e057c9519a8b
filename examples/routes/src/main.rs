//! Shows `_routes`: one module serving several sub-routes, each with its own exported entrypoint.
//!
//! At startup WAGI calls the `_routes` export, which prints one `<route pattern> <entrypoint>` pair per
//! line. Mounted at `/routes/...`, this module therefore also answers `/routes/exact` (entrypoint
//! `on_exact`) and `/routes/wildcard/...` (entrypoint `on_wildcard`); any other path under `/routes/` runs
//! `_start`. Each entrypoint answers with its own name plus `PATH_INFO` and `SCRIPT_NAME`, so a client can
//! see which one ran and how WAGI split the path.
//!
//! rustc exports `#[unsafe(no_mangle)]` functions from a wasm32-wasip1 binary, so no linker flags are
//! needed; `cargo xtask examples` checks that the exports are present.

use std::env;
use std::io::{self, Write};

fn main() {
    respond("_start");
}

/// Prints the sub-routes of this module, for WAGI to mount under the module's own route.
#[unsafe(no_mangle)]
pub extern "C" fn _routes() {
    write_stdout(b"/exact on_exact\n/wildcard/... on_wildcard\n");
}

/// The entrypoint for the exact sub-route `/exact`.
#[unsafe(no_mangle)]
pub extern "C" fn on_exact() {
    respond("on_exact");
}

/// The entrypoint for the wildcard sub-route `/wildcard/...`.
#[unsafe(no_mangle)]
pub extern "C" fn on_wildcard() {
    respond("on_wildcard");
}

fn respond(entrypoint: &str) {
    let path_info = env::var("PATH_INFO").unwrap_or_default();
    let script_name = env::var("SCRIPT_NAME").unwrap_or_default();
    let response = format!(
        "Content-Type: text/plain\n\nentrypoint: {entrypoint}\nPATH_INFO: {path_info}\nSCRIPT_NAME: {script_name}\n"
    );
    write_stdout(response.as_bytes());
}

fn write_stdout(bytes: &[u8]) {
    // An exported function other than `_start` returns without Rust's runtime cleanup, which is what
    // normally flushes stdout, so flush here. An export has no way to report an error besides a trap, and
    // a failed write already shows up to WAGI as missing output.
    let mut stdout = io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
}
