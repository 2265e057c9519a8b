//! WASI 0.3 command components as CGI programs: the `run` function of their `wasi:cli/run@0.3.x`
//! export, an `async` function, is called in the store's event loop per request. They read argv,
//! the environment and stdin and write stdout through WASI 0.3's interfaces, from the same WASI
//! context a 0.2 command component gets (`command.rs` puts argv and the environment in it).

use wasmtime::component::{Component, InstancePre};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p3::bindings::CommandPre;

use crate::error::{Error, RunError};
use crate::run::{Call, Instantiated, classify, instantiate_error};
use crate::state::State;

/// The export a WASI 0.3 command component runs, without its patch version.
const RUN_INTERFACE: &str = "wasi:cli/run@0.3.";

/// A WASI 0.3 command component, linked.
pub(crate) struct Command03 {
    pre: CommandPre<State>,
}

impl Command03 {
    /// Whether `component` exports `wasi:cli/run@0.3.x`.
    pub(crate) fn runs(component: &Component, engine: &Engine) -> bool {
        component.component_type().exports(engine).any(|(name, _)| name.starts_with(RUN_INTERFACE))
    }

    /// Links the component as a WASI 0.3 command.
    pub(crate) fn link(pre: InstancePre<State>) -> Result<Self, Error> {
        CommandPre::new(pre).map(|pre| Self { pre }).map_err(|e| Error::Link(format!("{e:#}")))
    }
}

impl Call for Command03 {
    fn engine(&self) -> &Engine {
        self.pre.engine()
    }

    async fn call(&self, store: &mut Store<State>, instantiated: &Instantiated<'_>) -> Result<(), RunError> {
        let command = self.pre.instantiate_async(&mut *store).await.map_err(instantiate_error)?;
        instantiated.report();
        match store.run_concurrent(async |accessor| command.wasi_cli_run().call_run(accessor).await).await {
            Ok(Ok(Ok(()))) => Ok(()),
            // `run` returning its error is the same failure as exiting with 1.
            Ok(Ok(Err(()))) => Err(RunError::Exit(1)),
            Ok(Err(error)) | Err(error) => classify(error),
        }
    }
}
