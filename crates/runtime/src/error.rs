//! Errors: [`RunError`] for one request, [`Error`] for loading and preparing modules.

use std::time::Duration;

use wagi_cgi::OutputError;

/// Why one request did not produce a response. The server maps each variant to a status.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The module's output is not a CGI response.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The module wrote more to stdout than allowed.
    #[error("the module wrote more than {limit} bytes to stdout")]
    OutputTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The module called `proc_exit` with a non-zero code.
    #[error("the module exited with code {0}")]
    Exit(i32),
    /// The module trapped (unreachable, out-of-bounds access, stack overflow, memory limit…).
    #[error("the module trapped: {0}")]
    Trap(String),
    /// The request ran past its deadline and the instance was stopped.
    #[error("the module did not finish within {0:?}")]
    Timeout(Duration),
    /// The instance could not be created (e.g. no free instance slot).
    #[error("the module could not be instantiated: {0}")]
    Instantiate(String),
    /// The instance's initial memory does not fit in what `--max-total-memory` leaves while
    /// other instances run: the server is busy, not the module wrong.
    #[error("the module could not be instantiated: no room for its memory: {0}")]
    NoMemoryLeft(String),
    /// A reused instance could not be created: every slot of the instance pool is taken and
    /// stayed taken while the request waited.
    #[error("no instance slot became free in time")]
    NoInstanceSlot,
    /// A `wasi:http` component returned without setting its response.
    #[error("the component returned without setting a response")]
    NoResponse,
    /// A `wasi:http` component set an error code as its response.
    #[error("the component answered with the error `{0}`")]
    ErrorResponse(String),
    /// The request cannot be expressed in the types the component takes.
    #[error("{0}")]
    BadRequest(String),
    /// A volume could not be opened for this request.
    #[error("volume `{guest_path}` could not be opened: {reason}")]
    Volume {
        /// The path the module would have seen.
        guest_path: String,
        /// Why it failed.
        reason: String,
    },
}

/// Why a module could not be compiled or prepared for serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The wasm engine could not be configured.
    #[error("cannot configure the wasm engine: {0}")]
    Engine(String),
    /// The module is not valid wasm, or uses features we do not enable.
    #[error("cannot compile the module: {0}")]
    Compile(String),
    /// The module imports something the runtime does not provide.
    #[error("cannot link the module: {0}")]
    Link(String),
    /// The entrypoint is not exported.
    #[error("the module does not export the entrypoint `{0}`")]
    MissingEntrypoint(String),
    /// A component was given an entrypoint other than the default; components run `wasi:cli/run`.
    #[error(
        "the module is a component, which runs its `wasi:cli/run` or `wasi:http` handler export; `entrypoint = \"{0}\"` is only for core modules"
    )]
    ComponentEntrypoint(String),
    /// One instance needs more pool slots than the pool has.
    #[error(
        "one instance of the module needs {needed} instances, memories or tables at once, but the pool has {pool}; raise --max-instances"
    )]
    PoolTooSmall {
        /// The slots one instance takes.
        needed: u32,
        /// The pool's size.
        pool: u32,
    },
    /// A `wasi:http/incoming-handler` export whose `handle` is not the function that interface
    /// defines.
    #[error("`{name}` must be a function of an `incoming-request` and a `response-outparam`, found {found}")]
    HandlerSignature {
        /// The export's name.
        name: String,
        /// What it actually is.
        found: String,
    },
    /// The entrypoint is not a function taking and returning nothing.
    #[error("the entrypoint `{name}` must be a function with no parameters and no results, found {found}")]
    EntrypointSignature {
        /// The export's name.
        name: String,
        /// What it actually is.
        found: String,
    },
    /// A volume directory cannot be opened.
    #[error("volume `{guest_path}` cannot open `{host_path}`: {reason}")]
    Volume {
        /// The path the module would see.
        guest_path: String,
        /// The host directory.
        host_path: String,
        /// Why it failed.
        reason: String,
    },
    /// The module's stderr log cannot be created.
    #[error("cannot create the stderr log `{path}`")]
    Log {
        /// The log file.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// `_routes` failed or printed something that is not a route table.
    #[error("`_routes` failed: {0}")]
    Routes(String),
}
