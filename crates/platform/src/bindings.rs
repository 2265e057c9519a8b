//! Host bindings generated from `wit/`, where each interface wagi provides is declared.

wasmtime::component::bindgen!({
    path: "wit",
    world: "wagi:platform/platform",
});
