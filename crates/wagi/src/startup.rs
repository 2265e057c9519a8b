//! Startup: configuration -> modules -> compiled handlers -> routing table.
//!
//! This is the one place where what the user wrote (`wagi-config`) becomes what runs
//! (`wagi-cgi` handlers in a `wagi-server` routing table).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use tokio::task::JoinSet;
use wagi_config::{
    AllowedHosts, Config, DEFAULT_ENTRYPOINT, Diagnostic, Diagnostics, Label, ModuleEntry, RoutePattern, Severity,
};
use wagi_loader::{
    BindleOptions, BindleSource, ContentCache, Digest, FilesError, LoadError, LoadedModule, Loader, LoaderOptions,
};
use wagi_runtime::{
    ArtifactCache, ArtifactOrigin, CompiledModule, HandlerSpec, InstanceAdmission, KeyValue, Limits, OutboundLimits,
    OutboundPolicy, Platform, ResponseOptions, Reuse, Runtime, Sqlite, Variables, VolumeSpec,
};
use wagi_server::{Metrics, Route, RoutingTable};

use crate::cli::{LimitArgs, OutboundArgs, ResponseArgs, SourceArgs};
use crate::config_source::{ConfigSource, Globals};
use crate::failure::{ConfigError, usage};
use crate::total_memory::TotalMemory;

/// A routing table built from the configuration, with what `wagi check` prints.
pub(crate) struct Loaded {
    pub(crate) table: RoutingTable,
    /// For `wagi check`: route, entrypoint and module of every route, most specific first.
    pub(crate) summary: Vec<(String, String, String)>,
}

/// What loading modules and running them takes from the command line, whatever the
/// configuration is: where modules are cached and fetched from, where their stderr goes, and
/// their default limits. `wagi run` builds it from its own flags, the other commands from
/// [`crate::cli::SourceArgs`].
pub(crate) struct ModuleSettings {
    /// Where fetched modules and compiled code are cached (default: the user's cache directory).
    pub(crate) module_cache: Option<PathBuf>,
    /// How modules are fetched from registries and Bindle servers.
    pub(crate) loader: LoaderOptions,
    /// Where each route's module stderr is appended (default: the user's state directory).
    pub(crate) log_dir: Option<PathBuf>,
    /// Every module's limits, unless its entry overrides them.
    pub(crate) limits: LimitArgs,
    /// Where modules may connect and how much they may do.
    pub(crate) outbound: OutboundArgs,
    /// When a response is sent from memory and when it streams.
    pub(crate) response: ResponseArgs,
}

impl ModuleSettings {
    /// Where fetched modules and compiled code are kept: `--module-cache` or the default.
    fn cache_dir(&self) -> PathBuf {
        self.module_cache.clone().unwrap_or_else(|| default_dir(DirKind::Cache))
    }

    /// A loader whose fetches are kept in [`ModuleSettings::cache_dir`].
    fn new_loader(&self) -> Loader {
        Loader::new(ContentCache::new(self.cache_dir()), self.loader.clone())
    }
}

/// Turns configurations into routing tables: once at startup and again on every reload, sharing
/// one engine.
pub(crate) struct Startup {
    settings: ModuleSettings,
    runtime: Arc<Runtime>,
    loader: Loader,
    artifacts: ArtifactCache,
    cache_dir: PathBuf,
    metrics: Arc<Metrics>,
    total_memory: TotalMemory,
}

impl Startup {
    /// Reads the configuration `source` names and starts the engine, sized for it. Returns the
    /// configuration for the first [`Startup::load`].
    pub(crate) async fn new(
        source: &ConfigSource,
        settings: ModuleSettings,
        metrics: Arc<Metrics>,
        admission: Option<Arc<dyn InstanceAdmission>>,
    ) -> Result<(Self, Config)> {
        let config = source.read(&settings.new_loader(), &settings.cache_dir()).await?;
        let startup = Self::for_config(settings, metrics, admission, &config)?;
        Ok((startup, config))
    }

