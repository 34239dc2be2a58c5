//! `RunTracker`: one actor per workflow run (per process).
//!
//! Role: serialises the events of one run inside this process and hands each change
//! to the store, which applies it atomically to the stored state (see
//! `crate::store`); answers the webhook once that is committed. Owns the run's re-run
//! timer: when the stored state says a re-run is due, the tracker claims it and hands
//! it to the GitHub actor, then records the outcome.
//!
//! State: a cache of the run's stored [`RunState`], filled by the first transition
//! (it answers events that change nothing without a store round trip, which is safe
//! because a run only moves forward); its timers; whether a re-run it claimed is with
//! the GitHub actor. A tracker is kept small (a whole organisation's
//! live runs are in memory): no logger of its own (one is made when a line is written),
//! no standing TTL timer (the registry's sweep asks), no delivery ids (the stored state
//! keeps 8-byte tokens of the deliveries that changed the run; a completion that
//! changes nothing is handed to the store, which answers a redelivery as before).
//!
//! Messages: [`Track`] (one webhook event, answered with the HTTP reply), [`TrackRun`]
//! (a `workflow_run.completed` event, and the jobs listing it may lead to: `run_end.rs`), [`Wake`]
//! (a poll found the run's re-run due) and [`CheckQuiet`] (the registry's periodic
//! sweep). The tracker sleeps (leaves the registry and stops; `sleep.rs`) once its run
//! has been quiet for `TRACKER_IDLE` with nothing due soon, and expires the run after
//! `RUN_TTL` without events if it is still awake then.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use slog::{Logger, debug, error, info, o, warn};

mod judging;
mod messages;
mod run_end;
mod settings;
mod shared;
mod sleep;
mod tracked;

pub use messages::{CheckQuiet, Track, Wake};
pub use run_end::TrackRun;
pub use settings::TrackerSettings;
pub use shared::{Retire, Shared, TrackError, TrackerDeps};

use messages::{Answered, Judged, RerunDue};
use tracked::{AfterClaim, AfterDecision, Quiet, Timer, Tracked};

use super::github::{PostGuard, ReportDecision, RerunRequest};
use crate::github::check_run;
use crate::ids::RunKey;
use crate::run::{
    Applied, ChangeResult, ClaimedRerun, Decided, JobAction, JobEvent, NextStep, Reply,
    RerunOutcome, RetryPolicy, RunChange, RunConfig, RunState, TimerChange,
};
use crate::store::StoreFuture;

/// After the GitHub actor gave up (an outage), the re-run is scheduled again: first after
/// this long, doubling each time, at most `OUTAGE_MAX_WAIT`, `OUTAGE_TRIES` times
/// (about eight hours in all) before it is given up for good.
const OUTAGE_FIRST_WAIT: Duration = Duration::from_secs(60);
const OUTAGE_MAX_WAIT: Duration = Duration::from_secs(2 * 3600);
const OUTAGE_TRIES: u32 = 8;
/// The tracker of one run. See the module documentation.
pub struct RunTracker {
    key: RunKey,
    id: u64,
    /// What all trackers share: dependencies, the registry, the waiting-message count.
    shared: Arc<Shared>,
    mailbox: Arc<AtomicUsize>,
    /// What it knows of its run, and the steps it takes on it (`tracked.rs`).
    tracked: Tracked,
    rerun_timer: Option<SpawnHandle>,
    /// How many times the re-run timer was armed; `RerunDue` carries it.
    rerun_timer_armed: u32,
}

use crate::clock::now_ms;

impl RunTracker {
    /// A tracker for `key`; its state is read from the store when it starts.
    pub fn new(key: RunKey, id: u64, shared: Arc<Shared>, mailbox: Arc<AtomicUsize>) -> Self {
        Self {
            key,
            id,
            shared,
            mailbox,
            tracked: Tracked::new(now_ms()),
            rerun_timer: None,
            rerun_timer_armed: 0,
        }
    }

    /// Arms the re-run timer to fire after `delay`, replacing any armed one.
    fn arm_rerun_timer(&mut self, delay: Duration, ctx: &mut Context<Self>) {
        self.disarm_rerun_timer(ctx);
        let armed = self.rerun_timer_armed;
        self.rerun_timer =
            Some(ctx.run_later(delay, move |_, ctx| ctx.address().do_send(RerunDue(armed))));
    }

