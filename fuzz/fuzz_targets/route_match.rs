//! Fuzzes route parsing, matching and `_routes` joining: a match's SCRIPT_NAME and PATH_INFO must
//! put the path back together, and parsing a pattern's text gives the same pattern.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wagi_config::RoutePattern;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (route, rest) = text.split_once('\n').unwrap_or((text, ""));
    let (path, child) = rest.split_once('\n').unwrap_or((rest, ""));
    let Ok(pattern) = RoutePattern::parse(route) else { return };
    assert_eq!(RoutePattern::parse(&pattern.to_string()).ok(), Some(pattern.clone()));
    if let Some(matched) = pattern.matches(path) {
        let rebuilt = match &pattern {
            RoutePattern::Exact(_) => matched.script_name.to_owned(),
            RoutePattern::Prefix(base) => format!("{base}{}", matched.raw_path_info),
        };
        assert_eq!(rebuilt, path);
    }
    if let Ok(child) = RoutePattern::parse(child) {
        let joined = pattern.join(&child);
        assert!(joined.to_string().starts_with('/'));
    }
});
