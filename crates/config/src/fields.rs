//! A cursor over the fields of one TOML table (a `[[module]]`, or a Spin trigger or component):
//! typed access to its values, reporting a wrong type or an unknown key at its line as it goes.
//! Each format adds the readers of its own kinds of values beside its grammar.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Location, Reporter};
use crate::units::{parse_byte_size, parse_duration};

/// Typed access to the fields of one table (a `[[module]]`, or a Spin trigger or component),
/// reporting wrong types as it goes.
pub(crate) struct Fields<'t, 'i, 'r, 's> {
    pub(crate) table: &'t DeTable<'i>,
    pub(crate) span: Range<usize>,
    pub(crate) reporter: &'r mut Reporter<'s>,
    pub(crate) item: &'r str,
}

impl<'t, 'i> Fields<'t, 'i, '_, '_> {
    pub(crate) fn error(&mut self, offset: usize, message: impl Into<String>) {
        self.reporter.error(offset, Some(self.item), message);
    }

    /// Reports every key not in `known` as unknown; warns that the `ignored` ones are ignored.
    pub(crate) fn check_keys_of(&mut self, known: &[&str], ignored: &[&str]) {
        for key in self.table.keys() {
            let name = key.get_ref().as_ref();
            if ignored.contains(&name) {
                self.reporter.warning(key.span().start, Some(self.item), format!("`{name}` is ignored"));
            } else if !known.contains(&name) {
                self.error(key.span().start, unknown_field_message(name, known));
            }
        }
    }

    pub(crate) fn value(&self, name: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        self.table.get(name)
    }

    pub(crate) fn wrong_type(&mut self, name: &str, value: &Spanned<DeValue<'_>>, expected: &str) {
        let found = value.get_ref().type_str();
        self.error(value.span().start, format!("`{name}` must be {expected}, found {found}"));
    }

    pub(crate) fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<(T, Location)> {
        let Some(value) = self.value(name) else {
            self.error(self.span.start, format!("missing field `{name}`"));
            return None;
        };
        let text = self.str_of(name, value)?;
        match parse(text) {
            Ok(parsed) => Some((parsed, self.reporter.location(value.span().start))),
            Err(message) => {
                self.error(value.span().start, message);
                None
            }
        }
    }

    pub(crate) fn str_of(&mut self, name: &str, value: &'t Spanned<DeValue<'i>>) -> Option<&'t str> {
        let text = value.get_ref().as_str();
        if text.is_none() {
            self.wrong_type(name, value, "a string");
        }
        text
    }

    pub(crate) fn optional_str(&mut self, name: &str) -> Option<&'t str> {
        let value = self.value(name)?;
        self.str_of(name, value)
    }

    pub(crate) fn optional_u32(&mut self, name: &str) -> Option<u32> {
        let value = self.value(name)?;
        let Some(integer) = value.get_ref().as_integer() else {
            self.wrong_type(name, value, "a whole number");
            return None;
        };
        let number = u32::from_str_radix(integer.as_str(), integer.radix()).ok();
        if number.is_none() {
            let message = format!("`{name}` must be a whole number from 0 to {}, found `{integer}`", u32::MAX);
            self.error(value.span().start, message);
        }
        number
    }

    /// A count of at least 1.
    pub(crate) fn optional_count(&mut self, name: &str) -> Option<u32> {
        let value = self.value(name)?;
        let count = value.get_ref().as_integer().and_then(|i| u32::from_str_radix(i.as_str(), i.radix()).ok());
        match count {
            Some(count) if count >= 1 => Some(count),
            _ => {
                let message = format!("`{name}` must be a whole number from 1 to {}", u32::MAX);
                self.error(value.span().start, message);
                None
            }
        }
    }

    pub(crate) fn optional_duration(&mut self, name: &str) -> Option<Duration> {
        let value = self.value(name)?;
        let text = self.str_of(name, value)?;
        parse_duration(text).map_err(|error| self.error(value.span().start, format!("`{name}`: {error}"))).ok()
    }

    /// A size is a number of bytes or a string with a unit (`"256MiB"`).
    pub(crate) fn optional_size(&mut self, name: &str) -> Option<u64> {
        let value = self.value(name)?;
        match value.get_ref() {
            DeValue::Integer(i) => {
                let number = u64::from_str_radix(i.as_str(), i.radix()).ok();
                if number.is_none() {
                    self.wrong_type(name, value, "a positive number of bytes");
                }
                number
            }
            DeValue::String(text) => {
                parse_byte_size(text).map_err(|error| self.error(value.span().start, format!("`{name}`: {error}"))).ok()
            }
            _ => {
                self.wrong_type(name, value, "a size such as `\"256MiB\"` or a number of bytes");
                None
            }
        }
    }

    /// A table of environment variables: each name, its value and where the value is.
    pub(crate) fn string_table(&mut self, name: &str) -> Vec<(String, String, usize)> {
        let Some(value) = self.value(name) else { return Vec::new() };
        let Some(table) = value.get_ref().as_table() else {
            self.wrong_type(name, value, "a table of strings");
            return Vec::new();
        };
        let mut pairs = Vec::with_capacity(table.len());
        for (key, value) in table {
            if !crate::env_vars::is_valid_name(key.get_ref()) {
                // Escaped, so that a control character in the name reaches the terminal as text.
                let shown = key.get_ref().escape_debug();
                self.error(key.span().start, format!("`{shown}` is not a valid variable name"));
                continue;
            }
            let Some(text) = self.str_of(&format!("{name}.{}", key.get_ref()), value) else { continue };
            // The environment block separates variables with NUL bytes, so a NUL in a value
            // would start a second variable, one that could replace a CGI variable.
            if text.contains('\0') {
                self.error(value.span().start, format!("the value of `{}` contains a NUL byte", key.get_ref()));
                continue;
            }
            pairs.push((key.get_ref().to_string(), text.to_owned(), value.span().start));
        }
        pairs
    }

    /// An array of strings; each element of another type is reported.
    pub(crate) fn string_array(&mut self, name: &str) -> Vec<String> {
        let Some(value) = self.value(name) else { return Vec::new() };
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_type(name, value, "an array of strings");
            return Vec::new();
        };
        array.iter().filter_map(|element| self.str_of(name, element).map(str::to_owned)).collect()
    }
}

pub(crate) fn unknown_field_message(name: &str, known: &[&str]) -> String {
    let suggestion = known
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(name, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
        .min_by_key(|(distance, _)| *distance);
    match suggestion {
        Some((_, candidate)) => format!("unknown field `{name}`, did you mean `{candidate}`?"),
        None => format!("unknown field `{name}`; expected one of {}", quote_list(known)),
    }
}

fn quote_list(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}
