//! `wagi run`: one request through one module, with no server and no port.
//!
//! The module becomes the only entry of a configuration built here, routed at `/...`, and goes
//! through the same startup as a served one (loading, compiling through the module cache,
//! preparing). The request then goes through the server's own request path in memory
//! (`wagi_server::answer_once`), so the module sees exactly what it would see behind `wagi`.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use wagi_config::{
    AllowedHosts, Config, DEFAULT_ENTRYPOINT, Declarations, InstanceReuse, Location, ModuleEntry, ModuleLimits,
    ModuleRef, RoutePattern, Volume,
};
use wagi_server::{Metrics, ServerOptions};

use crate::cli::RunArgs;
use crate::config_source::Globals;
use crate::failure::{ConfigError, usage};
use crate::startup::{ModuleSettings, Startup, stderr_log};

/// The route the module answers on: every path.
const ROUTE: &str = "/...";

/// The failure of the module itself, as opposed to a usage error: exit code 1.
#[derive(Debug, thiserror::Error)]
#[error("the module failed: {0}")]
pub(crate) struct ModuleFailed(String);

/// Runs the request `args` describe and prints the response on stdout, and what the module
/// wrote to stderr on stderr.
pub(crate) async fn run(args: RunArgs) -> Result<()> {
    let request = request(&args)?;
    let log_dir = tempfile::tempdir().context("cannot create a directory for the module's stderr")?;
    let config = configuration(&args)?;
    let print_http = args.http;
    let options = ServerOptions {
        max_running: usize::try_from(args.limits.max_instances).unwrap_or(usize::MAX),
        ..ServerOptions::default()
    };
    let startup = Startup::for_config(args.module_settings(log_dir.path()), Arc::new(Metrics::new()), None, &config)?;
    let globals = Globals { env: args.env, ..Globals::default() };
    let table = startup.load(config, &globals).await?.table;
    let answer = wagi_server::answer_once(table, options, request, "127.0.0.1").await;

    let (parts, body) = answer.response.into_parts();
    // A module that fails after its response started streaming ends the body early.
    let (body, streamed_failure) = match body.collect().await {
        Ok(body) => (body.to_bytes(), None),
        Err(error) => (Bytes::new(), Some(error.to_string())),
    };
    let response = Response::from_parts(parts, body);
    let mut out = std::io::stdout().lock();
    if print_http {
        write_http(&mut out, &response)?;
    } else if answer.failure.is_none() {
        write_cgi(&mut out, &response)?;
    }
    out.flush()?;
    copy_module_stderr(log_dir.path())?;
    match answer.failure.or(streamed_failure) {
        Some(reason) => Err(ModuleFailed(reason).into()),
        None => Ok(()),
    }
}

impl RunArgs {
    /// What loading the module takes: this command's cache, registry flags and limits, and
    /// `log_dir` for the module's stderr.
    fn module_settings(&self, log_dir: &Path) -> ModuleSettings {
        ModuleSettings {
            module_cache: self.module_cache.clone(),
            loader: self.registry.loader_options(),
            log_dir: Some(log_dir.to_path_buf()),
            limits: self.limits.clone(),
            outbound: self.outbound.clone(),
            response: self.response.clone(),
        }
    }
}

/// The one-entry configuration that runs the module at [`ROUTE`], with relative paths taken from
/// the working directory.
fn configuration(args: &RunArgs) -> Result<Config> {
    let at = Location { line: 1, col: 1 };
    let module = ModuleRef::parse(&args.module).map_err(|e| usage(&format!("`{}`: {e}", args.module)))?;
    let route = RoutePattern::parse(ROUTE).map_err(|e| anyhow!("{e}"))?;
    let volumes = args
        .volumes
        .iter()
        .map(|v| Volume {
            guest_path: v.guest_path.clone(),
            host_path: v.host_path.clone(),
            read_only: v.read_only,
            location: at,
        })
        .collect();
    let entry = ModuleEntry {
        location: at,
        route,
        module,
        module_location: at,
        entrypoint: DEFAULT_ENTRYPOINT.to_owned(),
        volumes,
        allowed_hosts: AllowedHosts::default(),
        http_max_concurrency: None,
        argv: None,
        environment: Vec::new(),
        variables: Vec::new(),
        key_value_stores: Vec::new(),
        sqlite_databases: Vec::new(),
        limits: ModuleLimits::default(),
        reuse: InstanceReuse::default(),
        files: None,
    };
    let mut config = Config { source: "wagi run".to_owned(), modules: vec![entry], variables: Declarations::default() };
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    for warning in config.resolve_paths(&cwd, &cwd).map_err(ConfigError)? {
        eprintln!("{warning}");
    }
    Ok(config)
}

