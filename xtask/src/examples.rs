//! `cargo xtask examples` builds the guest modules in `examples/`; `cargo xtask serve` serves them.
//!
//! `examples/` is its own Cargo workspace. Every directory in it with a `Cargo.toml` is one example,
//! whose package and binary are named after the directory. Built modules land in `target/examples/`
//! with `-` turned into `_` (`env-dump` becomes `env_dump.wasm`), which is where `examples/modules.toml`
//! expects them.

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::{cargo, project_root, read_stdout, run};

const TARGET: &str = "wasm32-wasip1";
/// Cargo's target directory for the examples, apart from the root workspace's so neither build waits for
/// the other's lock, relative to the project root.
const BUILD_DIR: &str = "target/examples-build";
/// Where the built modules go, relative to the project root.
const OUT_DIR: &str = "target/examples";

/// Exports that an example must have, because `examples/modules.toml` or its `_routes` names them.
/// rustc exports `#[unsafe(no_mangle)]` functions from a wasm binary today; this catches the day it stops.
const REQUIRED_EXPORTS: &[(&str, &[&str])] = &[("routes", &["_start", "_routes", "on_exact", "on_wildcard"])];

/// Builds every example for wasm32-wasip1 and copies the modules to `target/examples/`.
pub(crate) fn build() -> anyhow::Result<()> {
    let root = project_root()?;
    install_target()?;

    run(cargo().current_dir(&root).args([
        "build",
        "--release",
        "--target",
        TARGET,
        "--manifest-path",
        "examples/Cargo.toml",
        "--target-dir",
        BUILD_DIR,
    ]))?;

    let release_dir = root.join(BUILD_DIR).join(TARGET).join("release");
    let out_dir = root.join(OUT_DIR);
    fs::create_dir_all(&out_dir).with_context(|| format!("failed to create `{}`", out_dir.display()))?;
    for name in example_names(&root.join("examples"))? {
        let built = release_dir.join(format!("{name}.wasm"));
        let module_name = name.replace('-', "_");
        let copied = out_dir.join(format!("{module_name}.wasm"));
        fs::copy(&built, &copied)
            .with_context(|| format!("failed to copy `{}` to `{}`", built.display(), copied.display()))?;
        check_exports(&name, &copied)?;
        println!("built `{name}`: {}", relative_to(&copied, &root).display());
    }
    Ok(())
}

/// Builds the examples, then runs the server on `examples/modules.toml`, passing `args` through to it.
pub(crate) fn serve(args: &[OsString]) -> anyhow::Result<()> {
    build()?;
    run(cargo()
        .current_dir(project_root()?)
        .args(["run", "--bin", "wagi", "--", "-c", "examples/modules.toml"])
        .args(args))
}

fn install_target() -> anyhow::Result<()> {
    let installed = read_stdout(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if installed.lines().any(|line| line.trim() == TARGET) {
        return Ok(());
    }
    println!("target `{TARGET}` is not installed, installing it");
    run(Command::new("rustup").args(["target", "add", TARGET]))
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
