//! The WASI 0.2 interfaces of variables, called by a component as a guest calls them: through
//! the canonical ABI, from a component written in WAT that imports `fermyon:spin/variables@2.0.0`
//! and `wasi:config/store` and exports one function for each.

use std::collections::BTreeMap;

use wagi_platform::{Platform, PlatformState, PlatformView, Variables};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};

/// Exports `spin-get: func(name: string) -> result<string, string>`, the value or the error's
/// message, and `config-get: func(key: string) -> option<string>`.
const COMPONENT: &str = r#"
(component
  (import "fermyon:spin/variables@2.0.0" (instance $spin
    (type $error (variant (case "invalid-name" string) (case "undefined" string) (case "provider" string) (case "other" string)))
    (export "error" (type $e (eq $error)))
    (export "get" (func (param "name" string) (result (result string (error $e)))))))
  (import "wasi:config/store@0.2.0-draft-2024-09-27" (instance $config
    (type $error (variant (case "upstream" string) (case "io" string)))
    (export "error" (type $e (eq $error)))
    (export "get" (func (param "key" string) (result (result (option string) (error $e)))))))

  ;; Memory and a bump allocator, which never frees.
  (core module $memory
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $at i32)
      (local.set $at (i32.and (i32.add (global.get $next) (i32.const 7)) (i32.const -8)))
      (global.set $next (i32.add (local.get $at) (local.get 3)))
      (local.get $at)))
  (core instance $m (instantiate $memory))
  (alias core export $m "memory" (core memory $mem))
  (alias core export $m "realloc" (core func $realloc))

  (alias export $spin "get" (func $spin-get))
  (alias export $config "get" (func $config-get))
  (core func $spin-get-lowered (canon lower (func $spin-get) (memory $mem) (realloc $realloc)))
  (core func $config-get-lowered (canon lower (func $config-get) (memory $mem) (realloc $realloc)))

  (core module $guest
    (import "m" "memory" (memory 1))
    (import "host" "spin-get" (func $spin-get (param i32 i32 i32)))
    (import "host" "config-get" (func $config-get (param i32 i32 i32)))
    ;; The import writes its result at 64; the export's result is built at 128.
    (func (export "spin-get") (param i32 i32) (result i32)
      (call $spin-get (local.get 0) (local.get 1) (i32.const 64))
      ;; result<string, string>: the tag, then the value's or the error's message.
      (i32.store (i32.const 128) (i32.load8_u (i32.const 64)))
      (if (i32.eqz (i32.load8_u (i32.const 64)))
        (then
          (i32.store (i32.const 132) (i32.load (i32.const 68)))
          (i32.store (i32.const 136) (i32.load (i32.const 72))))
        (else
          (i32.store (i32.const 132) (i32.load (i32.const 72)))
          (i32.store (i32.const 136) (i32.load (i32.const 76)))))
      (i32.const 128))
    (func (export "config-get") (param i32 i32) (result i32)
      (call $config-get (local.get 0) (local.get 1) (i32.const 64))
      ;; option<string>: some only when the call succeeded and found a value.
      (i32.store (i32.const 128) (i32.const 0))
      (if (i32.and (i32.eqz (i32.load8_u (i32.const 64))) (i32.load8_u (i32.const 68)))
        (then
          (i32.store (i32.const 128) (i32.const 1))
          (i32.store (i32.const 132) (i32.load (i32.const 72)))
          (i32.store (i32.const 136) (i32.load (i32.const 76)))))
      (i32.const 128)))
  (core instance $g (instantiate $guest
    (with "m" (instance $m))
    (with "host" (instance
      (export "spin-get" (func $spin-get-lowered))
      (export "config-get" (func $config-get-lowered))))))

  (func (export "spin-get") (param "name" string) (result (result string (error string)))
    (canon lift (core func $g "spin-get") (memory $mem) (realloc $realloc)))
  (func (export "config-get") (param "key" string) (result (option string))
    (canon lift (core func $g "config-get") (memory $mem) (realloc $realloc))))
"#;

/// A store's data: the platform and a resource table.
struct Data {
    platform: Platform,
    table: ResourceTable,
}

impl PlatformState for Data {
    fn platform(&mut self) -> PlatformView<'_> {
        PlatformView { platform: &self.platform, table: &mut self.table }
    }
}

/// A store of the component whose variables are `values`, and its two exports.
struct Guest {
    store: Store<Data>,
    instance: wasmtime::component::Instance,
}

impl Guest {
    fn new(values: &[(&str, &str)]) -> Self {
        let engine = Engine::default();
        let wasm = wat::parse_str(COMPONENT).expect("the component's WAT");
        let component = Component::new(&engine, wasm).expect("a component");
        let mut linker = Linker::new(&engine);
        wagi_platform::add_to_linker(&mut linker, false).expect("linked");
        let values: BTreeMap<String, String> = values.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let platform = Platform { variables: Variables::new(values), ..Platform::default() };
        let mut store = Store::new(&engine, Data { platform, table: ResourceTable::new() });
        let instance = linker.instantiate(&mut store, &component).expect("instantiated");
        Self { store, instance }
    }

    fn spin_get(&mut self, name: &str) -> Result<String, String> {
        let func = self
            .instance
            .get_typed_func::<(&str,), (Result<String, String>,)>(&mut self.store, "spin-get")
            .expect("the spin-get export");
        func.call(&mut self.store, (name,)).expect("called").0
    }

    fn config_get(&mut self, key: &str) -> Option<String> {
        let func = self
            .instance
            .get_typed_func::<(&str,), (Option<String>,)>(&mut self.store, "config-get")
            .expect("the config-get export");
        func.call(&mut self.store, (key,)).expect("called").0
    }
}

#[test]
fn spin_2_gives_a_value_or_says_why_there_is_none() {
    let mut guest = Guest::new(&[("title", "To do"), ("api_url", "https://example.com")]);
    assert_eq!(guest.spin_get("title"), Ok("To do".to_owned()));
    assert_eq!(guest.spin_get("api_url"), Ok("https://example.com".to_owned()));
    let undefined = guest.spin_get("nope").expect_err("undefined");
    assert!(undefined.contains("no variable `nope`"), "{undefined}");
    for invalid in ["invalid-name", "invalid!name", "4invalidname", "Title"] {
        let error = guest.spin_get(invalid).expect_err("an invalid name");
        assert!(error.contains("is not a variable name"), "{invalid}: {error}");
    }
}

#[test]
fn wasi_config_reads_the_same_values_and_has_none_for_other_keys() {
    let mut guest = Guest::new(&[("title", "To do")]);
    assert_eq!(guest.config_get("title").as_deref(), Some("To do"));
    assert_eq!(guest.config_get("nope"), None);
    assert_eq!(guest.config_get("Bad-Name"), None);
}
