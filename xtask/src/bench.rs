//! `cargo xtask bench [--rounds N] [--seconds S] [--peers]`: measures wagi side by side with the
//! ceiling, a minimal hyper server (`crates/ceiling`) answering what `hello.wat` answers, in one
//! run. With `--peers`, `wasmtime serve` (wasmtime-cli 48, installed into `target/peers` the first
//! time, which takes about 20 minutes) serves the spin-sdk 7 hello in the same rounds as wagi.
//!
//! Both servers are release builds on loopback, driven by `wrk` (installed with apt when
//! missing). Each throughput scenario alternates ceiling and wagi for several rounds and prints
//! medians, so both see the same machine state; wagi's req/s is also given as a ratio to the
//! ceiling's at the same concurrency. The `wasi:http` twins of `hello.wat` take their turns in
//! the 64-connection rounds, the spin-sdk 7 one (WASI 0.3) with fresh and with reused instances,
//! and so do the spin-sdk 7 to-do list's key-value read and write and its SQLite insert.
//! Further scenarios: a Rust guest as a WASI preview 1 module
//! and, alternating with it, the same program as a WASI 0.2 component; the Python example (a
//! componentize-py component); a 64 KiB POST echo, a 10 MiB streamed response, `/healthz` while
//! looping modules run, and time to ready for 50 modules and for the Python example, with a cold
//! and a warm compiled-code cache.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::wrk::{Median, Run, cpu_seconds, median, wrk_run};
use crate::{cargo, examples, project_root, run};

/// How long one client may wait for anything before the bench gives up.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// What `examples/stream.wat` writes after its header block: 160 writes of 64 KiB.
const STREAM_BYTES: usize = 160 << 16;

/// A module that never returns; stopped at its deadline.
const LOOP_WAT: &str = r#"(module (memory (export "memory") 1) (func (export "_start") (loop (br 0))))"#;

struct Options {
    rounds: usize,
    seconds: u32,
    /// Whether `wasmtime serve` takes its turns too.
    peers: bool,
}

/// The `wasmtime serve` that `--peers` measures.
const WASMTIME_CLI: &str = "48.0.8";

