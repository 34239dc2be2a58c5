//! Changes to a run that the store applies atomically to the run's *stored* state:
//! in one transaction it reads the row (locked), calls [`apply_change`], and writes
//! what that returns. Every process applies the same pure function, so several
//! processes sharing one database agree on every transition.

use std::sync::Arc;

use super::state::{
    Claim, ClaimedRerun, Decided, EventVerdict, Reply, RerunState, RetryPolicy,
    unrecorded_claims_exhausted,
};
use super::{JobAction, JobEvent, RerunOutcome, RunConfig, RunEvent, RunState, TrackedJob};
use crate::policy::{Decision, DecisionFacts, History, JobJudgement, Reason};

/// How far back the hourly budget looks.
pub const BUDGET_WINDOW_MS: u64 = 3_600_000;

/// A decision of the failure policy, for the store's `decisions` table: what the
/// hourly budget counts and what the reports show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionRecord {
    /// The attempt decided.
    pub attempt: u32,
    /// When, unix ms.
    pub decided_at: u64,
    /// `rerun`, `skip`, `shadow` or `needs_evidence`.
    pub verdict: &'static str,
    /// Why not (`None` for a re-run).
    pub reason: Option<Reason>,
    /// The job it is about.
    pub job: Option<String>,
    /// The line it rests on.
    pub evidence: Option<String>,
    /// The pattern that matched.
    pub pattern: Option<String>,
    /// Whether it counts against `budget_per_hour` (a re-run, or shadow's would-be one).
    pub counts: bool,
    /// What it was decided on, for `what-if` to decide again (`None` for
    /// `needs_evidence`, which is no decision yet).
    pub facts: Option<DecisionFacts>,
    /// What reading its evidence cost (`None`: decided without evidence).
    pub cost: Option<EvidenceCost>,
    /// The failed jobs' own run time, ms: about what their re-run costs.
    pub failed_ms: Option<u64>,
}

/// The failed jobs' run time, summed, when GitHub said it for any of them.
fn failed_ms(state: &RunState) -> Option<u64> {
    state
        .jobs
        .iter()
        .filter(|job| job.conclusion.is_some_and(|c| c.is_failure()))
        .filter_map(|job| job.ran_ms)
        .reduce(u64::saturating_add)
}

/// What one decision's evidence cost: GitHub API requests, and log bytes read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvidenceCost {
    /// Requests to the GitHub API (annotations, each log's location, retries).
    pub api_calls: u32,
    /// Log bytes read from the blob host.
    pub log_bytes: u64,
}

impl DecisionRecord {
    fn of(decided: &Decided, state: &RunState, judged: &[JobJudgement], now: u64) -> Self {
        Self::costing(decided, state, (judged, None), now)
    }

    fn costing(
        decided: &Decided,
        state: &RunState,
        (judged, cost): (&[JobJudgement], Option<EvidenceCost>),
        now: u64,
    ) -> Self {
        let attempt = state.attempt;
        match decided {
            Decided::Now(decision) => Self {
                attempt,
                decided_at: now,
                verdict: match decision.verdict {
                    crate::policy::Verdict::Rerun(_) => "rerun",
                    crate::policy::Verdict::Skip { .. } => "skip",
                    crate::policy::Verdict::Shadow(_) => "shadow",
                },
                reason: decision.verdict.reason(),
                job: decision.job.as_ref().map(|job| job.name.to_string()),
                evidence: decision.evidence.clone(),
                pattern: decision.pattern.clone(),
                counts: decision.counts_against_budget(),
                facts: Some(DecisionFacts {
                    workflow: state.workflow.to_string(),
                    branch: state.branch.to_string(),
                    attempt,
                    jobs: state.job_facts(),
                    judged: judged.to_vec(),
                }),
                cost,
                failed_ms: failed_ms(state),
            },
            Decided::NeedsEvidence { .. } => Self {
                attempt,
                decided_at: now,
                verdict: "needs_evidence",
                reason: None,
                job: None,
                evidence: None,
                pattern: None,
                counts: false,
                facts: None,
                cost: None,
                failed_ms: None,
            },
        }
    }
}

