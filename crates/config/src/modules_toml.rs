//! The `modules.toml` format: parsing a source text into [`Config`], reporting every problem
//! with its line and column.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::allowed_hosts::AllowedHosts;
use crate::diagnostic::{Diagnostic, Diagnostics, Location, Reporter};
use crate::module_ref::ModuleRef;
use crate::route::RoutePattern;
use crate::units::{parse_byte_size, parse_duration};

/// The entrypoint called when an entry names none.
pub const DEFAULT_ENTRYPOINT: &str = "_start";

/// A parsed, validated `modules.toml`: what the user wrote, with locations for messages.
#[derive(Clone, Debug)]
pub struct Config {
    /// The source name the file was read as, used in messages.
    pub source: String,
    /// The `[[module]]` entries, in file order.
    pub modules: Vec<ModuleEntry>,
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
    /// `environment`: variables for this module only, in file order.
    pub environment: Vec<(String, String)>,
    /// Per-module limits; `None` means the global default.
    pub limits: ModuleLimits,
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

const MODULE_FIELDS: &[&str] = &[
    "route",
    "module",
    "entrypoint",
    "volumes",
    "allowed_hosts",
    "http_max_concurrency",
    "argv",
    "bindle_server",
    "environment",
    "timeout",
    "max_memory",
    "max_body",
];
/// Keys the original WAGI accepted and ignored; kept working, with a warning.
const IGNORED_MODULE_FIELDS: &[&str] = &["repository"];
const IGNORED_TOP_LEVEL_FIELDS: &[&str] = &["default_host"];

/// The result of parsing: the configuration plus warnings, or every error found.
pub type ParseResult = Result<(Config, Vec<Diagnostic>), Diagnostics>;

impl Config {
    /// Parses `text`, naming it `source` in diagnostics: a `modules.toml`, or a Spin manifest
    /// when it has `spin_manifest_version`. Reports all problems at once.
    pub fn parse(text: &str, source: &str) -> ParseResult {
        let mut reporter = Reporter::new(source, text);
        let root = match DeTable::parse(text) {
            Ok(root) => root,
            Err(error) => {
                let offset = error.span().map_or(0, |span| span.start);
                reporter.error(offset, None, error.message().trim_end().to_owned());
                return Err(Diagnostics(reporter.finish().0));
            }
        };
        let modules = if root.get_ref().contains_key(crate::spin_toml::VERSION_KEY) {
            crate::spin_toml::parse_root(root.get_ref(), &mut reporter)
        } else {
            parse_root(root.get_ref(), &mut reporter)
        };
        let (errors, warnings) = reporter.finish();
        if errors.is_empty() {
            Ok((Config { source: source.to_owned(), modules }, warnings))
        } else {
            Err(Diagnostics(errors))
        }
    }
}

fn parse_root(root: &DeTable<'_>, reporter: &mut Reporter<'_>) -> Vec<ModuleEntry> {
    let mut modules = Vec::new();
    let mut found_modules = false;
    for (key, value) in root {
        let name = key.get_ref().as_ref();
        if name == "module" {
            found_modules = true;
            let Some(entries) = value.get_ref().as_array() else {
                reporter.error(key.span().start, None, "`module` must be an array of tables: write `[[module]]`");
                continue;
            };
            for entry in entries.iter() {
                match entry.get_ref().as_table() {
                    Some(table) => modules.extend(parse_module(table, entry.span(), reporter)),
                    None => reporter.error(entry.span().start, None, "each `module` must be a table"),
                }
            }
        } else if IGNORED_TOP_LEVEL_FIELDS.contains(&name) {
            reporter.warning(key.span().start, None, format!("`{name}` is ignored; use the `--hostname` flag"));
        } else {
            reporter.error(key.span().start, None, unknown_field_message(name, &["module"]));
        }
    }
    if !found_modules {
        reporter.error(0, None, "no `[[module]]` entries; add at least one with a `route` and a `module`");
    }
    check_duplicate_routes(&modules, reporter);
    modules
}

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

/// Reads one `[[module]]` table; returns `None` when a required field is missing or invalid
/// (the problem has been reported).
fn parse_module(table: &DeTable<'_>, span: Range<usize>, reporter: &mut Reporter<'_>) -> Option<ModuleEntry> {
    let item = table
        .get("route")
        .and_then(|v| v.get_ref().as_str())
        .map_or_else(|| "module".to_owned(), |route| format!("module `{route}`"));
    let mut fields = Fields { table, span, reporter, item: &item };
    fields.check_keys();

    let route = fields.required("route", |text| RoutePattern::parse(text).map_err(|e| e.to_string()));
    let module = fields.required("module", |text| ModuleRef::parse(text).map_err(|e| e.to_string()));
    let entrypoint = fields.optional_str("entrypoint").map_or(DEFAULT_ENTRYPOINT.to_owned(), str::to_owned);
    let volumes = fields.volumes();
    let allowed_hosts = fields.allowed_hosts();
    let http_max_concurrency = fields.optional_u32("http_max_concurrency");
    let argv = fields.optional_str("argv").map(str::to_owned);
    let bindle_server = fields.optional_str("bindle_server").map(str::to_owned);
    let environment = fields.string_table("environment");
    let limits = ModuleLimits {
        timeout: fields.optional_duration("timeout"),
        max_memory: fields.optional_size("max_memory"),
        max_body: fields.optional_size("max_body"),
    };
    let (route, route_location) = route?;
    let (mut module, module_location) = module?;
    if let ModuleRef::Bindle { server, .. } = &mut module {
        match bindle_server {
            Some(url) => *server = Some(url),
            None => fields.reporter.error_at(
                module_location,
                Some(&item),
                "a `bindle:` module needs `bindle_server` in the same entry",
            ),
        }
    }
    Some(ModuleEntry {
        location: route_location,
        route,
        module,
        module_location,
        entrypoint,
        volumes,
        files: None,
        allowed_hosts,
        http_max_concurrency,
        argv,
        environment,
        limits,
    })
}

/// Typed access to the fields of one table (a `[[module]]`, or a Spin trigger or component),
/// reporting wrong types as it goes.
pub(crate) struct Fields<'t, 'i, 'r, 's> {
    pub(crate) table: &'t DeTable<'i>,
    pub(crate) span: Range<usize>,
    pub(crate) reporter: &'r mut Reporter<'s>,
    pub(crate) item: &'r str,
}

impl<'t, 'i> Fields<'t, 'i, '_, '_> {
    pub(crate) fn error(&mut self, offset: usize, message: impl Into<String>) {
        self.reporter.error(offset, Some(self.item), message);
    }

