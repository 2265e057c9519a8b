//! The host and port a request was addressed to: `SERVER_NAME` and `SERVER_PORT` for CGI, and
//! the authority of the URL a `wasi:http` component is given.

/// The authority a request was addressed to, worked out once per request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAuthority {
    /// The authority as the client wrote it (or the server's name when it wrote none valid):
    /// the host, then `:port` if the port was written.
    text: String,
    /// Where the host ends in `text`.
    name_len: usize,
    /// The port written, else the scheme's.
    port: u16,
}

impl ServerAuthority {
    /// Derives the authority from the `Host` header, else the request URI's authority (HTTP/2
    /// `:authority`), else `default_host` (the `--hostname` flag). A host without a port gets
    /// the scheme's default port, not the default host's.
    pub fn derive(host_header: Option<&str>, uri_authority: Option<&str>, default_host: &str, https: bool) -> Self {
        let default_port = if https { 443 } else { 80 };
        [host_header, uri_authority, Some(default_host)]
            .into_iter()
            .flatten()
            .find_map(|candidate| Self::parse(candidate, default_port))
            .unwrap_or_else(|| Self { text: "localhost".to_owned(), name_len: "localhost".len(), port: default_port })
    }

    /// `SERVER_NAME`: the host name or address; IPv6 addresses keep their brackets (RFC 3875
    /// §4.1.14).
    #[inline]
    pub fn name(&self) -> &str {
        &self.text[..self.name_len]
    }

    /// `SERVER_PORT`.
    #[inline]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The authority as the client wrote it, the host and the port if one was written: what a
    /// URL for this request holds between `//` and the path.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Reads `host[:port]`, `[v6]` or `[v6]:port`; `None` when the text is not a valid authority.
    fn parse(text: &str, default_port: u16) -> Option<Self> {
        let text = text.trim();
        let (name, port) = if text.starts_with('[') {
            let end = text.find(']')?;
            let (name, rest) = text.split_at(end + 1);
            match rest {
                "" => (name, None),
                _ => (name, Some(rest.strip_prefix(':')?)),
            }
        } else {
            match text.rsplit_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (text, None),
            }
        };
        if name.is_empty() || name.contains(['/', ' ', '@']) {
            return None;
        }
        let port = match port {
            Some(port) => port.parse().ok()?,
            None => default_port,
        };
        Some(Self { text: text.to_owned(), name_len: name.len(), port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(host: Option<&str>, uri: Option<&str>, default: &str, https: bool, expected: (&str, u16)) {
        let authority = ServerAuthority::derive(host, uri, default, https);
        assert_eq!((authority.name(), authority.port()), expected, "{host:?} {uri:?} {default}");
    }

    #[test]
    fn host_header_wins_and_defaults_to_the_scheme_port() {
        check(Some("localhost:3000"), None, "localhost:3000", false, ("localhost", 3000));
        check(Some("example.com"), None, "localhost:3000", false, ("example.com", 80));
        check(Some("example.com"), None, "localhost:3000", true, ("example.com", 443));
        check(Some("example.com:8443"), Some("other:1"), "localhost:3000", true, ("example.com", 8443));
    }

    #[test]
    fn ipv6_hosts_keep_their_brackets() {
        check(Some("[::1]:3900"), None, "localhost:3000", false, ("[::1]", 3900));
        check(Some("[::1]"), None, "localhost:3000", false, ("[::1]", 80));
    }

    #[test]
    fn falls_back_to_uri_authority_then_default_host() {
        check(None, Some("h2.example:8080"), "localhost:3000", false, ("h2.example", 8080));
        check(None, None, "localhost:3000", false, ("localhost", 3000));
        check(Some("bad:port"), None, "localhost:3000", false, ("localhost", 3000));
        check(None, None, "", false, ("localhost", 80));
    }

    #[test]
    fn the_authority_is_kept_as_written() {
        assert_eq!(ServerAuthority::derive(Some("example.com"), None, "localhost:3000", false).as_str(), "example.com");
        assert_eq!(ServerAuthority::derive(Some(" [::1]:80 "), None, "x", false).as_str(), "[::1]:80");
        assert_eq!(ServerAuthority::derive(Some("bad:port"), None, "localhost:3000", false).as_str(), "localhost:3000");
    }
}
