//! Route patterns: exact paths and `/...` wildcards, how they match a request path and how
//! `_routes` sub-routes join their parent.

use std::cmp::Ordering;
use std::fmt;

/// The wildcard suffix of a prefix route.
const WILDCARD: &str = "/...";

/// A parsed `route` value.
///
/// Matching is against the raw (still percent-encoded) request path, byte for byte, as in the
/// original WAGI: `/a%2Fb` does not match `/a/b`, and trailing slashes matter for exact routes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RoutePattern {
    /// Matches exactly this path.
    Exact(String),
    /// `base/...`: matches `base`, `base/` and everything under `base/`. The base of `/...` is
    /// empty, so it matches every path.
    Prefix(String),
}

/// The part of a request path a route matched, as CGI needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    /// `SCRIPT_NAME`: the route text for an exact route, the base for a wildcard (`/` for `/...`).
    pub script_name: &'a str,
    /// The rest of the path after the base, still percent-encoded (`X_RAW_PATH_INFO`).
    pub raw_path_info: &'a str,
}

/// Why a route text is not a route.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// Routes are absolute paths.
    #[error("route `{0}` must start with `/`")]
    NotAbsolute(String),
    /// Whitespace or control characters cannot appear in a request path.
    #[error("route `{0}` contains whitespace or a control character")]
    InvalidCharacter(String),
}

impl RoutePattern {
    /// Parses a route text such as `/hello`, `/api/...` or `/...`.
    pub fn parse(text: &str) -> Result<Self, RouteError> {
        if !text.starts_with('/') {
            return Err(RouteError::NotAbsolute(text.to_owned()));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(RouteError::InvalidCharacter(text.to_owned()));
        }
        Ok(match text.strip_suffix(WILDCARD) {
            Some(base) => Self::Prefix(base.to_owned()),
            None => Self::Exact(text.to_owned()),
        })
    }

    /// Matches a raw request path (without the query string).
    pub fn matches<'p>(&'p self, path: &'p str) -> Option<RouteMatch<'p>> {
        match self {
            Self::Exact(route) => (route == path).then_some(RouteMatch { script_name: route, raw_path_info: "" }),
            Self::Prefix(base) => {
                let rest = path.strip_prefix(base.as_str())?;
                if !rest.is_empty() && !rest.starts_with('/') {
                    return None;
                }
                let script_name = if base.is_empty() { "/" } else { base.as_str() };
                Some(RouteMatch { script_name, raw_path_info: rest })
            }
        }
    }

    /// Appends a `_routes` sub-route to this (parent) route: the parent's base and the child's
    /// path are joined with exactly one `/`, and the child's kind (exact or wildcard) is kept.
    pub fn join(&self, child: &RoutePattern) -> RoutePattern {
        let parent_base = match self {
            Self::Exact(route) => route.as_str(),
            Self::Prefix(base) => base.as_str(),
        };
        let join =
            |child_path: &str| format!("{}/{}", parent_base.trim_end_matches('/'), child_path.trim_start_matches('/'));
        match child {
            Self::Exact(path) => Self::Exact(join(path)),
            Self::Prefix(base) if base.is_empty() => Self::Prefix(parent_base.trim_end_matches('/').to_owned()),
            Self::Prefix(base) => Self::Prefix(join(base)),
        }
    }

    /// Orders routes from most to least specific: exact routes first, then wildcards by
    /// decreasing base length. Routes that compare equal are equally specific.
    pub fn cmp_specificity(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Exact(_), Self::Prefix(_)) => Ordering::Less,
            (Self::Prefix(_), Self::Exact(_)) => Ordering::Greater,
            (Self::Exact(_), Self::Exact(_)) => Ordering::Equal,
            (Self::Prefix(a), Self::Prefix(b)) => b.len().cmp(&a.len()),
        }
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(route) => f.write_str(route),
            Self::Prefix(base) => write!(f, "{base}{WILDCARD}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(route: &str, path: &str, expected: Option<(&str, &str)>) {
        let pattern = RoutePattern::parse(route).expect("test routes are valid");
        let actual = pattern.matches(path).map(|m| (m.script_name, m.raw_path_info));
        assert_eq!(actual, expected, "route {route} path {path}");
    }

    #[test]
    fn exact_routes_match_byte_for_byte() {
        check("/foo", "/foo", Some(("/foo", "")));
        check("/foo", "/foo/", None);
        check("/foo/", "/foo", None);
        check("/foo", "/foo/bar", None);
        check("/foo", "/foobar", None);
        check("/a/b", "/a%2Fb", None);
        check("/", "/", Some(("/", "")));
    }

    #[test]
    fn wildcards_match_their_base_and_below_only_at_a_slash() {
        check("/foo/...", "/foo", Some(("/foo", "")));
        check("/foo/...", "/foo/", Some(("/foo", "/")));
        check("/foo/...", "/foo/a/b", Some(("/foo", "/a/b")));
        check("/foo/...", "/foobar", None);
        check("/foo/...", "/fo", None);
        check("/...", "/", Some(("/", "/")));
        check("/...", "/anything/at/all", Some(("/", "/anything/at/all")));
    }

    #[test]
    fn routes_must_be_absolute_paths() {
        assert_eq!(RoutePattern::parse("foo"), Err(RouteError::NotAbsolute("foo".into())));
        assert_eq!(RoutePattern::parse(""), Err(RouteError::NotAbsolute(String::new())));
        assert!(matches!(RoutePattern::parse("/a b"), Err(RouteError::InvalidCharacter(_))));
    }

    #[test]
    fn display_round_trips() {
        for text in ["/", "/foo", "/foo/", "/...", "/foo/..."] {
            let pattern = RoutePattern::parse(text).expect("valid");
            assert_eq!(pattern.to_string(), text);
        }
    }

    #[test]
    fn sub_routes_join_with_one_slash_and_keep_their_kind() {
        let join = |parent: &str, child: &str| {
            let parent = RoutePattern::parse(parent).expect("valid");
            parent.join(&RoutePattern::parse(child).expect("valid")).to_string()
        };
        assert_eq!(join("/", "/a"), "/a");
        assert_eq!(join("/x/...", "/a"), "/x/a");
        assert_eq!(join("/x/", "/a"), "/x/a");
        assert_eq!(join("/x", "/a/..."), "/x/a/...");
        assert_eq!(join("/x/...", "/..."), "/x/...");
        assert_eq!(join("/...", "/..."), "/...");
        assert_eq!(join("/...", "/main"), "/main");
    }

    #[test]
    fn exact_beats_wildcard_and_longer_base_beats_shorter() {
        let parse = |t: &str| RoutePattern::parse(t).expect("valid");
        let mut routes = [parse("/..."), parse("/a/..."), parse("/a/b/..."), parse("/z")];
        routes.sort_by(RoutePattern::cmp_specificity);
        let texts: Vec<String> = routes.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["/z", "/a/b/...", "/a/...", "/..."]);
    }
}
