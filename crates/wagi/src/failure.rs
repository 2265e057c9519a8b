//! The two kinds of failure the user can fix, each ending wagi with exit code 2: a problem in
//! what they wrote ([`ConfigError`], printed as diagnostics with file and line), and a flag or
//! file that cannot be used ([`UsageError`]). Anything else exits with 1.

use wagi_config::Diagnostics;

/// A problem in what the user wrote: printed as diagnostics, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ConfigError(pub(crate) Diagnostics);

/// A flag or file the command line names that cannot be used: printed as is, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// A [`UsageError`] saying `message`.
pub(crate) fn usage(message: &str) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.to_owned()))
}