    /// Starts the engine, sized for `config`, which the caller built itself (`wagi run`). Reused
    /// instances take their slots from `admission`, the server's, if there is one.
    pub(crate) fn for_config(
        settings: ModuleSettings,
        metrics: Arc<Metrics>,
        admission: Option<Arc<dyn InstanceAdmission>>,
        config: &Config,
    ) -> Result<Self> {
        let cache_dir = settings.cache_dir();
        let loader = settings.new_loader();
        let limits = &settings.limits;
        let max_memory = config.modules.iter().filter_map(|m| m.limits.max_memory).fold(limits.max_memory, u64::max);
        let total_memory = TotalMemory::new(limits.max_total_memory);
        let engine_options = wagi_runtime::EngineOptions {
            max_instances: limits.max_instances,
            max_memory,
            max_total_memory: total_memory.bytes(),
            memory_keep_resident: usize::try_from(limits.memory_keep_resident).unwrap_or(usize::MAX),
            outbound: outbound_limits(&settings.outbound),
            ..wagi_runtime::EngineOptions::default()
        };
        let mut runtime = Runtime::new(&engine_options).context("cannot start the wasm engine")?;
        runtime.set_observer(Arc::clone(&metrics) as Arc<dyn wagi_runtime::Observer>);
        if let Some(admission) = admission {
            runtime.set_instance_admission(admission);
        }
        let artifacts = ArtifactCache::new(cache_dir.join("compiled"));
        Ok(Self { settings, runtime: Arc::new(runtime), loader, artifacts, cache_dir, metrics, total_memory })
    }

    /// Fetches and compiles every module `config` names into the cache; returns each distinct
    /// module with its digest and whether it was compiled now or found compiled. With
    /// `progress`, reports each module on stderr as it is ready.
    pub(crate) async fn pull(&self, config: &Config, progress: bool) -> Result<Vec<(String, Digest, &'static str)>> {
        let modules = load_modules(&self.loader, config, &self.metrics).await?;
        let names: Vec<String> = config.modules.iter().map(module_name).collect();
        let reused = reused_entries(config, &self.settings.limits);
        let compiled =
            compile_all(&self.runtime, &modules, &names, &reused, &self.artifacts, &self.metrics, progress).await?;
        let mut pulled: Vec<_> =
            compiled.into_iter().map(|(digest, (name, _, origin))| (name, digest, origin_name(origin))).collect();
        pulled.sort();
        Ok(pulled)
    }

    /// Where fetched modules and compiled code are kept.
    pub(crate) fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// The startup line saying how much linear memory all instances may have together.
    pub(crate) fn total_memory_line(&self) -> String {
        self.total_memory.to_string()
    }

    /// Whether instances come from the pre-allocated pool.
    pub(crate) fn is_pooling(&self) -> bool {
        self.runtime.is_pooling()
    }

    /// Reads the configuration and the global variables `source` names again and builds a new
    /// table from them.
    pub(crate) async fn reload(&self, source: &ConfigSource) -> Result<Loaded> {
        let config = source.read(&self.loader, &self.cache_dir).await?;
        let globals = source.globals(&config)?;
        self.load(config, &globals).await
    }

