//! The JSON log line: `{"timestamp","level",<fields…>,"target"}`, one object per line.
//!
//! Written by hand rather than with tracing-subscriber's generic JSON formatter, which
//! serialises through serde with a map per event and cost more than the whole store read of a
//! request (see docs/benchmarks.md). Every request writes one line, so this is a hot path.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::net::IpAddr;

use session_api::layers::access_log::{Line, LineWriter};
use session_core::{Clock, SystemClock, Timestamp};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::log_writer::BatchedWriter;

/// The event formatter of `LOG_FORMAT=json`.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLines;

/// Appends `text` as a JSON string (quotes included).
fn push_json_string(line: &mut String, text: &str) {
    line.push('"');
    push_escaped(line, text);
    line.push('"');
}

/// Appends `text` escaped for the inside of a JSON string.
fn push_escaped(line: &mut String, text: &str) {
    // Runs of characters that need no escape (nearly every field) are copied whole.
    let mut clean_from = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 => "",
            _ => continue,
        };
        line.push_str(&text[clean_from..at]);
        if escape.is_empty() {
            let _ = write!(line, "\\u{:04x}", byte);
        } else {
            line.push_str(escape);
        }
        clean_from = at + 1;
    }
    line.push_str(&text[clean_from..]);
}

/// A `fmt::Write` that escapes what it is given into a line, so that `Debug` and `Display`
/// values (the message among them) are written in place rather than formatted into a
/// `String` of their own first.
struct Escaping<'a>(&'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        push_escaped(self.0, text);
        Ok(())
    }
}

struct Fields<'a> {
    line: &'a mut String,
}

impl Fields<'_> {
    fn key(&mut self, field: &Field) {
        self.line.push(',');
        push_json_string(self.line, field.name());
        self.line.push(':');
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        push_json_string(self.line, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.line, "{value}");
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.line, "{value}");
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            let _ = write!(self.line, "{value}");
        } else {
            self.line.push_str("null");
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.line.push_str(if value { "true" } else { "false" });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.key(field);
        push_json_string(self.line, &session_api::problem::chain(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        self.line.push('"');
        let _ = write!(Escaping(self.line), "{value:?}");
        self.line.push('"');
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut line = String::with_capacity(320);
        line.push_str("{\"timestamp\":\"");
        let _ = write!(line, "{}", SystemClock.now());
        line.push_str("\",\"level\":\"");
        line.push_str(metadata.level().as_str());
        line.push('"');
        event.record(&mut Fields { line: &mut line });
        line.push_str(",\"target\":");
        push_json_string(&mut line, metadata.target());
        line.push_str("}\n");
        writer.write_str(&line)
    }
}

/// Request lines in the same JSON as [`JsonLines`] gives their `tracing` event, written
/// straight to the log writer (see `session_api::layers::access_log`).
#[derive(Debug)]
pub struct RequestLines {
    out: BatchedWriter,
}

impl RequestLines {
    /// Request lines appended to `out`.
    pub fn new(out: BatchedWriter) -> Self {
        Self { out }
    }
}

thread_local! {
    /// Each worker thread formats its lines in one buffer, reused from line to line.
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(320));
}

impl LineWriter for RequestLines {
    fn write(&self, line: &Line<'_>) {
        let append = |buffer: &mut String| {
            buffer.clear();
            request_line(buffer, line, SystemClock.now());
            self.out.append(buffer.as_bytes());
        };
        LINE.with(|buffer| match buffer.try_borrow_mut() {
            Ok(mut buffer) => append(&mut buffer),
            // Only if writing a line ever logged a request line itself; never lose it.
            Err(_) => append(&mut String::new()),
        });
    }
}

/// Appends the JSON line of `line` logged at `timestamp`: the fields of the `tracing` event
/// of `session_api::layers::access_log`, in its order.
fn request_line(out: &mut String, line: &Line<'_>, at: Timestamp) {
    out.push_str("{\"timestamp\":\"");
    let _ = write!(out, "{at}");
    let (level, message) = match line.error {
        Some(_) => ("ERROR", "request failed"),
        None => ("INFO", "request"),
    };
    let _ = write!(
        out,
        "\",\"level\":\"{level}\",\"message\":\"{message}\",\"request_id\":"
    );
    push_json_string(out, line.request_id);
    out.push_str(",\"method\":");
    push_json_string(out, line.method);
    out.push_str(",\"route\":");
    push_json_string(out, line.route);
    let _ = write!(out, ",\"status\":{},\"latency_ms\":", line.status);
    push_millis(out, line.elapsed.as_micros());
    out.push_str(",\"session\":");
    push_json_string(out, line.session);
    out.push_str(",\"client\":\"");
    match line.client.map(|client| client.0) {
        Some(IpAddr::V4(address)) => {
            let [a, b, c, d] = address.octets();
            let _ = write!(out, "{a}.{b}.{c}.{d}");
        }
        Some(address) => {
            let _ = write!(out, "{address}");
        }
        None => {}
    }
    out.push_str("\",\"caller\":");
    push_json_string(out, line.caller);
    if let Some(error) = line.error {
        out.push_str(",\"error\":");
        push_json_string(out, error);
    }
    out.push_str(",\"target\":\"session_api::request\"}\n");
}

