//! RFC 8586 `CDN-Loop`: every outbound request a module makes carries the entries of the request
//! it runs for plus one `wagi` entry, so a chain of calls through wagi servers, a module calling
//! its own route included, is counted and stopped at [`MAX_HOPS`] before it takes every instance.

use http::{HeaderMap, HeaderName, HeaderValue};

/// The header that carries the loop entries.
const CDN_LOOP: HeaderName = HeaderName::from_static("cdn-loop");

/// The `cdn-id` wagi adds to an outbound request.
const CDN_ID: &str = "wagi";

/// A request whose `CDN-Loop` holds this many `wagi` entries is refused (508 Loop Detected): a
/// chain of calls that long through wagi servers is taken for a loop. It bounds the instances
/// one client request can take through calls to its own server.
pub const MAX_HOPS: usize = 10;

/// How many `wagi` entries the `CDN-Loop` headers of a request hold.
pub fn loop_hops(headers: &HeaderMap) -> usize {
    headers
        .get_all(CDN_LOOP)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        // RFC 8586 §2: `cdn-info = OWS cdn-id *( OWS ";" OWS parameter )`.
        .filter(|info| info.split(';').next().is_some_and(|id| id.trim().eq_ignore_ascii_case(CDN_ID)))
        .count()
}

/// The `CDN-Loop` entries of the request a module runs for, carried onto the module's outbound
/// requests.
#[derive(Clone, Debug, Default)]
pub struct CdnLoop(Vec<HeaderValue>);

impl CdnLoop {
    /// The entries of a request's `headers`, one value per field line. Allocates only when the
    /// request has a `CDN-Loop` line.
    pub fn of(headers: &HeaderMap) -> Self {
        Self(headers.get_all(CDN_LOOP).iter().cloned().collect())
    }

    /// Sets an outbound request's `CDN-Loop` to the incoming entries and one `wagi` entry,
    /// replacing whatever the module set, so a module can neither hide nor forge its hops. The
    /// entries go as one field line each, which RFC 9110 §5.3 makes the same list as one line
    /// joined with commas.
    pub(crate) fn stamp(&self, headers: &mut HeaderMap) {
        headers.remove(CDN_LOOP);
        for entries in &self.0 {
            headers.append(CDN_LOOP, entries.clone());
        }
        headers.append(CDN_LOOP, HeaderValue::from_static(CDN_ID));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(CDN_LOOP, HeaderValue::from_str(line).expect("valid value"));
        }
        headers
    }

    fn check(lines: &[&str], hops: usize, stamped: &str) {
        let incoming = headers(lines);
        assert_eq!(loop_hops(&incoming), hops, "{lines:?}");
        let mut outgoing = headers(&["forged", "wagi"]);
        CdnLoop::of(&incoming).stamp(&mut outgoing);
        let values: Vec<&str> = outgoing.get_all(CDN_LOOP).iter().filter_map(|v| v.to_str().ok()).collect();
        assert_eq!(values.join(", "), stamped, "{lines:?}");
        assert_eq!(loop_hops(&outgoing), hops + 1, "{lines:?}");
    }

    #[test]
    fn wagi_entries_are_counted_and_one_is_added() {
        check(&[], 0, "wagi");
        check(&["cdn.example"], 0, "cdn.example, wagi");
        check(&["wagi, WAGI ; v=1,cdn.example:443", "wagi"], 3, "wagi, WAGI ; v=1,cdn.example:443, wagi, wagi");
        check(&["wagit, xwagi, wagi.example"], 0, "wagit, xwagi, wagi.example, wagi");
    }
}
