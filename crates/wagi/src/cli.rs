//! The command line: `wagi -c modules.toml` serves, `wagi check -c modules.toml` validates,
//! `wagi pull` fills the module cache and `wagi run MODULE` answers one request with no server.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use wagi_config::{AllowedHosts, parse_byte_size, parse_duration, parse_env_arg};
use wagi_loader::{LoaderOptions, RegistryOptions};

use crate::listen::{ListenAddress, parse_listen};

/// wagi's version, the wasmtime it links and the commit it was built from.
macro_rules! version {
    () => {
        concat!(
            env!("CARGO_PKG_VERSION"),
            " (wasmtime ",
            env!("WAGI_WASMTIME_VERSION"),
            ", commit ",
            env!("WAGI_COMMIT"),
            ")"
        )
    };
}

/// What `-V` says.
const VERSION: &str = version!();

/// What `--version` says: [`VERSION`], then what this build can run and serve. jemalloc is left
/// out with MSVC, where it does not build.
#[cfg(not(target_env = "msvc"))]
const LONG_VERSION: &str = concat!(
    version!(),
    "\nfeatures: wasi-p1, wasi-p2, wasi-p3, wasi-http, spin-variables, spin-key-value, spin-sqlite, redis, oci, \
     bindle, tls, otlp-traces, jemalloc"
);
#[cfg(target_env = "msvc")]
const LONG_VERSION: &str = concat!(
    version!(),
    "\nfeatures: wasi-p1, wasi-p2, wasi-p3, wasi-http, spin-variables, spin-key-value, spin-sqlite, redis, oci, \
     bindle, tls, otlp-traces"
);

/// WAGI: serve WebAssembly modules as CGI programs.
#[derive(Debug, Parser)]
#[command(name = "wagi", version = VERSION, long_version = LONG_VERSION, about, args_conflicts_with_subcommands = true, args_override_self = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check the configuration and every serve flag without serving, as `nginx -t` does: load
    /// and compile the modules, read the TLS pair, resolve the addresses, open the logs, and
    /// print the route table.
    #[command(args_override_self = true)]
    Check(Box<ServeArgs>),
    /// Fetch every module into the cache and compile it, without serving: warms the cache of an
    /// image or a volume (e.g. in a Kubernetes init container) so that startup compiles nothing.
    #[command(args_override_self = true)]
    Pull(Box<SourceArgs>),
    /// Run one request through a module, with no server and no port, and print its CGI
    /// response (or, with `--http`, the HTTP response the server would send). Exits with 0 when
    /// the module answered, 1 when it failed (the reason goes to stderr) and 2 on a usage error.
    #[command(args_override_self = true)]
    Run(Box<RunArgs>),
    /// Print what the module of ROUTE wrote to stderr: the route's file under `--log-dir`.
    Logs(LogsArgs),
    /// Print a completion script for SHELL: `wagi completions bash > /etc/bash_completion.d/wagi`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `wagi logs ROUTE`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The route, as written in the configuration (`/hello`, `/api/...`) or as `wagi check`
    /// prints it (a `_routes` sub-route has a file of its own).
    #[arg(value_name = "ROUTE")]
    pub(crate) route: String,

    /// The directory the server appends module stderr to (default: the user's state directory).
    #[arg(long = "log-dir", env = "WAGI_LOG_DIR", value_name = "LOG_DIR")]
    pub(crate) log_dir: Option<PathBuf>,

    /// Print the file's path instead of its contents.
    #[arg(long = "path")]
    pub(crate) path: bool,
}

