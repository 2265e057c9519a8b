//! The access log: what one line records ([`Exchange`], [`Entry`]), its three formats, and the
//! buffered, per-thread [`AccessLog`] the lines are written to.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderValue, Method, Version};
use wagi_cgi::protocol_name;

use crate::per_thread::{PerThread, lock};

/// How access log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// The Common Log Format, followed by `route="…" duration=SECONDS id=N`.
    #[default]
    Common,
    /// nginx's `combined`: the Common Log Format followed by the referer and the user agent.
    Combined,
    /// One JSON object per line, with an RFC 3339 time.
    Json,
}

/// Where access log lines go, one line per request. Lines are buffered and written at least
/// every [`AccessLog::FLUSH_INTERVAL`], so a busy server makes one write per many requests.
///
/// Each thread appends to a buffer of its own, so threads serving requests at once do not
/// contend for one lock and one buffer. Lines from one thread (one connection) stay in order;
/// lines from different threads may be out of order by up to the flush interval.
pub struct AccessLog {
    format: LogFormat,
    out: Mutex<Box<dyn Write + Send>>,
    buffers: PerThread<Vec<u8>>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog").field("format", &self.format).finish_non_exhaustive()
    }
}

impl AccessLog {
    /// The longest a line waits in the buffer.
    pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

    /// A buffer is written out when it holds this much.
    const BUFFER: usize = 32 << 10;

    /// Writes lines in `format` to `out`.
    pub fn new(format: LogFormat, out: Box<dyn Write + Send>) -> Self {
        Self { format, out: Mutex::new(out), buffers: PerThread::default() }
    }

    /// Whether lines record the `Referer` and `User-Agent` headers.
    pub(crate) fn records_agents(&self) -> bool {
        self.format != LogFormat::Common
    }

    /// Writes the buffered lines to the present destination, then sends later lines to `out`:
    /// a log file reopened after logrotate moved it away.
    pub fn reopen(&self, out: Box<dyn Write + Send>) {
        self.flush();
        *lock(&self.out) = out;
    }

    /// Writes out the buffered lines.
    pub(crate) fn flush(&self) {
        for mut buffer in self.buffers.each() {
            self.write_out(&mut buffer);
        }
        let _ = lock(&self.out).flush();
    }

    /// Adds `entry`'s line to this thread's buffer, writing the buffer out when it is full.
    pub(crate) fn write(&self, entry: &Entry<'_>) {
        let mut buffer = self.buffers.mine();
        // A failing log destination must not fail requests.
        let _ = match self.format {
            LogFormat::Common => {
                entry.write_common(&mut buffer);
                Ok(())
            }
            LogFormat::Combined => {
                entry.write_combined(&mut buffer);
                Ok(())
            }
            LogFormat::Json => buffer.write_all(entry.json().as_bytes()),
        };
        if buffer.len() >= Self::BUFFER {
            self.write_out(&mut buffer);
        }
    }

    /// Moves `buffer`'s lines to the destination.
    fn write_out(&self, buffer: &mut Vec<u8>) {
        if !buffer.is_empty() {
            let _ = lock(&self.out).write_all(buffer);
            buffer.clear();
        }
    }
}

/// What the log line and the metrics need to know about one request.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) id: u64,
    pub(crate) started: Instant,
    /// The client's IP address as text.
    pub(crate) remote: Arc<str>,
    pub(crate) method: Method,
    /// The path and query as requested.
    pub(crate) target: String,
    pub(crate) version: Version,
    /// The matched route's label; `None` when no configured route answered.
    pub(crate) route: Option<Arc<str>>,
    /// The `Referer` and `User-Agent` headers, kept only for the combined and JSON formats; boxed,
    /// since every request moves an `Exchange` several times.
    pub(crate) agents: Option<Box<Agents>>,
}

/// The request headers that say where a client came from and what it is.
#[derive(Debug, Default)]
pub(crate) struct Agents {
    pub(crate) referer: Option<HeaderValue>,
    pub(crate) user_agent: Option<HeaderValue>,
}

/// One line of the log: a request and how it was answered.
pub(crate) struct Entry<'a> {
    pub(crate) exchange: &'a Exchange,
    pub(crate) status: u16,
    pub(crate) bytes: u64,
    pub(crate) duration: Duration,
    pub(crate) time: SystemTime,
}