/// The request, as a client would send it: `-X`, `-H` and `-d`, like curl's flags.
fn request(args: &RunArgs) -> Result<Request<Full<Bytes>>> {
    let body = match args.data.as_deref() {
        None => None,
        Some("@-") => {
            let mut data = Vec::new();
            std::io::stdin().read_to_end(&mut data).context("cannot read the request body from stdin")?;
            Some(data)
        }
        Some(data) => match data.strip_prefix('@') {
            Some(path) => {
                Some(std::fs::read(path).map_err(|e| usage(&format!("cannot read `{path}` (-d @FILE): {e}")))?)
            }
            None => Some(data.as_bytes().to_vec()),
        },
    };
    let method = match (&args.method, &body) {
        (Some(method), _) => {
            Method::from_bytes(method.as_bytes()).map_err(|_| usage(&format!("bad method `{method}`")))?
        }
        (None, Some(_)) => Method::POST,
        (None, None) => Method::GET,
    };
    let mut request = Request::builder()
        .method(method)
        .uri(&args.target)
        .version(Version::HTTP_11)
        .body(Full::new(Bytes::from(body.clone().unwrap_or_default())))
        .map_err(|e| usage(&format!("bad request `{}`: {e}", args.target)))?;
    let headers = request.headers_mut();
    for header in &args.headers {
        let (name, value) =
            header.split_once(':').ok_or_else(|| usage(&format!("bad header `{header}`: expected `Name: value`")))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| usage(&format!("bad header name in `{header}`")))?;
        let value =
            HeaderValue::from_str(value.trim()).map_err(|_| usage(&format!("bad header value in `{header}`")))?;
        headers.append(name, value);
    }
    if let Some(body) = &body {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        if !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        }
    }
    Ok(request)
}

/// The module's response as CGI: a `Status` line unless it is `200 OK`, the headers, an empty
/// line and the body.
fn write_cgi(out: &mut impl Write, response: &Response<Bytes>) -> std::io::Result<()> {
    if response.status() != StatusCode::OK {
        writeln!(out, "Status: {}", status_line(response.status()))?;
    }
    for (name, value) in response.headers() {
        out.write_all(title_case(name.as_str()).as_bytes())?;
        out.write_all(b": ")?;
        out.write_all(value.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")?;
    out.write_all(response.body())
}

/// The response as the server sends it over HTTP/1.1, with its `Content-Length`.
fn write_http(out: &mut impl Write, response: &Response<Bytes>) -> std::io::Result<()> {
    write!(out, "HTTP/1.1 {}\r\n", status_line(response.status()))?;
    for (name, value) in response.headers() {
        out.write_all(name.as_str().as_bytes())?;
        out.write_all(b": ")?;
        out.write_all(value.as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    if !response.headers().contains_key(CONTENT_LENGTH) {
        write!(out, "content-length: {}\r\n", response.body().len())?;
    }
    out.write_all(b"\r\n")?;
    out.write_all(response.body())
}

fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// `content-type` as `Content-Type`: how CGI programs usually spell header names.
fn title_case(name: &str) -> String {
    let mut spelled = String::with_capacity(name.len());
    let mut word_start = true;
    for c in name.chars() {
        spelled.push(if word_start { c.to_ascii_uppercase() } else { c });
        word_start = c == '-';
    }
    spelled
}

/// Copies what the module wrote to stderr, which startup sent to the route's log, to stderr.
fn copy_module_stderr(log_dir: &Path) -> Result<()> {
    let route = RoutePattern::parse(ROUTE).map_err(|e| anyhow!("{e}"))?;
    let written = std::fs::read(stderr_log(log_dir, &route)).unwrap_or_default();
    std::io::stderr().write_all(&written).context("cannot write the module's stderr")
}

#[cfg(test)]
mod tests {
    use super::title_case;

    #[test]
    fn header_names_are_spelled_in_title_case() {
        assert_eq!(title_case("content-type"), "Content-Type");
        assert_eq!(title_case("x-a-b"), "X-A-B");
        assert_eq!(title_case("location"), "Location");
    }
}
