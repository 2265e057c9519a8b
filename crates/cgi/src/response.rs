//! Parsing a module's stdout into an HTTP response: the CGI header block, then the body.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode, header};

use crate::error::OutputError;

/// A module's answer, ready to send.
#[derive(Clone, Debug)]
pub struct CgiResponse {
    /// The status: `Status`, else 302 when `Location` is given, else 200.
    pub status: StatusCode,
    /// The headers in the order the module wrote them; repeated names are all kept.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body, byte-exact.
    pub body: Bytes,
}

/// Headers the server manages itself; a module's values for them are dropped, so that framing
/// always matches the body actually sent.
const SERVER_MANAGED: [HeaderName; 3] = [header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::CONNECTION];

/// The largest CGI header block accepted; a module sending more gets 502.
pub const MAX_HEADER_BLOCK: usize = 64 << 10;

/// A complete CGI header block, found at the start of a module's output.
#[derive(Debug)]
pub struct HeaderBlock<'a> {
    /// The header lines without CR bytes; borrowed from the output when it had none.
    pub lines: Cow<'a, [u8]>,
    /// Where the body starts in the output.
    pub body_start: usize,
}

/// Splits `output` at the end of the CGI header block: the first empty line, ignoring CR bytes
/// (so both `\n\n` and `\r\n\r\n` end it). `Ok(None)` when there is no end yet, an error past
/// the size cap.
pub fn split_header_block(output: &[u8]) -> Result<Option<HeaderBlock<'_>>, OutputError> {
    let mut at_line_start = true;
    let mut has_cr = false;
    for (idx, &byte) in output.iter().enumerate() {
        if idx >= MAX_HEADER_BLOCK {
            return Err(OutputError::HeaderTooLarge { limit: MAX_HEADER_BLOCK });
        }
        match byte {
            b'\r' => has_cr = true,
            b'\n' if at_line_start => {
                let lines = &output[..idx];
                let lines = if has_cr {
                    Cow::Owned(lines.iter().copied().filter(|&b| b != b'\r').collect())
                } else {
                    Cow::Borrowed(lines)
                };
                return Ok(Some(HeaderBlock { lines, body_start: idx + 1 }));
            }
            b'\n' => at_line_start = true,
            _ => at_line_start = false,
        }
    }
    Ok(None)
}

impl CgiResponse {
    /// Parses the whole stdout of a CGI program (RFC 3875 §6) into a response.
    pub fn parse(output: Bytes) -> Result<Self, OutputError> {
        parse_cgi_output(output)
    }

    /// The HTTP response to send, with the body in `B`.
    pub fn into_http<B: From<Bytes>>(self) -> http::Response<B> {
        http_response(self.status, self.headers, B::from(self.body))
    }
}

fn parse_cgi_output(output: Bytes) -> Result<CgiResponse, OutputError> {
    let block = split_header_block(&output)?.ok_or(OutputError::MissingHeaderEnd)?;
    let (status, headers) = parse_head(&block.lines)?;
    Ok(CgiResponse { status, headers, body: output.slice(block.body_start..) })
}

/// The status and headers a CGI header block (without CR bytes) gives.
pub fn parse_head(header_block: &[u8]) -> Result<(StatusCode, Vec<(HeaderName, HeaderValue)>), OutputError> {
    let header_text = std::str::from_utf8(header_block).map_err(|_| OutputError::HeaderNotUtf8)?;

    let mut status = None;
    let mut location = false;
    let mut content_type = false;
    let mut headers = Vec::new();
    for line in header_text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            // compat(deislabs/wagi): a header line without `:` is skipped, not an error.
            tracing::debug!(line, "skipping a CGI header line without `:`");
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("status") {
            status = Some(parse_status(value)?);
            continue;
        }
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| OutputError::InvalidHeaderName(name.to_owned()))?;
        let header_value = HeaderValue::from_str(value)
            .map_err(|_| OutputError::InvalidHeaderValue { name: name.to_owned(), value: value.to_owned() })?;
        location |= header_name == header::LOCATION;
        content_type |= header_name == header::CONTENT_TYPE;
        if !SERVER_MANAGED.contains(&header_name) {
            headers.push((header_name, header_value));
        }
    }
    // An explicit Status wins over the 302 implied by Location, whatever their order.
    let status = match (status, location, content_type) {
        (Some(status), _, _) => status,
        (None, true, _) => StatusCode::FOUND,
        (None, false, true) => StatusCode::OK,
        (None, false, false) => return Err(OutputError::MissingRequiredHeader),
    };
    Ok((status, headers))
}

/// An HTTP response with `status`, `headers` and `body`.
pub fn http_response<B>(status: StatusCode, headers: Vec<(HeaderName, HeaderValue)>, body: B) -> http::Response<B> {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    let map = response.headers_mut();
    map.reserve(headers.len());
    for (name, value) in headers {
        map.append(name, value);
    }
    response
}

/// `Status: 404 Not Found`: the three digits before the first space.
fn parse_status(value: &str) -> Result<StatusCode, OutputError> {
    let code = value.split_whitespace().next().unwrap_or_default();
    let status = (code.len() == 3)
        .then(|| StatusCode::from_bytes(code.as_bytes()).ok())
        .flatten()
        .ok_or_else(|| OutputError::InvalidStatus(value.to_owned()))?;
    final_status(status)
}

