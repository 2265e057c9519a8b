//! Global environment variables for modules: `--env NAME=VALUE` values and `--env-file` files
//! in the usual dotenv syntax.

use crate::diagnostic::{Diagnostics, Reporter};

/// Why an `--env` value could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvArgError {
    /// No `=` in the value.
    #[error("`{0}` is not of the form NAME=VALUE")]
    MissingEquals(String),
    /// The name is empty or contains characters a variable name cannot have.
    #[error("`{0}` is not a valid variable name")]
    InvalidName(String),
    /// The value contains a NUL byte, which would end the variable early and start another.
    #[error("the value of `{0}` contains a NUL byte")]
    NulInValue(String),
}

/// Parses one `--env` value, `NAME=VALUE`. A value wrapped in matching `"…"` or `'…'` is
/// unquoted, as in the original WAGI.
pub fn parse_env_arg(text: &str) -> Result<(String, String), EnvArgError> {
    let (name, value) = text.split_once('=').ok_or_else(|| EnvArgError::MissingEquals(text.to_owned()))?;
    if !is_valid_name(name) {
        return Err(EnvArgError::InvalidName(name.to_owned()));
    }
    if value.contains('\0') {
        return Err(EnvArgError::NulInValue(name.to_owned()));
    }
    let value = strip_matching_quotes(value);
    Ok((name.to_owned(), value.to_owned()))
}

/// Parses a dotenv file: `KEY=value`, `KEY = "value"`, `export KEY=value`, `'literal'` values,
/// `"…"` values with `\n`, `\t`, `\"` and `\\` escapes, blank lines and `#` comments. Every line
/// that cannot be read is reported with the file and line; none is skipped silently.
pub fn parse_env_file(text: &str, source: &str) -> Result<Vec<(String, String)>, Diagnostics> {
    let mut reporter = Reporter::new(source, text);
    let mut vars = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let line_offset = offset;
        offset += line.len();
        let line = line.trim_end_matches(['\n', '\r']).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_env_line(line) {
            Ok(var) => vars.push(var),
            Err(message) => reporter.error(line_offset, None, message),
        }
    }
    let (errors, _warnings) = reporter.finish();
    if errors.is_empty() { Ok(vars) } else { Err(Diagnostics(errors)) }
}

fn parse_env_line(line: &str) -> Result<(String, String), String> {
    let line = line.strip_prefix("export ").map_or(line, str::trim_start);
    let (name, value) = line.split_once('=').ok_or_else(|| format!("`{line}` is not of the form KEY=value"))?;
    let name = name.trim();
    if !is_valid_name(name) {
        return Err(format!("`{name}` is not a valid variable name"));
    }
    let value = value.trim();
    let value = match value.chars().next() {
        Some('"') => {
            unescape_double_quoted(value).ok_or_else(|| format!("unterminated `\"` in the value of `{name}`"))?
        }
        Some('\'') => value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .ok_or_else(|| format!("unterminated `'` in the value of `{name}`"))?
            .to_owned(),
        _ => value.split(" #").next().unwrap_or_default().trim_end().to_owned(),
    };
    if value.contains('\0') {
        return Err(EnvArgError::NulInValue(name.to_owned()).to_string());
    }
    Ok((name.to_owned(), value))
}

fn unescape_double_quoted(value: &str) -> Option<String> {
    let inner = value.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let rest = chars.as_str().trim();
                return (rest.is_empty() || rest.starts_with('#')).then_some(out);
            }
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn strip_matching_quotes(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(quote).and_then(|v| v.strip_suffix(quote)) {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_args() {
        let check = |text, expected: Result<(&str, &str), EnvArgError>| {
            let expected = expected.map(|(n, v)| (n.to_owned(), v.to_owned()));
            assert_eq!(parse_env_arg(text), expected, "{text}");
        };
        check("A=1", Ok(("A", "1")));
        check("A=", Ok(("A", "")));
        check("A=x=y", Ok(("A", "x=y")));
        check("A=\"x y\"", Ok(("A", "x y")));
        check("A='x y'", Ok(("A", "x y")));
        check("A=\"x", Ok(("A", "\"x")));
        check("A", Err(EnvArgError::MissingEquals("A".into())));
        check("=1", Err(EnvArgError::InvalidName(String::new())));
        check("A B=1", Err(EnvArgError::InvalidName("A B".into())));
        check("A=x\0SERVER_NAME=evil", Err(EnvArgError::NulInValue("A".into())));
        check("A\0B=1", Err(EnvArgError::InvalidName("A\0B".into())));
    }

    #[test]
    fn env_files_accept_the_usual_dotenv_forms() {
        let text = "# comment\n\nA=1\nB = \"two words\"\nexport C=\"quoted\"\nD='lit $x \\n'\nE=plain # trailing\nF=\"a\\nb\\\"c\"\n";
        let vars = parse_env_file(text, ".env").expect("valid file");
        let expected =
            [("A", "1"), ("B", "two words"), ("C", "quoted"), ("D", "lit $x \\n"), ("E", "plain"), ("F", "a\nb\"c")];
        let expected: Vec<(String, String)> = expected.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        assert_eq!(vars, expected);
    }

    #[test]
    fn every_bad_line_is_reported_with_its_line() {
        let text = "A=1\nnot a pair\nB=\"open\n bad name=1\nC=x\0SERVER_NAME=evil\n";
        let errors = parse_env_file(text, "vars.env").expect_err("bad lines").to_string();
        assert_eq!(
            errors,
            "vars.env:2:1: `not a pair` is not of the form KEY=value\n\
             vars.env:3:1: unterminated `\"` in the value of `B`\n\
             vars.env:4:1: `bad name` is not a valid variable name\n\
             vars.env:5:1: the value of `C` contains a NUL byte"
        );
    }
}
