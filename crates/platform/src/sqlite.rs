//! SQLite databases: the databases the application defines ([`Databases`]), the ones a component
//! may open ([`Sqlite`]), and Spin's two interfaces over them, `spin:sqlite/sqlite@3.1.0`
//! (spin-sdk 7) and `fermyon:spin/sqlite@2.0.0`.
//!
//! A component opens only the labels it declares (`sqlite_databases`); any other gets Spin's
//! `access-denied`, whether or not the application defines it.

use std::collections::BTreeMap;
use std::sync::Arc;

use rusqlite::types::Value;
use wasmtime::component::{Accessor, FutureReader, HasData, Resource, ResourceTable, StreamReader};

use crate::bindings::fermyon::spin::sqlite as spin2;
use crate::bindings::spin::sqlite::sqlite as spin3;
use crate::database::{Database, DatabaseError, OpenConnection, Rows};

/// The application's databases, by label.
#[derive(Clone, Debug, Default)]
pub struct Databases(pub BTreeMap<String, Arc<Database>>);

/// The databases one component may open.
#[derive(Clone, Debug, Default)]
pub struct Sqlite {
    allowed: BTreeMap<String, Arc<Database>>,
}

impl Sqlite {
    /// The databases of `databases` whose labels are in `labels`; a label `databases` lacks is
    /// left out (startup refuses a configuration that declares one).
    #[must_use]
    pub fn new(databases: &Databases, labels: &[String]) -> Self {
        let allowed =
            labels.iter().filter_map(|label| Some((label.clone(), Arc::clone(databases.0.get(label)?)))).collect();
        Self { allowed }
    }
}

/// What the SQLite interfaces work on: the component's databases and its resource table.
pub(crate) struct SqliteView<'a> {
    pub(crate) sqlite: &'a Sqlite,
    pub(crate) table: &'a mut ResourceTable,
}

/// Lends a [`SqliteView`] to the interfaces.
pub(crate) struct Lend;

impl HasData for Lend {
    type Data<'a> = SqliteView<'a>;
}

/// Why a call found no connection, or failed.
enum Failure {
    AccessDenied,
    InvalidConnection,
    Io(String),
}

impl From<DatabaseError> for Failure {
    fn from(error: DatabaseError) -> Self {
        Self::Io(error.0)
    }
}

impl From<Failure> for spin3::Error {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::AccessDenied => Self::AccessDenied,
            Failure::InvalidConnection => Self::InvalidConnection,
            Failure::Io(message) => Self::Io(message),
        }
    }
}

fn database(sqlite: &Sqlite, label: &str) -> Result<Arc<Database>, Failure> {
    sqlite.allowed.get(label).cloned().ok_or(Failure::AccessDenied)
}

fn push(table: &mut ResourceTable, connection: OpenConnection) -> Result<Resource<OpenConnection>, Failure> {
    table.push(connection).map_err(|e| Failure::Io(e.to_string()))
}

/// Runs a statement on the connection `handle` names, found in `table`.
fn connection<'t>(table: &'t ResourceTable, handle: &Resource<OpenConnection>) -> Result<&'t OpenConnection, Failure> {
    table.get(handle).map_err(|_| Failure::InvalidConnection)
}

fn to_sql(value: spin3::Value) -> Value {
    match value {
        spin3::Value::Integer(integer) => Value::Integer(integer),
        spin3::Value::Real(real) => Value::Real(real),
        spin3::Value::Text(text) => Value::Text(text),
        spin3::Value::Blob(blob) => Value::Blob(blob),
        spin3::Value::Null => Value::Null,
    }
}

fn from_sql(value: Value) -> spin3::Value {
    match value {
        Value::Integer(integer) => spin3::Value::Integer(integer),
        Value::Real(real) => spin3::Value::Real(real),
        Value::Text(text) => spin3::Value::Text(text),
        Value::Blob(blob) => spin3::Value::Blob(blob),
        Value::Null => spin3::Value::Null,
    }
}

fn row_results(rows: Vec<Vec<Value>>) -> Vec<spin3::RowResult> {
    rows.into_iter().map(|row| spin3::RowResult { values: row.into_iter().map(from_sql).collect() }).collect()
}

/// Opens a connection to `label`'s database, if the component may.
async fn open(sqlite: &Sqlite, label: &str) -> Result<OpenConnection, Failure> {
    Ok(database(sqlite, label)?.connect().await?)
}

/// Runs a statement: the query result both interfaces return.
async fn execute(
    connection: &OpenConnection,
    statement: String,
    parameters: Vec<spin3::Value>,
) -> Result<spin3::QueryResult, Failure> {
    let Rows { columns, rows } = connection.execute(statement, parameters.into_iter().map(to_sql).collect()).await?;
    Ok(spin3::QueryResult { columns, rows: row_results(rows) })
}

impl spin3::Host for SqliteView<'_> {}

