//! Application variables, as Spin has them: the `[variables]` table declares each one (a
//! `default`, or `required`, and whether it is `secret`), a component's `variables` and a
//! `modules.toml` entry's `environment` use them in `{{ name }}` templates, and
//! [`Declarations::resolve`] gives each its value from the defaults and the operator's sources.

use std::collections::BTreeMap;

use toml::Spanned;
use toml::de::DeValue;

use crate::diagnostic::{Location, Reporter};
use crate::fields::{Fields, unknown_field_message};

/// What a variable name is made of, for messages.
pub const VARIABLE_NAME_RULE: &str =
    "words of lower-case letters and digits, each starting with a letter, joined by `_`";

/// Whether `name` is a variable name: words of lower-case ASCII letters and digits, each
/// starting with a letter, joined by single `_`s (`api_key`, `db2`), as Spin's manifests require.
#[must_use]
pub fn is_variable_name(name: &str) -> bool {
    name.split('_').all(|word| {
        let bytes = word.as_bytes();
        bytes.first().is_some_and(u8::is_ascii_lowercase)
            && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// What `[variables]` says of one variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    /// `default`: the value when no source gives one.
    pub default: Option<String>,
    /// `required = true`: a source must give a value.
    pub required: bool,
    /// `secret = true`: the value never appears in a log, an error or `wagi check`'s output.
    pub secret: bool,
    /// Where the declaration is.
    pub location: Location,
}

/// The application's `[variables]`, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declarations(pub BTreeMap<String, Declaration>);

/// A value with `{{ name }}` references to application variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Variable(String),
}

impl Template {
    /// A value with no references.
    #[must_use]
    pub fn literal(text: &str) -> Self {
        Self { parts: vec![Part::Text(text.to_owned())] }
    }

    /// Reads `text`, in which each `{{ name }}` (spaces inside the braces optional) refers to a
    /// variable; a `{{` that does not start one, or a `}}` outside one, is an error.
    ///
    /// # Errors
    /// Why `text` is not a template.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            push_text(&mut parts, &rest[..start])?;
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| format!("`{{{{` without `}}}}` in `{text}`"))?;
            let name = after[..end].trim();
            if !is_variable_name(name) {
                return Err(format!("`{{{{ {name} }}}}`: `{name}` is not a variable name: {VARIABLE_NAME_RULE}"));
            }
            parts.push(Part::Variable(name.to_owned()));
            rest = &after[end + 2..];
        }
        push_text(&mut parts, rest)?;
        Ok(Self { parts })
    }

    /// The variables the template refers to.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Variable(name) => Some(name.as_str()),
            Part::Text(_) => None,
        })
    }

    /// The template with each reference replaced by its value in `values`; a reference
    /// `values` lacks is left empty (parsing checked them against the declarations).
    #[must_use]
    pub fn render(&self, values: &Values) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.as_str(),
                Part::Variable(name) => values.0.get(name).map_or("", |value| value.text.as_str()),
            })
            .collect()
    }

    /// Whether the rendered value would hold a secret's value.
    #[must_use]
    pub fn holds_secret(&self, values: &Values) -> bool {
        self.variables().any(|name| values.0.get(name).is_some_and(|value| value.secret))
    }
}

fn push_text(parts: &mut Vec<Part>, text: &str) -> Result<(), String> {
    if text.contains("}}") {
        return Err(format!("`}}}}` without `{{{{` in `{text}`"));
    }
    if !text.is_empty() {
        parts.push(Part::Text(text.to_owned()));
    }
    Ok(())
}

/// One variable's value.
#[derive(Clone, PartialEq, Eq)]
pub struct Value {
    /// The value.
    pub text: String,
    /// Whether it was declared `secret`.
    pub secret: bool,
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.secret { f.write_str("<secret>") } else { self.text.fmt(f) }
    }
}

/// Every application variable's value, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Values(pub BTreeMap<String, Value>);

