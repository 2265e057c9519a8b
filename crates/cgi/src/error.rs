//! Why a CGI program's output is not a response.

/// Why a program's output cannot be sent as an HTTP response (RFC 3875 §6).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// stdout never contained the empty line that ends the header block.
    #[error("the module's output has no empty line ending the CGI headers")]
    MissingHeaderEnd,
    /// None of `Content-Type`, `Status` or `Location` (RFC 3875 §6.2).
    #[error("the module's output has none of `Content-Type`, `Status` or `Location`")]
    MissingRequiredHeader,
    /// The header block is longer than the server accepts.
    #[error("the module's CGI headers are longer than {limit} bytes")]
    HeaderTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The header block is not text.
    #[error("the module's CGI headers are not UTF-8")]
    HeaderNotUtf8,
    /// `Status` is not a three-digit code.
    #[error("the module sent an invalid `Status` header `{0}`")]
    InvalidStatus(String),
    /// A 1xx status, which cannot be a final response.
    #[error("the module answered with the informational status {0}, which cannot be a final response")]
    InformationalStatus(u16),
    /// A header name HTTP cannot carry.
    #[error("the module sent an invalid header name `{0}`")]
    InvalidHeaderName(String),
    /// A header value HTTP cannot carry (e.g. a control character).
    #[error("the module sent an invalid value for header `{name}`")]
    InvalidHeaderValue {
        /// The header's name.
        name: String,
        /// The rejected value.
        value: String,
    },
}
