//! The application services wagi gives components beside WASI and `wasi:http`, in Spin's
//! interfaces and the standard WASI ones: a component's variables (`spin:variables`,
//! `fermyon:spin/variables`, `wasi:config/store`), its key-value stores (`spin:key-value`,
//! `fermyon:spin/key-value`, `wasi:keyvalue`), kept in SQLite files or in Redis, and its SQLite databases
//! (`spin:sqlite`, `fermyon:spin/sqlite`).
//!
//! A [`Platform`] is what one component may use: its [`Variables`], resolved when the
//! configuration was loaded (`wagi-config` has the declarations, the templates and the
//! resolution), and the [`KeyValue`] stores and [`Sqlite`] databases it declares, out of the
//! application's [`Stores`] and [`Databases`].
//! This crate knows no manifests, sockets or HTTP: [`add_to_linker`] puts the interfaces into a
//! component linker whose store data implements [`PlatformState`].

mod bindings;
mod database;
mod key_value;
mod redis_store;
mod sqlite;
mod sqlite_store;
mod store;
mod variables;
mod wasi_keyvalue;

pub use key_value::{KeyValue, Stores};

pub use database::{Database, DatabaseError, OpenConnection};
use key_value::KeyValueView;
pub use redis_store::RedisStore;
use sqlite::SqliteView;
pub use sqlite::{Databases, Sqlite};
pub use sqlite_store::SqliteStore;
pub use store::{Cas, KeyValueStore, OpenStore, StoreError, StoreLimits};
pub use variables::Variables;

use wasmtime::component::{Linker, ResourceTable};

/// The interface names this crate provides, as a component imports them (without the patch
/// version for Spin's).
pub const PROVIDED_INTERFACES: &[&str] = &[
    "spin:variables/variables@3.0.",
    "fermyon:spin/variables@2.0.",
    "wasi:config/store@0.2.0-draft-2024-09-27",
    "spin:key-value/key-value@3.0.",
    "fermyon:spin/key-value@2.0.",
    "spin:sqlite/sqlite@3.",
    "fermyon:spin/sqlite@2.0.",
    "wasi:keyvalue/store@0.2.0-draft2",
    "wasi:keyvalue/atomics@0.2.0-draft2",
    "wasi:keyvalue/batch@0.2.0-draft2",
];

/// What one component may use.
#[derive(Clone, Debug, Default)]
pub struct Platform {
    /// Its variables.
    pub variables: Variables,
    /// The key-value stores it may open.
    pub key_value: KeyValue,
    /// The SQLite databases it may open.
    pub sqlite: Sqlite,
}

/// What a component's store lends the interfaces.
#[derive(Debug)]
pub struct PlatformView<'a> {
    /// The component's platform.
    pub platform: &'a Platform,
    /// The store's resource table, where open stores are kept.
    pub table: &'a mut ResourceTable,
}

/// Store data that can lend a [`PlatformView`].
pub trait PlatformState: Send + 'static {
    /// The view of this store's platform and resource table.
    fn platform(&mut self) -> PlatformView<'_>;
}

/// Adds every interface to `linker`; the WASI 0.3 ones (`async` functions) only when `concurrent`,
/// for an engine with the component model's `async`.
///
/// # Errors
/// When an interface is already in `linker`.
pub fn add_to_linker<T: PlatformState>(linker: &mut Linker<T>, concurrent: bool) -> wasmtime::Result<()> {
    fn variables<T: PlatformState>(state: &mut T) -> &Variables {
        &state.platform().platform.variables
    }
    fn key_value<T: PlatformState>(state: &mut T) -> KeyValueView<'_> {
        let PlatformView { platform, table } = state.platform();
        KeyValueView { key_value: &platform.key_value, table }
    }
    fn sqlite<T: PlatformState>(state: &mut T) -> SqliteView<'_> {
        let PlatformView { platform, table } = state.platform();
        SqliteView { sqlite: &platform.sqlite, table }
    }
    bindings::fermyon::spin::variables::add_to_linker::<T, variables::Lend>(linker, variables)?;
    bindings::wasi::config::store::add_to_linker::<T, variables::Lend>(linker, variables)?;
    bindings::fermyon::spin::key_value::add_to_linker::<T, key_value::Lend>(linker, key_value)?;
    bindings::fermyon::spin::sqlite::add_to_linker::<T, sqlite::Lend>(linker, sqlite)?;
    bindings::wasi::keyvalue::store::add_to_linker::<T, key_value::Lend>(linker, key_value)?;
    bindings::wasi::keyvalue::atomics::add_to_linker::<T, key_value::Lend>(linker, key_value)?;
    bindings::wasi::keyvalue::batch::add_to_linker::<T, key_value::Lend>(linker, key_value)?;
    if concurrent {
        bindings::spin::variables::variables::add_to_linker::<T, variables::Lend>(linker, variables)?;
        bindings::spin::key_value::key_value::add_to_linker::<T, key_value::Lend>(linker, key_value)?;
        bindings::spin::sqlite::sqlite::add_to_linker::<T, sqlite::Lend>(linker, sqlite)?;
    }
    Ok(())
}