/// An answered re-run, kept for the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RerunRecord {
    /// The attempt that was re-run.
    pub attempt: u32,
    /// What GitHub answered.
    pub outcome: RerunOutcome,
    /// The run's workflow.
    pub workflow: String,
    /// The run's branch.
    pub branch: String,
    /// Names of the jobs that had failed.
    pub failed_jobs: Vec<String>,
    /// When the answer came, unix ms.
    pub finished_at: u64,
}

/// One change to one run.
#[derive(Clone, Debug)]
pub enum RunChange {
    /// A webhook event.
    Event {
        /// The event (shared with the webhook that carried it: no copy per hop).
        event: Arc<JobEvent>,
        /// The configuration it is judged by.
        policy: RunConfig,
        /// Arrival time, unix ms.
        now: u64,
    },
    /// A `workflow_run.completed` event: GitHub's word on how an attempt ended.
    RunEnded {
        /// The event (shared with the webhook that carried it).
        event: Arc<RunEvent>,
        /// The configuration it is judged by.
        policy: RunConfig,
        /// Arrival time, unix ms.
        now: u64,
    },
    /// The re-run timer fired (or a poll found the re-run due): claim it if it is due.
    Claim {
        /// Unix ms.
        now: u64,
        /// Who claims.
        claim: Claim,
    },
    /// The GitHub actor is about to POST: extend the claim, or learn it was lost.
    Renew {
        /// Unix ms.
        now: u64,
        /// The attempt being re-run.
        attempt: u32,
        /// Whose claim.
        claim: Claim,
    },
    /// The GitHub actor answered.
    Record {
        /// Unix ms.
        now: u64,
        /// What was performed.
        claimed: ClaimedRerun,
        /// Who performed it.
        owner: u64,
        /// GitHub's answer.
        outcome: RerunOutcome,
        /// When an answer that settles nothing is tried again.
        retry: RetryPolicy,
    },
    /// What a claimed re-run gathered from GitHub came: decide on it, in one commit.
    /// The listed jobs first, when the run's deliveries were lost
    /// ([`RunState::decide_on_jobs`]), then the failed jobs' judged evidence
    /// ([`RunState::decide_on_evidence`]). A re-run keeps (and renews) the claim; a
    /// skip or a listing without failure closes the attempt, and a decision is
    /// recorded.
    Decide {
        /// Unix ms.
        now: u64,
        /// The attempt claimed.
        attempt: u32,
        /// Whose claim.
        claim: Claim,
        /// The run's repository (`owner/name`), to find its rule.
        repo: String,
        /// The run's workflow, to find its rule and its per-job history.
        workflow: String,
        /// The attempt's jobs, as GitHub lists them (when the claim listed them).
        listed: Option<Arc<Vec<TrackedJob>>>,
        /// What the GitHub actor fetched, judged under the run's rule before the
        /// transaction (matching is the costly part: it never holds a commit); `None`
        /// when no evidence was gathered.
        judged: Option<Arc<Vec<JobJudgement>>>,
        /// A storm of one of its transient failures holds a re-run until then (unix
        /// ms): a decision to re-run is scheduled again for that time instead.
        hold_until: Option<u64>,
        /// What fetching the evidence cost, recorded with the decision.
        cost: EvidenceCost,
        /// The policy in force, and the history the store reads for the decision.
        policy: RunConfig,
    },
    /// The tracker saw no event for a while: forget the run if it is quiet for `ttl_ms`.
    Expire {
        /// Unix ms.
        now: u64,
        /// `RUN_TTL` in ms.
        ttl_ms: u64,
        /// The last event this process saw (events that changed nothing are not stored).
        last_seen: u64,
    },
}

