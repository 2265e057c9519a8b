//! Spin applications that keep data, served from their `spin.toml` with no edits: the
//! `spin-todo` example (spin-sdk 7, a WASI 0.3 component) reads its title from an application
//! variable and counts its visits in the `default` key-value store, a SQLite file in the state
//! directory that outlives the server; it may open no store it does not declare. Variables take their values from the manifest's defaults, `SPIN_VARIABLE_*` and
//! `WAGI_VARIABLE_*`, a dotenv file and `--variable`; a required one without a value stops
//! startup, and a secret's value is never printed. A `modules.toml` with `[variables]` gives
//! them to CGI programs through `environment` templates.

use std::path::PathBuf;
use std::process::Command;

use crate::examples::{built, root};
use crate::redis_server::RedisServer;
use crate::support::{Server, Site};

/// The example's module, or `None` when `cargo xtask examples` skipped the wasm32-wasip2 examples.
pub(crate) fn todo_module() -> Option<PathBuf> {
    built("spin-todo", "spin_todo.wasm")
}

/// Serves `examples/spin-todo/spin.toml` as it is, with `args` and `env`.
fn serve_example(site: &Site, args: &[&str], env: &[(&str, &str)]) -> Server {
    Server::start_with_config(site, &root().join("examples/spin-todo/spin.toml"), args, env)
}

/// A manifest serving the example, whose application declares a secret `token` too.
fn manifest_with_secret(module: &std::path::Path) -> String {
    format!(
        "spin_manifest_version = 2\n\n[variables]\ntitle = {{ default = \"To do\" }}\n\
         token = {{ required = true, secret = true }}\n\n\
         [[trigger.http]]\nroute = \"/...\"\ncomponent = \"todo\"\n\n\
         [component.todo]\nsource = \"{}\"\n\n\
         [component.todo.variables]\ntitle = \"{{{{ title }}}}\"\nauth = \"Bearer {{{{ token }}}}\"\n",
        module.display()
    )
}

#[test]
fn the_example_reads_its_title_from_the_manifest_default() {
    if todo_module().is_none() {
        return;
    }
    let site = Site::new();
    let server = serve_example(&site, &[], &[]);
    let page = server.get("/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<h1>To do</h1>"), "{}", page.text());
    assert_eq!(server.get("/variable/title").text(), "To do");
}

#[test]
fn the_environment_a_variables_file_and_the_flag_override_the_default_in_that_order() {
    if todo_module().is_none() {
        return;
    }
    let site = Site::new();
    let title = |args: &[&str], env: &[(&str, &str)]| serve_example(&site, args, env).get("/variable/title").text();
    assert_eq!(title(&[], &[("SPIN_VARIABLE_TITLE", "Groceries")]), "Groceries");
    assert_eq!(title(&[], &[("SPIN_VARIABLE_TITLE", "Groceries"), ("WAGI_VARIABLE_TITLE", "Chores")]), "Chores");
    let file = site.write("vars.env", "SPIN_VARIABLE_TITLE=\"From the file\"\nUNRELATED=1\n");
    let file = file.to_str().expect("a UTF-8 path");
    assert_eq!(title(&["--variables-file", file], &[("SPIN_VARIABLE_TITLE", "Groceries")]), "From the file");
    assert_eq!(title(&["--variables-file", file, "--variable", "title=Flagged"], &[]), "Flagged");
    let value = site.write("title.txt", "Read from a file");
    let from_file = format!("title=@{}", value.display());
    assert_eq!(title(&["--variable", &from_file], &[]), "Read from a file");
}

#[test]
fn a_component_gets_spin_errors_for_names_it_has_no_variable_for() {
    if todo_module().is_none() {
        return;
    }
    let site = Site::new();
    let server = serve_example(&site, &[], &[]);
    let undefined = server.get("/variable/nope");
    assert_eq!(undefined.status, 404, "{}", undefined.text());
    assert!(undefined.text().starts_with("Error::Undefined("), "{}", undefined.text());
    let invalid = server.get("/variable/Bad-Name");
    assert_eq!(invalid.status, 400, "{}", invalid.text());
    assert!(invalid.text().starts_with("Error::InvalidName("), "{}", invalid.text());
    // An application variable the component does not map is not its variable.
    assert_eq!(server.get("/").status, 200);
}

