//! Key-value stores kept in Redis, so that replicas on several machines share them. Each label
//! is one Redis hash, `wagi:kv:LABEL`, whose fields are the keys: counting a store's keys is
//! `HLEN`, and a `set` that would pass the key limit is refused atomically, in a script, however
//! many replicas write at once.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::store::{KeyValueStore, StoreError, StoreLimits};

/// Sets a field unless it is new and the hash already has `ARGV[3]` fields; returns 1 if set.
const SET_WITHIN_LIMIT: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('HLEN', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
";

/// Sets the field `ARGV[5]` to `ARGV[3]` if it holds `ARGV[2]` (`ARGV[1]` = "1"), or has no
/// value (`ARGV[1]` = "0") and a new field stays within `ARGV[4]` fields; returns 1 if set, 0 if
/// the value differs, -1 if the hash is full.
const SWAP: &str = r"
local current = redis.call('HGET', KEYS[1], ARGV[5])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
else
  if current then return 0 end
  if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return -1 end
end
redis.call('HSET', KEYS[1], ARGV[5], ARGV[3])
return 1
";

/// One label's data in a Redis server.
pub struct RedisStore {
    hash: String,
    limits: StoreLimits,
    connection: ConnectionManager,
    set_within_limit: redis::Script,
    swap: redis::Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("hash", &self.hash).finish_non_exhaustive()
    }
}

fn backend(error: redis::RedisError) -> StoreError {
    StoreError::Backend(error.to_string())
}

impl RedisStore {
    /// Connects to the server at `url` (`redis://HOST:PORT[/DB]`) for `label`, trying three
    /// times within a few seconds; the connection is made again whenever it breaks.
    ///
    /// # Errors
    /// When the URL is not one or the server cannot be reached.
    pub async fn connect(url: &str, label: &str, limits: StoreLimits) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(backend)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(5))
            .set_number_of_retries(2)
            .set_factor(100)
            .set_max_delay(1000);
        let connection = ConnectionManager::new_with_config(client, config).await.map_err(backend)?;
        Ok(Self {
            hash: format!("wagi:kv:{label}"),
            limits,
            connection,
            set_within_limit: redis::Script::new(SET_WITHIN_LIMIT),
            swap: redis::Script::new(SWAP),
        })
    }
}

#[async_trait::async_trait]
impl KeyValueStore for RedisStore {
    async fn get(&self, key: String) -> Result<Option<Vec<u8>>, StoreError> {
        self.limits.check(&key, None)?;
        self.connection.clone().hget(&self.hash, key).await.map_err(backend)
    }

    async fn set(&self, key: String, value: Vec<u8>) -> Result<(), StoreError> {
        self.limits.check(&key, Some(&value))?;
        let mut connection = self.connection.clone();
        let set: i64 = self
            .set_within_limit
            .key(&self.hash)
            .arg(key)
            .arg(value)
            .arg(self.limits.max_keys)
            .invoke_async(&mut connection)
            .await
            .map_err(backend)?;
        if set == 1 { Ok(()) } else { Err(StoreError::Full(self.limits.max_keys)) }
    }

    async fn delete(&self, key: String) -> Result<(), StoreError> {
        self.limits.check(&key, None)?;
        let _: i64 = self.connection.clone().hdel(&self.hash, key).await.map_err(backend)?;
        Ok(())
    }

    async fn exists(&self, key: String) -> Result<bool, StoreError> {
        self.limits.check(&key, None)?;
        self.connection.clone().hexists(&self.hash, key).await.map_err(backend)
    }

    async fn swap(&self, key: String, expected: Option<Vec<u8>>, value: Vec<u8>) -> Result<bool, StoreError> {
        self.limits.check(&key, Some(&value))?;
        let mut connection = self.connection.clone();
        let swapped: i64 = self
            .swap
            .key(&self.hash)
            .arg(if expected.is_some() { "1" } else { "0" })
            .arg(expected.unwrap_or_default())
            .arg(value)
            .arg(self.limits.max_keys)
            .arg(key)
            .invoke_async(&mut connection)
            .await
            .map_err(backend)?;
        match swapped {
            1 => Ok(true),
            -1 => Err(StoreError::Full(self.limits.max_keys)),
            _ => Ok(false),
        }
    }

    async fn keys(&self) -> Result<Vec<String>, StoreError> {
        self.connection.clone().hkeys(&self.hash).await.map_err(backend)
    }
}