    /// Cancels the re-run timer; a `RerunDue` it already sent is ignored.
    fn disarm_rerun_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.rerun_timer.take() {
            ctx.cancel_future(timer);
        }
        self.rerun_timer_armed = self.rerun_timer_armed.wrapping_add(1);
    }

    /// Whether a claim retry after a store failure is armed (the only timer then).
    fn retry_armed(&self) -> bool {
        self.tracked.claim_failures > 0 && self.rerun_timer.is_some()
    }

    /// Hands a change to the store, timing it for the metrics.
    fn transition(&self, change: RunChange) -> StoreFuture<Applied> {
        self.shared.deps.metrics.count_store_change(change.kind());
        let pending = self.shared.deps.store.transition(&self.key, change);
        let metrics = Arc::clone(&self.shared.deps.metrics);
        let started = Instant::now();
        Box::pin(async move {
            let result = pending.await;
            metrics
                .store_seconds
                .observe(started.elapsed().as_secs_f64());
            result
        })
    }

    fn retry_policy(&self) -> RetryPolicy {
        let settings = &self.shared.deps.settings;
        RetryPolicy {
            still_running_every_ms: settings.poll_interval.as_millis() as u64,
            still_running_tries: settings.poll_tries,
            gave_up_first_ms: OUTAGE_FIRST_WAIT.as_millis() as u64,
            gave_up_max_ms: OUTAGE_MAX_WAIT.as_millis() as u64,
            gave_up_tries: OUTAGE_TRIES,
        }
    }

    /// What the run logic judges this event by: the policy in force now (one `Arc`
    /// clone; the rule for the run is resolved only when the run completes).
    fn policy(&self) -> RunConfig {
        let settings = &self.shared.deps.settings;
        RunConfig {
            rerun_delay_ms: settings.rerun_delay.as_millis() as u64,
            branch_eligible: true,
            rules: Some(self.shared.deps.policy.current()),
            history: crate::policy::History::default(),
        }
    }

    /// The tracker's logger, made when a line is to be written: a logger kept per
    /// tracker would cost every live run a few hundred bytes.
    fn log(&self) -> Logger {
        self.shared.deps.log.new(
            o!("actor" => "run_tracker", "repo" => self.key.repo.to_string(),
            "run_id" => self.key.run_id.0),
        )
    }

    /// Whether debug lines are written at all: they are built only then.
    fn debugging(&self) -> bool {
        self.shared.deps.settings.debugging
    }

    /// Answers an event from the cache (no store trip), with its debug line.
    fn answer_at_once(&self, event: &JobEvent, reply: Reply, mailbox: usize) -> TrackResponse {
        if self.debugging() {
            debug!(self.event_log(event), "message handled"; "message" => "Track",
                "status" => reply.status, "decision" => &*reply.reason, "changed" => false,
                "mailbox" => mailbox);
        }
        AtomicResponse::new(Box::pin(fut::ready(Ok(reply))))
    }

    /// Takes `state` (fresh from the store) as the cache and sets the re-run timer by it
    /// (`Tracked::adopt`).
    fn adopt(&mut self, state: Option<RunState>, ctx: &mut Context<Self>) {
        let idle_ms = self.idle().as_millis() as u64;
        let retry_armed = self.retry_armed();
        match self.tracked.adopt(state, now_ms(), idle_ms, retry_armed) {
            Timer::Keep => {}
            Timer::Arm(delay) => self.arm_rerun_timer(delay, ctx),
            Timer::Disarm => self.disarm_rerun_timer(ctx),
        }
    }

    /// Claims the run's re-run if it is due, and hands it to the GitHub actor.
    ///
    /// At most one claim is under way or pending per run: while one is committed,
    /// messages wait (`ctx.wait`); after a failure, one retry timer is armed (replacing
    /// any other) with exponential backoff, and a poll's `Wake` meanwhile does nothing.
    fn claim_due(&mut self, ctx: &mut Context<Self>) {
        if !self.tracked.may_claim(self.retry_armed()) {
            return;
        }
        let change = RunChange::Claim {
            now: now_ms(),
            claim: self.shared.deps.claim,
        };
        let claiming = self.transition(change);
        // Events wait until the claim is settled, so they see its result.
        ctx.wait(claiming.into_actor(self).map(|claimed, act, ctx| match claimed {
            Ok(applied) => {
                let (recovered, after) = act.tracked.claimed(applied.result);
                if recovered {
                    act.shared.claim_trouble.succeeded(&act.shared.deps.log);
                }
                act.adopt(applied.state, ctx);
                match after {
                    AfterClaim::Go(claimed) => act.go_on(claimed, ctx),
                    AfterClaim::GaveUp { attempt, claims } => {
                        act.shared.deps.metrics.reruns.with_label_values(&["gave_up"]).inc();
                        warn!(act.log(), "re-run given up: claimed again and again without an outcome recorded";
                            "run_attempt" => attempt, "claims" => claims);
                    }
                    AfterClaim::Nothing => {}
                }
            }
            Err(err) => {
                let retry_after = act.tracked.claim_failed();
                act.shared.claim_trouble.failed(&act.shared.deps.log, &err);
                if act.debugging() {
                    debug!(act.log(), "claiming the due re-run failed"; "error" => %err,
                        "failures" => act.tracked.claim_failures);
                }
                act.arm_rerun_timer(retry_after, ctx);
            }
        }));
    }

    /// Takes a claimed re-run its next step: gather what its decision needs, or POST.
    fn go_on(&mut self, claimed: ClaimedRerun, ctx: &mut Context<Self>) {
        match claimed.next {
            NextStep::Gather { .. } => self.gather(claimed, ctx),
            NextStep::Post => self.perform(claimed, ctx),
        }
    }

    /// Commits the decision on what the GitHub actor gathered for a claimed re-run
    /// (`RunChange::Decide`): a re-run goes on (to the POST; to another gathering
    /// only when evidence is wanted that did not come with the jobs), a skip or a
    /// lost claim ends here.
    fn commit_decision(
        &mut self,
        change: RunChange,
        claimed: &ClaimedRerun,
        on: &'static str,
        ctx: &mut Context<Self>,
    ) {
        let cost = match &change {
            RunChange::Decide { cost, .. } => Some(*cost),
            _ => None,
        };
        let delivery = claimed.decided_by.clone().unwrap_or_default();
        let attempt = claimed.attempt;
        let deciding = self.transition(change);
        ctx.wait(deciding.into_actor(self).map(move |decided, act, ctx| {
            let applied = match decided {
                Ok(applied) => applied,
                Err(err) => {
                    // The claim stays in the store; when its lease runs out the re-run is
                    // claimed and what it needs fetched again.
                    error!(act.log(), "recording the decision failed"; "on" => on, "error" => %err);
                    act.tracked.answered();
                    return act.adopt(act.tracked.state.clone(), ctx);
                }
            };
            let (decision, after) = act.tracked.decided(applied.result, applied.state.as_ref());
            if let Some(decision) = &decision {
                let (verdict, reason, job, evidence) =
                    decision_fields(&Decided::Now(decision.clone()));
                act.shared
                    .deps
                    .metrics
                    .count_decision(verdict, reason.unwrap_or_default());
                info!(act.log(), "re-run decided"; "decision" => verdict, "reason" => reason,
                    "job" => job, "evidence" => evidence,
                    "pattern" => decision.pattern.as_deref(), "run_attempt" => attempt,
                    "delivery" => delivery, "on" => on,
                    "api_calls" => cost.map(|c| c.api_calls),
                    "log_bytes" => cost.map(|c| c.log_bytes));
            }
            if let AfterDecision::Held { due_at } = after {
                info!(act.log(), "re-run held while a storm lasts"; "run_attempt" => attempt,
                    "looks_again_in_s" => due_at.saturating_sub(now_ms()) / 1000);
            }
            act.adopt(applied.state, ctx);
            match (after, decision) {
                (AfterDecision::Go(claimed), _) => act.go_on(claimed, ctx),
                (AfterDecision::Closed, Some(decision)) => {
                    act.report(Reported::Decided(&Decided::Now(decision)));
                }
                _ => {}
            }
        }));
    }

    /// The check the GitHub actor makes right before the POST: this process's claim on
    /// `attempt`'s re-run, extended in the store (`RunChange::Renew`), still holds.
    fn post_guard(&self, attempt: u32) -> PostGuard {
        let (store, key, claim, metrics) = (
            Arc::clone(&self.shared.deps.store),
            self.key.clone(),
            self.shared.deps.claim,
            Arc::clone(&self.shared.deps.metrics),
        );
        Arc::new(move || {
            let change = RunChange::Renew {
                now: now_ms(),
                attempt,
                claim,
            };
            metrics.count_store_change(change.kind());
            let renewing = store.transition(&key, change);
            Box::pin(async move {
                let applied = renewing.await.map_err(|err| err.to_string())?;
                Ok(applied.result == ChangeResult::Renewed(true))
            })
        })
    }

    /// Hands a claimed re-run to the GitHub actor and records its answer.
    fn perform(&mut self, claimed: ClaimedRerun, ctx: &mut Context<Self>) {
        let request = RerunRequest {
            run: self.key.clone(),
            claimed: claimed.clone(),
            guard: self.post_guard(claimed.attempt),
        };
        info!(self.log(), "re-run handed to the GitHub actor"; "run_attempt" => claimed.attempt,
            "delivery" => claimed.decided_by.clone().unwrap_or_default());
        let sent = self.shared.deps.github.send(request);
        ctx.spawn(sent.into_actor(self).map(move |answer, _, ctx| {
            let outcome = answer.unwrap_or_else(|_| RerunOutcome::GaveUp {
                tries: 0,
                last_error: "the GitHub actor is gone".into(),
            });
            ctx.address().do_send(Answered { claimed, outcome });
        }));
    }

    /// Records the GitHub actor's answer: the attempt's state and the history, one commit.
    pub(super) fn record(
        &mut self,
        claimed: ClaimedRerun,
        outcome: RerunOutcome,
        ctx: &mut Context<Self>,
    ) {
        self.tracked.answered();
        self.shared
            .deps
            .metrics
            .reruns
            .with_label_values(&[outcome.label()])
            .inc();
        let delivery = claimed.decided_by.clone().unwrap_or_default();
        if matches!(
            outcome,
            RerunOutcome::Started | RerunOutcome::AlreadyRerun { .. }
        ) {
            info!(self.log(), "re-run answered"; "run_attempt" => claimed.attempt,
                "outcome" => outcome.label(), "delivery" => delivery);
        } else if outcome.is_trouble() {
            warn!(self.log(), "re-run not performed"; "run_attempt" => claimed.attempt,
                "outcome" => outcome.label(), "detail" => %outcome, "delivery" => delivery);
        } else {
            // A dry run, a policy skip: what the service was told to do.
            info!(self.log(), "re-run not performed"; "run_attempt" => claimed.attempt,
                "outcome" => outcome.label(), "detail" => %outcome, "delivery" => delivery);
        }
        let started = (outcome == RerunOutcome::Started)
            .then(|| (claimed.attempt, claimed.failed_jobs.clone()));
        let change = RunChange::Record {
            now: now_ms(),
            claimed,
            owner: self.shared.deps.claim.owner,
            outcome,
            retry: self.retry_policy(),
        };
        let recording = self.transition(change);
        ctx.wait(
            recording
                .into_actor(self)
                .map(move |recorded, act, ctx| match recorded {
                    Ok(applied) => {
                        act.adopt(applied.state, ctx);
                        if let Some((attempt, failed_jobs)) = &started {
                            let failed_jobs = failed_jobs.as_slice();
                            act.report(Reported::Started {
                                attempt: *attempt,
                                failed_jobs,
                            });
                        }
                    }
                    Err(err) => {
                        // The claim stays in the store; when its lease runs out the re-run is taken
                        // up again, and GitHub's newer attempt shows it was done.
                        error!(act.log(), "recording the re-run outcome failed"; "error" => %err);
                        act.adopt(act.tracked.state.clone(), ctx);
                    }
                }),
        );
    }

    /// Counts a webhook message off the mailbox counters; the tracker's mailbox depth.
    fn count_off(&self) -> usize {
        self.shared.waiting.fetch_sub(1, Ordering::Relaxed);
        self.mailbox
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1)
    }

    /// Drops the cache (it may hold a change the store did not take): the next change
    /// reads the stored state again.
    fn forget_cache(&mut self) {
        self.tracked.forget();
    }

    /// Leaves the registry and stops; the run's state stays in the store.
    fn retire(&mut self, ctx: &mut Context<Self>, why: &'static str) {
        if self.debugging() {
            debug!(self.log(), "tracker retiring"; "why" => why);
        }
        (self.shared.retire)(&self.key, self.id);
        ctx.stop();
    }

    /// Forgets a run that went quiet for `RUN_TTL` (its deliveries were lost).
    fn check_quiet(&mut self, ctx: &mut Context<Self>) {
        let ttl_ms = self.shared.deps.settings.run_ttl.as_millis() as u64;
        let now = now_ms();
        let last_seen = match self.tracked.quiet(now, ttl_ms, self.pending()) {
            Quiet::Stay => return,
            Quiet::Retire(why) => return self.retire(ctx, why),
            Quiet::Expire { last_seen } => last_seen,
        };
        let change = RunChange::Expire {
            now,
            ttl_ms,
            last_seen,
        };
        let expiring = self.transition(change);
        ctx.wait(expiring.into_actor(self).map(move |expired, act, ctx| match expired {
            Ok(applied) if applied.result == ChangeResult::Expired(true) => {
                if let Some(state) = &act.tracked.state {
                    warn!(act.log(), "run expired without finishing (lost deliveries?)";
                        "run_attempt" => state.attempt, "unfinished_jobs" => state.unfinished_jobs());
                }
                act.retire(ctx, "expired");
            }
            Ok(applied) => act.adopt(applied.state, ctx),
            // The next sweep tries again.
            Err(err) => error!(act.log(), "expiring the quiet run failed"; "error" => %err),
        }));
    }

    /// The logger for lines about one event: the tracker's, with the event's ids.
    fn event_log(&self, event: &JobEvent) -> Logger {
        self.log().new(
            o!("run_attempt" => event.run_attempt, "job_id" => event.job_id.0,
            "delivery" => event.delivery.clone().unwrap_or_default()),
        )
    }

    /// Reports a committed decision as a check run (the GitHub actor drops it unless
    /// `REPORT=check_run` and the App is configured): a started re-run, or a skip by
    /// the policy (not shadow mode). Only for a run of an App installation with a
    /// known commit; sent once, after the commit, never stored.
    fn report(&self, what: Reported<'_>) {
        let Some(state) = self.tracked.state.as_ref() else {
            return;
        };
        let (Some(installation), Some(head_sha)) = (state.installation, state.head_sha) else {
            return;
        };
        let report = match what {
            Reported::Started {
                attempt,
                failed_jobs,
            } => {
                let rules = self.shared.deps.policy.current();
                let rule = rules.rule_for(self.key.repo.as_str(), &state.workflow);
                let allowed = rule.attempts.saturating_sub(1);
                let evidence = state.rerun_evidence.as_deref();
                check_run::started(head_sha, attempt, allowed, failed_jobs, evidence)
            }
            Reported::Decided(Decided::Now(decision))
                if matches!(decision.verdict, crate::policy::Verdict::Skip { .. }) =>
            {
                check_run::skipped(head_sha, &state.skip_line())
            }
            Reported::Decided(_) => return,
        };
        self.shared.deps.github.do_send(ReportDecision {
            run: self.key.clone(),
            installation,
            report,
        });
    }

    /// The `re-run decided` line (once per attempt: only the committed event that
    /// decided logs it) and the decisions counter.
    fn log_policy_decision(&self, event: &JobEvent, decided: &Decided) {
        self.report(Reported::Decided(decided));
        let (decision, reason, job, evidence) = decision_fields(decided);
        self.shared
            .deps
            .metrics
            .count_decision(decision, reason.unwrap_or_default());
        info!(self.event_log(event), "re-run decided"; "decision" => decision, "reason" => reason,
            "job" => job, "evidence" => evidence);
    }

    fn log_decision(&self, event: &JobEvent, timer: TimerChange) {
        match timer {
            TimerChange::Arm(due_at) => {
                let failed = self
                    .tracked
                    .state
                    .as_ref()
                    .map_or(0, |state| state.failed_job_names().len());
                info!(self.event_log(event), "re-run scheduled";
                    "delay_ms" => due_at.saturating_sub(now_ms()), "due_at" => due_at,
                    "failed_jobs" => failed);
            }
            TimerChange::Cancel => {
                info!(
                    self.event_log(event),
                    "scheduled re-run cancelled: a new job of the attempt, or a newer attempt"
                );
            }
            TimerChange::Keep => {}
        }
    }
}

