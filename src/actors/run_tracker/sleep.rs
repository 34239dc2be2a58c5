//! Sleeping: a tracker whose run has been quiet for `TRACKER_IDLE`, with nothing due
//! soon, leaves memory; its run stays in the store.
//!
//! A whole organisation has far more runs in flight than runs doing something this
//! second (a matrix job runs for many minutes between its `in_progress` and its
//! `completed`), so memory follows the runs that are active, not the runs that live.
//! Nothing is lost by sleeping because a tracker holds nothing the store lacks once
//! nothing is pending: every change is committed before it is answered, and the cache
//! is only a copy. What would be lost is what lives in memory only, so a tracker stays
//! awake while any of it exists: a re-run or evidence fetch with the GitHub actor, a
//! re-run timer (armed only for a due time within `TRACKER_IDLE`; one further away is
//! the outbox poller's, which wakes the run from the store when it is due), a claim
//! retry after a store failure (that is the re-run timer too).
//!
//! The next event for the run starts a tracker again (the registry's get-or-create),
//! which reads the run in its first transition, as any new tracker does. An event that
//! reaches this tracker as it stops is never handled by it (actix reads no message once
//! `stop` is called) and is sent again by the registry to the successor.
//!
//! No timer per tracker: the registry's sweep (every half `TRACKER_IDLE`, at most every
//! 5 minutes) sends each tracker awake the `CheckQuiet` it already sent for `RUN_TTL`,
//! so an awake run costs no timer's memory and a new run no timer's set-up; an event
//! costs one store of the time. A tracker sleeps between `TRACKER_IDLE` and one and a
//! half times that after its last message.

use actix::prelude::*;

use super::{RunTracker, now_ms};

/// Whether a re-run due at `due_at` keeps its timer in memory at `now`: only if it is
/// due within `idle_ms`; one further away is left to the outbox poller, so that a run
/// waiting minutes or hours for its re-run sleeps meanwhile.
pub(super) fn timer_in_memory(due_at: u64, now: u64, idle_ms: u64) -> bool {
    due_at.saturating_sub(now) <= idle_ms
}

/// Whether a tracker quiet for `quiet_ms` sleeps: after `idle_ms`, and only with
/// nothing `pending` in its memory alone.
pub(super) fn may_sleep(quiet_ms: u64, idle_ms: u64, pending: bool) -> bool {
    quiet_ms >= idle_ms && !pending
}

impl RunTracker {
    /// `TRACKER_IDLE`.
    pub(super) fn idle(&self) -> std::time::Duration {
        self.shared.deps.settings.tracker_idle
    }

    /// Sleeps (leaves the registry and stops) if the run has been quiet for
    /// `TRACKER_IDLE` with nothing pending; whether it did.
    pub(super) fn sleep_if_quiet(&mut self, ctx: &mut Context<Self>) -> bool {
        let quiet_ms = now_ms().saturating_sub(self.last_active_ms);
        let idle_ms = self.idle().as_millis() as u64;
        if !may_sleep(quiet_ms, idle_ms, self.pending()) {
            return false;
        }
        self.shared.deps.metrics.tracker_sleeps.inc();
        self.retire(ctx, "asleep");
        true
    }

    /// Whether anything lives in this tracker's memory only: a re-run or fetch with the
    /// GitHub actor, a re-run timer, a claim retry (which is the re-run timer too).
    pub(super) fn pending(&self) -> bool {
        self.awaiting_github || self.rerun_timer.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_tracker_with_nothing_pending_sleeps() {
        assert!(may_sleep(30_000, 30_000, false));
        assert!(may_sleep(90_000, 30_000, false));
    }

    #[test]
    fn a_tracker_that_handled_a_message_lately_stays_awake() {
        assert!(!may_sleep(29_999, 30_000, false));
    }

    #[test]
    fn a_tracker_with_a_timer_or_a_github_call_stays_awake_however_quiet() {
        assert!(!may_sleep(3_600_000, 30_000, true));
    }

    #[test]
    fn no_idle_time_sleeps_as_soon_as_nothing_is_pending() {
        assert!(may_sleep(0, 0, false));
        assert!(!may_sleep(0, 0, true));
    }

    #[test]
    fn only_a_rerun_due_within_the_idle_time_keeps_its_timer_in_memory() {
        let now = 1_000_000;
        assert!(timer_in_memory(now + 30_000, now, 30_000));
        assert!(timer_in_memory(now - 5, now, 30_000), "overdue: at once");
        assert!(!timer_in_memory(now + 30_001, now, 30_000));
        assert!(!timer_in_memory(now + 3_600_000, now, 30_000));
    }
}
