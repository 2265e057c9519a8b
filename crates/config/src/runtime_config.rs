//! The runtime configuration file (`--runtime-config-file`), in Spin's format: where each
//! key-value store's and SQLite database's data lives, by label.
//!
//! ```toml
//! [key_value_store.default]
//! type = "spin"            # a SQLite file
//! path = "data/kv.db"      # relative to this file; absent: the state directory's
//!
//! [key_value_store.shared]
//! type = "redis"
//! url = "redis://127.0.0.1:6379"
//!
//! [sqlite_database.default]
//! type = "spin"
//! path = "data/app.db"     # relative to this file; absent: the state directory's
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostics, Location, Reporter};
use crate::fields::unknown_field_message;
use crate::labels::is_label;

const TOP_LEVEL: &[&str] = &["key_value_store", "sqlite_database"];

/// A parsed runtime configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// `[key_value_store.LABEL]` tables.
    pub key_value_stores: BTreeMap<String, StoreDefinition>,
    /// `[sqlite_database.LABEL]` tables: each database's file, if given.
    pub sqlite_databases: BTreeMap<String, DatabaseDefinition>,
}

/// Where one SQLite database's file is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseDefinition {
    /// `path`, as written; absent, the state directory's.
    pub path: Option<PathBuf>,
    /// Where the table is.
    pub location: Location,
}

/// Where one store's data lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreDefinition {
    /// The backend.
    pub backend: StoreBackend,
    /// Where the table is.
    pub location: Location,
}

/// A store's backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreBackend {
    /// `type = "spin"`: a SQLite file, at `path` (as written) or in the state directory.
    Sqlite {
        /// `path`.
        path: Option<PathBuf>,
    },
    /// `type = "redis"`: a Redis server.
    Redis {
        /// `url`.
        url: String,
    },
}

impl RuntimeConfig {
    /// Parses `text`, naming it `source` in diagnostics; reports every problem at once.
    ///
    /// # Errors
    /// Every problem, at its line.
    pub fn parse(text: &str, source: &str) -> Result<Self, Diagnostics> {
        let mut reporter = Reporter::new(source, text);
        let root = match DeTable::parse(text) {
            Ok(root) => root,
            Err(error) => {
                reporter.error(error.span().map_or(0, |span| span.start), None, error.message().trim_end().to_owned());
                return Err(Diagnostics(reporter.finish().0));
            }
        };
        let mut config = Self::default();
        for (key, value) in root.get_ref() {
            match key.get_ref().as_ref() {
                "key_value_store" => config.key_value_stores = stores(value, &mut reporter),
                "sqlite_database" => config.sqlite_databases = databases(value, &mut reporter),
                other => reporter.error(key.span().start, None, unknown_field_message(other, TOP_LEVEL)),
            }
        }
        let (errors, _) = reporter.finish();
        if errors.is_empty() { Ok(config) } else { Err(Diagnostics(errors)) }
    }
}

fn stores(value: &toml::Spanned<DeValue<'_>>, reporter: &mut Reporter<'_>) -> BTreeMap<String, StoreDefinition> {
    let mut stores = BTreeMap::new();
    let Some(table) = value.get_ref().as_table() else {
        reporter.error(value.span().start, None, "`key_value_store` must be a table: write `[key_value_store.LABEL]`");
        return stores;
    };
    for (key, value) in table {
        let label = key.get_ref().as_ref();
        let item = format!("key_value_store.{label}");
        if !is_label(label) {
            reporter.error(key.span().start, Some(&item), "a label is written in kebab-case or snake_case");
            continue;
        }
        let Some(fields) = value.get_ref().as_table() else {
            reporter.error(value.span().start, Some(&item), "must be a table with a `type`");
            continue;
        };
        let text = |name: &str| fields.get(name).and_then(|v| v.get_ref().as_str()).map(str::to_owned);
        let backend = match text("type").as_deref() {
            Some("spin") => {
                Some((StoreBackend::Sqlite { path: text("path").map(PathBuf::from) }, &["type", "path"][..]))
            }
            Some("redis") => match text("url") {
                Some(url) => Some((StoreBackend::Redis { url }, &["type", "url"][..])),
                None => {
                    reporter.error(value.span().start, Some(&item), "a `redis` store needs a `url` string");
                    None
                }
            },
            Some(other) => {
                let message = format!("wagi does not support `{other}` stores; use `spin` (SQLite) or `redis`");
                reporter.error(value.span().start, Some(&item), message);
                None
            }
            None => {
                reporter.error(value.span().start, Some(&item), "missing field `type` (`spin` or `redis`)");
                None
            }
        };
        let Some((backend, known)) = backend else { continue };
        for field in fields.keys() {
            let name = field.get_ref().as_ref();
            if !known.contains(&name) {
                reporter.error(field.span().start, Some(&item), unknown_field_message(name, known));
            } else if fields.get(name).is_some_and(|v| v.get_ref().as_str().is_none()) {
                reporter.error(field.span().start, Some(&item), format!("`{name}` must be a string"));
            }
        }
        let location = reporter.location(key.span().start);
        stores.insert(label.to_owned(), StoreDefinition { backend, location });
    }
    stores
}

