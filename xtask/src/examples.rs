//! `cargo xtask examples` builds the guest programs in `examples/`; `cargo xtask serve` serves them.
//!
//! The Rust examples are a Cargo workspace of their own in `examples/`: every directory in it with a `Cargo.toml`
//! is one example, whose package and binary are named after the directory. They are built for wasm32-wasip1, except
//! `guestbook`, a WASI 0.2 command component, and `http-component` and `http-hello`, `wasi:http` components
//! (libraries), which are built for wasm32-wasip2 only (`WASIP2_ONLY`); `env-dump` and `volume-file` are built for
//! wasm32-wasip2 too. The other examples (`GUESTS`) are in C, Zig, AssemblyScript, Python and JavaScript (`js-env`,
//! and `js-http` with `js-env`'s componentize-js), each built with its own toolchain at the version pinned here or in
//! its `package.json`. Built
//! modules land in `target/examples/`, named after the example with `-` turned into `_` (`env-dump` becomes
//! `env_dump.wasm`). `target/examples/guestbook-data/` is created for the guestbook's entries, and kept from one
//! build to the next.
//!
//! xtask installs the pinned Python packages in `target/toolchains/venv` and the npm packages in each example's
//! `node_modules/` itself. An example whose toolchain is missing anyway (no clang for wasm32-wasi, no python3, no
//! npm, a failed install) is skipped with a warning, or fails the build when `CI` is set to a non-empty value.
//! Then `target/examples/modules.toml` is `examples/modules.toml` without the entries whose module was not built,
//! with absolute paths, and `target/examples/skipped.txt` names the skipped examples, one a line.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use anyhow::{Context, bail};

use crate::{cargo, project_root, read_stdout, run, site_config};

const TARGET: &str = "wasm32-wasip1";
/// The target of the Rust examples built as WASI 0.2 command components.
const TARGET_P2: &str = "wasm32-wasip2";
/// The Rust examples built for `TARGET_P2` only, not for `TARGET`.
const WASIP2_ONLY: &[&str] = &["guestbook", "http-component", "http-hello"];
/// Cargo's target directory for the examples, apart from the root workspace's so neither build waits for
/// the other's lock, relative to the project root.
const BUILD_DIR: &str = "target/examples-build";
/// Where the built modules go, relative to the project root.
const OUT_DIR: &str = "target/examples";
/// The guestbook's writable volume in `examples/modules.toml`, relative to `OUT_DIR`.
const GUESTBOOK_DATA: &str = "guestbook-data";

/// The Python packages that build the Zig and Python examples, installed in `VENV_DIR`.
const PIP_PACKAGES: &[&str] = &["ziglang==0.17.1", "componentize-py==0.25.1"];
/// The virtual environment of `PIP_PACKAGES`, relative to the project root.
const VENV_DIR: &str = "target/toolchains/venv";
/// The Zig compiler's caches, relative to the project root.
const ZIG_CACHE_DIR: &str = "target/toolchains/zig-cache";
/// The clang sysroot holding wasi-libc, as Debian's `wasi-libc` package installs it.
const C_SYSROOT: &str = "/usr";
const C_INSTALL: &str = "`apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32`";
/// The crate whose `wit/deps/` holds the WASI 0.2 WIT (`wasi:http` and all it uses) that the component examples
/// are built against: the version the root workspace locks, so the components import the interfaces wagi
/// provides. Each example's `wit/world.wit` names the version of those files.
const WIT_CRATE: &str = "wasmtime-wasi-http";
/// Where in `WIT_CRATE` the WIT is.
const WIT_DIR: &str = "wit/deps";
/// The WASI version of `WIT_CRATE`'s WIT, and the one StarlingMonkey (in componentize-js) exports its
/// `wasi:http/incoming-handler` at, which the JavaScript `wasi:http` example's WIT is rewritten to.
const WIT_VERSION: &str = "0.2.12";
const STARLINGMONKEY_WASI_VERSION: &str = "0.2.10";

/// Exports that an example must have, because `examples/modules.toml` or its `_routes` names them.
/// rustc exports `#[unsafe(no_mangle)]` functions from a wasm binary today; this catches the day it stops.
const REQUIRED_EXPORTS: &[(&str, &[&str])] = &[("routes", &["_start", "_routes", "on_exact", "on_wildcard"])];

