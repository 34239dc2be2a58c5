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
//! One timer per awake tracker, armed at start and re-armed only when it fires: an
//! event costs one store of the time, not a timer reset. A sweep of all trackers
//! instead (every half `TRACKER_IDLE`) saved the timer's ~150 bytes per awake run, but
//! put thousands of trackers to sleep in one burst: the reactivations' p99 at half load
//! went from about 1.8 times hot's to about 8 times. Timers spread the sleeps as the
//! events came.

use std::time::Duration;

use actix::prelude::*;

use super::RunTracker;
use crate::clock::now_ms;

/// The idle timer fired: sleep if the run has been quiet long enough.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Drowsy;

/// Whether a re-run due at `due_at` keeps its timer in memory at `now`: only if it is
/// due within `idle_ms`; one further away is left to the outbox poller, so that a run
/// waiting minutes or hours for its re-run sleeps meanwhile.
pub(super) fn timer_in_memory(due_at: u64, now: u64, idle_ms: u64) -> bool {
    due_at.saturating_sub(now) <= idle_ms
}

/// What the idle timer decides when it fires after `quiet_ms` without a message:
/// sleep now, or look again after the returned wait.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum WhenDrowsy {
    Sleep,
    LookAgainIn(Duration),
}

/// The least wait before a busy tracker looks again, so that `TRACKER_IDLE=0` does not
/// spin while a re-run is with the GitHub actor.
const BUSY_LOOK_AGAIN: Duration = Duration::from_millis(50);

/// Sleeps when quiet for `idle` with nothing pending; otherwise looks again when the
/// quiet time would reach `idle` (a busy tracker: after a whole `idle`, at least 50 ms).
pub(super) fn when_drowsy(quiet_ms: u64, idle: Duration, pending: bool) -> WhenDrowsy {
    let idle_ms = idle.as_millis() as u64;
    match (quiet_ms >= idle_ms, pending) {
        (true, false) => WhenDrowsy::Sleep,
        (true, true) => WhenDrowsy::LookAgainIn(idle.max(BUSY_LOOK_AGAIN)),
        (false, _) => WhenDrowsy::LookAgainIn(Duration::from_millis(idle_ms - quiet_ms)),
    }
}

impl RunTracker {
    /// The sleep countdown: `TRACKER_IDLE`.
    pub(super) fn idle(&self) -> Duration {
        self.shared.deps.settings.tracker_idle
    }

    /// Arms the idle timer to fire after `after`.
    pub(super) fn arm_idle_timer(&mut self, after: Duration, ctx: &mut Context<Self>) {
        ctx.run_later(after, |_, ctx| ctx.address().do_send(Drowsy));
    }

    /// Whether anything lives in this tracker's memory only: a re-run or fetch with the
    /// GitHub actor, a re-run timer, a claim retry (which is the re-run timer too).
    pub(super) fn pending(&self) -> bool {
        self.tracked.awaiting_github || self.rerun_timer.is_some()
    }
}

impl Handler<Drowsy> for RunTracker {
    type Result = ();

    fn handle(&mut self, _: Drowsy, ctx: &mut Self::Context) {
        let quiet_ms = now_ms().saturating_sub(self.tracked.last_active_ms);
        match when_drowsy(quiet_ms, self.idle(), self.pending()) {
            WhenDrowsy::Sleep => {
                self.shared.deps.metrics.tracker_sleeps.inc();
                self.retire(ctx, "asleep");
            }
            WhenDrowsy::LookAgainIn(wait) => self.arm_idle_timer(wait, ctx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(30);

    #[test]
    fn a_quiet_tracker_with_nothing_pending_sleeps() {
        assert_eq!(when_drowsy(30_000, IDLE, false), WhenDrowsy::Sleep);
        assert_eq!(when_drowsy(90_000, IDLE, false), WhenDrowsy::Sleep);
    }

    #[test]
    fn a_tracker_that_handled_a_message_lately_looks_again_when_its_quiet_time_is_up() {
        assert_eq!(
            when_drowsy(12_000, IDLE, false),
            WhenDrowsy::LookAgainIn(Duration::from_secs(18))
        );
        assert_eq!(
            when_drowsy(0, IDLE, true),
            WhenDrowsy::LookAgainIn(IDLE),
            "nor does pending work change the countdown of a tracker still busy"
        );
    }

    #[test]
    fn a_tracker_with_a_timer_or_a_github_call_stays_awake_however_quiet() {
        assert_eq!(
            when_drowsy(3_600_000, IDLE, true),
            WhenDrowsy::LookAgainIn(IDLE)
        );
    }

    #[test]
    fn no_idle_time_sleeps_as_soon_as_nothing_is_pending() {
        assert_eq!(when_drowsy(0, Duration::ZERO, false), WhenDrowsy::Sleep);
        assert_eq!(
            when_drowsy(0, Duration::ZERO, true),
            WhenDrowsy::LookAgainIn(BUSY_LOOK_AGAIN),
            "a busy tracker does not spin"
        );
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
