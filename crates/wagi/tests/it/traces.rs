//! Traces over OTLP/HTTP: a receiver on loopback decodes what wagi exports with the protocol's
//! own message definitions (`opentelemetry-proto`), and a real peer shows the trace context
//! that reached it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

use crate::outbound::fetch_entry;
use crate::peer::Peer;
use crate::support::{Server, Site, TIMEOUT};

/// An OTLP/HTTP receiver: every span of every `POST /v1/traces`, with its resource's
/// `service.name`. Stopped when dropped.
struct Receiver {
    addr: SocketAddr,
    spans: mpsc::Receiver<(String, Span)>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        let (sender, spans) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Acquire) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let sender = sender.clone();
                std::thread::spawn(move || serve(stream, &sender));
            }
        });
        Self { addr, spans, stop, thread: Some(thread) }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the accepting thread, which then sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers the export requests of one connection, kept alive between them.
fn serve(stream: TcpStream, spans: &mpsc::Sender<(String, Span)>) {
    let _ = stream.set_read_timeout(Some(TIMEOUT));
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0;
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("a content length");
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("the request body");
        assert!(request_line.starts_with("POST /v1/traces "), "{request_line}");
        let export = ExportTraceServiceRequest::decode(body.as_slice()).expect("an OTLP trace export");
        for resource_spans in export.resource_spans {
            let attributes = resource_spans.resource.map(|resource| resource.attributes).unwrap_or_default();
            let service = attributes
                .iter()
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| text(attribute.value.as_ref()?.value.as_ref()?))
                .unwrap_or_default();
            for span in resource_spans.scope_spans.into_iter().flat_map(|scope| scope.spans) {
                let _ = spans.send((service.clone(), span));
            }
        }
        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if reader.get_mut().write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::StringValue(text) => Some(text.clone()),
        Value::IntValue(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The span's attribute `key`, as text.
fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|attribute| attribute.key == key).and_then(|a| text(a.value.as_ref()?.value.as_ref()?))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[test]
fn a_request_span_arrives_with_its_guest_and_outbound_child_spans() {
    let receiver = Receiver::start();
    let peer = Peer::start();
    let site = Site::new();
    site.write("modules.toml", fetch_entry("/fetch", &format!("allowed_hosts = [\"http://{}\"]", peer.addr)));
    let endpoint = format!("http://{}", receiver.addr);
    let server = Server::start(&site, &[], &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)]);

    // A client that is itself traced: wagi continues its trace.
    let client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    let response = server.request(
        format!(
            "GET /fetch?url={} HTTP/1.1\r\nHost: x\r\ntraceparent: 00-{client_trace}-{client_span}-01\r\n\
             Connection: close\r\n\r\n",
            peer.url("/headers")
        )
        .as_bytes(),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let text = response.text();
    let traceparent =
        text.lines().find_map(|line| line.strip_prefix("traceparent: ")).unwrap_or_else(|| panic!("{text}"));
    let [version, trace, outbound_id, flags] = traceparent.split('-').collect::<Vec<_>>()[..] else {
        panic!("{traceparent}")
    };
    assert_eq!((version, trace, flags), ("00", client_trace, "01"), "{traceparent}");

    // Stopping exports the spans still in the batch.
    assert_eq!(server.stop().0.code(), Some(0));
    let spans: Vec<(String, Span)> = receiver.spans.try_iter().collect();
    let find = |name: &str| {
        spans.iter().map(|(_, span)| span).find(|span| span.name == name).unwrap_or_else(|| {
            panic!("no span {name:?} in {:?}", spans.iter().map(|(_, span)| &span.name).collect::<Vec<_>>())
        })
    };
    let request = find("GET /fetch");
    let guest = find("guest");
    let outbound = find("GET");
    assert!(spans.iter().all(|(service, span)| service == "wagi" && hex(&span.trace_id) == client_trace));

    assert_eq!(request.kind, SpanKind::Server as i32);
    assert_eq!(hex(&request.parent_span_id), client_span);
    assert_eq!(attribute(request, "http.route").as_deref(), Some("/fetch"));
    assert_eq!(attribute(request, "http.response.status_code").as_deref(), Some("200"));

    // The time in the guest, and what the guest is.
    assert_eq!(guest.parent_span_id, request.span_id);
    let kind = attribute(guest, "wagi.module.kind").unwrap_or_default();
    assert_eq!(kind, "cgi (WASI preview 1 module)");
    assert!(guest.end_time_unix_nano > guest.start_time_unix_nano);

    // The outbound request, whose context the peer received.
    assert_eq!(outbound.kind, SpanKind::Client as i32);
    assert_eq!(outbound.parent_span_id, guest.span_id);
    assert_eq!(hex(&outbound.span_id), outbound_id);
    assert_eq!(attribute(outbound, "url.full"), Some(peer.url("/headers")));
    assert_eq!(attribute(outbound, "http.response.status_code").as_deref(), Some("200"));
}