pub(crate) fn run_bench(args: &[OsString]) -> anyhow::Result<()> {
    let options = parse_args(args)?;
    let root = project_root()?;
    examples::build()?;
    run(cargo().current_dir(&root).args(["build", "--release", "-p", "wagi", "-p", "wagi-ceiling"]))?;
    ensure_wrk()?;
    let wasmtime = if options.peers { Some(install_wasmtime(&root)?) } else { None };
    let release = root.join("target/release");
    let site = tempfile::tempdir().context("cannot create a scratch directory")?;
    let config = write_site(&root, site.path())?;
    let mut report = Report::default();

    let ceiling = Server::start(Command::new(release.join("wagi-ceiling")).arg("127.0.0.1:0"))?;
    let wagi = Server::start(&mut wagi_command(&release, &config, site.path(), "cache"))?;
    let idle_rss = rss_kib(wagi.pid())?;
    let peer = match &wasmtime {
        Some(wasmtime) => Some(Server::start_wasmtime(wasmtime, &root.join("target/examples/spin_hello.wasm"))?),
        None => None,
    };

    for connections in [1, 64, 512] {
        let name = format!("hello.wat, {connections} connections");
        let rss = (connections == 512).then(|| RssSampler::start(wagi.pid()));
        // At 64 connections the wasi:http twins of hello.wat take their turns in the same rounds: the
        // smallest one (`no_std`, importing only what it calls), one built with std, and the
        // spin-sdk 7 one (WASI 0.3) with a fresh instance per request and reusing instances.
        let mut servers: Vec<(&Server, &str)> = vec![(&ceiling, "/hello"), (&wagi, "/hello")];
        if connections == 64 {
            servers.extend([
                (&wagi, "/wasi-http-hello"),
                (&wagi, "/wasi-http/hello"),
                (&wagi, "/spin-hello"),
                (&wagi, "/spin-hello-reused"),
                (&wagi, "/visit"),
                (&wagi, "/add?text=bench"),
            ]);
            servers.extend(peer.as_ref().map(|peer| (peer, "/")));
        }
        let runs = in_turn(&options, servers.len(), |turn| {
            let (server, path) = servers[turn];
            wrk(server, path, connections, options.seconds, None)
        })?;
        let ceiling_median = Median::of(&runs[0]);
        report.row(&name, "ceiling", &ceiling_median, None);
        report.row(&name, "wagi", &Median::of(&runs[1]), Some(&ceiling_median));
        let components = [
            "hello, wasi:http component (Rust, no_std)",
            "hello, wasi:http component (Rust, std)",
            "hello, spin-sdk 7 component (WASI 0.3), fresh instances",
            "hello, spin-sdk 7 component (WASI 0.3), instances reused 128 x 16",
            "key-value read and write, spin-sdk 7 (SQLite store), fresh instances",
            "SQLite insert, spin-sdk 7, fresh instances",
        ];
        for (component, runs) in components.iter().zip(runs.iter().skip(2)) {
            let name = format!("{component}, {connections} connections");
            report.row(&name, "wagi", &Median::of(runs), Some(&ceiling_median));
        }
        if let Some(peer_runs) = runs.get(2 + components.len()) {
            let peer = Median::of(peer_runs);
            let name = format!("hello, spin-sdk 7 component (WASI 0.3), its defaults, {connections} connections");
            report.row(&name, "wasmtime serve", &peer, Some(&ceiling_median));
            let (fresh, reused) = (Median::of(&runs[4]), Median::of(&runs[5]));
            report.note(format!(
                "spin-sdk 7 hello: wagi with fresh instances {:.2}x, with instances reused 128 x 16 {:.2}x the req/s of `wasmtime serve` {WASMTIME_CLI}, in the same rounds",
                fresh.0.requests_per_second / peer.0.requests_per_second,
                reused.0.requests_per_second / peer.0.requests_per_second
            ));
        }
        if let Some(rss) = rss {
            let peak = rss.stop();
            report.note(format!(
                "wagi RSS: {} MiB idle, {} MiB peak under 512 connections ({} MiB above idle)",
                idle_rss / 1024,
                peak / 1024,
                peak.saturating_sub(idle_rss) / 1024
            ));
        }
        if connections == 64 {
            report.ceiling_64 = Some(ceiling_median);
        }
    }

    let ceiling_64 = report.ceiling_64.clone();
    // The same program as a core module and as a component, alternating like wagi and the ceiling.
    let (env_runs, component_runs) = alternate(&options, |component| {
        let path = if component { "/env-wasip2/bench?a=1&b=2" } else { "/env/bench?a=1&b=2" };
        wrk(&wagi, path, 64, options.seconds, None)
    })?;
    let (env, component) = (Median::of(&env_runs), Median::of(&component_runs));
    report.row("Rust env-dump guest (wasm32-wasip1 module), 64 connections", "wagi", &env, ceiling_64.as_ref());
    report.row(
        "Rust env-dump guest (wasm32-wasip2 component), 64 connections",
        "wagi",
        &component,
        ceiling_64.as_ref(),
    );
    report.note(format!(
        "the wasm32-wasip2 component reached {:.2}x the req/s of the wasm32-wasip1 module, in alternating runs",
        component.0.requests_per_second / env.0.requests_per_second
    ));
    let python_runs = repeat(&options, || wrk(&wagi, "/python/bench?a=1&b=2", 64, options.seconds, None))?;
    report.row(
        "Python env-dump (componentize-py), 64 connections",
        "wagi",
        &Median::of(&python_runs),
        ceiling_64.as_ref(),
    );
    let post = site.path().join("post.lua");
    std::fs::write(&post, "wrk.method = \"POST\"\nwrk.body = string.rep(\"x\", 65536)\n")?;
    let echo_runs = repeat(&options, || wrk(&wagi, "/echo", 64, options.seconds, Some(&post)))?;
    report.row("POST echo of 64 KiB, 64 connections", "wagi", &Median::of(&echo_runs), None);

    report.note(format!(
        "wagi RSS after the scenarios above: {} MiB (pool slots keep what modules touched, see --memory-keep-resident)",
        rss_kib(wagi.pid())? / 1024
    ));
    stream_scenarios(&options, &wagi, &mut report)?;
    // A fresh server, so the memory the scenarios above left resident does not count.
    let fresh = Server::start(&mut wagi_command(&release, &config, site.path(), "fresh"))?;
    concurrent_downloads(&fresh, &mut report)?;
    drop(fresh);
    health_under_loops(&options, &wagi, &mut report)?;
    drop(wagi);
    drop(ceiling);

    startup_scenarios(&options, &root, &release, site.path(), &mut report)?;
    println!("\n{}", report.render(&options));
    Ok(())
}

