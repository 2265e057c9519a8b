//! The span of one outbound request, and its W3C trace context (`traceparent`) in the request's
//! headers, so that the service called continues the trace. Both exist only while traces are
//! exported: otherwise the span is disabled and no header is added.

use http::{HeaderMap, Method};
use opentelemetry_http::HeaderInjector;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A client span for a `method` request to `url`, a child of the current span (the guest's).
pub(crate) fn span(method: &Method, url: &dyn std::fmt::Display) -> Span {
    tracing::info_span!(
        "outbound",
        otel.name = %method,
        otel.kind = "client",
        http.request.method = %method,
        url.full = %url,
        http.response.status_code = tracing::field::Empty,
    )
}

/// Adds `span`'s trace context to `headers`.
pub(crate) fn inject(span: &Span, headers: &mut HeaderMap) {
    if span.is_disabled() {
        return;
    }
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

/// Records the status the response came with.
pub(crate) fn record_status(span: &Span, status: http::StatusCode) {
    span.record("http.response.status_code", status.as_u16());
}
