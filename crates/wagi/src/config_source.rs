//! Where the configuration and what every module gets besides it are read from, at startup and
//! again on every reload: the modules.toml, Spin manifest or bindle invoice, the env files and
//! `-e`, the application variables' values, and where key-value stores and databases are kept.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use wagi_config::{Config, RuntimeConfig, Sources, Values, VariableError};
use wagi_loader::{BindleSource, Digest, LoadError, Loader};

use crate::failure::{ConfigError, usage};
use crate::stores::StoreSettings;

/// Where the configuration and the global variables are read from: at startup and again on
/// every reload, so these are the files a reload watches.
pub(crate) struct ConfigSource {
    /// The modules.toml of `-c`.
    pub(crate) config: Option<PathBuf>,
    /// The bindle id of `-b` and where that bindle comes from, served instead of a modules.toml.
    pub(crate) bindle: Option<(String, BindleSource)>,
    /// The dotenv files of `--env-file`, later ones overriding earlier ones.
    pub(crate) env_files: Vec<PathBuf>,
    /// The variables of `-e`, which override the env files.
    pub(crate) env: Vec<(String, String)>,
    /// `--variable` values, as written.
    pub(crate) variables: Vec<(String, String)>,
    /// `--variables-file`, else `.env` in the working directory when there is one.
    pub(crate) variables_file: Option<PathBuf>,
    /// `--runtime-config-file`.
    pub(crate) runtime_config_file: Option<PathBuf>,
    /// `--state-dir`.
    pub(crate) state_dir: Option<PathBuf>,
}

/// What every module gets besides its own configuration.
#[derive(Debug, Default)]
pub(crate) struct Globals {
    /// The variables every module's environment ends with.
    pub(crate) env: Vec<(String, String)>,
    /// The application variables' values.
    pub(crate) variables: Values,
    /// Where the key-value stores are defined and kept.
    pub(crate) stores: StoreSettings,
}

impl ConfigSource {
    /// Reads the modules.toml, or the invoice of the bindle given with `-b` (whose static files
    /// are placed in the cache now, so that handlers can mount them).
    pub(crate) async fn read(&self, loader: &Loader, cache_dir: &Path) -> Result<Config> {
        if let Some((id, bindle_source)) = &self.bindle {
            let invoice = loader.invoice(bindle_source, id).await.map_err(load_error)?;
            let assets_dir = cache_dir.join("assets").join(Digest::of(id.as_bytes()).to_hex());
            let (config, assets) = invoice.to_config(&assets_dir).map_err(ConfigError)?;
            loader.place_assets(&assets, &assets_dir).await.map_err(load_error)?;
            return Ok(config);
        }
        let path = self.config.as_deref().ok_or_else(|| {
            usage("no configuration: pass `-c modules.toml`, or run wagi where a `modules.toml` or `spin.toml` is")
        })?;
        if path.is_dir() {
            return Err(usage(&format!(
                "`{}` is a directory with no `modules.toml` or `spin.toml` in it; pass the file with `-c`",
                path.display()
            )));
        }
        let text = read_named_file(path, "--config")?;
        let source = path.display().to_string();
        let (mut config, mut warnings) = Config::parse(&text, &source).map_err(ConfigError)?;
        let config_dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let config_dir = std::path::absolute(config_dir).unwrap_or_else(|_| config_dir.to_owned());
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        warnings.extend(config.resolve_paths(&config_dir, &cwd).map_err(ConfigError)?);
        for warning in warnings {
            eprintln!("{warning}");
        }
        Ok(config)
    }

    /// What every module gets besides its own configuration, read as it is now: the variables
    /// of the env files and then `-e`, and the values of `config`'s application variables.
    pub(crate) fn globals(&self, config: &Config) -> Result<Globals> {
        let mut env = Vec::new();
        for path in &self.env_files {
            let text = read_named_file(path, "--env-file")?;
            env.extend(wagi_config::parse_env_file(&text, &path.display().to_string()).map_err(ConfigError)?);
        }
        env.extend(self.env.iter().cloned());
        let file = match self.variables_file() {
            Some(path) => {
                let text = read_named_file(&path, "--variables-file")?;
                wagi_config::parse_env_file(&text, &path.display().to_string()).map_err(ConfigError)?
            }
            None => Vec::new(),
        };
        let mut flags = Vec::with_capacity(self.variables.len());
        for (name, value) in &self.variables {
            let value = match value.strip_prefix('@') {
                Some(path) => read_named_file(Path::new(path), "--variable")?,
                None => value.clone(),
            };
            flags.push((name.clone(), value));
        }
        let env_var = |name: &str| std::env::var(name).ok();
        let sources = Sources { env: &env_var, file: &file, flags: &flags };
        let variables = config.variables.resolve(&sources).map_err(|error| {
            // A missing variable is reported at its declaration.
            let declared = match &error {
                VariableError::Missing(names) => names.first().and_then(|name| config.variables.0.get(name)),
                VariableError::Undeclared { .. } => None,
            };
            let at = declared.map(|d| format!(":{}:{}", d.location.line, d.location.col)).unwrap_or_default();
            usage(&format!("{}{at}: {error}", config.source))
        })?;
        let runtime = match &self.runtime_config_file {
            Some(path) => {
                let text = read_named_file(path, "--runtime-config-file")?;
                let runtime = RuntimeConfig::parse(&text, &path.display().to_string()).map_err(ConfigError)?;
                Some((std::path::absolute(path).unwrap_or_else(|_| path.clone()), runtime))
            }
            None => None,
        };
        let stores = StoreSettings { runtime, state_dir: self.state_dir() };
        Ok(Globals { env, variables, stores })
    }

    /// `--state-dir`, else `.wagi` beside the configuration file, or in the working directory
    /// when there is no file (`-b`).
    fn state_dir(&self) -> PathBuf {
        if let Some(dir) = &self.state_dir {
            return dir.clone();
        }
        let beside = self.config.as_deref().and_then(Path::parent).filter(|dir| !dir.as_os_str().is_empty());
        beside.unwrap_or(Path::new(".")).join(".wagi")
    }

    /// `--variables-file`, else `.env` in the working directory if there is one, as Spin reads it.
    fn variables_file(&self) -> Option<PathBuf> {
        self.variables_file.clone().or_else(|| Some(PathBuf::from(".env")).filter(|path| path.is_file()))
    }

    /// The files whose change means the configuration changed: the config, the env files and
    /// the variables file.
    pub(crate) fn watched_files(&self) -> Vec<PathBuf> {
        let files = self.config.iter().chain(&self.env_files).chain(&self.runtime_config_file).cloned();
        files.chain(self.variables_file()).collect()
    }
}

/// Reads a file the command line names; a missing file is a usage error.
fn read_named_file(path: &Path, flag: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|error| usage(&format!("cannot read `{}` ({flag}): {error}", path.display())))
}

/// A load failure outside any modules.toml entry: invoice diagnostics are a configuration error,
/// anything else a usage error naming the source.
fn load_error(error: LoadError) -> anyhow::Error {
    match error {
        LoadError::Invoice(diagnostics) => ConfigError(diagnostics).into(),
        other => usage(&format!("{:#}", anyhow!(other))),
    }
}
