//! `env-dump` as a WASI 0.3 command component, written with the `wasip3` crate: a CGI program that
//! prints what `env-dump` prints (argv, the environment sorted, then stdin), reading and writing
//! through WASI 0.3's `wasi:cli` interfaces. Its `run` export is an `async` function. Build it for
//! `wasm32-wasip2` as a library (`crate-type = ["cdylib"]`).
//!
//! When the variable `DUMP_FILE` names a file, its text follows, read with `std::fs` from the
//! directories the host gave the component; one it cannot read is reported on stderr.

use std::fmt::Write as _;

use wasip3::cli::{environment, stdin, stdout};
use wasip3::{spawn_local, wit_stream};

wasip3::cli::command::export!(EnvDump);

struct EnvDump;

impl wasip3::exports::cli::run::Guest for EnvDump {
    async fn run() -> Result<(), ()> {
        let mut response = String::from("Content-Type: text/plain\n\n");
        for (arg_idx, arg) in environment::get_arguments().iter().enumerate() {
            let _ = writeln!(response, "argv[{arg_idx}] = {arg}");
        }
        let mut vars = environment::get_environment();
        vars.sort();
        for (name, value) in &vars {
            let _ = writeln!(response, "{name}={value}");
        }
        response.push_str("stdin:\n");
        let mut response = response.into_bytes();
        let (body, _read) = stdin::read_via_stream();
        response.extend(body.collect().await);
        if let Some((_, path)) = vars.iter().find(|(name, _)| name == "DUMP_FILE") {
            match std::fs::read(path) {
                Ok(text) => {
                    response.extend_from_slice(b"file:\n");
                    response.extend(text);
                }
                Err(error) => eprintln!("cannot read {path}: {error}"),
            }
        }

        let (mut writer, reader) = wit_stream::new();
        spawn_local(async move {
            writer.write_all(response).await;
        });
        stdout::write_via_stream(reader).await.map_err(drop)
    }
}