    /// Loads, compiles and prepares everything `config` names, giving every module
    /// `globals.env` after its own variables, and the values of its templates.
    pub(crate) async fn load(&self, mut config: Config, globals: &Globals) -> Result<Loaded> {
        let settings = &self.settings;
        let runtime = &self.runtime;
        if let Some(entry) =
            config.modules.iter().find(|m| m.limits.max_memory.is_some_and(|max| max > runtime.max_memory()))
        {
            return Err(usage(&format!(
                "module `{}` asks for more memory than the engine was started with ({} bytes); restart wagi to raise it",
                entry.route,
                runtime.max_memory()
            )));
        }
        let stores = globals.stores.open(&config).await?;
        let databases = globals.stores.open_databases(&config)?;
        let modules = load_modules(&self.loader, &config, &self.metrics).await?;
        let limits = &settings.limits;
        let overrides = allowed_hosts_overrides(&settings.outbound, &config)?;
        let names: Vec<String> = config.modules.iter().map(module_name).collect();
        let reused = reused_entries(&config, limits);
        let compiled = compile_all(runtime, &modules, &names, &reused, &self.artifacts, &self.metrics, false).await?;
        check_component_entries(&config, &modules, &compiled)?;

        let log_dir = settings.log_dir.clone().unwrap_or_else(default_log_dir);
        let mut routes = Vec::new();
        let mut summary = Vec::new();
        for (entry, module) in config.modules.drain(..).zip(&modules) {
            let (_, compiled, _) = &compiled[&module.digest];
            let module_name = module_name(&entry);
            let entry_limits = entry_limits(&entry, limits);
            let outbound = OutboundPolicy {
                allowed_hosts: overrides.get(&entry.route).cloned().unwrap_or_else(|| entry.allowed_hosts.clone()),
                max_concurrency: entry.http_max_concurrency,
            };
            let discovered = runtime
                .discover_routes(compiled, &entry_limits, &stderr_log(&log_dir, &entry.route))
                .await
                .with_context(|| format!("cannot read the routes of module `{module_name}`"))?;
            // `_routes` lines come first, last printed first, so they win over the parent and over
            // each other in the original's order.
            let mut handlers: Vec<(RoutePattern, String)> = discovered
                .unwrap_or_default()
                .into_iter()
                .rev()
                .map(|sub| (entry.route.join(&sub.route), sub.entrypoint))
                .collect();
            handlers.push((entry.route.clone(), entry.entrypoint.clone()));
            let mut volumes: Vec<VolumeSpec> = entry
                .volumes
                .iter()
                .map(|v| VolumeSpec {
                    guest_path: v.guest_path.clone(),
                    host_path: v.host_path.clone(),
                    read_only: v.read_only,
                })
                .collect();
            if let Some(files) = entry.files.clone() {
                let dir = self.cache_dir.join("files");
                let staged = tokio::task::spawn_blocking(move || wagi_loader::stage_files(&files, &dir))
                    .await
                    .context("staging files")?
                    .map_err(|error| files_error(&config.source, &entry, &module_name, error))?;
                volumes.push(VolumeSpec { guest_path: "/".to_owned(), host_path: staged, read_only: true });
            }
            let variables =
                entry.variables.iter().map(|(name, template)| (name.clone(), template.render(&globals.variables)));
            let names = |labels: &[Label]| labels.iter().map(|label| label.name.clone()).collect::<Vec<_>>();
            let platform = Arc::new(Platform {
                variables: Variables::new(variables.collect()),
                key_value: KeyValue::new(&stores, &names(&entry.key_value_stores)),
                sqlite: Sqlite::new(&databases, &names(&entry.sqlite_databases)),
            });
            for (pattern, entrypoint) in handlers {
                let spec = HandlerSpec {
                    name: module_name.clone(),
                    route: Arc::from(pattern.to_string()),
                    entrypoint: entrypoint.clone(),
                    argv_template: entry.argv.clone(),
                    environment: entry
                        .environment
                        .iter()
                        .map(|(name, template)| (name.clone(), template.render(&globals.variables)))
                        .chain(globals.env.iter().cloned())
                        .collect(),
                    volumes: volumes.clone(),
                    outbound: outbound.clone(),
                    limits: entry_limits,
                    response: ResponseOptions {
                        hold: usize::try_from(settings.response.hold).unwrap_or(usize::MAX),
                        flush_interval: settings.response.flush_interval,
                    },
                    stderr_log: Some(stderr_log(&log_dir, &pattern)),
                    reuse: entry_reuse(&entry, limits),
                    platform: Arc::clone(&platform),
                };
                let handler = runtime
                    .prepare(compiled, spec)
                    .with_context(|| format!("cannot prepare module `{module_name}` for route `{pattern}`"))?;
                summary.push((pattern.to_string(), entrypoint, module_name.clone()));
                let max_body = entry.limits.max_body.unwrap_or(limits.max_body);
                routes.push(Route::new(pattern, Arc::new(handler), max_body));
            }
        }
        let table = RoutingTable::new(routes);
        let order: HashMap<String, usize> =
            table.routes().iter().enumerate().map(|(idx, r)| (r.pattern.to_string(), idx)).collect();
        summary.sort_by_key(|(route, _, _)| order.get(route).copied().unwrap_or(usize::MAX));
        for (route, _, _) in summary.iter().filter(|(route, _, _)| wagi_server::is_shadowed_by_healthz(route)) {
            tracing::warn!("the route `{route}` never sees a request for `/healthz`: wagi answers it itself");
        }
        Ok(Loaded { table, summary })
    }
}

