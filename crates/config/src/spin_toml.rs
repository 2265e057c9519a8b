//! Spin application manifests (`spin.toml` with `spin_manifest_version = 2`): each HTTP trigger
//! and its component become a [`ModuleEntry`], the same values a `modules.toml` gives, so startup
//! has one path. A file is one when it has the `spin_manifest_version` key; [`Config::parse`]
//! looks for it.
//!
//! Application variables (`[variables]`, a component's `variables`) are read into templates
//! (`variables.rs`). What wagi cannot provide (AI models, component dependencies, triggers other than HTTP) is an error at its line rather than a component that fails when it first uses it;
//! build settings and descriptive keys are accepted and ignored.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::allowed_hosts::AllowedHosts;
use crate::diagnostic::{Location, Reporter};
use crate::digest::Digest;
use crate::fields::{Fields, unknown_field_message};
use crate::inside::path_inside;
use crate::labels::Label;
use crate::model::{
    DEFAULT_ENTRYPOINT, FileMount, Files, InstanceReuse, ModuleEntry, ModuleLimits, check_duplicate_routes,
};
use crate::module_ref::ModuleRef;
use crate::route::RoutePattern;
use crate::variables::{Declarations, Template, parse_declarations};

/// The top-level key that makes a TOML file a Spin manifest.
pub(crate) const VERSION_KEY: &str = "spin_manifest_version";

/// Why a key names something wagi does not provide.
const UNSUPPORTED: &str = "wagi does not support";

/// Why a `files` source or glob must not be absolute or climb with `..`: Spin refuses both, and
/// either would expose host files beyond the application.
const SOURCE_INSIDE: &str = "`files` sources must be inside the manifest's directory";

const TOP_LEVEL: &[&str] = &[VERSION_KEY, "application", "trigger", "component", "variables"];
const APPLICATION: &[&str] = &["name", "version", "description", "authors", "trigger", "tool"];
const TRIGGER: &[&str] = &["route", "component", "executor", "id"];
/// A component's keys; `description`, `build` and `tool` (what it is, how to build it, what
/// tools make of it) are accepted and ignored, as Spin's own runtime does.
const COMPONENT: &[&str] = &[
    "source",
    "description",
    "files",
    "exclude_files",
    "environment",
    "allowed_outbound_hosts",
    "build",
    "tool",
    "variables",
    "key_value_stores",
    "sqlite_databases",
    "ai_models",
    "dependencies",
    "dependencies_inherit_configuration",
];
/// Component keys that ask for something wagi does not provide, and what it is.
const UNSUPPORTED_COMPONENT: &[(&str, &str)] = &[
    ("ai_models", "AI models"),
    ("dependencies", "component dependencies"),
    ("dependencies_inherit_configuration", "component dependencies"),
];

/// Reads the root table of a Spin manifest into entries, one per HTTP trigger.
pub(crate) fn parse_root(root: &DeTable<'_>, reporter: &mut Reporter<'_>) -> (Vec<ModuleEntry>, Declarations) {
    for (key, value) in root {
        let name = key.get_ref().as_ref();
        match name {
            VERSION_KEY => check_version(value, reporter),
            "application" | "trigger" | "component" | "variables" => {}
            other => reporter.error(key.span().start, None, unknown_field_message(other, TOP_LEVEL)),
        }
    }
    let base =
        root.get("application").map_or_else(|| "/".to_owned(), |application| parse_application(application, reporter));
    let declarations = root.get("variables").map(|value| parse_declarations(value, reporter)).unwrap_or_default();
    let components = parse_components(root.get("component"), &declarations, reporter);
    let mut modules = Vec::new();
    if let Some(triggers) = root.get("trigger") {
        modules = parse_triggers(triggers, &base, &components, &declarations, reporter);
    }
    if modules.is_empty() && reporter.diagnostics.iter().all(|d| d.severity != crate::Severity::Error) {
        reporter.error(0, None, "no `[[trigger.http]]` entries; add at least one with a `route` and a `component`");
    }
    check_duplicate_routes(&modules, reporter);
    (modules, declarations)
}

