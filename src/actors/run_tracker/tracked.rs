//! What a tracker knows of its run, and the steps it takes on what the store answers,
//! as a plain struct: no actix, no store, no clock. Each step takes a fact (a commit's
//! result, the time, the settings it needs) and says what the actor is to do next (arm
//! or disarm its timer, gather, POST, retire, …); the actor (`run_tracker.rs`) only
//! carries that out. So the tracker's judgement is tested here without an actor
//! system, and the actor stays a shell of timers, messages and log lines.

use std::time::Duration;

use super::sleep;
use crate::policy::Decision;
use crate::run::{
    ChangeResult, ClaimedRerun, JobAction, JobEvent, Reply, RerunState, RunConfig, RunState,
};

/// How soon a claim is tried again after the store failed: the first wait, doubled
/// after each further failure up to `STORE_RETRY_MAX`, and back to the first after a
/// success.
pub(super) const STORE_RETRY: Duration = Duration::from_secs(1);
pub(super) const STORE_RETRY_MAX: Duration = Duration::from_secs(60);

/// The wait before the next claim after `failures` failed ones in a row (at least one).
pub(super) fn store_retry_after(failures: u8) -> Duration {
    let doublings = u32::from(failures.saturating_sub(1)).min(16);
    STORE_RETRY
        .saturating_mul(1 << doublings)
        .min(STORE_RETRY_MAX)
}

/// The tracker's own bookkeeping of its run.
#[derive(Debug, Default)]
pub(super) struct Tracked {
    /// A cache of the stored state, without delivery tokens.
    pub(super) state: Option<RunState>,
    /// Whether `state` is the stored state: a new tracker learns it from its first
    /// transition; a failed commit makes it unknown again.
    pub(super) known: bool,
    /// When the tracker last handled a message that touched its run (Unix ms): the
    /// start of its quiet time, which sends it to sleep after `TRACKER_IDLE`.
    pub(super) last_active_ms: u64,
    /// A re-run this tracker claimed is with the GitHub actor.
    pub(super) awaiting_github: bool,
    /// Claims that failed in a row (the store did not commit them). While it is not
    /// zero, the re-run timer is the one pending retry: a poll's `Wake` adds none.
    pub(super) claim_failures: u8,
}

/// What the actor does with its re-run timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Timer {
    /// Leave it (a claim retry is pending: re-arming would undo its backoff).
    Keep,
    /// Arm it to fire after this long, replacing any armed one.
    Arm(Duration),
    /// Cancel it.
    Disarm,
}

/// What a committed claim leads to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AfterClaim {
    /// The re-run is this process's: take it its next step.
    Go(ClaimedRerun),
    /// Claimed again and again without an outcome recorded: given up for good.
    GaveUp {
        /// The attempt.
        attempt: u32,
        /// Its claims.
        claims: u32,
    },
    /// Nothing was due, or another process holds it.
    Nothing,
}

/// What a committed decision on a gathered answer leads to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AfterDecision {
    /// A re-run (or a second gathering): take the claim its next step.
    Go(ClaimedRerun),
    /// A storm holds the re-run: it is decided again, on fresh evidence, then.
    Held {
        /// When (unix ms).
        due_at: u64,
    },
    /// The decision closed the attempt (a skip, shadow): it is reported.
    Closed,
    /// Nothing to do: the claim was lost, or the listing closed the attempt without a
    /// decision (no failed job listed, attempts used).
    Nothing,
}

/// What a quiet tracker does at the registry's sweep.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Quiet {
    /// Something lives in its memory only, or the run is not quiet long enough.
    Stay,
    /// It holds nothing the store lacks: it leaves, saying why.
    Retire(&'static str),
    /// The run went quiet for `RUN_TTL`: ask the store to forget it.
    Expire {
        /// The last event this process saw.
        last_seen: u64,
    },
}

impl Tracked {
    /// A tracker that knows nothing yet, active since `now`.
    pub(super) fn new(now: u64) -> Self {
        Self {
            last_active_ms: now,
            ..Self::default()
        }
    }

    /// Takes `state` (fresh from the store) as the cache, without its delivery tokens
    /// (redeliveries are recognised by the store) or spare capacity (a whole
    /// organisation's live runs are in memory), and says what to do with the re-run
    /// timer: fire when a decided re-run is due or its claim runs out, if that is
    /// within `idle_ms` (further away, the outbox poller wakes the run).
    pub(super) fn adopt(
        &mut self,
        mut state: Option<RunState>,
        now: u64,
        idle_ms: u64,
        retry_armed: bool,
    ) -> Timer {
        if let Some(state) = &mut state {
            state.answered = Vec::new();
            state.jobs.shrink_to_fit();
        }
        self.state = state;
        self.known = true;
        self.last_active_ms = now;
        // A pending claim retry stays: it claims whatever is due when it fires, and
        // re-arming for a due time already past would undo its backoff.
        if retry_armed {
            return Timer::Keep;
        }
        let due = self.state.as_ref().and_then(RunState::pending_rerun_at);
        match (due, self.awaiting_github) {
            (Some(due_at), false) if sleep::timer_in_memory(due_at, now, idle_ms) => {
                Timer::Arm(Duration::from_millis(due_at.saturating_sub(now)))
            }
            _ => Timer::Disarm,
        }
    }

