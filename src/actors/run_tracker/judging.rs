//! A claimed re-run's gathering: what its decision needs (the attempt's jobs when
//! their deliveries were lost, the failed jobs' evidence when the rule reads it) asked
//! of the GitHub actor in one request, the evidence judged off the tracker's thread
//! within a budget, then decided on in one commit (`RunChange::Decide`).
//!
//! Matching a rule's patterns and finding each failed job's decisive line is the one
//! costly step of a decision: regexes over up to `LOG_TAIL_BYTES` of log per failed
//! job. It runs on a blocking thread, before the decision's store transaction (which
//! then only decides on the [`JobJudgement`]s and records the decision), so that
//! neither the tracker's arbiter, nor the store's writer, nor other runs' webhooks
//! wait on it. One decision reads at most [`JUDGING_BYTES`] and for at most
//! [`JUDGING_TIME`]; a job whose reading the budget cut short is judged on what was
//! read, and its evidence says so.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use slog::{info, warn};

use super::{Judged, RunTracker};
use crate::actors::github::{self, EvidenceOf, Gather};
use crate::clock::now_ms;
use crate::github::meter::Meter;
use crate::policy::{Budget, JobEvidence, JobJudgement, Rule, judge};
use crate::run::{ClaimedRerun, EvidenceCost, NextStep, RunChange};

/// Most bytes of evidence one decision reads (every failed job's log and
/// annotations, each read once for the rule's own regexes and once for the decisive
/// line): 30 jobs of the default 256 KiB tail, twice, fit with room to spare.
pub const JUDGING_BYTES: usize = 32 << 20;

/// Longest one decision spends reading its evidence.
pub const JUDGING_TIME: Duration = Duration::from_secs(2);

impl RunTracker {
    /// Asks the GitHub actor, in one [`Gather`], for what the claimed re-run's
    /// decision needs, then judges the evidence off this thread; all of it comes back
    /// as [`Judged`]. The claim stays this process's meanwhile (`awaiting_github`);
    /// if it dies, the lease runs out and the re-run is claimed, and gathered, again.
    pub(super) fn gather(&mut self, claimed: ClaimedRerun, ctx: &mut Context<Self>) {
        let NextStep::Gather {
            list_jobs,
            evidence,
        } = claimed.next
        else {
            return;
        };
        let workflow = self
            .tracked
            .state
            .as_ref()
            .map(|state| state.workflow.to_string())
            .unwrap_or_default();
        let rule = self
            .shared
            .deps
            .policy
            .current()
            .rule_for(self.key.repo.as_str(), &workflow)
            .clone();
        // Listed jobs are decided on by the rule: their evidence comes along when it
        // reads evidence, so that the decision takes one commit.
        let evidence = match (list_jobs, evidence) {
            (true, _) if rule.needs_evidence() => EvidenceOf::FailedListed,
            (false, true) => EvidenceOf::Jobs(claimed.evidence_jobs.clone()),
            _ => EvidenceOf::Nothing,
        };
        let judges = evidence != EvidenceOf::Nothing;
        let meter = Arc::new(Meter::default());
        let request = Gather {
            run: self.key.clone(),
            attempt: claimed.attempt,
            delivery: claimed.decided_by.clone(),
            installation: claimed.installation,
            list_jobs,
            evidence,
            meter: Some(Arc::clone(&meter)),
        };
        info!(self.log(), "gathering handed to the GitHub actor"; "run_attempt" => claimed.attempt,
            "list_jobs" => list_jobs, "evidence" => judges,
            "delivery" => claimed.decided_by.clone().unwrap_or_default());
        let stopped = github::Gathered::nothing(&request, "the GitHub actor is gone");
        let actor = self.shared.deps.github.clone();
        let tracker = ctx.address();
        ctx.spawn(actix::fut::wrap_future(async move {
            let gathered = actor.send(request).await.unwrap_or(stopped);
            let judged = match judges {
                true => Some(judge_off_thread(rule, gathered.evidence).await),
                false => None,
            };
            let cost = EvidenceCost {
                api_calls: meter.calls(),
                log_bytes: meter.bytes(),
            };
            tracker.do_send(Judged {
                claimed,
                listed: gathered.listed,
                judged,
                cost,
            });
        }));
    }