impl spin3::HostConnection for SqliteView<'_> {
    async fn open(&mut self, database: String) -> Result<Resource<OpenConnection>, spin3::Error> {
        let connection = open(self.sqlite, &database).await?;
        Ok(push(self.table, connection)?)
    }

    async fn execute(
        &mut self,
        handle: Resource<OpenConnection>,
        statement: String,
        parameters: Vec<spin3::Value>,
    ) -> Result<spin3::QueryResult, spin3::Error> {
        Ok(execute(connection(self.table, &handle)?, statement, parameters).await?)
    }

    fn last_insert_rowid(&mut self, handle: Resource<OpenConnection>) -> i64 {
        connection(self.table, &handle).map_or(0, OpenConnection::last_insert_rowid)
    }

    fn changes(&mut self, handle: Resource<OpenConnection>) -> u64 {
        connection(self.table, &handle).map_or(0, OpenConnection::changes)
    }

    fn drop(&mut self, handle: Resource<OpenConnection>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

/// The connection `handle` names, shared out of the table so a statement can run while the
/// store is free.
fn shared(accessor_table: &ResourceTable, handle: &Resource<OpenConnection>) -> Result<OpenConnection, Failure> {
    connection(accessor_table, handle).cloned()
}

impl<T> spin3::HostConnectionWithStore<T> for Lend {
    async fn open_async(
        accessor: &Accessor<T, Self>,
        database: String,
    ) -> Result<Resource<OpenConnection>, spin3::Error> {
        let sqlite = accessor.with(|mut access| access.get().sqlite.clone());
        let connection = open(&sqlite, &database).await?;
        Ok(accessor.with(|mut access| push(access.get().table, connection))?)
    }

    async fn execute_async(
        accessor: &Accessor<T, Self>,
        handle: Resource<OpenConnection>,
        statement: String,
        parameters: Vec<spin3::Value>,
    ) -> wasmtime::Result<
        Result<(Vec<String>, StreamReader<spin3::RowResult>, FutureReader<Result<(), spin3::Error>>), spin3::Error>,
    > {
        let connection = match accessor.with(|mut access| shared(access.get().table, &handle)) {
            Ok(connection) => connection,
            Err(failure) => return Ok(Err(failure.into())),
        };
        let result = match execute(&connection, statement, parameters).await {
            Ok(result) => result,
            Err(failure) => return Ok(Err(failure.into())),
        };
        accessor.with(|mut access| {
            let rows = StreamReader::new(&mut access, result.rows)?;
            let done = FutureReader::new(&mut access, async { Ok::<_, wasmtime::Error>(Ok(())) })?;
            Ok(Ok((result.columns, rows, done)))
        })
    }

    async fn last_insert_rowid_async(accessor: &Accessor<T, Self>, handle: Resource<OpenConnection>) -> i64 {
        accessor.with(|mut access| connection(access.get().table, &handle).map_or(0, OpenConnection::last_insert_rowid))
    }

    async fn changes_async(accessor: &Accessor<T, Self>, handle: Resource<OpenConnection>) -> u64 {
        accessor.with(|mut access| connection(access.get().table, &handle).map_or(0, OpenConnection::changes))
    }
}

/// The 2.0 interface's types are the 3.x ones under other names.
fn value_from_v2(value: spin2::Value) -> spin3::Value {
    match value {
        spin2::Value::Integer(integer) => spin3::Value::Integer(integer),
        spin2::Value::Real(real) => spin3::Value::Real(real),
        spin2::Value::Text(text) => spin3::Value::Text(text),
        spin2::Value::Blob(blob) => spin3::Value::Blob(blob),
        spin2::Value::Null => spin3::Value::Null,
    }
}

fn value_to_v2(value: spin3::Value) -> spin2::Value {
    match value {
        spin3::Value::Integer(integer) => spin2::Value::Integer(integer),
        spin3::Value::Real(real) => spin2::Value::Real(real),
        spin3::Value::Text(text) => spin2::Value::Text(text),
        spin3::Value::Blob(blob) => spin2::Value::Blob(blob),
        spin3::Value::Null => spin2::Value::Null,
    }
}

impl From<Failure> for spin2::Error {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::AccessDenied => Self::AccessDenied,
            Failure::InvalidConnection => Self::InvalidConnection,
            Failure::Io(message) => Self::Io(message),
        }
    }
}

impl spin2::Host for SqliteView<'_> {}

impl spin2::HostConnection for SqliteView<'_> {
    async fn open(&mut self, database: String) -> Result<Resource<OpenConnection>, spin2::Error> {
        let connection = open(self.sqlite, &database).await?;
        Ok(push(self.table, connection)?)
    }

    async fn execute(
        &mut self,
        handle: Resource<OpenConnection>,
        statement: String,
        parameters: Vec<spin2::Value>,
    ) -> Result<spin2::QueryResult, spin2::Error> {
        let parameters = parameters.into_iter().map(value_from_v2).collect();
        let spin3::QueryResult { columns, rows } =
            execute(connection(self.table, &handle)?, statement, parameters).await?;
        let rows = rows
            .into_iter()
            .map(|row| spin2::RowResult { values: row.values.into_iter().map(value_to_v2).collect() })
            .collect();
        Ok(spin2::QueryResult { columns, rows })
    }

    async fn drop(&mut self, handle: Resource<OpenConnection>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}
