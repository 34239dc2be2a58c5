//! What the service says about itself on `GET /metrics`: the few samples the scale
//! part needs (trackers awake, trackers started and put to sleep, runs in the store)
//! and those the evidence part needs (decisions, GitHub calls by endpoint, log bytes),
//! picked out of the Prometheus text, and waits until they say what a part waits for.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::child::get;

/// Trackers in memory.
pub const AWAKE: &str = "job_rerunner_trackers_awake";
/// Trackers started, a reactivation of a stored run included.
pub const STARTS: &str = "job_rerunner_tracker_starts_total";
/// Trackers that went to sleep (idle).
pub const SLEEPS: &str = "job_rerunner_tracker_sleeps_total";
/// Runs in the store (set at start, then every `SUMMARY_EVERY`).
pub const RUNS_TRACKED: &str = "job_rerunner_runs_tracked";

/// Time from reading a webhook to its answer, in the service.
pub const WEBHOOK_SECONDS: &str = "job_rerunner_webhook_duration_seconds";
/// One store transition, commit included.
pub const STORE_SECONDS: &str = "job_rerunner_store_commit_duration_seconds";

/// The failure policy's decisions, by `decision` and `reason`.
pub const DECISIONS: &str = "job_rerunner_decisions_total";
/// GitHub API calls by `endpoint` and `status`; log blob downloads count here too
/// (`job_log_download`).
pub const GITHUB_CALLS: &str = "job_rerunner_github_api_calls_total";
/// Evidence fetched for the failure policy, by `kind` and `result`.
pub const EVIDENCE_FETCHES: &str = "job_rerunner_evidence_fetches_total";
/// Bytes of job logs read.
pub const LOG_BYTES: &str = "job_rerunner_log_bytes_read_total";

/// Between two looks at `/metrics` while waiting for the trackers to sleep.
const POLL: Duration = Duration::from_millis(50);

/// The value of the sample named exactly `name` (no labels) in Prometheus text.
pub fn value(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            (fields.next()? == name).then_some(())?;
            fields.next()?.parse().ok()
        })
}

/// The samples of `name` summed by the value of their label `label`, over every other
/// label. Label values are taken to hold no comma, quote or brace: the service's labels
/// come from fixed sets of plain words.
pub fn sum_by(text: &str, name: &str, label: &str) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name).and_then(|r| r.strip_prefix('{')) else {
            continue;
        };
        let Some((labels, sample)) = rest.rsplit_once("} ") else {
            continue;
        };
        let value = labels.split(',').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key.trim() == label).then(|| value.trim().trim_matches('"'))
        });
        if let (Some(value), Ok(sample)) = (value, sample.trim().parse::<f64>()) {
            *sums.entry(value.to_owned()).or_default() += sample;
        }
    }
    sums
}

/// The text of `GET /metrics` of the service at `addr`.
fn read_text(addr: SocketAddr) -> io::Result<String> {
    match get(addr, "/metrics")? {
        (200, text) => Ok(text),
        (status, _) => Err(io::Error::other(format!("GET /metrics answered {status}"))),
    }
}

/// A histogram's cumulative buckets at one moment: upper bound in seconds and count,
/// from its `NAME_bucket{le="…"}` samples. Two readings tell how a phase's
/// observations spread: how much of a client-side latency the service itself spent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Buckets(Vec<(f64, u64)>);

impl Buckets {
    /// Picks the buckets of the histogram `name` out of `/metrics` text.
    pub fn parse(text: &str, name: &str) -> Self {
        let prefix = format!("{name}_bucket{{le=\"");
        let buckets = text
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix(&prefix)?;
                let (le, count) = rest.split_once("\"} ")?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((le, count.trim().parse::<f64>().ok()?.max(0.0) as u64))
            })
            .collect();
        Self(buckets)
    }

    /// Reads the histogram `name` of the service at `addr`.
    pub fn read(addr: SocketAddr, name: &str) -> io::Result<Self> {
        Ok(Self::parse(&read_text(addr)?, name))
    }

    /// Of the observations made since `earlier`, the share (percent) that took at most
    /// `le` seconds; `None` without such a bucket or without observations.
    pub fn percent_within(&self, earlier: &Self, le: f64) -> Option<f64> {
        let count_at = |buckets: &Self, bound: f64| {
            buckets
                .0
                .iter()
                .find(|(b, _)| {
                    (*b - bound).abs() < 1e-12 || (b.is_infinite() && bound.is_infinite())
                })
                .map(|(_, count)| *count)
        };
        let total =
            count_at(self, f64::INFINITY)?.checked_sub(count_at(earlier, f64::INFINITY)?)?;
        let within = count_at(self, le)?.checked_sub(count_at(earlier, le)?)?;
        (total > 0).then(|| within as f64 * 100.0 / total as f64)
    }
}

