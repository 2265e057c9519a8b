//! `target/examples/modules.toml`: `examples/modules.toml` rewritten for serving what `cargo xtask examples`
//! built, without the entries whose module was not built and with absolute paths.

use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::Context;

/// Writes `examples/modules.toml` for serving from `out_dir`, and `skipped.txt` (one `skipped` example a line)
/// beside it; returns the configuration's path.
pub(crate) fn write(root: &Path, out_dir: &Path, skipped: &[&str]) -> anyhow::Result<PathBuf> {
    let source = root.join("examples/modules.toml");
    let text = fs::read_to_string(&source).with_context(|| format!("failed to read `{}`", source.display()))?;
    let config = out_dir.join("modules.toml");
    fs::write(&config, site_config(&text, &root.join("examples")))
        .with_context(|| format!("failed to write `{}`", config.display()))?;
    let skipped: String = skipped.iter().map(|name| format!("{name}\n")).collect();
    let skipped_file = out_dir.join("skipped.txt");
    fs::write(&skipped_file, skipped).with_context(|| format!("failed to write `{}`", skipped_file.display()))?;
    Ok(config)
}

/// `text`, a `modules.toml` in `base`, without the `[[module]]` entries (with the comment lines just above them)
/// whose module file does not exist, and with relative `module` and volume `path` values made absolute.
fn site_config(text: &str, base: &Path) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut starts = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if line.trim() == "[[module]]" {
            let mut start = index;
            while start > 0 && lines[start - 1].trim_start().starts_with('#') {
                start -= 1;
            }
            starts.push(start);
        }
    }
    let mut out = String::from(
        "# Written by `cargo xtask examples`: examples/modules.toml with only the modules that were built, and\n\
         # absolute paths.\n",
    );
    let preamble_end = starts.first().copied().unwrap_or(lines.len());
    for line in &lines[..preamble_end] {
        out.push_str(line);
        out.push('\n');
    }
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(lines.len());
        let entry = &lines[start..end];
        let module = entry.iter().find_map(|line| string_values(line, "module").into_iter().next());
        if module.is_some_and(|(_, module)| is_relative_path(&module) && !base.join(module).exists()) {
            continue;
        }
        for line in entry {
            let trimmed = line.trim_start();
            if trimmed.starts_with('#') {
                out.push_str(line);
            } else {
                let key = if trimmed.starts_with("module") { "module" } else { "path" };
                out.push_str(&absolute_paths(line, key, base));
            }
            out.push('\n');
        }
    }
    out
}

/// `line` with every relative-path string value of `key` replaced by the absolute path below `base`.
fn absolute_paths(line: &str, key: &str, base: &Path) -> String {
    let mut out = String::new();
    let mut copied = 0;
    for (range, value) in string_values(line, key) {
        if !is_relative_path(&value) {
            continue;
        }
        out.push_str(&line[copied..range.start]);
        let path = normalize(&base.join(&value));
        out.push_str(&path.to_string_lossy().replace('\\', "\\\\").replace('"', "\\\""));
        copied = range.end;
    }
    out.push_str(&line[copied..]);
    out
}

/// The values of `key = "value"` in `line`: where each value's text is and what it is (without escapes).
fn string_values(line: &str, key: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut values = Vec::new();
    let mut from = 0;
    while let Some(found) = line[from..].find(key) {
        let key_start = from + found;
        from = key_start + key.len();
        let before = line[..key_start].chars().next_back();
        if before.is_some_and(|c| !(c.is_whitespace() || c == '{' || c == ',')) {
            continue;
        }
        let rest = line[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else { continue };
        let rest = rest.trim_start();
        let Some(value) = rest.strip_prefix('"') else { continue };
        let Some(len) = value.find('"') else { continue };
        let start = line.len() - value.len();
        values.push((start..start + len, value[..len].to_owned()));
        from = start + len;
    }
    values
}

/// A plain relative path, not an absolute one nor a URL such as `file:`, `oci:` or `bindle:`.
fn is_relative_path(value: &str) -> bool {
    let scheme = value.split_once(':').is_some_and(|(scheme, _)| {
        scheme.len() > 1 && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    !value.is_empty() && !Path::new(value).is_absolute() && !scheme
}

/// `path` with its `.` and `..` components resolved lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut normalized = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normalized.pop();
            }
            other => normalized.push(other),
        }
    }
    normalized
}

#[cfg(test)]
mod tests {
    use super::site_config;

    #[test]
    fn site_config_keeps_built_modules_with_absolute_paths() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let examples = dir.path().join("examples");
        std::fs::create_dir_all(dir.path().join("target/examples")).expect("create target/examples");
        std::fs::create_dir_all(&examples).expect("create examples");
        std::fs::write(examples.join("hello.wat"), "(module)").expect("write hello.wat");
        std::fs::write(dir.path().join("target/examples/built.wasm"), "").expect("write built.wasm");
        let text = "\
# The examples.

# Hello: `curl localhost:3000/hello`.
[[module]]
route = \"/hello\"
module = \"hello.wat\"

# Not built.
# Two comment lines.
[[module]]
route = \"/missing\"
module = \"../target/examples/missing.wasm\"

[[module]]
route = \"/files/...\"
module = \"../target/examples/built.wasm\"
volumes = { \"/data\" = { path = \"data\", read_only = true }, \"/abs\" = { path = \"/srv\" } }
[[module]]
route = \"/oci\"
module = \"oci:example.com/x:1\"
";
        let root = dir.path().display();
        let expected = format!(
            "\
# Written by `cargo xtask examples`: examples/modules.toml with only the modules that were built, and
# absolute paths.
# The examples.

# Hello: `curl localhost:3000/hello`.
[[module]]
route = \"/hello\"
module = \"{root}/examples/hello.wat\"

[[module]]
route = \"/files/...\"
module = \"{root}/target/examples/built.wasm\"
volumes = {{ \"/data\" = {{ path = \"{root}/examples/data\", read_only = true }}, \"/abs\" = {{ path = \"/srv\" }} }}
[[module]]
route = \"/oci\"
module = \"oci:example.com/x:1\"
"
        );
        assert_eq!(site_config(text, &examples), expected);
    }
}
