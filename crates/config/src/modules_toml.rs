//! The `modules.toml` grammar: its `[[module]]` tables read into [`ModuleEntry`] values,
//! reporting every problem with its line and column.

use std::ops::Range;
use std::path::PathBuf;

use toml::de::{DeTable, DeValue};

use crate::allowed_hosts::AllowedHosts;
use crate::diagnostic::{Location, Reporter};
use crate::fields::{Fields, unknown_field_message};
use crate::model::{DEFAULT_ENTRYPOINT, InstanceReuse, ModuleEntry, ModuleLimits, Volume, check_duplicate_routes};
use crate::module_ref::ModuleRef;
use crate::route::RoutePattern;
use crate::variables::{Declarations, parse_declarations};

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
    "instance_reuse",
    "instance_concurrency",
    "key_value_stores",
    "sqlite_databases",
];
/// Keys the original WAGI accepted and ignored; kept working, with a warning.
const IGNORED_MODULE_FIELDS: &[&str] = &["repository"];
const IGNORED_TOP_LEVEL_FIELDS: &[&str] = &["default_host"];

/// Reads the root table: its `[[module]]` entries and, if it has one, its `[variables]` table,
/// which makes each `environment` value a template.
pub(crate) fn parse_root(root: &DeTable<'_>, reporter: &mut Reporter<'_>) -> (Vec<ModuleEntry>, Declarations) {
    let declarations = root.get("variables").map(|value| parse_declarations(value, reporter));
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
                    Some(table) => modules.extend(parse_module(table, entry.span(), declarations.as_ref(), reporter)),
                    None => reporter.error(entry.span().start, None, "each `module` must be a table"),
                }
            }
        } else if name == "variables" {
            // Read first, above.
        } else if IGNORED_TOP_LEVEL_FIELDS.contains(&name) {
            reporter.warning(key.span().start, None, format!("`{name}` is ignored; use the `--hostname` flag"));
        } else {
            reporter.error(key.span().start, None, unknown_field_message(name, &["module", "variables"]));
        }
    }
    if !found_modules {
        reporter.error(0, None, "no `[[module]]` entries; add at least one with a `route` and a `module`");
    }
    check_duplicate_routes(&modules, reporter);
    (modules, declarations.unwrap_or_default())
}

/// Reads one `[[module]]` table; returns `None` when a required field is missing or invalid
/// (the problem has been reported).
fn parse_module(
    table: &DeTable<'_>,
    span: Range<usize>,
    declarations: Option<&Declarations>,
    reporter: &mut Reporter<'_>,
) -> Option<ModuleEntry> {
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
    let environment = fields.environment("environment", declarations);
    let key_value_stores = fields.labels("key_value_stores");
    let sqlite_databases = fields.labels("sqlite_databases");
    let limits = ModuleLimits {
        timeout: fields.optional_duration("timeout"),
        max_memory: fields.optional_size("max_memory"),
        max_body: fields.optional_size("max_body"),
    };
    let reuse = InstanceReuse {
        requests: fields.optional_count("instance_reuse"),
        concurrency: fields.optional_count("instance_concurrency"),
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
        variables: Vec::new(),
        key_value_stores,
        sqlite_databases,
        limits,
        reuse,
    })
}

impl<'t, 'i> Fields<'t, 'i, '_, '_> {
    fn check_keys(&mut self) {
        self.check_keys_of(MODULE_FIELDS, IGNORED_MODULE_FIELDS);
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
