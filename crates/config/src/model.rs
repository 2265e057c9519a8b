//! The configuration model: what the user wrote, in any of the formats, as typed values with
//! their locations. `modules.toml`, Spin manifests and Bindle invoices all become these.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::allowed_hosts::AllowedHosts;
use crate::diagnostic::{Diagnostic, Diagnostics, Location, Reporter};
use crate::labels::Label;
use crate::module_ref::ModuleRef;
use crate::route::RoutePattern;
use crate::variables::{Declarations, Template};

/// The entrypoint called when an entry names none.
pub const DEFAULT_ENTRYPOINT: &str = "_start";

/// A parsed, validated `modules.toml`: what the user wrote, with locations for messages.
#[derive(Clone, Debug)]
pub struct Config {
    /// The source name the file was read as, used in messages.
    pub source: String,
    /// The `[[module]]` entries, in file order.
    pub modules: Vec<ModuleEntry>,
    /// `[variables]`: the application variables the entries' templates refer to.
    pub variables: Declarations,
}

/// One `[[module]]` entry.
#[derive(Clone, Debug)]
pub struct ModuleEntry {
    /// Where the `route` value is.
    pub location: Location,
    /// `route`: which request paths this entry answers.
    pub route: RoutePattern,
    /// `module`: where the module's bytes come from.
    pub module: ModuleRef,
    /// Where the `module` value is.
    pub module_location: Location,
    /// `entrypoint`: the export called per request, `_start` unless given.
    pub entrypoint: String,
    /// `volumes`: directories the module may see, in file order.
    pub volumes: Vec<Volume>,
    /// A Spin component's `files` and `exclude_files`: what it sees under `/`.
    pub files: Option<Files>,
    /// `allowed_hosts`: outbound HTTP destinations; missing or empty allows none.
    pub allowed_hosts: AllowedHosts,
    /// `http_max_concurrency`: how many outbound responses may be open at once.
    pub http_max_concurrency: Option<u32>,
    /// `argv`: the argv template, with `${SCRIPT_NAME}` and `${ARGS}`.
    pub argv: Option<String>,
    /// `environment`: variables for this module only, in file order; in a `modules.toml` with
    /// `[variables]`, each value is a template.
    pub environment: Vec<(String, Template)>,
    /// A Spin component's `variables`: what it reads through the variables interfaces, each a
    /// template over the application variables.
    pub variables: Vec<(String, Template)>,
    /// `key_value_stores`: the labels of the key-value stores it may open.
    pub key_value_stores: Vec<Label>,
    /// `sqlite_databases`: the labels of the SQLite databases it may open.
    pub sqlite_databases: Vec<Label>,
    /// Per-module limits; `None` means the global default.
    pub limits: ModuleLimits,
    /// How many requests one instance serves; `None` means the global default.
    pub reuse: InstanceReuse,
}

/// A directory made visible to a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    /// The path the module sees, e.g. `/data`.
    pub guest_path: String,
    /// The host directory, as written (relative paths are resolved later).
    pub host_path: PathBuf,
    /// Whether the module may only read.
    pub read_only: bool,
    /// Where the entry is.
    pub location: Location,
}

/// A Spin component's files: host files copied into a directory the module sees as `/`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Files {
    /// The directory the paths and globs are relative to: empty after parsing, the manifest's
    /// directory after [`Config::resolve_paths`].
    pub root: PathBuf,
    /// `files`, in order.
    pub mounts: Vec<FileMount>,
    /// `exclude_files`: globs of paths, relative to `root`, left out.
    pub exclude: Vec<String>,
}

/// One entry of a Spin component's `files`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileMount {
    /// A path or glob (`static/**/*`): each file it matches, at the same path under `/`; a
    /// directory, with everything in it.
    Pattern {
        /// The path or glob as written.
        pattern: String,
        /// Where the entry is.
        location: Location,
    },
    /// `{ source, destination }`: a file or directory, seen at `destination`.
    Mapped {
        /// The host file or directory.
        source: PathBuf,
        /// The absolute path the module sees it at.
        destination: String,
        /// Where the entry is.
        location: Location,
    },
}

/// Limits a module entry may set for itself, overriding the global defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ModuleLimits {
    /// `timeout`: wall-clock time a request may run.
    pub timeout: Option<Duration>,
    /// `max_memory`: bytes of linear memory an instance may use.
    pub max_memory: Option<u64>,
    /// `max_body`: bytes of request body accepted.
    pub max_body: Option<u64>,
}

/// `instance_reuse` and `instance_concurrency`: how many requests one instance of a `wasi:http`
/// component serves, in all and at once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstanceReuse {
    /// `instance_reuse`: requests one instance serves before it is dropped.
    pub requests: Option<u32>,
    /// `instance_concurrency`: requests one instance serves at once.
    pub concurrency: Option<u32>,
}

/// The result of parsing: the configuration plus warnings, or every error found.
pub type ParseResult = Result<(Config, Vec<Diagnostic>), Diagnostics>;

/// Reports every entry whose route an earlier entry already has.
pub(crate) fn check_duplicate_routes(modules: &[ModuleEntry], reporter: &mut Reporter<'_>) {
    let mut seen: HashMap<&RoutePattern, Location> = HashMap::new();
    for entry in modules {
        match seen.get(&entry.route) {
            Some(first) => {
                let message = format!("route `{}` is already defined at line {}", entry.route, first.line);
                reporter.error_at(entry.location, None, message);
            }
            None => {
                seen.insert(&entry.route, entry.location);
            }
        }
    }
}
