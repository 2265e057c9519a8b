//! argv for a request: the request path followed by the query string split on `&`, or the
//! entry's `argv` template.

use crate::request::CgiRequest;

impl CgiRequest<'_> {
    /// The argv a module gets for this request, given the entry's `argv` template.
    pub fn argv(&self, template: Option<&str>) -> Vec<String> {
        build_argv(template, self.raw_path(), self.query())
    }

    /// Calls `push` with each argument of [`argv`](Self::argv), in order, borrowing the
    /// request's text where it can.
    pub fn for_each_arg(&self, template: Option<&str>, push: impl FnMut(&str)) {
        for_each_arg(template, self.raw_path(), self.query(), push);
    }
}

/// Builds argv the way the original WAGI did.
///
/// Without a template: `argv[0]` is the raw request path, followed by the raw query split on
/// `&` (nothing is decoded; `?` with an empty query adds one empty argument). With a template:
/// `${SCRIPT_NAME}` becomes the raw request path and `${ARGS}` the query with `&` turned into
/// spaces, and the result is split on whitespace.
fn build_argv(template: Option<&str>, raw_path: &str, query: Option<&str>) -> Vec<String> {
    let mut argv = Vec::new();
    for_each_arg(template, raw_path, query, |arg| argv.push(arg.to_owned()));
    argv
}

/// Calls `push` with each argument of [`build_argv`]'s result, in order.
fn for_each_arg(template: Option<&str>, raw_path: &str, query: Option<&str>, mut push: impl FnMut(&str)) {
    match template {
        None => {
            push(raw_path);
            if let Some(query) = query {
                query.split('&').for_each(push);
            }
        }
        Some(template) => {
            // compat(deislabs/wagi): `${SCRIPT_NAME}` is the full request path, not the CGI
            // SCRIPT_NAME.
            let args = query.unwrap_or_default().replace('&', " ");
            let expanded = template.replace("${SCRIPT_NAME}", raw_path).replace("${ARGS}", &args);
            expanded.split_whitespace().for_each(push);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(template: Option<&str>, path: &str, query: Option<&str>, expected: &[&str]) {
        assert_eq!(build_argv(template, path, query), expected, "{template:?} {path} {query:?}");
    }

    #[test]
    fn path_then_raw_query_pieces() {
        check(None, "/foo/bar/baz", Some("a=1&b=x%20y"), &["/foo/bar/baz", "a=1", "b=x%20y"]);
        check(None, "/foo", None, &["/foo"]);
        check(None, "/foo", Some(""), &["/foo", ""]);
        check(None, "/foo", Some("c=d+e"), &["/foo", "c=d+e"]);
        check(None, "/q", Some("--tamanho&5&--imprime"), &["/q", "--tamanho", "5", "--imprime"]);
    }

    #[test]
    fn templates_expand_and_split_on_whitespace() {
        let template = Some("ruby /env.rb ${SCRIPT_NAME} ${ARGS}");
        check(template, "/argvt/x/y", Some("p1=v1&p2=v2"), &["ruby", "/env.rb", "/argvt/x/y", "p1=v1", "p2=v2"]);
        check(template, "/", None, &["ruby", "/env.rb", "/"]);
    }
}
