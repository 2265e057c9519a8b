//! The SQLite key-value store on a real file: what it keeps, across reopening, apart by label,
//! and its limits.

use wagi_platform::{KeyValueStore, SqliteStore, StoreError, StoreLimits};

fn open(dir: &tempfile::TempDir, label: &str, limits: StoreLimits) -> SqliteStore {
    SqliteStore::open(&dir.path().join("state/kv.db"), label, limits).expect("opened")
}

#[tokio::test]
async fn values_survive_reopening_and_labels_keep_apart() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = open(&dir, "default", StoreLimits::default());
    store.set("a".into(), b"1".to_vec()).await.expect("set");
    store.set("b".into(), b"2".to_vec()).await.expect("set");
    store.set("a".into(), b"one".to_vec()).await.expect("replaced");
    store.delete("b".into()).await.expect("deleted");
    store.delete("never".into()).await.expect("deleting nothing is no error");
    drop(store);

    let store = open(&dir, "default", StoreLimits::default());
    assert_eq!(store.get("a".into()).await, Ok(Some(b"one".to_vec())));
    assert_eq!(store.get("b".into()).await, Ok(None));
    assert_eq!(store.exists("a".into()).await, Ok(true));
    assert_eq!(store.keys().await, Ok(vec!["a".to_owned()]));
    let other = open(&dir, "other", StoreLimits::default());
    assert_eq!(other.get("a".into()).await, Ok(None));
    assert_eq!(other.keys().await, Ok(Vec::new()));
}

#[tokio::test]
async fn keys_values_and_key_counts_are_limited() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let limits = StoreLimits { max_key: 8, max_value: 16, max_keys: 2 };
    let store = open(&dir, "default", limits);
    assert!(matches!(store.set("k".repeat(9), Vec::new()).await, Err(StoreError::TooLarge(_))));
    assert!(matches!(store.set("k".into(), vec![0; 17]).await, Err(StoreError::TooLarge(_))));
    store.set("one".into(), Vec::new()).await.expect("set");
    store.set("two".into(), Vec::new()).await.expect("set");
    assert_eq!(store.set("three".into(), Vec::new()).await, Err(StoreError::Full(2)));
    store.set("two".into(), b"replaced".to_vec()).await.expect("replaced");
    store.delete("one".into()).await.expect("deleted");
    store.set("three".into(), Vec::new()).await.expect("room again");
    drop(store);
    // The count is read again from the file.
    let store = open(&dir, "default", limits);
    assert_eq!(store.set("four".into(), Vec::new()).await, Err(StoreError::Full(2)));
}