/// What [`RunTracker::report`] reports.
enum Reported<'a> {
    /// The GitHub actor started the re-run of `attempt`.
    Started {
        attempt: u32,
        failed_jobs: &'a [String],
    },
    /// The policy decided (only a skip is reported).
    Decided(&'a Decided),
}

/// A decision's `decision`, `reason`, `job` and `evidence`, for the `re-run decided`
/// line and the decisions counter.
/// A decision's fields for its log line and its counter: the verdict, the reason (none
/// for a re-run), the job and the evidence, each absent when the decision has none,
/// so that the line leaves them out rather than printing them empty.
fn decision_fields(
    decided: &Decided,
) -> (
    &'static str,
    Option<&'static str>,
    Option<String>,
    Option<String>,
) {
    match decided {
        Decided::Now(decision) => (
            match decision.verdict {
                crate::policy::Verdict::Rerun(_) => "rerun",
                crate::policy::Verdict::Skip { .. } => "skip",
                crate::policy::Verdict::Shadow(_) => "shadow",
            },
            decision.verdict.reason().map(|r| r.as_str()),
            decision.job.as_ref().map(|job| job.name.to_string()),
            decision.evidence.clone(),
        ),
        Decided::NeedsEvidence { .. } => ("needs_evidence", None, None, None),
    }
}