/// The examples built after the Rust ones for wasm32-wasip1, in order.
const GUESTS: &[Guest] = &[
    Guest {
        name: "env-dump-wasip2",
        dir: "env-dump",
        component: true,
        build: build_rust_wasip2,
        also: &["volume-file-wasip2", "guestbook", "http-component", "http-get", "http-hello"],
    },
    Guest { name: "c-env", dir: "c-env", component: false, build: build_c, also: &[] },
    Guest { name: "zig-env", dir: "zig-env", component: false, build: build_zig, also: &[] },
    Guest {
        name: "assemblyscript-env",
        dir: "assemblyscript-env",
        component: false,
        build: build_assemblyscript,
        also: &[],
    },
    Guest { name: "python-env", dir: "python-env", component: true, build: build_python, also: &[] },
    Guest { name: "js-env", dir: "js-env", component: true, build: build_javascript, also: &[] },
    Guest { name: "js-http", dir: "js-http", component: true, build: build_javascript_http, also: &[] },
];

/// An example built by a toolchain of its own.
#[derive(Debug)]
struct Guest {
    /// The example's name, which `skipped.txt` lists; its module is `target/examples/<name>.wasm` with `_` for `-`.
    name: &'static str,
    /// Its directory under `examples/`.
    dir: &'static str,
    /// Whether it builds a WASI 0.2 command component rather than a WASI preview 1 core module.
    component: bool,
    /// Builds the example in its directory (the first path) into the module file (the second path).
    build: fn(&mut Toolchains, &Path, &Path) -> anyhow::Result<Outcome>,
    /// The other examples that `build` builds, each into the module file named after it beside the first, of the
    /// same kind. They are built and skipped with this one.
    also: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Built,
    UpToDate,
}

/// A toolchain that is not available: its example is skipped, or under `CI`, the build fails.
#[derive(Debug, Clone)]
pub(crate) struct Missing {
    toolchain: &'static str,
    why: String,
    install: &'static str,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not available ({}); install it with {}", self.toolchain, self.why, self.install)
    }
}

impl std::error::Error for Missing {}

/// What `build` built and skipped.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub(crate) built: Vec<String>,
    pub(crate) skipped: Vec<(String, Missing)>,
}

/// Builds every example into `target/examples/`, then writes `target/examples/modules.toml` and `skipped.txt`.
pub(crate) fn build() -> anyhow::Result<Summary> {
    let root = project_root()?;
    let out_dir = root.join(OUT_DIR);
    fs::create_dir_all(&out_dir).with_context(|| format!("failed to create `{}`", out_dir.display()))?;
    let guestbook_data = out_dir.join(GUESTBOOK_DATA);
    fs::create_dir_all(&guestbook_data).with_context(|| format!("failed to create `{}`", guestbook_data.display()))?;
    let mut summary = Summary::default();

    install_target(TARGET)?;
    let mut build = cargo();
    build.current_dir(&root).args([
        "build",
        "--release",
        "--target",
        TARGET,
        "--manifest-path",
        "examples/Cargo.toml",
        "--target-dir",
        BUILD_DIR,
        "--workspace",
    ]);
    for name in WASIP2_ONLY {
        build.args(["--exclude", name]);
    }
    run(&mut build)?;
    let release_dir = root.join(BUILD_DIR).join(TARGET).join("release");
    for name in example_names(&root.join("examples"))? {
        if WASIP2_ONLY.contains(&name.as_str()) {
            continue;
        }
        let built = release_dir.join(format!("{name}.wasm"));
        let copied = out_dir.join(module_file_name(&name));
        fs::copy(&built, &copied)
            .with_context(|| format!("failed to copy `{}` to `{}`", built.display(), copied.display()))?;
        check_exports(&name, &copied)?;
        println!("built `{name}`: {}", relative_to(&copied, &root).display());
        summary.built.push(name);
    }

    let ci = env::var_os("CI").is_some_and(|value| !value.is_empty());
    let mut toolchains = Toolchains { root: root.clone(), venv: None, wit_deps: None };
    for guest in GUESTS {
        let dir = root.join("examples").join(guest.dir);
        let module = out_dir.join(module_file_name(guest.name));
        let started = Instant::now();
        let also: Vec<(&str, PathBuf)> =
            guest.also.iter().map(|&name| (name, out_dir.join(module_file_name(name)))).collect();
        match (guest.build)(&mut toolchains, &dir, &module) {
            Ok(outcome) => {
                check_kind(&module, guest.component)?;
                let shown = relative_to(&module, &root).display();
                match outcome {
                    Outcome::Built => println!("built `{}` in {:.1?}: {shown}", guest.name, started.elapsed()),
                    Outcome::UpToDate => println!("`{}` is up to date: {shown}", guest.name),
                }
                summary.built.push(guest.name.to_owned());
                for (name, module) in &also {
                    check_kind(module, guest.component)?;
                    println!("built `{name}` with `{}`: {}", guest.name, relative_to(module, &root).display());
                    summary.built.push((*name).to_owned());
                }
            }
            Err(err) => {
                let missing = match err.downcast::<Missing>() {
                    Ok(missing) => missing,
                    Err(err) => return Err(err.context(format!("failed to build `{}`", guest.name))),
                };
                if ci {
                    bail!("cannot build `{}`: {missing} (`CI` is set, so every example must build)", guest.name);
                }
                let names: Vec<&str> = std::iter::once(guest.name).chain(guest.also.iter().copied()).collect();
                eprintln!("\nskipped {}: {missing}\n", names.join(", "));
                // A module left from an earlier build would be served although this build skipped it.
                for (name, module) in [(guest.name, module)].into_iter().chain(also) {
                    if module.exists() {
                        fs::remove_file(&module).with_context(|| format!("failed to remove `{}`", module.display()))?;
                    }
                    summary.skipped.push((name.to_owned(), missing.clone()));
                }
            }
        }
    }

    let skipped: Vec<&str> = summary.skipped.iter().map(|(name, _)| name.as_str()).collect();
    let config = site_config::write(&root, &out_dir, &skipped)?;
    println!("wrote {}", relative_to(&config, &root).display());
    println!("examples built: {}", summary.built.join(", "));
    if summary.skipped.is_empty() {
        println!("examples skipped: none");
    } else {
        eprintln!("examples skipped:");
        for (name, missing) in &summary.skipped {
            eprintln!("  {name}: {missing}");
        }
    }
    Ok(summary)
}

