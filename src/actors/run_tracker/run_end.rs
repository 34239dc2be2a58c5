//! The tracker's side of `workflow_run`: [`TrackRun`] (a `workflow_run.completed`
//! event, one commit, `RunChange::RunEnded`) and the jobs listing of a claimed re-run
//! scheduled with `needs_jobs`: `FetchJobs` to the GitHub actor, whose answer comes
//! back as [`JobsFetched`] and is decided in one commit (`RunChange::JobsListed`).
//! A process that dies during the listing loses nothing: the lease runs out and the
//! next claim lists the jobs again.

use std::sync::Arc;

use actix::prelude::*;
use slog::{debug, error, info};

use super::TrackError;
use super::{RunTracker, TrackResponse};
use crate::actors::github::{FetchJobs, Listed};
use crate::clock::now_ms;
use crate::run::{ChangeResult, ClaimedRerun, Reply, RerunOutcome, RunChange, RunEvent};

/// One `workflow_run.completed` event for this tracker's run.
#[derive(Message)]
#[rtype(result = "Result<Reply, TrackError>")]
pub struct TrackRun(pub Arc<RunEvent>);

/// The GitHub actor answered the jobs listing of a re-run this tracker claimed.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct JobsFetched {
    claimed: ClaimedRerun,
    listed: Listed,
}

impl RunTracker {
    /// Asks the GitHub actor for the attempt's jobs; the answer comes back as
    /// [`JobsFetched`]. The claim stays this process's meanwhile.
    pub(super) fn fetch_jobs(&mut self, claimed: ClaimedRerun, ctx: &mut Context<Self>) {
        let request = FetchJobs {
            run: self.key.clone(),
            attempt: claimed.attempt,
            delivery: claimed.decided_by.clone(),
            installation: claimed.installation,
        };
        info!(self.log(), "jobs listing handed to the GitHub actor"; "run_attempt" => claimed.attempt,
            "delivery" => claimed.decided_by.clone().unwrap_or_default());
        let sent = self.shared.deps.github.send(request);
        ctx.spawn(sent.into_actor(self).map(move |answer, _, ctx| {
            let listed = answer.unwrap_or_else(|_| {
                Err(RerunOutcome::GaveUp {
                    tries: 0,
                    last_error: "the GitHub actor is gone".into(),
                })
            });
            ctx.address().do_send(JobsFetched { claimed, listed });
        }));
    }

    /// Decides the claimed re-run on the listed jobs; a listing that failed is
    /// recorded as the re-run's outcome (an outage schedules it again, jobs listed
    /// again then; a newer attempt closes it).
    fn decide_on_jobs(&mut self, claimed: ClaimedRerun, listed: Listed, ctx: &mut Context<Self>) {
        let jobs = match listed {
            Ok(jobs) => jobs,
            Err(outcome) => return self.record(claimed, outcome, ctx),
        };
        let Some(workflow) = self.state.as_ref().map(|state| state.workflow.to_string()) else {
            // No cache (a failed commit dropped it): the claim runs out and a poll
            // finds it due again; the jobs are listed again then.
            self.awaiting_github = false;
            slog::warn!(self.log(), "jobs listing dropped: the run's state is not known here";
                "run_attempt" => claimed.attempt);
            return;
        };
        let change = RunChange::JobsListed {
            now: now_ms(),
            attempt: claimed.attempt,
            claim: self.shared.deps.claim,
            repo: self.key.repo.to_string(),
            workflow,
            jobs: Arc::new(jobs),
            policy: self.policy(),
        };
        self.commit_decision(change, &claimed, "jobs", ctx);
    }
}

impl Handler<JobsFetched> for RunTracker {
    type Result = ();

    fn handle(&mut self, JobsFetched { claimed, listed }: JobsFetched, ctx: &mut Self::Context) {
        self.decide_on_jobs(claimed, listed, ctx);
    }
}

impl Handler<TrackRun> for RunTracker {
    type Result = TrackResponse;

    fn handle(&mut self, TrackRun(event): TrackRun, _ctx: &mut Self::Context) -> Self::Result {
        let mailbox = self.count_off();
        // Always to the store: one event per attempt, and its redelivery is answered
        // there with its first status.
        let change = RunChange::RunEnded {
            event: Arc::clone(&event),
            policy: self.policy(),
            now: now_ms(),
        };
        let commit = self.transition(change);
        AtomicResponse::new(Box::pin(commit.into_actor(self).map(
            move |committed, act, ctx| {
                let log = act.log();
                let applied = match committed {
                    Ok(applied) => applied,
                    Err(err) => {
                        act.forget_cache();
                        error!(log, "commit failed; the event is refused so GitHub can redeliver it";
                            "run_attempt" => event.run_attempt, "error" => %err);
                        return Err(TrackError::Store(err));
                    }
                };
                let ChangeResult::Event(verdict) = applied.result else {
                    act.forget_cache();
                    return Err(TrackError::Unavailable(
                        "the store answered an event with another result".into(),
                    ));
                };
                act.adopt(applied.state, ctx);
                if act.debugging() {
                    debug!(log, "message handled"; "message" => "TrackRun",
                        "run_attempt" => event.run_attempt, "conclusion" => event.conclusion.as_str(),
                        "status" => verdict.reply.status, "decision" => &*verdict.reply.reason,
                        "changed" => verdict.changed, "mailbox" => mailbox);
                }
                let delivery = event.delivery.clone().unwrap_or_default();
                match verdict.timer {
                    crate::run::TimerChange::Arm(due_at) => {
                        info!(log, "re-run scheduled"; "on" => "workflow_run",
                            "run_attempt" => event.run_attempt, "delivery" => delivery,
                            "delay_ms" => due_at.saturating_sub(now_ms()), "due_at" => due_at);
                    }
                    crate::run::TimerChange::Cancel => {
                        info!(log, "scheduled re-run cancelled: GitHub concluded the run without failure";
                            "run_attempt" => event.run_attempt, "delivery" => delivery);
                    }
                    crate::run::TimerChange::Keep => {}
                }
                if let Some(decided) = &verdict.decision {
                    let (decision, reason, job, evidence) = super::decision_fields(decided);
                    act.shared.deps.metrics.count_decision(decision, reason.unwrap_or_default());
                    info!(log, "re-run decided"; "decision" => decision, "reason" => reason,
                        "job" => job, "evidence" => evidence, "run_attempt" => event.run_attempt);
                }
                Ok(verdict.reply)
            },
        )))
    }
}
