//! `cargo xtask fuzz --seconds N [TARGET...]`: runs each fuzz target of `fuzz/` for N seconds
//! with cargo-fuzz on the nightly toolchain.

use std::ffi::OsString;
use std::process::Command;

use anyhow::{Context, bail};

use crate::{project_root, run};

/// Every fuzz target in `fuzz/Cargo.toml`.
const TARGETS: &[&str] = &["cgi_output", "modules_toml", "route_match", "cgi_request", "spin_toml"];

pub(crate) fn run_targets(args: &[OsString]) -> anyhow::Result<()> {
    let (seconds, targets) = parse_args(args)?;
    ensure_cargo_fuzz()?;
    let fuzz_dir = project_root()?.join("fuzz");
    for target in &targets {
        // New inputs go to a scratch corpus under fuzz/target; the committed seeds stay as they are.
        let scratch = fuzz_dir.join("target/corpus").join(target);
        std::fs::create_dir_all(&scratch).with_context(|| format!("cannot create `{}`", scratch.display()))?;
        run(Command::new("rustup")
            .current_dir(&fuzz_dir)
            .args(["run", "nightly", "cargo", "fuzz", "run", target])
            .arg(&scratch)
            .arg(fuzz_dir.join("corpus").join(target))
            .arg("--")
            .arg(format!("-max_total_time={seconds}")))
        .with_context(|| format!("fuzz target `{target}` failed; the crashing input is in fuzz/artifacts/{target}"))?;
    }
    Ok(())
}

fn parse_args(args: &[OsString]) -> anyhow::Result<(u64, Vec<String>)> {
    let mut seconds = None;
    let mut targets = Vec::new();
    let mut args = args.iter().map(|a| a.to_str().context("arguments must be UTF-8"));
    while let Some(arg) = args.next() {
        match arg? {
            "--seconds" => {
                let value = args.next().context("`--seconds` needs a value")??;
                seconds = Some(value.parse().with_context(|| format!("`{value}` is not a number of seconds"))?);
            }
            target if TARGETS.contains(&target) => targets.push(target.to_owned()),
            other => bail!("unknown fuzz target or flag `{other}`; targets: {}", TARGETS.join(", ")),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| (*t).to_owned()).collect();
    }
    Ok((seconds.context("pass `--seconds N`")?, targets))
}

fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    let installed = Command::new("cargo").args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !installed {
        run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))?;
    }
    let nightly = Command::new("rustup").args(["run", "nightly", "rustc", "--version"]).output();
    if !nightly.is_ok_and(|o| o.status.success()) {
        run(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))?;
    }
    Ok(())
}
