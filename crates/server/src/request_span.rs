//! The span of one request, in the log (`request{id=N}`) and, when traces are exported, as an
//! OpenTelemetry server span: named `METHOD ROUTE`, with the route and status once answered,
//! continuing the trace of a client that sent W3C trace context (`traceparent`).

use http::{Method, Request};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_http::HeaderExtractor;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The span of request `id`; disabled, and free, unless the log or traces want it.
pub(crate) fn request_span<B>(id: u64, request: &Request<B>) -> Span {
    let span = tracing::info_span!(
        "request",
        id,
        otel.name = %request.method(),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %request.method(),
        url.path = request.uri().path(),
        http.route = Empty,
        http.response.status_code = Empty,
    );
    if !span.is_disabled() && request.headers().contains_key("traceparent") {
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(request.headers()))
        });
        // Without a tracer (only the log wants the span) there is nothing to continue.
        let _ = span.set_parent(parent);
    }
    span
}

/// Records how the request was answered: by which route, with which status.
pub(crate) fn record_answer(span: &Span, method: &Method, route: Option<&str>, status: u16) {
    if span.is_disabled() {
        return;
    }
    if let Some(route) = route {
        span.record("http.route", route);
        // The span has started by now (its guest's began inside it), so `otel.name` would no
        // longer rename it: the OpenTelemetry span is renamed itself.
        span.context().span().update_name(format!("{method} {route}"));
    }
    span.record("http.response.status_code", status);
    if status >= 500 {
        span.record("otel.status_code", "ERROR");
    }
}