impl RunChange {
    /// Whether deciding this change reads the repository's re-run history: a
    /// completion, under a rule with a `budget_per_hour` or `stop_when_useless`. The
    /// store then reads it in the change's transaction ([`RunChange::set_history`]).
    pub fn wants_history(&self) -> bool {
        let reads = |policy: &RunConfig, repo: &str, workflow: &str| {
            policy.rules.as_ref().is_some_and(|rules| {
                let rule = rules.rule_for(repo, workflow);
                rule.budget_per_hour > 0 || rule.stop_when_useless > 0 || rule.learn_after > 0
            })
        };
        match self {
            RunChange::Decide {
                repo,
                workflow,
                policy,
                ..
            } => reads(policy, repo, workflow),
            RunChange::Event { event, policy, .. } => {
                matches!(event.action, JobAction::Completed(_))
                    && reads(policy, event.run.repo.as_str(), &event.workflow_name)
            }
            RunChange::RunEnded { event, policy, .. } => {
                event.conclusion.is_failure()
                    && reads(policy, event.run.repo.as_str(), &event.workflow_name)
            }
            _ => false,
        }
    }

    /// The workflow whose per-job history a decision reads (the event's).
    pub fn workflow(&self) -> Option<&str> {
        match self {
            RunChange::Event { event, .. } => Some(&event.workflow_name),
            RunChange::RunEnded { event, .. } => Some(&event.workflow_name),
            RunChange::Decide { workflow, .. } => Some(workflow),
            _ => None,
        }
    }

    /// Gives an event the history the store read for it.
    pub fn set_history(&mut self, history: History) {
        if let RunChange::Event { policy, .. }
        | RunChange::RunEnded { policy, .. }
        | RunChange::Decide { policy, .. } = self
        {
            policy.history = history;
        }
    }

    /// Every [`RunChange::kind`], the metrics' `change` label (`store_changes_total`).
    pub const KINDS: [&'static str; 7] = [
        "event",
        "run_ended",
        "claim",
        "decide",
        "renew",
        "record",
        "expire",
    ];

    /// What kind of change it is, in a word (one of [`RunChange::KINDS`]).
    pub fn kind(&self) -> &'static str {
        match self {
            RunChange::Event { .. } => "event",
            RunChange::RunEnded { .. } => "run_ended",
            RunChange::Claim { .. } => "claim",
            RunChange::Renew { .. } => "renew",
            RunChange::Record { .. } => "record",
            RunChange::Decide { .. } => "decide",
            RunChange::Expire { .. } => "expire",
        }
    }

    /// When the change happened, unix ms (the row's `updated_at`).
    pub fn now(&self) -> u64 {
        match self {
            RunChange::Event { now, .. }
            | RunChange::RunEnded { now, .. }
            | RunChange::Claim { now, .. }
            | RunChange::Renew { now, .. }
            | RunChange::Record { now, .. }
            | RunChange::Decide { now, .. }
            | RunChange::Expire { now, .. } => *now,
        }
    }
}

/// What a change asks the store to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persist {
    /// Nothing changed.
    Unchanged,
    /// Insert or replace the run's row.
    Save,
    /// Delete the run's row.
    Delete,
}

/// What a change decided, for the process that asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeResult {
    /// The verdict on an event.
    Event(EventVerdict),
    /// The claimed re-run, if it was due and free.
    Claimed(Option<ClaimedRerun>),
    /// The re-run was due, but claimed `claims` times already without an outcome
    /// recorded: it is given up (`Done` with `gave_up`) instead of claimed again.
    GaveUp {
        /// The attempt whose re-run was given up.
        attempt: u32,
        /// Claims made without an outcome recorded.
        claims: u32,
    },
    /// Whether the claim is still ours.
    Renewed(bool),
    /// The outcome was recorded.
    Recorded,
    /// The evidence decided the claimed re-run: `claimed` is the re-run to perform
    /// (`None`: skipped, or the claim was lost), `decision` what was decided (`None`:
    /// the claim was lost, or the policy now finds the run ineligible and the
    /// re-run goes ahead as decided at completion).
    Decided {
        /// The re-run to hand to the GitHub actor.
        claimed: Option<ClaimedRerun>,
        /// The decision, logged and recorded.
        decision: Option<Decision>,
    },
    /// Whether the run was forgotten.
    Expired(bool),
}

