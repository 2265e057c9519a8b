//! `cargo xtask examples` builds the guest programs in `examples/`; `cargo xtask serve` serves them.
//!
//! The Rust examples are a Cargo workspace of their own in `examples/`: every directory in it with a `Cargo.toml`
//! is one example, whose package and binary are named after the directory. They are built for wasm32-wasip1, except
//! `guestbook`, a WASI 0.2 command component, and `http-component` and `http-hello`, `wasi:http` components
//! (libraries), which are built for wasm32-wasip2 only (`WASIP2_ONLY`); `env-dump` and `volume-file` are built for
//! wasm32-wasip2 too. The other examples (`GUESTS`) are in C, Zig, AssemblyScript, Python and JavaScript (`js-env`,
//! and `js-http` with `js-env`'s componentize-js), each built with its own toolchain at the version pinned in
//! `toolchains.rs` or in its `package.json`. Built modules land in `target/examples/`, named after the example with
//! `-` turned into `_` (`env-dump` becomes `env_dump.wasm`). `target/examples/guestbook-data/` is created for the
//! guestbook's entries, and kept from one build to the next.
//!
//! xtask installs the pinned Python packages in `target/toolchains/venv` and the npm packages in each example's
//! `node_modules/` itself. An example whose toolchain is missing anyway (no clang for wasm32-wasi, no python3, no
//! npm, a failed install) is skipped with a warning, or fails the build when `CI` is set to a non-empty value.
//! Then `target/examples/modules.toml` is `examples/modules.toml` without the entries whose module was not built,
//! with absolute paths, and `target/examples/skipped.txt` names the skipped examples, one a line.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use anyhow::{Context, bail};

use crate::toolchains::{
    C_SYSROOT, Missing, STARLINGMONKEY_WASI_VERSION, Toolchains, WIT_VERSION, check_wasi_clang, copy_wit_deps,
    install_target, npm_ci, pin_wit_version,
};
use crate::{cargo, project_root, run, site_config};

const TARGET: &str = "wasm32-wasip1";
/// The target of the Rust examples built as WASI 0.2 command components.
const TARGET_P2: &str = "wasm32-wasip2";
/// The Rust examples built for `TARGET_P2` only, not for `TARGET`.
const WASIP2_ONLY: &[&str] = &[
    "env-dump-wasip3",
    "guestbook",
    "http-component",
    "http-hello",
    "http-service",
    "spin-hello",
    "spin-todo",
    "spin-v2-data",
];
/// Cargo's target directory for the examples, apart from the root workspace's so neither build waits for
/// the other's lock, relative to the project root.
const BUILD_DIR: &str = "target/examples-build";
/// Where the built modules go, relative to the project root.
const OUT_DIR: &str = "target/examples";
/// The guestbook's writable volume in `examples/modules.toml`, relative to `OUT_DIR`.
const GUESTBOOK_DATA: &str = "guestbook-data";

/// The Zig compiler's caches, relative to the project root.
const ZIG_CACHE_DIR: &str = "target/toolchains/zig-cache";
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
        also: &[
            "volume-file-wasip2",
            "guestbook",
            "http-component",
            "http-get",
            "http-hello",
            "http-service",
            "env-dump-wasip3",
            "spin-hello",
            "spin-todo",
            "spin-v2-data",
        ],
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
    Guest { name: "python-http", dir: "python-http", component: true, build: build_python_http, also: &[] },
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
    let mut toolchains = Toolchains::new(root.clone());
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

/// `env-dump` for wasm32-wasip2: the same program as a WASI 0.2 command component. `volume-file` is built for
/// wasm32-wasip2 too, as `volume_file_wasip2.wasm`, for the tests of volumes seen by components, and `guestbook` and
/// `http-component`, which are built for wasm32-wasip2 only, as `guestbook.wasm` and `http_component.wasm`, with
/// `http-component`'s command `http-get` as `http_get.wasm`, the bench's `http_hello.wasm`, and two WASI 0.3
/// components written with the `wasip3` crate: `http-service`, a `wasi:http` 0.3 component, as `http_service.wasm`,
/// and `env-dump-wasip3`, `env-dump` as a WASI 0.3 command, as `env_dump_wasip3.wasm`; and `spin-hello`, spin-sdk
/// 7's `#[http_service]`, as `spin_hello.wasm`, and `spin-todo`, a spin-sdk 7 application that keeps data, as
/// `spin_todo.wasm`, and `spin-v2-data`, one built with spin-sdk 3 (WASI 0.2), as `spin_v2_data.wasm`.
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
    build(&[
        "env-dump",
        "volume-file",
        "guestbook",
        "http-component",
        "http-service",
        "env-dump-wasip3",
        "spin-hello",
        "spin-todo",
        "spin-v2-data",
    ])?;
    // On its own: built together with the others, it would get the `std` feature of `wasip2` they enable.
    build(&["http-hello"])?;
    let release_dir = root.join(BUILD_DIR).join(TARGET_P2).join("release");
    let volume_file = module.with_file_name(module_file_name("volume-file-wasip2"));
    let guestbook = module.with_file_name(module_file_name("guestbook"));
    let http_component = module.with_file_name(module_file_name("http-component"));
    let http_get = module.with_file_name(module_file_name("http-get"));
    let http_hello = module.with_file_name(module_file_name("http-hello"));
    let http_service = module.with_file_name(module_file_name("http-service"));
    let env_dump_wasip3 = module.with_file_name(module_file_name("env-dump-wasip3"));
    let spin_hello = module.with_file_name(module_file_name("spin-hello"));
    let spin_todo = module.with_file_name(module_file_name("spin-todo"));
    let spin_v2_data = module.with_file_name(module_file_name("spin-v2-data"));
    for (package, copied) in [
        ("env-dump", module),
        ("volume-file", &volume_file),
        ("guestbook", &guestbook),
        ("http_component", &http_component),
        ("http-get", &http_get),
        ("http_hello", &http_hello),
        ("http_service", &http_service),
        ("env_dump_wasip3", &env_dump_wasip3),
        ("spin_hello", &spin_hello),
        ("spin_todo", &spin_todo),
        ("spin_v2_data", &spin_v2_data),
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
    let wit_deps = toolchains.wit_deps()?;
    componentize_py(toolchains, &wit_deps, dir, module)
}

/// The WASI 0.3 `wasi:http` handler in Python: the same build, against the WASI 0.3 WIT.
fn build_python_http(toolchains: &mut Toolchains, dir: &Path, module: &Path) -> anyhow::Result<Outcome> {
    let wit_deps = toolchains.wit_deps_03()?;
    componentize_py(toolchains, &wit_deps, dir, module)
}

/// Builds the Python program `app.py` in `dir` with componentize-py, against the WIT in `wit_deps`.
fn componentize_py(toolchains: &mut Toolchains, wit_deps: &Path, dir: &Path, module: &Path) -> anyhow::Result<Outcome> {
    let venv = toolchains.venv()?;
    build_if_stale(dir, &[venv.stamp(), wit_deps.to_path_buf()], module, |out| {
        copy_wit_deps(wit_deps, dir)?;
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
    use super::export_names;

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
}