/// `wagi run`: the request to build, the module to run it through, and that module's limits.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The request method [default: GET, or POST with `-d`].
    #[arg(short = 'X', long = "method", value_name = "METHOD")]
    pub(crate) method: Option<String>,

    /// A request header, `Name: value`; repeatable.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,

    /// The request body, or `@FILE` to send a file's content (`@-` reads stdin). Without a
    /// `Content-Type` header, it is sent as `application/x-www-form-urlencoded`, as curl does.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    pub(crate) data: Option<String>,

    /// A variable for the module, `NAME=VALUE`; repeatable.
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE", value_parser = parse_env_arg)]
    pub(crate) env: Vec<(String, String)>,

    /// A host directory the module sees at GUEST, `GUEST=HOST`, read-only with `GUEST=HOST:ro`;
    /// repeatable.
    #[arg(long = "volume", value_name = "GUEST=HOST[:ro]", value_parser = parse_volume_arg)]
    pub(crate) volumes: Vec<VolumeArg>,

    /// Print the HTTP response the server would send instead of the module's CGI response.
    #[arg(long = "http")]
    pub(crate) http: bool,

    /// Where fetched modules and compiled code are cached (default: the user's cache directory).
    #[arg(long = "module-cache", value_name = "MODULE_CACHE_DIR")]
    pub(crate) module_cache: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) registry: RegistryArgs,

    #[command(flatten)]
    pub(crate) limits: LimitArgs,

    #[command(flatten)]
    pub(crate) outbound: OutboundArgs,

    #[command(flatten)]
    pub(crate) response: ResponseArgs,

    /// The module: a file of binary wasm or WebAssembly text, or `oci://REGISTRY/REPOSITORY:TAG`.
    #[arg(value_name = "MODULE")]
    pub(crate) module: String,

    /// The request's path and query; the module is routed at `/...`, so it sees all of it as
    /// `PATH_INFO`.
    #[arg(value_name = "PATH?QUERY", default_value = "/")]
    pub(crate) target: String,
}

/// `--volume GUEST=HOST[:ro]`.
#[derive(Clone, Debug)]
pub(crate) struct VolumeArg {
    pub(crate) guest_path: String,
    pub(crate) host_path: PathBuf,
    pub(crate) read_only: bool,
}

fn parse_volume_arg(text: &str) -> Result<VolumeArg, String> {
    let (guest_path, host) = text.split_once('=').ok_or("expected `GUEST=HOST` or `GUEST=HOST:ro`")?;
    let (host, read_only) = match host.strip_suffix(":ro") {
        Some(host) => (host, true),
        None => (host, false),
    };
    if !guest_path.starts_with('/') || host.is_empty() {
        return Err("expected an absolute guest path and a host directory, `GUEST=HOST[:ro]`".to_owned());
    }
    Ok(VolumeArg { guest_path: guest_path.to_owned(), host_path: PathBuf::from(host), read_only })
}

/// `--variable NAME=VALUE`: the name and the value as written (`@FILE` is read with the rest
/// of the configuration, so that a reload reads it again).
fn parse_variable_arg(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not of the form NAME=VALUE")),
    }
}

/// Where the handlers come from.
#[derive(Debug, Args)]
#[command(next_help_heading = "Sources")]
pub(crate) struct SourceArgs {
    /// The modules.toml or spin.toml that maps routes to modules, or a directory holding one
    /// (default: `modules.toml`, else `spin.toml`, in the working directory).
    #[arg(short = 'c', long = "config", env = "WAGI_CONFIG", value_name = "MODULES_TOML")]
    pub(crate) config: Option<PathBuf>,

    /// A bindle id (`name/version`) to serve instead of a modules.toml.
    #[arg(short = 'b', long = "bindle", env = "WAGI_BINDLE", value_name = "BINDLE_ID", conflicts_with = "config")]
    pub(crate) bindle: Option<String>,

    /// The Bindle server URL, including `/v1` (ignored with `-c`).
    // The URL may carry a user and password, so `--help` must not print it.
    #[arg(long = "bindle-url", env = "BINDLE_URL", value_name = "BINDLE_URL", hide_env_values = true)]
    pub(crate) bindle_url: Option<String>,

