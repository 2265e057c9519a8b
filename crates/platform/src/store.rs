//! What a key-value store is to the interfaces, whatever keeps its data: the operations, their
//! errors, and the limits every backend enforces.

/// A key-value store: one label's data.
#[async_trait::async_trait]
pub trait KeyValueStore: Send + Sync + std::fmt::Debug {
    /// The value of `key`, if it has one.
    async fn get(&self, key: String) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets `key` to `value`, replacing any value it had.
    async fn set(&self, key: String, value: Vec<u8>) -> Result<(), StoreError>;
    /// Removes `key`; removing a key that is not there is not an error.
    async fn delete(&self, key: String) -> Result<(), StoreError>;
    /// Whether `key` has a value.
    async fn exists(&self, key: String) -> Result<bool, StoreError>;
    /// Every key.
    async fn keys(&self) -> Result<Vec<String>, StoreError>;
    /// Sets `key` to `value` if its value is still `expected` (`None`: it has none), atomically;
    /// says whether it did.
    async fn swap(&self, key: String, expected: Option<Vec<u8>>, value: Vec<u8>) -> Result<bool, StoreError>;

    /// Adds `delta` to the number `key` holds (8 bytes, little-endian, as Spin keeps it; no
    /// value is 0) and returns the sum, retrying while other writers get in between.
    async fn increment(&self, key: String, delta: i64) -> Result<i64, StoreError> {
        loop {
            let current = self.get(key.clone()).await?;
            let number = match current.as_deref() {
                None => 0,
                Some(bytes) => i64::from_le_bytes(bytes.try_into().map_err(|_| {
                    StoreError::NotANumber(format!("`{key}` holds {} bytes, not an 8-byte number", bytes.len()))
                })?),
            };
            let sum =
                number.checked_add(delta).ok_or_else(|| StoreError::NotANumber(format!("`{key}` would overflow")))?;
            if self.swap(key.clone(), current, sum.to_le_bytes().to_vec()).await? {
                return Ok(sum);
            }
        }
    }
}

/// A store a component has opened: what its resource handle stands for.
#[derive(Debug)]
pub struct OpenStore(pub(crate) std::sync::Arc<dyn KeyValueStore>);

/// A key's value as read for a later compare-and-swap (`wasi:keyvalue/atomics`'s `cas`).
#[derive(Debug)]
pub struct Cas {
    pub(crate) store: std::sync::Arc<dyn KeyValueStore>,
    pub(crate) key: String,
    pub(crate) current: Option<Vec<u8>>,
}

/// How big keys and values may be, and how many keys one store may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Bytes in a key.
    pub max_key: usize,
    /// Bytes in a value.
    pub max_value: usize,
    /// Keys in one store.
    pub max_keys: u64,
}

impl Default for StoreLimits {
    /// 4 KiB keys, 8 MiB values and a million keys: above what Spin's key-value specification
    /// asks every host to support (256-byte keys, 1 MB values, 1024 keys).
    fn default() -> Self {
        Self { max_key: 4 << 10, max_value: 8 << 20, max_keys: 1_000_000 }
    }
}

impl StoreLimits {
    /// Refuses a key, or a key and value, over the limits.
    pub(crate) fn check(&self, key: &str, value: Option<&[u8]>) -> Result<(), StoreError> {
        if key.len() > self.max_key {
            return Err(StoreError::TooLarge(format!("the key is {} bytes; the limit is {}", key.len(), self.max_key)));
        }
        if let Some(value) = value.filter(|value| value.len() > self.max_value) {
            return Err(StoreError::TooLarge(format!(
                "the value is {} bytes; the limit is {}",
                value.len(),
                self.max_value
            )));
        }
        Ok(())
    }
}

/// Why a store operation failed; a component gets it as Spin's `other(message)`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A key or value over [`StoreLimits`].
    #[error("{0}")]
    TooLarge(String),
    /// The store holds as many keys as it may.
    #[error("the store is full: it holds {0} keys, the most it may")]
    Full(u64),
    /// `increment` on a value that is not a number, or a sum that does not fit.
    #[error("{0}")]
    NotANumber(String),
    /// The backend failed.
    #[error("the store failed: {0}")]
    Backend(String),
}