/// A change applied to a stored state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The run's state afterwards (`None`: no record).
    pub state: Option<RunState>,
    /// What to write.
    pub persist: Persist,
    /// What it decided.
    pub result: ChangeResult,
    /// An answered re-run to add to the history.
    pub history: Option<RerunRecord>,
    /// A decision of the failure policy to add to `decisions`.
    pub decision: Option<DecisionRecord>,
}

/// The answer to a redelivered event (its delivery id is on the run's record with
/// `status`): the first answer again, and no change.
fn redelivered(current: Option<RunState>, status: u16) -> Applied {
    let verdict = EventVerdict::unchanged(Reply::redelivered(status));
    Applied {
        state: current,
        persist: Persist::Unchanged,
        result: ChangeResult::Event(verdict),
        history: None,
        decision: None,
    }
}

/// Closes a due re-run that was claimed `MAX_UNRECORDED_CLAIMS` times without an
/// outcome recorded, over longer than the time bound (each claimant's record failed,
/// or each claimant died; see `unrecorded_claims_exhausted`): `Done` with
/// `gave_up`, recorded in the history where the store can. Another claim would only
/// read the run from GitHub again; the attempt stays open to a later completion, as
/// after any `gave_up`.
fn give_up(mut state: RunState, now: u64) -> Applied {
    let claims = state.claims;
    let outcome = RerunOutcome::GaveUp {
        tries: claims,
        last_error: format!("claimed {claims} times without an outcome recorded"),
    };
    let history = RerunRecord {
        attempt: state.attempt,
        outcome: outcome.clone(),
        workflow: state.workflow.to_string(),
        branch: state.branch.to_string(),
        failed_jobs: state.failed_job_names(),
        finished_at: now,
    };
    state.rerun = RerunState::Done { outcome };
    state.claims = 0;
    state.first_unrecorded_claim_at = None;
    Applied {
        result: ChangeResult::GaveUp {
            attempt: state.attempt,
            claims,
        },
        state: Some(state),
        persist: Persist::Save,
        history: Some(history),
        decision: None,
    }
}

/// The record of an attempt a change just closed without a POST (a skip, or a re-run
/// GitHub's word made unneeded), for the history of answered re-runs.
fn closing_record(state: &RunState, now: u64) -> Option<RerunRecord> {
    match &state.rerun {
        RerunState::Done {
            outcome: outcome @ (RerunOutcome::Skipped { .. } | RerunOutcome::NotNeeded { .. }),
        } => Some(RerunRecord {
            attempt: state.attempt,
            outcome: outcome.clone(),
            workflow: state.workflow.to_string(),
            branch: state.branch.to_string(),
            failed_jobs: state.failed_job_names(),
            finished_at: now,
        }),
        _ => None,
    }
}

