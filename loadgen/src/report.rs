//! The final summary: a plain-text table for people, or JSON for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::stats::PhaseResult;

/// How the benchmark was run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Config {
    /// Cores the machine has.
    pub cores: usize,
    /// Keep-alive connections.
    pub connections: usize,
    /// Client runtime: "current-thread" or "multi-thread (N)".
    pub client_runtime: String,
    /// Server workers.
    pub server_workers: String,
    /// Measured seconds per phase.
    pub phase_seconds: f64,
    /// Body size of a hot request, bytes.
    pub body_bytes: usize,
}

/// One ratio between two phases' rates.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    /// "hot / noop".
    pub name: String,
    /// In percent.
    pub percent: f64,
}

/// The lifecycle (and evidence) phase's check of the re-runs GitHub received.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RerunCheck {
    /// Runs whose every event was sent.
    pub finished_runs: usize,
    /// Of those, runs due one re-run POST: those with a failed job (in the evidence
    /// part, those whose failed job's log shows a transient failure).
    pub failed_runs: usize,
    /// Re-run POSTs the fake GitHub received in all.
    pub posts: u64,
    /// Failed runs without a POST when the wait ended.
    pub missing: usize,
    /// Failed runs with more than one POST.
    pub duplicated: usize,
    /// POSTs for runs that did not fail.
    pub stray: usize,
    /// Time from the last answer until the POSTs matched (or the deadline).
    pub waited_ms: f64,
    /// Exactly one POST per failed run, none for the others.
    pub pass: bool,
}

impl RerunCheck {
    /// `N re-run POSTs, N missing, N duplicated, N stray`.
    fn posts_line(&self) -> String {
        format!(
            "{} re-run POSTs, {} missing, {} duplicated, {} stray",
            self.posts, self.missing, self.duplicated, self.stray
        )
    }
}

/// The evidence part's figures: what the recommended failure policy's decisions cost
/// in GitHub calls and log bytes, from the service's `/metrics` once every failed run
/// was decided.
#[derive(Clone, Debug, Default, Serialize)]
pub struct EvidenceCost {
    /// Runs whose every event was sent.
    pub runs: usize,
    /// Of those, runs with a failed job.
    pub failed_runs: usize,
    /// Of those, runs whose failed job's log shows a transient failure (the others'
    /// show a broken one).
    pub transient_runs: usize,
    /// Decisions made (re-run, skip, shadow): the divisor of the figures per run.
    pub decided_runs: u64,
    /// `decisions_total` by decision (`needs_evidence`: counted when a failed run
    /// completes and its decision waits for its evidence; the run counts again when
    /// decided).
    pub decisions: BTreeMap<String, u64>,
    /// `github_api_calls_total` by endpoint, every status.
    pub calls: BTreeMap<String, u64>,
    /// `evidence_fetches_total` by result (`ok`, `capped`, `unavailable`).
    pub fetches: BTreeMap<String, u64>,
    /// `log_bytes_read_total`.
    pub log_bytes: u64,
    /// The same figures per decided run; `None` when nothing was decided.
    pub per_decided_run: Option<PerDecidedRun>,
    /// Time from the last answer until every failed run was decided (or the deadline).
    pub waited_ms: f64,
    /// The re-run POSTs the fake GitHub received: one per transient failure.
    pub rerun_check: RerunCheck,
    /// Every failed run decided, re-runs for the transient ones, skips for the broken
    /// ones, and the POSTs right.
    pub pass: bool,
}

/// API endpoints (`github_api_calls_total` labels) that fetch a failed job's evidence.
pub const EVIDENCE_ENDPOINTS: [&str; 2] = ["job_annotations", "job_logs"];
/// The log blob's download: counted with the API calls, though the blob store is
/// another host and no part of the API's rate limit.
pub const DOWNLOAD_ENDPOINT: &str = "job_log_download";
/// Endpoints of the re-run itself: the run read again, then the POST.
pub const RERUN_ENDPOINTS: [&str; 2] = ["get_run", "rerun_failed_jobs"];

