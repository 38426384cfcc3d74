//! The metrics of `/metrics`, for Lambda users: CloudWatch embedded metric format (EMF).
//!
//! A function instance lives for minutes and nobody scrapes it, so the figures that the server
//! exposes at `/metrics` are written to the function's log instead, after every invocation,
//! as EMF documents that CloudWatch turns into metrics (namespace [`NAMESPACE`], one dimension
//! per label: `route`/`method`/`status`, `backend`/`operation`/`kind`, …). `/metrics` still
//! answers on Lambda, with the figures of the one instance that happens to serve it.
//!
//! A recorder of our own rather than `metrics_cloudwatch_embedded`: that crate installs itself
//! as the process's only recorder, and the figures must also reach the Prometheus recorder
//! behind `/metrics`, through the fan-out `session_api::metrics::install` builds.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use serde_json::{Map, Value, json};

/// The CloudWatch namespace of the function's metrics.
pub const NAMESPACE: &str = "SessionApi";

/// The most values EMF takes for one metric in one document.
pub const MAX_VALUES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

type Buffer = Arc<Mutex<Vec<(Key, Kind, f64)>>>;

/// A metric's name → its kind and values.
type Figures = BTreeMap<String, (Kind, Vec<f64>)>;
/// A set of labels, as (name, value) pairs.
type Labels = Vec<(String, String)>;

/// A `metrics` recorder that keeps what one invocation records, for [`EmfRecorder::flush`].
#[derive(Debug, Clone, Default)]
pub struct EmfRecorder {
    buffer: Buffer,
}

struct Handle {
    key: Key,
    buffer: Buffer,
}

impl Handle {
    fn push(&self, kind: Kind, value: f64) {
        if let Ok(mut buffer) = self.buffer.lock() {
            buffer.push((self.key.clone(), kind, value));
        }
    }
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.push(Kind::Counter, value as f64);
    }

    fn absolute(&self, _value: u64) {}
}

impl GaugeFn for Handle {
    /// A gauge that is only incremented counts what may come in fractions (DynamoDB's
    /// capacity units): what one invocation adds is summed, like a counter's.
    fn increment(&self, value: f64) {
        self.push(Kind::Counter, value);
    }

    fn decrement(&self, _value: f64) {}

    fn set(&self, value: f64) {
        self.push(Kind::Gauge, value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, value: f64) {
        self.push(Kind::Histogram, value);
    }
}

impl Recorder for EmfRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(self.handle(key)))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(Arc::new(self.handle(key)))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(self.handle(key)))
    }
}

fn unit(name: &str, kind: Kind) -> &'static str {
    match kind {
        Kind::Histogram if name.ends_with("_seconds") => "Seconds",
        Kind::Counter => "Count",
        _ => "None",
    }
}

impl EmfRecorder {
    fn handle(&self, key: &Key) -> Handle {
        Handle {
            key: key.clone(),
            buffer: self.buffer.clone(),
        }
    }

    /// Writes what was recorded since the last flush and forgets it: one EMF document (one
    /// line) per set of labels, counters summed, latencies as the list of their values. EMF
    /// takes at most [`MAX_VALUES`] values per metric in a document, so a longer list is split
    /// over several documents with the same labels; CloudWatch counts every value once.
    pub fn flush(&self, out: &mut impl Write) -> io::Result<()> {
        let recorded = match self.buffer.lock() {
            Ok(mut buffer) => std::mem::take(&mut *buffer),
            Err(_) => return Ok(()),
        };
        let mut groups: BTreeMap<Labels, Figures> = BTreeMap::new();
        for (key, kind, value) in recorded {
            let labels = key
                .labels()
                .map(|label| (label.key().to_owned(), label.value().to_owned()))
                .collect();
            let entry = groups
                .entry(labels)
                .or_default()
                .entry(key.name().to_owned())
                .or_insert((kind, Vec::new()));
            match kind {
                Kind::Counter => {
                    let sum = entry.1.pop().unwrap_or(0.0) + value;
                    entry.1.push(sum);
                }
                Kind::Gauge => entry.1 = vec![value],
                Kind::Histogram => entry.1.push(value),
            }
        }
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        for (labels, metrics) in groups {
            for part in 0.. {
                let values: Vec<(&String, Kind, &[f64])> = metrics
                    .iter()
                    .filter_map(|(name, (kind, values))| {
                        let chunk = values.chunks(MAX_VALUES).nth(part)?;
                        Some((name, *kind, chunk))
                    })
                    .collect();
                if values.is_empty() {
                    break;
                }
                writeln!(out, "{}", document(timestamp, &labels, &values))?;
            }
        }
        Ok(())
    }
}

/// One EMF document: `values` of metrics that share `labels`.
fn document(timestamp: u64, labels: &Labels, values: &[(&String, Kind, &[f64])]) -> Value {
    let dimensions: Vec<&str> = labels.iter().map(|(key, _)| key.as_str()).collect();
    let definitions: Vec<Value> = values
        .iter()
        .map(|(name, kind, _)| json!({"Name": name, "Unit": unit(name, *kind)}))
        .collect();
    let mut document = Map::new();
    document.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": definitions,
            }]
        }),
    );
    for (key, value) in labels {
        document.insert(key.clone(), Value::from(value.as_str()));
    }
    for (name, _, values) in values {
        let value = match values {
            [one] => json!(one),
            many => json!(many),
        };
        document.insert((*name).clone(), value);
    }
    Value::Object(document)
}