impl Actor for RunTracker {
    type Context = Context<Self>;

    // The state is not read when the actor starts: the first change (an event, or a
    // claim when a poll woke the tracker) reads it inside its own transaction, one store
    // trip instead of two for every new run.
    fn started(&mut self, ctx: &mut Self::Context) {
        if self.debugging() {
            debug!(self.log(), "actor started"; "tracker" => self.id);
        }
        self.arm_idle_timer(self.idle(), ctx);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        if self.debugging() {
            debug!(self.log(), "actor stopped"; "tracker" => self.id);
        }
    }
}

impl Handler<Wake> for RunTracker {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Self::Context) {
        self.claim_due(ctx);
    }
}

impl Handler<RerunDue> for RunTracker {
    type Result = ();

    fn handle(&mut self, RerunDue(armed): RerunDue, ctx: &mut Self::Context) {
        if armed != self.rerun_timer_armed {
            return;
        }
        self.rerun_timer = None;
        self.claim_due(ctx);
    }
}

impl Handler<Answered> for RunTracker {
    type Result = ();

    fn handle(&mut self, Answered { claimed, outcome }: Answered, ctx: &mut Self::Context) {
        self.record(claimed, outcome, ctx);
    }
}

impl Handler<Judged> for RunTracker {
    type Result = ();