    fn check_keys(&mut self) {
        self.check_keys_of(MODULE_FIELDS, IGNORED_MODULE_FIELDS);
    }

    /// Reports every key not in `known` as unknown; warns that the `ignored` ones are ignored.
    pub(crate) fn check_keys_of(&mut self, known: &[&str], ignored: &[&str]) {
        for key in self.table.keys() {
            let name = key.get_ref().as_ref();
            if ignored.contains(&name) {
                self.reporter.warning(key.span().start, Some(self.item), format!("`{name}` is ignored"));
            } else if !known.contains(&name) {
                self.error(key.span().start, unknown_field_message(name, known));
            }
        }
    }

    pub(crate) fn value(&self, name: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        self.table.get(name)
    }

    pub(crate) fn wrong_type(&mut self, name: &str, value: &Spanned<DeValue<'_>>, expected: &str) {
        let found = value.get_ref().type_str();
        self.error(value.span().start, format!("`{name}` must be {expected}, found {found}"));
    }

    pub(crate) fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<(T, Location)> {
        let Some(value) = self.value(name) else {
            self.error(self.span.start, format!("missing field `{name}`"));
            return None;
        };
        let text = self.str_of(name, value)?;
        match parse(text) {
            Ok(parsed) => Some((parsed, self.reporter.location(value.span().start))),
            Err(message) => {
                self.error(value.span().start, message);
                None
            }
        }
    }

    pub(crate) fn str_of(&mut self, name: &str, value: &'t Spanned<DeValue<'i>>) -> Option<&'t str> {
        let text = value.get_ref().as_str();
        if text.is_none() {
            self.wrong_type(name, value, "a string");
        }
        text
    }

