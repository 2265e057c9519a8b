//! Modules pulled from a real OCI registry (`docker-registry` on loopback) into the digest cache.

use std::process::Command;

use crate::registry::{CNCF_WASM, Registry, WASM_TO_OCI, module_saying};
use crate::support::{Server, Site, component, entry, sha256_hex};

/// Runs `wagi check` on the site and returns its exit code and stderr.
fn check(site: &Site, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .arg("check")
        .arg("-c")
        .arg(site.path("modules.toml"))
        .arg("--module-cache")
        .arg(site.path("cache"))
        .arg("--log-dir")
        .arg(site.path("logs"))
        .args(args)
        .envs(env.iter().copied())
        .env("DOCKER_CONFIG", site.path("docker"))
        .output()
        .expect("run wagi check");
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn serve(site: &Site, args: &[&str], env: &[(&str, &str)]) -> Server {
    let docker_config = site.path("docker").display().to_string();
    let env: Vec<(&str, &str)> = env.iter().copied().chain([("DOCKER_CONFIG", docker_config.as_str())]).collect();
    Server::start(site, args, &env)
}

fn assert_body(server: &Server, path: &str, body: &str) {
    let response = server.get(path);
    assert_eq!((response.status, response.text()), (200, body.to_owned()), "{path}");
}

#[test]
fn modules_are_pulled_by_tag_and_by_digest_in_both_layouts() {
    let registry = Registry::start();
    let digest = registry.push("wagi/hello", "v1", &module_saying("by tag"), WASM_TO_OCI);
    registry.push("wagi/cncf", "1.0.0", &module_saying("cncf layout"), CNCF_WASM);
    // A component is told from a module by its bytes, wherever they come from.
    let said = b"Content-Type: text/plain\n\na component";
    let run = format!("(drop (call $print (i32.const 1024) (i32.const {}))) (i32.const 0)", said.len());
    let component = wat::parse_str(component(said, &run)).expect("valid component text");
    registry.push("wagi/component", "1.0.0", &component, CNCF_WASM);
    let site = Site::new();
    site.write(
        "modules.toml",
        [
            entry("/tag", &format!("{}:v1", registry.url("wagi/hello"))),
            entry("/digest", &format!("{}@{digest}", registry.url("wagi/hello"))),
            entry("/cncf", &format!("{}:1.0.0", registry.url("wagi/cncf"))),
            entry("/component", &format!("{}:1.0.0", registry.url("wagi/component"))),
        ]
        .concat(),
    );
    let server = serve(&site, &[], &[]);
    assert_body(&server, "/tag", "by tag");
    assert_body(&server, "/digest", "by tag");
    assert_body(&server, "/cncf", "cncf layout");
    assert_body(&server, "/component", "a component");
}

#[test]
fn a_moved_tag_is_seen_at_the_next_start_and_the_cache_serves_without_the_registry() {
    let mut registry = Registry::start();
    let first = registry.push("wagi/app", "stable", &module_saying("first"), WASM_TO_OCI);
    let site = Site::new();
    let tagged = entry("/app", &format!("{}:stable", registry.url("wagi/app")));
    let pinned = entry("/pinned", &format!("{}@{first}", registry.url("wagi/app")));
    site.write("modules.toml", [tagged.as_str(), pinned.as_str()].concat());
    assert_body(&serve(&site, &[], &[]), "/app", "first");

    registry.push("wagi/app", "stable", &module_saying("second"), WASM_TO_OCI);
    let server = serve(&site, &[], &[]);
    assert_body(&server, "/app", "second");
    assert_body(&server, "/pinned", "first");
    drop(server);

    registry.stop();
    // A digest-pinned module needs no registry once cached, even without --offline.
    site.write("modules.toml", &pinned);
    assert_body(&serve(&site, &[], &[]), "/pinned", "first");
    // A tag does: it is resolved at every start, unless --offline serves the last resolution.
    site.write("modules.toml", [tagged.as_str(), pinned.as_str()].concat());
    let (code, stderr) = check(&site, &[], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(&format!("cannot reach registry `{}`", registry.host)), "{stderr}");
    let server = serve(&site, &["--offline"], &[]);
    assert_body(&server, "/app", "second");
    assert_body(&server, "/pinned", "first");
}

#[test]
fn offline_refuses_what_the_cache_does_not_hold() {
    let registry = Registry::start();
    registry.push("wagi/app", "v1", &module_saying("x"), WASM_TO_OCI);
    let site = Site::new();
    let reference = format!("{}:v1", registry.url("wagi/app"));
    site.write("modules.toml", entry("/app", &reference));
    let (code, stderr) = check(&site, &["--offline"], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("`{reference}` is not in the module cache, and `--offline` forbids fetching it")),
        "{stderr}"
    );
}