/// Appends `micros` as milliseconds, as the shortest decimal that reads back as the same
/// `f64` (what the `tracing` event's `latency_ms` prints): `1.5`, `0.042`, `12`.
fn push_millis(out: &mut String, micros: u128) {
    let (whole, mut fraction) = (micros / 1000, micros % 1000);
    let _ = write!(out, "{whole}");
    if fraction != 0 {
        let mut width = 3;
        while fraction % 10 == 0 {
            fraction /= 10;
            width -= 1;
        }
        let _ = write!(out, ".{fraction:0width$}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_json() {
        let mut line = String::new();
        push_json_string(&mut line, "a \"quote\", a \\ and\na\ttab \u{1}, é😀\r");
        let parsed: String = serde_json::from_str(&line).expect("valid JSON string");
        assert_eq!(parsed, "a \"quote\", a \\ and\na\ttab \u{1}, é😀\r");
    }

    #[test]
    fn debug_and_display_values_are_escaped_in_place() {
        let mut line = String::from("\"");
        let value = "say \"hi\"\n\\";
        let _ = write!(Escaping(&mut line), "{value:?} and {value}");
        line.push('"');
        let parsed: String = serde_json::from_str(&line).expect("valid JSON string");
        assert_eq!(parsed, format!("{value:?} and {value}"));
    }
}

#[cfg(test)]
mod request_line_tests {
    use std::io;
    use std::net::Ipv6Addr;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::http::{HeaderValue, Method, StatusCode};
    use axum::response::{IntoResponse, Response};
    use session_api::ClientAddr;
    use session_api::auth::Caller;
    use session_api::body::SessionTag;
    use session_api::layers::access_log::{self, Entry};
    use session_api::problem::ErrorReport;
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("capture").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// The line `access_log::write` logs as a `tracing` event through [`JsonLines`] (no line
    /// writer is installed in this test binary).
    fn through_tracing(entry: &Entry<'_>, response: &Response) -> String {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(capture.clone())
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, || access_log::write(entry, response));
        let bytes = capture.0.lock().expect("capture").clone();
        String::from_utf8(bytes).expect("utf-8")
    }

    /// The same line written directly, as [`RequestLines`] does.
    fn direct(entry: &Entry<'_>, response: &Response, at: Timestamp) -> String {
        let mut out = String::new();
        request_line(&mut out, &Line::of(entry, response), at);
        out
    }

    /// Replaces the timestamp's value, which differs between the two lines.
    fn without_timestamp(line: &str) -> String {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let stamp = value["timestamp"].as_str().expect("a timestamp").to_owned();
        line.replacen(&stamp, "T", 1)
    }

    /// A response with `status` carrying `extension`, as handlers and the envelope attach them.
    fn answered<T: Clone + Send + Sync + 'static>(status: StatusCode, extension: T) -> Response {
        let mut response = status.into_response();
        response.extensions_mut().insert(extension);
        response
    }

    #[test]
    fn a_direct_request_line_is_the_line_of_the_tracing_event() {
        let request_id = HeaderValue::from_static("req-\"7\"");
        let cases: Vec<(Response, Option<ClientAddr>, Caller, Duration)> = vec![
            (
                answered(StatusCode::OK, SessionTag("d174fd09d932297d".into())),
                Some(ClientAddr("10.1.200.7".parse().expect("ip"))),
                Caller::Client,
                Duration::from_micros(1_500),
            ),
            (
                answered(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorReport("store: \"timed out\"\nafter 2s".into()),
                ),
                Some(ClientAddr(Ipv6Addr::LOCALHOST.into())),
                Caller::Admin,
                Duration::from_micros(2_000_042),
            ),
            (
                // A cause on a 4xx stays out of the line, as in the event.
                answered(StatusCode::NOT_FOUND, ErrorReport("not logged".into())),
                None,
                Caller::Anonymous,
                Duration::ZERO,
            ),
        ];
        for (response, client, caller, elapsed) in &cases {
            let entry = Entry {
                request_id: &request_id,
                method: &Method::PATCH,
                route: "/sessions/{id}",
                client: *client,
                caller: *caller,
                elapsed: *elapsed,
            };
            let expected = through_tracing(&entry, response);
            let written = direct(&entry, response, SystemClock.now());
            assert_eq!(without_timestamp(&written), without_timestamp(&expected));
            assert!(written.ends_with("}\n"), "one whole line: {written}");
        }
    }

    #[test]
    fn latency_is_written_as_the_event_prints_it() {
        // Up to a year: far past any request's deadline, and well inside the range where an
        // `f64` holds every thousandth exactly enough to print it back.
        let samples =
            (0..3_000u128).chain([9_999, 10_000, 123_456, 86_400_000_001, 31_536_000_000_000]);
        for micros in samples {
            let mut out = String::new();
            push_millis(&mut out, micros);
            assert_eq!(out, format!("{}", micros as f64 / 1000.0), "{micros} µs");
        }
    }

    #[test]
    fn a_timestamp_outside_the_canonical_years_is_still_written() {
        let line = Line {
            request_id: "r",
            method: "GET",
            route: "/health",
            status: 200,
            elapsed: Duration::from_micros(42),
            session: "",
            client: None,
            caller: "anonymous",
            error: None,
        };
        let mut out = String::new();
        request_line(&mut out, &line, Timestamp::from_millis(-62_200_000_000_000));
        let value: serde_json::Value = serde_json::from_str(&out).expect("a JSON line");
        assert!(value["timestamp"].as_str().is_some_and(|t| !t.is_empty()));
        assert_eq!(value["latency_ms"], 0.042);
    }
}