    /// Forgets the cache: a commit failed, so the stored state is not known here.
    pub(super) fn forget(&mut self) {
        self.state = None;
        self.known = false;
    }

    /// Whether a claim may be made now: none is with the GitHub actor, and no retry
    /// after a store failure is pending.
    pub(super) fn may_claim(&self, retry_armed: bool) -> bool {
        !self.awaiting_github && !retry_armed
    }

    /// A claim committed: failures in a row end (`true` when there were some, so that
    /// the recovery is reported), and the result says what comes next.
    pub(super) fn claimed(&mut self, result: ChangeResult) -> (bool, AfterClaim) {
        let recovered = std::mem::take(&mut self.claim_failures) > 0;
        let after = match result {
            ChangeResult::Claimed(Some(claimed)) => {
                self.awaiting_github = true;
                AfterClaim::Go(claimed)
            }
            ChangeResult::GaveUp { attempt, claims } => AfterClaim::GaveUp { attempt, claims },
            _ => AfterClaim::Nothing,
        };
        (recovered, after)
    }

    /// A claim failed to commit: how long until the retry (doubling, see
    /// [`store_retry_after`]).
    pub(super) fn claim_failed(&mut self) -> Duration {
        self.claim_failures = self.claim_failures.saturating_add(1);
        store_retry_after(self.claim_failures)
    }

    /// The decision on a gathered answer committed; `state` is the stored state it
    /// left. Gives the decision made (to log and count; to report when it closed the
    /// attempt) and what comes next. A claim that goes on stays with the GitHub actor;
    /// anything else ends it.
    pub(super) fn decided(
        &mut self,
        result: ChangeResult,
        state: Option<&RunState>,
    ) -> (Option<Decision>, AfterDecision) {
        let ChangeResult::Decided { claimed, decision } = result else {
            self.awaiting_github = false;
            return (None, AfterDecision::Nothing);
        };
        if let Some(claimed) = claimed {
            return (decision, AfterDecision::Go(claimed));
        }
        self.awaiting_github = false;
        let after = match (&decision, state.map(|s| &s.rerun)) {
            (Some(_), _) => AfterDecision::Closed,
            // No decision, and scheduled again: a storm holds the re-run.
            (None, Some(RerunState::Scheduled { due_at, .. })) => {
                AfterDecision::Held { due_at: *due_at }
            }
            (None, _) => AfterDecision::Nothing,
        };
        (decision, after)
    }

    /// The GitHub actor's answer came (or the claim's gathering was dropped): the
    /// claim is no longer with it.
    pub(super) fn answered(&mut self) {
        self.awaiting_github = false;
    }

    /// Whether the tracker may leave at the registry's sweep, or its run expire.
    /// `pending`: something lives in its memory only (a claim with the GitHub actor,
    /// a timer, a claim retry).
    pub(super) fn quiet(&self, now: u64, ttl_ms: u64, pending: bool) -> Quiet {
        // A claim retry is pending even when the state is not known (the claim that
        // failed was the tracker's first change): retiring would lose its backoff,
        // and the next poll would claim again at once.
        if pending {
            return Quiet::Stay;
        }
        // A tracker that does not know its state (its only commits failed, or it has
        // none) holds nothing the store lacks: it retires, and the next event or poll
        // starts another. Its first change cannot be on the way: the registry sends
        // the event before the sweep can see the tracker, and messages wait while a
        // commit is awaited.
        if !self.known {
            return Quiet::Retire("state not known");
        }
        let Some(state) = self.state.as_ref() else {
            return Quiet::Retire("no state");
        };
        match state.expires_at(ttl_ms) {
            Some(at) if at <= now => Quiet::Expire {
                last_seen: state.last_event_at,
            },
            _ => Quiet::Stay,
        }
    }

    /// An event answered from the cache, without a store trip, when that is sure to be
    /// the store's answer: a run only moves forward, so an event that changes nothing
    /// in the cache changes nothing in the store either. One that does change it
    /// leaves the cache ahead of the store until the commit answers with the stored
    /// state (or fails, and the cache is dropped).
    pub(super) fn answer_from_cache(
        &mut self,
        event: &JobEvent,
        now: u64,
        policy: &RunConfig,
    ) -> Option<Reply> {
        self.last_active_ms = now;
        let (true, Some(state)) = (self.known, &mut self.state) else {
            return None;
        };
        let verdict = state.apply(event, now, policy);
        // An unfinished job is answered 202 whether or not it is a redelivery; a
        // completion that changes nothing may be a redelivery of the one that decided
        // the run, which the store answers with its first status.
        let completion = matches!(event.action, JobAction::Completed(_));
        (!verdict.changed && !completion).then_some(verdict.reply)
    }
}

#[cfg(test)]
mod tests;