    /// The user for basic authentication to the Bindle server.
    #[arg(
        long = "bindle-http-user",
        env = "BINDLE_HTTP_USER",
        value_name = "BINDLE_HTTP_USER",
        requires = "bindle_http_password",
        hide_env_values = true
    )]
    pub(crate) bindle_http_user: Option<String>,

    /// The password for basic authentication to the Bindle server.
    #[arg(
        long = "bindle-http-password",
        env = "BINDLE_HTTP_PASSWORD",
        value_name = "BINDLE_HTTP_PASSWORD",
        requires = "bindle_http_user",
        hide_env_values = true
    )]
    pub(crate) bindle_http_password: Option<String>,

    /// Accept an invalid TLS certificate from the Bindle server.
    #[arg(short = 'k', long = "bindle-insecure", env = "WAGI_BINDLE_INSECURE")]
    pub(crate) bindle_insecure: bool,

    /// A directory of standalone bindles.
    #[arg(
        long = "bindle-path",
        value_name = "DIR",
        requires = "bindle",
        conflicts_with = "bindle_url",
        env = "WAGI_BINDLE_PATH"
    )]
    pub(crate) bindle_path: Option<PathBuf>,

    /// Where fetched modules and compiled code are cached (default: the user's cache directory).
    #[arg(long = "module-cache", value_name = "MODULE_CACHE_DIR", env = "WAGI_MODULE_CACHE")]
    pub(crate) module_cache: Option<PathBuf>,

    /// Global variables for every module, `NAME=VALUE`; repeatable. Overrides `--env-file`.
    #[arg(help_heading = "Environment and application data", short = 'e', long = "env", value_name = "NAME=VALUE", num_args = 1.., value_parser = parse_env_arg)]
    pub(crate) env: Vec<(String, String)>,

    /// A dotenv file of global variables; repeatable, later files override earlier ones.
    #[arg(
        help_heading = "Environment and application data",
        long = "env-file",
        value_name = "ENV_FILE",
        env = "WAGI_ENV_FILE"
    )]
    pub(crate) env_file: Vec<PathBuf>,

    /// An application variable's value, `NAME=VALUE` or `NAME=@FILE` (the file's contents);
    /// repeatable. Wins over the environment and the variables file.
    #[arg(help_heading = "Environment and application data", long = "variable", value_name = "NAME=VALUE", value_parser = parse_variable_arg)]
    pub(crate) variables: Vec<(String, String)>,

    /// A dotenv file of `SPIN_VARIABLE_NAME=value` (or `WAGI_VARIABLE_NAME`) lines giving
    /// application variables; wins over the environment (default: `.env` in the working
    /// directory, if there is one).
    #[arg(
        help_heading = "Environment and application data",
        long = "variables-file",
        value_name = "FILE",
        env = "WAGI_VARIABLES_FILE"
    )]
    pub(crate) variables_file: Option<PathBuf>,

    /// A runtime configuration file in Spin's format, defining key-value stores by label
    /// (`[key_value_store.LABEL]`).
    #[arg(
        help_heading = "Environment and application data",
        long = "runtime-config-file",
        value_name = "FILE",
        env = "WAGI_RUNTIME_CONFIG_FILE"
    )]
    pub(crate) runtime_config_file: Option<PathBuf>,

    /// Where the application's data is kept: the `default` key-value store's SQLite file
    /// (default: `.wagi` beside the configuration file).
    #[arg(
        help_heading = "Environment and application data",
        long = "state-dir",
        value_name = "DIR",
        env = "WAGI_STATE_DIR"
    )]
    pub(crate) state_dir: Option<PathBuf>,

    /// Where each route's module stderr is appended (`<dir>/<sha256(route)>/module.stderr`).
    #[arg(help_heading = "Logs and metrics", long = "log-dir", env = "WAGI_LOG_DIR", value_name = "LOG_DIR")]
    pub(crate) log_dir: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) registry: RegistryArgs,

    #[command(flatten)]
    pub(crate) limits: LimitArgs,

    #[command(flatten)]
    pub(crate) outbound: OutboundArgs,

    #[command(flatten)]
    pub(crate) response: ResponseArgs,
}

/// How modules are pulled from OCI registries.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Sources")]
pub(crate) struct RegistryArgs {
    /// The user for basic authentication to every OCI registry (default: the Docker
    /// configuration's credentials for each registry, else anonymous).
    #[arg(
        id = "registry_user",
        long = "registry-user",
        env = "WAGI_REGISTRY_USER",
        value_name = "USER",
        requires = "registry_password",
        hide_env_values = true
    )]
    pub(crate) user: Option<String>,

    /// The password of `--registry-user`.
    #[arg(
        id = "registry_password",
        long = "registry-password",
        env = "WAGI_REGISTRY_PASSWORD",
        value_name = "PASSWORD",
        requires = "registry_user",
        hide_env_values = true
    )]
    pub(crate) password: Option<String>,

    /// A registry (`HOST:PORT`) reached over plain HTTP; repeatable. Loopback registries always may be.
    #[arg(long = "insecure-registry", value_name = "HOST:PORT", env = "WAGI_INSECURE_REGISTRY", value_delimiter = ',')]
    pub(crate) insecure: Vec<String>,

    /// Serve from the module cache only: resolve tags as last recorded and fetch nothing.
    #[arg(long = "offline", env = "WAGI_OFFLINE")]
    pub(crate) offline: bool,
}