fn check_version(value: &Spanned<DeValue<'_>>, reporter: &mut Reporter<'_>) {
    let version = value.get_ref().as_integer().map(|integer| integer.as_str().to_owned());
    if version.as_deref() != Some("2") {
        let found = value
            .get_ref()
            .as_integer()
            .map_or_else(|| value.get_ref().type_str().to_owned(), |i| i.as_str().to_owned());
        let message = format!("`{VERSION_KEY}` must be 2, found {found}; wagi reads Spin manifests of version 2");
        reporter.error(value.span().start, None, message);
    }
}

/// Checks `[application]` and returns `trigger.http.base`, the path every route is under.
fn parse_application(value: &Spanned<DeValue<'_>>, reporter: &mut Reporter<'_>) -> String {
    const ITEM: &str = "application";
    let Some(table) = value.get_ref().as_table() else {
        reporter.error(value.span().start, Some(ITEM), "`application` must be a table");
        return "/".to_owned();
    };
    let mut base = "/".to_owned();
    for (key, value) in table {
        match key.get_ref().as_ref() {
            "trigger" => base = parse_application_trigger(value, reporter).unwrap_or(base),
            name if APPLICATION.contains(&name) => {}
            other => reporter.error(key.span().start, Some(ITEM), unknown_field_message(other, APPLICATION)),
        }
    }
    base
}

/// `[application.trigger.http]` with its `base`; other triggers are not supported.
fn parse_application_trigger(value: &Spanned<DeValue<'_>>, reporter: &mut Reporter<'_>) -> Option<String> {
    const ITEM: &str = "application";
    let Some(table) = value.get_ref().as_table() else {
        reporter.error(value.span().start, Some(ITEM), "`application.trigger` must be a table");
        return None;
    };
    let mut base = None;
    for (key, value) in table {
        let name = key.get_ref().as_ref();
        if name != "http" {
            reporter.error(key.span().start, Some(ITEM), format!("{UNSUPPORTED} `{name}` triggers; it serves HTTP"));
            continue;
        }
        let Some(http) = value.get_ref().as_table() else {
            reporter.error(value.span().start, Some(ITEM), "`application.trigger.http` must be a table");
            continue;
        };
        for (key, value) in http {
            match (key.get_ref().as_ref(), value.get_ref()) {
                ("base", DeValue::String(text)) if text.starts_with('/') => base = Some(text.to_string()),
                ("base", _) => {
                    reporter.error(value.span().start, Some(ITEM), "`base` must be a path starting with `/`")
                }
                (other, _) => reporter.error(key.span().start, Some(ITEM), unknown_field_message(other, &["base"])),
            }
        }
    }
    base
}

/// A `[component.ID]` table or an inline `component = { ... }`, read into what an entry needs.
#[derive(Clone, Debug)]
struct Component {
    module: ModuleRef,
    module_location: Location,
    files: Option<Files>,
    environment: Vec<(String, Template)>,
    variables: Vec<(String, Template)>,
    key_value_stores: Vec<Label>,
    sqlite_databases: Vec<Label>,
    allowed_hosts: AllowedHosts,
}

fn parse_components(
    value: Option<&Spanned<DeValue<'_>>>,
    declarations: &Declarations,
    reporter: &mut Reporter<'_>,
) -> HashMap<String, Option<Component>> {
    let mut components = HashMap::new();
    let Some(value) = value else { return components };
    let Some(table) = value.get_ref().as_table() else {
        reporter.error(value.span().start, None, "`component` must be a table of components: write `[component.NAME]`");
        return components;
    };
    for (key, value) in table {
        let id = key.get_ref().to_string();
        let item = format!("component `{id}`");
        let component = match value.get_ref().as_table() {
            Some(table) => parse_component(table, value.span(), &item, declarations, reporter),
            None => {
                reporter.error(value.span().start, Some(&item), "a component must be a table");
                None
            }
        };
        components.insert(id, component);
    }
    components
}

