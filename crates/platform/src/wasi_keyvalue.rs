//! The standard `wasi:keyvalue` interfaces (`store`, `atomics`, `batch`, the draft Spin
//! implements) over the same stores as Spin's: a bucket is a store a component declares, opened
//! by its label, so portable components and spin-sdk ones share their data.

use wasmtime::component::Resource;

use crate::bindings::wasi::keyvalue::{atomics, batch, store};
use crate::key_value::{Denied, KeyValueView, opened};
use crate::store::{Cas, KeyValueStore, OpenStore, StoreError};

fn error(error: StoreError) -> store::Error {
    store::Error::Other(error.to_string())
}

impl KeyValueView<'_> {
    /// The store behind the bucket `handle`.
    fn bucket(&self, handle: &Resource<OpenStore>) -> Result<std::sync::Arc<dyn KeyValueStore>, store::Error> {
        opened(self.table, handle).ok_or(store::Error::NoSuchStore)
    }
}

impl store::Host for KeyValueView<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<OpenStore>, store::Error> {
        self.key_value.open(&identifier, self.table).map_err(|denied| match denied {
            Denied::Access => store::Error::AccessDenied,
            Denied::TableFull => store::Error::Other("too many stores are open".to_owned()),
        })
    }
}

impl store::HostBucket for KeyValueView<'_> {
    async fn get(&mut self, bucket: Resource<OpenStore>, key: String) -> Result<Option<Vec<u8>>, store::Error> {
        self.bucket(&bucket)?.get(key).await.map_err(error)
    }

    async fn set(&mut self, bucket: Resource<OpenStore>, key: String, value: Vec<u8>) -> Result<(), store::Error> {
        self.bucket(&bucket)?.set(key, value).await.map_err(error)
    }

    async fn delete(&mut self, bucket: Resource<OpenStore>, key: String) -> Result<(), store::Error> {
        self.bucket(&bucket)?.delete(key).await.map_err(error)
    }

    async fn exists(&mut self, bucket: Resource<OpenStore>, key: String) -> Result<bool, store::Error> {
        self.bucket(&bucket)?.exists(key).await.map_err(error)
    }

    /// Every key at once: there is never a next page, and a cursor is refused.
    async fn list_keys(
        &mut self,
        bucket: Resource<OpenStore>,
        cursor: Option<String>,
    ) -> Result<store::KeyResponse, store::Error> {
        if cursor.is_some() {
            return Err(store::Error::Other("list-keys gives every key at once; it takes no cursor".to_owned()));
        }
        let keys = self.bucket(&bucket)?.keys().await.map_err(error)?;
        Ok(store::KeyResponse { keys, cursor: None })
    }

    async fn drop(&mut self, bucket: Resource<OpenStore>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KeyValueView<'_> {
    async fn increment(&mut self, bucket: Resource<OpenStore>, key: String, delta: i64) -> Result<i64, store::Error> {
        self.bucket(&bucket)?.increment(key, delta).await.map_err(error)
    }

    async fn swap(&mut self, cas: Resource<Cas>, value: Vec<u8>) -> Result<(), atomics::CasError> {
        let cas =
            self.table.delete(cas).map_err(|e| atomics::CasError::StoreError(store::Error::Other(e.to_string())))?;
        let swapped = cas.store.swap(cas.key.clone(), cas.current, value).await;
        match swapped {
            Ok(true) => Ok(()),
            Ok(false) => {
                // Someone else changed it: a new `cas` with what it holds now.
                let current =
                    cas.store.get(cas.key.clone()).await.map_err(|e| atomics::CasError::StoreError(error(e)))?;
                let renewed = Cas { store: cas.store, key: cas.key, current };
                let renewed = self
                    .table
                    .push(renewed)
                    .map_err(|e| atomics::CasError::StoreError(store::Error::Other(e.to_string())))?;
                Err(atomics::CasError::CasFailed(renewed))
            }
            Err(failure) => Err(atomics::CasError::StoreError(error(failure))),
        }
    }
}

impl atomics::HostCas for KeyValueView<'_> {
    async fn new(&mut self, bucket: Resource<OpenStore>, key: String) -> Result<Resource<Cas>, store::Error> {
        let store = self.bucket(&bucket)?;
        let current = store.get(key.clone()).await.map_err(error)?;
        self.table.push(Cas { store, key, current }).map_err(|e| store::Error::Other(e.to_string()))
    }

    async fn current(&mut self, cas: Resource<Cas>) -> Result<Option<Vec<u8>>, store::Error> {
        let cas = self.table.get(&cas).map_err(|_| store::Error::NoSuchStore)?;
        Ok(cas.current.clone())
    }

    async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for KeyValueView<'_> {
    async fn get_many(
        &mut self,
        bucket: Resource<OpenStore>,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Option<Vec<u8>>)>, store::Error> {
        let store = self.bucket(&bucket)?;
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            let value = store.get(key.clone()).await.map_err(error)?;
            values.push((key, value));
        }
        Ok(values)
    }

    async fn set_many(
        &mut self,
        bucket: Resource<OpenStore>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), store::Error> {
        let store = self.bucket(&bucket)?;
        for (key, value) in key_values {
            store.set(key, value).await.map_err(error)?;
        }
        Ok(())
    }

    async fn delete_many(&mut self, bucket: Resource<OpenStore>, keys: Vec<String>) -> Result<(), store::Error> {
        let store = self.bucket(&bucket)?;
        for key in keys {
            store.delete(key).await.map_err(error)?;
        }
        Ok(())
    }
}