/// `status`, unless it is 1xx: an informational status is never a final response (RFC 9110
/// §15.2). Sent as one, hyper would answer 101 as a protocol switch over HTTP/1.1 and reset the
/// stream over HTTP/2.
pub fn final_status(status: StatusCode) -> Result<StatusCode, OutputError> {
    if status.is_informational() { Err(OutputError::InformationalStatus(status.as_u16())) } else { Ok(status) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(output: &'static [u8]) -> Result<CgiResponse, OutputError> {
        parse_cgi_output(Bytes::from_static(output))
    }

    fn check(output: &'static [u8], status: u16, headers: &[(&str, &str)], body: &[u8]) {
        let response = parse(output).unwrap_or_else(|e| panic!("{output:?} should parse: {e}"));
        assert_eq!(response.status.as_u16(), status, "{output:?}");
        let actual: Vec<(&str, &str)> =
            response.headers.iter().map(|(n, v)| (n.as_str(), v.to_str().unwrap_or("<bin>"))).collect();
        assert_eq!(actual, headers, "{output:?}");
        assert_eq!(&response.body[..], body, "{output:?}");
    }

    #[test]
    fn headers_end_at_the_first_empty_line_and_header_crs_are_ignored() {
        check(b"Content-Type: text/plain\n\nhello\n", 200, &[("content-type", "text/plain")], b"hello\n");
        check(
            b"content-type: text/html\r\n\r\nOh hi world\r\n",
            200,
            &[("content-type", "text/html")],
            b"Oh hi world\r\n",
        );
        check(b"Content-Type: a/b\n\n\n\nx", 200, &[("content-type", "a/b")], b"\n\nx");
        check(b"Content-Type: a/b\r\n\r\n", 200, &[("content-type", "a/b")], b"");
    }

    #[test]
    fn status_and_location_in_both_orders() {
        check(b"Status: 201 Created\nLocation: /x\n\n", 201, &[("location", "/x")], b"");
        check(b"Location: /x\nStatus: 201\n\n", 201, &[("location", "/x")], b"");
        check(b"Location: https://example.com/\n\n", 302, &[("location", "https://example.com/")], b"");
        check(b"Status: 404 Not Found\n\nnope", 404, &[], b"nope");
    }

    #[test]
    fn repeated_headers_are_kept_in_order() {
        check(
            b"Content-Type: text/plain\nSet-Cookie: a=1\nSet-Cookie: b=2\nX-A: 1\nX-A: 2\n\n",
            200,
            &[("content-type", "text/plain"), ("set-cookie", "a=1"), ("set-cookie", "b=2"), ("x-a", "1"), ("x-a", "2")],
            b"",
        );
    }

    #[test]
    fn framing_headers_from_the_module_are_dropped_and_lines_without_colon_skipped() {
        check(
            b"Content-Type: a/b\nContent-Length: 999\nTransfer-Encoding: chunked\ngarbage line\n\nxy",
            200,
            &[("content-type", "a/b")],
            b"xy",
        );
    }

    #[test]
    fn malformed_output_is_an_error_with_a_reason() {
        let check_err = |output: &'static [u8], expected: &str| {
            let error = parse(output).expect_err("malformed");
            assert_eq!(error.to_string(), expected, "{output:?}");
        };
        check_err(b"hello world", "the module's output has no empty line ending the CGI headers");
        check_err(b"", "the module's output has no empty line ending the CGI headers");
        check_err(b"X-A: 1\n\nbody", "the module's output has none of `Content-Type`, `Status` or `Location`");
        check_err(b"Status: abc\n\n", "the module sent an invalid `Status` header `abc`");
        check_err(b"Status: 99\n\n", "the module sent an invalid `Status` header `99`");
        for (output, code) in [
            (&b"Status: 100 Continue\n\n"[..], 100),
            (b"Status: 101 Switching Protocols\nUpgrade: websocket\n\n", 101),
            (b"Content-Type: text/plain\nStatus: 103\n\nbody", 103),
            (b"Status: 199\nLocation: /x\n\n", 199),
        ] {
            let error = parse_cgi_output(Bytes::from_static(output)).expect_err("informational");
            let expected =
                format!("the module answered with the informational status {code}, which cannot be a final response");
            assert_eq!(error.to_string(), expected, "{output:?}");
        }
        check(b"Status: 200\n\n", 200, &[], b"");
        check_err(b"Content-Type: a\x01b\n\n", "the module sent an invalid value for header `Content-Type`");
        check_err(b"Bad Name: x\n\n", "the module sent an invalid header name `Bad Name`");
        check_err(b"Content-Type: \xff\n\n", "the module's CGI headers are not UTF-8");
        let long_line = Bytes::from([b"X-Long: ".as_slice(), &[b'a'; MAX_HEADER_BLOCK], b"\n\n"].concat());
        let error = parse_cgi_output(long_line).expect_err("too long");
        assert_eq!(error.to_string(), "the module's CGI headers are longer than 65536 bytes");
    }
}
