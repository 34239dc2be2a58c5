//! The final summary: a plain-text table for people, or JSON for scripts.

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

/// The lifecycle phase's check of the re-runs GitHub received.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RerunCheck {
    /// Runs whose every event was sent.
    pub finished_runs: usize,
    /// Of those, runs with a failed job.
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

/// Memory and start-up figures of the service.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Scale {
    /// Live runs created.
    pub live_runs: u64,
    /// Jobs of each.
    pub live_jobs: u64,
    /// RSS right after start, idle.
    pub rss_idle_mib: f64,
    /// RSS with the live runs.
    pub rss_loaded_mib: f64,
    /// Extra RSS per live run.
    pub bytes_per_run: f64,
    /// Time to stop on SIGTERM with the live runs.
    pub stop_ms: f64,
    /// Time from spawning the service on the file holding the runs until `GET /` is 200.
    pub startup_ms: f64,
    /// The same on an empty file, for comparison.
    pub startup_empty_ms: f64,
    /// RSS of the restarted service, idle.
    pub rss_restarted_mib: f64,
}

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
    /// Memory and start-up.
    pub scale: Option<Scale>,
    /// Anything else worth knowing (set-up errors, skipped figures).
    pub notes: Vec<String>,
}

impl Summary {
    /// The rate of phase `name`, if it ran.
    pub fn rate(&self, name: &str) -> Option<f64> {
        self.phases.iter().find(|p| p.name == name).map(|p| p.rate)
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
        let _ = writeln!(
            out,
            "\n{:<26} {:>9} {:>10} {:>8} {:>8} {:>9} {:>8} {:>7}",
            "phase", "requests", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors"
        );
        for p in &self.phases {
            let _ = writeln!(
                out,
                "{:<26} {:>9} {:>10.0} {:>8.2} {:>8.2} {:>9.2} {:>8.1} {:>7}",
                p.name, p.requests, p.rate, p.p50_ms, p.p99_ms, p.p999_ms, p.max_ms, p.errors
            );
            for (kind, count) in &p.error_kinds {
                let _ = writeln!(out, "{:<26}   {count} × {kind}", "");
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
                "\nlifecycle re-run check: {} ({} runs finished, {} failed, {} re-run POSTs, {} missing, {} duplicated, {} stray; matched {:.0} ms after the last answer)",
                if check.pass { "PASS" } else { "FAIL" },
                check.finished_runs,
                check.failed_runs,
                check.posts,
                check.missing,
                check.duplicated,
                check.stray,
                check.waited_ms
            );
        }
        if let Some(s) = &self.scale {
            let _ = writeln!(
                out,
                "\nmemory (service RSS): idle {:.1} MiB; with {} live runs x {} jobs {:.1} MiB ({:.0} B per run); restarted on that file, idle {:.1} MiB",
                s.rss_idle_mib,
                s.live_runs,
                s.live_jobs,
                s.rss_loaded_mib,
                s.bytes_per_run,
                s.rss_restarted_mib
            );
            let _ = writeln!(
                out,
                "start-up until GET / answers 200: {:.0} ms with {} runs on file ({:.0} ms on an empty file); SIGTERM stop took {:.0} ms",
                s.startup_ms, s.live_runs, s.startup_empty_ms, s.stop_ms
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }
}
