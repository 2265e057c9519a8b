//! One component's variables, and the three interfaces that read them.

use std::collections::BTreeMap;

use wasmtime::component::{Accessor, HasData};

use crate::bindings::fermyon::spin::variables as spin2;
use crate::bindings::spin::variables::variables as spin3;
use crate::bindings::wasi::config::store as config;

/// A component's variables with their values, resolved when the configuration was loaded.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Variables {
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Variables {
    /// Names only: values may be secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

impl Variables {
    /// The variables `values` names.
    #[must_use]
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Self { values }
    }

    /// Whether the component has no variables.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Spin's answer to `get(name)`: the value, or why there is none.
    fn lookup(&self, name: &str) -> Result<String, Missing> {
        if !wagi_config::is_variable_name(name) {
            return Err(Missing::InvalidName(format!(
                "`{name}` is not a variable name: lower-case letters, digits and `_`, starting with a letter"
            )));
        }
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| Missing::Undefined(format!("the component has no variable `{name}`")))
    }
}

/// Why a variable has no value.
enum Missing {
    InvalidName(String),
    Undefined(String),
}

/// Lends the calling component's [`Variables`] to the interfaces.
pub(crate) struct Lend;

impl HasData for Lend {
    type Data<'a> = &'a Variables;
}

impl spin2::Host for &Variables {
    fn get(&mut self, name: String) -> Result<String, spin2::Error> {
        self.lookup(&name).map_err(|missing| match missing {
            Missing::InvalidName(reason) => spin2::Error::InvalidName(reason),
            Missing::Undefined(reason) => spin2::Error::Undefined(reason),
        })
    }
}

impl spin3::Host for &Variables {}

impl<T> spin3::HostWithStore<T> for Lend {
    async fn get(accessor: &Accessor<T, Self>, name: String) -> Result<String, spin3::Error> {
        accessor.with(|mut access| access.get().lookup(&name)).map_err(|missing| match missing {
            Missing::InvalidName(reason) => spin3::Error::InvalidName(reason),
            Missing::Undefined(reason) => spin3::Error::Undefined(reason),
        })
    }
}

/// `wasi:config/store` reads the same values by the same names; an unknown or invalid name is
/// simply absent.
impl config::Host for &Variables {
    fn get(&mut self, key: String) -> Result<Option<String>, config::Error> {
        Ok(self.values.get(&key).cloned())
    }

    fn get_all(&mut self) -> Result<Vec<(String, String)>, config::Error> {
        Ok(self.values.iter().map(|(name, value)| (name.clone(), value.clone())).collect())
    }
}
