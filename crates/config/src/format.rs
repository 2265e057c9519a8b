//! Telling the configuration formats apart: [`Config::parse`] reads a Spin manifest when the
//! text has `spin_manifest_version`, and a `modules.toml` otherwise.

use toml::de::DeTable;

use crate::diagnostic::{Diagnostics, Reporter};
use crate::model::{Config, ParseResult};

impl Config {
    /// Parses `text`, naming it `source` in diagnostics: a `modules.toml`, or a Spin manifest
    /// when it has `spin_manifest_version`. Reports all problems at once.
    pub fn parse(text: &str, source: &str) -> ParseResult {
        let mut reporter = Reporter::new(source, text);
        let root = match DeTable::parse(text) {
            Ok(root) => root,
            Err(error) => {
                let offset = error.span().map_or(0, |span| span.start);
                reporter.error(offset, None, error.message().trim_end().to_owned());
                return Err(Diagnostics(reporter.finish().0));
            }
        };
        let (modules, variables) = if root.get_ref().contains_key(crate::spin_toml::VERSION_KEY) {
            crate::spin_toml::parse_root(root.get_ref(), &mut reporter)
        } else {
            crate::modules_toml::parse_root(root.get_ref(), &mut reporter)
        };
        let (errors, warnings) = reporter.finish();
        if errors.is_empty() {
            Ok((Config { source: source.to_owned(), modules, variables }, warnings))
        } else {
            Err(Diagnostics(errors))
        }
    }
}
