//! Key-value stores: the stores the application defines ([`Stores`]), the ones a component may
//! open ([`KeyValue`]), and Spin's two interfaces over them, `spin:key-value/key-value@3.0.0`
//! (spin-sdk 7, `async`) and `fermyon:spin/key-value@2.0.0`; `wasi_keyvalue.rs` has the
//! standard ones over the same stores.
//!
//! A component opens only the labels it declares (`key_value_stores`); any other gets Spin's
//! `access-denied`, whether or not the application defines it.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::{Accessor, FutureReader, HasData, Resource, ResourceTable, StreamReader};

use crate::bindings::fermyon::spin::key_value as spin2;
use crate::bindings::spin::key_value::key_value as spin3;
use crate::store::{KeyValueStore, OpenStore, StoreError};

/// The application's stores, by label.
#[derive(Clone, Debug, Default)]
pub struct Stores(pub BTreeMap<String, Arc<dyn KeyValueStore>>);

/// The stores one component may open.
#[derive(Clone, Debug, Default)]
pub struct KeyValue {
    allowed: BTreeMap<String, Arc<dyn KeyValueStore>>,
}

impl KeyValue {
    /// The stores of `stores` whose labels are in `labels`; a label `stores` lacks is left out
    /// (startup refuses a configuration that declares one).
    #[must_use]
    pub fn new(stores: &Stores, labels: &[String]) -> Self {
        let allowed =
            labels.iter().filter_map(|label| Some((label.clone(), Arc::clone(stores.0.get(label)?)))).collect();
        Self { allowed }
    }

    pub(crate) fn open(&self, label: &str, table: &mut ResourceTable) -> Result<Resource<OpenStore>, Denied> {
        let store = self.allowed.get(label).ok_or(Denied::Access)?;
        table.push(OpenStore(Arc::clone(store))).map_err(|_| Denied::TableFull)
    }
}

/// Why `open` gave no store.
pub(crate) enum Denied {
    Access,
    TableFull,
}

/// What the key-value interfaces work on: the component's stores and its resource table.
pub(crate) struct KeyValueView<'a> {
    pub(crate) key_value: &'a KeyValue,
    pub(crate) table: &'a mut ResourceTable,
}

/// Lends a [`KeyValueView`] to the interfaces.
pub(crate) struct Lend;

impl HasData for Lend {
    type Data<'a> = KeyValueView<'a>;
}

pub(crate) fn opened(table: &ResourceTable, store: &Resource<OpenStore>) -> Option<Arc<dyn KeyValueStore>> {
    table.get(store).ok().map(|open| Arc::clone(&open.0))
}

impl spin3::Host for KeyValueView<'_> {}

impl spin3::HostStore for KeyValueView<'_> {
    fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

fn error3(error: StoreError) -> spin3::Error {
    spin3::Error::Other(error.to_string())
}

impl<T> spin3::HostStoreWithStore<T> for Lend {
    async fn open(accessor: &Accessor<T, Self>, label: String) -> Result<Resource<OpenStore>, spin3::Error> {
        accessor.with(|mut access| {
            let view = access.get();
            view.key_value.open(&label, view.table).map_err(|denied| match denied {
                Denied::Access => spin3::Error::AccessDenied,
                Denied::TableFull => spin3::Error::StoreTableFull,
            })
        })
    }

    async fn get(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
        key: String,
    ) -> Result<Option<Vec<u8>>, spin3::Error> {
        let store = accessor.with(|mut access| opened(access.get().table, &store)).ok_or(spin3::Error::NoSuchStore)?;
        store.get(key).await.map_err(error3)
    }

    async fn set(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), spin3::Error> {
        let store = accessor.with(|mut access| opened(access.get().table, &store)).ok_or(spin3::Error::NoSuchStore)?;
        store.set(key, value).await.map_err(error3)
    }

    async fn delete(accessor: &Accessor<T, Self>, store: Resource<OpenStore>, key: String) -> Result<(), spin3::Error> {
        let store = accessor.with(|mut access| opened(access.get().table, &store)).ok_or(spin3::Error::NoSuchStore)?;
        store.delete(key).await.map_err(error3)
    }

    async fn exists(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
        key: String,
    ) -> Result<bool, spin3::Error> {
        let store = accessor.with(|mut access| opened(access.get().table, &store)).ok_or(spin3::Error::NoSuchStore)?;
        store.exists(key).await.map_err(error3)
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), spin3::Error>>)> {
        let found = accessor.with(|mut access| opened(access.get().table, &store));
        let (keys, result) = match found {
            Some(store) => match store.keys().await {
                Ok(keys) => (keys, Ok(())),
                Err(error) => (Vec::new(), Err(error3(error))),
            },
            None => (Vec::new(), Err(spin3::Error::NoSuchStore)),
        };
        accessor.with(|mut access| {
            let keys = StreamReader::new(&mut access, keys)?;
            let result = FutureReader::new(&mut access, async move { Ok::<_, wasmtime::Error>(result) })?;
            Ok((keys, result))
        })
    }
}

impl spin2::Host for KeyValueView<'_> {}

fn error2(error: StoreError) -> spin2::Error {
    spin2::Error::Other(error.to_string())
}

impl spin2::HostStore for KeyValueView<'_> {
    async fn open(&mut self, label: String) -> Result<Resource<OpenStore>, spin2::Error> {
        self.key_value.open(&label, self.table).map_err(|denied| match denied {
            Denied::Access => spin2::Error::AccessDenied,
            Denied::TableFull => spin2::Error::StoreTableFull,
        })
    }

    async fn get(&mut self, store: Resource<OpenStore>, key: String) -> Result<Option<Vec<u8>>, spin2::Error> {
        let store = opened(self.table, &store).ok_or(spin2::Error::NoSuchStore)?;
        store.get(key).await.map_err(error2)
    }

    async fn set(&mut self, store: Resource<OpenStore>, key: String, value: Vec<u8>) -> Result<(), spin2::Error> {
        let store = opened(self.table, &store).ok_or(spin2::Error::NoSuchStore)?;
        store.set(key, value).await.map_err(error2)
    }

    async fn delete(&mut self, store: Resource<OpenStore>, key: String) -> Result<(), spin2::Error> {
        let store = opened(self.table, &store).ok_or(spin2::Error::NoSuchStore)?;
        store.delete(key).await.map_err(error2)
    }

    async fn exists(&mut self, store: Resource<OpenStore>, key: String) -> Result<bool, spin2::Error> {
        let store = opened(self.table, &store).ok_or(spin2::Error::NoSuchStore)?;
        store.exists(key).await.map_err(error2)
    }

    async fn get_keys(&mut self, store: Resource<OpenStore>) -> Result<Vec<String>, spin2::Error> {
        let store = opened(self.table, &store).ok_or(spin2::Error::NoSuchStore)?;
        store.keys().await.map_err(error2)
    }

    async fn drop(&mut self, store: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}
