//! Golden-file tests: each `tests/ui/<case>.toml` is parsed and its diagnostics are compared with
//! `tests/ui/<case>.err`. Run with `UPDATE_EXPECT=1` to rewrite the expected files, then review
//! the diff.

use std::fs;
use std::path::{Path, PathBuf};

use wagi_config::Config;

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

/// Renders what a user would see for a config: every error, or every warning plus the route table.
fn render(path: &Path) -> String {
    let text = fs::read_to_string(path).expect("fixture is readable");
    let name = path.file_name().and_then(|n| n.to_str()).expect("fixture name is UTF-8");
    let mut out = String::new();
    match Config::parse(&text, name) {
        Err(errors) => out.push_str(&format!("{errors}\n")),
        Ok((mut config, warnings)) => {
            for warning in warnings {
                out.push_str(&format!("{warning}\n"));
            }
            let dir = path.parent().expect("fixture has a directory");
            match config.resolve_paths(dir, dir) {
                Err(errors) => out.push_str(&format!("{errors}\n")),
                Ok(_) => {
                    for entry in &config.modules {
                        out.push_str(&format!("{} -> {}\n", entry.route, entry.entrypoint));
                    }
                }
            }
        }
    }
    out.replace(&ui_dir().display().to_string(), "<ui-dir>")
}

#[test]
fn ui() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut cases: Vec<PathBuf> = fs::read_dir(ui_dir())
        .expect("ui dir exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in cases {
        let actual = render(&case);
        let expected_path = case.with_extension("err");
        if update {
            fs::write(&expected_path, &actual).expect("expected file is writable");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!("{}:\n--- expected\n{expected}--- actual\n{actual}", case.display()));
        }
    }
    assert!(failures.is_empty(), "golden files differ (UPDATE_EXPECT=1 rewrites them):\n{}", failures.join("\n"));
}
