//! The tracker's side of `workflow_run`: [`TrackRun`] (a `workflow_run.completed`
//! event, one commit, `RunChange::RunEnded`). A re-run it schedules with `needs_jobs`
//! lists the attempt's jobs when claimed, in the claim's one gathering
//! (`judging.rs`). A process that dies during the listing loses nothing: the lease
//! runs out and the next claim lists the jobs again.

use std::sync::Arc;

use actix::prelude::*;
use slog::{debug, error, info};

use super::TrackError;
use super::{RunTracker, TrackResponse};
use crate::clock::now_ms;
use crate::run::{ChangeResult, Reply, RunChange, RunEvent};

/// One `workflow_run.completed` event for this tracker's run.
#[derive(Message)]
#[rtype(result = "Result<Reply, TrackError>")]
pub struct TrackRun(pub Arc<RunEvent>);

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
