//! `RunTracker`: one actor per workflow run.
//!
//! Role: serialises the events of one run, commits each state change before the
//! webhook is answered, and owns the run's re-run timer: `RERUN_DELAY` after the run
//! looks finished with a failed job it hands the re-run to the GitHub actor, unless a
//! new job of the same attempt showed up first.
//!
//! State: the run's [`RunState`] (attempt, jobs, re-run), read from the store when the
//! tracker starts; the delivery ids it has answered recently; its timers.
//!
//! Messages: [`Track`] (one webhook event, answered with the HTTP reply). The tracker
//! retires (leaves the registry and stops) once its run is settled for
//! `TRACKER_LINGER`, or when it saw no event for `RUN_TTL`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use slog::{Logger, debug, error, info, o, warn};

use super::github::RerunRequest;
use super::registry::{RegistryLink, TrackError, TrackerDeps};
use crate::ids::RunKey;
use crate::run::{JobAction, JobEvent, Policy, Reply, RerunOutcome, RunState, TimerChange};
use crate::store::{RerunRecord, Write};

/// How many answered delivery ids a tracker remembers, to answer a redelivery alike.
const REMEMBERED_DELIVERIES: usize = 16;

/// One `workflow_job` event for this tracker's run.
#[derive(Message)]
#[rtype(result = "Result<Reply, TrackError>")]
pub struct Track(pub JobEvent);