#[test]
fn a_required_variable_without_a_value_stops_startup_and_a_secret_is_never_printed() {
    let Some(module) = todo_module() else { return };
    let site = Site::new();
    let manifest = site.write("spin.toml", manifest_with_secret(&module));
    let wagi = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wagi"));
        command.args(args).arg("-c").arg(&manifest).arg("--module-cache").arg(site.module_cache());
        command.envs(env.iter().copied()).current_dir(site.path("")).output().expect("run wagi")
    };

    let missing = wagi(&["check"], &[]);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("spin.toml:5:1: the required variable `token` needs a value"), "{stderr}");
    assert!(stderr.contains("SPIN_VARIABLE_TOKEN"), "{stderr}");

    const SECRET: &str = "hunter2-do-not-print";
    let checked = wagi(&["check"], &[("SPIN_VARIABLE_TOKEN", SECRET)]);
    let printed = format!("{}{}", String::from_utf8_lossy(&checked.stdout), String::from_utf8_lossy(&checked.stderr));
    assert!(checked.status.success(), "{printed}");
    assert!(!printed.contains(SECRET), "{printed}");

    // The component reads it through its own variable.
    let server = Server::start_with_config(&site, &manifest, &[], &[("SPIN_VARIABLE_TOKEN", SECRET)]);
    assert_eq!(server.get("/variable/auth").text(), format!("Bearer {SECRET}"));
    assert_eq!(server.get("/variable/token").status, 404, "the application variable is not the component's");
}

#[test]
fn a_flag_naming_no_declared_variable_is_refused() {
    let Some(module) = todo_module() else { return };
    let site = Site::new();
    let manifest = site.write("spin.toml", manifest_with_secret(&module));
    let output = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .args(["check", "--variable", "titel=x", "--variable", "token=y", "-c"])
        .arg(&manifest)
        .arg("--module-cache")
        .arg(site.module_cache())
        .output()
        .expect("run wagi");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--variable `titel`: the application declares no such variable"), "{stderr}");
}

#[test]
fn a_modules_toml_with_variables_gives_them_to_cgi_programs_through_environment_templates() {
    let site = Site::new();
    site.fixture("dump.wat");
    site.write(
        "modules.toml",
        "[variables]\ngreeting = { default = \"hello\" }\nname = { required = true }\n\n\
         [[module]]\nroute = \"/env\"\nmodule = \"dump.wat\"\n\
         environment = { GREETING = \"{{ greeting }}, {{name}}!\", PLAIN = \"as written\" }\n",
    );
    let server = Server::start(&site, &["--variable", "name=world"], &[("SPIN_VARIABLE_GREETING", "hi")]);
    let response = server.get("/env");
    assert_eq!(response.env_var("GREETING").as_deref(), Some("hi, world!"));
    assert_eq!(response.env_var("PLAIN").as_deref(), Some("as written"));
}

/// The example's manifest, copied into `site` with its module's path made absolute, so that
/// its state directory (`.wagi` beside it) is the site's.
pub(crate) fn site_manifest(site: &Site, module: &std::path::Path, extra: &str) -> PathBuf {
    let manifest =
        std::fs::read_to_string(root().join("examples/spin-todo/spin.toml")).expect("the example's manifest");
    let manifest = manifest.replace("../../target/examples/spin_todo.wasm", &module.display().to_string());
    site.write("spin.toml", format!("{manifest}{extra}"))
}

#[test]
fn the_counter_and_the_stored_values_survive_a_restart() {
    let Some(module) = todo_module() else { return };
    let site = Site::new();
    let manifest = site_manifest(&site, &module, "");
    let server = Server::start_with_config(&site, &manifest, &[], &[]);
    assert!(server.get("/").text().contains("<p id=\"visits\">1</p>"));
    assert!(server.get("/").text().contains("<p id=\"visits\">2</p>"));
    assert_eq!(server.get("/kv/set?key=greeting&value=hello%20world").text(), "ok");
    assert_eq!(server.get("/add?text=milk").status, 303);
    // A bound parameter is data, whatever it holds.
    assert_eq!(server.get("/add?text=%27%3B%20DROP%20TABLE%20items%3B%20--").status, 303);
    drop(server);

    let server = Server::start_with_config(&site, &manifest, &[], &[]);
    // A reload opens the stores again, over the same files.
    server.signal("HUP");
    server.wait_line("Reloaded");
    assert!(server.get("/").text().contains("<p id=\"visits\">3</p>"), "the counter went on");
    assert_eq!(server.get("/kv/get?key=greeting").text(), "hello world");
    assert_eq!(server.get("/kv/keys").text(), "greeting,visits");
    assert_eq!(server.get("/items").text(), "milk\n'; DROP TABLE items; --\n");
    assert!(site.path(".wagi/sqlite_key_value.db").is_file(), "the default store is in the state directory");
    assert!(site.path(".wagi/sqlite_db.db").is_file(), "so is the default database");
}