/// [`EvidenceCost`]'s figures divided by the decided runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PerDecidedRun {
    /// Every call counted in `github_api_calls_total`, blob downloads included.
    pub calls: f64,
    /// Annotations and log locations ([`EVIDENCE_ENDPOINTS`]): the evidence's share of
    /// the API's rate limit.
    pub evidence_calls: f64,
    /// Log blob downloads ([`DOWNLOAD_ENDPOINT`]).
    pub log_downloads: f64,
    /// Reading the run and posting its re-run ([`RERUN_ENDPOINTS`]).
    pub rerun_calls: f64,
    /// Every endpoint's calls.
    pub by_endpoint: BTreeMap<String, f64>,
    /// Bytes of logs read.
    pub log_bytes: f64,
}

impl PerDecidedRun {
    /// `calls` (by endpoint) and `log_bytes` over `decided` runs; `None` for none.
    pub fn new(calls: &BTreeMap<String, u64>, log_bytes: u64, decided: u64) -> Option<Self> {
        let per = |n: u64| n as f64 / decided as f64;
        let of = |endpoints: &[&str]| {
            per(endpoints
                .iter()
                .map(|e| calls.get(*e).copied().unwrap_or(0))
                .sum())
        };
        (decided > 0).then(|| Self {
            calls: per(calls.values().sum()),
            evidence_calls: of(&EVIDENCE_ENDPOINTS),
            log_downloads: of(&[DOWNLOAD_ENDPOINT]),
            rerun_calls: of(&RERUN_ENDPOINTS),
            by_endpoint: calls.iter().map(|(e, n)| (e.clone(), per(*n))).collect(),
            log_bytes: per(log_bytes),
        })
    }
}

/// Memory, reactivation and start-up figures of the service with many live runs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Scale {
    /// Live runs created.
    pub live_runs: u64,
    /// Jobs of each.
    pub live_jobs: u64,
    /// RSS right after start, idle (of the first service this part started).
    pub rss_idle_mib: f64,
    /// The service whose trackers stay awake; `None` when `--awake-max-runs` skipped it.
    pub awake: Option<Awake>,
    /// The service whose trackers sleep.
    pub asleep: Asleep,
    /// Events for sleeping runs, on the asleep service.
    pub reactivation: Reactivations,
    /// The SQLite file holding the runs; `None` on PostgreSQL.
    pub store: Option<StoreSize>,
    /// Time to stop on SIGTERM with every tracker awake (the awake service).
    pub stop_ms: Option<f64>,
    /// Time from spawning the service on the file holding the runs until `GET /` is 200.
    pub startup_ms: f64,
    /// The same on an empty file, for comparison.
    pub startup_empty_ms: f64,
    /// RSS of the restarted service, idle.
    pub rss_restarted_mib: f64,
    /// `runs_tracked` of the restarted service (set at start): the runs in the store.
    pub runs_tracked_after_restart: Option<u64>,
}

/// Memory with every tracker in memory.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Awake {
    /// `TRACKER_IDLE` of that service: longer than the part, so no tracker sleeps.
    pub tracker_idle_s: f64,
    /// RSS with the live runs.
    pub rss_mib: f64,
    /// Extra RSS per live run, over the service's idle RSS.
    pub bytes_per_run: f64,
}

/// Memory once every tracker slept.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Asleep {
    /// `TRACKER_IDLE` of that service.
    pub tracker_idle_s: f64,
    /// Its RSS right after start, idle.
    pub rss_idle_mib: f64,
    /// Its RSS the moment `trackers_awake` was 0 after the fill.
    pub rss_at_zero_mib: f64,
    /// Time from then until RSS stopped falling (given back by the service).
    pub settled_ms: f64,
    /// Its RSS once settled: the asleep figure.
    pub rss_mib: f64,
    /// Of that, anonymous memory (heap, SQLite's page cache, stacks).
    pub rss_anon_mib: f64,
    /// Of that, file-backed pages (binary, libraries, mmap'ed files).
    pub rss_file_mib: f64,
    /// Of that, shared memory (SQLite's `-shm`).
    pub rss_shmem_mib: f64,
    /// Extra RSS per live run, over the service's idle RSS.
    pub bytes_per_run: f64,
    /// Time from the end of the fill until `trackers_awake` was 0 (or the deadline).
    pub waited_ms: f64,
    /// `trackers_awake` when the RSS was read (0 unless the wait hit its deadline).
    pub trackers_awake: Option<u64>,
    /// RSS once every tracker slept again after the reactivations.
    pub rss_after_reactivation_mib: Option<f64>,
}

