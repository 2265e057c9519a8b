//! Key-value stores kept in a SQLite file, in the table Spin uses (`spin_key_value`, one row a
//! key, the label in the `store` column), so a `.spin/sqlite_key_value.db` moves over as it is.
//! Several labels may share one file. The file is opened in WAL mode, as databases are
//! (`database.rs`), and every operation runs on tokio's blocking threads, never on a serving
//! thread.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::{KeyValueStore, StoreError, StoreLimits};

/// One label's data in a SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    label: String,
    limits: StoreLimits,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug)]
struct Inner {
    connection: Connection,
    /// How many keys the label holds, counted when opened and kept since.
    keys: u64,
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) the file at `path`, for `label`.
    ///
    /// # Errors
    /// When the file cannot be opened or its table created.
    pub fn open(path: &Path, label: &str, limits: StoreLimits) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(format!("{}: {e}", dir.display())))?;
        }
        let failed = |e: rusqlite::Error| StoreError::Backend(format!("{}: {e}", path.display()));
        let connection = Connection::open(path).map_err(failed)?;
        crate::database::configure(&connection).map_err(failed)?;
        connection.pragma_update(None, "journal_mode", "WAL").map_err(failed)?;
        connection
            .execute(
                "CREATE TABLE IF NOT EXISTS spin_key_value (
                   store TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (store, key))",
                [],
            )
            .map_err(failed)?;
        let keys: u64 = connection
            .query_row("SELECT COUNT(*) FROM spin_key_value WHERE store = ?1", [label], |row| row.get(0))
            .map_err(failed)?;
        Ok(Self { label: label.to_owned(), limits, inner: Arc::new(Mutex::new(Inner { connection, keys })) })
    }

    /// Runs `operation` on the connection, on a blocking thread.
    async fn run<R: Send + 'static>(
        &self,
        operation: impl FnOnce(&mut Inner, &str) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (inner, label) = (Arc::clone(&self.inner), self.label.clone());
        tokio::task::spawn_blocking(move || {
            let mut inner = inner.lock().unwrap_or_else(PoisonError::into_inner);
            operation(&mut inner, &label)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

#[async_trait::async_trait]
impl KeyValueStore for SqliteStore {
    async fn get(&self, key: String) -> Result<Option<Vec<u8>>, StoreError> {
        self.limits.check(&key, None)?;
        self.run(move |inner, label| {
            inner
                .connection
                .query_row(
                    "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    params![label, key],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)
        })
        .await
    }

    async fn set(&self, key: String, value: Vec<u8>) -> Result<(), StoreError> {
        self.limits.check(&key, Some(&value))?;
        let max_keys = self.limits.max_keys;
        self.run(move |inner, label| {
            let updated = inner
                .connection
                .execute(
                    "UPDATE spin_key_value SET value = ?3 WHERE store = ?1 AND key = ?2",
                    params![label, key, value],
                )
                .map_err(backend)?;
            if updated > 0 {
                return Ok(());
            }
            if inner.keys >= max_keys {
                return Err(StoreError::Full(inner.keys));
            }
            inner
                .connection
                .execute(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                    params![label, key, value],
                )
                .map_err(backend)?;
            inner.keys += 1;
            Ok(())
        })
        .await
    }

    async fn delete(&self, key: String) -> Result<(), StoreError> {
        self.limits.check(&key, None)?;
        self.run(move |inner, label| {
            let deleted = inner
                .connection
                .execute("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2", params![label, key])
                .map_err(backend)?;
            inner.keys = inner.keys.saturating_sub(deleted as u64);
            Ok(())
        })
        .await
    }

    async fn exists(&self, key: String) -> Result<bool, StoreError> {
        Ok(self.get(key).await?.is_some())
    }

    async fn swap(&self, key: String, expected: Option<Vec<u8>>, value: Vec<u8>) -> Result<bool, StoreError> {
        self.limits.check(&key, Some(&value))?;
        let max_keys = self.limits.max_keys;
        self.run(move |inner, label| {
            // Immediate: other connections to the file wait until this one has compared and set.
            let transaction = inner
                .connection
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let current: Option<Vec<u8>> = transaction
                .query_row(
                    "SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2",
                    params![label, key],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            if current != expected {
                return Ok(false);
            }
            let new = current.is_none();
            if new && inner.keys >= max_keys {
                return Err(StoreError::Full(inner.keys));
            }
            transaction
                .execute(
                    "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
                    params![label, key, value],
                )
                .map_err(backend)?;
            transaction.commit().map_err(backend)?;
            if new {
                inner.keys += 1;
            }
            Ok(true)
        })
        .await
    }

    async fn keys(&self) -> Result<Vec<String>, StoreError> {
        self.run(|inner, label| {
            let mut statement =
                inner.connection.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1").map_err(backend)?;
            let keys = statement.query_map([label], |row| row.get(0)).map_err(backend)?;
            keys.collect::<Result<Vec<String>, _>>().map_err(backend)
        })
        .await
    }
}