#[test]
fn a_private_registry_needs_credentials_from_flags_or_the_docker_config() {
    let registry = Registry::start_with_auth("wagi", "s3cret");
    registry.push("private/app", "v1", &module_saying("private"), WASM_TO_OCI);
    let site = Site::new();
    let reference = format!("{}:v1", registry.url("private/app"));
    site.write("modules.toml", entry("/app", &reference));

    let (code, stderr) = check(&site, &[], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    let expected = format!(
        "registry `{0}` refused access to `{reference}` (401 Unauthorized): pass `--registry-user` and \
         `--registry-password`, or log in with `docker login {0}`",
        registry.host
    );
    assert!(stderr.contains(&expected), "{stderr}");
    let (code, stderr) = check(&site, &["--registry-user", "wagi", "--registry-password", "wrong"], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("401 Unauthorized"), "{stderr}");

    assert_body(&serve(&site, &["--registry-user", "wagi", "--registry-password", "s3cret"], &[]), "/app", "private");
    std::fs::remove_dir_all(site.path("cache")).expect("empty the cache");
    let env = [("WAGI_REGISTRY_USER", "wagi"), ("WAGI_REGISTRY_PASSWORD", "s3cret")];
    assert_body(&serve(&site, &[], &env), "/app", "private");

    std::fs::remove_dir_all(site.path("cache")).expect("empty the cache");
    // `wagi:s3cret`, as `docker login` writes it.
    let auths = format!(r#"{{"auths":{{"{}":{{"auth":"d2FnaTpzM2NyZXQ="}}}}}}"#, registry.host);
    site.write("docker/config.json", auths);
    assert_body(&serve(&site, &[], &[]), "/app", "private");
}

#[test]
fn a_corrupted_cache_blob_is_fetched_again() {
    let registry = Registry::start();
    let wasm = module_saying("intact");
    registry.push("wagi/app", "v1", &wasm, WASM_TO_OCI);
    let site = Site::new();
    site.write("modules.toml", entry("/app", &format!("{}:v1", registry.url("wagi/app"))));
    assert_body(&serve(&site, &[], &[]), "/app", "intact");

    let blob = site.path("cache/sha256").join(sha256_hex(&wasm));
    let mut tampered = std::fs::read(&blob).expect("cached layer");
    let at = tampered.len() - 1;
    tampered[at] ^= 0xff;
    std::fs::write(&blob, &tampered).expect("tamper with the cache");
    assert_body(&serve(&site, &[], &[]), "/app", "intact");
    assert_eq!(std::fs::read(&blob).expect("cached layer"), wasm, "the blob is fetched and stored again");
}

#[test]
fn content_that_does_not_match_its_digest_or_is_not_wasm_is_refused() {
    let registry = Registry::start();
    let wasm = module_saying("genuine");
    registry.push("wagi/app", "v1", &wasm, WASM_TO_OCI);
    registry.push(
        "wagi/image",
        "v1",
        b"not a wasm layer",
        ("application/vnd.oci.image.layer.v1.tar+gzip", WASM_TO_OCI.1),
    );
    // The registry's copy of the layer is altered behind its back (same size, other bytes).
    let layer_digest = format!("sha256:{}", sha256_hex(&wasm));
    let stored = registry.blob_path(&layer_digest);
    let mut altered = std::fs::read(&stored).expect("stored layer");
    let at = altered.len() - 1;
    altered[at] ^= 0xff;
    std::fs::write(&stored, altered).expect("alter the stored layer");

    let site = Site::new();
    let app = format!("{}:v1", registry.url("wagi/app"));
    let image = format!("{}:v1", registry.url("wagi/image"));
    site.write("modules.toml", [entry("/app", &app), entry("/image", &image)].concat());
    let (code, stderr) = check(&site, &[], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("`{app}`: the content fetched does not match its digest {layer_digest}")),
        "{stderr}"
    );
    assert!(stderr.contains("refusing to serve it"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "`{image}` holds no wasm module: its layers are application/vnd.oci.image.layer.v1.tar+gzip"
        )),
        "{stderr}"
    );
    assert!(!site.path("cache/sha256").join(sha256_hex(&wasm)).exists(), "nothing unverified is cached");
}

#[test]
fn unknown_repositories_and_tags_are_404() {
    let registry = Registry::start();
    registry.push("wagi/app", "v1", &module_saying("x"), WASM_TO_OCI);
    let site = Site::new();
    let missing_tag = format!("{}:v2", registry.url("wagi/app"));
    site.write("modules.toml", entry("/app", &missing_tag));
    let (code, stderr) = check(&site, &[], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    let expected = format!(
        "`{missing_tag}` was not found in registry `{}` (404: no such repository, tag or digest)",
        registry.host
    );
    assert!(stderr.contains(&expected), "{stderr}");
}