/// The reactivation phases' check: how many requests really started a tracker.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Reactivations {
    /// At full speed.
    pub full: Share,
    /// Paced at half of the full-speed rate.
    pub paced: Share,
    /// The paced phase seen from the service: per bound, the share answered within it.
    pub paced_in_service: Vec<WithinBound>,
}

/// Of a phase's requests, the share (percent) within `le_ms`: answered by the service
/// (`webhook_duration_seconds`, from reading the request to the answer) and spent in
/// the store (`store_commit_duration_seconds`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct WithinBound {
    pub le_ms: f64,
    pub webhook_percent: Option<f64>,
    pub store_percent: Option<f64>,
}

/// Trackers started during a phase against the requests it sent.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Share {
    /// Requests answered in the phase.
    pub requests: u64,
    /// Delta of `tracker_starts_total` over the phase (`None`: not exported).
    pub starts: Option<u64>,
    /// Delta of `tracker_sleeps_total` over the phase (`None`: not exported).
    pub sleeps: Option<u64>,
    /// `starts / requests`, in percent.
    pub percent: Option<f64>,
}

impl Share {
    /// `starts` trackers started (and `sleeps` slept) during `requests` requests.
    pub fn new(requests: u64, starts: Option<u64>, sleeps: Option<u64>) -> Self {
        Self {
            requests,
            starts,
            sleeps,
            percent: starts
                .filter(|_| requests > 0)
                .map(|s| 100.0 * s as f64 / requests as f64),
        }
    }
}

/// Size on disk of the SQLite database holding the live runs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StoreSize {
    /// The main file.
    pub db_bytes: u64,
    /// Its write-ahead log.
    pub wal_bytes: u64,
    /// Both, per live run.
    pub bytes_per_run: f64,
    /// The main file alone, per live run (the WAL is emptied by checkpoints).
    pub db_bytes_per_run: f64,
}

/// A figure against its target in the issue.
#[derive(Clone, Debug, Serialize)]
pub struct Target {
    /// "RSS asleep, 100000 runs".
    pub name: String,
    /// The figure.
    pub value: f64,
    /// Its unit ("MB", "ms").
    pub unit: String,
    /// The most it may be.
    pub limit: f64,
    /// `value <= limit`.
    pub met: bool,
}

impl Target {
    fn at_most(name: String, value: f64, unit: &str, limit: f64) -> Self {
        Self {
            name,
            value,
            unit: unit.to_owned(),
            limit,
            met: value <= limit,
        }
    }
}

/// Issue 13's RSS target for `runs` sleeping runs, MB (10^6 bytes): 40 MB for 100,000,
/// 60 MB for 1,000,000 (each a bound for fewer runs too); none above.
pub fn asleep_limit_mb(runs: u64) -> Option<f64> {
    match runs {
        0..=100_000 => Some(40.0),
        100_001..=1_000_000 => Some(60.0),
        _ => None,
    }
}

/// Issue 13's p99 target for a reactivation at half load, ms.
pub const REACTIVATION_P99_MS: f64 = 2.0;
/// Issue 13's start-up target with 1,000,000 stored runs (a bound for fewer too), ms.
pub const STARTUP_MS: f64 = 2000.0;

impl Scale {
    /// The figures issue 13 sets targets for; `paced_p99_ms` is the reactivation @ 50%
    /// phase's p99.
    pub fn targets(&self, paced_p99_ms: Option<f64>) -> Vec<Target> {
        let n = self.live_runs;
        let mut targets = Vec::new();
        if let Some(limit) = asleep_limit_mb(n) {
            let mb = self.asleep.rss_mib * MIB / 1e6;
            targets.push(Target::at_most(
                format!("RSS asleep, {n} runs"),
                mb,
                "MB",
                limit,
            ));
        }
        if let Some(p99) = paced_p99_ms {
            targets.push(Target::at_most(
                "reactivation p99 at half load".to_owned(),
                p99,
                "ms",
                REACTIVATION_P99_MS,
            ));
        }
        if n <= 1_000_000 {
            targets.push(Target::at_most(
                format!("start-up with {n} runs on file"),
                self.startup_ms,
                "ms",
                STARTUP_MS,
            ));
        }
        targets
    }
}

/// Bytes in a MiB.
const MIB: f64 = 1024.0 * 1024.0;

