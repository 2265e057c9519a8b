//! Opening the key-value stores and SQLite databases that a configuration's entries declare:
//! each label the runtime configuration file defines (a store in a SQLite file or a Redis
//! server, a database in a SQLite file), and `default`, a SQLite file in the state directory
//! unless that file defines it too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use wagi_config::{Config, Diagnostic, Diagnostics, Label, ModuleEntry, RuntimeConfig, Severity, StoreBackend};
use wagi_runtime::{Database, Databases, KeyValueStore, RedisStore, SqliteStore, StoreLimits, Stores};

use crate::failure::{ConfigError, usage};

/// The label every application has, whether or not it is configured.
const DEFAULT_LABEL: &str = "default";

/// The file of the `default` store in the state directory; Spin's name, so its file moves over.
const DEFAULT_FILE: &str = "sqlite_key_value.db";

/// The file of the `default` database in the state directory; Spin's name too.
const DEFAULT_DATABASE_FILE: &str = "sqlite_db.db";

/// Where stores are defined and where their files go.
#[derive(Debug, Default)]
pub(crate) struct StoreSettings {
    /// The runtime configuration file's definitions, and its path (relative `path`s resolve
    /// against its directory).
    pub(crate) runtime: Option<(PathBuf, RuntimeConfig)>,
    /// Where the `default` store's file is kept.
    pub(crate) state_dir: PathBuf,
}

impl StoreSettings {
    /// Opens every store an entry of `config` declares; a label nothing defines is an error at
    /// the entry's line.
    pub(crate) async fn open(&self, config: &Config) -> Result<Stores> {
        let mut stores = Stores::default();
        let mut undefined = Vec::new();
        for entry in &config.modules {
            for Label { name, location } in &entry.key_value_stores {
                if stores.0.contains_key(name) {
                    continue;
                }
                let defined = self.runtime.as_ref().and_then(|(_, runtime)| runtime.key_value_stores.get(name));
                let backend = match defined {
                    Some(definition) => definition.backend.clone(),
                    None if name == DEFAULT_LABEL => StoreBackend::Sqlite { path: None },
                    None => {
                        undefined.push(undefined_label(
                            config,
                            entry,
                            *location,
                            "key-value store",
                            "key_value_store",
                            name,
                        ));
                        continue;
                    }
                };
                stores.0.insert(name.clone(), self.store(name, &backend).await?);
            }
        }
        if undefined.is_empty() { Ok(stores) } else { Err(ConfigError(Diagnostics(undefined)).into()) }
    }

    /// Opens every database an entry of `config` declares; a label nothing defines is an error at
    /// the entry's line.
    pub(crate) fn open_databases(&self, config: &Config) -> Result<Databases> {
        let mut databases = Databases::default();
        let mut undefined = Vec::new();
        for entry in &config.modules {
            for Label { name, location } in &entry.sqlite_databases {
                if databases.0.contains_key(name) {
                    continue;
                }
                let defined = self.runtime.as_ref().and_then(|(_, runtime)| runtime.sqlite_databases.get(name));
                let path = match defined {
                    Some(definition) => definition.path.as_deref().map(|path| self.relative_to_runtime_config(path)),
                    None if name == DEFAULT_LABEL => None,
                    None => {
                        undefined.push(undefined_label(
                            config,
                            entry,
                            *location,
                            "SQLite database",
                            "sqlite_database",
                            name,
                        ));
                        continue;
                    }
                };
                let path = path.unwrap_or_else(|| self.state_dir.join(DEFAULT_DATABASE_FILE));
                let database =
                    Database::create(&path).map_err(|error| usage(&format!("SQLite database `{name}`: {error}")))?;
                databases.0.insert(name.clone(), Arc::new(database));
            }
        }
        if undefined.is_empty() { Ok(databases) } else { Err(ConfigError(Diagnostics(undefined)).into()) }
    }

    async fn store(&self, label: &str, backend: &StoreBackend) -> Result<Arc<dyn KeyValueStore>> {
        match backend {
            StoreBackend::Sqlite { path } => {
                let path = match path {
                    Some(path) => self.relative_to_runtime_config(path),
                    None => self.state_dir.join(DEFAULT_FILE),
                };
                let store = SqliteStore::open(&path, label, StoreLimits::default())
                    .map_err(|error| usage(&format!("key-value store `{label}`: {error}")))?;
                Ok(Arc::new(store))
            }
            StoreBackend::Redis { url } => {
                let store = RedisStore::connect(url, label, StoreLimits::default())
                    .await
                    .map_err(|error| usage(&format!("key-value store `{label}` at {}: {error}", redacted(url))))?;
                Ok(Arc::new(store))
            }
        }
    }

    /// `path`, anchored at the runtime configuration file's directory when relative.
    fn relative_to_runtime_config(&self, path: &Path) -> PathBuf {
        let dir = self.runtime.as_ref().and_then(|(file, _)| file.parent()).unwrap_or(Path::new("."));
        dir.join(path)
    }
}

/// `url` without its password, if it has one (`redis://user:secret@host` names the user only).
fn redacted(url: &str) -> String {
    match url.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?))) {
        Some((scheme, (credentials, host))) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_owned(),
    }
}

/// The error for `name`, a label of `entry` at `location` that nothing defines.
fn undefined_label(
    config: &Config,
    entry: &ModuleEntry,
    location: wagi_config::Location,
    what: &str,
    table: &str,
    name: &str,
) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        source: config.source.clone(),
        location,
        item: Some(format!("module `{}`", entry.route)),
        message: format!(
            "no {what} `{name}`: define `[{table}.{name}]` in a runtime configuration file (--runtime-config-file)"
        ),
    }
}
