//! Failing claims, reported without a flood.
//!
//! When the store reads but cannot write (disk full, a read-only file or mount), every
//! poll still finds the due re-runs and every claim of one fails. Each tracker backs
//! off on its own (see `RunTracker`), but with many due runs a line per failed try
//! would still be a flood. So the trackers of a process share one [`ClaimTrouble`]:
//! one warning when claims start failing, then at most one summary a minute with the
//! number of tries, and one line when a claim succeeds again. The decision is the
//! plain [`Trouble`] with the time passed in, so it is tested without actors or clocks.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use slog::{Logger, info, warn};

/// How often, at most, a summary of failing claims is logged.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// What one failed or successful claim is to log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// Claims started failing (the first failure after a success, or ever).
    Started,
    /// Claims are still failing: `tries` since the last report.
    Summary {
        /// Failed tries since the previous line.
        tries: u64,
    },
    /// A claim succeeded after failures.
    Recovered {
        /// Failed tries in all, since claims started failing.
        tries: u64,
        /// How long claims were failing.
        failing_for: Duration,
    },
}

/// Whether claims are failing, and what was last reported.
#[derive(Debug, Default)]
pub struct Trouble {
    /// When claims started failing; `None` while they succeed.
    failing_since: Option<Instant>,
    /// When the last line was written.
    last_report: Option<Instant>,
    /// Failed tries since that line.
    tries_since_report: u64,
    /// Failed tries since claims started failing.
    tries_total: u64,
}

impl Trouble {
    /// One claim failed at `now`: the line to write, if any.
    pub fn failed(&mut self, now: Instant) -> Option<Report> {
        self.tries_total += 1;
        self.tries_since_report += 1;
        if self.failing_since.is_none() {
            self.failing_since = Some(now);
            self.last_report = Some(now);
            self.tries_since_report = 0;
            return Some(Report::Started);
        }
        let due = self
            .last_report
            .is_none_or(|last| now.saturating_duration_since(last) >= SUMMARY_EVERY);
        if !due {
            return None;
        }
        let tries = std::mem::take(&mut self.tries_since_report);
        self.last_report = Some(now);
        Some(Report::Summary { tries })
    }

    /// One claim succeeded at `now` (the store answered): the line to write, if any.
    pub fn succeeded(&mut self, now: Instant) -> Option<Report> {
        let since = self.failing_since.take()?;
        let report = Report::Recovered {
            tries: self.tries_total,
            failing_for: now.saturating_duration_since(since),
        };
        *self = Self::default();
        Some(report)
    }
}

/// The process's [`Trouble`], shared by its trackers, and where its lines go.
#[derive(Debug, Default)]
pub struct ClaimTrouble {
    trouble: Mutex<Trouble>,
}

impl ClaimTrouble {
    /// A claim failed with `error`: logs the first failure and the summaries.
    pub fn failed(&self, log: &Logger, error: &dyn std::fmt::Display) {
        let report = self.with(|trouble| trouble.failed(Instant::now()));
        match report {
            Some(Report::Started) => {
                warn!(log, "claiming due re-runs fails; each run tries again with backoff (up to a minute)";
                "error" => %error)
            }
            Some(Report::Summary { tries }) => {
                warn!(log, "claims failing"; "tries_in_the_last_minute" => tries, "error" => %error)
            }
            _ => {}
        }
    }

    /// A claim's transition committed: logs the recovery after failures.
    pub fn succeeded(&self, log: &Logger) {
        if let Some(Report::Recovered { tries, failing_for }) =
            self.with(|trouble| trouble.succeeded(Instant::now()))
        {
            info!(log, "claims succeed again"; "failed_tries" => tries,
                "failing_for_ms" => failing_for.as_millis() as u64);
        }
    }

    fn with<T>(&self, use_it: impl FnOnce(&mut Trouble) -> T) -> T {
        // A poisoned lock only means a tracker panicked while reporting: keep reporting.
        let mut trouble = self
            .trouble
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        use_it(&mut trouble)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_store_is_reported_once_then_summarised_once_a_minute() {
        let start = Instant::now();
        let mut trouble = Trouble::default();
        assert_eq!(trouble.failed(start), Some(Report::Started));
        let reports: Vec<_> = (1..=1_000u64)
            .filter_map(|i| trouble.failed(start + Duration::from_millis(i * 150)))
            .collect();
        // 150 s of tries every 150 ms: two summaries, each counting a minute's tries.
        assert_eq!(
            reports,
            vec![
                Report::Summary { tries: 400 },
                Report::Summary { tries: 400 }
            ]
        );
    }

    #[test]
    fn a_recovery_is_reported_once_with_the_tries_it_took() {
        let start = Instant::now();
        let mut trouble = Trouble::default();
        assert_eq!(trouble.succeeded(start), None, "nothing failed");
        trouble.failed(start);
        trouble.failed(start + Duration::from_secs(1));
        assert_eq!(
            trouble.succeeded(start + Duration::from_secs(3)),
            Some(Report::Recovered {
                tries: 2,
                failing_for: Duration::from_secs(3)
            })
        );
        assert_eq!(trouble.succeeded(start + Duration::from_secs(4)), None);
        assert_eq!(
            trouble.failed(start + Duration::from_secs(5)),
            Some(Report::Started),
            "a new outage is reported again"
        );
    }
}