fn parse_component(
    table: &DeTable<'_>,
    span: Range<usize>,
    item: &str,
    declarations: &Declarations,
    reporter: &mut Reporter<'_>,
) -> Option<Component> {
    let mut fields = Fields { table, span, reporter, item };
    fields.check_keys_of(COMPONENT, &[]);
    for (name, what) in UNSUPPORTED_COMPONENT {
        if let Some((key, _)) = table.get_key_value(*name) {
            fields.reporter.error(key.span().start, Some(item), format!("`{name}`: {UNSUPPORTED} {what}"));
        }
    }
    let source = fields.source();
    let mounts = fields.files("files");
    let exclude = fields.string_array("exclude_files");
    let files = (!mounts.is_empty()).then(|| Files { root: Default::default(), mounts, exclude });
    // Spin takes `environment` values as written; templates are for `variables`.
    let environment = fields.environment("environment", None);
    let variables = fields.component_variables(declarations);
    let key_value_stores = fields.labels("key_value_stores");
    let sqlite_databases = fields.labels("sqlite_databases");
    let allowed_hosts = fields.spin_allowed_hosts("allowed_outbound_hosts");
    let (module, module_location) = source?;
    Some(Component {
        module,
        module_location,
        files,
        environment,
        variables,
        key_value_stores,
        sqlite_databases,
        allowed_hosts,
    })
}

fn parse_triggers(
    value: &Spanned<DeValue<'_>>,
    base: &str,
    components: &HashMap<String, Option<Component>>,
    declarations: &Declarations,
    reporter: &mut Reporter<'_>,
) -> Vec<ModuleEntry> {
    let mut modules = Vec::new();
    let Some(table) = value.get_ref().as_table() else {
        reporter.error(value.span().start, None, "`trigger` must be a table: write `[[trigger.http]]`");
        return modules;
    };
    for (key, value) in table {
        let kind = key.get_ref().as_ref();
        if kind != "http" {
            reporter.error(key.span().start, None, format!("{UNSUPPORTED} `{kind}` triggers; it serves HTTP"));
            continue;
        }
        let Some(triggers) = value.get_ref().as_array() else {
            reporter.error(
                key.span().start,
                None,
                "`trigger.http` must be an array of tables: write `[[trigger.http]]`",
            );
            continue;
        };
        for trigger in triggers.iter() {
            match trigger.get_ref().as_table() {
                Some(table) => {
                    modules.extend(parse_trigger(table, trigger.span(), base, components, declarations, reporter));
                }
                None => reporter.error(trigger.span().start, None, "each `trigger.http` must be a table"),
            }
        }
    }
    modules
}

/// One `[[trigger.http]]`: its route under the base, its component, and its executor.
fn parse_trigger(
    table: &DeTable<'_>,
    span: Range<usize>,
    base: &str,
    components: &HashMap<String, Option<Component>>,
    declarations: &Declarations,
    reporter: &mut Reporter<'_>,
) -> Option<ModuleEntry> {
    let item = table
        .get("route")
        .and_then(|v| v.get_ref().as_str())
        .map_or_else(|| "trigger".to_owned(), |route| format!("trigger `{route}`"));
    let mut fields = Fields { table, span: span.clone(), reporter, item: &item };
    fields.check_keys_of(TRIGGER, &[]);
    // A private route is reachable only from the application itself, which wagi does not route.
    if table.get("route").and_then(|route| route.get_ref().as_table()).is_some() {
        return None;
    }
    let route = fields.required("route", |text| {
        let route = RoutePattern::parse_spin(text).map_err(|e| e.to_string())?;
        let base = RoutePattern::parse(base).map_err(|e| e.to_string())?;
        Ok(base.join(&route))
    });
    let (entrypoint, argv) = fields.executor();
    let component = match table.get("component") {
        None => {
            fields.error(span.start, "missing field `component`");
            None
        }
        Some(value) => match value.get_ref() {
            DeValue::String(id) => match components.get(id.as_ref()) {
                Some(component) => component.clone(),
                None => {
                    fields.error(value.span().start, format!("no `[component.{id}]` in the manifest"));
                    None
                }
            },
            DeValue::Table(inline) => parse_component(inline, value.span(), &item, declarations, fields.reporter),
            _ => {
                fields.wrong_type("component", value, "a component id or a table");
                None
            }
        },
    };
    let (route, location) = route?;
    let component = component?;
    Some(ModuleEntry {
        location,
        route,
        module: component.module,
        module_location: component.module_location,
        entrypoint,
        volumes: Vec::new(),
        files: component.files,
        allowed_hosts: component.allowed_hosts,
        http_max_concurrency: None,
        argv,
        environment: component.environment,
        variables: component.variables,
        key_value_stores: component.key_value_stores,
        sqlite_databases: component.sqlite_databases,
        limits: ModuleLimits::default(),
        reuse: InstanceReuse::default(),
    })
}

