//! What one load phase measured: counts, unexpected answers and a latency histogram.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies are recorded in microseconds, from 1 µs to 60 s, 3 significant digits.
const MAX_LATENCY_US: u64 = 60_000_000;

/// One connection's (or, merged, one phase's) tally.
pub struct Tally {
    /// Answered requests, expected or not.
    pub requests: u64,
    /// Unexpected answers and failures, by kind ("503", "io: connection reset").
    pub errors: BTreeMap<String, u64>,
    /// Latency of every answered request, µs.
    pub latency: Histogram<u64>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Self {
        Self {
            requests: 0,
            errors: BTreeMap::new(),
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("valid histogram bounds"),
        }
    }

    /// Records an answer with `status` after `latency`; counts it as an error unless it
    /// is `expect`.
    pub fn answer(&mut self, status: u16, expect: u16, latency: Duration) {
        self.requests += 1;
        let us = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        self.latency.saturating_record(us);
        if status != expect {
            self.error(format!("{status} (expected {expect})"));
        }
    }

    /// Records a failure that got no answer.
    pub fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }

    /// Adds `other` into this tally.
    pub fn merge(&mut self, other: &Tally) {
        self.requests += other.requests;
        for (kind, count) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += count;
        }
        self.latency
            .add(&other.latency)
            .expect("histograms of equal bounds add");
    }

    /// The phase's figures over `elapsed`.
    pub fn result(&self, name: &str, elapsed: Duration) -> PhaseResult {
        let ms = |q: f64| self.latency.value_at_quantile(q) as f64 / 1000.0;
        let secs = elapsed.as_secs_f64();
        PhaseResult {
            name: name.to_owned(),
            requests: self.requests,
            seconds: secs,
            rate: if secs > 0.0 {
                self.requests as f64 / secs
            } else {
                0.0
            },
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: self.latency.max() as f64 / 1000.0,
            errors: self.errors.values().sum(),
            error_kinds: self.errors.clone(),
        }
    }
}

/// The figures of one phase, as reported.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseResult {
    /// Phase name (noop, hot, queued, ...).
    pub name: String,
    /// Answered requests.
    pub requests: u64,
    /// Measured wall time.
    pub seconds: f64,
    /// Requests per second.
    pub rate: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
    /// 99.9th percentile latency.
    pub p999_ms: f64,
    /// Largest latency.
    pub max_ms: f64,
    /// Unexpected statuses plus failed requests.
    pub errors: u64,
    /// The errors by kind.
    pub error_kinds: BTreeMap<String, u64>,
}

impl PhaseResult {
    /// The same figures under another name.
    pub fn with_name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unexpected_statuses_are_errors_and_tallies_merge() {
        let mut a = Tally::new();
        a.answer(202, 202, Duration::from_micros(500));
        a.answer(503, 202, Duration::from_millis(2));
        let mut b = Tally::new();
        b.error("io: reset".into());
        b.answer(202, 202, Duration::from_micros(700));
        a.merge(&b);
        let result = a.result("x", Duration::from_secs(1));
        assert_eq!(result.requests, 3);
        assert_eq!(result.errors, 2);
        assert_eq!(result.error_kinds["503 (expected 202)"], 1);
        assert!((0.69..0.71).contains(&result.p50_ms), "{}", result.p50_ms);
        assert!((result.rate - 3.0).abs() < 1e-9);
    }
}
