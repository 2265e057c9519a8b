//! Names the wasmtime this build links, from the workspace's `Cargo.lock`, and the commit it is
//! built from, if it is built from a git checkout: `--version` and the `wagi_build_info` metric
//! say both.

use std::process::Command;

fn main() {
    let lock = std::fs::read_to_string("../../Cargo.lock").unwrap_or_default();
    let wasmtime = lock
        .split("[[package]]")
        .find(|package| package.contains("\nname = \"wasmtime\"\n"))
        .and_then(|package| package.lines().find_map(|line| line.strip_prefix("version = \"")))
        .map_or("unknown", |version| version.trim_end_matches('"'))
        .to_owned();
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|commit| !commit.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=WAGI_WASMTIME_VERSION={wasmtime}");
    println!("cargo:rustc-env=WAGI_COMMIT={commit}");
    println!("cargo:rerun-if-changed=../../Cargo.lock");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs/heads");
}
