//! The evidence part (issue 19): what deciding a failed run costs under the recommended
//! failure policy, in GitHub calls and bytes of logs read.
//!
//! Whole runs (lifecycle's: 4 jobs, about one in five with a failed job) go to a fresh
//! service whose policy is the recommended one, whose `only_when = ["@transient"]` and
//! `never_when = ["@broken"]` make it fetch each failed job's annotations and log
//! before it decides. The fake GitHub's logs fail transiently or are broken by job id
//! ([`crate::fake_log`]), so the part knows which runs must be re-run. Once
//! `/metrics` counts a decision for every failed run, its counters give the calls by
//! endpoint and the log bytes, divided by the decisions; the re-run POSTs are checked
//! as lifecycle's are, against the transient failures only.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use job_rerunner::policy::RECOMMENDED_POLICY;

use super::{Bench, ms};
use crate::fake_log;
use crate::metrics::{PolicyWork, wait_for};
use crate::report::{EvidenceCost, PerDecidedRun};
use crate::scratch::Scratch;
use crate::workload::{Lifecycle, RunIds};

/// Run ids of this part, apart from the other parts' ranges.
const EVIDENCE_RUNS: u64 = 7_000_000_000;
/// Longest the runs may take to play: a bound, as every run asked for is played.
const PLAY_LIMIT: Duration = Duration::from_secs(60);
/// How long the failed runs may take to be decided (and their re-runs posted) once
/// the last answer came.
const DECISION_DEADLINE: Duration = Duration::from_secs(60);

impl Bench {
    /// Plays the runs, waits until every failed one is decided, reads what the
    /// decisions cost and checks them.
    pub(super) fn evidence(&mut self) -> io::Result<()> {
        let scratch = Scratch::new()?;
        // Storms off: every transient failure here has the same line and comes from 20
        // repositories within seconds, an incident by the storm rule's reckoning, whose
        // re-runs would be held and their evidence fetched again. The figure wanted is
        // that of ordinary decisions.
        let env = [
            ("RULES", evidence_policy()?),
            ("STORM_REPOS", "0".to_owned()),
        ];
        let server = self.start_service_with(&scratch, &env)?;
        self.github.reset();
        let (repos, jobs) = (self.opts.repos, self.opts.jobs);
        let ids = RunIds::new(EVIDENCE_RUNS, repos, jobs);
        let life = Arc::new(Lifecycle::new(ids, jobs, self.opts.evidence_runs));
        let played = self.load(server.addr(), Arc::clone(&life), PLAY_LIMIT, None)?;
        self.record(played.with_name("evidence"));
        let runs = life.finished_runs();
        let failed = runs
            .iter()
            .filter(|r| life.failed_job(**r).is_some())
            .count();
        let transient = runs
            .iter()
            .filter(|r| life.failed_job_id(**r).is_some_and(fake_log::transient))
            .count();
        // A re-run is counted when it is decided, its POST when GitHub answered it:
        // both are waited for, so that the calls are all in.
        let waited = wait_for(server.addr(), DECISION_DEADLINE, PolicyWork::parse, |w| {
            w.decided() >= failed as u64
                && w.calls_of("rerun_failed_jobs") >= w.decisions_of("rerun")
        })?;
        let rerun_check = self.check_reruns(&life, fake_log::transient);
        server.stop();
        let work = waited.snapshot;
        if !waited.held {
            self.summary.notes.push(format!(
                "evidence: {} of {failed} failed runs decided, {} re-run POSTs answered, after {:.1} s",
                work.decided(),
                work.calls_of("rerun_failed_jobs"),
                waited.waited.as_secs_f64()
            ));
        }
        let decided = work.decided();
        let log_bytes = work.log_bytes.unwrap_or(0);
        let pass = waited.held
            && rerun_check.pass
            && work.decisions_of("rerun") == transient as u64
            && work.decisions_of("skip") == (failed - transient) as u64;
        eprintln!(
            "loadgen: evidence check {}",
            if pass { "passed" } else { "FAILED" }
        );
        self.summary.evidence = Some(EvidenceCost {
            runs: runs.len(),
            failed_runs: failed,
            transient_runs: transient,
            decided_runs: decided,
            per_decided_run: PerDecidedRun::new(&work.calls, log_bytes, decided),
            decisions: work.decisions,
            calls: work.calls,
            fetches: work.fetches,
            log_bytes,
            waited_ms: ms(waited.waited),
            rerun_check,
            pass,
        });
        Ok(())
    }
}

/// The recommended policy (the service's built-in copy of
/// `docs/policies/recommended.toml`) with `delay = "0s"`, so that a failed run is
/// decided as soon as it completes, and `budget_per_hour = 0` (no budget), so that the
/// benchmark's re-runs are not capped at 30 per repository and hour. Each of the two
/// lines must be there exactly once, so that the text stays the recommended one as
/// that file changes, or the part says why it cannot.
fn evidence_policy() -> io::Result<String> {
    let (mut delays, mut budgets) = (0, 0);
    let mut text = String::with_capacity(RECOMMENDED_POLICY.len());
    for line in RECOMMENDED_POLICY.lines() {
        let line = match line.split('=').next().map(str::trim) {
            Some("delay") => {
                delays += 1;
                "delay = \"0s\""
            }
            Some("budget_per_hour") => {
                budgets += 1;
                "budget_per_hour = 0"
            }
            _ => line,
        };
        text.push_str(line);
        text.push('\n');
    }
    if (delays, budgets) != (1, 1) {
        return Err(io::Error::other(format!(
            "the recommended policy has {delays} delay and {budgets} budget_per_hour lines, not one of each: the evidence part cannot set them"
        )));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use job_rerunner::policy::{EnvDefaults, Reason, Rule, Verdict, classify, load};

    use super::*;

    fn defaults(text: &str) -> Rule {
        load(Some(text), None, &EnvDefaults::default())
            .expect("a valid policy")
            .defaults()
            .clone()
    }

    #[test]
    fn the_benchmark_policy_is_the_recommended_one_deciding_at_once_without_a_budget() {
        let recommended = defaults(RECOMMENDED_POLICY);
        let benchmark = defaults(&evidence_policy().expect("both lines are there"));
        assert_eq!(benchmark.delay, Duration::ZERO);
        assert_eq!(benchmark.budget_per_hour, 0);
        assert_ne!(
            recommended.budget_per_hour, 0,
            "the substitution did something"
        );
        let as_recommended = Rule {
            delay: recommended.delay,
            budget_per_hour: recommended.budget_per_hour,
            ..benchmark
        };
        assert_eq!(as_recommended, recommended, "nothing else changed");
    }

    #[test]
    fn the_fake_logs_are_rerun_when_transient_and_skipped_as_broken_by_the_policy() {
        let rule = defaults(&evidence_policy().expect("both lines are there"));
        for job in [10, 11_786_061_154, 56_000_000_000] {
            assert!(fake_log::transient(job));
            let verdict = classify(&fake_log::text(job), &rule).decision.verdict;
            assert!(matches!(verdict, Verdict::Rerun(_)), "{verdict:?}");
        }
        for job in [11, 11_786_061_155] {
            assert!(!fake_log::transient(job));
            let verdict = classify(&fake_log::text(job), &rule).decision.verdict;
            assert!(
                matches!(
                    verdict,
                    Verdict::Skip {
                        reason: Reason::BrokenLog
                    }
                ),
                "{verdict:?}"
            );
        }
    }
}
