//! WASI 0.2 command components as CGI programs: the `run` function of their `wasi:cli/run`
//! export is called per request, and they read argv, the environment, stdin and stdout through
//! WASI 0.2's interfaces, from the same WASI context a core module gets.

use wagi_cgi::CgiRequest;
use wasmtime::component::{Component, ComponentExportIndex, InstancePre};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;

use crate::error::{Error, RunError};
use crate::inputs::Inputs;
use crate::prepared::Prepared;
use crate::run::{Call, Instantiated, classify, instantiate_error};
use crate::state::State;

/// The export a command component runs, without its version: any `0.2.x` is accepted.
const RUN_INTERFACE: &str = "wasi:cli/run@0.2.";

/// A command component, linked.
pub(crate) struct Command {
    pre: InstancePre<State>,
    /// The `run` function of its `wasi:cli/run` export.
    run: ComponentExportIndex,
}

impl Command {
    /// Finds the `run` function of `component`'s `wasi:cli/run@0.2.x` export.
    pub(crate) fn link(pre: InstancePre<State>, component: &Component, engine: &Engine) -> Result<Self, Error> {
        let component_type = component.component_type();
        let export_named =
            |prefix: &str| component_type.exports(engine).map(|(name, _)| name).find(|name| name.starts_with(prefix));
        let Some(interface) = export_named(RUN_INTERFACE) else {
            return Err(Error::MissingEntrypoint("wasi:cli/run` or `wasi:http/incoming-handler".to_owned()));
        };
        let instance = component.get_export_index(None, interface);
        let run = component
            .get_export_index(instance.as_ref(), "run")
            .ok_or_else(|| Error::MissingEntrypoint(format!("{interface}#run")))?;
        Ok(Self { pre, run })
    }

    /// Puts the request's argv and environment in the component's WASI context.
    pub(crate) fn inputs(prepared: &Prepared, request: &CgiRequest<'_>, builder: &mut WasiCtxBuilder) -> Inputs {
        request.for_each_arg(prepared.spec.argv_template.as_deref(), |arg| {
            builder.arg(arg);
        });
        request.for_each_var(&prepared.static_env, |name, value| {
            match value {
                [value] => builder.env(name, value),
                parts => builder.env(name, joined(parts)),
            };
        });
        Inputs::default()
    }
}

/// The pieces of a value as one string (`concat` takes a slower, generic path).
fn joined(parts: &[&str]) -> String {
    let mut value = String::with_capacity(parts.iter().map(|part| part.len()).sum());
    parts.iter().for_each(|part| value.push_str(part));
    value
}

impl Call for Command {
    fn engine(&self) -> &Engine {
        self.pre.engine()
    }

    async fn call(&self, store: &mut Store<State>, instantiated: &Instantiated<'_>) -> Result<(), RunError> {
        let instance = self.pre.instantiate_async(&mut *store).await.map_err(instantiate_error)?;
        instantiated.report();
        let func = instance
            .get_typed_func::<(), (Result<(), ()>,)>(&mut *store, &self.run)
            .map_err(|e| RunError::Instantiate(format!("`wasi:cli/run`: {e:#}")))?;
        match func.call_async(&mut *store, ()).await {
            Ok((Ok(()),)) => Ok(()),
            // `run` returning its error is the same failure as exiting with 1.
            Ok((Err(()),)) => Err(RunError::Exit(1)),
            Err(error) => classify(error),
        }
    }
}
