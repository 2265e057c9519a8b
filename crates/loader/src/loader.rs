//! Fetching module bytes from each kind of source.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wagi_config::ModuleRef;

use crate::cache::ContentCache;
use crate::digest::Digest;

/// The bytes of one module, ready to compile.
#[derive(Clone, Debug)]
pub struct LoadedModule {
    /// Binary wasm.
    pub bytes: Arc<[u8]>,
    /// The sha256 of `bytes`.
    pub digest: Digest,
}

/// Why a module could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A local file could not be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The content is neither binary wasm nor valid WAT text.
    #[error("`{path}` is neither a wasm binary nor valid WAT text")]
    InvalidWat {
        /// The file.
        path: PathBuf,
        /// Where the text is wrong.
        #[source]
        source: wat::Error,
    },
    /// This kind of source cannot be fetched by this build.
    #[error("{kind} module references (`{reference}`) are not supported yet; use a local file")]
    Unsupported {
        /// `oci` or `bindle`.
        kind: &'static str,
        /// The reference as written.
        reference: String,
    },
}

/// Loads modules from local files and, through its [`ContentCache`], from remote sources.
#[derive(Clone, Debug)]
pub struct Loader {
    cache: ContentCache,
}

/// The first bytes of every binary wasm module.
const WASM_MAGIC: &[u8] = b"\0asm";

impl Loader {
    /// A loader whose remote fetches are cached in `cache`.
    pub fn new(cache: ContentCache) -> Self {
        Self { cache }
    }

    /// The cache remote modules are kept in.
    pub fn cache(&self) -> &ContentCache {
        &self.cache
    }

    /// Loads the module `reference` names. Relative file paths must have been resolved already.
    pub async fn load(&self, reference: &ModuleRef) -> Result<LoadedModule, LoadError> {
        match reference {
            ModuleRef::File(path) => load_file(path).await,
            ModuleRef::Oci(reference) => Err(LoadError::Unsupported { kind: "oci", reference: reference.clone() }),
            ModuleRef::Bindle(reference) => {
                Err(LoadError::Unsupported { kind: "bindle", reference: format!("bindle:{reference}") })
            }
        }
    }
}

async fn load_file(path: &Path) -> Result<LoadedModule, LoadError> {
    let bytes = tokio::fs::read(path).await.map_err(|source| LoadError::Read { path: path.to_owned(), source })?;
    let bytes = to_binary(bytes).map_err(|source| LoadError::InvalidWat { path: path.to_owned(), source })?;
    let digest = Digest::of(&bytes);
    Ok(LoadedModule { bytes: bytes.into(), digest })
}

/// Converts WAT text to binary wasm; binary input is returned as it is.
fn to_binary(bytes: Vec<u8>) -> Result<Vec<u8>, wat::Error> {
    if bytes.starts_with(WASM_MAGIC) {
        return Ok(bytes);
    }
    wat::parse_bytes(&bytes).map(|wasm| wasm.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wat_is_recognised_by_content_and_binary_passes_through() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text_path = dir.path().join("module.wasm");
        std::fs::write(&text_path, "(module)").expect("write");
        let loader = Loader::new(ContentCache::new(dir.path().join("cache")));
        let from_text = loader.load(&ModuleRef::File(text_path)).await.expect("WAT loads");
        assert!(from_text.bytes.starts_with(WASM_MAGIC));
        assert_eq!(from_text.digest, Digest::of(&from_text.bytes));

        let binary_path = dir.path().join("module.wat");
        std::fs::write(&binary_path, &from_text.bytes).expect("write");
        let from_binary = loader.load(&ModuleRef::File(binary_path)).await.expect("binary loads");
        assert_eq!(from_binary.digest, from_text.digest);
    }

    #[tokio::test]
    async fn bad_sources_say_what_failed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let loader = Loader::new(ContentCache::new(dir.path()));
        let bad = dir.path().join("bad.wat");
        std::fs::write(&bad, "(module (func $f (oops)))").expect("write");
        let error = loader.load(&ModuleRef::File(bad)).await.expect_err("invalid WAT");
        assert!(matches!(error, LoadError::InvalidWat { .. }), "{error}");
        let error = loader.load(&ModuleRef::Oci("oci:x:1".into())).await.expect_err("oci");
        assert_eq!(error.to_string(), "oci module references (`oci:x:1`) are not supported yet; use a local file");
    }
}