fn parse_args(args: &[OsString]) -> anyhow::Result<Options> {
    let mut options = Options { rounds: 3, seconds: 5, peers: false };
    let mut args = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        if arg == "--peers" {
            options.peers = true;
            continue;
        }
        let value = args.next().with_context(|| format!("`{arg}` needs a value"))?;
        match arg.as_str() {
            "--rounds" => options.rounds = value.parse().context("--rounds takes a number")?,
            "--seconds" => options.seconds = value.parse().context("--seconds takes a number")?,
            other => bail!("unknown argument `{other}`; usage: cargo xtask bench [--rounds N] [--seconds S] [--peers]"),
        }
    }
    if options.rounds == 0 || options.seconds == 0 {
        bail!("--rounds and --seconds must be at least 1");
    }
    Ok(options)
}

fn ensure_wrk() -> anyhow::Result<()> {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return Ok(());
    }
    println!("wrk is not installed; installing it with apt-get (the Debian package `wrk`)");
    run(Command::new("apt-get").args(["install", "-y", "wrk"]))
        .context("cannot install wrk; install it (Debian/Ubuntu: `apt-get install wrk`) and run again")
}

/// The `wasmtime` of wasmtime-cli [`WASMTIME_CLI`], installed into `target/peers` unless it is
/// there already.
fn install_wasmtime(root: &Path) -> anyhow::Result<PathBuf> {
    let peers = root.join("target/peers");
    let wasmtime = peers.join("bin/wasmtime");
    let installed = Command::new(&wasmtime).arg("--version").output().ok();
    if installed.is_some_and(|out| String::from_utf8_lossy(&out.stdout).contains(WASMTIME_CLI)) {
        return Ok(wasmtime);
    }
    println!("installing wasmtime-cli {WASMTIME_CLI} into {} (about 20 minutes)", peers.display());
    run(cargo().args(["install", "wasmtime-cli", "--version", WASMTIME_CLI, "--locked", "--root"]).arg(&peers))
        .context("cannot install wasmtime-cli")?;
    Ok(wasmtime)
}

/// The bench's modules.toml and modules; returns the config path.
fn write_site(root: &Path, dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::write(dir.join("loop.wat"), LOOP_WAT)?;
    let module = |name: &str| root.join("target/examples").join(name).display().to_string();
    let config = format!(
        "[[module]]\nroute = \"/hello\"\nmodule = \"{hello}\"\n\n\
         [[module]]\nroute = \"/env/...\"\nmodule = \"{env}\"\n\n\
         [[module]]\nroute = \"/env-wasip2/...\"\nmodule = \"{env_wasip2}\"\n\n\
         [[module]]\nroute = \"/python/...\"\nmodule = \"{python}\"\n\n\
         [[module]]\nroute = \"/echo\"\nmodule = \"{echo}\"\n\n\
         [[module]]\nroute = \"/stream\"\nmodule = \"{stream}\"\n\n\
         [[module]]\nroute = \"/wasi-http/...\"\nmodule = \"{wasi_http}\"\n\n\
         [[module]]\nroute = \"/wasi-http-hello\"\nmodule = \"{wasi_http_hello}\"\n\n\
         [[module]]\nroute = \"/spin-hello\"\nmodule = \"{spin_hello}\"\n\n\
         [[module]]\nroute = \"/spin-hello-reused\"\nmodule = \"{spin_hello}\"\n\
         instance_reuse = 128\ninstance_concurrency = 16\n\n\
         [[module]]\nroute = \"/...\"\nmodule = \"{spin_todo}\"\n\
         key_value_stores = [\"default\"]\nsqlite_databases = [\"default\"]\n\n\
         [[module]]\nroute = \"/loop\"\nmodule = \"loop.wat\"\ntimeout = \"2s\"\n",
        hello = root.join("examples/hello.wat").display(),
        stream = root.join("examples/stream.wat").display(),
        env = module("env_dump.wasm"),
        env_wasip2 = module("env_dump_wasip2.wasm"),
        python = module("python_env.wasm"),
        echo = module("echo.wasm"),
        wasi_http = module("http_component.wasm"),
        wasi_http_hello = module("http_hello.wasm"),
        spin_hello = module("spin_hello.wasm"),
        spin_todo = module("spin_todo.wasm"),
    );
    let path = dir.join("modules.toml");
    std::fs::write(&path, config)?;
    Ok(path)
}

