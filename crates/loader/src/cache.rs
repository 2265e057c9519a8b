//! A content-addressed blob cache on disk: each blob is stored under its sha256 digest,
//! written atomically and verified when read.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wagi_config::Digest;

/// A directory of blobs named by their digest (`<dir>/sha256/<hex>`), and of names recorded as
/// pointing at a digest (`<dir>/names/<sha256 of the name>`, e.g. the manifest a tag resolved to).
///
/// Writes go to a temporary file in the same directory and are renamed into place, so a reader
/// (in this process or another sharing the directory) never sees a partial blob. Reads hash the
/// content again; a blob whose content does not match its name is deleted and reported missing,
/// so the caller fetches it again instead of trusting it.
#[derive(Clone, Debug)]
pub struct ContentCache {
    dir: PathBuf,
}

impl ContentCache {
    /// A cache rooted at `dir`; the directory is created on first write.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, digest: &Digest) -> PathBuf {
        self.dir.join("sha256").join(digest.to_hex())
    }

    /// Returns the blob named `digest` if it is present and intact.
    pub async fn get(&self, digest: &Digest) -> io::Result<Option<Vec<u8>>> {
        let path = self.path_of(digest);
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error),
        };
        if Digest::of(&bytes) == *digest {
            return Ok(Some(bytes));
        }
        tracing::warn!(%digest, path = %path.display(), "discarding a corrupted cache entry");
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(None),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Stores `bytes` under their digest and returns it.
    pub async fn put(&self, bytes: &[u8]) -> io::Result<Digest> {
        let digest = Digest::of(bytes);
        write_atomically(&self.path_of(&digest), bytes).await?;
        Ok(digest)
    }

    fn path_of_name(&self, name: &str) -> PathBuf {
        self.dir.join("names").join(Digest::of(name.as_bytes()).to_hex())
    }

    /// Records that `name` (such as a registry tag) now points at `digest`.
    pub async fn record_name(&self, name: &str, digest: &Digest) -> io::Result<()> {
        write_atomically(&self.path_of_name(name), format!("{digest}\n{name}\n").as_bytes()).await
    }

    /// The digest `name` was last recorded as pointing at, if any.
    pub async fn recorded_name(&self, name: &str) -> io::Result<Option<Digest>> {
        match tokio::fs::read_to_string(self.path_of_name(name)).await {
            Ok(text) => Ok(text.lines().next().and_then(Digest::parse)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place. The temporary
/// name is unique to this process and write, so concurrent writers never share one.
pub(crate) async fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    tokio::fs::create_dir_all(dir).await?;
    let name = path.file_name().and_then(|name| name.to_str()).unwrap_or("blob");
    let unique = WRITES.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".{name}.{}.{unique}.tmp", std::process::id()));
    tokio::fs::write(&temp, bytes).await?;
    if let Err(error) = tokio::fs::rename(&temp, path).await {
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(error);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blobs_round_trip_and_corruption_is_discarded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = ContentCache::new(dir.path());
        let digest = cache.put(b"module bytes").await.expect("put");
        assert_eq!(digest, Digest::of(b"module bytes"));
        assert_eq!(cache.get(&digest).await.expect("get").as_deref(), Some(&b"module bytes"[..]));

        std::fs::write(cache.path_of(&digest), b"tampered").expect("tamper");
        assert_eq!(cache.get(&digest).await.expect("get"), None);
        assert!(!cache.path_of(&digest).exists(), "a corrupted entry is deleted");
        assert_eq!(cache.get(&Digest::of(b"absent")).await.expect("get"), None);
    }

    #[tokio::test]
    async fn names_point_at_the_digest_last_recorded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = ContentCache::new(dir.path());
        assert_eq!(cache.recorded_name("oci/r/x:1").await.expect("read"), None);
        cache.record_name("oci/r/x:1", &Digest::of(b"one")).await.expect("record");
        cache.record_name("oci/r/x:1", &Digest::of(b"two")).await.expect("record");
        assert_eq!(cache.recorded_name("oci/r/x:1").await.expect("read"), Some(Digest::of(b"two")));
    }
}
