//! The re-run's life once decided: claimed by one process (its lease), decided on
//! evidence (or held by a storm), renewed before the POST, its outcome recorded (and
//! scheduled again when the answer settled nothing), and when the run may be forgotten.

use super::{
    Claim, ClaimedRerun, Decided, Evidence, NextStep, RerunOutcome, RerunState, RetryPolicy,
    RunState,
};
use crate::ids::Conclusion;
use crate::policy::{self, Decision, History, RunFacts};
use crate::run::teaching::failures_of;

impl RunState {
    /// Claims the re-run for `claim.owner` if it is due: scheduled and past its due time,
    /// or claimed by a process whose lease ran out. Returns what to perform.
    /// Counts the claim in `claims` (and notes when the first of them was made).
    pub fn claim(&mut self, now: u64, claim: &Claim) -> Option<ClaimedRerun> {
        let decided_by = self.claimable(now)?.clone();
        let (needs_evidence, debug_logging) = self.rerun_flags();
        self.claims = self.claims.saturating_add(1);
        if self.first_unrecorded_claim_at.is_none() {
            self.first_unrecorded_claim_at = Some(now);
        }
        Some(self.hold(now, claim, decided_by, needs_evidence, debug_logging))
    }

    /// Holds the re-run for `claim.owner` (`InFlight` until its lease ends) and says
    /// what that owner is to do with it: list the jobs, fetch evidence, or POST.
    pub(in crate::run) fn hold(
        &mut self,
        now: u64,
        claim: &Claim,
        decided_by: Option<String>,
        needs_evidence: bool,
        debug_logging: bool,
    ) -> ClaimedRerun {
        self.rerun = RerunState::InFlight {
            owner: claim.owner,
            lease_until: now.saturating_add(claim.lease_ms),
            decided_by: decided_by.clone(),
            needs_evidence,
            debug_logging,
        };
        let next = if self.needs_jobs || needs_evidence {
            NextStep::Gather {
                list_jobs: self.needs_jobs,
                evidence: needs_evidence,
            }
        } else {
            NextStep::Post
        };
        ClaimedRerun {
            attempt: self.attempt,
            decided_by,
            failed_jobs: self.failed_job_names(),
            evidence_jobs: if needs_evidence {
                self.failed_job_refs()
            } else {
                Vec::new()
            },
            next,
            debug_logging,
            installation: self.installation,
        }
    }

    /// The current attempt's failed jobs, id and name.
    pub(in crate::run) fn failed_job_refs(&self) -> Vec<policy::JobRef> {
        self.jobs
            .iter()
            .filter(|job| job.conclusion.is_some_and(Conclusion::is_failure))
            .map(|job| policy::JobRef {
                id: job.id,
                name: job.name.clone(),
            })
            .collect()
    }

    /// Decides `claim.owner`'s claimed re-run of `attempt` on the failed jobs'
    /// `evidence` (`policy::decide_with_evidence`, with the run's `rule` and the
    /// repository's `history`). A re-run keeps the claim (its lease renewed, the
    /// decision kept: a claim taken up again after a restart POSTs without fetching
    /// again) and is returned to be performed; a skip (or shadow) closes the attempt
    /// as `Done{Skipped}`. `None` when the claim is no longer this owner's (another
    /// process took it over, or a newer attempt started): nothing changes.
    pub fn decide_on_evidence(
        &mut self,
        now: u64,
        attempt: u32,
        claim: &Claim,
        rule: &policy::Rule,
        history: &History,
        evidence: Evidence<'_>,
    ) -> Option<(Option<Decision>, Option<ClaimedRerun>)> {
        let judged = evidence.judged;
        let RerunState::InFlight {
            owner, decided_by, ..
        } = &self.rerun
        else {
            return None;
        };
        // A re-run decided on `workflow_run` lists its jobs before anything else.
        if *owner != claim.owner || attempt != self.attempt || self.needs_jobs {
            return None;
        }
        let decided_by = decided_by.clone();
        let jobs = self.job_facts();
        let facts = RunFacts {
            workflow: &self.workflow,
            branch: &self.branch,
            attempt: self.attempt,
            jobs: &jobs,
        };
        // Ineligible now (a reload changed the branches or attempts since the run
        // completed): the decision made at completion stands, the re-run goes ahead.
        let decision = policy::decide_on_judgements(&facts, history, rule, judged).ok();
        self.failures = failures_of(judged, &self.jobs);
        let debug_logging = match decision.as_ref().map(|d| &d.verdict) {
            // A storm holds it: decided again, on fresh evidence, when the hold ends.
            Some(policy::Verdict::Rerun(plan)) if evidence.hold_until.is_some_and(|t| t > now) => {
                self.rerun = RerunState::Scheduled {
                    due_at: evidence.hold_until.unwrap_or(now),
                    decided_by,
                    needs_evidence: true,
                    debug_logging: plan.debug_logging,
                };
                self.claims = 0;
                self.first_unrecorded_claim_at = None;
                return Some((None, None));
            }
            Some(policy::Verdict::Rerun(plan)) => {
                self.rerun_evidence = decision.as_ref().and_then(|d| d.evidence.clone());
                plan.debug_logging
            }
            None => false,
            Some(policy::Verdict::Skip { .. } | policy::Verdict::Shadow(_)) => {
                let decision = decision.clone()?;
                let (mut changed, mut decided) = (false, None);
                self.skip(decision, &mut changed, &mut decided);
                self.claims = 0;
                self.first_unrecorded_claim_at = None;
                return Some((decided.and_then(Decided::into_decision), None));
            }
        };
        // `needs_jobs` is false here (checked above): the claim goes on to the POST.
        let claimed = self.hold(now, claim, decided_by, false, debug_logging);
        Some((decision, Some(claimed)))
    }