/// Builds the examples, then runs the server on `target/examples/modules.toml`, passing `args` through to it.
pub(crate) fn serve(args: &[OsString]) -> anyhow::Result<()> {
    let summary = build()?;
    for (name, missing) in &summary.skipped {
        eprintln!("not serving `{name}`: {missing}");
    }
    let root = project_root()?;
    let config = root.join(OUT_DIR).join("modules.toml");
    run(cargo().current_dir(&root).args(["run", "--bin", "wagi", "--", "-c"]).arg(config).args(args))
}

fn install_target(target: &str) -> anyhow::Result<()> {
    let installed = read_stdout(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if installed.lines().any(|line| line.trim() == target) {
        return Ok(());
    }
    println!("target `{target}` is not installed, installing it");
    run(Command::new("rustup").args(["target", "add", target]))
}

/// `env-dump` for wasm32-wasip2: the same program as a WASI 0.2 command component. `volume-file` is built for
/// wasm32-wasip2 too, as `volume_file_wasip2.wasm`, for the tests of volumes seen by components, and `guestbook` and
/// `http-component`, which are built for wasm32-wasip2 only, as `guestbook.wasm` and `http_component.wasm`, with
/// `http-component`'s command `http-get` as `http_get.wasm`, and the bench's `http_hello.wasm`.
fn build_rust_wasip2(toolchains: &mut Toolchains, _dir: &Path, module: &Path) -> anyhow::Result<Outcome> {
    install_target(TARGET_P2).map_err(|err| Missing {
        toolchain: "the Rust target `wasm32-wasip2`",
        why: format!("{err:#}"),
        install: "`rustup target add wasm32-wasip2`",
    })?;
    let root = &toolchains.root;
    let build = |packages: &[&str]| {
        let mut command = cargo();
        command.current_dir(root).args(["build", "--release", "--target", TARGET_P2]);
        command.args(["--manifest-path", "examples/Cargo.toml", "--target-dir", BUILD_DIR]);
        for package in packages {
            command.args(["--package", package]);
        }
        run(&mut command)
    };
    build(&["env-dump", "volume-file", "guestbook", "http-component"])?;
    // On its own: built together with the others, it would get the `std` feature of `wasip2` they enable.
    build(&["http-hello"])?;
    let release_dir = root.join(BUILD_DIR).join(TARGET_P2).join("release");
    let volume_file = module.with_file_name(module_file_name("volume-file-wasip2"));
    let guestbook = module.with_file_name(module_file_name("guestbook"));
    let http_component = module.with_file_name(module_file_name("http-component"));
    let http_get = module.with_file_name(module_file_name("http-get"));
    let http_hello = module.with_file_name(module_file_name("http-hello"));
    for (package, copied) in [
        ("env-dump", module),
        ("volume-file", &volume_file),
        ("guestbook", &guestbook),
        ("http_component", &http_component),
        ("http-get", &http_get),
        ("http_hello", &http_hello),
    ] {
        let built = release_dir.join(format!("{package}.wasm"));
        fs::copy(&built, copied)
            .with_context(|| format!("failed to copy `{}` to `{}`", built.display(), copied.display()))?;
    }
    Ok(Outcome::Built)
}

fn build_c(_: &mut Toolchains, dir: &Path, module: &Path) -> anyhow::Result<Outcome> {
    check_wasi_clang()?;
    build_if_stale(dir, &[], module, |out| {
        run(Command::new("clang")
            .current_dir(dir)
            .arg("--target=wasm32-wasi")
            .arg(format!("--sysroot={C_SYSROOT}"))
            .args(["-O2", "env.c", "-o"])
            .arg(out))
    })
}

fn build_zig(toolchains: &mut Toolchains, dir: &Path, module: &Path) -> anyhow::Result<Outcome> {
    let venv = toolchains.venv()?;
    let cache = toolchains.root.join(ZIG_CACHE_DIR);
    build_if_stale(dir, &[venv.stamp()], module, |out| {
        let mut emit = OsString::from("-femit-bin=");
        emit.push(out);
        run(Command::new(venv.bin("python"))
            .current_dir(dir)
            .args(["-m", "ziglang", "build-exe", "-target", "wasm32-wasi", "-O", "ReleaseSmall", "env.zig"])
            .arg("--cache-dir")
            .arg(&cache)
            .arg("--global-cache-dir")
            .arg(&cache)
            .arg(emit))
    })
}

fn build_assemblyscript(_: &mut Toolchains, dir: &Path, module: &Path) -> anyhow::Result<Outcome> {
    let installed = npm_ci(dir)?;
    build_if_stale(dir, &[installed], module, |out| {
        run(Command::new(dir.join("node_modules/.bin/asc"))
            .current_dir(dir)
            .args(["env.ts", "--config", "node_modules/@assemblyscript/wasi-shim/asconfig.json", "-O", "-o"])
            .arg(out))
    })
}

fn build_python(toolchains: &mut Toolchains, dir: &Path, module: &Path) -> anyhow::Result<Outcome> {
    let venv = toolchains.venv()?;
    let wit_deps = toolchains.wit_deps()?;
    build_if_stale(dir, &[venv.stamp(), wit_deps.clone()], module, |out| {
        copy_wit_deps(&wit_deps, dir)?;
        run(Command::new(venv.bin("componentize-py"))
            .current_dir(dir)
            .args(["-d", "wit", "-w", "app", "componentize", "app", "-o"])
            .arg(out))
    })
}

fn build_javascript(toolchains: &mut Toolchains, dir: &Path, module: &Path) -> anyhow::Result<Outcome> {
    let installed = npm_ci(dir)?;
    let wit_deps = toolchains.wit_deps()?;
    build_if_stale(dir, &[installed, wit_deps.clone()], module, |out| {
        copy_wit_deps(&wit_deps, dir)?;
        // The component imports `wasi:http/types` and `wasi:http/outgoing-handler` as well, for
        // `fetch`: built as its users build it, it checks that wagi runs such a component.
        run(Command::new(dir.join("node_modules/.bin/componentize-js"))
            .current_dir(dir)
            .args(["app.js", "--wit", "wit", "-n", "app", "-o"])
            .arg(out))
    })
}

/// The `wasi:http` component in JavaScript, built with the componentize-js that `examples/js-env` installs. Its
/// WIT is rewritten to the WASI version StarlingMonkey exports `incoming-handler` at, without what newer
/// versions added.
fn build_javascript_http(toolchains: &mut Toolchains, dir: &Path, module: &Path) -> anyhow::Result<Outcome> {
    let js_env = dir.with_file_name("js-env");
    let installed = npm_ci(&js_env)?;
    let wit_deps = toolchains.wit_deps()?;
    build_if_stale(dir, &[installed, wit_deps.clone()], module, |out| {
        copy_wit_deps(&wit_deps, dir)?;
        pin_wit_version(&dir.join("wit/deps"), WIT_VERSION, STARLINGMONKEY_WASI_VERSION)?;
        run(Command::new(js_env.join("node_modules/.bin/componentize-js"))
            .current_dir(dir)
            .args(["app.js", "--wit", "wit", "-n", "app", "-o"])
            .arg(out))
    })
}

/// Rewrites the WIT files in `deps` from WASI `from` to the older `to`, dropping the one-line items that a
/// `@since` gate says are newer than `to`.
fn pin_wit_version(deps: &Path, from: &str, to: &str) -> anyhow::Result<()> {
    let newer = |line: &str| {
        line.trim().strip_prefix("@since(version = ").and_then(|v| v.strip_suffix(')')).is_some_and(|version| {
            let minor = |v: &str| v.rsplit('.').next().and_then(|n| n.parse::<u32>().ok());
            minor(version) > minor(to)
        })
    };
    for entry in fs::read_dir(deps).with_context(|| format!("failed to list `{}`", deps.display()))? {
        let path = entry.with_context(|| format!("failed to list `{}`", deps.display()))?.path();
        let text = fs::read_to_string(&path).with_context(|| format!("failed to read `{}`", path.display()))?;
        let mut pinned = String::with_capacity(text.len());
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if newer(line) {
                lines.next();
                continue;
            }
            pinned.push_str(&line.replace(&format!("@{from}"), &format!("@{to}")));
            pinned.push('\n');
        }
        fs::write(&path, pinned).with_context(|| format!("failed to write `{}`", path.display()))?;
    }
    Ok(())
}