/// An `entrypoint` other than the default exists only for core modules: a component always runs
/// its `wasi:cli/run` or `wasi:http` handler export.
fn check_component_entries(
    config: &Config,
    modules: &[LoadedModule],
    compiled: &HashMap<Digest, (String, CompiledModule, ArtifactOrigin)>,
) -> Result<()> {
    let errors: Vec<_> = config
        .modules
        .iter()
        .zip(modules)
        .filter(|(entry, module)| entry.entrypoint != DEFAULT_ENTRYPOINT && compiled[&module.digest].1.is_component())
        .map(|(entry, _)| {
            let message = format!(
                "`entrypoint = \"{}\"` is only for core modules; this module is a component, which runs its `wasi:cli/run` or `wasi:http` handler export",
                entry.entrypoint
            );
            config.error_at(entry.module_location, Some(format!("module `{}`", entry.route)), message)
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(ConfigError(Diagnostics(errors)).into()) }
}

async fn load_modules(loader: &Loader, config: &Config, metrics: &Metrics) -> Result<Vec<LoadedModule>> {
    let mut tasks = JoinSet::new();
    for (idx, entry) in config.modules.iter().enumerate() {
        let loader = loader.clone();
        let reference = entry.module.clone();
        tasks.spawn(async move {
            let started = Instant::now();
            let result = loader.load(&reference).await;
            (idx, result, started.elapsed())
        });
    }
    let mut load_times = vec![Duration::ZERO; config.modules.len()];
    let mut loaded: Vec<Option<LoadedModule>> = vec![None; config.modules.len()];
    let mut errors = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (idx, result, took) = joined.context("a module load task failed")?;
        load_times[idx] = took;
        let entry = &config.modules[idx];
        match result {
            Ok(module) => loaded[idx] = Some(module),
            Err(LoadError::Invoice(diagnostics)) => errors.extend(diagnostics.0),
            Err(error) => {
                let message = format!("{:#}", anyhow!(error));
                errors.push(config.error_at(entry.module_location, Some(format!("module `{}`", entry.route)), message));
            }
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|d| d.location);
        return Err(ConfigError(Diagnostics(errors)).into());
    }
    let loaded: Vec<LoadedModule> = loaded.into_iter().flatten().collect();
    for (entry, took) in config.modules.iter().zip(load_times) {
        metrics.module_fetched(&module_name(entry), took);
    }
    Ok(loaded)
}

/// Whether each entry of `config` reuses its instances.
fn reused_entries(config: &Config, limits: &LimitArgs) -> Vec<bool> {
    config.modules.iter().map(|entry| entry_reuse(entry, limits).requests > 1).collect()
}

/// How many requests one instance of `entry`'s module serves.
fn entry_reuse(entry: &ModuleEntry, limits: &LimitArgs) -> Reuse {
    Reuse {
        requests: entry.reuse.requests.unwrap_or(limits.instance_reuse),
        concurrency: entry.reuse.concurrency.unwrap_or(limits.instance_concurrency),
    }
}

