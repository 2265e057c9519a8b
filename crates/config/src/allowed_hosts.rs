//! `allowed_hosts`: which outbound HTTP destinations a module may reach, and matching a
//! destination against them.
//!
//! An entry is one of:
//! - `insecure:allow-all`: every destination;
//! - `scheme://host[:port]`: that scheme, host and port (the scheme's default port when none is
//!   written), e.g. `https://api.example.com`;
//! - `host[:port]`: that host over `http` or `https`, on the given port or the scheme's default;
//! - a host may be a wildcard `*.example.com`, matching every name below `example.com` (not
//!   `example.com` itself).
//!
//! Stricter than the original WAGI, which compared host names only: `https://api.example.com`
//! does not allow `http://api.example.com:8080`.

use std::fmt;

/// The entry that allows every destination.
pub const ALLOW_ALL: &str = "insecure:allow-all";

/// A parsed `allowed_hosts` list. The default allows nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    allow_all: bool,
    patterns: Vec<HostPattern>,
}

/// One destination pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HostPattern {
    scheme: Option<Scheme>,
    host: HostMatch,
    port: PortMatch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortMatch {
    /// The scheme's default port.
    Default,
    Exact(u16),
    /// Any port (`:*`, Spin's grammar only).
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostMatch {
    /// This host, lower-cased (IPv6 literals keep their brackets).
    Exact(String),
    /// Any host ending in this suffix, which starts with `.`.
    Below(String),
    /// Any host at all (`*`, Spin's grammar only).
    Any,
}

/// Why an `allowed_hosts` entry is not a destination.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`allowed_hosts` entry `{entry}`: {reason}")]
pub struct AllowedHostError {
    /// The entry as written.
    pub entry: String,
    /// What is wrong with it.
    pub reason: String,
}

impl AllowedHosts {
    /// Parses a list of entries; an empty list allows nothing.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, AllowedHostError> {
        let mut hosts = Self::default();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry == ALLOW_ALL {
                hosts.allow_all = true;
            } else {
                hosts.patterns.push(
                    HostPattern::parse(entry)
                        .map_err(|reason| AllowedHostError { entry: entry.to_owned(), reason: reason.to_owned() })?,
                );
            }
        }
        Ok(hosts)
    }

    /// Parses a Spin component's `allowed_outbound_hosts`: `scheme://host[:port]` with the
    /// scheme always written, where the scheme, the host and the port may each be `*`
    /// (`*://*:*` allows every HTTP destination), plus `insecure:allow-all`, which Spin itself
    /// rejects and wagi accepts as in `allowed_hosts`.
    pub fn parse_spin<S: AsRef<str>>(entries: &[S]) -> Result<Self, AllowedHostError> {
        let mut hosts = Self::default();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry == ALLOW_ALL {
                hosts.allow_all = true;
                continue;
            }
            let error = |reason: &str| AllowedHostError { entry: entry.to_owned(), reason: reason.to_owned() };
            let Some((scheme, rest)) = entry.split_once("://") else {
                return Err(error("write the scheme, as Spin does: `https://example.com`, or `*://example.com`"));
            };
            let scheme = match scheme {
                "*" => None,
                scheme => Some(
                    Scheme::parse(scheme).ok_or_else(|| error("only `http` and `https` destinations are possible"))?,
                ),
            };
            hosts.patterns.push(HostPattern::parse_authority(scheme, rest, true).map_err(error)?);
        }
        Ok(hosts)
    }

    /// Parses a comma-separated list, as the command line and Bindle invoices write it.
    pub fn parse_list(text: &str) -> Result<Self, AllowedHostError> {
        let entries: Vec<&str> = text.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
        Self::parse(&entries)
    }

    /// Whether no destination at all is allowed.
    pub fn is_empty(&self) -> bool {
        !self.allow_all && self.patterns.is_empty()
    }

    /// Whether a request to `scheme://host:port` is allowed. `host` is compared
    /// case-insensitively; IPv6 literals are written in brackets.
    pub fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.allow_all {
            return true;
        }
        let Some(scheme) = Scheme::parse(scheme) else { return false };
        let host = host.to_ascii_lowercase();
        self.patterns.iter().any(|pattern| pattern.allows(scheme, &host, port))
    }
}