impl RegistryArgs {
    /// The loader's options for these flags, reaching no Bindle server.
    pub(crate) fn loader_options(&self) -> LoaderOptions {
        LoaderOptions {
            offline: self.offline,
            registry: RegistryOptions {
                insecure: self.insecure.clone(),
                credentials: self.user.clone().zip(self.password.clone()),
            },
            ..LoaderOptions::default()
        }
    }
}

/// When a response is sent from memory and when it streams.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Serving")]
pub(crate) struct ResponseArgs {
    /// Body bytes held before a response starts streaming; smaller responses are sent whole.
    #[arg(long = "response-hold", value_name = "SIZE", default_value = "64KiB", value_parser = parse_byte_size, env = "WAGI_RESPONSE_HOLD")]
    pub(crate) hold: u64,

    /// How long a response is held after the module's headers are complete before it streams.
    #[arg(long = "response-flush", value_name = "DURATION", default_value = "20ms", value_parser = parse_duration, env = "WAGI_RESPONSE_FLUSH")]
    pub(crate) flush_interval: Duration,
}

/// Outbound HTTP: where modules may connect and how much they may do.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Outbound HTTP")]
pub(crate) struct OutboundArgs {
    /// Replaces the `allowed_hosts` of the entry with this route: `ROUTE=HOST[,HOST...]`
    /// (an empty list denies all); repeatable.
    #[arg(long = "allowed-hosts", value_name = "ROUTE=HOSTS", value_parser = parse_allowed_hosts_arg)]
    pub(crate) allowed_hosts: Vec<(String, AllowedHosts)>,

    /// Time one outbound request may take, redirects and body included.
    #[arg(id = "outbound_timeout", long = "outbound-timeout", value_name = "DURATION", default_value = "30s", value_parser = parse_duration, env = "WAGI_OUTBOUND_TIMEOUT")]
    pub(crate) timeout: Duration,

    /// Largest outbound request or response body.
    #[arg(id = "outbound_max_body", long = "outbound-max-body", value_name = "SIZE", default_value = "16MiB", value_parser = parse_byte_size, env = "WAGI_OUTBOUND_MAX_BODY")]
    pub(crate) max_body: u64,

    /// Bytes of outbound responses one request may hold in memory at once, across the responses
    /// it has open (and `wasi:http` request bodies being sent).
    #[arg(id = "outbound_max_held", long = "outbound-max-held", value_name = "SIZE", default_value = "32MiB", value_parser = parse_byte_size, env = "WAGI_OUTBOUND_MAX_HELD")]
    pub(crate) max_held: u64,

    /// Outbound requests one module invocation may make.
    #[arg(
        id = "outbound_max_requests",
        long = "outbound-max-requests",
        value_name = "N",
        default_value_t = 100,
        env = "WAGI_OUTBOUND_MAX_REQUESTS"
    )]
    pub(crate) max_requests: u32,
}

/// A count of at least 1.
fn parse_count(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(count) if count >= 1 => Ok(count),
        _ => Err(format!("expected a whole number from 1 to {}", u32::MAX)),
    }
}

fn parse_allowed_hosts_arg(text: &str) -> Result<(String, AllowedHosts), String> {
    let (route, hosts) = text.split_once('=').ok_or("expected `ROUTE=HOST[,HOST...]`")?;
    let hosts = AllowedHosts::parse_list(hosts).map_err(|e| e.to_string())?;
    Ok((route.to_owned(), hosts))
}

