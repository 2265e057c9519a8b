//! This binary defines auxiliary build commands, which are not expressible with just `cargo`.
//!
//! Run it as `cargo xtask <command>` (the alias lives in `.cargo/config.toml`). It is plain Rust with
//! `anyhow` and `tempfile` as its only dependencies, and no product crate depends on it. See `USAGE` for the commands.

mod bench;
mod ci;
mod examples;
mod fuzz;
mod image;
mod site_config;
mod toolchains;
mod wrk;

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

const USAGE: &str = "\
usage: cargo xtask <command> [args]

commands:
  examples    build the guest programs in `examples/` into `target/examples/`, with a `modules.toml`
              of those that built (a missing toolchain skips its example, or fails if `CI` is set)
  serve       build the examples, then run `wagi -c target/examples/modules.toml [args]`
  ci          check formatting, tidiness and lints, build the examples, run every test
  fuzz        run the fuzz targets: `fuzz --seconds N [TARGET...]` (nightly + cargo-fuzz)
  bench       measure wagi against a minimal hyper server (release builds, wrk):
              `bench [--rounds N] [--seconds S]`
  image       build the container image `localhost/wagi:VERSION` and `:latest` from scratch with
              buildah: a static, stripped musl build (needs musl-tools and buildah), nothing pulled
";

fn main() -> ExitCode {
    let mut args = env::args_os().skip(1);
    let command = args.next();
    let rest: Vec<OsString> = args.collect();
    let result = match command.as_ref().and_then(|command| command.to_str()) {
        Some("examples") if !rest.is_empty() => return usage_error("`examples` takes no arguments"),
        Some("examples") => examples::build().map(|_summary| ()),
        Some("serve") => examples::serve(&rest),
        Some("ci") => ci::run_all(),
        Some("fuzz") => fuzz::run_targets(&rest),
        Some("bench") => bench::run_bench(&rest),
        Some("image") => image::build_image(&rest),
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(unknown) => return usage_error(&format!("unknown command `{unknown}`")),
        None if command.is_some() => return usage_error("the command is not valid UTF-8"),
        None => return usage_error("no command given"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}\n\n{USAGE}");
    ExitCode::from(2)
}

/// The root of the workspace, which every path in xtask is relative to.
fn project_root() -> anyhow::Result<PathBuf> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .with_context(|| format!("xtask's manifest directory `{}` has no parent", manifest_dir.display()))?;
    Ok(root.to_path_buf())
}

/// The `cargo` that runs xtask, so that nested builds use the same toolchain.
fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Prints the command line, runs it with inherited stdio and fails unless it exits successfully.
fn run(command: &mut Command) -> anyhow::Result<()> {
    let command_line = command_line(command);
    println!("$ {command_line}");
    let status = command.status().with_context(|| format!("failed to start `{command_line}`"))?;
    if !status.success() {
        bail!("`{command_line}` failed: {status}");
    }
    Ok(())
}

/// Runs the command with captured output and returns its stdout, failing unless it exits successfully.
fn read_stdout(command: &mut Command) -> anyhow::Result<String> {
    let command_line = command_line(command);
    let output = command.output().with_context(|| format!("failed to start `{command_line}`"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!("`{command_line}` failed: {}\n{}", output.status, stderr.trim_end());
    }
    String::from_utf8(output.stdout).with_context(|| format!("`{command_line}` printed invalid UTF-8"))
}

fn command_line(command: &Command) -> String {
    let program = Path::new(command.get_program());
    // Show `cargo` rather than the absolute path from `$CARGO`.
    let program_name = program.file_name().unwrap_or(program.as_os_str());
    let mut words = vec![program_name.to_string_lossy().into_owned()];
    words.extend(command.get_args().map(|arg| arg.to_string_lossy().into_owned()));
    words.join(" ")
}
