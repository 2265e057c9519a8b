//! The labels a component uses to name its key-value stores (and, later, databases):
//! `key_value_stores = ["default", "cache"]`, each a kebab-case or snake_case id, as Spin reads
//! them.

use crate::diagnostic::Location;
use crate::fields::Fields;

/// Whether `label` is a kebab-case or snake_case id: lower-case letters and digits in words
/// joined by `-` or by `_` (not both), each word starting with a letter.
#[must_use]
pub fn is_label(label: &str) -> bool {
    let separator = if label.contains('-') { '-' } else { '_' };
    !(label.contains('-') && label.contains('_'))
        && label.split(separator).all(|word| {
            let bytes = word.as_bytes();
            bytes.first().is_some_and(u8::is_ascii_lowercase)
                && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// A label a component declares, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// The label.
    pub name: String,
    /// Where it is written.
    pub location: Location,
}

impl Fields<'_, '_, '_, '_> {
    /// An array of labels (`key_value_stores`), each checked.
    pub(crate) fn labels(&mut self, name: &str) -> Vec<Label> {
        let Some(value) = self.value(name) else { return Vec::new() };
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_type(name, value, "an array of labels such as `[\"default\"]`");
            return Vec::new();
        };
        let mut labels: Vec<Label> = Vec::with_capacity(array.len());
        for element in array.iter() {
            let Some(text) = self.str_of(name, element) else { continue };
            if !is_label(text) {
                let shown = text.escape_debug();
                self.error(
                    element.span().start,
                    format!("`{shown}` is not a label: write it in kebab-case or snake_case"),
                );
                continue;
            }
            if labels.iter().any(|label| label.name == text) {
                continue;
            }
            let location = self.reporter.location(element.span().start);
            labels.push(Label { name: text.to_owned(), location });
        }
        labels
    }
}

#[cfg(test)]
mod tests {
    use super::is_label;

    #[test]
    fn labels_are_kebab_or_snake_case() {
        for good in ["default", "my-store", "my_store", "cache2"] {
            assert!(is_label(good), "{good}");
        }
        for bad in ["", "Default", "my-_store", "my--store", "-x", "2x", "a b"] {
            assert!(!is_label(bad), "{bad}");
        }
    }
}