/// Default limits for every module; a module entry may override each.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Limits")]
pub(crate) struct LimitArgs {
    /// Time one request may run before it is stopped with 504.
    #[arg(long = "timeout", value_name = "DURATION", default_value = "30s", value_parser = parse_duration, env = "WAGI_TIMEOUT")]
    pub(crate) timeout: Duration,

    /// Linear memory one instance may use; growing past it traps (500).
    #[arg(long = "max-memory", value_name = "SIZE", default_value = "256MiB", value_parser = parse_byte_size, env = "WAGI_MAX_MEMORY")]
    pub(crate) max_memory: u64,

    /// Linear memory all instances may use together: past it `memory.grow` returns -1 and an
    /// instance whose initial memory does not fit cannot start (503). [default: 75% of the
    /// cgroup's memory limit, or of the machine's memory]
    #[arg(long = "max-total-memory", value_name = "SIZE", value_parser = parse_byte_size, env = "WAGI_MAX_TOTAL_MEMORY")]
    pub(crate) max_total_memory: Option<u64>,

    /// Largest request body accepted; larger gets 413.
    #[arg(long = "max-body", value_name = "SIZE", default_value = "100MiB", value_parser = parse_byte_size, env = "WAGI_MAX_BODY")]
    pub(crate) max_body: u64,

    /// Most stdout a module may write for one response; more gets 502.
    #[arg(long = "max-output", value_name = "SIZE", default_value = "16MiB", value_parser = parse_byte_size, env = "WAGI_MAX_OUTPUT")]
    pub(crate) max_output: u64,

    /// Instances that may run at once (sizes the instance pool).
    #[arg(long = "max-instances", value_name = "N", default_value_t = 256, env = "WAGI_MAX_INSTANCES")]
    pub(crate) max_instances: u32,

    /// Requests one instance of a `wasi:http` component serves before it is dropped. 1, the
    /// default, gives every request a fresh instance; CGI programs always get one.
    #[arg(long = "instance-reuse", value_name = "N", default_value = "1", value_parser = parse_count, env = "WAGI_INSTANCE_REUSE")]
    pub(crate) instance_reuse: u32,

    /// Requests one reused instance of a WASI 0.3 component serves at once.
    #[arg(long = "instance-concurrency", value_name = "N", default_value = "1", value_parser = parse_count, env = "WAGI_INSTANCE_CONCURRENCY")]
    pub(crate) instance_concurrency: u32,

    /// Bytes of each pooled memory kept resident between instances and reset with `memset`
    /// instead of being returned to the kernel: faster, at the cost of resident memory.
    #[arg(long = "memory-keep-resident", value_name = "SIZE", default_value = "2MiB", value_parser = parse_byte_size, env = "WAGI_MEMORY_KEEP_RESIDENT")]
    pub(crate) memory_keep_resident: u64,
}