    /// `needs_evidence` and `debug_logging` of a decided re-run (false otherwise).
    pub(in crate::run) fn rerun_flags(&self) -> (bool, bool) {
        match &self.rerun {
            RerunState::Scheduled {
                needs_evidence,
                debug_logging,
                ..
            }
            | RerunState::InFlight {
                needs_evidence,
                debug_logging,
                ..
            } => (*needs_evidence, *debug_logging),
            _ => (false, false),
        }
    }

    /// Whether the re-run can be claimed at `now` (scheduled and due, or claimed and
    /// its lease ran out); if so, the delivery that decided it.
    pub fn claimable(&self, now: u64) -> Option<&Option<String>> {
        match &self.rerun {
            RerunState::Scheduled {
                due_at, decided_by, ..
            } if *due_at <= now => Some(decided_by),
            RerunState::InFlight {
                lease_until,
                decided_by,
                ..
            } if *lease_until <= now => Some(decided_by),
            _ => None,
        }
    }

    /// Extends `claim.owner`'s claim on `attempt`'s re-run; false when it is no longer
    /// theirs (another process took it over, or a newer attempt started).
    pub fn renew(&mut self, now: u64, attempt: u32, claim: &Claim) -> bool {
        match &mut self.rerun {
            RerunState::InFlight {
                owner, lease_until, ..
            } if *owner == claim.owner && attempt == self.attempt => {
                *lease_until = now.saturating_add(claim.lease_ms);
                true
            }
            _ => false,
        }
    }

    /// Records the GitHub actor's answer for `attempt`, performed by `owner`. False
    /// (nothing changes) when a newer attempt started or another process took it over.
    /// An answer that settles nothing (the run still in progress, GitHub unreachable)
    /// schedules the re-run again, as `retry` says, so that it is never forgotten.
    pub fn record_outcome(
        &mut self,
        attempt: u32,
        owner: u64,
        outcome: RerunOutcome,
        now: u64,
        retry: &RetryPolicy,
    ) -> bool {
        // Any answer for the attempt (even one from a claimant that lost the claim)
        // shows that answers are recorded: the claims are counted afresh.
        let counted = attempt == self.attempt && self.claims > 0;
        if counted {
            self.claims = 0;
            self.first_unrecorded_claim_at = None;
        }
        let (needs_evidence, debug_logging) = self.rerun_flags();
        let decided_by = match &self.rerun {
            RerunState::InFlight {
                owner: claimant,
                decided_by,
                ..
            } if *claimant == owner && attempt == self.attempt => decided_by.clone(),
            _ => return counted,
        };
        let again_in = match outcome {
            RerunOutcome::StillRunning if self.retries < retry.still_running_tries => {
                Some(retry.still_running_every_ms)
            }
            RerunOutcome::GaveUp { .. } if self.retries < retry.gave_up_tries => Some(
                retry
                    .gave_up_first_ms
                    .saturating_mul(1 << self.retries.min(16))
                    .min(retry.gave_up_max_ms),
            ),
            _ => None,
        };
        self.rerun = match again_in {
            Some(wait) => {
                self.retries += 1;
                RerunState::Scheduled {
                    due_at: now.saturating_add(wait),
                    decided_by,
                    needs_evidence,
                    debug_logging,
                }
            }
            None => RerunState::Done { outcome },
        };
        true
    }

    /// When a decided re-run needs attention: its due time, or when its claim runs out.
    /// The store indexes this, so that every process finds the re-runs to resume.
    pub fn pending_rerun_at(&self) -> Option<u64> {
        match self.rerun {
            RerunState::Scheduled { due_at, .. } => Some(due_at),
            RerunState::InFlight { lease_until, .. } => Some(lease_until),
            _ => None,
        }
    }

    /// When the run is forgotten for want of events (lost deliveries): `ttl_ms` after its
    /// last event. `None` while a re-run is decided and unanswered: that is never dropped.
    pub fn expires_at(&self, ttl_ms: u64) -> Option<u64> {
        match self.pending_rerun_at() {
            Some(_) => None,
            None => Some(self.last_event_at.saturating_add(ttl_ms)),
        }
    }

    /// Whether the tracker has nothing left to wait for: every job finished and no
    /// re-run pending. Such a tracker may leave memory; its state stays in the store.
    pub fn is_settled(&self) -> bool {
        self.unfinished_jobs() == 0
            && !matches!(
                self.rerun,
                RerunState::Scheduled { .. } | RerunState::InFlight { .. }
            )
    }
}