/// Runs `build` on a temporary path and moves the result to `module`, unless `module` is newer than every file
/// in `dir` (apart from `node_modules/`, `__pycache__/` and `wit/deps/`) and in `extra_inputs`.
fn build_if_stale(
    dir: &Path,
    extra_inputs: &[PathBuf],
    module: &Path,
    build: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<Outcome> {
    if let Ok(built) = fs::metadata(module).and_then(|metadata| metadata.modified()) {
        let mut newest = newest_mtime(dir)?;
        for input in extra_inputs {
            newest = newest.max(newest_mtime(input)?);
        }
        if newest < built {
            return Ok(Outcome::UpToDate);
        }
    }
    let out_dir = module.parent().context("the module path has no parent")?;
    let scratch = tempfile::tempdir_in(out_dir)
        .with_context(|| format!("failed to create a temporary directory in `{}`", out_dir.display()))?;
    let file_name = module.file_name().context("the module path has no file name")?;
    let out = scratch.path().join(file_name);
    build(&out)?;
    fs::rename(&out, module)
        .with_context(|| format!("failed to move `{}` to `{}`", out.display(), module.display()))?;
    Ok(Outcome::Built)
}

/// The latest modification time of `path` or, for a directory, of the files under it that are sources.
fn newest_mtime(path: &Path) -> anyhow::Result<SystemTime> {
    let metadata = fs::metadata(path).with_context(|| format!("failed to read `{}`", path.display()))?;
    if !metadata.is_dir() {
        return metadata.modified().with_context(|| format!("failed to read the mtime of `{}`", path.display()));
    }
    let mut newest = SystemTime::UNIX_EPOCH;
    for entry in fs::read_dir(path).with_context(|| format!("failed to list `{}`", path.display()))? {
        let entry = entry.with_context(|| format!("failed to list `{}`", path.display()))?;
        let name = entry.file_name();
        let generated = name == "node_modules"
            || name == "__pycache__"
            || (name == "deps" && path.file_name() == Some(OsStr::new("wit")));
        if !generated {
            newest = newest.max(newest_mtime(&entry.path())?);
        }
    }
    Ok(newest)
}

/// The toolchains that more than one example uses, each set up once.
#[derive(Debug)]
struct Toolchains {
    root: PathBuf,
    venv: Option<Result<Venv, Missing>>,
    wit_deps: Option<Result<PathBuf, Missing>>,
}

/// The Python virtual environment holding `PIP_PACKAGES`.
#[derive(Debug, Clone)]
struct Venv {
    dir: PathBuf,
}

impl Venv {
    fn bin(&self, program: &str) -> PathBuf {
        self.dir.join("bin").join(program)
    }

    /// A file listing the installed `PIP_PACKAGES`, rewritten whenever they change.
    fn stamp(&self) -> PathBuf {
        self.dir.join("wagi-pinned-packages.txt")
    }
}

impl Toolchains {
    fn venv(&mut self) -> Result<Venv, Missing> {
        let root = &self.root;
        self.venv.get_or_insert_with(|| set_up_venv(&root.join(VENV_DIR))).clone()
    }

    fn wit_deps(&mut self) -> Result<PathBuf, Missing> {
        let root = &self.root;
        self.wit_deps.get_or_insert_with(|| find_wit_deps(root)).clone()
    }
}

/// Creates the virtual environment and installs `PIP_PACKAGES` in it, unless it already has them.
fn set_up_venv(dir: &Path) -> Result<Venv, Missing> {
    let venv = Venv { dir: dir.to_path_buf() };
    let pinned = PIP_PACKAGES.join("\n") + "\n";
    if venv.bin("python").is_file() && fs::read_to_string(venv.stamp()).is_ok_and(|installed| installed == pinned) {
        return Ok(venv);
    }
    let missing = |why: String| Missing {
        toolchain: "Python with the pinned `ziglang` and `componentize-py`",
        why,
        install: "`apt-get install python3 python3-venv` (xtask installs the pip packages itself)",
    };
    // On an existing environment this only adds what is missing, such as pip after a failed first attempt.
    run(Command::new("python3").arg("-m").arg("venv").arg(dir)).map_err(|err| missing(format!("{err:#}")))?;
    run(Command::new(venv.bin("python"))
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(PIP_PACKAGES))
    .map_err(|err| missing(format!("{err:#}")))?;
    fs::write(venv.stamp(), pinned)
        .map_err(|err| missing(format!("cannot write `{}`: {err}", venv.stamp().display())))?;
    Ok(venv)
}

/// Runs `npm ci` in `dir` unless `node_modules/` is newer than `package.json` and `package-lock.json`, and
/// returns npm's record of what it installed.
fn npm_ci(dir: &Path) -> Result<PathBuf, Missing> {
    if let Err(err) = Command::new("node").arg("--version").output() {
        return Err(Missing {
            toolchain: "Node.js",
            why: format!("cannot run `node`: {err}"),
            install: "`apt-get install nodejs npm`",
        });
    }
    let installed = dir.join("node_modules/.package-lock.json");
    let mtime = |path: &Path| fs::metadata(path).and_then(|metadata| metadata.modified()).ok();
    if let Some(installed_at) = mtime(&installed) {
        let manifests = [dir.join("package.json"), dir.join("package-lock.json")];
        if manifests.iter().all(|manifest| mtime(manifest).is_some_and(|changed| changed < installed_at)) {
            return Ok(installed);
        }
    }
    run(Command::new("npm").current_dir(dir).args(["ci", "--no-audit", "--no-fund"])).map_err(|err| Missing {
        toolchain: "npm with the packages of `package-lock.json`",
        why: format!("{err:#}"),
        install: "`apt-get install npm` (xtask runs `npm ci` itself)",
    })?;
    Ok(installed)
}

/// The `WIT_DIR` directory of the `WIT_CRATE` that the root workspace locks.
fn find_wit_deps(root: &Path) -> Result<PathBuf, Missing> {
    let missing = |why: String| Missing {
        toolchain: "the WASI 0.2 WIT of the `wasmtime-wasi` crate",
        why,
        install: "`cargo fetch`",
    };
    let metadata = read_stdout(cargo().current_dir(root).args(["metadata", "--format-version", "1", "--locked"]))
        .map_err(|err| missing(format!("{err:#}")))?;
    let crate_dir = manifest_paths(&metadata)
        .into_iter()
        .filter_map(|manifest| manifest.parent().map(Path::to_path_buf))
        .find(|dir| dir.file_name().and_then(OsStr::to_str).is_some_and(is_wit_crate_dir))
        .ok_or_else(|| missing(format!("`cargo metadata` lists no `{WIT_CRATE}` package")))?;
    let deps = crate_dir.join(WIT_DIR);
    if !deps.is_dir() {
        return Err(missing(format!("`{}` does not exist", deps.display())));
    }
    Ok(deps)
}

/// Whether a registry source directory, named `<crate>-<version>`, is one of `WIT_CRATE`.
fn is_wit_crate_dir(name: &str) -> bool {
    name.strip_prefix(WIT_CRATE)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|version| version.starts_with(|c: char| c.is_ascii_digit()))
}

