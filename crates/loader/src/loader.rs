//! Fetching module bytes from each kind of source.

use std::path::Path;
use std::sync::Arc;

use wagi_config::{Invoice, ModuleRef, Parcel, WASM_MEDIA_TYPE};

use crate::cache::ContentCache;
use crate::error::{LoadError, NotWasm, TextProblem};
use crate::options::{BindleSource, LoaderOptions};
use wagi_config::Digest;

/// The bytes of one module, ready to compile.
#[derive(Clone, Debug)]
pub struct LoadedModule {
    /// Binary wasm.
    pub bytes: Arc<[u8]>,
    /// The sha256 of `bytes`.
    pub digest: Digest,
}

/// Loads modules from local files and, through its [`ContentCache`], from remote sources.
#[derive(Clone, Debug)]
pub struct Loader {
    cache: ContentCache,
    options: Arc<LoaderOptions>,
}

/// The first bytes of every binary wasm module.
const WASM_MAGIC: &[u8] = b"\0asm";

impl Loader {
    /// A loader whose remote fetches are cached in `cache`.
    pub fn new(cache: ContentCache, options: LoaderOptions) -> Self {
        Self { cache, options: Arc::new(options) }
    }

    /// The cache remote modules are kept in.
    pub fn cache(&self) -> &ContentCache {
        &self.cache
    }

    /// Loads the module `reference` names. Relative file paths must have been resolved already.
    pub async fn load(&self, reference: &ModuleRef) -> Result<LoadedModule, LoadError> {
        match reference {
            ModuleRef::File(path) => load_file(path).await,
            ModuleRef::Oci(reference) => {
                let bytes =
                    crate::oci::fetch(reference, &self.cache, self.options.reach(), &self.options.registry).await?;
                Ok(binary_module(bytes))
            }
            ModuleRef::Bindle { id, server } => {
                let server = server.clone().ok_or_else(|| LoadError::Bindle {
                    id: id.clone(),
                    message: "a `bindle:` module needs `bindle_server`".to_owned(),
                })?;
                let source = BindleSource::Server(server);
                let invoice = self.invoice(&source, id).await?;
                let parcel = invoice.first_module().ok_or_else(|| LoadError::Bindle {
                    id: id.clone(),
                    message: format!("the invoice has no global parcel of media type `{WASM_MEDIA_TYPE}`"),
                })?;
                Ok(binary_module(
                    crate::bindle::parcel(&source, &parcel, &self.cache, self.options.reach(), &self.options.bindle)
                        .await?,
                ))
            }
            ModuleRef::Parcel(parcel) => {
                let source = self.options.bindle.source.as_ref().ok_or_else(|| LoadError::Bindle {
                    id: parcel.bindle.clone(),
                    message: "no bindle source was given".to_owned(),
                })?;
                Ok(binary_module(
                    crate::bindle::parcel(source, parcel, &self.cache, self.options.reach(), &self.options.bindle)
                        .await?,
                ))
            }
            ModuleRef::Url { url, digest } => {
                Ok(binary_module(crate::url::fetch(url, *digest, &self.cache, self.options.reach()).await?))
            }
        }
    }

    /// Reads the invoice of bindle `id` from `source`.
    pub async fn invoice(&self, source: &BindleSource, id: &str) -> Result<Invoice, LoadError> {
        crate::bindle::invoice(source, id, &self.cache, self.options.reach(), &self.options.bindle).await
    }

    /// Fetches the asset parcels of the bindle served with `-b` into `dir`, each file at its
    /// label name.
    pub async fn place_assets(&self, assets: &[Parcel], dir: &Path) -> Result<(), LoadError> {
        let Some(source) = &self.options.bindle.source else { return Ok(()) };
        crate::bindle::place_assets(source, assets, dir, &self.cache, self.options.reach(), &self.options.bindle).await
    }
}

async fn load_file(path: &Path) -> Result<LoadedModule, LoadError> {
    let bytes = tokio::fs::read(path).await.map_err(|source| LoadError::Read { path: path.to_owned(), source })?;
    let bytes = to_binary(bytes).map_err(|source| LoadError::InvalidWat { path: path.to_owned(), source })?;
    Ok(binary_module(bytes))
}

fn binary_module(bytes: Vec<u8>) -> LoadedModule {
    let digest = Digest::of(&bytes);
    LoadedModule { bytes: bytes.into(), digest }
}

/// Converts WAT text to binary wasm; binary input is returned as it is.
fn to_binary(bytes: Vec<u8>) -> Result<Vec<u8>, NotWasm> {
    if bytes.starts_with(WASM_MAGIC) {
        return Ok(bytes);
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| NotWasm::NotText)?;
    parse_wat(text).map_err(|error| {
        // Only the position and the kind are kept: the error's message may quote the text.
        let (line, column) = error.span().linecol_in(text);
        let problem = if error.lex_error().is_some() { TextProblem::Token } else { TextProblem::Syntax };
        NotWasm::InvalidText { problem, line: line + 1, column: column + 1 }
    })
}

fn parse_wat(text: &str) -> Result<Vec<u8>, wast::Error> {
    let buffer = wast::parser::ParseBuffer::new(text)?;
    wast::parser::parse::<wast::Wat<'_>>(&buffer)?.encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wat_is_recognised_by_content_and_binary_passes_through() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text_path = dir.path().join("module.wasm");
        std::fs::write(&text_path, "(module)").expect("write");
        let loader = Loader::new(ContentCache::new(dir.path().join("cache")), LoaderOptions::default());
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
        let loader = Loader::new(ContentCache::new(dir.path()), LoaderOptions::default());
        let bad = dir.path().join("bad.wat");
        std::fs::write(&bad, "(module (func $f (oops)))").expect("write");
        let error = loader.load(&ModuleRef::File(bad)).await.expect_err("invalid WAT");
        assert!(matches!(error, LoadError::InvalidWat { .. }), "{error}");
    }

    fn check_not_wasm(content: &[u8], expected: &str) {
        let error = to_binary(content.to_vec()).expect_err("not a module");
        assert_eq!(
            error.to_string(),
            format!("not WebAssembly: expected a binary module or WebAssembly text; {expected}")
        );
    }

    #[test]
    fn not_wasm_errors_give_a_position_and_never_the_text() {
        check_not_wasm(
            b"SECRET_TOKEN=hunter2\0PATH=/bin\0",
            "the text has a token WebAssembly text cannot contain at line 1, column 21",
        );
        check_not_wasm(b"SECRET_TOKEN=hunter2\n", "the text does not parse at line 1, column 1");
        check_not_wasm(b"(module\n  (func $f (oops_hunter2)))", "the text does not parse at line 2, column 13");
        check_not_wasm(
            b"(module \"hunter2",
            "the text has a token WebAssembly text cannot contain at line 1, column 17",
        );
        check_not_wasm(b"\xffhunter2", "the file is not UTF-8 text");
        check_not_wasm(b"(module (func $hunter2) (func $hunter2))", "the text does not parse at line 1, column 31");
    }
}