    fn optional_str(&mut self, name: &str) -> Option<&'t str> {
        let value = self.value(name)?;
        self.str_of(name, value)
    }

    fn optional_u32(&mut self, name: &str) -> Option<u32> {
        let value = self.value(name)?;
        let Some(integer) = value.get_ref().as_integer() else {
            self.wrong_type(name, value, "a whole number");
            return None;
        };
        let number = u32::from_str_radix(integer.as_str(), integer.radix()).ok();
        if number.is_none() {
            let message = format!("`{name}` must be a whole number from 0 to {}, found `{integer}`", u32::MAX);
            self.error(value.span().start, message);
        }
        number
    }

    fn optional_duration(&mut self, name: &str) -> Option<Duration> {
        let value = self.value(name)?;
        let text = self.str_of(name, value)?;
        parse_duration(text).map_err(|error| self.error(value.span().start, format!("`{name}`: {error}"))).ok()
    }

    /// A size is a number of bytes or a string with a unit (`"256MiB"`).
    fn optional_size(&mut self, name: &str) -> Option<u64> {
        let value = self.value(name)?;
        match value.get_ref() {
            DeValue::Integer(i) => {
                let number = u64::from_str_radix(i.as_str(), i.radix()).ok();
                if number.is_none() {
                    self.wrong_type(name, value, "a positive number of bytes");
                }
                number
            }
            DeValue::String(text) => {
                parse_byte_size(text).map_err(|error| self.error(value.span().start, format!("`{name}`: {error}"))).ok()
            }
            _ => {
                self.wrong_type(name, value, "a size such as `\"256MiB\"` or a number of bytes");
                None
            }
        }
    }

    /// `allowed_hosts = ["https://api.example.com", ...]`, each entry checked where it is.
    fn allowed_hosts(&mut self) -> AllowedHosts {
        const NAME: &str = "allowed_hosts";
        let Some(value) = self.value(NAME) else { return AllowedHosts::default() };
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_type(NAME, value, "an array of strings");
            return AllowedHosts::default();
        };
        let mut entries = Vec::with_capacity(array.len());
        for element in array.iter() {
            let Some(entry) = self.str_of(NAME, element) else { continue };
            match AllowedHosts::parse(&[entry]) {
                Ok(_) => entries.push(entry),
                Err(error) => self.error(element.span().start, error.to_string()),
            }
        }
        AllowedHosts::parse(&entries).unwrap_or_default()
    }

    pub(crate) fn string_table(&mut self, name: &str) -> Vec<(String, String)> {
        let Some(value) = self.value(name) else { return Vec::new() };
        let Some(table) = value.get_ref().as_table() else {
            self.wrong_type(name, value, "a table of strings");
            return Vec::new();
        };
        let mut pairs = Vec::with_capacity(table.len());
        for (key, value) in table {
            if !crate::env_vars::is_valid_name(key.get_ref()) {
                // Escaped, so that a control character in the name reaches the terminal as text.
                let shown = key.get_ref().escape_debug();
                self.error(key.span().start, format!("`{shown}` is not a valid variable name"));
                continue;
            }
            let Some(text) = self.str_of(&format!("{name}.{}", key.get_ref()), value) else { continue };
            // The environment block separates variables with NUL bytes, so a NUL in a value
            // would start a second variable, one that could replace a CGI variable.
            if text.contains('\0') {
                self.error(value.span().start, format!("the value of `{}` contains a NUL byte", key.get_ref()));
                continue;
            }
            pairs.push((key.get_ref().to_string(), text.to_owned()));
        }
        pairs
    }

    /// `volumes = { "/guest" = "host/dir", "/ro" = { path = "host/dir", read_only = true } }`.
    fn volumes(&mut self) -> Vec<Volume> {
        let Some(value) = self.value("volumes") else { return Vec::new() };
        let Some(table) = value.get_ref().as_table() else {
            self.wrong_type("volumes", value, "a table of guest path to host directory");
            return Vec::new();
        };
        let mut volumes = Vec::with_capacity(table.len());
        for (key, value) in table {
            let guest_path = key.get_ref().to_string();
            let location = self.reporter.location(key.span().start);
            if !guest_path.starts_with('/') {
                self.error(key.span().start, format!("volume guest path `{guest_path}` must start with `/`"));
                continue;
            }
            let field = format!("volumes.\"{guest_path}\"");
            match value.get_ref() {
                DeValue::String(host) => {
                    volumes.push(Volume {
                        guest_path,
                        host_path: PathBuf::from(host.as_ref()),
                        read_only: false,
                        location,
                    });
                }
                DeValue::Table(options) => {
                    if let Some(volume) = self.volume_options(&field, guest_path, options, value.span(), location) {
                        volumes.push(volume);
                    }
                }
                _ => self.wrong_type(&field, value, "a host directory or a table with `path` and `read_only`"),
            }
        }
        volumes
    }

    fn volume_options(
        &mut self,
        field: &str,
        guest_path: String,
        options: &DeTable<'_>,
        span: Range<usize>,
        location: Location,
    ) -> Option<Volume> {
        let mut host_path = None;
        let mut read_only = false;
        for (key, value) in options {
            match (key.get_ref().as_ref(), value.get_ref()) {
                ("path", DeValue::String(path)) => host_path = Some(PathBuf::from(path.as_ref())),
                ("read_only", DeValue::Boolean(flag)) => read_only = *flag,
                ("path", _) => self.error(value.span().start, format!("`{field}.path` must be a string")),
                ("read_only", _) => self.error(value.span().start, format!("`{field}.read_only` must be a boolean")),
                (other, _) => self.error(key.span().start, unknown_field_message(other, &["path", "read_only"])),
            }
        }
        let Some(host_path) = host_path else {
            self.error(span.start, format!("missing field `{field}.path`"));
            return None;
        };
        Some(Volume { guest_path, host_path, read_only, location })
    }
}

pub(crate) fn unknown_field_message(name: &str, known: &[&str]) -> String {
    let suggestion = known
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(name, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
        .min_by_key(|(distance, _)| *distance);
    match suggestion {
        Some((_, candidate)) => format!("unknown field `{name}`, did you mean `{candidate}`?"),
        None => format!("unknown field `{name}`; expected one of {}", quote_list(known)),
    }
}

fn quote_list(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}