/// Where values come from besides the defaults, each later one winning over the ones before.
/// The environment and the file name a variable as `SPIN_VARIABLE_NAME` (as Spin reads it) or
/// `WAGI_VARIABLE_NAME`, the latter winning; other names there are not wagi's and are ignored.
pub struct Sources<'a> {
    /// Reads a process environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// A dotenv file's lines.
    pub file: &'a [(String, String)],
    /// `--variable NAME=VALUE` flags, in order; the name as declared, in either case.
    pub flags: &'a [(String, String)],
}

impl std::fmt::Debug for Sources<'_> {
    /// Names only: the values may be secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |pairs: &[(String, String)]| pairs.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>();
        f.debug_struct("Sources")
            .field("file", &names(self.file))
            .field("flags", &names(self.flags))
            .finish_non_exhaustive()
    }
}

/// Why the variables could not be given values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VariableError {
    /// Required variables no source gave a value.
    #[error("{} needs a value: set {}", plural_names(.0), how_to_set(.0))]
    Missing(Vec<String>),
    /// A `--variable` names a variable the application does not declare.
    #[error("--variable `{name}`: the application declares no such variable in `[variables]`")]
    Undeclared {
        /// The name as the flag wrote it.
        name: String,
    },
}

fn plural_names(names: &[String]) -> String {
    let list = names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ");
    if names.len() == 1 { format!("the required variable {list}") } else { format!("the required variables {list}") }
}

fn how_to_set(names: &[String]) -> String {
    let first = names.first().map_or("name", String::as_str);
    format!("`--variable {first}=VALUE`, or `SPIN_VARIABLE_{}`", first.to_ascii_uppercase())
}

impl Declarations {
    /// Gives every declared variable its value: the default, then the environment, then the
    /// file, then the flags. A flag naming an undeclared variable is an error, as a typo would
    /// otherwise go unseen; so is a required variable left without a value.
    ///
    /// # Errors
    /// [`VariableError`].
    pub fn resolve(&self, sources: &Sources<'_>) -> Result<Values, VariableError> {
        if let Some((name, _)) = sources.flags.iter().find(|(name, _)| !self.0.contains_key(&name.to_ascii_lowercase()))
        {
            return Err(VariableError::Undeclared { name: name.clone() });
        }
        let mut values = BTreeMap::new();
        let mut missing = Vec::new();
        for (name, declaration) in &self.0 {
            let upper = name.to_ascii_uppercase();
            let (spin, wagi) = (format!("SPIN_VARIABLE_{upper}"), format!("WAGI_VARIABLE_{upper}"));
            let from_env = (sources.env)(&wagi).or_else(|| (sources.env)(&spin));
            let last = |pairs: &[(String, String)], names: &[&str]| {
                names.iter().find_map(|wanted| {
                    pairs
                        .iter()
                        .rev()
                        .find(|(given, _)| given.eq_ignore_ascii_case(wanted))
                        .map(|(_, value)| value.clone())
                })
            };
            let value = last(sources.flags, &[name])
                .or_else(|| last(sources.file, &[&wagi, &spin]))
                .or(from_env)
                .or_else(|| declaration.default.clone());
            match value {
                Some(text) => {
                    values.insert(name.clone(), Value { text, secret: declaration.secret });
                }
                None => missing.push(name.clone()),
            }
        }
        if missing.is_empty() { Ok(Values(values)) } else { Err(VariableError::Missing(missing)) }
    }
}

