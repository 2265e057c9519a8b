//! Fuzzes the CGI output parser with arbitrary module stdout: it must return a response or an
//! error, and a response's body must be a suffix of the output.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use wagi_cgi::CgiResponse;

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = CgiResponse::parse(Bytes::copy_from_slice(data)) {
        assert!(data.ends_with(&response.body));
        assert!(response.status.as_u16() >= 100);
    }
});