    fn handle(&mut self, judged: Judged, ctx: &mut Self::Context) {
        self.decide(judged, ctx);
    }
}

impl Handler<CheckQuiet> for RunTracker {
    type Result = ();

    fn handle(&mut self, _: CheckQuiet, ctx: &mut Self::Context) {
        self.check_quiet(ctx);
    }
}

type TrackResponse = AtomicResponse<RunTracker, Result<Reply, TrackError>>;

impl Handler<Track> for RunTracker {
    type Result = TrackResponse;

    fn handle(&mut self, Track(event): Track, _ctx: &mut Self::Context) -> Self::Result {
        let mailbox = self.count_off();
        let now = now_ms();
        let policy = self.policy();
        if let Some(reply) = self.tracked.answer_from_cache(&event, now, &policy) {
            return self.answer_at_once(&event, reply, mailbox);
        }
        let change = RunChange::Event {
            event: Arc::clone(&event),
            policy,
            now,
        };
        let commit = self.transition(change);
        AtomicResponse::new(Box::pin(commit.into_actor(self).map(move |committed, act, ctx| {
            let applied = match committed {
                Ok(applied) => applied,
                Err(err) => {
                    act.forget_cache();
                    error!(act.event_log(&event), "commit failed; the event is refused so GitHub can redeliver it";
                        "error" => %err);
                    return Err(TrackError::Store(err));
                }
            };
            let ChangeResult::Event(verdict) = applied.result else {
                act.forget_cache();
                return Err(TrackError::Unavailable("the store answered an event with another result".into()));
            };
            act.adopt(applied.state, ctx);
            if act.debugging() {
                let conclusion = match event.action {
                    JobAction::Completed(conclusion) => conclusion.as_str(),
                    JobAction::Unfinished => "",
                };
                debug!(act.event_log(&event), "message handled"; "message" => "Track",
                    "conclusion" => conclusion, "status" => verdict.reply.status,
                    "decision" => &*verdict.reply.reason, "changed" => verdict.changed,
                    "mailbox" => mailbox);
            }
            act.log_decision(&event, verdict.timer);
            if let Some(decided) = &verdict.decision {
                act.log_policy_decision(&event, decided);
            }
            Ok(verdict.reply)
        })))
    }
}
