//! Core modules (WASI preview 1) as CGI programs: an exported function without parameters or
//! results (`_start` unless the entry names another) is called per request, and argv and the
//! environment are packed for the preview 1 calls that read them (`environ.rs`).

use wagi_cgi::CgiRequest;
use wasmtime::{Engine, Extern, ExternType, InstancePre, Module, ModuleExport, Store};
use wasmtime_wasi::WasiCtxBuilder;

use crate::engine::Runtime;
use crate::error::{Error, RunError};
use crate::inputs::{Inputs, StringList};
use crate::prepared::Prepared;
use crate::run::{Call, Instantiated, classify, instantiate_error};
use crate::state::State;

/// Room for the variables a request adds to the environment, in the common case: the
/// meta-variables and a few headers.
const REQUEST_ENVIRON_BYTES: usize = 1024;

/// A core module linked for one export.
pub(crate) struct Core {
    pre: InstancePre<State>,
    /// The export called.
    export: ModuleExport,
    /// The module's `memory` export, if it has one.
    memory: Option<ModuleExport>,
}

impl Core {
    /// Links `module` to call `entrypoint`, which must be a function without parameters or
    /// results.
    pub(crate) fn link(runtime: &Runtime, module: &Module, entrypoint: &str) -> Result<Self, Error> {
        let export = check_entrypoint(module, entrypoint)?;
        let pre = runtime.linker.instantiate_pre(module).map_err(|e| Error::Link(format!("{e:#}")))?;
        Ok(Self { pre, export, memory: memory_export(module) })
    }

    /// Packs the request's argv and environment for the module to read.
    pub(crate) fn inputs(prepared: &Prepared, request: &CgiRequest<'_>, _: &mut WasiCtxBuilder) -> Inputs {
        let template = prepared.spec.argv_template.as_deref();
        let mut args = StringList::with_capacity(request.raw_path().len() + request.query().map_or(0, str::len) + 8);
        request.for_each_arg(template, |arg| args.push(&[arg]));
        let mut environ = StringList::with_capacity(prepared.static_env.packed_len() + REQUEST_ENVIRON_BYTES);
        request.for_each_var(&prepared.static_env, |name, value| environ.push_var(name, value));
        Inputs { args, environ }
    }
}

impl Call for Core {
    fn engine(&self) -> &Engine {
        self.pre.module().engine()
    }

    async fn call(&self, store: &mut Store<State>, instantiated: &Instantiated<'_>) -> Result<(), RunError> {
        let instance = self.pre.instantiate_async(&mut *store).await.map_err(instantiate_error)?;
        instantiated.report();
        if let Some(memory) = &self.memory {
            let memory = instance.get_module_export(&mut *store, memory).and_then(Extern::into_memory);
            store.data_mut().memory = memory;
        }
        // `link` checked that the export is a function without parameters or results.
        let func = instance
            .get_module_export(&mut *store, &self.export)
            .and_then(Extern::into_func)
            .ok_or_else(|| RunError::Instantiate("the entrypoint is not a function".to_owned()))?;
        func.call_async(&mut *store, &[], &mut []).await.or_else(classify)
    }
}

/// The index of the module's `memory` export, the memory WASI calls read and write.
fn memory_export(module: &Module) -> Option<ModuleExport> {
    match module.get_export("memory") {
        Some(ExternType::Memory(_)) => module.get_export_index("memory"),
        _ => None,
    }
}

/// Checks that `name` is a function without parameters or results, and returns its index for
/// finding it in each instance without a lookup by name.
fn check_entrypoint(module: &Module, name: &str) -> Result<ModuleExport, Error> {
    match module.get_export(name) {
        Some(ExternType::Func(func)) if func.params().len() == 0 && func.results().len() == 0 => {
            module.get_export_index(name).ok_or_else(|| Error::MissingEntrypoint(name.to_owned()))
        }
        Some(ExternType::Func(func)) => {
            Err(Error::EntrypointSignature { name: name.to_owned(), found: format!("{func}") })
        }
        Some(other) => Err(Error::EntrypointSignature { name: name.to_owned(), found: format!("{other:?}") }),
        None => Err(Error::MissingEntrypoint(name.to_owned())),
    }
}
