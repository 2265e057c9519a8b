//! A real HTTP server on a free loopback port for modules to call: hyper on its own thread.
//!
//! - `/echo`: 201, `content-type: text/plain`, `x-peer: yes`, `x-method: <method>`, `x-demo`
//!   echoed, and the request body back (or `hello from the peer` when there is none);
//! - `/redirect?to=URL`: 302 to `URL`;
//! - `/slow`: answers after 10 seconds;
//! - `/huge`: a 2 MiB body;
//! - `/gate`: reports its arrival, then answers `through the gate` once the test opens the gate;
//! - `/headers`: the request's headers as received, one `name: value` line each, then
//!   `body: <body>`, so a test sees what reached the peer (`Host` included).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use tokio::sync::{oneshot, watch};

use crate::support::TIMEOUT;

/// A running peer; stopped when dropped.
pub(crate) struct Peer {
    pub(crate) addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    gate: watch::Sender<bool>,
    arrivals: Mutex<mpsc::Receiver<()>>,
}

/// What `/gate` shares with the test.
#[derive(Clone)]
struct Gate {
    open: watch::Receiver<bool>,
    arrived: mpsc::Sender<()>,
}

impl Peer {
    pub(crate) fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind peer");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("peer address");
        let (stop, stopped) = oneshot::channel::<()>();
        let (gate, open) = watch::channel(false);
        let (arrived, arrivals) = mpsc::channel();
        let shared = Gate { open, arrived };
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else { continue };
                        let shared = shared.clone();
                        tokio::spawn(async move {
                            let io = hyper_util::rt::TokioIo::new(stream);
                            let service = hyper::service::service_fn(move |request| answer(request, shared.clone()));
                            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                        });
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = stopped => {}
                }
            });
        });
        Self { addr, stop: Some(stop), thread: Some(thread), gate, arrivals: Mutex::new(arrivals) }
    }

    /// Waits until `count` more requests have reached `/gate`.
    pub(crate) fn wait_at_gate(&self, count: usize) {
        let arrivals = self.arrivals.lock().expect("arrivals lock");
        for _ in 0..count {
            arrivals.recv_timeout(TIMEOUT).expect("a request at the gate");
        }
    }

    /// Lets every request at `/gate`, waiting or still to come, through.
    pub(crate) fn open_gate(&self) {
        let _ = self.gate.send(true);
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn answer(request: Request<Incoming>, gate: Gate) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let response = Response::builder();
    let response = match path.as_str() {
        "/echo" => {
            let method = request.method().to_string();
            let demo = request.headers().get("x-demo").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let body = if body.is_empty() { Bytes::from_static(b"hello from the peer") } else { body };
            response
                .status(201)
                .header("content-type", "text/plain")
                .header("x-peer", "yes")
                .header("x-method", method)
                .header("x-demo", demo)
                .body(Full::new(body))
        }
        "/headers" => {
            let mut text = String::new();
            for (name, value) in request.headers() {
                text.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())));
            }
            let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            text.push_str(&format!("body: {}\n", String::from_utf8_lossy(&body)));
            response.body(Full::new(Bytes::from(text)))
        }
        "/redirect" => {
            let to = query.strip_prefix("to=").unwrap_or("/").to_owned();
            response.status(302).header("location", to).body(Full::new(Bytes::new()))
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            response.body(Full::new(Bytes::from_static(b"late")))
        }
        "/huge" => response.body(Full::new(Bytes::from(vec![b'x'; 2 << 20]))),
        "/gate" => {
            let _ = gate.arrived.send(());
            let mut open = gate.open;
            let _ = open.wait_for(|open| *open).await;
            response.body(Full::new(Bytes::from_static(b"through the gate")))
        }
        _ => response.status(404).body(Full::new(Bytes::new())),
    };
    Ok(response.unwrap_or_default())
}