impl<'t, 'i> Fields<'t, 'i, '_, '_> {
    /// `executor = { type = "http" }` (the default) or `{ type = "wagi", argv, entrypoint }`:
    /// the entrypoint and argv template. Which kind a module is, wagi reads from its bytes.
    fn executor(&mut self) -> (String, Option<String>) {
        let default = (DEFAULT_ENTRYPOINT.to_owned(), None);
        let Some(value) = self.value("executor") else { return default };
        let Some(table) = value.get_ref().as_table() else {
            self.wrong_type("executor", value, "a table such as `{ type = \"wagi\" }`");
            return default;
        };
        let (mut kind, mut entrypoint, mut argv) = (None, None, None);
        for (key, value) in table {
            match (key.get_ref().as_ref(), value.get_ref()) {
                ("type", DeValue::String(text)) => kind = Some((text.to_string(), value.span().start)),
                ("entrypoint", DeValue::String(text)) => entrypoint = Some(text.to_string()),
                ("argv", DeValue::String(text)) => argv = Some(text.to_string()),
                (name @ ("type" | "entrypoint" | "argv"), _) => {
                    self.error(value.span().start, format!("`executor.{name}` must be a string"));
                }
                (other, _) => {
                    self.error(key.span().start, unknown_field_message(other, &["type", "entrypoint", "argv"]))
                }
            }
        }
        match kind {
            Some((kind, _)) if kind == "wagi" => (entrypoint.unwrap_or_else(|| DEFAULT_ENTRYPOINT.to_owned()), argv),
            Some((kind, offset)) if kind == "http" => {
                if entrypoint.is_some() || argv.is_some() {
                    self.error(offset, "`entrypoint` and `argv` belong to `executor = { type = \"wagi\" }`");
                }
                default
            }
            Some((kind, offset)) => {
                self.error(offset, format!("{UNSUPPORTED} the `{kind}` executor; use `http` or `wagi`"));
                default
            }
            None => {
                self.error(value.span().start, "missing field `executor.type`");
                default
            }
        }
    }

    /// `source = "path.wasm"`, or `{ url, digest }` for a component fetched over HTTPS and checked
    /// against its sha256.
    fn source(&mut self) -> Option<(ModuleRef, Location)> {
        let Some(value) = self.value("source") else {
            self.error(self.span.start, "missing field `source`");
            return None;
        };
        match value.get_ref() {
            DeValue::String(text) => {
                let location = self.reporter.location(value.span().start);
                Some((ModuleRef::File(text.as_ref().into()), location))
            }
            DeValue::Table(table) => {
                let location = self.reporter.location(value.span().start);
                let text = |key: &str| table.get(key).and_then(|v| v.get_ref().as_str());
                for key in table.keys() {
                    let name = key.get_ref().as_ref();
                    if !["url", "digest"].contains(&name) {
                        self.error(key.span().start, unknown_field_message(name, &["url", "digest"]));
                    }
                }
                match (text("url"), text("digest")) {
                    (Some(url), Some(_)) if !url.starts_with("https://") => {
                        self.error(
                            value.span().start,
                            format!("`source.url` `{url}`: wagi fetches components over HTTPS only"),
                        );
                        None
                    }
                    (Some(url), Some(written)) => match Digest::parse(written) {
                        Some(digest) => Some((ModuleRef::Url { url: url.to_owned(), digest }, location)),
                        None => {
                            self.error(
                                value.span().start,
                                format!("`source.digest` `{written}` is not `sha256:` and 64 lower-case hex digits"),
                            );
                            None
                        }
                    },
                    _ => {
                        self.error(value.span().start, "`source` needs `url` and `digest` strings");
                        None
                    }
                }
            }
            _ => {
                self.wrong_type("source", value, "a path");
                None
            }
        }
    }

