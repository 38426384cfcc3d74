//! The JSON log line: `{"timestamp","level",<fields…>,"target"}`, one object per line.
//!
//! Written by hand rather than with tracing-subscriber's generic JSON formatter, which
//! serialises through serde with a map per event and cost more than the whole store read of a
//! request (see docs/benchmarks.md). Every request writes one line, so this is a hot path.

use std::fmt::{self, Write as _};

use session_core::{Clock, SystemClock};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

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