#[cfg(test)]
mod tests {
    use metrics::{Level, Recorder};

    use super::*;

    #[test]
    fn one_document_per_label_set_with_counters_summed_and_latencies_listed() {
        let recorder = EmfRecorder::default();
        let metadata = Metadata::new("test", Level::INFO, None);
        let labels = [
            ("route", "/sessions"),
            ("method", "POST"),
            ("status", "201"),
        ];
        let key = |name: &'static str| {
            Key::from_parts(
                name,
                labels
                    .iter()
                    .map(|(k, v)| metrics::Label::new(*k, *v))
                    .collect::<Vec<_>>(),
            )
        };
        let requests = recorder.register_counter(&key("http_requests_total"), &metadata);
        let latency = recorder.register_histogram(&key("http_request_duration_seconds"), &metadata);
        let created =
            recorder.register_counter(&Key::from_name("sessions_created_total"), &metadata);
        requests.increment(1);
        requests.increment(1);
        latency.record(0.003);
        latency.record(0.005);
        created.increment(2);

        let mut out = Vec::new();
        recorder.flush(&mut out).expect("flush");
        let lines: Vec<Value> = String::from_utf8(out)
            .expect("utf-8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("json"))
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        let http = lines
            .iter()
            .find(|doc| doc.get("route").is_some())
            .expect("http document");
        assert_eq!(http["http_requests_total"], 2.0);
        assert_eq!(http["http_request_duration_seconds"], json!([0.003, 0.005]));
        assert_eq!(http["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            http["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["route", "method", "status"]])
        );
        let units: Vec<&str> = http["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .map(|m| m["Unit"].as_str().expect("unit"))
            .collect();
        assert_eq!(units, ["Seconds", "Count"]);
        let lifecycle = lines
            .iter()
            .find(|doc| doc.get("sessions_created_total").is_some())
            .expect("counter");
        assert_eq!(lifecycle["sessions_created_total"], 2.0);
        assert_eq!(
            lifecycle["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );

        let mut again = Vec::new();
        recorder.flush(&mut again).expect("flush");
        assert!(again.is_empty(), "a flush forgets what it wrote");
    }

    #[test]
    fn capacity_units_are_summed_per_invocation_with_their_labels_as_dimensions() {
        let recorder = EmfRecorder::default();
        let metadata = Metadata::new("test", Level::INFO, None);
        let key = Key::from_parts(
            "session_store_capacity_units_total",
            vec![
                metrics::Label::new("operation", "list_user"),
                metrics::Label::new("kind", "read"),
                metrics::Label::new("target", "index"),
            ],
        );
        let units = recorder.register_gauge(&key, &metadata);
        units.increment(0.5);
        units.increment(1.0);

        let mut out = Vec::new();
        recorder.flush(&mut out).expect("flush");
        let document: Value =
            serde_json::from_slice(out.trim_ascii_end()).expect("one JSON document");
        assert_eq!(document["session_store_capacity_units_total"], 1.5);
        assert_eq!(document["target"], "index");
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["operation", "kind", "target"]])
        );
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Count"
        );
    }

    #[test]
    fn a_metric_with_more_values_than_emf_takes_is_split_over_documents() {
        let recorder = EmfRecorder::default();
        let metadata = Metadata::new("test", Level::INFO, None);
        let key = Key::from_parts(
            "http_request_duration_seconds",
            vec![metrics::Label::new("route", "/health")],
        );
        let latency = recorder.register_histogram(&key, &metadata);
        let requests = recorder.register_counter(
            &Key::from_parts(
                "http_requests_total",
                vec![metrics::Label::new("route", "/health")],
            ),
            &metadata,
        );
        let recorded: Vec<f64> = (0..250).map(|n| f64::from(n) / 1000.0).collect();
        for value in &recorded {
            latency.record(*value);
            requests.increment(1);
        }

        let mut out = Vec::new();
        recorder.flush(&mut out).expect("flush");
        let documents: Vec<Value> = String::from_utf8(out)
            .expect("utf-8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("json"))
            .collect();
        assert_eq!(documents.len(), 3, "{documents:?}");
        let mut written = Vec::new();
        for document in &documents {
            assert_eq!(document["route"], "/health");
            let values = document["http_request_duration_seconds"]
                .as_array()
                .expect("a list of values");
            assert!(values.len() <= MAX_VALUES, "{} values", values.len());
            written.extend(values.iter().map(|v| v.as_f64().expect("a number")));
            let defined: Vec<&str> = document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .expect("metrics")
                .iter()
                .map(|m| m["Name"].as_str().expect("name"))
                .collect();
            let present = document.get("http_requests_total").is_some();
            assert_eq!(defined.contains(&"http_requests_total"), present);
        }
        assert_eq!(written, recorded, "every value is written once, in order");
        let counted: Vec<&Value> = documents
            .iter()
            .filter_map(|document| document.get("http_requests_total"))
            .collect();
        assert_eq!(counted, [&json!(250.0)], "the counter is written once");
    }
}
