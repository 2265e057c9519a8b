//! Test support: a real `wagi` process on a free loopback port, a small HTTP/1.1 client over a
//! real socket, and fixture modules.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

/// How long any single wait in a test may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// A temporary directory holding a modules.toml and its fixtures.
pub(crate) struct Site {
    pub(crate) dir: tempfile::TempDir,
    /// The `--module-cache` of servers started for the site: its `cache/` unless given.
    module_cache: Option<PathBuf>,
}

impl Site {
    pub(crate) fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temp dir"), module_cache: None }
    }

    /// A site whose servers share the module cache `dir` with other tests.
    pub(crate) fn with_module_cache(dir: PathBuf) -> Self {
        Self { module_cache: Some(dir), ..Self::new() }
    }

    /// Where servers of this site keep compiled modules.
    pub(crate) fn module_cache(&self) -> PathBuf {
        self.module_cache.clone().unwrap_or_else(|| self.path("cache"))
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file (creating parent directories) and returns its path.
    pub(crate) fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(&path, content).expect("write fixture");
        path
    }

    /// Copies a WAT fixture from `tests/it/wat/` into the site.
    pub(crate) fn fixture(&self, name: &str) -> PathBuf {
        self.write(name, fixture_text(name))
    }

    /// Starts `wagi -c modules.toml` with extra arguments.
    pub(crate) fn serve(&self, modules_toml: &str, args: &[&str]) -> Server {
        self.write("modules.toml", modules_toml);
        Server::start(self, args, &[])
    }
}

pub(crate) fn fixture_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/wat").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// `dump.wat` with a `_routes` export that prints three sub-routes.
pub(crate) fn dump_with_routes() -> String {
    fixture_text("dump.wat")
        .replace(";; ROUTES", "(func (export \"_routes\") (call $write (i32.const 1152) (i32.const 55)))")
}

/// What a generated module does after printing its output.
#[derive(Clone, Copy)]
pub(crate) enum Then {
    Return,
    Exit(i32),
    Trap,
}

/// A module that prints `output` to stdout, then returns, exits or traps.
pub(crate) fn printer(output: &[u8], then: Then) -> String {
    let escaped: String = output.iter().map(|b| format!("\\{b:02x}")).collect();
    let ending = match then {
        Then::Return => String::new(),
        Then::Exit(code) => format!("(call $proc_exit (i32.const {code}))"),
        Then::Trap => "unreachable".to_owned(),
    };
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") {pages})
  (data (i32.const 1024) "{escaped}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const {len}))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    {ending}))"#,
        len = output.len(),
        pages = (1024 + output.len()) / 65536 + 1
    )
}

/// A WASI 0.2 command component (`wat/component.wat`) with `data` at offset 1024 of its memory,
/// whose `wasi:cli/run` runs `run` (core WAT that may call `$print` and `$exit`, and returns 0).
pub(crate) fn component(data: &[u8], run: &str) -> String {
    let escaped: String = data.iter().map(|b| format!("\\{b:02x}")).collect();
    fixture_text("component.wat")
        .replace("{{PAGES}}", &((1024 + data.len()) / 65536 + 1).to_string())
        .replace("{{DATA}}", &escaped)
        .replace("{{RUN}}", run)
}

/// The lines `stream` gives, read on a thread of their own; echoed to the test's stderr if `echo`.
fn lines_of(stream: impl std::io::Read + Send + 'static, echo: bool) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if echo {
                eprintln!("{line}");
            }
            // The receiver may be gone; keep reading so that wagi never blocks on a full pipe.
            let _ = sender.send(line);
        }
    });
    receiver
}

/// The next line of `lines` starting with `prefix`, skipping others.
fn next_line(lines: &Mutex<mpsc::Receiver<String>>, stream: &str, prefix: &str) -> String {
    let lines = lines.lock().expect("lines lock");
    loop {
        match lines.recv_timeout(TIMEOUT) {
            Ok(line) if line.starts_with(prefix) => return line,
            Ok(_) => {}
            Err(error) => panic!("no {stream} line starting with {prefix:?}: {error}"),
        }
    }
}

/// A running `wagi`; killed by its process id when dropped.
pub(crate) struct Server {
    child: Option<Child>,
    pub(crate) addr: SocketAddr,
    pub(crate) log_dir: PathBuf,
    /// Where `--metrics-listen` serves, when given.
    pub(crate) metrics_addr: Option<SocketAddr>,
    /// The lines wagi printed on stderr up to its "Ready" line.
    startup_lines: Vec<String>,
    /// The lines wagi prints on stderr after its "Ready" line (reload notices, warnings).
    stderr: Mutex<mpsc::Receiver<String>>,
    /// The lines wagi prints on stdout: the access log.
    stdout: Mutex<mpsc::Receiver<String>>,
}

impl Server {
    pub(crate) fn start(site: &Site, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_with_config(site, &site.path("modules.toml"), args, env)
    }