impl HostPattern {
    fn parse(entry: &str) -> Result<Self, &'static str> {
        let (scheme, rest) = match entry.split_once("://") {
            Some((scheme, rest)) => {
                (Some(Scheme::parse(scheme).ok_or("only `http` and `https` destinations are possible")?), rest)
            }
            None => (None, entry),
        };
        Self::parse_authority(scheme, rest, false)
    }

    /// The `host[:port]` part of an entry; with `stars`, the host and the port may be `*`.
    fn parse_authority(scheme: Option<Scheme>, rest: &str, stars: bool) -> Result<Self, &'static str> {
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err("name a destination (`https://host[:port]`), not a path");
        }
        if authority.contains('@') {
            return Err("user names and passwords do not belong in `allowed_hosts`");
        }
        let (host, port) = match authority.strip_suffix(":*") {
            Some(host) if stars => (host, PortMatch::Any),
            _ => match split_port(authority)? {
                (host, Some(port)) => (host, PortMatch::Exact(port)),
                (host, None) => (host, PortMatch::Default),
            },
        };
        let host = host.to_ascii_lowercase();
        let host = match host.strip_prefix('*') {
            Some("") if stars => HostMatch::Any,
            Some(suffix) if suffix.starts_with('.') && is_host_name(&suffix[1..]) && !is_ip_literal(&suffix[1..]) => {
                HostMatch::Below(suffix.to_owned())
            }
            Some(suffix) if suffix.starts_with('.') && is_ip_literal(&suffix[1..]) => {
                return Err("a wildcard stands for host names, not IP addresses; write the address itself");
            }
            Some(_) if stars => return Err("a wildcard host is `*` or `*.example.com`"),
            Some(_) => {
                return Err("a wildcard is written `*.example.com`; use `insecure:allow-all` to allow every host");
            }
            None if is_host_name(&host) || is_ipv6_literal(&host) => HostMatch::Exact(host),
            None => return Err("not a host name or IP address"),
        };
        Ok(Self { scheme, host, port })
    }

    fn allows(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        if self.scheme.is_some_and(|allowed| allowed != scheme) {
            return false;
        }
        let port_allowed = match self.port {
            PortMatch::Default => scheme.default_port() == port,
            PortMatch::Exact(allowed) => allowed == port,
            PortMatch::Any => true,
        };
        if !port_allowed {
            return false;
        }
        match &self.host {
            HostMatch::Exact(allowed) => allowed == host,
            // An address is never below a name: `*.0.1` must not match `127.0.0.1`.
            HostMatch::Below(suffix) => {
                host.len() > suffix.len() && host.ends_with(suffix.as_str()) && !is_ip_literal(host)
            }
            HostMatch::Any => true,
        }
    }
}

impl Scheme {
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "http" => Some(Self::Http),
            "https" => Some(Self::Https),
            _ => None,
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// Splits `host[:port]` (IPv6 hosts in brackets).
fn split_port(authority: &str) -> Result<(&str, Option<u16>), &'static str> {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let (host, rest) = authority.split_at(end + 1);
                (host, rest.strip_prefix(':'))
            }
            None => return Err("an IPv6 address is missing its closing `]`"),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = port.map(|p| p.parse::<u16>().map_err(|_| "the port must be a number from 0 to 65535")).transpose()?;
    Ok((host, port))
}

fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Whether `host` is an IP address rather than a name: an IPv6 literal in brackets, or a host
/// whose last label is a number, which URL parsers read as an IPv4 address (`127.0.0.1`, and
/// also `0x7f.1` or `2130706433`).
fn is_ip_literal(host: &str) -> bool {
    let last_label = host.strip_suffix('.').unwrap_or(host).rsplit('.').next().unwrap_or_default();
    let is_number = match last_label.strip_prefix("0x").or_else(|| last_label.strip_prefix("0X")) {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !last_label.is_empty() && last_label.bytes().all(|b| b.is_ascii_digit()),
    };
    is_number || host.starts_with('[')
}

fn is_ipv6_literal(host: &str) -> bool {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .is_some_and(|inner| inner.parse::<std::net::Ipv6Addr>().is_ok())
}