/// The `manifest_path` values in the JSON of `cargo metadata`.
fn manifest_paths(metadata: &str) -> Vec<PathBuf> {
    const KEY: &str = "\"manifest_path\":\"";
    let mut paths = Vec::new();
    let mut rest = metadata;
    while let Some(start) = rest.find(KEY) {
        rest = &rest[start + KEY.len()..];
        let mut value = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    rest = &rest[i + 1..];
                    break;
                }
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                c => value.push(c),
            }
        }
        paths.push(PathBuf::from(value));
    }
    paths
}

/// Replaces `<example>/wit/deps/` with a copy of the `.wit` files in `source`.
fn copy_wit_deps(source: &Path, example_dir: &Path) -> anyhow::Result<()> {
    let deps = example_dir.join("wit/deps");
    if deps.exists() {
        fs::remove_dir_all(&deps).with_context(|| format!("failed to remove `{}`", deps.display()))?;
    }
    fs::create_dir_all(&deps).with_context(|| format!("failed to create `{}`", deps.display()))?;
    for entry in fs::read_dir(source).with_context(|| format!("failed to list `{}`", source.display()))? {
        let path = entry.with_context(|| format!("failed to list `{}`", source.display()))?.path();
        if path.extension().is_some_and(|extension| extension == "wit") {
            let name = path.file_name().context("a listed file has no name")?;
            fs::copy(&path, deps.join(name)).with_context(|| format!("failed to copy `{}`", path.display()))?;
        }
    }
    Ok(())
}

