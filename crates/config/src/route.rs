//! Route patterns: exact paths, `/...` wildcards and, in Spin manifests, `:name` segments; how
//! they match a request path and how `_routes` sub-routes join their parent.

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
    /// A Spin route with `:name` segments (`/users/:id`, `/users/:id/...`), each matching one
    /// non-empty path segment.
    Segments(SegmentRoute),
}

/// The segments of a [`RoutePattern::Segments`] route.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SegmentRoute {
    segments: Vec<Segment>,
    /// Whether it ends in `/...`, matching any rest of the path.
    wildcard: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Segment {
    Literal(String),
    /// `:name`, any one segment.
    Param(String),
}

/// The part of a request path a route matched, as CGI needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    /// `SCRIPT_NAME`: the route text for an exact route, the base for a wildcard (`/` for `/...`).
    pub script_name: &'a str,
    /// The rest of the path after the base, still percent-encoded (`X_RAW_PATH_INFO`).
    pub raw_path_info: &'a str,
    /// The `:name` segments and the path segment each matched, in route order.
    pub params: Vec<(&'a str, &'a str)>,
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
    /// A request path never contains `?` (the query starts there) or `#` (the fragment is not
    /// sent), so such a route could never match.
    #[error("route `{0}` contains `?` or `#`, which a request path never contains, so it could never match")]
    QueryOrFragment(String),
    /// A `:` segment without a name, or with one that is not letters, digits, `_` and `-`.
    #[error("route `{0}`: a `:name` segment needs a name of letters, digits, `_` or `-`")]
    InvalidParam(String),
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
        if text.contains(['?', '#']) {
            return Err(RouteError::QueryOrFragment(text.to_owned()));
        }
        Ok(match text.strip_suffix(WILDCARD) {
            Some(base) => Self::Prefix(base.to_owned()),
            None => Self::Exact(text.to_owned()),
        })
    }

    /// Parses a route of a Spin manifest: what [`RoutePattern::parse`] takes, plus `:name`
    /// segments.
    pub fn parse_spin(text: &str) -> Result<Self, RouteError> {
        let parsed = Self::parse(text)?;
        let base = match &parsed {
            Self::Exact(path) => path.as_str(),
            Self::Prefix(base) => base.as_str(),
            Self::Segments(_) => return Ok(parsed),
        };
        if !base.split('/').any(|segment| segment.starts_with(':')) {
            return Ok(parsed);
        }
        let mut segments = Vec::new();
        for segment in base.split('/').skip(1) {
            segments.push(match segment.strip_prefix(':') {
                Some(name)
                    if !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
                {
                    Segment::Param(name.to_owned())
                }
                Some(_) => return Err(RouteError::InvalidParam(text.to_owned())),
                None => Segment::Literal(segment.to_owned()),
            });
        }
        Ok(Self::Segments(SegmentRoute { segments, wildcard: matches!(parsed, Self::Prefix(_)) }))
    }

    /// Matches a raw request path (without the query string).
    pub fn matches<'p>(&'p self, path: &'p str) -> Option<RouteMatch<'p>> {
        match self {
            Self::Exact(route) => {
                (route == path).then_some(RouteMatch { script_name: route, raw_path_info: "", params: Vec::new() })
            }
            Self::Prefix(base) => {
                let rest = path.strip_prefix(base.as_str())?;
                if !rest.is_empty() && !rest.starts_with('/') {
                    return None;
                }
                let script_name = if base.is_empty() { "/" } else { base.as_str() };
                Some(RouteMatch { script_name, raw_path_info: rest, params: Vec::new() })
            }
            Self::Segments(route) => route.matches(path),
        }
    }

    /// Appends a `_routes` sub-route to this (parent) route: the parent's base and the child's
    /// path are joined with exactly one `/`, and the child's kind (exact or wildcard) is kept.
    pub fn join(&self, child: &RoutePattern) -> RoutePattern {
        let (parent_base, _) = self.text_parts();
        let (child_path, child_wildcard) = child.text_parts();
        let parent_base = parent_base.trim_end_matches('/');
        let joined = if child_wildcard && child_path.is_empty() {
            parent_base.to_owned()
        } else {
            format!("{parent_base}/{}", child_path.trim_start_matches('/'))
        };
        if matches!(self, Self::Segments(_)) || matches!(child, Self::Segments(_)) {
            // Read back with its `:name` segments.
            let text = if child_wildcard { format!("{joined}{WILDCARD}") } else { joined };
            return Self::parse_spin(&text).unwrap_or_else(|_| self.clone());
        }
        if child_wildcard { Self::Prefix(joined) } else { Self::Exact(joined) }
    }

    /// The route's text without its wildcard (`:name` segments included), and whether it has one.
    fn text_parts(&self) -> (std::borrow::Cow<'_, str>, bool) {
        match self {
            Self::Exact(route) => (route.as_str().into(), false),
            Self::Prefix(base) => (base.as_str().into(), true),
            Self::Segments(route) => (route.base().into(), route.wildcard),
        }
    }

    /// Orders routes from most to least specific: exact routes first, then `:name` routes
    /// without a wildcard, then wildcards by decreasing length of what they match literally.
    /// Routes that compare equal are equally specific.
    pub fn cmp_specificity(&self, other: &Self) -> Ordering {
        self.rank().cmp(&other.rank())
    }

    /// The sort key of [`RoutePattern::cmp_specificity`]: a kind (exact, segments, wildcard) and
    /// the literal length, longest first.
    fn rank(&self) -> (u8, std::cmp::Reverse<usize>) {
        match self {
            Self::Exact(_) => (0, std::cmp::Reverse(0)),
            Self::Segments(route) if !route.wildcard => (1, std::cmp::Reverse(route.literal_len())),
            Self::Segments(route) => (2, std::cmp::Reverse(route.literal_len())),
            Self::Prefix(base) => (2, std::cmp::Reverse(base.len())),
        }
    }
}