/// Reads a `[variables]` table: `name = { default = "..." }` or `{ required = true }`, either
/// with `secret = true`.
pub(crate) fn parse_declarations(value: &Spanned<DeValue<'_>>, reporter: &mut Reporter<'_>) -> Declarations {
    const ITEM: &str = "variables";
    const KEYS: &[&str] = &["default", "required", "secret", "description"];
    let mut declarations = BTreeMap::new();
    let Some(table) = value.get_ref().as_table() else {
        reporter.error(value.span().start, None, "`variables` must be a table: write `[variables]`");
        return Declarations::default();
    };
    for (key, value) in table {
        let name = key.get_ref().as_ref();
        if !is_variable_name(name) {
            let shown = name.escape_debug();
            reporter.error(
                key.span().start,
                Some(ITEM),
                format!("`{shown}` is not a variable name: {VARIABLE_NAME_RULE}"),
            );
            continue;
        }
        let Some(fields) = value.get_ref().as_table() else {
            reporter.error(
                value.span().start,
                Some(ITEM),
                format!("`{name}` must be a table such as `{{ default = \"...\" }}` or `{{ required = true }}`"),
            );
            continue;
        };
        let (mut default, mut required, mut secret) = (None, false, false);
        for (field, field_value) in fields {
            match (field.get_ref().as_ref(), field_value.get_ref()) {
                ("default", DeValue::String(text)) => default = Some(text.to_string()),
                ("required", DeValue::Boolean(flag)) => required = *flag,
                ("secret", DeValue::Boolean(flag)) => secret = *flag,
                ("description", DeValue::String(_)) => {}
                (known @ ("default" | "description"), _) => {
                    reporter.error(field_value.span().start, Some(ITEM), format!("`{name}.{known}` must be a string"));
                }
                (known @ ("required" | "secret"), _) => {
                    reporter.error(
                        field_value.span().start,
                        Some(ITEM),
                        format!("`{name}.{known}` must be true or false"),
                    );
                }
                (other, _) => reporter.error(field.span().start, Some(ITEM), unknown_field_message(other, KEYS)),
            }
        }
        match (&default, required) {
            (Some(_), true) => {
                reporter.error(
                    value.span().start,
                    Some(ITEM),
                    format!("`{name}` is `required` and has a `default`; give it one or the other"),
                );
            }
            // A `default` of the wrong type has been reported.
            (None, false) if !fields.contains_key("default") => {
                reporter.error(
                    value.span().start,
                    Some(ITEM),
                    format!("`{name}` needs a `default` or `required = true`"),
                );
            }
            _ => {}
        }
        if default.as_deref().is_some_and(|text| text.contains('\0')) {
            reporter.error(value.span().start, Some(ITEM), format!("the default of `{name}` contains a NUL byte"));
        }
        let location = reporter.location(key.span().start);
        declarations.insert(name.to_owned(), Declaration { default, required, secret, location });
    }
    Declarations(declarations)
}

impl Fields<'_, '_, '_, '_> {
    /// An `environment` table: with `declarations`, each value is a template over them (a
    /// `modules.toml` with `[variables]`); without, each is taken as written.
    pub(crate) fn environment(&mut self, name: &str, declarations: Option<&Declarations>) -> Vec<(String, Template)> {
        let pairs = self.string_table(name);
        let mut environment = Vec::with_capacity(pairs.len());
        for (key, text, offset) in pairs {
            let template = match declarations {
                Some(declarations) => self.template(&text, offset, declarations),
                None => Some(Template::literal(&text)),
            };
            environment.extend(template.map(|template| (key, template)));
        }
        environment
    }