impl Entry<'_> {
    /// Writes the line straight into the log's buffer.
    fn write_common(&self, out: &mut Vec<u8>) {
        let e = self.exchange;
        let micros = self.duration.as_micros();
        let mut number = itoa::Buffer::new();
        self.write_clf(out);
        let mut put = |piece: &str| out.extend_from_slice(piece.as_bytes());
        put(" route=\"");
        escape(e.route.as_deref().unwrap_or_default(), &mut put);
        put("\" duration=");
        put(number.format(micros / 1_000_000));
        put(".");
        let fraction = number.format(micros % 1_000_000);
        put("000000".get(fraction.len()..).unwrap_or_default());
        put(fraction);
        put(" id=");
        put(number.format(e.id));
        put("\n");
    }

    /// Writes the line as nginx's `combined` format does.
    fn write_combined(&self, out: &mut Vec<u8>) {
        self.write_clf(out);
        let mut put = |piece: &str| out.extend_from_slice(piece.as_bytes());
        let agents = self.exchange.agents.as_deref();
        for header in [agents.and_then(|a| a.referer.as_ref()), agents.and_then(|a| a.user_agent.as_ref())] {
            put(" \"");
            match header {
                Some(value) => escape(&String::from_utf8_lossy(value.as_bytes()), &mut put),
                None => put("-"),
            }
            put("\"");
        }
        put("\n");
    }

    /// Appends the Common Log Format's fields, piece by piece: `write!` costs several times as
    /// much per line.
    fn write_clf(&self, out: &mut Vec<u8>) {
        let e = self.exchange;
        let mut number = itoa::Buffer::new();
        let mut put = |piece: &str| out.extend_from_slice(piece.as_bytes());
        put(&e.remote);
        put(" - - [");
        CLF_TIME.with_borrow_mut(|time| put(time.format(self.time)));
        put("] \"");
        put(e.method.as_str());
        put(" ");
        escape(&e.target, &mut put);
        put(" ");
        put(protocol_name(e.version));
        put("\" ");
        put(number.format(self.status));
        put(" ");
        put(number.format(self.bytes));
    }

    fn json(&self) -> String {
        let e = self.exchange;
        let text =
            |header: Option<&HeaderValue>| header.map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let mut line = serde_json::json!({
            "time": humantime::format_rfc3339_micros(self.time).to_string(),
            "id": e.id,
            "remote": &*e.remote,
            "method": e.method.as_str(),
            "target": e.target,
            "protocol": protocol_name(e.version),
            "route": e.route.as_deref().unwrap_or_default(),
            "status": self.status,
            "bytes": self.bytes,
            "duration": self.duration.as_secs_f64(),
            "referer": text(e.agents.as_ref().and_then(|a| a.referer.as_ref())),
            "user_agent": text(e.agents.as_ref().and_then(|a| a.user_agent.as_ref())),
        })
        .to_string();
        line.push('\n');
        line
    }
}

/// Puts `text` as [`str::escape_debug`] writes it, in one piece when nothing needs escaping (the
/// usual case), instead of one character at a time.
fn escape(text: &str, put: &mut impl FnMut(&str)) {
    let plain = |b: u8| matches!(b, b' '..=b'~') && !matches!(b, b'"' | b'\\' | b'\'');
    if text.bytes().all(plain) { put(text) } else { put(&text.escape_debug().to_string()) }
}

thread_local! {
    /// The last second formatted for the Common Log Format, reused by every line in that second.
    static CLF_TIME: std::cell::RefCell<ClfTime> = const { std::cell::RefCell::new(ClfTime { second: u64::MAX, text: String::new() }) };
}

/// A Common Log Format time and the second it shows.
struct ClfTime {
    second: u64,
    text: String,
}

impl ClfTime {
    /// `[22/Nov/2026:02:35:00 +0000]`'s inside, from the HTTP date `Sun, 22 Nov 2026 02:35:00 GMT`.
    fn format(&mut self, time: SystemTime) -> &str {
        let second = time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
        if second != self.second {
            let http_date = httpdate::fmt_http_date(time);
            self.text = match http_date.split(' ').collect::<Vec<_>>().as_slice() {
                [_, day, month, year, clock, _] => format!("{day}/{month}/{year}:{clock} +0000"),
                _ => http_date,
            };
            self.second = second;
        }
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange() -> Exchange {
        Exchange {
            id: 7,
            started: Instant::now(),
            remote: Arc::from("127.0.0.1"),
            method: Method::GET,
            target: "/hello?a=\"b\"".to_owned(),
            version: Version::HTTP_11,
            route: Some(Arc::from("/hello")),
            agents: Some(Box::new(Agents { referer: None, user_agent: Some(HeaderValue::from_static("curl/8.5.0")) })),
        }
    }

    fn entry(exchange: &Exchange) -> Entry<'_> {
        Entry {
            exchange,
            status: 200,
            bytes: 13,
            duration: Duration::from_micros(250),
            time: UNIX_EPOCH + Duration::from_secs(1_795_000_000),
        }
    }