/// Applies a webhook event (`apply` makes the new state and the verdict from the
/// stored one): a redelivery gets its first answer again; a change is saved with its
/// delivery remembered, and the decision it made (and the attempt it closed) recorded.
fn apply_event(
    current: Option<RunState>,
    delivery: Option<&str>,
    now: u64,
    apply: impl FnOnce(Option<RunState>) -> (RunState, EventVerdict),
) -> Applied {
    let earlier = current
        .as_ref()
        .zip(delivery)
        .and_then(|(state, delivery)| state.answered(delivery));
    if let Some(status) = earlier {
        return redelivered(current, status);
    }
    let closed_before = current.as_ref().map(|state| {
        (
            state.attempt,
            matches!(state.rerun, RerunState::Done { .. }),
        )
    });
    let (mut state, verdict) = apply(current);
    let persist = if verdict.changed {
        if let Some(delivery) = delivery {
            state.remember_answer(delivery, verdict.reply.status);
        }
        Persist::Save
    } else {
        Persist::Unchanged
    };
    // A decision made by an event that is committed is recorded with it; an attempt
    // the event closed (a skip, a re-run made unneeded) is kept with the answered re-runs.
    let decided = verdict.decision.as_ref().filter(|_| verdict.changed);
    let decision = decided.map(|decided| DecisionRecord::of(decided, &state, &[], now));
    let closed_now = verdict.changed && closed_before != Some((state.attempt, true));
    let history = closed_now.then(|| closing_record(&state, now)).flatten();
    Applied {
        state: Some(state),
        persist,
        result: ChangeResult::Event(verdict),
        history,
        decision,
    }
}