    /// `files = ["static/**/*", { source = "assets", destination = "/assets" }]`.
    fn files(&mut self, name: &str) -> Vec<FileMount> {
        let Some(value) = self.value(name) else { return Vec::new() };
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_type(name, value, "an array of paths, globs and `{ source, destination }` tables");
            return Vec::new();
        };
        let mut files = Vec::with_capacity(array.len());
        for element in array.iter() {
            let location = self.reporter.location(element.span().start);
            match element.get_ref() {
                DeValue::String(pattern) => {
                    if let Err(escape) = path_inside(Path::new(pattern.as_ref())) {
                        self.error(element.span().start, format!("`{pattern}` {escape}: {SOURCE_INSIDE}"));
                        continue;
                    }
                    files.push(FileMount::Pattern { pattern: pattern.to_string(), location });
                }
                DeValue::Table(table) => {
                    let text = |key: &str| table.get(key).map(|v| (v.get_ref().as_str().map(str::to_owned), v.span()));
                    for key in table.keys() {
                        let key_name = key.get_ref().as_ref();
                        if !["source", "destination"].contains(&key_name) {
                            self.error(key.span().start, unknown_field_message(key_name, &["source", "destination"]));
                        }
                    }
                    let (Some((Some(source), source_span)), Some((Some(destination), destination_span))) =
                        (text("source"), text("destination"))
                    else {
                        self.error(
                            element.span().start,
                            format!("each `{name}` table needs `source` and `destination` strings"),
                        );
                        continue;
                    };
                    if !destination.starts_with('/') {
                        self.error(destination_span.start, "`destination` must start with `/`");
                        continue;
                    }
                    let mut inside = true;
                    if let Err(escape) = path_inside(Path::new(&source)) {
                        self.error(source_span.start, format!("`source` `{source}` {escape}: {SOURCE_INSIDE}"));
                        inside = false;
                    }
                    // The leading `/` is the component's root, the staging directory.
                    if let Err(escape) = path_inside(Path::new(destination.trim_start_matches('/'))) {
                        let message = format!(
                            "`destination` `{destination}` {escape}: a destination must be inside the component's `/`"
                        );
                        self.error(destination_span.start, message);
                        inside = false;
                    }
                    if inside {
                        files.push(FileMount::Mapped { source: source.into(), destination, location });
                    }
                }
                _ => self.wrong_type(name, element, "a path, a glob or a `{ source, destination }` table"),
            }
        }
        files
    }

    /// `allowed_outbound_hosts`, in Spin's grammar: `scheme://host[:port]` where any part may be
    /// `*`, and `insecure:allow-all`. Schemes other than `http` and `https` are for Spin's own
    /// database interfaces, which wagi does not provide: they are ignored with a warning.
    fn spin_allowed_hosts(&mut self, name: &str) -> AllowedHosts {
        let Some(value) = self.value(name) else { return AllowedHosts::default() };
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_type(name, value, "an array of strings");
            return AllowedHosts::default();
        };
        let mut entries = Vec::with_capacity(array.len());
        for element in array.iter() {
            let Some(entry) = self.str_of(name, element) else { continue };
            if entry.contains("{{") {
                self.error(
                    element.span().start,
                    format!("`{entry}`: {UNSUPPORTED} variables in `allowed_outbound_hosts`; write the host"),
                );
                continue;
            }
            let scheme = entry.split_once("://").map(|(scheme, _)| scheme);
            if let Some(other) = scheme.filter(|scheme| !["http", "https", "*"].contains(scheme)) {
                let message = format!("`{entry}` is ignored: wagi makes only HTTP requests, not `{other}`");
                self.reporter.warning(element.span().start, Some(self.item), message);
                continue;
            }
            match AllowedHosts::parse_spin(&[entry]) {
                Ok(_) => entries.push(entry),
                Err(error) => self.error(element.span().start, format!("`{name}` entry `{entry}`: {}", error.reason)),
            }
        }
        AllowedHosts::parse_spin(&entries).unwrap_or_default()
    }
}