#[test]
fn a_store_the_component_did_not_declare_is_denied_and_the_server_serves_on() {
    let Some(module) = todo_module() else { return };
    let site = Site::new();
    let runtime_config =
        site.write("runtime-config.toml", "[key_value_store.other]\ntype = \"spin\"\npath = \"other.db\"\n");
    let manifest = site_manifest(&site, &module, "");
    let runtime_config = runtime_config.to_str().expect("a UTF-8 path");
    let server = Server::start_with_config(&site, &manifest, &["--runtime-config-file", runtime_config], &[]);
    // Defined by the runtime configuration, but not declared by the component.
    let denied = server.get("/kv/get?key=a&store=other");
    assert_eq!((denied.status, denied.text()), (403, "Error::AccessDenied\n".to_owned()));
    let undefined = server.get("/kv/get?key=a&store=nowhere");
    assert_eq!(undefined.status, 403, "{}", undefined.text());
    assert_eq!(server.get("/kv/set?key=a&value=1").text(), "ok");
    assert_eq!(server.get("/healthz").status, 200);
}

#[test]
fn a_store_from_the_runtime_configuration_keeps_its_data_in_its_own_file() {
    let Some(module) = todo_module() else { return };
    let site = Site::new();
    let runtime_config =
        site.write("config/runtime.toml", "[key_value_store.default]\ntype = \"spin\"\npath = \"data/kv.db\"\n");
    let manifest = site_manifest(&site, &module, "");
    let args = ["--runtime-config-file", runtime_config.to_str().expect("a UTF-8 path")];
    let server = Server::start_with_config(&site, &manifest, &args, &[]);
    assert_eq!(server.get("/kv/set?key=a&value=1").text(), "ok");
    assert!(site.path("config/data/kv.db").is_file(), "relative to the runtime configuration file");
    assert!(!site.path(".wagi/sqlite_key_value.db").exists());
}

#[test]
fn a_label_nothing_defines_stops_startup_at_its_line() {
    let Some(module) = todo_module() else { return };
    let site = Site::new();
    let manifest = site_manifest(&site, &module, "");
    let text = std::fs::read_to_string(&manifest).expect("the manifest");
    std::fs::write(
        &manifest,
        text.replace("key_value_stores = [\"default\"]", "key_value_stores = [\"default\", \"cache\"]"),
    )
    .expect("rewrite the manifest");
    let output = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .arg("check")
        .arg("-c")
        .arg(&manifest)
        .arg("--module-cache")
        .arg(site.module_cache())
        .output()
        .expect("run wagi");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("spin.toml:19:32: module `/...`: no key-value store `cache`"), "{stderr}");
}

#[test]
fn a_hundred_concurrent_requests_to_a_store_all_succeed() {
    let Some(module) = todo_module() else { return };
    let site = Site::new();
    let manifest = site_manifest(&site, &module, "");
    let server = Server::start_with_config(&site, &manifest, &[], &[]);
    assert_eq!(server.get_concurrently("/kv/set?key=k&value=v", 100, 1, "ok"), 100);
    assert_eq!(server.get_concurrently("/kv/get?key=k", 100, 1, "v"), 100);
}

/// A runtime configuration file in `site` putting the `default` store in `redis`.
fn redis_runtime_config(site: &Site, redis: &RedisServer) -> String {
    let path = site.write(
        "runtime-config.toml",
        format!("[key_value_store.default]\ntype = \"redis\"\nurl = \"{}\"\n", redis.url()),
    );
    path.to_str().expect("a UTF-8 path").to_owned()
}

