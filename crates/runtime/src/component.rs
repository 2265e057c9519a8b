//! Components: telling one from a core module, the pool slots one takes, and linking it: all of
//! WASI 0.2 that wasmtime-wasi provides, `wasi:http`, wagi-platform's interfaces (variables, key-value stores, SQLite), and
//! stubs for the imports wagi does not provide. Which kind of handler a component is (`kind/command.rs`, `kind/http.rs`) is decided
//! from its exports once it is linked.

use wagi_config::DEFAULT_ENTRYPOINT;
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre, Linker, ResourceType};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable};

use crate::error::Error;
use crate::state::State;

/// The WASI 0.2 packages that `wasmtime_wasi::p2::add_to_linker_async` provides. An import from
/// any other package is stubbed with a function that traps when called.
const PROVIDED_PACKAGES: &[&str] =
    &["wasi:cli", "wasi:clocks", "wasi:filesystem", "wasi:http", "wasi:io", "wasi:random", "wasi:sockets"];

/// The namespaces of Spin's own interfaces (`spin:key-value`, `fermyon:spin/sqlite`...). A component
/// that imports one is refused when it is linked.
const SPIN_PACKAGES: &[&str] = &["spin:", "fermyon:"];

/// Whether `wasm` is a component in the binary format, as opposed to a core module: the two
/// share the magic number and differ in the layer field that follows the version.
pub(crate) fn is_component(wasm: &[u8]) -> bool {
    wasm.starts_with(b"\0asm") && wasm.get(6..8) == Some(&[0x01, 0x00])
}

/// The WASI versions a component linker provides.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wasi {
    /// WASI 0.2.
    V02,
    /// WASI 0.3 and 0.2, for the engine with the component model's `async`.
    V03,
}

/// The linker every component starts from: all of WASI 0.2 (and 0.3, for `Wasi::V03`) that
/// wasmtime-wasi implements, and `wasi:http`, whose outgoing requests the handler's
/// `allowed_hosts` govern.
pub(crate) fn linker(engine: &Engine, wasi: Wasi) -> Result<Linker<State>, Error> {
    let link_error = |e: wasmtime::Error| Error::Engine(format!("{e:#}"));
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link_error)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(link_error)?;
    if wasi == Wasi::V03 {
        // WASI 0.3 beside 0.2: a 0.3 component built with Rust's std imports both.
        wasmtime_wasi::p3::add_to_linker(&mut linker).map_err(link_error)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker).map_err(link_error)?;
    }
    wagi_platform::add_to_linker(&mut linker, wasi == Wasi::V03).map_err(link_error)?;
    Ok(linker)
}

/// Links `component`, from the `base` linker, with everything it imports, so a request only has to instantiate it.
/// Components run their `wasi:cli/run` or `wasi:http` export: any `entrypoint` other than the
/// default is an error.
pub(crate) fn instantiate_pre(
    base: &Linker<State>,
    engine: &Engine,
    component: &Component,
    entrypoint: &str,
) -> Result<InstancePre<State>, Error> {
    if entrypoint != DEFAULT_ENTRYPOINT {
        return Err(Error::ComponentEntrypoint(entrypoint.to_owned()));
    }
    let linker = linker_for(base, engine, component)?;
    linker.instantiate_pre(component).map_err(|e| Error::Link(format!("{e:#}")))
}

/// A copy of `base` in which every import of `component` from a package wagi does not provide
/// is a function that traps, naming the import, when called. Toolchains import more than a
/// program uses (componentize-js imports `wasi:http` even for hello-world), and such a
/// component must still instantiate.
fn linker_for(base: &Linker<State>, engine: &Engine, component: &Component) -> Result<Linker<State>, Error> {
    let mut linker = base.clone();
    let link_error = |e: wasmtime::Error| Error::Link(format!("{e:#}"));
    let shared = shared_resources(component, engine);
    for (name, import) in component.component_type().imports(engine) {
        let package = name.split('/').next().unwrap_or(name);
        if PROVIDED_PACKAGES.contains(&package)
            || wagi_platform::PROVIDED_INTERFACES.iter().any(|provided| name.starts_with(provided))
        {
            continue;
        }
        // A Spin application's interfaces are its data: a stub that traps would lose requests
        // later, so the component is refused now.
        if SPIN_PACKAGES.iter().any(|spin| package.starts_with(spin)) {
            return Err(Error::Link(format!("the component imports `{name}`, a Spin interface wagi does not provide")));
        }
        match import.ty {
            ComponentItem::ComponentInstance(instance) => {
                let mut stubs = linker.instance(name).map_err(link_error)?;
                for (item, export) in instance.exports(engine) {
                    match export.ty {
                        ComponentItem::ComponentFunc(_) => {
                            let called = format!("{name}#{item}");
                            stubs.func_new(item, move |_, _, _, _| Err(unprovided(&called))).map_err(link_error)?;
                        }
                        // A resource another interface defines (`use wasi:io/streams.{input-stream}`)
                        // must be that interface's; one of its own is a placeholder.
                        ComponentItem::Resource(resource) => {
                            let host = shared
                                .iter()
                                .find(|(imported, _)| *imported == resource)
                                .map_or_else(ResourceType::host::<Unprovided>, |(_, host)| *host);
                            stubs.resource(item, host, |_, _| Ok(())).map_err(link_error)?;
                        }
                        _ => {}
                    }
                }
            }
            ComponentItem::ComponentFunc(_) => {
                let called = name.to_owned();
                linker.root().func_new(name, move |_, _, _, _| Err(unprovided(&called))).map_err(link_error)?;
            }
            _ => {}
        }
    }
    Ok(linker)
}