/// `wagi` serving `config`, caching in `<dir>/<cache>`, logging to `<dir>/<cache>.log` (the
/// looping scenario logs every 504) and writing its access log to `<dir>/<cache>.access.log`.
fn wagi_command(release: &Path, config: &Path, dir: &Path, cache: &str) -> Command {
    let mut command = Command::new(release.join("wagi"));
    command
        .arg("-c")
        .arg(config)
        .args(["-l", "127.0.0.1:0", "--log-dir"])
        .arg(dir.join("logs"))
        .arg("--module-cache")
        .arg(dir.join(cache))
        .arg("--access-log")
        .arg(dir.join(format!("{cache}.access.log")));
    command
}

/// A server process, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    ready_after: Duration,
}

impl Server {
    /// Starts `command` and waits for its `Ready: serving on http://ADDR` line on stderr.
    fn start(command: &mut Command) -> anyhow::Result<Self> {
        let started = Instant::now();
        let mut child = command.stderr(Stdio::piped()).spawn().context("cannot start server")?;
        let stderr = child.stderr.take().context("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let addr = lines.find_map(|line| line.ok()?.strip_prefix("Ready: serving on http://").map(str::to_owned));
        let ready_after = started.elapsed();
        std::thread::spawn(move || lines.for_each(drop));
        let Some(addr) = addr else {
            let _ = child.kill();
            bail!("the server exited before it was ready: {:?}", child.wait());
        };
        Ok(Self { child, addr: addr.parse().context("listening address")?, ready_after })
    }

    /// Starts `wasmtime serve` on `component` with its defaults (which reuse WASI 0.3 instances)
    /// and WASI's CLI interfaces, on a free loopback port, and waits until it accepts connections.
    fn start_wasmtime(wasmtime: &Path, component: &Path) -> anyhow::Result<Self> {
        let started = Instant::now();
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let mut child = Command::new(wasmtime)
            .args(["serve", "-S", "cli", "--addr"])
            .arg(addr.to_string())
            .arg(component)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start wasmtime serve")?;
        while TcpStream::connect_timeout(&addr, IO_TIMEOUT).is_err() {
            if started.elapsed() > IO_TIMEOUT || child.try_wait()?.is_some() {
                let _ = child.kill();
                bail!("wasmtime serve did not start listening on {addr}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Self { child, addr, ready_after: started.elapsed() })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `wrk` against `path` on `server` and measures the server's CPU time meanwhile; errors
/// are socket errors plus non-2xx/3xx responses.
fn wrk(server: &Server, path: &str, connections: u32, seconds: u32, script: Option<&Path>) -> anyhow::Result<Run> {
    let cpu_before = cpu_seconds(server.pid())?;
    let mut run = wrk_run(&server.url(path), connections, seconds, script)?;
    let cpu = cpu_seconds(server.pid())? - cpu_before;
    run.cpu_micros_per_request = cpu * 1e6 / run.requests.max(1) as f64;
    Ok(run)
}

/// Runs `measure(false)` (ceiling) and `measure(true)` (wagi) alternately, `rounds` times each.
fn alternate(
    options: &Options,
    mut measure: impl FnMut(bool) -> anyhow::Result<Run>,
) -> anyhow::Result<(Vec<Run>, Vec<Run>)> {
    let mut runs = in_turn(options, 2, |turn| measure(turn == 1))?.into_iter();
    Ok((runs.next().unwrap_or_default(), runs.next().unwrap_or_default()))
}

/// Runs `measure(0)` to `measure(turns - 1)` in turn, once per round, so every contender sees the
/// same machine state; the runs of each turn, by turn.
fn in_turn(
    options: &Options,
    turns: usize,
    mut measure: impl FnMut(usize) -> anyhow::Result<Run>,
) -> anyhow::Result<Vec<Vec<Run>>> {
    let mut runs = vec![Vec::new(); turns];
    for _ in 0..options.rounds {
        for (turn, turn_runs) in runs.iter_mut().enumerate() {
            turn_runs.push(measure(turn)?);
        }
    }
    Ok(runs)
}

fn repeat(options: &Options, mut measure: impl FnMut() -> anyhow::Result<Run>) -> anyhow::Result<Vec<Run>> {
    (0..options.rounds).map(|_| measure()).collect()
}

/// 10 MiB responses: time to first byte and throughput for one client, then 64 at once with the
/// server's memory watched.
fn stream_scenarios(options: &Options, wagi: &Server, report: &mut Report) -> anyhow::Result<()> {
    let mut first_bytes = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..options.rounds {
        let (first_byte, total) = download(wagi.addr, "/stream")?;
        first_bytes.push(first_byte.as_secs_f64() * 1e6);
        totals.push(total.as_secs_f64());
    }
    let total = median(totals.into_iter());
    report.note(format!(
        "10 MiB streamed response, one client: first byte after {} (median), whole body in {:.1} ms ({:.0} MiB/s)",
        micros(median(first_bytes.into_iter())),
        total * 1e3,
        (STREAM_BYTES as f64 / (1 << 20) as f64) / total
    ));
    Ok(())
}

/// 64 clients each downloading the 10 MiB response at once from `wagi`, idle until now.
fn concurrent_downloads(wagi: &Server, report: &mut Report) -> anyhow::Result<()> {
    let idle_rss = rss_kib(wagi.pid())?;
    let sampler = RssSampler::start(wagi.pid());
    let started = Instant::now();
    let addr = wagi.addr;
    let clients: Vec<_> = (0..64).map(|_| std::thread::spawn(move || download(addr, "/stream"))).collect();
    let mut failed = 0;
    for client in clients {
        if !matches!(client.join(), Ok(Ok(_))) {
            failed += 1;
        }
    }
    let elapsed = started.elapsed();
    let peak = sampler.stop();
    report.note(format!(
        "64 clients downloading 10 MiB each from a fresh server: {:.0} ms in all, {failed} failed; wagi RSS {} MiB idle, peak {} MiB, {} MiB above idle",
        elapsed.as_secs_f64() * 1e3,
        idle_rss / 1024,
        peak / 1024,
        peak.saturating_sub(idle_rss) / 1024
    ));
    Ok(())
}

/// GETs `path` on a new connection; returns the time to the first byte and to the end. Fails
/// unless the status is 200 and at least [`STREAM_BYTES`] arrive.
fn download(addr: SocketAddr, path: &str) -> anyhow::Result<(Duration, Duration)> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut buffer = vec![0; 256 << 10];
    let first = stream.read(&mut buffer)?;
    let first_byte = started.elapsed();
    if !buffer[..first].starts_with(b"HTTP/1.1 200") {
        bail!("unexpected response: {}", String::from_utf8_lossy(&buffer[..first.min(100)]));
    }
    let mut received = first;
    loop {
        match stream.read(&mut buffer)? {
            0 => break,
            n => received += n,
        }
    }
    if received < STREAM_BYTES {
        bail!("only {received} bytes arrived");
    }
    Ok((first_byte, started.elapsed()))
}

/// `/healthz` and `/hello` while 8 clients keep the looping module busy until its deadline.
fn health_under_loops(options: &Options, wagi: &Server, report: &mut Report) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let looped = Arc::new(AtomicU64::new(0));
    let addr = wagi.addr;
    let loopers: Vec<_> = (0..8)
        .map(|_| {
            let (stop, looped) = (Arc::clone(&stop), Arc::clone(&looped));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(504) = get_status(addr, "/loop") {
                        looped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let health = Median::of(&repeat(options, || wrk(wagi, "/healthz", 4, options.seconds, None))?);
    let hello = Median::of(&repeat(options, || wrk(wagi, "/hello", 4, options.seconds, None))?);
    stop.store(true, Ordering::Relaxed);
    for looper in loopers {
        let _ = looper.join();
    }
    report.row("/healthz, 4 connections, 8 looping clients", "wagi", &health, None);
    report.row("hello.wat, 4 connections, 8 looping clients", "wagi", &hello, None);
    report.note(format!("looping requests ended with 504 at their 2 s deadline: {}", looped.load(Ordering::Relaxed)));
    Ok(())
}

fn get_status(addr: SocketAddr, path: &str) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("no status")
}

/// Time to ready with 50 distinct Rust modules: first with an empty cache (compiling), then
/// again with the compiled code cached.
fn startup_scenarios(
    options: &Options,
    root: &Path,
    release: &Path,
    dir: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let base = std::fs::read(root.join("target/examples/env_dump.wasm")).context("env_dump.wasm")?;
    let mut config = String::new();
    for n in 0..50 {
        let name = format!("module{n}.wasm");
        std::fs::write(dir.join(&name), with_custom_section(&base, &format!("bench-{n}")))?;
        writeln!(config, "[[module]]\nroute = \"/m{n}\"\nmodule = \"{name}\"\n")?;
    }
    let config_path = dir.join("fifty.toml");
    std::fs::write(&config_path, config)?;
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for round in 0..options.rounds {
        let cache = format!("startup-cache-{round}");
        let first = Server::start(&mut wagi_command(release, &config_path, dir, &cache))?;
        cold.push(first.ready_after.as_secs_f64() * 1e6);
        drop(first);
        let second = Server::start(&mut wagi_command(release, &config_path, dir, &cache))?;
        warm.push(second.ready_after.as_secs_f64() * 1e6);
    }
    report.note(format!(
        "time to ready with 50 modules ({} KiB each): {} with an empty cache, {} with compiled code cached (medians)",
        base.len() / 1024,
        micros(median(cold.into_iter())),
        micros(median(warm.into_iter()))
    ));

    let python = root.join("target/examples/python_env.wasm");
    let python_size = std::fs::metadata(&python).context("python_env.wasm")?.len();
    let python_config = dir.join("python.toml");
    std::fs::write(&python_config, format!("[[module]]\nroute = \"/python\"\nmodule = \"{}\"\n", python.display()))?;
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for round in 0..options.rounds {
        let cache = format!("python-cache-{round}");
        let first = Server::start(&mut wagi_command(release, &python_config, dir, &cache))?;
        cold.push(first.ready_after.as_secs_f64());
        drop(first);
        let second = Server::start(&mut wagi_command(release, &python_config, dir, &cache))?;
        warm.push(second.ready_after.as_secs_f64());
    }
    let (cold, warm) = (median(cold.into_iter()), median(warm.into_iter()));
    report.note(format!(
        "time to ready with the Python example ({:.1} MB component): {} with an empty cache, {} with compiled code cached ({:.1}% of cold; medians)",
        python_size as f64 / 1e6,
        micros(cold * 1e6),
        micros(warm * 1e6),
        warm / cold * 100.0
    ));
    Ok(())
}

/// `wasm` with a custom section named `name` appended: the same code, another digest.
fn with_custom_section(wasm: &[u8], name: &str) -> Vec<u8> {
    let mut payload = leb128(name.len());
    payload.extend_from_slice(name.as_bytes());
    let mut out = wasm.to_vec();
    out.push(0);
    out.extend(leb128(payload.len()));
    out.extend(payload);
    out
}

fn leb128(mut value: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(byte);
            return bytes;
        }
        bytes.push(byte | 0x80);
    }
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")
}

/// Samples a process's RSS every 20 ms and keeps the peak.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid).unwrap_or(0));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        });
        Self { stop, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

#[derive(Default)]
struct Report {
    rows: Vec<String>,
    notes: Vec<String>,
    ceiling_64: Option<Median>,
}

impl Report {
    fn row(&mut self, scenario: &str, server: &str, median: &Median, ceiling: Option<&Median>) {
        let ratio = ceiling.map_or_else(String::new, |c| {
            format!(
                "{:.2}x req/s, {:.1}x p99",
                median.0.requests_per_second / c.0.requests_per_second,
                median.0.p99_micros / c.0.p99_micros
            )
        });
        let line = format!(
            "| {scenario} | {server} | {:.0} | {} | {} | {} | {:.1} | {ratio} |",
            median.0.requests_per_second,
            micros(median.0.p50_micros),
            micros(median.0.p99_micros),
            median.0.errors,
            median.0.cpu_micros_per_request
        );
        println!("{line}");
        self.rows.push(line);
    }

    fn note(&mut self, note: String) {
        println!("{note}");
        self.notes.push(note);
    }

    fn render(&self, options: &Options) -> String {
        let mut text = format!(
            "Medians of {} rounds of {} s each (wrk, loopback; ceiling and wagi alternate).\n\n\
             | scenario | server | req/s | p50 | p99 | errors | server CPU µs/req | wagi vs ceiling |\n|---|---|---|---|---|---|---|---|\n",
            options.rounds, options.seconds
        );
        for row in &self.rows {
            text.push_str(row);
            text.push('\n');
        }
        text.push('\n');
        for note in &self.notes {
            text.push_str("- ");
            text.push_str(note);
            text.push('\n');
        }
        text
    }
}

fn micros(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} s", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.2} ms", value / 1e3)
    } else {
        format!("{value:.0} µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_sections_take_their_length_in_leb128() {
        assert_eq!(leb128(300), vec![0xac, 0x02]);
    }
}
