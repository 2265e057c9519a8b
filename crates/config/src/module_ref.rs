//! Module references: where the bytes of a module come from.

use std::path::PathBuf;

use crate::digest::Digest;

/// Where a module's bytes come from, as written in the `module` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModuleRef {
    /// A local file: a plain path (relative to the configuration file) or a `file:` URL.
    /// The content may be binary wasm or WAT text.
    File(PathBuf),
    /// An OCI registry reference: `oci:name:tag` or `oci://registry[:port]/repo:tag|@sha256:…`.
    Oci(OciReference),
    /// A Bindle parcel: `bindle:name/version`, fetched from the entry's `bindle_server`.
    Bindle {
        /// The bindle id, `name/version`.
        id: String,
        /// The Bindle server URL (including `/v1`), from the entry's `bindle_server`.
        server: Option<String>,
    },
    /// A handler parcel of the bindle served with `-b`, from its invoice (never written in a
    /// modules.toml).
    Parcel(Parcel),
    /// A module fetched over HTTPS and checked against its digest: a Spin component's
    /// `source = { url, digest }` (never written in a modules.toml).
    Url {
        /// The `https://` URL.
        url: String,
        /// What the content must hash to.
        digest: Digest,
    },
}

/// One parcel of a bindle: enough to fetch, verify and name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parcel {
    /// The bindle it belongs to, `name/version`.
    pub bindle: String,
    /// `label.name`: the module name in messages, or the file's path below the asset directory.
    pub name: String,
    /// The sha256 of its content.
    pub sha256: Digest,
}

/// A module in an OCI registry, parsed from an `oci:` reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciReference {
    /// The reference as written, for messages.
    pub text: String,
    /// `host[:port]` of the registry (`docker.io` for the `oci:name:tag` shorthand).
    pub registry: String,
    /// The repository path within the registry, e.g. `library/hello`.
    pub repository: String,
    /// The tag (`latest` when neither a tag nor a digest is written).
    pub tag: Option<String>,
    /// The digest of the manifest when the reference is pinned with `@`.
    pub digest: Option<Digest>,
}

/// The registry the `oci:name:tag` shorthand names when the first path segment is not a host.
pub const DEFAULT_REGISTRY: &str = "docker.io";

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
    /// An `oci:` reference that does not name a registry, repository and tag or digest.
    #[error("`{reference}` is not a valid OCI reference: {reason}")]
    BadOciReference {
        /// The whole reference.
        reference: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `bindle:` reference that is not `name/version`.
    #[error("`{0}` is not a bindle reference; write `bindle:name/version`")]
    BadBindleId(String),
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
            "oci" => OciReference::parse(text, rest).map(Self::Oci),
            "bindle" if rest.contains('/') && !rest.starts_with('/') && !rest.ends_with('/') => {
                Ok(Self::Bindle { id: rest.to_owned(), server: None })
            }
            "bindle" => Err(ModuleRefError::BadBindleId(text.to_owned())),
            _ => Err(ModuleRefError::UnknownScheme { scheme: scheme.to_owned(), reference: text.to_owned() }),
        }
    }

    /// The kind of source, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            Self::Oci(_) => "oci",
            Self::Bindle { .. } | Self::Parcel(_) => "bindle",
            Self::Url { .. } => "url",
        }
    }
}

