//! Module references: where the bytes of a module come from.

use std::path::PathBuf;

/// Where a module's bytes come from, as written in the `module` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModuleRef {
    /// A local file: a plain path (relative to the configuration file) or a `file:` URL.
    /// The content may be binary wasm or WAT text.
    File(PathBuf),
    /// An OCI registry reference: `oci:name:tag` or `oci://registry[:port]/repo:tag|@sha256:…`.
    Oci(String),
    /// A Bindle parcel: `bindle:name/version`, fetched from the entry's `bindle_server`.
    Bindle(String),
}

/// Why a module reference cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModuleRefError {
    /// The reference is empty.
    #[error("module reference is empty")]
    Empty,
    /// A URL scheme we do not fetch from.
    #[error("unsupported scheme `{scheme}` in `{reference}`; use a file path, `file:`, `oci:` or `bindle:`")]
    UnknownScheme {
        /// The scheme as written.
        scheme: String,
        /// The whole reference.
        reference: String,
    },
    /// A `file:` URL that is not an absolute path.
    #[error("`{0}` is not an absolute `file:` URL; write `file:///absolute/path` or a plain path")]
    BadFileUrl(String),
}

impl ModuleRef {
    /// Parses the text of a `module` field.
    pub fn parse(text: &str) -> Result<Self, ModuleRefError> {
        if text.is_empty() {
            return Err(ModuleRefError::Empty);
        }
        let Some((scheme, rest)) = split_scheme(text) else {
            return Ok(Self::File(PathBuf::from(text)));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "file" => file_url_path(rest).map(Self::File).ok_or_else(|| ModuleRefError::BadFileUrl(text.to_owned())),
            "oci" => Ok(Self::Oci(text.to_owned())),
            "bindle" => Ok(Self::Bindle(rest.to_owned())),
            _ => Err(ModuleRefError::UnknownScheme { scheme: scheme.to_owned(), reference: text.to_owned() }),
        }
    }

    /// The kind of source, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            Self::Oci(_) => "oci",
            Self::Bindle(_) => "bindle",
        }
    }
}

/// Splits `scheme:rest` when the text starts with a URL scheme (RFC 3986 §3.1). A one-letter
/// scheme is not treated as one, so that Windows paths such as `C:\x.wasm` stay paths.
fn split_scheme(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (valid && scheme.len() > 1).then_some((scheme, rest))
}

/// `file:///abs`, `file:/abs` and `file://localhost/abs` name `/abs`; percent-escapes are decoded.
fn file_url_path(rest: &str) -> Option<PathBuf> {
    let path = match rest.strip_prefix("//") {
        Some(authority_and_path) => {
            let slash = authority_and_path.find('/')?;
            let (authority, path) = authority_and_path.split_at(slash);
            if !(authority.is_empty() || authority.eq_ignore_ascii_case("localhost")) {
                return None;
            }
            path
        }
        None => rest,
    };
    if !path.starts_with('/') {
        return None;
    }
    Some(PathBuf::from(percent_decode(path)?))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        if bytes[idx] == b'%' {
            let hex = text.get(idx + 1..idx + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            idx += 3;
        } else {
            out.push(bytes[idx]);
            idx += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<ModuleRef, ModuleRefError>) {
        assert_eq!(ModuleRef::parse(text), expected, "{text}");
    }

    #[test]
    fn plain_paths_are_files() {
        check("hello.wasm", Ok(ModuleRef::File("hello.wasm".into())));
        check("examples/hello.wat", Ok(ModuleRef::File("examples/hello.wat".into())));
        check("/abs/x.wasm", Ok(ModuleRef::File("/abs/x.wasm".into())));
        check("C:\\x.wasm", Ok(ModuleRef::File("C:\\x.wasm".into())));
    }

    #[test]
    fn file_urls_name_absolute_paths() {
        check("file:///abs/x.wasm", Ok(ModuleRef::File("/abs/x.wasm".into())));
        check("file:/abs/x.wasm", Ok(ModuleRef::File("/abs/x.wasm".into())));
        check("file://localhost/abs/x%20y.wasm", Ok(ModuleRef::File("/abs/x y.wasm".into())));
        check("file:x.wasm", Err(ModuleRefError::BadFileUrl("file:x.wasm".into())));
        check("file://host/x.wasm", Err(ModuleRefError::BadFileUrl("file://host/x.wasm".into())));
    }

    #[test]
    fn registries_and_unknown_schemes() {
        check("oci:foo:bar", Ok(ModuleRef::Oci("oci:foo:bar".into())));
        check("oci://example.com:9000/foo:dev", Ok(ModuleRef::Oci("oci://example.com:9000/foo:dev".into())));
        check("bindle:example.com/hello/1.0.0", Ok(ModuleRef::Bindle("example.com/hello/1.0.0".into())));
        check(
            "https://example.com/x.wasm",
            Err(ModuleRefError::UnknownScheme {
                scheme: "https".into(),
                reference: "https://example.com/x.wasm".into(),
            }),
        );
        check("", Err(ModuleRefError::Empty));
    }
}