/// The tracker of one run. See the module documentation.
pub struct RunTracker {
    key: RunKey,
    id: u64,
    deps: Arc<TrackerDeps>,
    registry: RegistryLink,
    mailbox: Arc<AtomicUsize>,
    waiting: Arc<AtomicUsize>,
    log: Logger,
    state: Option<RunState>,
    deliveries: VecDeque<(String, Reply)>,
    /// The delivery that decided the pending re-run, to trace it to the API call.
    decided_by: Option<String>,
    rerun_timer: Option<SpawnHandle>,
    linger_timer: Option<SpawnHandle>,
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl RunTracker {
    /// A tracker for `key`; its state is read from the store when it starts.
    pub fn new(
        key: RunKey,
        id: u64,
        deps: Arc<TrackerDeps>,
        registry: RegistryLink,
        mailbox: Arc<AtomicUsize>,
        waiting: Arc<AtomicUsize>,
    ) -> Self {
        let log = deps
            .log
            .new(o!("actor" => "run_tracker", "repo" => key.repo.to_string(),
            "run_id" => key.run_id.0));
        Self {
            key,
            id,
            deps,
            registry,
            mailbox,
            waiting,
            log,
            state: None,
            deliveries: VecDeque::new(),
            decided_by: None,
            rerun_timer: None,
            linger_timer: None,
        }
    }

    fn policy(&self, branch: &str) -> Policy {
        let settings = &self.deps.settings;
        Policy {
            rerun_delay_ms: settings.rerun_delay.as_millis() as u64,
            branch_eligible: settings.branches.allows(branch),
        }
    }

    fn remember(&mut self, delivery: Option<String>, reply: &Reply) {
        if let Some(delivery) = delivery {
            if self.deliveries.len() == REMEMBERED_DELIVERIES {
                self.deliveries.pop_front();
            }
            self.deliveries.push_back((delivery, reply.clone()));
        }
    }

    fn answered_before(&self, delivery: Option<&str>) -> Option<Reply> {
        let delivery = delivery?;
        self.deliveries
            .iter()
            .find(|(seen, _)| seen == delivery)
            .map(|(_, reply)| reply.clone())
    }

    fn apply_timer(&mut self, change: TimerChange, ctx: &mut Context<Self>) {
        match change {
            TimerChange::Keep => {}
            TimerChange::Cancel => {
                if let Some(timer) = self.rerun_timer.take() {
                    ctx.cancel_future(timer);
                    info!(
                        self.log,
                        "re-run cancelled: a new job of the attempt showed up, or a newer attempt"
                    );
                }
            }
            TimerChange::Arm(due_at) => {
                if let Some(timer) = self.rerun_timer.take() {
                    ctx.cancel_future(timer);
                }
                let delay = Duration::from_millis(due_at.saturating_sub(now_ms()));
                self.rerun_timer = Some(ctx.run_later(delay, |act, ctx| act.rerun_due(ctx)));
            }
        }
    }

    /// The re-run timer fired: hand the re-run to the GitHub actor and await its outcome.
    fn rerun_due(&mut self, ctx: &mut Context<Self>) {
        self.rerun_timer = None;
        let Some(state) = self.state.as_mut() else {
            return;
        };
        let Some(attempt) = state.take_due_rerun() else {
            return;
        };
        let request = RerunRequest {
            run: self.key.clone(),
            attempt,
            decided_by: self.decided_by.clone(),
        };
        info!(self.log, "re-run handed to the GitHub actor"; "run_attempt" => attempt,
            "delivery" => request.decided_by.clone().unwrap_or_default());
        let sent = self.deps.github.send(request);
        ctx.spawn(sent.into_actor(self).map(move |answer, act, ctx| {
            let outcome = answer.unwrap_or_else(|_| RerunOutcome::GaveUp {
                tries: 0,
                last_error: "the GitHub actor is gone".into(),
            });
            act.rerun_answered(attempt, outcome, ctx);
        }));
    }

    /// The GitHub actor answered: record the outcome (state and history, one commit).
    fn rerun_answered(&mut self, attempt: u32, outcome: RerunOutcome, ctx: &mut Context<Self>) {
        let Some(state) = self.state.as_ref() else {
            return;
        };
        let mut next = state.clone();
        next.record_outcome(attempt, outcome.clone());
        let now = now_ms();
        let record = RerunRecord {
            attempt,
            failed_jobs: next
                .jobs
                .iter()
                .filter(|job| job.conclusion.is_some_and(|c| c.is_failure()))
                .map(|job| job.name.clone())
                .collect(),
            outcome: outcome.clone(),
            workflow: next.workflow.clone(),
            branch: next.branch.clone(),
            finished_at: now,
        };
        let level_warn = !matches!(
            outcome,
            RerunOutcome::Started | RerunOutcome::AlreadyRerun { .. }
        );
        if level_warn {
            warn!(self.log, "re-run not performed"; "run_attempt" => attempt, "outcome" => outcome.label(), "detail" => ?outcome);
        } else {
            info!(self.log, "re-run answered"; "run_attempt" => attempt, "outcome" => outcome.label());
        }
        let write = Write::SaveRun {
            key: self.key.clone(),
            state: next.clone(),
            now,
            rerun: Some(Box::new(record)),
        };
        // Events wait until the outcome is committed, so they see the attempt settled.
        ctx.wait(
            self.deps
                .store
                .write(write)
                .into_actor(self)
                .map(move |committed, act, ctx| {
                    if let Err(err) = committed {
                        // Memory still moves on; the next commit of this run writes it all. After a
                        // crash before that, the re-run is resumed and GitHub's attempt shows it done.
                        error!(act.log, "recording the re-run outcome failed"; "error" => %err);
                    }
                    act.state = Some(next);
                    act.decided_by = None;
                    act.settle(ctx);
                }),
        );
    }

    /// Starts or stops the linger countdown depending on whether the run is settled.
    fn settle(&mut self, ctx: &mut Context<Self>) {
        let settled = self.state.as_ref().is_none_or(RunState::is_settled);
        match (settled, self.linger_timer.is_some()) {
            (true, false) => {
                let linger = self.deps.settings.tracker_linger;
                self.linger_timer =
                    Some(ctx.run_later(linger, |act, ctx| act.retire(ctx, "settled")));
            }
            (false, true) => {
                if let Some(timer) = self.linger_timer.take() {
                    ctx.cancel_future(timer);
                }
            }
            _ => {}
        }
    }

    /// Leaves the registry and stops; the run's state stays in the store.
    fn retire(&mut self, ctx: &mut Context<Self>, why: &'static str) {
        debug!(self.log, "tracker retiring"; "why" => why);
        if let Some(registry) = self.registry.upgrade() {
            registry.forget(&self.key, self.id);
        }
        ctx.stop();
    }

    /// Checks for a run that went quiet for `RUN_TTL` (lost deliveries) and forgets it.
    fn check_ttl(&mut self, ctx: &mut Context<Self>) {
        let ttl = self.deps.settings.run_ttl;
        let Some(state) = self.state.as_ref() else {
            return self.retire(ctx, "no state");
        };
        let now = now_ms();
        match state.expires_at(ttl.as_millis() as u64) {
            Some(at) if at <= now => {}
            later => {
                let wait = later.map_or(ttl, |at| Duration::from_millis(at - now));
                ctx.run_later(wait.max(Duration::from_millis(100)), |act, ctx| {
                    act.check_ttl(ctx)
                });
                return;
            }
        }
        let quiet_for = Duration::from_millis(now.saturating_sub(state.last_event_at));
        warn!(self.log, "run expired without finishing (lost deliveries?)";
            "run_attempt" => state.attempt, "unfinished_jobs" => state.unfinished_jobs(),
            "quiet_s" => quiet_for.as_secs());
        let delete = self.deps.store.write(Write::DeleteRun {
            key: self.key.clone(),
        });
        ctx.wait(delete.into_actor(self).map(|deleted, act, ctx| {
            if let Err(err) = deleted {
                error!(act.log, "forgetting the expired run failed"; "error" => %err);
            }
            act.retire(ctx, "expired");
        }));
    }
}

impl Actor for RunTracker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        debug!(self.log, "actor started"; "tracker" => self.id);
        let load = self.deps.store.load(&self.key);
        // No event is handled before the run's state is back from the store.
        ctx.wait(load.into_actor(self).map(|loaded, act, ctx| match loaded {
            Ok(state) => {
                act.state = state.map(|mut state| {
                    state.resume(now_ms());
                    state
                });
                if let Some(due_at) = act.state.as_ref().and_then(RunState::pending_rerun_at) {
                    info!(act.log, "resuming a decided re-run"; "due_in_ms" => due_at.saturating_sub(now_ms()));
                    act.apply_timer(TimerChange::Arm(due_at), ctx);
                }
                let ttl = act.deps.settings.run_ttl;
                ctx.run_later(ttl, |act, ctx| act.check_ttl(ctx));
            }
            Err(err) => {
                error!(act.log, "cannot read the run from the store"; "error" => %err);
                act.retire(ctx, "store unavailable");
            }
        }));
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        debug!(self.log, "actor stopped"; "tracker" => self.id);
    }
}