impl OciReference {
    /// Parses what follows `oci:`: `//registry[:port]/repo[:tag][@sha256:hex]`, or the
    /// Docker-style shorthand `name[:tag]`, `ns/name[:tag]`, `host[:port]/name[:tag]`, where the
    /// first segment names a registry only if it contains `.` or `:` or is `localhost`.
    fn parse(text: &str, rest: &str) -> Result<Self, ModuleRefError> {
        let bad = |reason| ModuleRefError::BadOciReference { reference: text.to_owned(), reason };
        let (registry, path) = match rest.strip_prefix("//") {
            Some(url) => url.split_once('/').ok_or(bad("expected `oci://registry/repository:tag`"))?,
            None => match rest.split_once('/') {
                Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => (first, path),
                _ => (DEFAULT_REGISTRY, rest),
            },
        };
        if registry.is_empty() || !registry.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)) {
            return Err(bad("the registry must be `host[:port]`"));
        }
        let (path, digest) = match path.split_once('@') {
            Some((path, digest)) => {
                let digest =
                    Digest::parse(digest).ok_or(bad("a digest must be `sha256:` and 64 lower-case hex digits"))?;
                (path, Some(digest))
            }
            None => (path, None),
        };
        let last_slash = path.rfind('/').map_or(0, |idx| idx + 1);
        let (repository, tag) = match path[last_slash..].rfind(':') {
            Some(colon) => (&path[..last_slash + colon], Some(&path[last_slash + colon + 1..])),
            None => (path, None),
        };
        let valid_component = |component: &str| {
            !component.is_empty()
                && component.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        if !repository.split('/').all(valid_component) {
            return Err(bad("the repository must be lower-case letters, digits, `.`, `_`, `-` and `/`"));
        }
        if let Some(tag) = tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && !tag.starts_with(['.', '-'])
                && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !valid {
                return Err(bad("a tag must be up to 128 letters, digits, `.`, `_` or `-`"));
            }
        }
        let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_owned()
        };
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_owned()),
            (tag, _) => tag.map(str::to_owned),
        };
        Ok(Self { text: text.to_owned(), registry: registry.to_owned(), repository, tag, digest })
    }
}

impl std::fmt::Display for OciReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
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

    fn oci(text: &str, registry: &str, repository: &str, tag: Option<&str>, digest: Option<&str>) {
        let expected = OciReference {
            text: text.to_owned(),
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest: digest.and_then(Digest::parse),
        };
        check(text, Ok(ModuleRef::Oci(expected)));
    }

    #[test]
    fn oci_references_name_registry_repository_and_tag_or_digest() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        oci("oci:foo:bar", "docker.io", "library/foo", Some("bar"), None);
        oci("oci:example/foo:1.2.3", "docker.io", "example/foo", Some("1.2.3"), None);
        oci("oci:foo", "docker.io", "library/foo", Some("latest"), None);
        oci("oci:localhost:5000/foo:dev", "localhost:5000", "foo", Some("dev"), None);
        oci("oci://example.com:9000/foo:dev", "example.com:9000", "foo", Some("dev"), None);
        oci("oci://registry/team/foo", "registry", "team/foo", Some("latest"), None);
        oci(&format!("oci://127.0.0.1:5000/a/b@{digest}"), "127.0.0.1:5000", "a/b", None, Some(&digest));
        oci(&format!("oci://r.io/a:v1@{digest}"), "r.io", "a", Some("v1"), Some(&digest));
        for (text, reason) in [
            ("oci://example.com", "expected `oci://registry/repository:tag`"),
            ("oci://example.com/Foo:1", "the repository must be lower-case letters, digits, `.`, `_`, `-` and `/`"),
            ("oci://example.com/foo:", "a tag must be up to 128 letters, digits, `.`, `_` or `-`"),
            ("oci://example.com/foo@sha256:12", "a digest must be `sha256:` and 64 lower-case hex digits"),
            ("oci://example.com/foo@md5:12", "a digest must be `sha256:` and 64 lower-case hex digits"),
            ("oci:///foo", "the registry must be `host[:port]`"),
        ] {
            check(text, Err(ModuleRefError::BadOciReference { reference: text.into(), reason }));
        }
    }

    #[test]
    fn registries_and_unknown_schemes() {
        check(
            "bindle:example.com/hello/1.0.0",
            Ok(ModuleRef::Bindle { id: "example.com/hello/1.0.0".into(), server: None }),
        );
        check("bindle:hello", Err(ModuleRefError::BadBindleId("bindle:hello".into())));
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