#[test]
fn replicas_share_a_redis_store_and_a_hundred_concurrent_requests_all_succeed() {
    let Some(module) = todo_module() else { return };
    let redis = RedisServer::start();
    let site = Site::new();
    let manifest = site_manifest(&site, &module, "");
    let runtime_config = redis_runtime_config(&site, &redis);
    let args = ["--runtime-config-file", runtime_config.as_str()];
    let (first, second) = (
        Server::start_with_config(&site, &manifest, &args, &[]),
        Server::start_with_config(&site, &manifest, &args, &[]),
    );

    assert_eq!(first.get("/kv/set?key=shared&value=from%20the%20first").text(), "ok");
    assert_eq!(second.get("/kv/get?key=shared").text(), "from the first");
    assert_eq!(redis.cli(&["HGET", "wagi:kv:default", "shared"]), "from the first");
    assert_eq!(first.get_concurrently("/kv/set?key=k&value=v", 100, 1, "ok"), 100);
    assert_eq!(second.get_concurrently("/kv/get?key=k", 100, 1, "v"), 100);
    assert!(first.get("/").text().contains("<p id=\"visits\">1</p>"));
    assert!(second.get("/").text().contains("<p id=\"visits\">2</p>"), "the counter is shared");
    assert!(!site.path(".wagi/sqlite_key_value.db").exists(), "no SQLite file for a Redis store");
    // The standard interfaces share it too, compare-and-swap included.
    assert_eq!(first.get("/hits").text(), "1\n");
    assert_eq!(second.get("/hits").text(), "2\n");
    let report = second.get("/wasi-kv").text();
    assert_eq!(report, format!("{WASI_KV_REPORT}keys: b,hits,k,shared,visits\n"));
}

#[test]
fn a_full_redis_store_refuses_new_keys_but_takes_new_values() {
    let Some(module) = todo_module() else { return };
    let redis = RedisServer::start();
    // A million keys, the most a store may hold.
    let fill = "for i = 1, 1000000 do redis.call('HSET', KEYS[1], 'k' .. i, 'v') end";
    redis.cli(&["EVAL", fill, "1", "wagi:kv:default"]);
    let site = Site::new();
    let manifest = site_manifest(&site, &module, "");
    let runtime_config = redis_runtime_config(&site, &redis);
    let server = Server::start_with_config(&site, &manifest, &["--runtime-config-file", &runtime_config], &[]);
    let refused = server.get("/kv/set?key=one-more&value=x");
    assert_eq!(refused.status, 500);
    assert!(refused.text().contains("the store is full"), "{}", refused.text());
    assert_eq!(server.get("/kv/set?key=k1&value=replaced").text(), "ok");
    assert_eq!(redis.cli(&["HLEN", "wagi:kv:default"]), "1000000");
}

