//! Fuzzes the modules.toml parser: any text gives a config or located diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wagi_config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Config::parse(text, "modules.toml") {
        Ok((config, _warnings)) => assert!(!config.modules.is_empty()),
        Err(errors) => {
            assert!(!errors.0.is_empty());
            let _ = errors.to_string();
        }
    }
    let _ = wagi_config::parse_env_file(text, ".env");
});
