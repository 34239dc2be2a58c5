//! Prometheus metrics, served at `GET /metrics` in the text exposition format.
//!
//! One [`Metrics`] per service instance, passed to whoever records (no global
//! registry, so several instances in one test process keep their counts apart).
//! The process's own figures (`process_resident_memory_bytes`, CPU, open fds) come from
//! prometheus' process collector, under their usual unprefixed names so that ready-made
//! dashboards and alerts find them.

use std::time::Duration;

use prometheus::process_collector::ProcessCollector;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::run::RunChange;

/// Latency buckets from 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Every metric the service exports.
pub struct Metrics {
    registry: Registry,
    /// The process collector's registry: without the `job_rerunner_` prefix.
    process: Registry,
    /// Deliveries by event, action and the status answered.
    pub webhooks: IntCounterVec,
    /// Deliveries refused for a missing or wrong signature.
    pub signature_failures: IntCounter,
    /// Time from reading the request to the answer.
    pub webhook_seconds: Histogram,
    /// Run trackers awake (in memory) in this process.
    pub trackers_awake: IntGauge,
    /// The same, under its name from before trackers slept (kept for dashboards).
    pub trackers: IntGauge,
    /// Runs the store holds (awake or asleep), counted by the mailbox summary.
    pub runs_tracked: IntGauge,
    /// Trackers started: a run's first event here, or its first after sleeping.
    pub tracker_starts: IntCounter,
    /// Trackers that went to sleep (quiet for `TRACKER_IDLE` with nothing due soon).
    pub tracker_sleeps: IntCounter,
    /// Messages sent to trackers and not handled yet.
    pub tracker_messages_waiting: IntGauge,
    /// Re-runs waiting in the GitHub actor's queue (the one under way included).
    pub github_queue: IntGauge,
    /// Credentials whose pacing the GitHub actor keeps (in use, or not idle yet).
    pub github_lanes: IntGauge,
    /// Answered re-runs by outcome.
    pub reruns: IntCounterVec,
    /// GitHub API calls by endpoint and status (`error` when no answer came).
    pub github_calls: IntCounterVec,
    /// GitHub API call latency by endpoint.
    pub github_seconds: HistogramVec,
    /// The last `x-ratelimit-remaining` GitHub sent.
    pub github_ratelimit_remaining: IntGauge,
    /// Time a store transition took, commit included.
    pub store_seconds: Histogram,
    /// Store transactions by the change they carried (`store_changes`: one counter
    /// per kind, resolved once, so that counting costs the webhook path one add).
    store_changes: Vec<(&'static str, IntCounter)>,
    /// Requests the GitHub actor took from its queue, by kind: the turns a run's
    /// re-run waits for at the back of the queue.
    pub github_turns: IntCounterVec,
    /// Stored rows the store could not read (skipped, or a run's state quarantined), by table.
    pub store_rows_unreadable: IntCounterVec,
    /// Request values cut before they reached a log line, a label or the store, by
    /// header (or `path`).
    pub truncated_headers: IntCounterVec,
    /// Status page and `/api/…` requests refused for their credentials, by answer
    /// (`401` wrong credentials, `429` the client's failure limit was reached).
    pub status_auth_failures: IntCounterVec,
    /// Evidence fetched for the failure policy, by kind (`annotations`, `log`) and
    /// result (`ok`, `capped`: the log's read cap was reached, `unavailable`).
    pub evidence_fetches: IntCounterVec,
    /// Bytes of job logs read (kept or not), retries included.
    pub log_bytes_read: IntCounter,
    /// The failure policy's decisions by decision (`rerun`, `skip`, `shadow`,
    /// `needs_evidence`) and reason (the policy's fixed set, empty for a re-run).
    pub decisions: IntCounterVec,
    /// Decided re-runs not answered yet, in the whole store, by `state` (`scheduled`,
    /// `in_flight`); set by the mailbox summary every `SUMMARY_EVERY`.
    pub reruns_pending: IntGaugeVec,
    /// How long the oldest overdue re-run has been due (a scheduled one not claimed, or
    /// a claim that ran out), 0 when none is; set with `reruns_pending`.
    pub oldest_overdue_rerun_seconds: Gauge,
    /// Storms going on now (`storm.rs`): one transient failure in many repositories.
    pub storms: IntGauge,
    /// Re-runs held by storms and not released yet.
    pub reruns_held: IntGauge,
    /// Redeliveries GitHub was asked for (and accepted) by the redelivery sweep.
    pub redeliveries_requested: IntCounter,
    /// Redelivery sweeps (timer ticks) by `outcome`: the labels of `recovery::sweep`.
    pub redelivery_sweeps: IntCounterVec,
    /// Always 1, labelled with this build's `version`.
    pub build_info: IntGaugeVec,
    /// The `webhooks` counters of tracked `workflow_job` deliveries, resolved once: they
    /// are counted on every request, and a label lookup hashes three strings under a lock.
    tracked_webhooks: Vec<(&'static str, u16, IntCounter)>,
}

/// The `state` labels of `reruns_pending`.
const PENDING_STATES: [&str; 2] = ["scheduled", "in_flight"];

/// The actions and statuses a tracked `workflow_job` delivery is answered with.
const TRACKED_ACTIONS: [&str; 2] = ["unfinished", "completed"];
const TRACKED_STATUSES: [u16; 4] = [200, 201, 202, 404];

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("job_rerunner".into()), None).expect("a valid prefix");
        let mut metrics = Self {
            webhooks: IntCounterVec::new(
                Opts::new(
                    "webhooks_total",
                    "Webhook deliveries by event, action and answered status",
                ),
                &["event", "action", "status"],
            )
            .expect("valid metric"),
            signature_failures: IntCounter::new(
                "signature_failures_total",
                "Deliveries refused for a missing or wrong X-Hub-Signature-256",
            )
            .expect("valid metric"),
            webhook_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "webhook_duration_seconds",
                    "Time to answer a webhook delivery",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
            )
            .expect("valid metric"),
            trackers_awake: IntGauge::new(
                "trackers_awake",
                "Run trackers awake (in memory) in this process",
            )
            .expect("valid metric"),
            trackers: IntGauge::new(
                "trackers",
                "Run trackers awake in this process (deprecated: trackers_awake)",
            )
            .expect("valid metric"),
            runs_tracked: IntGauge::new(
                "runs_tracked",
                "Runs held in the store, awake or asleep (counted by the mailbox summary)",
            )
            .expect("valid metric"),
            tracker_starts: IntCounter::new(
                "tracker_starts_total",
                "Run trackers started (a run's first event here, or its first after sleeping)",
            )
            .expect("valid metric"),
            tracker_sleeps: IntCounter::new(
                "tracker_sleeps_total",
                "Run trackers that went to sleep (quiet for TRACKER_IDLE, nothing due soon)",
            )
            .expect("valid metric"),
            tracker_messages_waiting: IntGauge::new(
                "tracker_messages_waiting",
                "Messages sent to run trackers and not handled yet",
            )
            .expect("valid metric"),
            github_queue: IntGauge::new("github_queue_depth", "Re-runs queued in the GitHub actor")
                .expect("valid metric"),
            github_lanes: IntGauge::new(
                "github_lanes",
                "Credentials whose pacing the GitHub actor keeps (in use, or not idle yet)",
            )
            .expect("valid metric"),
            reruns: IntCounterVec::new(
                Opts::new("reruns_total", "Answered re-runs by outcome"),
                &["outcome"],
            )
            .expect("valid metric"),
            github_calls: IntCounterVec::new(
                Opts::new(
                    "github_api_calls_total",
                    "GitHub API calls by endpoint and status",
                ),
                &["endpoint", "status"],
            )
            .expect("valid metric"),
            github_seconds: HistogramVec::new(
                HistogramOpts::new("github_api_duration_seconds", "GitHub API call latency")
                    .buckets(LATENCY_BUCKETS.to_vec()),
                &["endpoint"],
            )
            .expect("valid metric"),
            github_ratelimit_remaining: IntGauge::new(
                "github_ratelimit_remaining",
                "The last x-ratelimit-remaining GitHub sent (-1 before any call)",
            )
            .expect("valid metric"),
            store_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "store_commit_duration_seconds",
                    "Time a store transition took, commit included",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
            )
            .expect("valid metric"),
            store_changes: Vec::new(),
            github_turns: IntCounterVec::new(
                Opts::new(
                    "github_turns_total",
                    "Requests the GitHub actor took from its queue, by kind",
                ),
                &["request"],
            )
            .expect("valid metric"),
            store_rows_unreadable: IntCounterVec::new(
                Opts::new(
                    "store_rows_unreadable_total",
                    "Stored rows that could not be read: skipped, or a run's state quarantined",
                ),
                &["table"],
            )
            .expect("valid metric"),
            truncated_headers: IntCounterVec::new(
                Opts::new(
                    "truncated_header_values_total",
                    "Request values cut to a short printable prefix before logging, by header (or path)",
                ),
                &["header"],
            )
            .expect("valid metric"),
            status_auth_failures: IntCounterVec::new(
                Opts::new(
                    "status_auth_failures_total",
                    "Status page requests refused for their credentials, by answer (401, 429)",
                ),
                &["answer"],
            )
            .expect("valid metric"),
            evidence_fetches: IntCounterVec::new(
                Opts::new(
                    "evidence_fetches_total",
                    "Job annotations and log tails fetched for the failure policy, by kind and result",
                ),
                &["kind", "result"],
            )
            .expect("valid metric"),
            log_bytes_read: IntCounter::new(
                "log_bytes_read_total",
                "Bytes of job logs read for the failure policy (kept or not)",
)
            .expect("valid metric"),
            decisions: IntCounterVec::new(
                Opts::new(
                    "decisions_total",
                    "Re-run decisions of the failure policy, by decision and reason",
                ),
                &["decision", "reason"],
)
            .expect("valid metric"),
            reruns_pending: IntGaugeVec::new(
                Opts::new(
                    "reruns_pending",
                    "Decided re-runs not answered yet (whole store), by state",
                ),
                &["state"],
            )
            .expect("valid metric"),
            oldest_overdue_rerun_seconds: Gauge::new(
                "oldest_overdue_rerun_seconds",
                "Seconds the oldest overdue re-run has been due (0: none overdue)",
            )
            .expect("valid metric"),
            storms: IntGauge::new(
                "storms",
                "Storms going on now: one transient failure in STORM_REPOS repositories or more",
            )
            .expect("valid metric"),
            reruns_held: IntGauge::new(
                "reruns_held",
                "Re-runs held by storms, not released yet",
            )
            .expect("valid metric"),
            redeliveries_requested: IntCounter::new(
                "redeliveries_requested_total",
                "Missed deliveries GitHub was asked to redeliver (and accepted)",
            )
            .expect("valid metric"),
            redelivery_sweeps: IntCounterVec::new(
                Opts::new("redelivery_sweeps_total", "Redelivery sweeps by outcome"),
                &["outcome"],
            )
            .expect("valid metric"),
            build_info: IntGaugeVec::new(
                Opts::new("build_info", "Always 1; the version of the running build"),
                &["version"],
            )
            .expect("valid metric"),
            registry,
            process: Registry::new(),
            tracked_webhooks: Vec::new(),
        };
        metrics.tracked_webhooks = TRACKED_ACTIONS
            .iter()
            .flat_map(|action| {
                TRACKED_STATUSES
                    .iter()
                    .map(move |status| (*action, *status))
            })
            .map(|(action, status)| {
                let counter = metrics.webhooks.with_label_values(&[
                    "workflow_job",
                    action,
                    &status.to_string(),
                ]);
                (action, status, counter)
            })
            .collect();
        metrics.github_ratelimit_remaining.set(-1);
        for table in ["runs", "reruns", "flaky_jobs"] {
            metrics.store_rows_unreadable.with_label_values(&[table]);
        }
        metrics
            .build_info
            .with_label_values(&[crate::VERSION])
            .set(1);
        for state in PENDING_STATES {
            metrics.reruns_pending.with_label_values(&[state]).set(0);
        }
        let store_changes = IntCounterVec::new(
            Opts::new(
                "store_changes_total",
                "Store transactions by the change they carried",
            ),
            &["change"],
        )
        .expect("valid metric");
        metrics.store_changes = RunChange::KINDS
            .iter()
            .map(|&change| (change, store_changes.with_label_values(&[change])))
            .collect();
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(metrics.webhooks.clone()),
            Box::new(metrics.signature_failures.clone()),
            Box::new(metrics.webhook_seconds.clone()),
            Box::new(metrics.trackers_awake.clone()),
            Box::new(metrics.trackers.clone()),
            Box::new(metrics.runs_tracked.clone()),
            Box::new(metrics.tracker_starts.clone()),
            Box::new(metrics.tracker_sleeps.clone()),
            Box::new(metrics.tracker_messages_waiting.clone()),
            Box::new(metrics.github_queue.clone()),
            Box::new(metrics.github_lanes.clone()),
            Box::new(metrics.reruns.clone()),
            Box::new(metrics.github_calls.clone()),
            Box::new(metrics.github_seconds.clone()),
            Box::new(metrics.github_ratelimit_remaining.clone()),
            Box::new(metrics.store_seconds.clone()),
            Box::new(store_changes.clone()),
            Box::new(metrics.github_turns.clone()),
            Box::new(metrics.store_rows_unreadable.clone()),
            Box::new(metrics.truncated_headers.clone()),
            Box::new(metrics.status_auth_failures.clone()),
            Box::new(metrics.evidence_fetches.clone()),
            Box::new(metrics.log_bytes_read.clone()),
            Box::new(metrics.decisions.clone()),
            Box::new(metrics.reruns_pending.clone()),
            Box::new(metrics.oldest_overdue_rerun_seconds.clone()),
            Box::new(metrics.storms.clone()),
            Box::new(metrics.reruns_held.clone()),
            Box::new(metrics.redeliveries_requested.clone()),
            Box::new(metrics.redelivery_sweeps.clone()),
            Box::new(metrics.build_info.clone()),
        ];
        for collector in collectors {
            metrics
                .registry
                .register(collector)
                .expect("each metric is registered once");
        }
        metrics
            .process
            .register(Box::new(ProcessCollector::for_self()))
            .expect("registered once");
        metrics
    }

    /// Counts one delivery by event, action and answered status.
    pub fn count_webhook(&self, event: &str, action: &str, status: u16) {
        if event == "workflow_job"
            && let Some((_, _, counter)) = self
                .tracked_webhooks
                .iter()
                .find(|(known, code, _)| *known == action && *code == status)
        {
            return counter.inc();
        }
        self.webhooks
            .with_label_values(&[event, action, &status.to_string()])
            .inc();
    }

    /// Records one GitHub API call.
    pub fn github_call(&self, endpoint: &str, status: Option<u16>, took: Duration) {
        let status = status.map_or_else(|| "error".to_owned(), |status| status.to_string());
        self.github_calls
            .with_label_values(&[endpoint, &status])
            .inc();
        self.github_seconds
            .with_label_values(&[endpoint])
            .observe(took.as_secs_f64());
    }

    /// Counts one store transaction carrying a change of this kind (one of
    /// `RunChange::KINDS`; another is not counted).
    pub fn count_store_change(&self, change: &str) {
        if let Some((_, counter)) = self.store_changes.iter().find(|(kind, _)| *kind == change) {
            counter.inc();
        }
    }

    /// Counts one request the GitHub actor took from its queue.
    pub fn count_github_turn(&self, request: &'static str) {
        self.github_turns.with_label_values(&[request]).inc();
    }

    /// Counts one decision of the failure policy (labels from fixed sets only).
    pub fn count_decision(&self, decision: &'static str, reason: &'static str) {
        self.decisions.with_label_values(&[decision, reason]).inc();
    }

    /// Sets the pending re-run gauges from what the store holds.
    pub fn set_pending_reruns(&self, scheduled: u64, in_flight: u64, oldest_overdue: Duration) {
        let [scheduled_label, in_flight_label] = PENDING_STATES;
        for (state, count) in [(scheduled_label, scheduled), (in_flight_label, in_flight)] {
            self.reruns_pending
                .with_label_values(&[state])
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        self.oldest_overdue_rerun_seconds
            .set(oldest_overdue.as_secs_f64());
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let mut families = self.registry.gather();
        families.extend(self.process.gather());
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&families, &mut buffer);
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