/// Applies `change` to the run's stored state `current`.
pub fn apply_change(current: Option<RunState>, change: &RunChange) -> Applied {
    let unchanged = |state: Option<RunState>, result| Applied {
        state,
        persist: Persist::Unchanged,
        result,
        history: None,
        decision: None,
    };
    match change {
        RunChange::Event { event, policy, now }
            if current.is_none() && event.beyond_attempts.is_some() =>
        {
            let why = event
                .beyond_attempts
                .map(|b| b.reason())
                .unwrap_or_default();
            unchanged(
                None,
                ChangeResult::Event(RunState::beyond_attempts_unrecorded(why)),
            )
        }
        RunChange::Event { event, policy, now } => apply_event(
            current,
            event.delivery.as_deref(),
            *now,
            |current| match current {
                None => RunState::first_event(event, *now, policy),
                Some(mut state) => {
                    let verdict = state.apply(event, *now, policy);
                    (state, verdict)
                }
            },
        ),
        RunChange::RunEnded { event, policy, now } => apply_event(
            current,
            event.delivery.as_deref(),
            *now,
            |current| match current {
                None => RunState::first_run_end(event, *now, policy),
                Some(mut state) => {
                    let verdict = state.apply_run_end(event, *now, policy);
                    (state, verdict)
                }
            },
        ),
        RunChange::Claim { now, claim } => {
            let Some(mut state) = current else {
                return unchanged(None, ChangeResult::Claimed(None));
            };
            if state.claimable(*now).is_some()
                && unrecorded_claims_exhausted(&state, *now, claim.lease_ms)
            {
                return give_up(state, *now);
            }
            match state.claim(*now, claim) {
                Some(claimed) => Applied {
                    state: Some(state),
                    persist: Persist::Save,
                    result: ChangeResult::Claimed(Some(claimed)),
                    history: None,
                    decision: None,
                },
                None => unchanged(Some(state), ChangeResult::Claimed(None)),
            }
        }
        RunChange::Renew {
            now,
            attempt,
            claim,
        } => {
            let Some(mut state) = current else {
                return unchanged(None, ChangeResult::Renewed(false));
            };
            if state.renew(*now, *attempt, claim) {
                Applied {
                    state: Some(state),
                    persist: Persist::Save,
                    result: ChangeResult::Renewed(true),
                    history: None,
                    decision: None,
                }
            } else {
                unchanged(Some(state), ChangeResult::Renewed(false))
            }
        }
        RunChange::Record {
            now,
            claimed,
            owner,
            outcome,
            retry,
        } => {
            let Some(mut state) = current else {
                return unchanged(None, ChangeResult::Recorded);
            };
            let history = RerunRecord {
                attempt: claimed.attempt,
                outcome: outcome.clone(),
                workflow: state.workflow.to_string(),
                branch: state.branch.to_string(),
                failed_jobs: claimed.failed_jobs.clone(),
                finished_at: *now,
            };
            let changed =
                state.record_outcome(claimed.attempt, *owner, outcome.clone(), *now, retry);
            Applied {
                state: Some(state),
                persist: if changed {
                    Persist::Save
                } else {
                    Persist::Unchanged
                },
                result: ChangeResult::Recorded,
                history: Some(history),
                decision: None,
            }
        }
        RunChange::Decide {
            now,
            attempt,
            claim,
            repo,
            workflow,
            listed,
            judged,
            hold_until,
            cost,
            policy,
        } => {
            let lost = ChangeResult::Decided {
                claimed: None,
                decision: None,
            };
            let Some(mut state) = current.clone() else {
                return unchanged(current, lost);
            };
            let mut on_jobs = None;
            if let Some(jobs) = listed {
                let Some((decided, claimed)) =
                    state.decide_on_jobs(*now, *attempt, claim, jobs, policy, repo)
                else {
                    return unchanged(current, lost);
                };
                let record = decided
                    .as_ref()
                    .map(|d| DecisionRecord::of(d, &state, &[], *now));
                let covered = |claimed: &ClaimedRerun| {
                    judged.as_ref().is_some_and(|judged| {
                        claimed
                            .evidence_jobs
                            .iter()
                            .all(|job| judged.iter().any(|j| j.job == job.id))
                    })
                };
                // Decided on the jobs alone (a skip, a re-run without patterns, no
                // failure listed), or evidence is wanted that was not gathered with
                // them: the claim gathers it next.
                match claimed {
                    Some(claimed) if claimed.needs_evidence() && covered(&claimed) => {
                        on_jobs = Some(record);
                    }
                    claimed => {
                        let history = closing_record(&state, *now);
                        return Applied {
                            state: Some(state),
                            persist: Persist::Save,
                            result: ChangeResult::Decided {
                                claimed,
                                decision: decided.and_then(Decided::into_decision),
                            },
                            history,
                            decision: record,
                        };
                    }
                }
            }
            let (Some(judged), Some(rules)) = (judged, policy.rules.as_ref()) else {
                return unchanged(current, lost);
            };
            let rule = rules.rule_for(repo, workflow);
            let on = super::state::Evidence {
                judged,
                hold_until: *hold_until,
            };
            let Some((decision, claimed)) =
                state.decide_on_evidence(*now, *attempt, claim, rule, &policy.history, on)
            else {
                return unchanged(current, lost);
            };
            let record = decision
                .as_ref()
                .map(|d| {
                    let decided = Decided::Now(d.clone());
                    DecisionRecord::costing(&decided, &state, (judged, Some(*cost)), *now)
                })
                .or(on_jobs.flatten());
            let history = match &state.rerun {
                RerunState::Done {
                    outcome: outcome @ RerunOutcome::Skipped { .. },
                } => Some(RerunRecord {
                    attempt: state.attempt,
                    outcome: outcome.clone(),
                    workflow: state.workflow.to_string(),
                    branch: state.branch.to_string(),
                    failed_jobs: state.failed_job_names(),
                    finished_at: *now,
                }),
                _ => None,
            };
            Applied {
                state: Some(state),
                persist: Persist::Save,
                result: ChangeResult::Decided { claimed, decision },
                history,
                decision: record,
            }
        }
        RunChange::Expire {
            now,
            ttl_ms,
            last_seen,
        } => {
            let Some(mut state) = current else {
                return unchanged(None, ChangeResult::Expired(true));
            };
            state.last_event_at = state.last_event_at.max(*last_seen);
            match state.expires_at(*ttl_ms) {
                Some(at) if at <= *now => Applied {
                    state: None,
                    persist: Persist::Delete,
                    result: ChangeResult::Expired(true),
                    history: None,
                    decision: None,
                },
                _ => unchanged(Some(state), ChangeResult::Expired(false)),
            }
        }
    }
}

#[cfg(test)]
mod tests;
