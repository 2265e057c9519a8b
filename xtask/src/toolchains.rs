//! The toolchains the examples are built with, and what is shared between them: the Rust targets, the
//! Python virtual environment of the pinned pip packages, `npm ci`, clang for wasm32-wasi, and the WASI WIT
//! of the locked wasmtime-wasi-http crate (rewritten for componentize-js where it needs an older version).
//! A toolchain that cannot be had is a [`Missing`], which `examples.rs` skips or fails on.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::{cargo, read_stdout, run};

/// The Python packages that build the Zig and Python examples, installed in `VENV_DIR`.
const PIP_PACKAGES: &[&str] = &["ziglang==0.17.1", "componentize-py==0.25.1"];
/// The virtual environment of `PIP_PACKAGES`, relative to the project root.
const VENV_DIR: &str = "target/toolchains/venv";

/// The clang sysroot holding wasi-libc, as Debian's `wasi-libc` package installs it.
pub(crate) const C_SYSROOT: &str = "/usr";
const C_INSTALL: &str = "`apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32`";
/// The crate whose `wit/deps/` holds the WASI 0.2 WIT (`wasi:http` and all it uses) that the component examples
/// are built against: the version the root workspace locks, so the components import the interfaces wagi
/// provides. Each example's `wit/world.wit` names the version of those files.
const WIT_CRATE: &str = "wasmtime-wasi-http";
/// Where in `WIT_CRATE` the WIT is.
const WIT_DIR: &str = "wit/deps";
/// Where in `WIT_CRATE` the WASI 0.3 WIT is (`wasi:http@0.3.0` and all it uses).
const WIT_DIR_03: &str = "src/p3/wit/deps";
/// The WASI version of `WIT_CRATE`'s WIT, and the one StarlingMonkey (in componentize-js) exports its
/// `wasi:http/incoming-handler` at, which the JavaScript `wasi:http` example's WIT is rewritten to.
pub(crate) const WIT_VERSION: &str = "0.2.12";
pub(crate) const STARLINGMONKEY_WASI_VERSION: &str = "0.2.10";

/// A toolchain that is not available: its example is skipped, or under `CI`, the build fails.
#[derive(Debug, Clone)]
pub(crate) struct Missing {
    pub(crate) toolchain: &'static str,
    pub(crate) why: String,
    pub(crate) install: &'static str,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not available ({}); install it with {}", self.toolchain, self.why, self.install)
    }
}

impl std::error::Error for Missing {}

pub(crate) fn install_target(target: &str) -> anyhow::Result<()> {
    let installed = read_stdout(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if installed.lines().any(|line| line.trim() == target) {
        return Ok(());
    }
    println!("target `{target}` is not installed, installing it");
    run(Command::new("rustup").args(["target", "add", target]))
}

/// Rewrites the WIT files in `deps` from WASI `from` to the older `to`, dropping the one-line items that a
/// `@since` gate says are newer than `to`.
pub(crate) fn pin_wit_version(deps: &Path, from: &str, to: &str) -> anyhow::Result<()> {
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

/// The toolchains that more than one example uses, each set up once.
#[derive(Debug)]
pub(crate) struct Toolchains {
    pub(crate) root: PathBuf,
    venv: Option<Result<Venv, Missing>>,
    wit_crate: Option<Result<PathBuf, Missing>>,
}

/// The Python virtual environment holding `PIP_PACKAGES`.
#[derive(Debug, Clone)]
pub(crate) struct Venv {
    dir: PathBuf,
}

impl Venv {
    /// The environment's program `program`.
    pub(crate) fn bin(&self, program: &str) -> PathBuf {
        self.dir.join("bin").join(program)
    }

    /// A file listing the installed `PIP_PACKAGES`, rewritten whenever they change.
    pub(crate) fn stamp(&self) -> PathBuf {
        self.dir.join("wagi-pinned-packages.txt")
    }
}

impl Toolchains {
    /// Toolchains of the project at `root`, none set up yet.
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root, venv: None, wit_crate: None }
    }

    pub(crate) fn venv(&mut self) -> Result<Venv, Missing> {
        let root = &self.root;
        self.venv.get_or_insert_with(|| set_up_venv(&root.join(VENV_DIR))).clone()
    }

    /// The WASI 0.2 WIT the component examples are built against.
    pub(crate) fn wit_deps(&mut self) -> Result<PathBuf, Missing> {
        self.wit_dir(WIT_DIR)
    }

    /// The WASI 0.3 WIT, from the same crate.
    pub(crate) fn wit_deps_03(&mut self) -> Result<PathBuf, Missing> {
        self.wit_dir(WIT_DIR_03)
    }

    /// The directory `dir` of the `WIT_CRATE` that the root workspace locks.
    fn wit_dir(&mut self, dir: &str) -> Result<PathBuf, Missing> {
        let root = &self.root;
        let deps = self.wit_crate.get_or_insert_with(|| find_wit_crate(root)).clone()?.join(dir);
        if !deps.is_dir() {
            return Err(Missing {
                toolchain: "the WASI WIT of the `wasmtime-wasi-http` crate",
                why: format!("`{}` does not exist", deps.display()),
                install: "`cargo fetch`",
            });
        }
        Ok(deps)
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
pub(crate) fn npm_ci(dir: &Path) -> Result<PathBuf, Missing> {
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

/// The source directory of the `WIT_CRATE` that the root workspace locks.
fn find_wit_crate(root: &Path) -> Result<PathBuf, Missing> {
    let missing = |why: String| Missing {
        toolchain: "the WASI WIT of the `wasmtime-wasi-http` crate",
        why,
        install: "`cargo fetch`",
    };
    let metadata = read_stdout(cargo().current_dir(root).args(["metadata", "--format-version", "1", "--locked"]))
        .map_err(|err| missing(format!("{err:#}")))?;
    manifest_paths(&metadata)
        .into_iter()
        .filter_map(|manifest| manifest.parent().map(Path::to_path_buf))
        .find(|dir| dir.file_name().and_then(OsStr::to_str).is_some_and(is_wit_crate_dir))
        .ok_or_else(|| missing(format!("`cargo metadata` lists no `{WIT_CRATE}` package")))
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
pub(crate) fn copy_wit_deps(source: &Path, example_dir: &Path) -> anyhow::Result<()> {
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
pub(crate) fn check_wasi_clang() -> Result<(), Missing> {
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::{is_wit_crate_dir, manifest_paths};

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