/// Everything measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// How it was run.
    pub config: Config,
    /// Load phases in the order run.
    pub phases: Vec<PhaseResult>,
    /// Rates compared.
    pub ratios: Vec<Ratio>,
    /// Lifecycle's re-run check.
    pub rerun_check: Option<RerunCheck>,
    /// What the failure policy's decisions cost (evidence part).
    pub evidence: Option<EvidenceCost>,
    /// Memory and start-up.
    pub scale: Option<Scale>,
    /// Figures against their targets in the issue (scale part).
    pub targets: Vec<Target>,
    /// Anything else worth knowing (set-up errors, skipped figures).
    pub notes: Vec<String>,
}

impl Summary {
    /// Whether a check failed: lifecycle's re-runs, or the evidence part's decisions
    /// and re-runs.
    pub fn check_failed(&self) -> bool {
        self.rerun_check.as_ref().is_some_and(|c| !c.pass)
            || self.evidence.as_ref().is_some_and(|e| !e.pass)
    }

    /// The rate of phase `name`, if it ran.
    pub fn rate(&self, name: &str) -> Option<f64> {
        self.phases.iter().find(|p| p.name == name).map(|p| p.rate)
    }

    /// Reactivation's p99 at half load beside hot's, when both ran: on a shared machine
    /// the paced p99 moves from run to run, so the two are compared in one run.
    pub fn paced_p99_note(&self) -> Option<String> {
        let paced = |prefix: &str| self.phases.iter().find(|p| p.name.starts_with(prefix));
        let (react, hot) = (paced("reactivation @ 50%")?, paced("hot @ 50%")?);
        Some(format!(
            "p99 at half load: reactivation {:.2} ms, hot {:.2} ms in this run (p50 {:.2} ms and {:.2} ms)",
            react.p99_ms, hot.p99_ms, react.p50_ms, hot.p50_ms
        ))
    }

    /// Adds "`a` / `b`" when both phases ran.
    pub fn add_ratio(&mut self, a: &str, b: &str) {
        if let (Some(x), Some(y)) = (self.rate(a), self.rate(b))
            && y > 0.0
        {
            self.ratios.push(Ratio {
                name: format!("{a} / {b}"),
                percent: 100.0 * x / y,
            });
        }
    }

    /// The plain-text report.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let c = &self.config;
        let _ = writeln!(
            out,
            "job-rerunner benchmark: {} cores, {} connections, client {}, server workers {}, {} s per phase, {} B bodies",
            c.cores,
            c.connections,
            c.client_runtime,
            c.server_workers,
            c.phase_seconds,
            c.body_bytes
        );
        // The phase column fits the longest name.
        let w = self
            .phases
            .iter()
            .map(|p| p.name.chars().count())
            .max()
            .unwrap_or(0)
            .max(26);
        let _ = writeln!(
            out,
            "\n{:<w$} {:>9} {:>10} {:>8} {:>8} {:>9} {:>8} {:>7}",
            "phase", "requests", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors"
        );
        for p in &self.phases {
            let _ = writeln!(
                out,
                "{:<w$} {:>9} {:>10.0} {:>8.2} {:>8.2} {:>9.2} {:>8.1} {:>7}",
                p.name, p.requests, p.rate, p.p50_ms, p.p99_ms, p.p999_ms, p.max_ms, p.errors
            );
            for (kind, count) in &p.error_kinds {
                let _ = writeln!(out, "{:<w$}   {count} × {kind}", "");
            }
        }
        if !self.ratios.is_empty() {
            let _ = writeln!(out);
            for r in &self.ratios {
                let _ = writeln!(out, "{:<40} {:>6.1} %", r.name, r.percent);
            }
        }
        if let Some(check) = &self.rerun_check {
            let _ = writeln!(
                out,
                "\nlifecycle re-run check: {} ({} runs finished, {} failed, {}; matched {:.0} ms after the last answer)",
                verdict(check.pass),
                check.finished_runs,
                check.failed_runs,
                check.posts_line(),
                check.waited_ms
            );
        }
        if let Some(e) = &self.evidence {
            evidence_lines(&mut out, e);
        }
        if let Some(s) = &self.scale {
            scale_lines(&mut out, s);
        }
        if !self.targets.is_empty() {
            let _ = writeln!(out);
            for t in &self.targets {
                let _ = writeln!(
                    out,
                    "{:<40} {:>8.2} {:<2} target ≤ {} {}: {}",
                    t.name,
                    t.value,
                    t.unit,
                    t.limit,
                    t.unit,
                    if t.met { "met" } else { "not met" }
                );
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }
}

/// A check's verdict as the report prints it.
fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "FAIL" }
}