/// Compiles each distinct module once, in parallel, off the async threads, or loads the code
/// compiled for it by an earlier start. A module is compiled for reuse if any entry that names
/// it (`reused`, one per entry) reuses its instances.
async fn compile_all(
    runtime: &Arc<Runtime>,
    modules: &[LoadedModule],
    names: &[String],
    reused: &[bool],
    artifacts: &ArtifactCache,
    metrics: &Metrics,
    progress: bool,
) -> Result<HashMap<Digest, (String, CompiledModule, ArtifactOrigin)>> {
    let mut tasks = JoinSet::new();
    let mut seen = std::collections::HashSet::new();
    let reused_digests: std::collections::HashSet<Digest> =
        modules.iter().zip(reused).filter(|(_, reused)| **reused).map(|(module, _)| module.digest).collect();
    for (module, name) in modules.iter().zip(names) {
        if !seen.insert(module.digest) {
            continue;
        }
        let large = module.bytes.len() >= LARGE_MODULE && !artifacts.holds(runtime, &module.digest.to_hex());
        if large {
            eprintln!("compiling module `{name}` ({}); this can take a while", megabytes(module.bytes.len()));
        }
        let runtime = Arc::clone(runtime);
        let module = module.clone();
        let name = name.clone();
        let artifacts = artifacts.clone();
        let reused = reused_digests.contains(&module.digest);
        tasks.spawn_blocking(move || {
            let started = Instant::now();
            let result = runtime.compile_cached(&module.bytes, &module.digest.to_hex(), &artifacts, reused);
            (module.digest, name, result, started.elapsed(), large)
        });
    }
    let mut compiled = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (digest, name, result, took, large) = joined.context("a compile task failed")?;
        let (module, origin) = result.with_context(|| format!("cannot compile module `{name}` ({digest})"))?;
        if large && origin == ArtifactOrigin::Compiled {
            eprintln!("compiled module `{name}` in {took:.1?}; later starts load it from the module cache");
        }
        metrics.module_compiled(&name, took, origin == ArtifactOrigin::Cache);
        tracing::debug!(module = %name, %digest, ?origin, "module ready");
        if progress {
            eprintln!("[{}/{}] {} {name} in {took:.1?}", compiled.len() + 1, seen.len(), origin_name(origin));
        }
        compiled.insert(digest, (name, module, origin));
    }
    Ok(compiled)
}

/// Modules at least this large say when they are compiled, since that takes seconds: an 18 MB
/// Python component takes about 9 s with an optimised build.
const LARGE_MODULE: usize = 1 << 20;

fn megabytes(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn origin_name(origin: ArtifactOrigin) -> &'static str {
    match origin {
        ArtifactOrigin::Cache => "cached",
        ArtifactOrigin::Compiled => "compiled",
    }
}

fn entry_limits(entry: &ModuleEntry, global: &LimitArgs) -> Limits {
    Limits {
        timeout: entry.limits.timeout.unwrap_or(global.timeout),
        max_memory: entry.limits.max_memory.unwrap_or(global.max_memory),
        max_output: usize::try_from(global.max_output).unwrap_or(usize::MAX),
        ..Limits::default()
    }
}

/// A problem with one `files` entry is the manifest's, reported at its line; others, such as a
/// file that cannot be copied, are the host's.
fn files_error(source: &str, entry: &ModuleEntry, module_name: &str, error: FilesError) -> anyhow::Error {
    match error.location() {
        Some(location) => ConfigError(Diagnostics(vec![Diagnostic {
            severity: Severity::Error,
            source: source.to_owned(),
            location,
            item: Some(format!("module `{}`", entry.route)),
            message: error.to_string(),
        }]))
        .into(),
        None => anyhow::Error::new(error).context(format!("cannot stage the files of module `{module_name}`")),
    }
}

fn outbound_limits(args: &OutboundArgs) -> OutboundLimits {
    OutboundLimits {
        timeout: args.timeout,
        max_body: usize::try_from(args.max_body).unwrap_or(usize::MAX),
        max_requests: args.max_requests,
        max_held: usize::try_from(args.max_held).unwrap_or(usize::MAX),
        ..OutboundLimits::default()
    }
}

/// `--allowed-hosts ROUTE=HOSTS` by route; a route no entry has is a usage error.
fn allowed_hosts_overrides(args: &OutboundArgs, config: &Config) -> Result<HashMap<RoutePattern, AllowedHosts>> {
    let mut overrides = HashMap::new();
    for (route, hosts) in &args.allowed_hosts {
        let pattern = RoutePattern::parse(route).map_err(|e| usage(&format!("--allowed-hosts: {e}")))?;
        if !config.modules.iter().any(|entry| entry.route == pattern) {
            return Err(usage(&format!("--allowed-hosts: no module entry has the route `{route}`")));
        }
        overrides.insert(pattern, hosts.clone());
    }
    Ok(overrides)
}