    /// Starts `wagi -c config`, keeping logs and caches in the site.
    pub(crate) fn start_with_config(site: &Site, config: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::launch(site, &["-c".as_ref(), config.as_os_str()], args, env, "Ready: serving on ")
    }

    /// Starts wagi on what `source` names (e.g. `-b` and a bindle), keeping logs and caches in
    /// the site.
    pub(crate) fn start_source(site: &Site, source: &[&str], args: &[&str]) -> Self {
        let source: Vec<&OsStr> = source.iter().map(OsStr::new).collect();
        Self::launch(site, &source, args, &[], "Ready: serving on ")
    }

    /// Starts `wagi -c modules.toml` and returns as soon as it listens, before its modules load.
    pub(crate) fn start_listening(site: &Site, args: &[&str]) -> Self {
        let config = site.path("modules.toml");
        Self::launch(site, &["-c".as_ref(), config.as_os_str()], args, &[], "Listening on ")
    }

    /// Starts wagi in the site's directory with only `args` and `env` besides the site's log
    /// and cache directories: no `-c`, no `-l`.
    pub(crate) fn start_bare(site: &Site, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Self::command(site, args, env);
        command.current_dir(site.path(""));
        Self::spawn(site, command, "Ready: serving on ")
    }

    /// Starts wagi and waits for the stderr line starting with `until` that names its URL.
    fn launch(site: &Site, source: &[&OsStr], args: &[&str], env: &[(&str, &str)], until: &str) -> Self {
        let mut command = Self::command(site, &["-l", "127.0.0.1:0"], env);
        command.args(source).args(args);
        Self::spawn(site, command, until)
    }

    /// `wagi` with `args` and `env`, keeping its logs and caches in the site.
    fn command(site: &Site, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wagi"));
        command
            .args(args)
            .arg("--log-dir")
            .arg(site.path("logs"))
            .arg("--module-cache")
            .arg(site.module_cache())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Runs `command` and waits for the stderr line starting with `until` that names its URL.
    fn spawn(site: &Site, mut command: Command, until: &str) -> Self {
        let log_dir = site.path("logs");
        let mut child = command.spawn().expect("start wagi");
        let stdout = lines_of(child.stdout.take().expect("piped stdout"), false);
        // Echoed, so that wagi's warnings show in a failing test's output.
        let receiver = lines_of(child.stderr.take().expect("piped stderr"), true);
        // "Listening" comes when the port is bound, "Ready" once the modules are loaded.
        let mut metrics_addr = None;
        let mut startup_lines = Vec::new();
        let ready = loop {
            let Ok(line) = receiver.recv_timeout(TIMEOUT) else { break None };
            startup_lines.push(line.clone());
            // With `--server-log-format json`, the message of a JSON line.
            let line = serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|event| event["message"].as_str().map(str::to_owned))
                .unwrap_or(line);
            if let Some(addr) = line.strip_prefix("Metrics: serving on http://") {
                metrics_addr = addr.strip_suffix("/metrics").map(|a| a.parse().expect("metrics address"));
            }
            if let Some(url) = line.strip_prefix(until) {
                let url = url.split_whitespace().next().unwrap_or_default();
                break url.split_once("://").map(|(_, addr)| addr.to_owned());
            }
        };
        let Some(addr) = ready else {
            let _ = child.kill();
            let status = child.wait().expect("wait");
            panic!("wagi printed no {until:?} line ({status})");
        };
        Self {
            child: Some(child),
            addr: addr.parse().expect("listening address"),
            log_dir,
            metrics_addr,
            startup_lines,
            stderr: Mutex::new(receiver),
            stdout: Mutex::new(stdout),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends a signal (`TERM`, `HUP`, ...) to the process.
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill").args(["-s", name, &self.pid().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -s {name} failed");
    }

    /// Waits for the next stderr line starting with `prefix`, skipping others.
    pub(crate) fn wait_line(&self, prefix: &str) -> String {
        next_line(&self.stderr, "stderr", prefix)
    }

    /// Waits for the next access log line on stdout starting with `prefix`, skipping others.
    pub(crate) fn wait_access_line(&self, prefix: &str) -> String {
        next_line(&self.stdout, "stdout", prefix)
    }

    /// Stops wagi with SIGTERM and returns its exit status and every line it wrote to stdout
    /// and to stderr that no `wait_line` took.
    pub(crate) fn stop(self) -> (ExitStatus, Vec<String>, Vec<String>) {
        self.signal("TERM");
        let mut stderr = self.startup_lines.clone();
        let drain = |lines: &Mutex<mpsc::Receiver<String>>| -> Vec<String> {
            let lines = lines.lock().expect("lines lock");
            // The reading thread ends, closing the channel, when wagi's end of the pipe closes.
            std::iter::from_fn(|| lines.recv_timeout(TIMEOUT).ok()).collect()
        };
        let stdout = drain(&self.stdout);
        stderr.extend(drain(&self.stderr));
        (self.wait_exit(), stdout, stderr)
    }