/// The tracker samples at one moment; each `None` when the service does not export it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// [`AWAKE`].
    pub awake: Option<u64>,
    /// [`STARTS`].
    pub starts: Option<u64>,
    /// [`SLEEPS`].
    pub sleeps: Option<u64>,
    /// [`RUNS_TRACKED`].
    pub runs_tracked: Option<u64>,
}

impl Snapshot {
    /// Picks the samples out of `/metrics` text.
    pub fn parse(text: &str) -> Self {
        // Counters and gauges are whole numbers here; Prometheus writes them as floats.
        let whole = |name| value(text, name).map(|v| v.max(0.0).round() as u64);
        Self {
            awake: whole(AWAKE),
            starts: whole(STARTS),
            sleeps: whole(SLEEPS),
            runs_tracked: whole(RUNS_TRACKED),
        }
    }

    /// Reads `/metrics` of the service at `addr`.
    pub fn read(addr: SocketAddr) -> io::Result<Self> {
        Ok(Self::parse(&read_text(addr)?))
    }

    /// Trackers started since `earlier`, when both snapshots have the counter.
    pub fn starts_since(&self, earlier: &Self) -> Option<u64> {
        Some(self.starts?.saturating_sub(earlier.starts?))
    }

    /// Trackers put to sleep since `earlier`, when both snapshots have the counter.
    pub fn sleeps_since(&self, earlier: &Self) -> Option<u64> {
        Some(self.sleeps?.saturating_sub(earlier.sleeps?))
    }
}

/// What the failure policy did and what it cost, as whole numbers: each counter summed
/// by the label the evidence part splits it by.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyWork {
    /// [`DECISIONS`] by `decision`.
    pub decisions: BTreeMap<String, u64>,
    /// [`GITHUB_CALLS`] by `endpoint`, every status.
    pub calls: BTreeMap<String, u64>,
    /// [`EVIDENCE_FETCHES`] by `result`.
    pub fetches: BTreeMap<String, u64>,
    /// [`LOG_BYTES`] (`None`: not exported).
    pub log_bytes: Option<u64>,
}

impl PolicyWork {
    /// Picks the samples out of `/metrics` text.
    pub fn parse(text: &str) -> Self {
        let whole = |sums: BTreeMap<String, f64>| {
            sums.into_iter()
                .map(|(label, v)| (label, v.max(0.0).round() as u64))
                .collect()
        };
        Self {
            decisions: whole(sum_by(text, DECISIONS, "decision")),
            calls: whole(sum_by(text, GITHUB_CALLS, "endpoint")),
            fetches: whole(sum_by(text, EVIDENCE_FETCHES, "result")),
            log_bytes: value(text, LOG_BYTES).map(|v| v.max(0.0).round() as u64),
        }
    }

    /// Decisions made: re-runs, skips and shadows. `needs_evidence` is left out: it is
    /// counted at the completion of a run whose decision waits for its evidence, and
    /// that run is counted again when it is decided.
    pub fn decided(&self) -> u64 {
        self.decisions
            .iter()
            .filter(|(decision, _)| decision.as_str() != "needs_evidence")
            .map(|(_, n)| n)
            .sum()
    }

    /// `decisions_total` of `decision`.
    pub fn decisions_of(&self, decision: &str) -> u64 {
        self.decisions.get(decision).copied().unwrap_or(0)
    }

    /// `github_api_calls_total` of `endpoint`.
    pub fn calls_of(&self, endpoint: &str) -> u64 {
        self.calls.get(endpoint).copied().unwrap_or(0)
    }
}

/// How a wait on the service's samples ended.
#[derive(Clone, Copy, Debug)]
pub struct Waited<T = Snapshot> {
    /// The last snapshot read.
    pub snapshot: T,
    /// Time from the start of the wait until the condition held (or the deadline).
    pub waited: Duration,
    /// The condition held before the deadline.
    pub held: bool,
}

/// Polls `/metrics` until `condition` holds for a snapshot or `deadline` has passed.
pub fn wait_until(
    addr: SocketAddr,
    deadline: Duration,
    condition: impl Fn(&Snapshot) -> bool,
) -> io::Result<Waited> {
    wait_for(addr, deadline, Snapshot::parse, condition)
}