/// `label n, label n` of a map of counts.
fn counts<T: std::fmt::Display>(map: &BTreeMap<String, T>) -> String {
    let listed: Vec<String> = map.iter().map(|(k, n)| format!("{k} {n}")).collect();
    listed.join(", ")
}

/// The evidence part's lines of the text report.
fn evidence_lines(out: &mut String, e: &EvidenceCost) {
    let _ = writeln!(
        out,
        "\nevidence (recommended policy, delay 0, no budget, storms off): {}: {} runs, {} failed ({} transient, {} broken), {} decided ({}) {:.0} ms after the last answer; {}",
        verdict(e.pass),
        e.runs,
        e.failed_runs,
        e.transient_runs,
        e.failed_runs - e.transient_runs,
        e.decided_runs,
        counts(&e.decisions),
        e.waited_ms,
        e.rerun_check.posts_line()
    );
    let Some(per) = &e.per_decided_run else {
        let _ = writeln!(out, "  no run decided: no figure per decided run");
        return;
    };
    let by_endpoint: BTreeMap<String, String> = per
        .by_endpoint
        .iter()
        .map(|(k, v)| (k.clone(), format!("{v:.2}")))
        .collect();
    let _ = writeln!(
        out,
        "  per decided run: {:.2} GitHub calls ({}): evidence {:.2} (annotations + log location), log downloads {:.2}, re-run {:.2} (run read + POST); {:.0} B of logs read",
        per.calls,
        counts(&by_endpoint),
        per.evidence_calls,
        per.log_downloads,
        per.rerun_calls,
        per.log_bytes
    );
    let _ = writeln!(
        out,
        "  in all: {} calls ({}), {} B of logs read; evidence fetches {}",
        e.calls.values().sum::<u64>(),
        counts(&e.calls),
        e.log_bytes,
        counts(&e.fetches)
    );
}

