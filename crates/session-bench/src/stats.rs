//! Latency and throughput summaries.

use std::time::Duration;

use hdrhistogram::Histogram;

/// What one measured run produced.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Operations that succeeded.
    pub ok: u64,
    /// Operations that failed (transport error or unexpected status).
    pub errors: u64,
    /// How long the run measured.
    pub elapsed: Duration,
    /// Latencies of successful operations, in microseconds.
    pub latency: Histogram<u64>,
}

impl Stats {
    /// An empty summary.
    pub fn new() -> Self {
        Self {
            ok: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            latency: new_histogram(),
        }
    }

    /// Adds another task's figures (same run).
    pub fn merge(&mut self, other: &Stats) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.elapsed = self.elapsed.max(other.elapsed);
        // Both histograms have the same bounds; adding cannot fail for in-range values.
        let _ = self.latency.add(&other.latency);
    }

    /// Adds the figures of a later run of the same workload, as if the two were one run.
    pub fn extend(&mut self, later: &Stats) {
        self.ok += later.ok;
        self.errors += later.errors;
        self.elapsed += later.elapsed;
        // Both histograms have the same bounds; adding cannot fail for in-range values.
        let _ = self.latency.add(&later.latency);
    }

    /// Records one successful operation.
    pub fn record(&mut self, latency: Duration) {
        self.ok += 1;
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency.saturating_record(micros.max(1));
    }

    /// Successful operations per second.
    pub fn throughput(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.ok as f64 / seconds
        } else {
            0.0
        }
    }

    /// A latency quantile, in milliseconds.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant digits; these bounds are valid, so this cannot fail.
    Histogram::new_with_bounds(1, 60_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).expect("valid sigfig"))
}