    /// A Spin component's `variables`: `name = "template"`, each name a variable name.
    pub(crate) fn component_variables(&mut self, declarations: &Declarations) -> Vec<(String, Template)> {
        const NAME: &str = "variables";
        let Some(value) = self.value(NAME) else { return Vec::new() };
        let Some(table) = value.get_ref().as_table() else {
            self.wrong_type(NAME, value, "a table of strings");
            return Vec::new();
        };
        let mut variables = Vec::with_capacity(table.len());
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            if !is_variable_name(name) {
                let shown = name.escape_debug();
                self.error(key.span().start, format!("`{shown}` is not a variable name: {VARIABLE_NAME_RULE}"));
                continue;
            }
            let Some(text) = self.str_of(&format!("{NAME}.{name}"), value) else { continue };
            if let Some(template) = self.template(text, value.span().start, declarations) {
                variables.push((name.to_owned(), template));
            }
        }
        variables
    }

    /// `text`, at `offset`, as a template whose references `declarations` all declare.
    fn template(&mut self, text: &str, offset: usize, declarations: &Declarations) -> Option<Template> {
        let template = match Template::parse(text) {
            Ok(template) => template,
            Err(reason) => {
                self.error(offset, reason);
                return None;
            }
        };
        if let Some(name) = template.variables().find(|name| !declarations.0.contains_key(*name)) {
            self.error(offset, format!("`{{{{ {name} }}}}` refers to a variable that `[variables]` does not declare"));
            return None;
        }
        Some(template)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_words_joined_by_single_underscores() {
        for good in ["a", "api_key", "db2", "x1_y2"] {
            assert!(is_variable_name(good), "{good}");
        }
        for bad in ["", "Api", "4name", "invalid-name", "invalid!name", "a__b", "trailing_", "_lead", "a_1"] {
            assert!(!is_variable_name(bad), "{bad}");
        }
    }

    #[test]
    fn templates_mix_text_and_references() {
        let template = Template::parse("https://{{ host }}:{{port}}/x").expect("a template");
        assert_eq!(template.variables().collect::<Vec<_>>(), ["host", "port"]);
        let value = |text: &str| Value { text: text.to_owned(), secret: false };
        let values = Values([("host".to_owned(), value("h")), ("port".to_owned(), value("8"))].into());
        assert_eq!(template.render(&values), "https://h:8/x");
        assert_eq!(Template::parse("plain").expect("text").render(&Values::default()), "plain");
        assert!(Template::parse("{{ unclosed").is_err());
        assert!(Template::parse("{{ Bad }}").is_err());
        assert!(Template::parse("stray }}").is_err());
    }

    fn declared(entries: &[(&str, Option<&str>, bool)]) -> Declarations {
        let location = Location { line: 1, col: 1 };
        Declarations(
            entries
                .iter()
                .map(|(name, default, secret)| {
                    let declaration = Declaration {
                        default: default.map(str::to_owned),
                        required: default.is_none(),
                        secret: *secret,
                        location,
                    };
                    ((*name).to_owned(), declaration)
                })
                .collect(),
        )
    }

    #[test]
    fn later_sources_win_and_required_ones_must_be_given() {
        let declarations = declared(&[("title", Some("Todo"), false), ("token", None, true)]);
        let env = |name: &str| match name {
            "SPIN_VARIABLE_TITLE" => Some("from spin env".to_owned()),
            "SPIN_VARIABLE_TOKEN" => Some("s3cret".to_owned()),
            _ => None,
        };
        let none: &[(String, String)] = &[];
        let values = declarations.resolve(&Sources { env: &env, file: none, flags: none }).expect("resolved");
        assert_eq!(values.0["title"].text, "from spin env");
        assert_eq!(format!("{:?}", values.0["token"]), "<secret>");
        let flags = [("TITLE".to_owned(), "from flag".to_owned())];
        let file = [("SPIN_VARIABLE_TITLE".to_owned(), "from file".to_owned())];
        let values = declarations.resolve(&Sources { env: &env, file: &file, flags: &flags }).expect("resolved");
        assert_eq!(values.0["title"].text, "from flag");
        let values = declarations.resolve(&Sources { env: &env, file: &file, flags: none }).expect("resolved");
        assert_eq!(values.0["title"].text, "from file");
        let no_env = |_: &str| None;
        assert_eq!(
            declarations.resolve(&Sources { env: &no_env, file: none, flags: none }),
            Err(VariableError::Missing(vec!["token".to_owned()]))
        );
        let typo = [("titel".to_owned(), "x".to_owned())];
        assert!(matches!(
            declarations.resolve(&Sources { env: &env, file: none, flags: &typo }),
            Err(VariableError::Undeclared { .. })
        ));
    }
}