    fn common(entry: &Entry<'_>) -> String {
        let mut line = Vec::new();
        entry.write_common(&mut line);
        String::from_utf8(line).expect("UTF-8")
    }

    #[test]
    fn common_lines_follow_the_common_log_format() {
        let exchange = exchange();
        assert_eq!(
            common(&entry(&exchange)),
            "127.0.0.1 - - [18/Nov/2026:11:06:40 +0000] \"GET /hello?a=\\\"b\\\" HTTP/1.1\" 200 13 \
             route=\"/hello\" duration=0.000250 id=7\n"
        );
    }

    #[test]
    fn combined_lines_follow_nginx() {
        let exchange = exchange();
        let mut line = Vec::new();
        entry(&exchange).write_combined(&mut line);
        assert_eq!(
            String::from_utf8(line).expect("UTF-8"),
            "127.0.0.1 - - [18/Nov/2026:11:06:40 +0000] \"GET /hello?a=\\\"b\\\" HTTP/1.1\" 200 13 \"-\" \"curl/8.5.0\"\n"
        );
    }

    #[test]
    fn json_lines_have_rfc_3339_times() {
        let exchange = exchange();
        let line: serde_json::Value = serde_json::from_str(&entry(&exchange).json()).expect("JSON");
        assert_eq!(line["time"], "2026-11-18T11:06:40.000000Z");
        assert_eq!(
            (&line["referer"], &line["user_agent"]),
            (&serde_json::Value::Null, &serde_json::json!("curl/8.5.0"))
        );
    }

    /// A destination the test can read back.
    #[derive(Clone, Default)]
    struct Memory(Arc<Mutex<Vec<u8>>>);

    impl Write for Memory {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_thread_s_lines_come_out_whole_and_in_order() {
        let memory = Memory::default();
        let log = AccessLog::new(LogFormat::Common, Box::new(memory.clone()));
        std::thread::scope(|scope| {
            for thread in 0..4_u64 {
                let log = &log;
                scope.spawn(move || {
                    for n in 0..500 {
                        let exchange = Exchange { id: thread * 1000 + n, ..exchange() };
                        log.write(&entry(&exchange));
                    }
                });
            }
        });
        log.flush();
        let text = String::from_utf8(lock(&memory.0).clone()).expect("UTF-8");
        let ids: Vec<u64> = text.lines().filter_map(|line| line.rsplit_once(" id=")?.1.parse().ok()).collect();
        assert_eq!(ids.len(), 2000);
        for thread in 0..4 {
            let mine: Vec<u64> = ids.iter().copied().filter(|id| id / 1000 == thread).collect();
            assert_eq!(mine, (0..500).map(|n| thread * 1000 + n).collect::<Vec<_>>());
        }
    }

    #[test]
    fn escaping_writes_what_escape_debug_writes() {
        for text in ["/plain/path?a=1&b=~", "/q?a=\"b\"", "/it's", "/back\\slash", "/tab\there", "/é", "/\u{7f}"] {
            let mut escaped = String::new();
            escape(text, &mut |piece| escaped.push_str(piece));
            assert_eq!(escaped, text.escape_debug().to_string(), "{text}");
        }
    }

    #[test]
    fn the_cached_time_follows_the_clock() {
        let exchange = exchange();
        let mut later = entry(&exchange);
        assert!(common(&later).contains("[18/Nov/2026:11:06:40 +0000]"));
        later.time += Duration::from_secs(86_401);
        assert!(common(&later).contains("[19/Nov/2026:11:06:41 +0000]"));
    }

    #[test]
    fn json_lines_are_one_object_each() {
        let exchange = exchange();
        let line = entry(&exchange).json();
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let value: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(value["status"], 200);
        assert_eq!(value["target"], "/hello?a=\"b\"");
        assert_eq!(value["route"], "/hello");
        assert_eq!(value["protocol"], "HTTP/1.1");
        assert_eq!(value["id"], 7);
    }
}
