//! Bindle invoices: the handlers and static files a WAGI bindle declares, mapped to module entries
//! the way the original WAGI did.
//!
//! A handler is a parcel with media type `application/wasm`, in the global group (no
//! `conditions.memberOf`) and with `[parcel.label.feature.wagi] route`. Its `entrypoint`, `argv`
//! and comma-separated `allowed_hosts` come from the same table. Its static files are the parcels
//! marked `feature.wagi.file = "true"` in the groups its `conditions.requires` names, followed
//! transitively through the `requires` of those groups' members; a handler with any gets the
//! bindle's asset directory mounted read-only at `/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::allowed_hosts::AllowedHosts;
use crate::diagnostic::{Diagnostic, Diagnostics, Location, Severity};
use crate::digest::Digest;
use crate::model::{Config, DEFAULT_ENTRYPOINT, InstanceReuse, ModuleEntry, ModuleLimits, Volume};
use crate::module_ref::{ModuleRef, Parcel};
use crate::route::RoutePattern;
use crate::variables::Declarations;

/// The media type of a parcel that holds a wasm module.
pub const WASM_MEDIA_TYPE: &str = "application/wasm";

/// A parsed bindle invoice.
#[derive(Clone, Debug)]
pub struct Invoice {
    /// `name/version`.
    pub id: String,
    /// Where the invoice was read from, for messages.
    pub source: String,
    parcels: Vec<ParcelEntry>,
}

#[derive(Clone, Debug)]
struct ParcelEntry {
    label: Label,
    /// `label.sha256`, checked.
    sha256: Digest,
    conditions: Conditions,
    location: Location,
}

#[derive(Debug, Deserialize)]
struct InvoiceToml {
    bindle: BindleSpec,
    #[serde(default)]
    parcel: Vec<toml::Spanned<ParcelToml>>,
}

#[derive(Debug, Deserialize)]
struct BindleSpec {
    name: String,
    version: String,
}