/// Polls `/metrics`, read with `parse`, until `condition` holds or `deadline` has passed.
pub fn wait_for<T>(
    addr: SocketAddr,
    deadline: Duration,
    parse: impl Fn(&str) -> T,
    condition: impl Fn(&T) -> bool,
) -> io::Result<Waited<T>> {
    let started = Instant::now();
    loop {
        let snapshot = parse(&read_text(addr)?);
        let held = condition(&snapshot);
        if held || started.elapsed() >= deadline {
            return Ok(Waited {
                snapshot,
                waited: started.elapsed(),
                held,
            });
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until `trackers_awake` is 0. A service that does not export the gauge never
/// counts as asleep (the wait runs to its deadline).
pub fn wait_until_asleep(addr: SocketAddr, deadline: Duration) -> io::Result<Waited> {
    wait_until(addr, deadline, |s| s.awake == Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP job_rerunner_trackers_awake Run trackers in memory
# TYPE job_rerunner_trackers_awake gauge
job_rerunner_trackers_awake 17
# HELP job_rerunner_trackers_awake_total not the gauge
job_rerunner_trackers_awake_total 99
job_rerunner_tracker_starts_total 400012
job_rerunner_tracker_sleeps_total 399995
job_rerunner_webhooks_total{outcome=\"accepted\"} 5
job_rerunner_runs_tracked 1e6
";

    #[test]
    fn a_phase_share_within_a_bound_comes_from_two_readings_of_the_buckets() {
        let reading = |fast: u64, all: u64| {
            Buckets::parse(
                &format!(
                    "# TYPE x histogram\nx_bucket{{le=\"0.001\"}} {fast}\nx_bucket{{le=\"+Inf\"}} {all}\nx_sum 1\nx_count {all}\n"
                ),
                "x",
            )
        };
        let (before, after) = (reading(10, 10), reading(100, 110));
        assert_eq!(after.percent_within(&before, 0.001), Some(90.0));
        assert_eq!(after.percent_within(&before, f64::INFINITY), Some(100.0));
        assert_eq!(after.percent_within(&before, 0.002), None, "no such bucket");
        assert_eq!(
            before.percent_within(&before, 0.001),
            None,
            "nothing observed"
        );
    }

    #[test]
    fn a_sample_is_found_by_its_exact_name_and_comments_are_skipped() {
        assert_eq!(value(TEXT, AWAKE), Some(17.0));
        assert_eq!(value(TEXT, "job_rerunner_trackers"), None);
        assert_eq!(value(TEXT, "job_rerunner_webhooks_total"), None);
        assert_eq!(value("job_rerunner_trackers_awake NaN-ish\n", AWAKE), None);
    }

    #[test]
    fn a_snapshot_holds_the_tracker_samples_and_their_deltas() {
        let now = Snapshot::parse(TEXT);
        assert_eq!(
            now,
            Snapshot {
                awake: Some(17),
                starts: Some(400_012),
                sleeps: Some(399_995),
                runs_tracked: Some(1_000_000),
            }
        );
        let before = Snapshot {
            starts: Some(12),
            sleeps: Some(995),
            ..Snapshot::default()
        };
        assert_eq!(now.starts_since(&before), Some(400_000));
        assert_eq!(now.sleeps_since(&before), Some(399_000));
        assert_eq!(now.starts_since(&Snapshot::default()), None);
    }

    #[test]
    fn labelled_samples_are_summed_by_the_label_asked_for() {
        let text = "\
# TYPE job_rerunner_github_api_calls_total counter
job_rerunner_github_api_calls_total{endpoint=\"job_logs\",status=\"302\"} 40
job_rerunner_github_api_calls_total{endpoint=\"get_run\",status=\"200\"} 19
job_rerunner_github_api_calls_total{endpoint=\"job_logs\",status=\"404\"} 2
job_rerunner_github_api_calls_total_other{endpoint=\"job_logs\",status=\"200\"} 7
job_rerunner_decisions_total{decision=\"needs_evidence\",reason=\"\"} 41
job_rerunner_decisions_total{decision=\"rerun\",reason=\"\"} 19
job_rerunner_decisions_total{decision=\"skip\",reason=\"broken_log\"} 21
job_rerunner_decisions_total{decision=\"skip\",reason=\"no_transient_match\"} 1
job_rerunner_log_bytes_read_total 460000
";
        let work = PolicyWork::parse(text);
        assert_eq!(
            work.calls_of("job_logs"),
            42,
            "both statuses, not the other metric"
        );
        assert_eq!(work.calls_of("get_run"), 19);
        assert_eq!(work.calls_of("rerun_failed_jobs"), 0);
        assert_eq!(work.decisions_of("skip"), 22, "both reasons");
        assert_eq!(work.decided(), 41, "needs_evidence is no decision");
        assert_eq!(work.log_bytes, Some(460_000));
        assert!(work.fetches.is_empty());
        assert_eq!(PolicyWork::parse("").log_bytes, None);
    }

    #[test]
    fn a_service_without_the_samples_gives_an_empty_snapshot() {
        assert_eq!(
            Snapshot::parse("job_rerunner_trackers 3\n"),
            Snapshot::default()
        );
    }
}
