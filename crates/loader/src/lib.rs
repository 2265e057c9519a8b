//! Turns a module reference into bytes and their sha256 digest.
//!
//! [`Loader::load`] takes a [`wagi_config::ModuleRef`] and returns a [`LoadedModule`]: binary
//! wasm (WAT text is converted, recognised by content rather than file extension) and its
//! [`Digest`]. Local files are read as they are; OCI registries (see [`RegistryOptions`]) are
//! reached with `oci-client`; bindles come from a Bindle server or a directory of standalone
//! bindles ([`BindleSource`]), their invoices read with [`Loader::invoice`]. Remote sources keep what they fetch in a [`ContentCache`], a
//! directory of blobs named by digest and verified on every read, so a warm start fetches
//! nothing for pinned references and corrupted entries are fetched again. [`stage_files`] copies
//! the files a Spin component is given into the directory it sees as `/`.
//!
//! This crate never compiles or runs wasm (see `wagi-runtime`) and has no wasmtime dependency.
#![deny(missing_docs)]

mod bindle;
mod cache;
mod error;
mod files;
mod loader;
mod oci;
mod options;
mod url;

pub use cache::ContentCache;
pub use error::{LoadError, NotWasm, TextProblem};
pub use files::{FilesError, stage_files};
pub use loader::{LoadedModule, Loader};
pub use options::{BindleOptions, BindleSource, LoaderOptions, RegistryOptions};
/// The digest every loaded module carries, defined with the configuration that names digests.
pub use wagi_config::Digest;

/// Makes `ring` the process's TLS crypto provider (the registry clients are built without one),
/// unless a provider is installed already.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
