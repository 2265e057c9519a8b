//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.

use std::path::Path;

use anyhow::{Context, bail};

use crate::{cargo, project_root, run};

/// Formatting, lints, the example modules, the tidy checks and the whole test suite.
pub(crate) fn run_all() -> anyhow::Result<()> {
    let root = project_root()?;
    run(cargo().current_dir(&root).args(["fmt", "--all", "--", "--check"]))?;
    tidy(&root)?;
    run(cargo().current_dir(&root).args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    crate::examples::build()?;
    // The Bindle tests start this binary; `cargo test` builds only the binaries of the package
    // under test.
    run(cargo().current_dir(&root).args(["build", "-p", "wagi-bindle-test-server"]))?;
    // Every test target runs even when one fails, so a failure does not hide the results after it.
    run(cargo().current_dir(&root).args(["test", "--workspace", "--no-fail-fast"]))?;
    Ok(())
}

/// Every Rust file opens with a `//!` line saying what it holds (style guide §2).
fn tidy(root: &Path) -> anyhow::Result<()> {
    let mut missing = Vec::new();
    for dir in ["crates", "xtask", "examples", "fuzz"] {
        visit(&root.join(dir), &mut |path| {
            if path.extension().is_some_and(|e| e == "rs") && !path.components().any(|c| c.as_os_str() == "target") {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
                if !text.trim_start().starts_with("//!") {
                    missing.push(path.strip_prefix(root).unwrap_or(path).display().to_string());
                }
            }
            Ok(())
        })?;
    }
    if !missing.is_empty() {
        bail!("these files do not start with a `//!` comment saying what they hold:\n  {}", missing.join("\n  "));
    }
    println!("tidy: every Rust file starts with a `//!` comment");
    Ok(())
}

fn visit(dir: &Path, on_file: &mut dyn FnMut(&Path) -> anyhow::Result<()>) -> anyhow::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list `{}`", dir.display()))? {
        let path = entry.with_context(|| format!("cannot list `{}`", dir.display()))?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            visit(&path, on_file)?;
        } else {
            on_file(&path)?;
        }
    }
    Ok(())
}
