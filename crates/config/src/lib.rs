//! Reads what the user wrote: `modules.toml` and the values of global flags, into typed,
//! validated values that carry their file, line and column for messages.
//!
//! [`Config::parse`] turns the text of a `modules.toml`, or of a Spin application manifest, into
//! a [`Config`] of [`ModuleEntry`] values, reporting every problem at once as [`Diagnostics`]; [`Config::resolve_paths`] then
//! anchors relative paths at the configuration file. [`Invoice`] reads a Bindle invoice and maps
//! its handlers to the same entries. [`RoutePattern`] is the route type the server matches
//! requests with, and [`parse_env_file`] reads `--env-file` files.
//!
//! This crate does no network I/O and knows nothing of wasm: fetching modules is
//! `wagi-loader`'s job and running them is `wagi-runtime`'s. Parsing works on a `&str`, so tests
//! never touch the disk.
//!
//! ```
//! let text = "[[module]]\nroute = \"/hello\"\nmodule = \"hello.wat\"\n";
//! let (config, warnings) = wagi_config::Config::parse(text, "modules.toml").expect("valid");
//! assert_eq!(config.modules[0].route.to_string(), "/hello");
//! assert!(warnings.is_empty());
//! ```
#![deny(missing_docs)]

mod allowed_hosts;
mod diagnostic;
mod digest;
mod env_vars;
mod fields;
mod format;
mod inside;
mod invoice;
mod labels;
mod model;
mod module_ref;
mod modules_toml;
mod resolve;
mod route;
mod runtime_config;
mod spin_toml;
mod units;
mod variables;

pub use allowed_hosts::{ALLOW_ALL, AllowedHostError, AllowedHosts};
pub use diagnostic::{Diagnostic, Diagnostics, Location, Severity};
pub use digest::Digest;
pub use env_vars::{EnvArgError, parse_env_arg, parse_env_file};
pub use inside::{PathEscape, path_inside};
pub use invoice::{Invoice, WASM_MEDIA_TYPE};
pub use labels::{Label, is_label};
pub use model::{
    Config, DEFAULT_ENTRYPOINT, FileMount, Files, InstanceReuse, ModuleEntry, ModuleLimits, ParseResult, Volume,
};
pub use module_ref::{DEFAULT_REGISTRY, ModuleRef, ModuleRefError, OciReference, Parcel};
pub use route::{RouteError, RouteMatch, RoutePattern};
pub use runtime_config::{DatabaseDefinition, RuntimeConfig, StoreBackend, StoreDefinition};
pub use units::{UnitError, parse_byte_size, parse_duration};
pub use variables::{
    Declaration, Declarations, Sources, Template, VARIABLE_NAME_RULE, Value, Values, VariableError, is_variable_name,
};