/// The resources of `wasi:io` that the component imports, each with the host type that
/// wasmtime-wasi implements it with. Interfaces wagi does not provide use them too
/// (`wasi:http/types` uses streams, pollables and errors), and their stubs must agree.
fn shared_resources(component: &Component, engine: &Engine) -> Vec<(ResourceType, ResourceType)> {
    let host_type = |interface: &str, resource: &str| match (interface, resource) {
        ("wasi:io/poll", "pollable") => Some(ResourceType::host::<DynPollable>()),
        ("wasi:io/streams", "input-stream") => Some(ResourceType::host::<DynInputStream>()),
        ("wasi:io/streams", "output-stream") => Some(ResourceType::host::<DynOutputStream>()),
        ("wasi:io/error", "error") => Some(ResourceType::host::<wasmtime::Error>()),
        _ => None,
    };
    let mut shared = Vec::new();
    for (name, import) in component.component_type().imports(engine) {
        let interface = name.split('@').next().unwrap_or(name);
        let ComponentItem::ComponentInstance(instance) = import.ty else { continue };
        for (item, export) in instance.exports(engine) {
            if let (ComponentItem::Resource(imported), Some(host)) = (export.ty, host_type(interface, item)) {
                shared.push((imported, host));
            }
        }
    }
    shared
}

/// The host type behind stubbed resources; no value of it is ever made.
struct Unprovided;

fn unprovided(import: &str) -> wasmtime::Error {
    wasmtime::Error::msg(format!("the component called `{import}`, which wagi does not provide"))
}

/// The export of a `wasi:http` 0.2 component, without its patch version: any `0.2.x` is served.
pub(crate) const INCOMING_HANDLER_02: &str = "wasi:http/incoming-handler@0.2.";

/// Whether the component needs the engine with the component model's `async`: it imports or
/// exports a WASI 0.3 interface (`@0.3.x`), or it is a `wasi:http` 0.2 component whose instances
/// are `reused`, which wasmtime-wasi-http's dispatcher calls through that engine's concurrent
/// calls.
pub(crate) fn needs_concurrency(wasm: &[u8], reused: bool) -> bool {
    let is_03 = |name: &str| name.contains("@0.3.");
    wasmparser::Parser::new(0).parse_all(wasm).any(|payload| match payload {
        Ok(wasmparser::Payload::ComponentImportSection(section)) => {
            section.into_iter().flatten().any(|import| is_03(import.name.name))
        }
        Ok(wasmparser::Payload::ComponentExportSection(section)) => section
            .into_iter()
            .flatten()
            .any(|export| is_03(export.name.name) || (reused && export.name.name.starts_with(INCOMING_HANDLER_02))),
        _ => false,
    })
}

/// How many pool slots one instance of `component` takes: the most of its core instances, its
/// memories and its tables. A componentize-py app is half a dozen core instances.
pub(crate) fn pool_slots(component: &Component, wasm: &[u8]) -> u32 {
    let resources = component.resources_required();
    let memories = resources.as_ref().map_or(1, |r| r.num_memories);
    let tables = resources.as_ref().map_or(1, |r| r.num_tables);
    core_instances(wasm).max(memories).max(tables).max(1)
}

/// The core instances a component creates: every `instantiate` in its core instance sections,
/// nested components included. Bytes that do not parse count as one; compiling them failed.
fn core_instances(wasm: &[u8]) -> u32 {
    let mut count = 0u32;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(wasmparser::Payload::InstanceSection(section)) = payload else { continue };
        for instance in section.into_iter().flatten() {
            if matches!(instance, wasmparser::Instance::Instantiate { .. }) {
                count += 1;
            }
        }
    }
    count.max(1)
}

#[cfg(test)]
mod tests {
    use super::is_component;

    #[test]
    fn components_are_told_from_modules_by_their_layer() {
        assert!(!is_component(b"\0asm\x01\0\0\0"));
        assert!(is_component(b"\0asm\x0d\0\x01\0"));
        assert!(!is_component(b"\0asm"));
    }
}