impl fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut item = |f: &mut fmt::Formatter<'_>, text: &dyn fmt::Display| {
            let separator = if first { "" } else { "," };
            first = false;
            write!(f, "{separator}{text}")
        };
        if self.allow_all {
            item(f, &ALLOW_ALL)?;
        }
        for pattern in &self.patterns {
            item(f, pattern)?;
        }
        Ok(())
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scheme {
            Some(Scheme::Http) => write!(f, "http://")?,
            Some(Scheme::Https) => write!(f, "https://")?,
            None => {}
        }
        match &self.host {
            HostMatch::Exact(host) => write!(f, "{host}")?,
            HostMatch::Below(suffix) => write!(f, "*{suffix}")?,
            HostMatch::Any => write!(f, "*")?,
        }
        match self.port {
            PortMatch::Default => Ok(()),
            PortMatch::Exact(port) => write!(f, ":{port}"),
            PortMatch::Any => write!(f, ":*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(entries).expect("valid entries")
    }

    #[test]
    fn full_urls_match_scheme_host_and_port() {
        let allowed = hosts(&["https://api.example.com"]);
        assert!(allowed.allows("https", "api.example.com", 443));
        assert!(allowed.allows("https", "API.Example.com", 443));
        assert!(!allowed.allows("http", "api.example.com", 80));
        assert!(!allowed.allows("http", "api.example.com", 8080));
        assert!(!allowed.allows("https", "api.example.com", 8443));
        assert!(!allowed.allows("https", "example.com", 443));

        let with_port = hosts(&["http://127.0.0.1:8080/"]);
        assert!(with_port.allows("http", "127.0.0.1", 8080));
        assert!(!with_port.allows("http", "127.0.0.1", 80));
    }

    #[test]
    fn bare_hosts_allow_both_schemes_on_their_ports() {
        let allowed = hosts(&["example.com"]);
        assert!(allowed.allows("http", "example.com", 80));
        assert!(allowed.allows("https", "example.com", 443));
        assert!(!allowed.allows("https", "example.com", 80));
        let with_port = hosts(&["localhost:3000"]);
        assert!(with_port.allows("http", "localhost", 3000));
        assert!(with_port.allows("https", "localhost", 3000));
        assert!(!with_port.allows("ftp", "localhost", 3000));
    }

    #[test]
    fn wildcards_match_names_below_only() {
        let allowed = hosts(&["https://*.example.com"]);
        assert!(allowed.allows("https", "a.example.com", 443));
        assert!(allowed.allows("https", "a.b.example.com", 443));
        assert!(!allowed.allows("https", "example.com", 443));
        assert!(!allowed.allows("https", "badexample.com", 443));
    }

    #[test]
    fn wildcards_are_for_names_and_never_match_an_address() {
        for entry in ["*.0.0.1", "https://*.0.1", "*.1:8080", "*.0x1", "http://*.[::1]:80"] {
            let error = AllowedHosts::parse(&[entry]).expect_err(entry);
            assert!(error.reason.contains("not IP addresses"), "{entry}: {error}");
        }
        let error = AllowedHosts::parse_spin(&["http://*.0.0.1"]).expect_err("Spin wildcard over an address");
        assert!(error.reason.contains("not IP addresses"), "{error}");
        // A name whose last label is not a number may still end in digits elsewhere.
        let allowed = hosts(&["*.1.example.com", "*.example.com"]);
        assert!(allowed.allows("https", "a.1.example.com", 443));
        // At match time too, whatever the suffix, a wildcard never matches an address of either family.
        let below = |suffix: &str| HostPattern {
            scheme: None,
            host: HostMatch::Below(suffix.to_owned()),
            port: PortMatch::Any,
        };
        for (suffix, host) in [(".0.1", "127.0.0.1"), (".4", "1.2.3.4"), (".0x1", "127.0x1"), ("1]", "[::1]")] {
            assert!(!below(suffix).allows(Scheme::Http, host, 80), "{suffix} {host}");
        }
        assert!(below(".example.com").allows(Scheme::Http, "a.example.com", 80));
    }

    #[test]
    fn ipv6_literals_keep_brackets() {
        let allowed = hosts(&["http://[::1]:9000"]);
        assert!(allowed.allows("http", "[::1]", 9000));
        assert!(!allowed.allows("http", "::1", 9000));
    }

    #[test]
    fn allow_all_and_empty() {
        assert!(hosts(&["insecure:allow-all"]).allows("http", "anything", 1));
        assert!(hosts(&[]).is_empty());
        assert!(!hosts(&[]).allows("https", "example.com", 443));
        assert_eq!(
            AllowedHosts::parse_list("a.com, https://b.com:8443,").map(|h| h.to_string()),
            Ok("a.com,https://b.com:8443".to_owned())
        );
    }

    #[test]
    fn spin_entries_may_have_a_star_for_scheme_host_or_port() {
        let spin = |entries: &[&str]| AllowedHosts::parse_spin(entries).expect("valid Spin entries");
        let any = spin(&["*://*:*"]);
        assert!(any.allows("http", "anything", 1) && any.allows("https", "example.com", 443));
        assert!(!any.allows("ftp", "example.com", 21));
        let port = spin(&["http://localhost:*"]);
        assert!(port.allows("http", "localhost", 3000) && !port.allows("https", "localhost", 3000));
        let scheme = spin(&["*://example.com"]);
        assert!(scheme.allows("http", "example.com", 80) && scheme.allows("https", "example.com", 443));
        assert!(!scheme.allows("https", "example.com", 80));
        let host = spin(&["https://*:8443"]);
        assert!(host.allows("https", "a.b", 8443) && !host.allows("https", "a.b", 443));
        assert!(spin(&["insecure:allow-all"]).allows("http", "x", 1));
        for (entry, reason) in
            [("example.com", "write the scheme"), ("https://*x.com", "wildcard host"), ("ftp://a", "only")]
        {
            let error = AllowedHosts::parse_spin(&[entry]).expect_err(entry);
            assert!(error.reason.contains(reason), "{entry}: {}", error.reason);
        }
        // wagi's own grammar has no stars but the `*.` of a subdomain.
        assert!(AllowedHosts::parse(&["http://localhost:*"]).is_err());
    }

    #[test]
    fn bad_entries_say_why() {
        for (entry, reason) in [
            ("ftp://example.com", "only `http` and `https`"),
            ("https://example.com/api", "not a path"),
            ("https://user:pw@example.com", "user names"),
            ("*", "wildcard"),
            ("*example.com", "wildcard"),
            ("example.com:http", "port"),
            ("exa mple.com", "not a host name"),
            ("[::1", "closing"),
            ("", "not a host name"),
        ] {
            let error = AllowedHosts::parse(&[entry]).expect_err(entry);
            assert!(error.reason.contains(reason), "{entry}: {}", error.reason);
        }
    }
}