impl Handler<Track> for RunTracker {
    type Result = AtomicResponse<Self, Result<Reply, TrackError>>;

    fn handle(&mut self, Track(event): Track, ctx: &mut Self::Context) -> Self::Result {
        let mailbox = self
            .mailbox
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1);
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let log = self.log.new(
            o!("run_attempt" => event.run_attempt, "job_id" => event.job_id.0,
            "delivery" => event.delivery.clone().unwrap_or_default()),
        );
        if let Some(reply) = self.answered_before(event.delivery.as_deref()) {
            debug!(log, "message handled"; "message" => "Track", "redelivery" => true,
                "status" => reply.status, "mailbox" => mailbox);
            return AtomicResponse::new(Box::pin(fut::ready(Ok(reply))));
        }
        let now = now_ms();
        let policy = self.policy(&event.branch);
        let (next, verdict) = match &self.state {
            None => RunState::first_event(&event, now, &policy),
            Some(state) => {
                let mut next = state.clone();
                let verdict = next.apply(&event, now, &policy);
                (next, verdict)
            }
        };
        let conclusion = match event.action {
            JobAction::Completed(conclusion) => conclusion.as_str(),
            JobAction::Unfinished => "",
        };
        debug!(log, "message handled"; "message" => "Track", "conclusion" => conclusion,
            "status" => verdict.reply.status, "decision" => verdict.reply.reason,
            "changed" => verdict.changed, "mailbox" => mailbox);
        if let TimerChange::Arm(_) = verdict.timer {
            self.decided_by = event.delivery.clone();
            info!(log, "re-run scheduled"; "delay_ms" => policy.rerun_delay_ms,
                "failed_jobs" => next.jobs.iter().filter(|j| j.conclusion.is_some_and(|c| c.is_failure())).count());
        }
        let delivery = event.delivery;
        if !verdict.changed {
            self.state = Some(next);
            self.remember(delivery, &verdict.reply);
            return AtomicResponse::new(Box::pin(fut::ready(Ok(verdict.reply))));
        }
        let write = Write::SaveRun {
            key: self.key.clone(),
            state: next.clone(),
            now,
            rerun: None,
        };
        let commit = self.deps.store.write(write);
        let _ = ctx;
        AtomicResponse::new(Box::pin(commit.into_actor(self).map(
            move |committed, act, ctx| match committed {
                Ok(()) => {
                    act.state = Some(next);
                    act.apply_timer(verdict.timer, ctx);
                    act.remember(delivery, &verdict.reply);
                    act.settle(ctx);
                    Ok(verdict.reply)
                }
                Err(err) => {
                    error!(log, "commit failed; the event is refused so GitHub can redeliver it";
                        "error" => %err);
                    Err(TrackError::Store(err))
                }
            },
        )))
    }
}