#[derive(Debug, Deserialize)]
struct ParcelToml {
    label: Label,
    #[serde(default)]
    conditions: Conditions,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Label {
    name: String,
    media_type: String,
    sha256: String,
    #[serde(default)]
    feature: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Conditions {
    #[serde(default)]
    member_of: Vec<String>,
    #[serde(default)]
    requires: Vec<String>,
}

impl ParcelEntry {
    fn wagi(&self, key: &str) -> Option<&str> {
        self.label.feature.get("wagi").and_then(|wagi| wagi.get(key)).map(String::as_str)
    }

    fn is_global(&self) -> bool {
        self.conditions.member_of.is_empty()
    }

    fn is_module(&self) -> bool {
        self.label.media_type == WASM_MEDIA_TYPE && self.is_global()
    }

    fn parcel(&self, bindle: &str) -> Parcel {
        Parcel { bindle: bindle.to_owned(), name: self.label.name.clone(), sha256: self.sha256 }
    }
}

impl Invoice {
    /// Parses the TOML text of an invoice read from `source`.
    pub fn parse(text: &str, source: &str) -> Result<Self, Diagnostics> {
        let error = |location, message: String| {
            Diagnostics(vec![Diagnostic {
                severity: Severity::Error,
                source: source.to_owned(),
                location,
                item: None,
                message,
            }])
        };
        let invoice: InvoiceToml = toml::from_str(text).map_err(|e| {
            let location = e.span().map_or(Location { line: 1, col: 1 }, |span| Location::of_offset(text, span.start));
            error(location, format!("not a bindle invoice: {}", e.message()))
        })?;
        let parcels = invoice
            .parcel
            .into_iter()
            .map(|spanned| {
                let location = Location::of_offset(text, spanned.span().start);
                let parcel = spanned.into_inner();
                let Some(sha256) = Digest::from_hex(&parcel.label.sha256) else {
                    let message = format!("parcel `{}`: `sha256` must be 64 lower-case hex digits", parcel.label.name);
                    return Err(error(location, message));
                };
                Ok(ParcelEntry { label: parcel.label, sha256, conditions: parcel.conditions, location })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            id: format!("{}/{}", invoice.bindle.name, invoice.bindle.version),
            source: source.to_owned(),
            parcels,
        })
    }

    /// The module a `bindle:` reference in modules.toml names: the first global wasm parcel.
    pub fn first_module(&self) -> Option<Parcel> {
        self.parcels.iter().find(|p| p.is_module()).map(|p| p.parcel(&self.id))
    }

    /// The module entries of the bindle's handlers, in invoice order, and the static files to
    /// place in `assets_dir` (each parcel once), or every problem found.
    pub fn to_config(&self, assets_dir: &Path) -> Result<(Config, Vec<Parcel>), Diagnostics> {
        let mut errors = Vec::new();
        let mut modules = Vec::new();
        let mut assets = BTreeMap::new();
        for parcel in self.parcels.iter().filter(|p| p.is_module()) {
            let Some(route) = parcel.wagi("route") else { continue };
            let item = Some(format!("parcel `{}`", parcel.label.name));
            let mut report = |message: String| {
                errors.push(Diagnostic {
                    severity: Severity::Error,
                    source: self.source.clone(),
                    location: parcel.location,
                    item: item.clone(),
                    message,
                });
            };
            let route = RoutePattern::parse(route).map_err(|e| report(format!("`route`: {e}")));
            let allowed_hosts = parcel
                .wagi("allowed_hosts")
                .map_or(Ok(AllowedHosts::default()), AllowedHosts::parse_list)
                .map_err(|e| report(format!("`allowed_hosts`: {e}")));
            let (Ok(route), Ok(allowed_hosts)) = (route, allowed_hosts) else { continue };
            let files = self.files_for(parcel);
            let volumes = if files.is_empty() {
                Vec::new()
            } else {
                vec![Volume {
                    guest_path: "/".to_owned(),
                    host_path: assets_dir.to_owned(),
                    read_only: true,
                    location: parcel.location,
                }]
            };
            for file in files {
                assets.insert(file.sha256.to_hex() + &file.name, file);
            }
            modules.push(ModuleEntry {
                location: parcel.location,
                route,
                module: ModuleRef::Parcel(parcel.parcel(&self.id)),
                module_location: parcel.location,
                entrypoint: parcel.wagi("entrypoint").unwrap_or(DEFAULT_ENTRYPOINT).to_owned(),
                volumes,
                allowed_hosts,
                http_max_concurrency: None,
                argv: parcel.wagi("argv").map(str::to_owned),
                environment: Vec::new(),
                variables: Vec::new(),
                key_value_stores: Vec::new(),
                sqlite_databases: Vec::new(),
                limits: ModuleLimits::default(),
                reuse: InstanceReuse::default(),
                files: None,
            });
        }
        if !errors.is_empty() {
            return Err(Diagnostics(errors));
        }
        let config = Config { source: self.source.clone(), modules, variables: Declarations::default() };
        Ok((config, assets.into_values().collect()))
    }

    /// The static files of a handler: `file = "true"` members of the groups it requires,
    /// following the `requires` of those groups' members.
    fn files_for(&self, handler: &ParcelEntry) -> Vec<Parcel> {
        let mut groups: BTreeSet<&str> = BTreeSet::new();
        let mut pending: Vec<&str> = handler.conditions.requires.iter().map(String::as_str).collect();
        while let Some(group) = pending.pop() {
            if !groups.insert(group) {
                continue;
            }
            for member in self.parcels.iter().filter(|p| p.conditions.member_of.iter().any(|g| g == group)) {
                pending.extend(member.conditions.requires.iter().map(String::as_str));
            }
        }
        self.parcels
            .iter()
            .filter(|p| p.wagi("file") == Some("true"))
            .filter(|p| p.conditions.member_of.iter().any(|g| groups.contains(g.as_str())))
            .map(|p| p.parcel(&self.id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const SHA_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const SHA_C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
    const SHA_D: &str = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";

    fn invoice() -> String {
        format!(
            r#"bindleVersion = "1.0.0"
[bindle]
name = "example.com/app"
version = "1.0.0"

[[group]]
name = "files"
[[group]]
name = "more"

[[parcel]]
[parcel.label]
name = "first.wasm"
mediaType = "application/wasm"
sha256 = "{SHA_A}"
[parcel.label.feature.wagi]
route = "/first"
entrypoint = "run"
allowed_hosts = "https://api.example.com,http://localhost:8080"
argv = "${{SCRIPT_NAME}} x"
[parcel.conditions]
requires = ["files"]

[[parcel]]
[parcel.label]
name = "second.wasm"
mediaType = "application/wasm"
sha256 = "{SHA_B}"
[parcel.label.feature.wagi]
route = "/second/..."

[[parcel]]
[parcel.label]
name = "no-route.wasm"
mediaType = "application/wasm"
sha256 = "{SHA_B}"

[[parcel]]
[parcel.label]
name = "static/a.txt"
mediaType = "text/plain"
sha256 = "{SHA_C}"
[parcel.label.feature.wagi]
file = "true"
[parcel.conditions]
memberOf = ["files"]
requires = ["more"]

[[parcel]]
[parcel.label]
name = "library.wasm"
mediaType = "application/wasm"
sha256 = "{SHA_A}"
[parcel.label.feature.wagi]
route = "/not-a-handler"
[parcel.conditions]
memberOf = ["more"]

[[parcel]]
[parcel.label]
name = "deep/b.txt"
mediaType = "text/plain"
sha256 = "{SHA_D}"
[parcel.label.feature.wagi]
file = "true"
[parcel.conditions]
memberOf = ["more"]
"#
        )
    }

    #[test]
    fn handlers_are_routed_global_wasm_parcels_with_their_required_files() {
        let invoice = Invoice::parse(&invoice(), "invoice.toml").expect("valid invoice");
        assert_eq!(invoice.id, "example.com/app/1.0.0");
        let (config, assets) = invoice.to_config(Path::new("/assets")).expect("valid handlers");
        let routes: Vec<String> = config.modules.iter().map(|m| m.route.to_string()).collect();
        assert_eq!(routes, ["/first", "/second/..."]);
        let first = &config.modules[0];
        assert_eq!(first.entrypoint, "run");
        assert_eq!(first.argv.as_deref(), Some("${SCRIPT_NAME} x"));
        assert!(first.allowed_hosts.allows("https", "api.example.com", 443));
        assert!(first.allowed_hosts.allows("http", "localhost", 8080));
        assert_eq!(first.volumes.len(), 1);
        assert_eq!((first.volumes[0].guest_path.as_str(), first.volumes[0].read_only), ("/", true));
        assert_eq!(
            first.module,
            ModuleRef::Parcel(Parcel {
                bindle: "example.com/app/1.0.0".into(),
                name: "first.wasm".into(),
                sha256: Digest::from_hex(SHA_A).expect("a digest")
            })
        );
        let second = &config.modules[1];
        assert_eq!(second.entrypoint, DEFAULT_ENTRYPOINT);
        assert!(second.volumes.is_empty() && second.allowed_hosts.is_empty());
        let names: Vec<&str> = assets.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["static/a.txt", "deep/b.txt"]);
        assert_eq!(invoice.first_module().map(|p| p.name), Some("first.wasm".to_owned()));
    }

    #[test]
    fn bad_invoices_name_the_parcel_and_line() {
        let text = invoice().replace("route = \"/second/...\"", "route = \"second\"");
        let error = Invoice::parse(&text, "invoice.toml").expect("parses").to_config(Path::new("/a")).expect_err("bad");
        assert_eq!(
            error.to_string(),
            "invoice.toml:24:1: parcel `second.wasm`: `route`: route `second` must start with `/`"
        );
        let text = invoice().replace(SHA_D, "xyz");
        let error = Invoice::parse(&text, "invoice.toml").expect_err("bad sha");
        assert!(
            error.to_string().contains("parcel `deep/b.txt`: `sha256` must be 64 lower-case hex digits"),
            "{error}"
        );
        let error = Invoice::parse("[bindle]\nname = 1\n", "x.toml").expect_err("not an invoice");
        assert!(error.to_string().starts_with("x.toml:2:8: not a bindle invoice"), "{error}");
    }
}