/// The scale part's lines of the text report.
fn scale_lines(out: &mut String, s: &Scale) {
    let mb = |mib: f64| mib * MIB / 1e6;
    let _ = writeln!(
        out,
        "\nmemory (service RSS) with {} live runs x {} jobs: idle {:.1} MiB",
        s.live_runs, s.live_jobs, s.rss_idle_mib
    );
    match &s.awake {
        Some(a) => {
            let _ = writeln!(
                out,
                "  awake (TRACKER_IDLE {} s): {:.1} MiB ({:.1} MB), {:.0} B per run",
                a.tracker_idle_s,
                a.rss_mib,
                mb(a.rss_mib),
                a.bytes_per_run
            );
        }
        None => {
            let _ = writeln!(out, "  awake: not measured (--awake-max-runs)");
        }
    }
    let a = &s.asleep;
    let awake_left = a.trackers_awake.map_or_else(
        || "trackers_awake not exported".to_owned(),
        |n| n.to_string(),
    );
    let _ = writeln!(
        out,
        "  asleep (TRACKER_IDLE {} s, trackers awake {} {:.0} ms after the fill, RSS {:.1} MiB then, settled {:.0} ms later): {:.1} MiB ({:.1} MB), {:.0} B per run; anon {:.1} MiB, file {:.1} MiB, shmem {:.1} MiB (fresh service idle {:.1} MiB)",
        a.tracker_idle_s,
        awake_left,
        a.waited_ms,
        a.rss_at_zero_mib,
        a.settled_ms,
        a.rss_mib,
        mb(a.rss_mib),
        a.bytes_per_run,
        a.rss_anon_mib,
        a.rss_file_mib,
        a.rss_shmem_mib,
        a.rss_idle_mib
    );
    if let Some(again) = a.rss_after_reactivation_mib {
        let _ = writeln!(
            out,
            "  asleep again after the reactivations: {again:.1} MiB ({:.1} MB)",
            mb(again)
        );
    }
    let _ = writeln!(
        out,
        "  restarted on that file, idle: {:.1} MiB",
        s.rss_restarted_mib
    );
    let share = |share: &Share| match (share.starts, share.percent) {
        (Some(starts), Some(percent)) => {
            let slept = share
                .sleeps
                .map_or_else(String::new, |n| format!(", {n} slept meanwhile"));
            format!(
                "{percent:.1} % ({starts} tracker starts for {} requests{slept})",
                share.requests
            )
        }
        _ => format!(
            "unknown (tracker_starts_total not exported; {} requests)",
            share.requests
        ),
    };
    let _ = writeln!(
        out,
        "reactivations (requests that started a tracker): full speed {}; at 50 % {}",
        share(&s.reactivation.full),
        share(&s.reactivation.paced)
    );
    if !s.reactivation.paced_in_service.is_empty() {
        let percent = |p: Option<f64>| p.map_or_else(|| "?".to_owned(), |p| format!("{p:.2}"));
        let bounds: Vec<String> = s
            .reactivation
            .paced_in_service
            .iter()
            .map(|w| {
                format!(
                    "{} ms: {} % answered, {} % of store trips",
                    w.le_ms,
                    percent(w.webhook_percent),
                    percent(w.store_percent)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "reactivation @ 50 % inside the service (its histograms): {}",
            bounds.join("; ")
        );
    }
    if let Some(store) = &s.store {
        let _ = writeln!(
            out,
            "SQLite file with {} runs: {} B + {} B WAL = {:.0} B per run ({:.0} B per run in the main file)",
            s.live_runs,
            store.db_bytes,
            store.wal_bytes,
            store.bytes_per_run,
            store.db_bytes_per_run
        );
    }
    let tracked = s
        .runs_tracked_after_restart
        .map_or_else(|| "not exported".to_owned(), |n| n.to_string());
    let stop = s.stop_ms.map_or_else(String::new, |ms| {
        format!("; SIGTERM stop with every tracker awake took {ms:.0} ms")
    });
    let _ = writeln!(
        out,
        "start-up until GET / answers 200: {:.0} ms with {} runs on file ({:.0} ms on an empty file; runs_tracked after it {}){}",
        s.startup_ms, s.live_runs, s.startup_empty_ms, tracked, stop
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale(runs: u64, asleep_mib: f64, startup_ms: f64) -> Scale {
        Scale {
            live_runs: runs,
            live_jobs: 4,
            asleep: Asleep {
                rss_mib: asleep_mib,
                ..Asleep::default()
            },
            startup_ms,
            ..Scale::default()
        }
    }

    #[test]
    fn the_asleep_rss_is_held_to_the_issue_target_for_its_run_count_in_megabytes() {
        assert_eq!(asleep_limit_mb(100_000), Some(40.0));
        assert_eq!(asleep_limit_mb(10), Some(40.0));
        assert_eq!(asleep_limit_mb(1_000_000), Some(60.0));
        assert_eq!(asleep_limit_mb(2_000_000), None);
        // 38 MiB is 39.8 MB: met; 39 MiB is 40.9 MB: not.
        let met = scale(100_000, 38.0, 10.0).targets(Some(1.5));
        assert_eq!(met.len(), 3);
        assert!(met.iter().all(|t| t.met), "{met:?}");
        assert!((met[0].value - 39.85).abs() < 0.01, "{}", met[0].value);
        let missed = scale(100_000, 39.0, 10.0).targets(Some(2.5));
        assert_eq!(
            missed.iter().map(|t| t.met).collect::<Vec<_>>(),
            [false, false, true]
        );
    }

    #[test]
    fn no_target_is_claimed_for_what_was_not_measured_or_has_none() {
        let targets = scale(2_000_000, 10.0, 10.0).targets(None);
        assert!(targets.is_empty(), "{targets:?}");
    }

    #[test]
    fn the_paced_p99s_of_reactivation_and_hot_are_set_side_by_side_when_both_ran() {
        let phase = |name: &str, p50: f64, p99: f64| {
            let mut tally = crate::stats::Tally::new();
            tally.answer(202, 202, std::time::Duration::from_millis(1));
            let mut result = tally.result(name, std::time::Duration::from_secs(1));
            (result.p50_ms, result.p99_ms) = (p50, p99);
            result
        };
        let mut summary = Summary::default();
        summary
            .phases
            .push(phase("reactivation @ 50% (9000 req/s)", 1.5, 3.0));
        assert_eq!(summary.paced_p99_note(), None);
        summary
            .phases
            .push(phase("hot @ 50% (12000 req/s)", 1.2, 2.0));
        assert_eq!(
            summary.paced_p99_note().as_deref(),
            Some(
                "p99 at half load: reactivation 3.00 ms, hot 2.00 ms in this run (p50 1.50 ms and 1.20 ms)"
            )
        );
    }

    fn evidence(decided: u64) -> EvidenceCost {
        let calls: BTreeMap<String, u64> = [
            ("job_annotations", 200),
            ("job_logs", 200),
            ("job_log_download", 200),
            ("get_run", 100),
            ("rerun_failed_jobs", 100),
        ]
        .into_iter()
        .map(|(e, n)| (e.to_owned(), n))
        .collect();
        EvidenceCost {
            runs: 1000,
            failed_runs: 200,
            transient_runs: 100,
            decided_runs: decided,
            per_decided_run: PerDecidedRun::new(&calls, 2_000_000, decided),
            calls,
            log_bytes: 2_000_000,
            rerun_check: RerunCheck {
                pass: true,
                ..RerunCheck::default()
            },
            pass: true,
            ..EvidenceCost::default()
        }
    }

    #[test]
    fn evidence_figures_are_divided_by_the_decided_runs_and_split_by_endpoint() {
        let per = evidence(200).per_decided_run.expect("runs were decided");
        assert_eq!(per.calls, 4.0);
        assert_eq!(per.evidence_calls, 2.0);
        assert_eq!(per.log_downloads, 1.0);
        assert_eq!(per.rerun_calls, 1.0);
        assert_eq!(per.by_endpoint["job_logs"], 1.0);
        assert_eq!(per.log_bytes, 10_000.0);
        assert_eq!(evidence(0).per_decided_run, None, "no division by nothing");
    }

    #[test]
    fn the_report_gives_the_evidence_cost_and_its_check_fails_the_summary() {
        let mut summary = Summary {
            evidence: Some(evidence(200)),
            ..Summary::default()
        };
        let text = summary.table();
        for wanted in [
            "PASS: 1000 runs, 200 failed (100 transient, 100 broken), 200 decided",
            "per decided run: 4.00 GitHub calls (get_run 0.50, job_annotations 1.00",
            "evidence 2.00 (annotations + log location), log downloads 1.00, re-run 1.00",
            "10000 B of logs read",
            "in all: 800 calls",
            "ms after the last answer; 0 re-run POSTs, 0 missing, 0 duplicated, 0 stray",
        ] {
            assert!(text.contains(wanted), "{wanted:?} missing from\n{text}");
        }
        assert!(!summary.check_failed());
        summary.evidence.as_mut().expect("set").pass = false;
        assert!(summary.check_failed());
        assert!(
            summary
                .table()
                .contains("evidence (recommended policy, delay 0, no budget, storms off): FAIL")
        );
    }

    #[test]
    fn a_share_is_the_starts_over_the_requests() {
        let share = Share::new(200, Some(150), None);
        assert_eq!(share.percent, Some(75.0));
        assert_eq!(Share::new(0, Some(0), Some(0)).percent, None);
        assert_eq!(Share::new(10, None, None).percent, None);
    }

    #[test]
    fn the_report_names_the_awake_and_asleep_figures_and_the_targets() {
        let mut summary = Summary::default();
        let mut s = scale(100_000, 38.0, 10.0);
        s.awake = Some(Awake {
            tracker_idle_s: 3600.0,
            rss_mib: 150.0,
            bytes_per_run: 1500.0,
        });
        s.reactivation.full = Share::new(100, Some(99), Some(90));
        s.store = Some(StoreSize {
            db_bytes: 1000,
            wal_bytes: 24,
            bytes_per_run: 0.01,
            db_bytes_per_run: 0.01,
        });
        summary.targets = s.targets(Some(1.0));
        summary.scale = Some(s);
        let text = summary.table();
        for wanted in [
            "awake (TRACKER_IDLE 3600 s): 150.0 MiB",
            "1500 B per run",
            "full speed 99.0 % (99 tracker starts for 100 requests, 90 slept meanwhile)",
            "1000 B + 24 B WAL",
            "RSS asleep, 100000 runs",
            "target ≤ 40 MB: met",
        ] {
            assert!(text.contains(wanted), "{wanted:?} missing from\n{text}");
        }
    }
}