impl SegmentRoute {
    /// The route's text without its wildcard, `:name` segments included.
    fn base(&self) -> String {
        let mut text = String::new();
        for segment in &self.segments {
            text.push('/');
            match segment {
                Segment::Literal(literal) => text.push_str(literal),
                Segment::Param(name) => {
                    text.push(':');
                    text.push_str(name);
                }
            }
        }
        text
    }

    /// The length of the literal segments and their slashes, which ranks it among wildcards.
    fn literal_len(&self) -> usize {
        self.segments.iter().map(|segment| if let Segment::Literal(l) = segment { l.len() + 1 } else { 1 }).sum()
    }

    fn matches<'p>(&'p self, path: &'p str) -> Option<RouteMatch<'p>> {
        let mut rest = path;
        let mut params = Vec::new();
        for segment in &self.segments {
            let after = rest.strip_prefix('/')?;
            let end = after.find('/').unwrap_or(after.len());
            let (value, next) = after.split_at(end);
            match segment {
                Segment::Literal(literal) if literal == value => {}
                Segment::Param(name) if !value.is_empty() => params.push((name.as_str(), value)),
                _ => return None,
            }
            rest = next;
        }
        if !self.wildcard && !rest.is_empty() {
            return None;
        }
        let matched = &path[..path.len() - rest.len()];
        let script_name = if matched.is_empty() { "/" } else { matched };
        Some(RouteMatch { script_name, raw_path_info: rest, params })
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(route) => f.write_str(route),
            Self::Prefix(base) => write!(f, "{base}{WILDCARD}"),
            Self::Segments(route) if route.wildcard => write!(f, "{}{WILDCARD}", route.base()),
            Self::Segments(route) => f.write_str(&route.base()),
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
    fn routes_with_a_query_or_fragment_are_refused() {
        for text in ["/a?b", "/a?", "/a#top", "/a/...?x", "/#"] {
            assert_eq!(RoutePattern::parse(text), Err(RouteError::QueryOrFragment(text.into())), "{text}");
            assert_eq!(RoutePattern::parse_spin(text), Err(RouteError::QueryOrFragment(text.into())), "{text}");
        }
        assert_eq!(RoutePattern::parse_spin("/users/:id?x"), Err(RouteError::QueryOrFragment("/users/:id?x".into())));
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
    fn spin_routes_match_one_segment_per_name() {
        /// SCRIPT_NAME, PATH_INFO and the `:name` segments.
        type Matched<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let check = |route: &str, path: &str, expected: Option<Matched<'_>>| {
            let pattern = RoutePattern::parse_spin(route).expect("valid");
            let actual = pattern.matches(path);
            let actual = actual.as_ref().map(|m| (m.script_name, m.raw_path_info, m.params.as_slice()));
            assert_eq!(actual, expected, "route {route} path {path}");
            assert_eq!(pattern.to_string(), route);
        };
        check("/users/:id", "/users/42", Some(("/users/42", "", &[("id", "42")])));
        check("/users/:id", "/users/", None);
        check("/users/:id", "/users/42/x", None);
        check("/users/:id", "/users", None);
        check("/:a/x/:b", "/1/x/2", Some(("/1/x/2", "", &[("a", "1"), ("b", "2")])));
        check("/:a/x/:b", "/1/y/2", None);
        check("/users/:id/...", "/users/42/posts/7", Some(("/users/42", "/posts/7", &[("id", "42")])));
        check("/users/:id/...", "/users/42", Some(("/users/42", "", &[("id", "42")])));
        assert_eq!(RoutePattern::parse_spin("/plain/..."), RoutePattern::parse("/plain/..."));
        assert!(matches!(RoutePattern::parse_spin("/a/:"), Err(RouteError::InvalidParam(_))));
        assert!(matches!(RoutePattern::parse_spin("/a/:b.c"), Err(RouteError::InvalidParam(_))));
        // modules.toml keeps `:` literal, as the original did.
        assert_eq!(RoutePattern::parse("/users/:id"), Ok(RoutePattern::Exact("/users/:id".to_owned())));

        let parse = |t: &str| RoutePattern::parse_spin(t).expect("valid");
        let mut routes = [parse("/..."), parse("/users/:id/..."), parse("/users/:id"), parse("/users/me")];
        routes.sort_by(RoutePattern::cmp_specificity);
        let texts: Vec<String> = routes.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["/users/me", "/users/:id", "/users/:id/...", "/..."]);
        assert_eq!(parse("/users/:id/...").join(&parse("/posts")).to_string(), "/users/:id/posts");
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
