//! The application services wagi gives components beside WASI and `wasi:http`: a component's
//! variables, through Spin's `spin:variables/variables@3.0.0` (spin-sdk 7), its older
//! `fermyon:spin/variables@2.0.0`, and the standard `wasi:config/store`.
//!
//! The values are resolved once, when the configuration is loaded (`wagi-config` has the
//! declarations, the templates and the resolution); a [`Variables`] holds one component's and
//! answers its calls. This crate knows no manifests, sockets or HTTP: [`add_to_linker`] puts the
//! interfaces into a component linker whose store data can lend a [`Variables`].

mod bindings;
mod variables;

pub use variables::Variables;

use wasmtime::component::Linker;

/// The interface names this crate provides, as a component imports them (without the patch
/// version for Spin's).
pub const PROVIDED_INTERFACES: &[&str] =
    &["spin:variables/variables@3.0.", "fermyon:spin/variables@2.0.", "wasi:config/store@0.2.0-draft-2024-09-27"];

/// Adds every interface to `linker`; the WASI 0.3 ones (`async` functions) only when `concurrent`,
/// for an engine with the component model's `async`. `variables` lends the calling component's
/// [`Variables`] from its store's data.
///
/// # Errors
/// When an interface is already in `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    concurrent: bool,
    variables: fn(&mut T) -> &Variables,
) -> wasmtime::Result<()> {
    bindings::fermyon::spin::variables::add_to_linker::<T, variables::Lend>(linker, variables)?;
    bindings::wasi::config::store::add_to_linker::<T, variables::Lend>(linker, variables)?;
    if concurrent {
        bindings::spin::variables::variables::add_to_linker::<T, variables::Lend>(linker, variables)?;
    }
    Ok(())
}
