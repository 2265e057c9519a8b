//! Fuzzes the Spin manifest parser: any text after `spin_manifest_version = 2` gives entries or
//! located diagnostics, never a panic, and every entry's route is one a Spin route parses back to.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wagi_config::{Config, RoutePattern};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let manifest = format!("spin_manifest_version = 2\n{text}");
    match Config::parse(&manifest, "spin.toml") {
        Ok((config, _warnings)) => {
            assert!(!config.modules.is_empty());
            for entry in &config.modules {
                assert_eq!(RoutePattern::parse_spin(&entry.route.to_string()).ok().as_ref(), Some(&entry.route));
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty());
            let _ = errors.to_string();
        }
    }
});
