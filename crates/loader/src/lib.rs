//! Turns a module reference into bytes and their sha256 digest.
//!
//! [`Loader::load`] takes a [`wagi_config::ModuleRef`] and returns a [`LoadedModule`]: binary
//! wasm (WAT text is converted, recognised by content rather than file extension) and its
//! [`Digest`]. Remote sources keep what they fetch in a [`ContentCache`], a directory of blobs
//! named by digest, so a second start fetches nothing and corrupted entries are fetched again.
//!
//! This crate never compiles or runs wasm (see `wagi-cgi`) and has no wasmtime dependency.
#![deny(missing_docs)]

mod cache;
mod digest;
mod loader;

pub use cache::ContentCache;
pub use digest::Digest;
pub use loader::{LoadError, LoadedModule, Loader};
