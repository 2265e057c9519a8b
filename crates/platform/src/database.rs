//! SQLite databases: a [`Database`] is one label's file, and each `open` a component makes is an
//! [`OpenConnection`] of its own (as in Spin, so `last-insert-rowid` and `changes` are the
//! connection's). Statements take bound parameters and run on tokio's blocking threads; a
//! statement still running when its caller goes away (the request's deadline passed) is
//! interrupted, so it stops holding its thread and the file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::types::Value;

/// How many times, a millisecond apart, a statement asks again for a lock another connection
/// holds before it fails: about 5 s. SQLite's own busy timeout sleeps up to 100 ms between
/// tries, which leaves many writers to one file waiting long after the lock is free.
const BUSY_TRIES: i32 = 5000;

/// Waits a millisecond for a lock, `BUSY_TRIES` times at most.
fn wait_for_lock(tries: i32) -> bool {
    if tries >= BUSY_TRIES {
        return false;
    }
    std::thread::sleep(Duration::from_millis(1));
    true
}

/// Sets what every connection wagi opens to a file runs with: the short busy wait above, and
/// `synchronous = NORMAL`, which in WAL mode keeps the file consistent through any crash and
/// leaves only the last commits to a power cut, without a flush to disk on every commit.
pub(crate) fn configure(connection: &rusqlite::Connection) -> rusqlite::Result<()> {
    connection.busy_handler(Some(wait_for_lock))?;
    connection.pragma_update(None, "synchronous", "NORMAL")
}

/// The most bytes of rows one statement may return.
pub(crate) const MAX_RESULT_BYTES: usize = 64 << 20;

/// One label's database file.
#[derive(Debug)]
pub struct Database {
    path: PathBuf,
}

/// What a statement returned: the column names and the rows.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Rows {
    /// The column names.
    pub(crate) columns: Vec<String>,
    /// The rows, each a value a column.
    pub(crate) rows: Vec<Vec<Value>>,
}

/// Why a database call failed; a component gets it as Spin's `io(message)`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DatabaseError(pub String);

impl From<rusqlite::Error> for DatabaseError {
    fn from(error: rusqlite::Error) -> Self {
        Self(error.to_string())
    }
}

impl Database {
    /// The database in the file at `path`, created with its directory if needed and switched to
    /// WAL mode, so that readers do not wait for a writer.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn create(path: &Path) -> Result<Self, DatabaseError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| DatabaseError(format!("{}: {e}", dir.display())))?;
        }
        let connection =
            rusqlite::Connection::open(path).map_err(|e| DatabaseError(format!("{}: {e}", path.display())))?;
        configure(&connection)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        Ok(Self { path: path.to_owned() })
    }

    /// A new connection to the file.
    pub(crate) async fn connect(&self) -> Result<OpenConnection, DatabaseError> {
        let path = self.path.clone();
        let connection = tokio::task::spawn_blocking(move || {
            let connection = rusqlite::Connection::open(&path)?;
            configure(&connection)?;
            Ok::<_, DatabaseError>(connection)
        })
        .await
        .map_err(|e| DatabaseError(e.to_string()))??;
        Ok(OpenConnection(Arc::new(Shared {
            interrupt: Arc::new(connection.get_interrupt_handle()),
            connection: Arc::new(Mutex::new(connection)),
            last_insert_rowid: AtomicI64::new(0),
            changes: AtomicU64::new(0),
        })))
    }
}

/// A connection a component has opened: what its resource handle stands for. Clones share
/// the connection, so a statement can run while the store it came from is free.
#[derive(Clone, Debug)]
pub struct OpenConnection(Arc<Shared>);

struct Shared {
    connection: Arc<Mutex<rusqlite::Connection>>,
    interrupt: Arc<rusqlite::InterruptHandle>,
    /// After the last statement, for `last-insert-rowid` and `changes` without the lock.
    last_insert_rowid: AtomicI64,
    changes: AtomicU64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("last_insert_rowid", &self.last_insert_rowid).finish_non_exhaustive()
    }
}

/// Interrupts the statement running on a blocking thread when its caller is dropped first.
struct InterruptOnDrop {
    handle: Arc<rusqlite::InterruptHandle>,
    done: bool,
}

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        if !self.done {
            self.handle.interrupt();
        }
    }
}

impl std::fmt::Debug for InterruptOnDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterruptOnDrop").field("done", &self.done).finish_non_exhaustive()
    }
}

impl OpenConnection {
    /// Runs `statement` with `parameters` bound to its `?`s in order.
    pub(crate) async fn execute(&self, statement: String, parameters: Vec<Value>) -> Result<Rows, DatabaseError> {
        let connection = Arc::clone(&self.0.connection);
        let mut guard = InterruptOnDrop { handle: Arc::clone(&self.0.interrupt), done: false };
        let ran = tokio::task::spawn_blocking(move || {
            let connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            let rows = run(&connection, &statement, parameters);
            (rows, connection.last_insert_rowid(), connection.changes())
        })
        .await;
        guard.done = true;
        let (rows, last_insert_rowid, changes) = ran.map_err(|e| DatabaseError(e.to_string()))?;
        self.0.last_insert_rowid.store(last_insert_rowid, Ordering::Relaxed);
        self.0.changes.store(changes, Ordering::Relaxed);
        rows
    }

    /// The rowid of the last row this connection inserted, 0 before any.
    pub(crate) fn last_insert_rowid(&self) -> i64 {
        self.0.last_insert_rowid.load(Ordering::Relaxed)
    }

    /// The rows the last statement changed.
    pub(crate) fn changes(&self) -> u64 {
        self.0.changes.load(Ordering::Relaxed)
    }
}

fn run(connection: &rusqlite::Connection, statement: &str, parameters: Vec<Value>) -> Result<Rows, DatabaseError> {
    let mut prepared = connection.prepare(statement)?;
    let columns: Vec<String> = prepared.column_names().into_iter().map(str::to_owned).collect();
    let expected = prepared.parameter_count();
    if parameters.len() != expected {
        return Err(DatabaseError(format!(
            "the statement takes {expected} parameters; {} were given",
            parameters.len()
        )));
    }
    for (index, value) in parameters.into_iter().enumerate() {
        prepared.raw_bind_parameter(index + 1, value)?;
    }
    let mut found = prepared.raw_query();
    let mut rows = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = found.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for index in 0..columns.len() {
            let value: Value = row.get(index)?;
            bytes += match &value {
                Value::Text(text) => text.len(),
                Value::Blob(blob) => blob.len(),
                _ => 8,
            };
            values.push(value);
        }
        if bytes > MAX_RESULT_BYTES {
            return Err(DatabaseError(format!("the result is larger than {MAX_RESULT_BYTES} bytes")));
        }
        rows.push(values);
    }
    Ok(Rows { columns, rows })
}
