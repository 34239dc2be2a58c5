//! Changes to a run that the store applies atomically to the run's *stored* state:
//! in one transaction it reads the row (locked), calls [`apply_change`], and writes
//! what that returns. Every process applies the same pure function, so several
//! processes sharing one database agree on every transition.

use std::sync::Arc;

use super::state::{
    Claim, ClaimedRerun, Decided, Reply, RerunState, RetryPolicy, TimerChange, Verdict,
    unrecorded_claims_exhausted,
};
use super::{JobAction, JobEvent, Policy, RerunOutcome, RunEvent, RunState, TrackedJob};
use crate::policy::{Decision, History, JobJudgement, Reason};

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
}

impl DecisionRecord {
    fn of(decided: &Decided, attempt: u32, now: u64) -> Self {
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
        policy: Policy,
        /// Arrival time, unix ms.
        now: u64,
    },
    /// A `workflow_run.completed` event: GitHub's word on how an attempt ended.
    RunEnded {
        /// The event (shared with the webhook that carried it).
        event: Arc<RunEvent>,
        /// The configuration it is judged by.
        policy: Policy,
        /// Arrival time, unix ms.
        now: u64,
    },
    /// The jobs GitHub lists for a claimed re-run scheduled with `needs_jobs` came:
    /// decide on them ([`RunState::decide_on_jobs`]). A re-run keeps (and renews) the
    /// claim; a skip or a listing without failure closes the attempt.
    JobsListed {
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
        /// The attempt's jobs, as GitHub lists them.
        jobs: Arc<Vec<TrackedJob>>,
        /// The policy in force, and the history the store reads for the decision.
        policy: Policy,
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
    /// The failed jobs' evidence came for a claimed re-run that needs it: decide on it
    /// ([`RunState::decide_on_evidence`]). A re-run keeps (and renews) the claim; a
    /// skip closes the attempt, and either decision is recorded.
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
        /// What the GitHub actor fetched, judged under the run's rule before the
        /// transaction (matching is the costly part: it never holds a commit).
        judged: Arc<Vec<JobJudgement>>,
        /// The policy in force, and the history the store reads for the decision.
        policy: Policy,
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
        let reads = |policy: &Policy, repo: &str, workflow: &str| {
            policy.rules.as_ref().is_some_and(|rules| {
                let rule = rules.rule_for(repo, workflow);
                rule.budget_per_hour > 0 || rule.stop_when_useless > 0
            })
        };
        match self {
            RunChange::Decide {
                repo,
                workflow,
                policy,
                ..
            }
            | RunChange::JobsListed {
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
            RunChange::Decide { workflow, .. } | RunChange::JobsListed { workflow, .. } => {
                Some(workflow)
            }
            _ => None,
        }
    }

    /// Gives an event the history the store read for it.
    pub fn set_history(&mut self, history: History) {
        if let RunChange::Event { policy, .. }
        | RunChange::RunEnded { policy, .. }
        | RunChange::Decide { policy, .. }
        | RunChange::JobsListed { policy, .. } = self
        {
            policy.history = history;
        }
    }

    /// When the change happened, unix ms (the row's `updated_at`).
    pub fn now(&self) -> u64 {
        match self {
            RunChange::Event { now, .. }
            | RunChange::RunEnded { now, .. }
            | RunChange::JobsListed { now, .. }
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
    Event(Verdict),
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
    let verdict = Verdict {
        reply: Reply::redelivered(status),
        changed: false,
        timer: TimerChange::Keep,
        flaky: None,
        failed_again: None,
        decision: None,
    };
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
    apply: impl FnOnce(Option<RunState>) -> (RunState, Verdict),
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
    let decision = decided.map(|decided| DecisionRecord::of(decided, state.attempt, now));
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
        RunChange::JobsListed {
            now,
            attempt,
            claim,
            repo,
            jobs,
            policy,
            ..
        } => {
            let lost = ChangeResult::Decided {
                claimed: None,
                decision: None,
            };
            let Some(mut state) = current.clone() else {
                return unchanged(current, lost);
            };
            let Some((decided, claimed)) =
                state.decide_on_jobs(*now, *attempt, claim, jobs, policy, repo)
            else {
                return unchanged(current, lost);
            };
            let record = decided
                .as_ref()
                .map(|d| DecisionRecord::of(d, state.attempt, *now));
            let history = closing_record(&state, *now);
            Applied {
                state: Some(state),
                persist: Persist::Save,
                result: ChangeResult::Decided {
                    claimed,
                    decision: decided.and_then(Decided::into_decision),
                },
                history,
                decision: record,
            }
        }
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
            judged,
            policy,
        } => {
            let lost = ChangeResult::Decided {
                claimed: None,
                decision: None,
            };
            let (Some(mut state), Some(rules)) = (current.clone(), policy.rules.as_ref()) else {
                return unchanged(current, lost);
            };
            let rule = rules.rule_for(repo, workflow);
            let Some((decision, claimed)) =
                state.decide_on_evidence(*now, *attempt, claim, rule, &policy.history, judged)
            else {
                return unchanged(current, lost);
            };
            let record = decision
                .as_ref()
                .map(|d| DecisionRecord::of(&Decided::Now(d.clone()), state.attempt, *now));
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
mod tests {
    use super::*;
    use crate::ids::{JobId, RepoName, RunId, RunKey};
    use crate::run::{Conclusion, JobAction, MAX_UNRECORDED_CLAIMS, UNRECORDED_CLAIMS_FOR_MS};

    fn policy() -> Policy {
        Policy {
            rerun_delay_ms: 0,
            branch_eligible: true,
            ..Policy::default()
        }
    }
    const CLAIM: Claim = Claim {
        owner: 5,
        lease_ms: 1_000,
    };

    fn event(job: u64, action: JobAction) -> RunChange {
        let event = JobEvent {
            delivery: Some(format!("d-{job}-{action:?}")),
            run: RunKey {
                repo: RepoName::parse("o/r").expect("valid"),
                run_id: RunId(1),
            },
            run_attempt: 1,
            job_id: JobId(job),
            job_name: "build".into(),
            workflow_name: "ci".into(),
            branch: "master".into(),
            action,
            ran_steps: true,
            failed_steps: Vec::new(),
            installation: None,
            head_sha: None,
        };
        RunChange::Event {
            event: Arc::new(event),
            policy: policy(),
            now: 10,
        }
    }

    fn failed_run() -> RunState {
        let queued = apply_change(None, &event(1, JobAction::Unfinished));
        let done = apply_change(
            queued.state,
            &event(1, JobAction::Completed(Conclusion::Failure)),
        );
        assert_eq!(done.persist, Persist::Save);
        done.state.expect("state")
    }

    fn with_delivery(mut change: RunChange, delivery: &str) -> RunChange {
        if let RunChange::Event { event, .. } = &mut change {
            Arc::make_mut(event).delivery = Some(delivery.to_owned());
        }
        change
    }

    #[test]
    fn a_skip_is_recorded_as_a_decision_and_as_the_attempts_outcome_once() {
        let queued = apply_change(None, &event(1, JobAction::Unfinished));
        let mut completion = event(1, JobAction::Completed(Conclusion::Failure));
        if let RunChange::Event { event, .. } = &mut completion {
            Arc::make_mut(event).ran_steps = false;
        }
        let skipped = apply_change(queued.state, &completion);
        assert_eq!(status_of(&skipped), 200);
        let decision = skipped.decision.expect("recorded");
        assert_eq!(decision.verdict, "skip");
        assert_eq!(decision.reason, Some(Reason::NotStarted));
        assert_eq!(decision.job.as_deref(), Some("build"));
        assert!(!decision.counts, "a skip spends no budget");
        let record = skipped.history.expect("the attempt's outcome");
        assert_eq!(record.outcome.label(), "skipped");
        let again = apply_change(skipped.state, &completion);
        assert_eq!(status_of(&again), 200, "a redelivery: its first answer");
        assert_eq!(again.decision, None);
        assert_eq!(again.history, None);
    }

    #[test]
    fn only_a_completion_under_a_budget_or_stop_when_useless_reads_the_history() {
        let rules = |toml: &str| {
            Arc::new(
                crate::policy::parse(
                    toml,
                    crate::policy::PolicySource::Inline,
                    &crate::policy::EnvDefaults::default(),
                )
                .expect("valid"),
            )
        };
        let with = |action, toml: &str| {
            let mut change = event(1, action);
            if let RunChange::Event { policy, .. } = &mut change {
                policy.rules = Some(rules(toml));
            }
            change
        };
        let failed = JobAction::Completed(Conclusion::Failure);
        assert!(with(failed, "[defaults]\nbudget_per_hour = 3\n").wants_history());
        assert!(with(failed, "[defaults]\nstop_when_useless = 2\n").wants_history());
        assert!(!with(failed, "[defaults]\n").wants_history());
        assert!(!with(JobAction::Unfinished, "[defaults]\nbudget_per_hour = 3\n").wants_history());
        assert!(!event(1, failed).wants_history(), "no policy: no history");
    }

    #[test]
    fn a_redelivery_is_answered_with_its_first_status_and_changes_nothing() {
        let run = failed_run();
        let again = apply_change(
            Some(run.clone()),
            &event(1, JobAction::Completed(Conclusion::Failure)),
        );
        assert_eq!(again.persist, Persist::Unchanged);
        let ChangeResult::Event(verdict) = again.result else {
            panic!("not an event verdict");
        };
        assert_eq!(verdict.reply, Reply::redelivered(201));
        assert_eq!(again.state, Some(run));
    }

    fn in_attempt(mut change: RunChange, attempt: u32) -> RunChange {
        if let RunChange::Event { event, .. } = &mut change {
            Arc::make_mut(event).run_attempt = attempt;
        }
        change
    }

    fn status_of(applied: &Applied) -> u16 {
        match &applied.result {
            ChangeResult::Event(verdict) => verdict.reply.status,
            other => panic!("not an event result: {other:?}"),
        }
    }

    #[test]
    fn every_delivery_of_a_big_matrix_is_answered_alike_when_redelivered() {
        let jobs = 40;
        let mut state = None;
        for job in 1..=jobs {
            state = apply_change(state, &event(job, JobAction::Unfinished)).state;
        }
        let failed = JobAction::Completed(Conclusion::Failure);
        let passed = JobAction::Completed(Conclusion::Success);
        state = apply_change(state, &event(1, failed)).state;
        for job in 2..jobs {
            state = apply_change(state, &event(job, passed)).state;
        }
        let last = apply_change(state, &event(jobs, passed));
        assert_eq!(status_of(&last), 201);
        let state = last.state;
        // The first completion, answered 202 long before the run finished, is recognised.
        let again = apply_change(state.clone(), &event(1, failed));
        assert_eq!(
            (status_of(&again), again.persist),
            (202, Persist::Unchanged)
        );
        let again = apply_change(state, &event(jobs, passed));
        assert_eq!(status_of(&again), 201);
    }

    #[test]
    fn older_attempts_keep_their_last_deliveries_only() {
        let mut state = None;
        for attempt in 1..=40 {
            let queued = in_attempt(
                with_delivery(
                    event(attempt.into(), JobAction::Unfinished),
                    &format!("q{attempt}"),
                ),
                attempt,
            );
            state = apply_change(state, &queued).state;
            let done = JobAction::Completed(Conclusion::Success);
            let completed = in_attempt(
                with_delivery(event(attempt.into(), done), &format!("c{attempt}")),
                attempt,
            );
            state = apply_change(state, &completed).state;
        }
        let state = state.expect("state");
        assert_eq!(state.answered.len(), 2 + crate::run::ANSWERS_KEPT);
        assert_eq!(
            state.answered("q1"),
            None,
            "the oldest attempt's were forgotten"
        );
        assert_eq!(
            state.answered("c39"),
            Some(200),
            "the previous attempt's are kept"
        );
        assert_eq!(state.answered("c40"), Some(200));
        // An event that changed nothing is not remembered: judged again, it answers alike.
        let unchanged = apply_change(
            Some(state.clone()),
            &in_attempt(with_delivery(event(40, JobAction::Unfinished), "again"), 40),
        );
        assert_eq!(unchanged.persist, Persist::Unchanged);
        assert_eq!(unchanged.state.expect("state").answered("again"), None);
    }

    #[test]
    fn delivery_tokens_are_stored_as_one_string_and_read_back() {
        let state = failed_run();
        let json = serde_json::to_value(&state).expect("encodes");
        assert!(json["answered"].is_string(), "{json}");
        let back: RunState = serde_json::from_value(json).expect("decodes");
        assert_eq!(back, state);
        assert_eq!(back.answered.len(), 2);
    }

    #[test]
    fn two_processes_claiming_the_same_rerun_get_it_once() {
        let first = apply_change(
            Some(failed_run()),
            &RunChange::Claim {
                now: 20,
                claim: CLAIM,
            },
        );
        assert!(matches!(first.result, ChangeResult::Claimed(Some(_))));
        let other = Claim {
            owner: 6,
            lease_ms: 1_000,
        };
        let second = apply_change(
            first.state,
            &RunChange::Claim {
                now: 21,
                claim: other,
            },
        );
        assert_eq!(second.result, ChangeResult::Claimed(None));
        assert_eq!(second.persist, Persist::Unchanged);
    }

    #[test]
    fn an_outcome_is_recorded_with_the_jobs_that_failed() {
        let claimed = apply_change(
            Some(failed_run()),
            &RunChange::Claim {
                now: 20,
                claim: CLAIM,
            },
        );
        let ChangeResult::Claimed(Some(rerun)) = claimed.result else {
            panic!("not claimed")
        };
        let retry = RetryPolicy {
            still_running_every_ms: 1,
            still_running_tries: 1,
            gave_up_first_ms: 1,
            gave_up_max_ms: 1,
            gave_up_tries: 1,
        };
        let record = RunChange::Record {
            now: 30,
            claimed: rerun,
            owner: 5,
            outcome: RerunOutcome::Started,
            retry,
        };
        let recorded = apply_change(claimed.state, &record);
        assert_eq!(recorded.persist, Persist::Save);
        let history = recorded.history.expect("history");
        assert_eq!(history.failed_jobs, vec!["build".to_string()]);
        assert_eq!(history.outcome, RerunOutcome::Started);
    }

    fn claim_at(now: u64) -> RunChange {
        RunChange::Claim { now, claim: CLAIM }
    }

    #[test]
    fn a_rerun_claimed_again_and_again_without_an_outcome_is_given_up_after_the_time_bound() {
        let mut state = Some(failed_run());
        let first = 20;
        let mut now = first;
        // Each claim's lease runs out with no outcome recorded (the record failed):
        // claimed again after every lease until the time bound has passed.
        while now - first < UNRECORDED_CLAIMS_FOR_MS {
            let claimed = apply_change(state, &claim_at(now));
            assert!(
                matches!(claimed.result, ChangeResult::Claimed(Some(_))),
                "{} ms after the first claim: {:?}",
                now - first,
                claimed.result
            );
            assert_eq!(claimed.persist, Persist::Save);
            state = claimed.state;
            now += CLAIM.lease_ms;
        }
        let claims = state.as_ref().expect("state").claims;
        assert!(claims >= MAX_UNRECORDED_CLAIMS);
        let given_up = apply_change(state, &claim_at(now));
        assert_eq!(given_up.result, ChangeResult::GaveUp { attempt: 1, claims });
        assert_eq!(given_up.persist, Persist::Save);
        let history = given_up.history.expect("the give-up is recorded");
        assert_eq!(history.outcome.label(), "gave_up");
        let state = given_up.state.expect("state");
        assert!(matches!(state.rerun, RerunState::Done { .. }));
        assert_eq!(
            state.pending_rerun_at(),
            None,
            "no longer due: no more claims"
        );
        let after = apply_change(Some(state), &claim_at(now + 10 * CLAIM.lease_ms));
        assert_eq!(after.result, ChangeResult::Claimed(None));
    }

    #[test]
    fn takeovers_of_live_claimants_for_an_hour_do_not_give_the_rerun_up() {
        // Several instances whose GitHub actors a rate limit pauses: each claim is taken
        // over when its 60 s lease runs out, for an hour, and no outcome is recorded.
        let lease_ms = 60_000;
        let mut state = Some(failed_run());
        let mut now = 20;
        let mut owner = 0;
        while now < 20 + 60 * 60 * 1000 {
            owner += 1;
            let claim = Claim { owner, lease_ms };
            let claimed = apply_change(state, &RunChange::Claim { now, claim });
            assert!(
                matches!(claimed.result, ChangeResult::Claimed(Some(_))),
                "claim {owner}: {:?}",
                claimed.result
            );
            state = claimed.state;
            now += lease_ms;
        }
        // The last claimant's pause ends: its claim is still its own, and it may POST.
        let renew = RunChange::Renew {
            now: now - lease_ms + 1,
            attempt: 1,
            claim: Claim { owner, lease_ms },
        };
        assert_eq!(
            apply_change(state, &renew).result,
            ChangeResult::Renewed(true)
        );
    }

    #[test]
    fn a_long_lease_stretches_the_time_bound() {
        // Five leases of an hour each are longer than two hours: the bound is theirs.
        let lease_ms = 60 * 60 * 1000;
        let mut state = failed_run();
        state.claims = MAX_UNRECORDED_CLAIMS;
        state.first_unrecorded_claim_at = Some(0);
        assert!(!unrecorded_claims_exhausted(&state, 3 * lease_ms, lease_ms));
        assert!(unrecorded_claims_exhausted(&state, 5 * lease_ms, lease_ms));
        // A row written before the time was kept: its next claim starts the clock.
        state.first_unrecorded_claim_at = None;
        assert!(!unrecorded_claims_exhausted(&state, u64::MAX, lease_ms));
    }

    #[test]
    fn a_recorded_outcome_counts_the_claims_afresh() {
        let mut state = Some(failed_run());
        let mut now = 20;
        let retry = RetryPolicy {
            still_running_every_ms: 1,
            still_running_tries: 100,
            gave_up_first_ms: 1,
            gave_up_max_ms: 1,
            gave_up_tries: 1,
        };
        // Twice as many claims as the bound, each answered (GitHub: still running).
        for _ in 0..2 * MAX_UNRECORDED_CLAIMS {
            let claimed = apply_change(state, &claim_at(now));
            let ChangeResult::Claimed(Some(rerun)) = claimed.result else {
                panic!("not claimed: {:?}", claimed.result);
            };
            let record = RunChange::Record {
                now,
                claimed: rerun,
                owner: CLAIM.owner,
                outcome: RerunOutcome::StillRunning,
                retry,
            };
            state = apply_change(claimed.state, &record).state;
            now += 10;
        }
        assert_eq!(state.expect("state").claims, 0);
    }

    #[test]
    fn expiry_counts_events_this_process_saw_but_did_not_store() {
        let run = apply_change(None, &event(1, JobAction::Unfinished)).state;
        let kept = apply_change(
            run.clone(),
            &RunChange::Expire {
                now: 1_000,
                ttl_ms: 500,
                last_seen: 900,
            },
        );
        assert_eq!(kept.result, ChangeResult::Expired(false));
        let gone = apply_change(
            run,
            &RunChange::Expire {
                now: 1_000,
                ttl_ms: 500,
                last_seen: 10,
            },
        );
        assert_eq!(gone.persist, Persist::Delete);
    }

    fn evidence_rules(toml: &str) -> Policy {
        Policy {
            rules: Some(Arc::new(
                crate::policy::parse(
                    toml,
                    crate::policy::PolicySource::Inline,
                    &crate::policy::EnvDefaults::default(),
                )
                .expect("valid"),
            )),
            ..policy()
        }
    }

    /// A failed run whose re-run waits for evidence, claimed by `CLAIM.owner` at 20.
    fn claimed_for_evidence() -> (RunState, ClaimedRerun) {
        let mut run = failed_run();
        run.rerun = RerunState::Scheduled {
            due_at: 10,
            decided_by: Some("d".into()),
            needs_evidence: true,
            debug_logging: false,
        };
        let claimed = apply_change(
            Some(run),
            &RunChange::Claim {
                now: 20,
                claim: CLAIM,
            },
        );
        let ChangeResult::Claimed(Some(rerun)) = claimed.result else {
            panic!("claimed: {:?}", claimed.result);
        };
        assert!(rerun.needs_evidence);
        assert_eq!(rerun.evidence_jobs.len(), 1, "the failed job, by id");
        assert_eq!(rerun.evidence_jobs[0].id, JobId(1));
        (claimed.state.expect("state"), rerun)
    }

    fn decide(owner: u64, log: &str, toml: &str) -> RunChange {
        let policy = evidence_rules(toml);
        let evidence = [crate::policy::JobEvidence {
            job: JobId(1),
            annotations: crate::policy::Fetched::Got(Vec::new()),
            log: crate::policy::Fetched::Got(log.into()),
        }];
        let rule = policy
            .rules
            .as_ref()
            .expect("a policy")
            .rule_for("o/r", "ci")
            .clone();
        let judged = crate::policy::judge(&rule, &evidence, &mut crate::policy::Unbounded);
        RunChange::Decide {
            now: 30,
            attempt: 1,
            claim: Claim { owner, ..CLAIM },
            repo: "o/r".into(),
            workflow: "ci".into(),
            judged: Arc::new(judged),
            policy,
        }
    }

    #[test]
    fn a_broken_log_closes_the_claimed_attempt_as_skipped_and_records_the_decision() {
        let (run, _) = claimed_for_evidence();
        let toml = "[defaults]\nnever_when = ['(?i)assertion.*failed']\n";
        let applied = apply_change(
            Some(run),
            &decide(CLAIM.owner, "Assertion x failed\n", toml),
        );
        let ChangeResult::Decided { claimed, decision } = &applied.result else {
            panic!("{:?}", applied.result);
        };
        assert_eq!(claimed, &None, "no POST");
        assert!(decision.is_some());
        let record = applied.decision.expect("recorded");
        assert_eq!(
            (record.verdict, record.reason),
            ("skip", Some(Reason::BrokenLog))
        );
        assert_eq!(record.evidence.as_deref(), Some("Assertion x failed"));
        assert_eq!(applied.history.map(|h| h.outcome.label()), Some("skipped"));
        let state = applied.state.expect("state");
        assert!(matches!(state.rerun, RerunState::Done { .. }));
        assert_eq!(state.pending_rerun_at(), None, "final: never claimed again");
    }

    #[test]
    fn a_rerun_decided_on_evidence_keeps_the_claim_and_is_not_fetched_again_after_a_restart() {
        let (run, _) = claimed_for_evidence();
        let toml = "[defaults]\nonly_when = ['ECONNRESET']\n";
        let applied = apply_change(Some(run), &decide(CLAIM.owner, "read ECONNRESET\n", toml));
        let ChangeResult::Decided { claimed, decision } = &applied.result else {
            panic!("{:?}", applied.result);
        };
        let claimed = claimed.as_ref().expect("to be performed");
        assert!(!claimed.needs_evidence);
        assert!(decision.is_some());
        assert_eq!(applied.decision.map(|d| d.counts), Some(true));
        let state = applied.state.expect("state");
        assert_eq!(
            state.pending_rerun_at(),
            Some(30 + CLAIM.lease_ms),
            "lease renewed"
        );
        // The process dies before the POST: the next claim performs it, no fetch.
        let again = apply_change(
            Some(state),
            &RunChange::Claim {
                now: 30 + CLAIM.lease_ms,
                claim: Claim { owner: 6, ..CLAIM },
            },
        );
        let ChangeResult::Claimed(Some(retaken)) = again.result else {
            panic!("{:?}", again.result);
        };
        assert!(!retaken.needs_evidence, "the decision is kept");
    }

    #[test]
    fn evidence_for_a_claim_another_process_took_over_changes_nothing() {
        let (run, _) = claimed_for_evidence();
        let toml = "[defaults]\nnever_when = ['boom']\n";
        let applied = apply_change(Some(run.clone()), &decide(9, "boom\n", toml));
        assert_eq!(applied.persist, Persist::Unchanged);
        assert_eq!(
            applied.result,
            ChangeResult::Decided {
                claimed: None,
                decision: None
            }
        );
        assert_eq!(applied.decision, None);
        assert_eq!(applied.state, Some(run));
    }

    #[test]
    fn a_claim_lost_before_its_evidence_came_is_claimed_and_fetched_again() {
        let (run, _) = claimed_for_evidence();
        let again = apply_change(
            Some(run),
            &RunChange::Claim {
                now: 20 + CLAIM.lease_ms,
                claim: Claim { owner: 6, ..CLAIM },
            },
        );
        let ChangeResult::Claimed(Some(retaken)) = again.result else {
            panic!("{:?}", again.result);
        };
        assert!(retaken.needs_evidence);
    }
}