fn databases(value: &toml::Spanned<DeValue<'_>>, reporter: &mut Reporter<'_>) -> BTreeMap<String, DatabaseDefinition> {
    let mut databases = BTreeMap::new();
    let Some(table) = value.get_ref().as_table() else {
        reporter.error(value.span().start, None, "`sqlite_database` must be a table: write `[sqlite_database.LABEL]`");
        return databases;
    };
    for (key, value) in table {
        let label = key.get_ref().as_ref();
        let item = format!("sqlite_database.{label}");
        if !is_label(label) {
            reporter.error(key.span().start, Some(&item), "a label is written in kebab-case or snake_case");
            continue;
        }
        let Some(fields) = value.get_ref().as_table() else {
            reporter.error(value.span().start, Some(&item), "must be a table with a `type`");
            continue;
        };
        let mut path = None;
        let mut typed = false;
        for (field, field_value) in fields {
            match (field.get_ref().as_ref(), field_value.get_ref()) {
                ("type", DeValue::String(kind)) if kind == "spin" => typed = true,
                ("type", DeValue::String(kind)) => {
                    let message = format!("wagi does not support `{kind}` databases; use `spin` (a SQLite file)");
                    reporter.error(field_value.span().start, Some(&item), message);
                    typed = true;
                }
                ("path", DeValue::String(text)) => path = Some(PathBuf::from(text.as_ref())),
                (name @ ("type" | "path"), _) => {
                    reporter.error(field_value.span().start, Some(&item), format!("`{name}` must be a string"));
                }
                (other, _) => {
                    reporter.error(field.span().start, Some(&item), unknown_field_message(other, &["type", "path"]))
                }
            }
        }
        if !typed {
            reporter.error(value.span().start, Some(&item), "missing field `type` (`spin`)");
        }
        let location = reporter.location(key.span().start);
        databases.insert(label.to_owned(), DatabaseDefinition { path, location });
    }
    databases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_sqlite_files_or_redis_servers() {
        let text = "[key_value_store.default]\ntype = \"spin\"\npath = \"kv.db\"\n\n\
                    [key_value_store.shared]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n";
        let config = RuntimeConfig::parse(text, "rc.toml").expect("valid");
        assert_eq!(config.key_value_stores["default"].backend, StoreBackend::Sqlite { path: Some("kv.db".into()) });
        assert_eq!(
            config.key_value_stores["shared"].backend,
            StoreBackend::Redis { url: "redis://127.0.0.1:6379".into() }
        );
    }

    #[test]
    fn every_problem_is_reported_at_its_line() {
        let text = "[key_value_store.a]\ntype = \"azure_cosmos\"\n\n[key_value_store.b]\ntype = \"redis\"\n\n\
                    [key_value_store.c]\ntype = \"spin\"\npth = \"x\"\n\n[sqlite_databse.d]\n";
        let errors = RuntimeConfig::parse(text, "rc.toml").expect_err("invalid").0;
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(lines[0].contains("rc.toml:1:") && lines[0].contains("`azure_cosmos`"), "{}", lines[0]);
        assert!(lines[1].contains("needs a `url`"), "{}", lines[1]);
        assert!(lines[2].contains("rc.toml:9:1") && lines[2].contains("`pth`"), "{}", lines[2]);
        assert!(lines[3].contains("rc.toml:11:"), "{}", lines[3]);
    }
}
