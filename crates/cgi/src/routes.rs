//! The `_routes` export: a module may print extra routes, one `<route> <entrypoint>` per line.

use wagi_config::RoutePattern;

/// One line of `_routes` output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubRoute {
    /// The route, relative to the parent entry's route (see [`RoutePattern::join`]).
    pub route: RoutePattern,
    /// The export that answers it.
    pub entrypoint: String,
}

/// Parses `_routes` output: empty lines are skipped, every other line must be exactly two
/// whitespace-separated fields, and the whole output must not be empty.
pub fn parse_routes_output(output: &[u8]) -> Result<Vec<SubRoute>, String> {
    let text = std::str::from_utf8(output).map_err(|_| "the output is not UTF-8".to_owned())?;
    let mut routes = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [] => {}
            [route, entrypoint] => {
                let route = RoutePattern::parse(route).map_err(|e| format!("line {}: {e}", idx + 1))?;
                routes.push(SubRoute { route, entrypoint: (*entrypoint).to_owned() });
            }
            _ => return Err(format!("line {}: expected `<route> <entrypoint>`, found `{}`", idx + 1, line.trim())),
        }
    }
    if routes.is_empty() {
        return Err("the output lists no routes".to_owned());
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_fields_per_line() {
        let routes =
            parse_routes_output(b"/exact on_exact\n\n/wildcard/...   on_wildcard\n/main _start\n").expect("valid");
        let rendered: Vec<String> = routes.iter().map(|r| format!("{} {}", r.route, r.entrypoint)).collect();
        assert_eq!(rendered, ["/exact on_exact", "/wildcard/... on_wildcard", "/main _start"]);
    }

    #[test]
    fn anything_else_is_an_error() {
        let check = |output: &[u8], expected: &str| assert_eq!(parse_routes_output(output), Err(expected.to_owned()));
        check(b"", "the output lists no routes");
        check(b"\n\n", "the output lists no routes");
        check(b"/a\n", "line 1: expected `<route> <entrypoint>`, found `/a`");
        check(b"/a b\n/c d e\n", "line 2: expected `<route> <entrypoint>`, found `/c d e`");
        check(b"a b\n", "line 1: route `a` must start with `/`");
        check(b"\xff", "the output is not UTF-8");
    }
}
