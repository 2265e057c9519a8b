//! `cargo xtask image`: the container image `localhost/wagi:VERSION` and `:latest`, built on this
//! machine with nothing pulled from a registry. wagi is built for `x86_64-unknown-linux-musl`,
//! statically linked and stripped, and the image is made from scratch with buildah: the binary,
//! CA certificates, `/etc/passwd` and `/etc/group` naming the non-root user 10001, and the
//! directories it writes to. deploy/Dockerfile builds the same layout where base images can be
//! pulled (`LAYOUT` below lists it; keep the two in step).

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::toolchains::install_target;
use crate::{cargo, project_root, read_stdout, run};

/// The target of the static build.
const TARGET: &str = "x86_64-unknown-linux-musl";

/// The user the image runs as, which owns the directories wagi writes to.
const USER: &str = "10001:10001";

/// Where the binary goes.
const BINARY: &str = "/usr/local/bin/wagi";

/// The image's directories: (path, mode, owned by `USER`).
const LAYOUT: [(&str, &str, bool); 5] = [
    // The module cache holds compiled code that wagi runs, so only wagi may write it.
    ("/var/cache/wagi", "0700", true),
    ("/var/log/wagi", "0750", true),
    ("/var/lib/wagi", "0700", true),
    ("/etc/wagi", "0755", false),
    // For `wagi run`'s scratch files, as on any system (with a read-only root, mount a volume).
    ("/tmp", "1777", false),
];

/// The default command: arguments after the image name replace it whole.
const CMD: &str = "-c /etc/wagi/modules.toml -l 0.0.0.0:3000 --module-cache /var/cache/wagi";

/// Builds the image and prints its name and size.
pub(crate) fn build_image(args: &[std::ffi::OsString]) -> anyhow::Result<()> {
    if !args.is_empty() {
        bail!("`image` takes no arguments");
    }
    let root = project_root()?;
    for (program, package) in [("musl-gcc", "musl-tools"), ("buildah", "buildah"), ("strip", "binutils")] {
        if Command::new(program).arg("--version").output().is_err() {
            bail!("`{program}` is needed to build the image; install it with `apt-get install {package}`");
        }
    }
    install_target(TARGET)?;
    let mut build = cargo();
    build.current_dir(&root).args(["build", "--release", "--locked", "-p", "wagi", "--target", TARGET]);
    // ring, jemalloc and SQLite are C, compiled for musl by musl's wrapper of the system compiler.
    let cc = format!("CC_{}", TARGET.replace('-', "_"));
    if std::env::var_os(&cc).is_none() {
        build.env(&cc, "musl-gcc");
    }
    run(&mut build)?;

    let stage = root.join("target/image");
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("failed to clear `{}`", stage.display()))?;
    }
    fs::create_dir_all(stage.join("empty")).with_context(|| format!("failed to create `{}`", stage.display()))?;
    let binary = stage.join("wagi");
    fs::copy(root.join("target").join(TARGET).join("release/wagi"), &binary).context("failed to stage the binary")?;
    run(Command::new("strip").arg("--strip-all").arg(&binary))?;

    let version = read_stdout(Command::new(&binary).arg("-V"))?;
    let version = version.split_whitespace().nth(1).context("`wagi -V` printed no version")?.to_owned();
    let name = format!("localhost/wagi:{version}");
    let container = read_stdout(Command::new("buildah").args(["from", "--pull=never", "scratch"]))?;
    let container = container.trim();
    let built = assemble(&root, &stage, container, (&name, &version));
    // The working container is removed whether or not the image was made.
    let removed = run(Command::new("buildah").args(["rm", container]));
    built?;
    removed?;
    run(Command::new("buildah").args(["tag", &name, "localhost/wagi:latest"]))?;
    let size = read_stdout(Command::new("buildah").args(["images", "--format", "{{.Size}}", &name]))?;
    println!("built {name} and localhost/wagi:latest ({} uncompressed)", size.trim());
    Ok(())
}

/// Puts the staged files into `container` and commits it as `image.0`, of version `image.1`.
fn assemble(root: &Path, stage: &Path, container: &str, image: (&str, &str)) -> anyhow::Result<()> {
    let (name, version) = image;
    let copy = |chown: Option<&str>, chmod: &str, source: &Path, destination: &str| {
        let mut command = Command::new("buildah");
        command.arg("copy");
        if let Some(owner) = chown {
            command.args(["--chown", owner]);
        }
        command.args(["--chmod", chmod, container]).arg(source).arg(destination);
        run(&mut command)
    };
    copy(None, "0755", &stage.join("wagi"), BINARY)?;
    copy(None, "0644", &root.join("deploy/image/passwd"), "/etc/passwd")?;
    copy(None, "0644", &root.join("deploy/image/group"), "/etc/group")?;
    copy(None, "0644", Path::new("/etc/ssl/certs/ca-certificates.crt"), "/etc/ssl/certs/ca-certificates.crt")?;
    for (path, mode, owned) in LAYOUT {
        copy(owned.then_some(USER), mode, &stage.join("empty"), path)?;
    }
    let mut config = Command::new("buildah");
    config
        .args(["config", "--user", USER, "--entrypoint", &format!("[\"{BINARY}\"]"), "--cmd", CMD])
        .args(["--env", "WAGI_LOG_DIR=/var/log/wagi", "--port", "3000"])
        .args(["--volume", "/var/cache/wagi", "--volume", "/var/log/wagi"])
        .args(["--label", "org.opencontainers.image.title=wagi"])
        .args(["--label", &format!("org.opencontainers.image.version={version}")])
        .args([
            "--label",
            "org.opencontainers.image.description=A WebAssembly Gateway Interface server: CGI for WebAssembly modules",
        ])
        .args(["--label", "org.opencontainers.image.source=https://github.com/wagi-rs/wagi"])
        .args(["--label", "org.opencontainers.image.licenses=Apache-2.0"])
        .arg(container);
    run(&mut config)?;
    run(Command::new("buildah").args(["commit", "--rm=false", container, name]))
}
