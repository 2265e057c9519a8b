//! Traces over OTLP/HTTP, as Spin exports them: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, every request's span, its guest's and its
//! outbound requests' are exported in batches, and outbound requests carry W3C trace context.
//! The other standard variables apply as the OpenTelemetry SDK reads them: `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`,
//! `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`; `OTEL_SDK_DISABLED=true` turns exporting off.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;

/// The exporter when the environment asks for one, and the layer that feeds it wagi's spans
/// (and nothing else: events stay in the log). A misconfiguration is a warning, not a failure.
pub(crate) fn from_env<S>() -> Option<(impl Layer<S>, SdkTracerProvider)>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.is_empty());
    let is = |name: &str, value: &str| std::env::var(name).is_ok_and(|set| set.eq_ignore_ascii_case(value));
    if !(set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        || is("OTEL_SDK_DISABLED", "true")
        || is("OTEL_TRACES_EXPORTER", "none")
    {
        return None;
    }
    for name in ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] {
        if set(name) && !is(name, "http/protobuf") {
            eprintln!("warning: {name}: traces are exported over OTLP/HTTP with protobuf (`http/protobuf`) only");
        }
    }
    // reqwest's client asks rustls for the process's provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build()
    {
        Ok(exporter) => exporter,
        Err(error) => {
            eprintln!("warning: traces are not exported: {error}");
            return None;
        }
    };
    let mut resource =
        Resource::builder().with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    let named = std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|attributes| attributes.contains("service.name="));
    if !set("OTEL_SERVICE_NAME") && !named {
        resource = resource.with_service_name("wagi");
    }
    let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("wagi"))
        .with_filter(filter_fn(|metadata| metadata.is_span() && metadata.target().starts_with("wagi")));
    Some((layer, provider))
}