/// Checks that clang can compile and link for wasm32-wasi against wasi-libc in `C_SYSROOT`.
fn check_wasi_clang() -> Result<(), Missing> {
    let missing = |why: String| Missing { toolchain: "clang for wasm32-wasi", why, install: C_INSTALL };
    let query = |arg: &str| {
        let output = Command::new("clang")
            .arg("--target=wasm32-wasi")
            .arg(format!("--sysroot={C_SYSROOT}"))
            .arg(arg)
            .output()
            .map_err(|err| missing(format!("cannot run `clang`: {err}")))?;
        if !output.status.success() {
            return Err(missing(format!("`clang {arg}` failed: {}", output.status)));
        }
        Ok(PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
    };
    // Each query prints a bare name instead of a path when the file is not found.
    if !query("-print-file-name=libc.a")?.is_absolute() {
        return Err(missing(format!("no wasi-libc `libc.a` in the sysroot `{C_SYSROOT}`")));
    }
    let builtins = query("-print-libgcc-file-name")?;
    if !builtins.is_file() {
        return Err(missing(format!("no compiler-rt builtins for wasm32 at `{}`", builtins.display())));
    }
    if !query("-print-prog-name=wasm-ld")?.is_absolute() {
        return Err(missing("no `wasm-ld` linker".to_owned()));
    }
    Ok(())
}

/// The examples' package names, sorted: the directories under `examples_dir` that hold a `Cargo.toml`.
fn example_names(examples_dir: &Path) -> anyhow::Result<Vec<String>> {
    let entries = fs::read_dir(examples_dir).with_context(|| format!("failed to list `{}`", examples_dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("failed to list `{}`", examples_dir.display()))?;
        if !entry.path().join("Cargo.toml").is_file() {
            continue;
        }
        let file_name = entry.file_name();
        let name = file_name
            .to_str()
            .with_context(|| format!("example directory `{}` is not UTF-8", entry.path().display()))?;
        names.push(name.to_owned());
    }
    names.sort();
    Ok(names)
}

/// `env-dump` becomes `env_dump.wasm`.
fn module_file_name(example: &str) -> String {
    format!("{}.wasm", example.replace('-', "_"))
}

/// Checks that `module` is a WASI 0.2 component or a core module, as its example should build.
fn check_kind(module: &Path, component: bool) -> anyhow::Result<()> {
    let bytes = fs::read(module).with_context(|| format!("failed to read `{}`", module.display()))?;
    let (expected, kind): (&[u8], _) =
        if component { (b"\0asm\x0d\0\x01\0", "a component") } else { (b"\0asm\x01\0\0\0", "a core module") };
    if !bytes.starts_with(expected) {
        bail!("`{}` is not {kind}", module.display());
    }
    Ok(())
}

fn check_exports(name: &str, module: &Path) -> anyhow::Result<()> {
    let Some((_, required)) = REQUIRED_EXPORTS.iter().find(|(example, _)| *example == name) else {
        return Ok(());
    };
    let bytes = fs::read(module).with_context(|| format!("failed to read `{}`", module.display()))?;
    let exports =
        export_names(&bytes).with_context(|| format!("failed to read the exports of `{}`", module.display()))?;
    let missing: Vec<&str> = required.iter().copied().filter(|export| !exports.iter().any(|e| e == export)).collect();
    if !missing.is_empty() {
        bail!("`{}` lacks the exports `{}`", module.display(), missing.join("`, `"));
    }
    Ok(())
}

/// The names in a wasm module's export section (section id 7), in order.
fn export_names(bytes: &[u8]) -> anyhow::Result<Vec<String>> {
    let mut reader = WasmReader { bytes, pos: 0 };
    if reader.take(8)? != b"\0asm\x01\0\0\0" {
        bail!("not a wasm module (version 1)");
    }
    while reader.pos < bytes.len() {
        let section_id = reader.take(1)?[0];
        let section_len = reader.leb_u32()? as usize;
        let section = reader.take(section_len)?;
        if section_id != 7 {
            continue;
        }
        let mut section = WasmReader { bytes: section, pos: 0 };
        let n_exports = section.leb_u32()?;
        let mut names = Vec::new();
        for _ in 0..n_exports {
            let name_len = section.leb_u32()? as usize;
            let name = std::str::from_utf8(section.take(name_len)?).context("export name is not UTF-8")?;
            names.push(name.to_owned());
            section.take(1)?; // The export's kind.
            section.leb_u32()?; // The export's index.
        }
        return Ok(names);
    }
    Ok(Vec::new())
}

struct WasmReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> WasmReader<'a> {
    fn take(&mut self, len: usize) -> anyhow::Result<&'a [u8]> {
        let end = self.pos.checked_add(len).filter(|&end| end <= self.bytes.len());
        let Some(end) = end else { bail!("unexpected end of module at byte {}", self.pos) };
        let taken = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(taken)
    }

    fn leb_u32(&mut self) -> anyhow::Result<u32> {
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        bail!("LEB128 number longer than 5 bytes at byte {}", self.pos)
    }
}