fn module_name(entry: &ModuleEntry) -> String {
    match &entry.module {
        wagi_config::ModuleRef::File(path) => path.display().to_string(),
        wagi_config::ModuleRef::Oci(reference) => reference.text.clone(),
        wagi_config::ModuleRef::Bindle { id, .. } => format!("bindle:{id}"),
        wagi_config::ModuleRef::Parcel(parcel) => parcel.name.clone(),
        wagi_config::ModuleRef::Url { url, .. } => url.clone(),
    }
}

/// Where module stderr goes without `--log-dir`.
pub(crate) fn default_log_dir() -> PathBuf {
    default_dir(DirKind::Logs)
}

/// `<log-dir>/<sha256(route)>/module.stderr`, the original's layout.
pub(crate) fn stderr_log(log_dir: &Path, route: &RoutePattern) -> PathBuf {
    log_dir.join(Digest::of(route.to_string().as_bytes()).to_hex()).join("module.stderr")
}

enum DirKind {
    /// Fetched modules and compiled code: `<cache dir>/wagi`.
    Cache,
    /// Module stderr logs: `<state dir>/wagi/logs`.
    Logs,
}

/// A stable per-user directory, so a restart finds what the last start cached.
fn default_dir(kind: DirKind) -> PathBuf {
    match kind {
        DirKind::Cache => dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("wagi"),
        DirKind::Logs => {
            dirs::state_dir().or_else(dirs::cache_dir).unwrap_or_else(std::env::temp_dir).join("wagi").join("logs")
        }
    }
}

/// What the original WAGI used when `-b` came without `--bindle-url` or `--bindle-path`.
const DEFAULT_BINDLE_URL: &str = "http://localhost:8080/v1";

impl SourceArgs {
    /// Splits the flags into where the configuration comes from, read again on every reload,
    /// and what loading its modules takes.
    pub(crate) fn split(self) -> (ConfigSource, ModuleSettings) {
        // `--bindle-path`, else `--bindle-url` or its default.
        let bindle_source = self.bindle.as_ref().map(|_| match self.bindle_path {
            Some(dir) => BindleSource::Directory(dir),
            None => BindleSource::Server(self.bindle_url.unwrap_or_else(|| DEFAULT_BINDLE_URL.to_owned())),
        });
        let loader = LoaderOptions {
            bindle: BindleOptions {
                source: bindle_source.clone(),
                credentials: self.bindle_http_user.zip(self.bindle_http_password),
                accept_invalid_certs: self.bindle_insecure,
            },
            ..self.registry.loader_options()
        };
        let config = if self.bindle.is_some() { self.config } else { find_config(self.config) };
        let source = ConfigSource {
            config,
            bindle: self.bindle.zip(bindle_source),
            env_files: self.env_file,
            env: self.env,
            variables: self.variables,
            variables_file: self.variables_file,
            runtime_config_file: self.runtime_config_file,
            state_dir: self.state_dir,
        };
        let settings = ModuleSettings {
            module_cache: self.module_cache,
            loader,
            log_dir: self.log_dir,
            limits: self.limits,
            outbound: self.outbound,
            response: self.response,
        };
        (source, settings)
    }
}

/// The configuration file to serve: `config` when it is a file; else, in the directory
/// `config` names or, with no `-c`, in the working directory, `modules.toml`, else `spin.toml`,
/// saying which on stderr. `None` when there is nothing to find.
fn find_config(config: Option<PathBuf>) -> Option<PathBuf> {
    let dir = match config {
        Some(path) if !path.is_dir() => return Some(path),
        Some(dir) => dir,
        None => PathBuf::new(),
    };
    let found = CONFIG_NAMES.iter().map(|name| dir.join(name)).find(|path| path.is_file());
    match &found {
        Some(path) => eprintln!("serving `{}`", path.display()),
        None if dir.as_os_str().is_empty() => return None,
        None => return Some(dir),
    }
    found
}

/// The files `wagi` looks for when it is not told which configuration to serve, in order.
const CONFIG_NAMES: [&str; 2] = ["modules.toml", "spin.toml"];
