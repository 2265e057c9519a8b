//! `--listen` and `--metrics-listen`: an address written as `HOST:PORT`, and the listeners bound
//! to every address that host resolves to (`localhost` is often both 127.0.0.1 and ::1).

use std::fmt;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use tokio::net::{TcpListener, TcpSocket};

use crate::failure;

/// Connections the kernel holds until wagi accepts them (it caps this at `net.core.somaxconn`).
/// Past it, a client's connection attempt is dropped and retried a second or more later; the
/// usual 128 overflowed when 512 clients connected at once.
const LISTEN_BACKLOG: u32 = 1024;

/// `HOST:PORT`, where HOST is an IP address (IPv6 in brackets) or a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListenAddress {
    host: String,
    port: u16,
}

impl fmt::Display for ListenAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Parses `--listen`'s value, saying what was expected when it is not `HOST:PORT`.
pub(crate) fn parse_listen(text: &str) -> Result<ListenAddress, String> {
    const FORMS: &str = "expected HOST:PORT, such as 127.0.0.1:3000, [::1]:3000, localhost:3000 or 0.0.0.0:3000";
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(ListenAddress { host: addr.ip().to_string(), port: addr.port() });
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("`{text}` names no port: {FORMS}"));
    };
    let port = port.parse::<u16>().map_err(|_| format!("`{port}` is not a port number (0 to 65535): {FORMS}"))?;
    if host.is_empty() {
        return Err(format!("`{text}` names no host; 0.0.0.0:{port} listens on every IPv4 address"));
    }
    if host.contains(':') {
        return Err(format!("an IPv6 address is written in brackets, as in [::1]:{port}"));
    }
    Ok(ListenAddress { host: host.to_owned(), port })
}

impl ListenAddress {
    /// Every address the host resolves to, in the resolver's order, each once.
    pub(crate) async fn resolve(&self) -> Result<Vec<SocketAddr>> {
        let found = tokio::net::lookup_host((self.host.as_str(), self.port)).await.map_err(|error| {
            failure::usage(&format!("cannot resolve `{}` for `--listen {self}`: {error}", self.host))
        })?;
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for addr in found {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        Ok(addrs)
    }

    /// Listeners on every address the host resolves to. With port 0 the first picks a free
    /// port and the others take the same one, so that the name means one port.
    pub(crate) async fn bind(&self) -> Result<Vec<TcpListener>> {
        let addrs = self.resolve().await?;
        let mut listeners = Vec::with_capacity(addrs.len());
        let mut port = self.port;
        for mut addr in addrs.iter().copied() {
            addr.set_port(port);
            let listener = bind(addr).with_context(|| {
                if addrs.len() > 1 {
                    let all: Vec<String> = addrs.iter().map(|addr| addr.ip().to_string()).collect();
                    format!(
                        "cannot listen on `{addr}`, one of the addresses `{}` resolves to ({}); choose one, as in `--listen {addr}`",
                        self.host,
                        all.join(", ")
                    )
                } else {
                    format!("cannot listen on `{addr}`")
                }
            })?;
            port = listener.local_addr().context("cannot read the listening address")?.port();
            listeners.push(listener);
        }
        Ok(listeners)
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_names_parse() {
        assert_eq!(parse_listen("127.0.0.1:3000").map(|a| a.to_string()), Ok("127.0.0.1:3000".to_owned()));
        assert_eq!(parse_listen("[::1]:0").map(|a| a.to_string()), Ok("[::1]:0".to_owned()));
        assert_eq!(parse_listen("localhost:8080").map(|a| a.to_string()), Ok("localhost:8080".to_owned()));
    }

    #[test]
    fn bad_addresses_say_what_was_expected() {
        assert!(parse_listen("localhost").is_err_and(|e| e.contains("names no port")));
        assert!(parse_listen("localhost:http").is_err_and(|e| e.contains("not a port number")));
        assert!(parse_listen(":3000").is_err_and(|e| e.contains("0.0.0.0:3000")));
        assert!(parse_listen("::1:3000").is_err_and(|e| e.contains("[::1]:3000")));
    }
}