    /// Waits for the process to exit by itself and returns its status.
    pub(crate) fn wait_exit(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("a running child");
        let (sender, receiver) = mpsc::channel();
        let pid = child.id();
        std::thread::spawn(move || {
            let _ = sender.send(child.wait());
        });
        match receiver.recv_timeout(TIMEOUT) {
            Ok(status) => status.expect("wait for wagi"),
            Err(_) => {
                let _ = Command::new("kill").args(["-s", "KILL", &pid.to_string()]).status();
                panic!("wagi did not exit within {TIMEOUT:?}");
            }
        }
    }

    pub(crate) fn get(&self, path: &str) -> Response {
        self.request(&format!("GET {path} HTTP/1.1\r\nHost: localhost:3000\r\nConnection: close\r\n\r\n").into_bytes())
    }

    /// Sends raw request bytes on a new connection and reads one response.
    pub(crate) fn request(&self, raw: &[u8]) -> Response {
        let mut connection = self.connect();
        connection.write_all(raw).expect("send request");
        read_response(&mut connection, raw.starts_with(b"HEAD"))
    }

    /// `GET path` on a connection of its own, answered in a thread: the status, once it comes.
    pub(crate) fn get_in_background(&self, path: &str) -> std::thread::JoinHandle<u16> {
        let mut connection = self.connect();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        std::thread::spawn(move || {
            connection.write_all(request.as_bytes()).expect("send");
            read_response(&mut connection, false).status
        })
    }

    /// Everything sent for `GET path` until the connection closes, for a response that fails
    /// after it started: checks that the connection closed before the head was sent (hyper sends
    /// the head with the first piece of the body) or after a `200` head without the end of a
    /// complete chunked body, so the client cannot take it for complete.
    pub(crate) fn get_cut_off(&self, path: &str) -> Vec<u8> {
        let raw = self.get_raw(path, "");
        let start = String::from_utf8_lossy(&raw[..raw.len().min(200)]).into_owned();
        assert!(raw.is_empty() || start.starts_with("HTTP/1.1 200 OK\r\n"), "{path}: {start}");
        assert!(!raw.ends_with(b"\r\n0\r\n\r\n"), "{path}: a failed stream must not end like a complete one");
        raw
    }

    /// Everything sent for `GET path`, with the header lines `headers` (each ending in CRLF),
    /// until the connection closes.
    pub(crate) fn get_raw(&self, path: &str, headers: &str) -> Vec<u8> {
        let mut connection = self.connect();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n");
        connection.write_all(request.as_bytes()).expect("send");
        let mut raw = Vec::new();
        let _ = connection.read_to_end(&mut raw);
        raw
    }

    /// `GET path`, `each` times from each of `clients` threads at once: how many answers were
    /// `200` with `body`.
    pub(crate) fn get_concurrently(&self, path: &str, clients: usize, each: usize, body: &str) -> usize {
        std::thread::scope(|scope| {
            let threads: Vec<_> = (0..clients)
                .map(|_| {
                    scope.spawn(move || {
                        (0..each)
                            .filter(|_| {
                                let response = self.get(path);
                                response.status == 200 && response.body == body.as_bytes()
                            })
                            .count()
                    })
                })
                .collect();
            threads.into_iter().map(|thread| thread.join().expect("a client")).sum()
        })
    }

    pub(crate) fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
        stream
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `env=` lines of a dump as `NAME=value`, sorted.
    pub(crate) fn dumped_env(&self) -> Vec<String> {
        let mut env: Vec<String> =
            self.text().lines().filter_map(|l| l.strip_prefix("env=")).map(str::to_owned).collect();
        env.sort();
        env
    }

    pub(crate) fn dumped(&self, prefix: &str) -> Vec<String> {
        self.text().lines().filter_map(|l| l.strip_prefix(prefix)).map(str::to_owned).collect()
    }

    pub(crate) fn env_var(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.dumped_env().iter().find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
    }
}

/// Reads one response: status line, headers, and a body framed by Content-Length, chunked
/// encoding or end of stream.
pub(crate) fn read_response(stream: &mut TcpStream, head: bool) -> Response {
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status code");
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header line");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("header has a colon");
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut response = Response { status, headers, body: Vec::new() };
    if head {
        return response;
    }
    if let Some(length) = response.header("content-length") {
        let mut body = vec![0; length.parse().expect("content-length")];
        reader.read_exact(&mut body).expect("body");
        response.body = body;
    } else if response.header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).expect("chunk size");
            let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).expect("chunk");
            if size == 0 {
                break;
            }
            response.body.extend_from_slice(&chunk[..size]);
        }
    } else {
        reader.read_to_end(&mut response.body).expect("body to end");
    }
    response
}

/// The modules.toml line for a module file in the site.
pub(crate) fn entry(route: &str, module: &str) -> String {
    format!("[[module]]\nroute = \"{route}\"\nmodule = \"{module}\"\n\n")
}

/// The lower-case hex sha256 of `bytes`, as registries, bindles and the cache name content.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
