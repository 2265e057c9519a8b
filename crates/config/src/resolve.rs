//! Resolving relative module and volume paths against the configuration file's directory.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Diagnostics, Location, Severity};
use crate::model::Config;
use crate::module_ref::ModuleRef;

impl Config {
    /// Makes every local module and volume path absolute and checks that it exists.
    ///
    /// A relative path resolves against `config_dir`. If nothing is there but the path exists
    /// relative to `cwd` (the original WAGI's rule), that is used, with a deprecation warning.
    /// Returns the warnings, or every path that does not exist.
    pub fn resolve_paths(&mut self, config_dir: &Path, cwd: &Path) -> Result<Vec<Diagnostic>, Diagnostics> {
        let mut warnings = Vec::new();
        let mut errors = Vec::new();
        let source = self.source.clone();
        let mut report = |severity, location, item: String, message: String| {
            let diagnostic = Diagnostic { severity, source: source.clone(), location, item: Some(item), message };
            match severity {
                Severity::Error => errors.push(diagnostic),
                Severity::Warning => warnings.push(diagnostic),
            }
        };
        for entry in &mut self.modules {
            let item = format!("module `{}`", entry.route);
            if let ModuleRef::File(path) = &mut entry.module {
                // Anything readable but a directory: a file, or a pipe such as `<(…)` or `/dev/stdin`.
                match resolve(path, config_dir, cwd, |p| p.exists() && !p.is_dir()) {
                    Resolved::Found(found) => *path = found,
                    Resolved::FoundInCwd(found) => {
                        let message = deprecation(path, cwd);
                        report(Severity::Warning, entry.module_location, item.clone(), message);
                        *path = found;
                    }
                    Resolved::Missing(looked_at) => {
                        let message = format!("module file `{}` does not exist", looked_at.display());
                        report(Severity::Error, entry.module_location, item.clone(), message);
                    }
                }
            }
            if let Some(files) = &mut entry.files {
                files.root = config_dir.to_path_buf();
            }
            for volume in &mut entry.volumes {
                match resolve(&volume.host_path, config_dir, cwd, Path::is_dir) {
                    Resolved::Found(found) => volume.host_path = found,
                    Resolved::FoundInCwd(found) => {
                        let message = deprecation(&volume.host_path, cwd);
                        report(Severity::Warning, volume.location, item.clone(), message);
                        volume.host_path = found;
                    }
                    Resolved::Missing(looked_at) => {
                        let message = format!(
                            "volume `{}`: host directory `{}` does not exist",
                            volume.guest_path,
                            looked_at.display()
                        );
                        report(Severity::Error, volume.location, item.clone(), message);
                    }
                }
            }
        }
        if errors.is_empty() { Ok(warnings) } else { Err(Diagnostics(errors)) }
    }

    /// Builds an error about an entry found after parsing, e.g. while loading its module.
    pub fn error_at(&self, location: Location, item: Option<String>, message: String) -> Diagnostic {
        Diagnostic { severity: Severity::Error, source: self.source.clone(), location, item, message }
    }
}

enum Resolved {
    Found(PathBuf),
    FoundInCwd(PathBuf),
    Missing(PathBuf),
}

fn resolve(path: &Path, config_dir: &Path, cwd: &Path, exists: fn(&Path) -> bool) -> Resolved {
    let beside_config = config_dir.join(path);
    if exists(&beside_config) {
        return Resolved::Found(beside_config);
    }
    if path.is_relative() {
        let in_cwd = cwd.join(path);
        if exists(&in_cwd) {
            return Resolved::FoundInCwd(in_cwd);
        }
    }
    Resolved::Missing(beside_config)
}

fn deprecation(path: &Path, cwd: &Path) -> String {
    format!(
        "`{}` was found relative to the working directory `{}`; relative paths are resolved against \
         the configuration file's directory, so this will stop working",
        path.display(),
        cwd.display()
    )
}