fn relative_to<'a>(path: &'a Path, base: &Path) -> &'a Path {
    path.strip_prefix(base).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{export_names, is_wit_crate_dir, manifest_paths};

    #[test]
    fn export_names_reads_the_export_section() {
        // (module (func (export "_start")) (func (export "on_exact"))), hand-assembled.
        let module = [
            b"\0asm\x01\0\0\0".as_slice(),
            &[1, 4, 1, 0x60, 0, 0],              // Type section: one `[] -> []`.
            &[3, 3, 2, 0, 0],                    // Function section: two functions of type 0.
            &[7, 21, 2, 6],                      // Export section: two exports, the first 6 bytes long,
            b"_start",                           // named `_start`,
            &[0, 0, 8],                          // a function at index 0, then an 8-byte name,
            b"on_exact",                         // `on_exact`,
            &[0, 1],                             // a function at index 1.
            &[10, 7, 2, 2, 0, 0x0b, 2, 0, 0x0b], // Code section: two empty bodies.
        ]
        .concat();
        assert_eq!(export_names(&module).ok(), Some(vec!["_start".to_owned(), "on_exact".to_owned()]));
        assert!(export_names(b"\0asm").is_err());
    }

    #[test]
    fn the_wit_crate_is_found_in_cargo_metadata() {
        let metadata = r#"{"packages":[{"name":"wasmtime-wasi","manifest_path":"/r/wasmtime-wasi-48.0.8/Cargo.toml"},
            {"name":"wasmtime-wasi-http","manifest_path":"/r/wasmtime-wasi-http-48.0.8/Cargo.toml"}]}"#;
        let paths = manifest_paths(metadata);
        assert_eq!(
            paths,
            [
                PathBuf::from("/r/wasmtime-wasi-48.0.8/Cargo.toml"),
                PathBuf::from("/r/wasmtime-wasi-http-48.0.8/Cargo.toml")
            ]
        );
        let dirs: Vec<bool> = paths
            .iter()
            .map(|path| {
                is_wit_crate_dir(path.parent().and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or(""))
            })
            .collect();
        assert_eq!(dirs, [false, true]);
    }
}