#[test]
fn an_unreachable_redis_stops_startup_without_printing_its_password() {
    let Some(module) = todo_module() else { return };
    let site = Site::new();
    let manifest = site_manifest(&site, &module, "");
    // Nothing listens on a port just freed.
    let url = format!("redis://app:s3cret-password@127.0.0.1:{}", crate::registry::free_port());
    let runtime_config =
        site.write("rc.toml", format!("[key_value_store.default]\ntype = \"redis\"\nurl = \"{url}\"\n"));
    let output = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .args(["check", "--runtime-config-file"])
        .arg(&runtime_config)
        .arg("-c")
        .arg(&manifest)
        .arg("--module-cache")
        .arg(site.module_cache())
        .output()
        .expect("run wagi");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("key-value store `default` at redis://app@127.0.0.1:"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

#[test]
fn a_statement_that_never_ends_gets_504_at_the_deadline_while_the_server_serves_on() {
    let Some(module) = todo_module() else { return };
    let site = Site::new();
    let manifest = site_manifest(&site, &module, "");
    let server = Server::start_with_config(&site, &manifest, &["--timeout", "5s"], &[]);
    assert_eq!(server.get("/add?text=before").status, 303);
    let forever = server.get_in_background("/sql/forever");
    // The component marks in the key-value store that it is about to run the statement.
    let started = std::time::Instant::now();
    while server.get("/kv/get?key=forever").text() != "started" {
        assert!(started.elapsed() < crate::support::TIMEOUT, "the statement never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // While the statement runs, others are served, reads and writes of the same file included.
    assert_eq!(server.get("/healthz").status, 200);
    assert_eq!(server.get("/add?text=during").status, 303);
    assert_eq!(forever.join().expect("the request"), 504);
    assert_eq!(server.get("/items").text(), "before\nduring\n");
}

#[test]
fn a_database_the_component_did_not_declare_is_denied_and_an_undefined_one_stops_startup() {
    let Some(module) = todo_module() else { return };
    let site = Site::new();
    let manifest = site_manifest(&site, &module, "");
    let server = Server::start_with_config(&site, &manifest, &[], &[]);
    let denied = server.get("/sql/other");
    assert_eq!((denied.status, denied.text()), (403, "Error::AccessDenied\n".to_owned()));
    assert_eq!(server.get("/items").status, 200);
    drop(server);

    let text = std::fs::read_to_string(&manifest).expect("the manifest");
    std::fs::write(
        &manifest,
        text.replace("sqlite_databases = [\"default\"]", "sqlite_databases = [\"default\", \"reports\"]"),
    )
    .expect("rewrite the manifest");
    let output = Command::new(env!("CARGO_BIN_EXE_wagi"))
        .args(["check", "-c"])
        .arg(&manifest)
        .arg("--module-cache")
        .arg(site.module_cache())
        .output()
        .expect("run wagi");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no SQLite database `reports`: define `[sqlite_database.reports]`"), "{stderr}");
}

#[test]
fn a_hundred_concurrent_writes_to_the_database_all_succeed() {
    let Some(module) = todo_module() else { return };
    let site = Site::new();
    let manifest = site_manifest(&site, &module, "");
    let server = Server::start_with_config(&site, &manifest, &[], &[]);
    let server = &server;
    let added = std::thread::scope(|scope| {
        let clients: Vec<_> =
            (0..100).map(|i| scope.spawn(move || server.get(&format!("/add?text=item{i}")).status)).collect();
        clients.into_iter().filter_map(|client| client.join().ok()).filter(|status| *status == 303).count()
    });
    assert_eq!(added, 100);
    assert_eq!(server.get("/items").text().lines().count(), 100);
}

/// What `/wasi-kv` answers, before its last line, the keys.
const WASI_KV_REPORT: &str = "get-many: a=1 b=2 none=-\nexists a after delete-many: false\n\
                              swap after a change: failed\nb after swap: 3\n";

#[test]
fn a_portable_component_uses_the_same_store_through_wasi_keyvalue() {
    let Some(module) = todo_module() else { return };
    let site = Site::new();
    let manifest = site_manifest(&site, &module, "");
    let server = Server::start_with_config(&site, &manifest, &[], &[]);
    assert_eq!(server.get("/hits").text(), "1\n");
    assert_eq!(server.get("/hits").text(), "2\n");
    assert_eq!(server.get("/kv/exists?key=hits").text(), "true", "Spin's interface sees the same store");
    assert_eq!(server.get("/wasi-kv").text(), format!("{WASI_KV_REPORT}keys: b,hits\n"));
    // A value that is not an 8-byte number cannot be incremented, and stays as it was.
    assert_eq!(server.get("/kv/set?key=hits&value=many").text(), "ok");
    let refused = server.get("/hits");
    assert_eq!(refused.status, 500);
    assert!(refused.text().contains("not an 8-byte number"), "{}", refused.text());
    assert_eq!(server.get("/kv/get?key=hits").text(), "many");
}

#[test]
fn a_spin_sdk_3_app_keeps_its_data_through_spin_2_interfaces() {
    let Some(module) = built("spin-v2-data", "spin_v2_data.wasm") else { return };
    let site = Site::new();
    let manifest = std::fs::read_to_string(root().join("examples/spin-v2-data/spin.toml")).expect("the manifest");
    let manifest = manifest.replace("../../target/examples/spin_v2_data.wasm", &module.display().to_string());
    let manifest = site.write("spin.toml", manifest);
    let server = Server::start_with_config(&site, &manifest, &[], &[]);
    assert_eq!(server.get("/").text(), "hello from spin-sdk 3\ncount: 1\nrows: 1\n");
    drop(server);
    let server = Server::start_with_config(&site, &manifest, &[], &[("SPIN_VARIABLE_GREETING", "hi")]);
    assert_eq!(server.get("/").text(), "hi\ncount: 2\nrows: 2\n");
}
