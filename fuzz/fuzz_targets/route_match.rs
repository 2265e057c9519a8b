//! Fuzzes route parsing (with Spin's `:name` segments when the first byte is `:`), matching and
//! `_routes` joining: a match's SCRIPT_NAME and PATH_INFO must put the path back together, each
//! `:name` must have matched a non-empty segment, and parsing a pattern's text gives the same
//! pattern.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wagi_config::RoutePattern;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (parse, text): (fn(&str) -> _, _) = match text.strip_prefix(':') {
        Some(spin) => (RoutePattern::parse_spin, spin),
        None => (RoutePattern::parse, text),
    };
    let (route, rest) = text.split_once('\n').unwrap_or((text, ""));
    let (path, child) = rest.split_once('\n').unwrap_or((rest, ""));
    let Ok(pattern) = parse(route) else { return };
    assert_eq!(parse(&pattern.to_string()).ok(), Some(pattern.clone()));
    if let Some(matched) = pattern.matches(path) {
        let rebuilt = match &pattern {
            RoutePattern::Exact(_) => matched.script_name.to_owned(),
            RoutePattern::Prefix(base) => format!("{base}{}", matched.raw_path_info),
            RoutePattern::Segments(_) if matched.script_name == "/" => matched.raw_path_info.to_owned(),
            RoutePattern::Segments(_) => format!("{}{}", matched.script_name, matched.raw_path_info),
        };
        assert_eq!(rebuilt, path);
        assert!(matched.params.iter().all(|(_, value)| !value.is_empty() && !value.contains('/')));
    }
    if let Ok(child) = parse(child) {
        let joined = pattern.join(&child);
        assert!(joined.to_string().starts_with('/'));
    }
});