    /// Decides the claimed re-run on what was gathered (one commit,
    /// `RunChange::Decide`): a re-run goes to the GitHub actor, a skip closes the
    /// attempt. A listing that failed is recorded as the re-run's outcome instead (an
    /// outage schedules it again, and it is gathered again then; a newer attempt
    /// closes it).
    pub(super) fn decide(&mut self, judged: Judged, ctx: &mut Context<Self>) {
        let Judged {
            claimed,
            listed,
            judged,
            cost,
        } = judged;
        let listed = match listed {
            Some(Err(outcome)) => return self.record(claimed, outcome, ctx),
            Some(Ok(jobs)) => Some(Arc::new(jobs)),
            None => None,
        };
        let Some(workflow) = self
            .tracked
            .state
            .as_ref()
            .map(|state| state.workflow.to_string())
        else {
            // No cache (a failed commit dropped it): the claim runs out and a poll
            // finds it due again; it is gathered again then.
            self.tracked.answered();
            warn!(self.log(), "gathered answer dropped: the run's state is not known here";
                "run_attempt" => claimed.attempt);
            return;
        };
        let hold_until = judged
            .as_ref()
            .and_then(|judged| self.shared.deps.storms.hold_until(&self.key, judged));
        let on = if judged.is_some() { "evidence" } else { "jobs" };
        let change = RunChange::Decide {
            now: now_ms(),
            attempt: claimed.attempt,
            claim: self.shared.deps.claim,
            repo: self.key.repo.to_string(),
            workflow,
            listed,
            judged: judged.map(Arc::new),
            hold_until,
            cost,
            policy: self.policy(),
        };
        self.commit_decision(change, &claimed, on, ctx);
    }
}

/// A budget of bytes and of time, checked every 64 KiB read.
struct Spend {
    bytes_left: usize,
    until: Instant,
    since_check: usize,
}

impl Budget for Spend {
    fn take(&mut self, bytes: usize) -> bool {
        if bytes > self.bytes_left {
            self.bytes_left = 0;
            return false;
        }
        self.bytes_left -= bytes;
        self.since_check += bytes;
        if self.since_check >= 64 << 10 {
            self.since_check = 0;
            if Instant::now() >= self.until {
                self.bytes_left = 0;
                return false;
            }
        }
        true
    }
}

/// Judges `evidence` under `rule` on a blocking thread. If that thread cannot be had
/// (the runtime is shutting down), every job counts as unread.
pub async fn judge_off_thread(rule: Rule, evidence: Vec<JobEvidence>) -> Vec<JobJudgement> {
    let jobs: Vec<_> = evidence.iter().map(|e| e.job).collect();
    let judged = actix_web::rt::task::spawn_blocking(move || {
        let mut spend = Spend {
            bytes_left: JUDGING_BYTES,
            until: Instant::now() + JUDGING_TIME,
            since_check: 0,
        };
        judge(&rule, &evidence, &mut spend)
    })
    .await;
    judged.unwrap_or_else(|_| {
        jobs.into_iter()
            .map(|job| JobJudgement::unavailable(job, "the evidence could not be read"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_of_bytes_runs_out() {
        let mut spend = Spend {
            bytes_left: 10,
            until: Instant::now() + Duration::from_secs(60),
            since_check: 0,
        };
        assert!(spend.take(6));
        assert!(!spend.take(6));
        assert!(!spend.take(1));
    }

    #[test]
    fn a_budget_of_time_runs_out_at_the_next_check() {
        let mut spend = Spend {
            bytes_left: usize::MAX,
            until: Instant::now(),
            since_check: 0,
        };
        assert!(spend.take(1));
        assert!(!spend.take(64 << 10));
    }
}