/// Flags of the server itself.
#[derive(Debug, Args)]
#[command(next_help_heading = "Serving")]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,

    /// The address to listen on, `HOST:PORT`: an IP address (IPv6 as `[::1]:3000`) or a name,
    /// served on every address it resolves to. Port 0 picks a free port.
    #[arg(short = 'l', long = "listen", value_name = "HOST:PORT", default_value = "127.0.0.1:3000", value_parser = parse_listen, env = "WAGI_LISTEN")]
    pub(crate) listen: ListenAddress,

    /// `host[:port]` for SERVER_NAME/SERVER_PORT when a request names no host.
    #[arg(
        long = "hostname",
        visible_alias = "default-host",
        value_name = "HOSTNAME",
        default_value = "localhost:3000",
        env = "WAGI_HOSTNAME"
    )]
    pub(crate) hostname: String,

    /// A PEM certificate chain, to serve HTTPS.
    #[arg(
        help_heading = "TLS",
        long = "tls-cert",
        env = "WAGI_TLS_CERT",
        value_name = "TLS_CERT",
        requires = "tls_key"
    )]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The PEM private key of `--tls-cert`.
    #[arg(help_heading = "TLS", long = "tls-key", env = "WAGI_TLS_KEY", value_name = "TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,

    /// Requests that may wait for a free instance; beyond it they get 503 with Retry-After.
    #[arg(long = "max-queued", value_name = "N", default_value_t = 1024, env = "WAGI_MAX_QUEUED")]
    pub(crate) max_queued: usize,

    /// How long a request may wait for a free instance before it gets 503.
    #[arg(long = "queue-timeout", value_name = "DURATION", default_value = "10s", value_parser = parse_duration, env = "WAGI_QUEUE_TIMEOUT")]
    pub(crate) queue_timeout: Duration,

    /// Client connections open at once; at the cap, the connection idle longest is closed to
    /// admit a new one.
    #[arg(long = "max-connections", value_name = "N", default_value_t = 10_000, env = "WAGI_MAX_CONNECTIONS")]
    pub(crate) max_connections: usize,

    /// How long a client may take to send its request headers, counted from accept for the
    /// first request; also how long an HTTP/2 client may take to answer a ping.
    #[arg(long = "header-read-timeout", value_name = "DURATION", default_value = "10s", value_parser = parse_duration, env = "WAGI_HEADER_READ_TIMEOUT")]
    pub(crate) header_read_timeout: Duration,

    /// How long a connection may stay open between requests, with none in flight.
    #[arg(long = "keep-alive-timeout", value_name = "DURATION", default_value = "60s", value_parser = parse_duration, env = "WAGI_KEEP_ALIVE_TIMEOUT")]
    pub(crate) keep_alive_timeout: Duration,

    /// How long to keep serving after SIGTERM or SIGINT, with `/healthz` answering 503 so that
    /// load balancers stop sending requests, before draining.
    #[arg(long = "shutdown-delay", value_name = "DURATION", default_value = "0s", value_parser = parse_duration, env = "WAGI_SHUTDOWN_DELAY")]
    pub(crate) shutdown_delay: Duration,

    /// How long in-flight requests may take to finish after SIGTERM or SIGINT (after
    /// `--shutdown-delay`).
    #[arg(long = "shutdown-timeout", value_name = "DURATION", default_value = "30s", value_parser = parse_duration, env = "WAGI_SHUTDOWN_TIMEOUT")]
    pub(crate) shutdown_timeout: Duration,

    /// Where the access log goes: a file (appended to, and reopened on SIGUSR1), `-` for
    /// stdout, or `off`.
    #[arg(
        help_heading = "Logs and metrics",
        long = "access-log",
        value_name = "PATH",
        default_value = "-",
        env = "WAGI_ACCESS_LOG"
    )]
    pub(crate) access_log: String,

    /// The access log's line format.
    #[arg(help_heading = "Logs and metrics", long = "log-format", value_enum, default_value_t = LogFormatArg::Common, env = "WAGI_LOG_FORMAT")]
    pub(crate) log_format: LogFormatArg,

    /// The format of the server's own messages on stderr (the access log goes to stdout).
    #[arg(help_heading = "Logs and metrics", long = "server-log-format", value_enum, default_value_t = ServerLogFormat::Text, env = "WAGI_SERVER_LOG_FORMAT")]
    pub(crate) server_log_format: ServerLogFormat,

    /// Also serve Prometheus metrics at `http://HOST:PORT/metrics`.
    #[arg(
        help_heading = "Logs and metrics",
        long = "metrics-listen",
        value_name = "HOST:PORT",
        value_parser = parse_listen,
        env = "WAGI_METRICS_LISTEN"
    )]
    pub(crate) metrics_listen: Option<ListenAddress>,

    /// Reload when the configuration or an env file changes (checked every second), as on SIGHUP.
    #[arg(long = "watch", env = "WAGI_WATCH")]
    pub(crate) watch: bool,

    /// A wasmtime cache configuration, accepted for compatibility and ignored: compiled modules are
    /// cached on disk in the module cache (`--module-cache`).
    #[arg(long = "cache", value_name = "CACHE_TOML", env = "WAGI_CACHE")]
    pub(crate) cache: Option<PathBuf>,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum LogFormatArg {
    /// The Common Log Format plus route, duration and request id.
    Common,
    /// nginx's `combined`: the Common Log Format, the referer and the user agent.
    Combined,
    /// One JSON object per line, with an RFC 3339 time.
    Json,
}

/// `--server-log-format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum ServerLogFormat {
    /// Lines of text, coloured on a terminal unless `NO_COLOR` is set.
    Text,
    /// One JSON object per line.
    Json,
}
