//! Host bindings generated from `wit/`, where each interface wagi provides is declared.

wasmtime::component::bindgen!({
    path: "wit",
    world: "wagi:platform/platform",
    imports: {
        // Store operations wait for the backend; in WASI 0.3's interfaces they are `async`
        // functions already.
        "fermyon:spin/key-value": async,
        "fermyon:spin/sqlite": async,
        "wasi:keyvalue/store": async,
        "wasi:keyvalue/atomics": async,
        "wasi:keyvalue/batch": async,
        "spin:sqlite/sqlite.[static]connection.open": async,
        "spin:sqlite/sqlite.[method]connection.execute": async,
        "spin:sqlite/sqlite.[method]connection.execute-async": trappable,
        // Making the stream and the future it returns can fail in the host, which traps.
        "spin:key-value/key-value.[method]store.get-keys": trappable,
    },
    with: {
        "spin:key-value/key-value.store": crate::store::OpenStore,
        "fermyon:spin/key-value.store": crate::store::OpenStore,
        "spin:sqlite/sqlite.connection": crate::database::OpenConnection,
        "wasi:keyvalue/store.bucket": crate::store::OpenStore,
        "wasi:keyvalue/atomics.cas": crate::store::Cas,
        "fermyon:spin/sqlite.connection": crate::database::OpenConnection,
    },
});
