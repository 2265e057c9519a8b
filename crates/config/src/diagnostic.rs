//! Problems found in a configuration source, each pinned to a file, line and column.

use std::fmt;

/// A 1-based line and column in a source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// Line number, starting at 1.
    pub line: u32,
    /// Column number in characters, starting at 1.
    pub col: u32,
}

impl Location {
    /// Computes the location of byte `offset` in `text`.
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Self { line: u32::try_from(line).unwrap_or(u32::MAX), col: u32::try_from(col).unwrap_or(u32::MAX) }
    }
}

/// Whether a diagnostic stops the configuration from being used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The configuration cannot be used.
    Error,
    /// The configuration works, but something in it is ignored or deprecated.
    Warning,
}

/// One problem in a configuration source, in the shape
/// ``modules.toml:14:1: module `/api/...`: unknown field `entrypiont`, did you mean `entrypoint`?``.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The name of the source, usually the file path as the user gave it.
    pub source: String,
    /// Where in the source the problem is.
    pub location: Location,
    /// The item the problem belongs to, e.g. ``module `/api/...` ``.
    pub item: Option<String>,
    /// What is wrong, as a lower-case fragment.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Location { line, col } = self.location;
        write!(f, "{}:{line}:{col}: ", self.source)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        if let Some(item) = &self.item {
            write!(f, "{item}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every error found in one configuration source; never empty.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (idx, diagnostic) in self.0.iter().enumerate() {
            if idx > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

/// Collects diagnostics for one source text, turning byte offsets into locations.
#[derive(Debug)]
pub(crate) struct Reporter<'a> {
    source: &'a str,
    text: &'a str,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(source: &'a str, text: &'a str) -> Self {
        Self { source, text, diagnostics: Vec::new() }
    }

    pub(crate) fn error(&mut self, offset: usize, item: Option<&str>, message: impl Into<String>) {
        self.push(Severity::Error, offset, item, message.into());
    }

    pub(crate) fn warning(&mut self, offset: usize, item: Option<&str>, message: impl Into<String>) {
        self.push(Severity::Warning, offset, item, message.into());
    }

    /// Reports an error at a location found earlier.
    pub(crate) fn error_at(&mut self, location: Location, item: Option<&str>, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            source: self.source.to_owned(),
            location,
            item: item.map(str::to_owned),
            message: message.into(),
        });
    }

    pub(crate) fn location(&self, offset: usize) -> Location {
        Location::of_offset(self.text, offset)
    }

    fn push(&mut self, severity: Severity, offset: usize, item: Option<&str>, message: String) {
        self.diagnostics.push(Diagnostic {
            severity,
            source: self.source.to_owned(),
            location: self.location(offset),
            item: item.map(str::to_owned),
            message,
        });
    }

    /// Splits the collected diagnostics into errors (if any) and warnings.
    pub(crate) fn finish(mut self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        self.diagnostics.sort_by_key(|d| d.location);
        self.diagnostics.into_iter().partition(|d| d.severity == Severity::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_one_based_lines_and_columns() {
        let text = "ab\ncdé\nf";
        let check = |offset, line, col| assert_eq!(Location::of_offset(text, offset), Location { line, col });
        check(0, 1, 1);
        check(1, 1, 2);
        check(3, 2, 1);
        check(7, 2, 4);
        check(8, 3, 1);
        check(100, 3, 2);
    }
}
