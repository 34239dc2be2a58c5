use super::*;
use crate::policy::{Reason, Verdict};
use crate::run::{NextStep, RerunOutcome};

const IDLE_MS: u64 = 60_000;

fn state(rerun: RerunState) -> RunState {
    let mut state = RunState::one_failed_job(rerun);
    state.answered = vec![1, 2, 3];
    state
}

fn scheduled(due_at: u64) -> RunState {
    state(RerunState::Scheduled {
        due_at,
        decided_by: None,
        needs_evidence: false,
        debug_logging: false,
    })
}

fn claimed(next: NextStep) -> ClaimedRerun {
    ClaimedRerun {
        attempt: 1,
        decided_by: Some("d-1".into()),
        failed_jobs: vec!["test".into()],
        evidence_jobs: Vec::new(),
        next,
        debug_logging: false,
        installation: None,
    }
}

fn skip() -> Decision {
    Decision {
        verdict: Verdict::Skip {
            reason: Reason::NoTransientMatch,
        },
        job: None,
        evidence: Some("error[E0308]: mismatched types".into()),
        pattern: None,
    }
}

#[test]
fn claim_retries_after_store_failures_double_from_a_second_to_a_minute() {
    let waits: Vec<u64> = (1..=9).map(|n| store_retry_after(n).as_secs()).collect();
    assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(store_retry_after(u8::MAX), STORE_RETRY_MAX);
}

#[test]
fn a_rerun_due_soon_arms_the_timer_for_when_it_is_due_and_drops_the_delivery_tokens() {
    let mut tracked = Tracked::new(0);
    let timer = tracked.adopt(Some(scheduled(10_500)), 10_000, IDLE_MS, false);
    assert_eq!(timer, Timer::Arm(Duration::from_millis(500)));
    let cached = tracked.state.as_ref().expect("cached");
    assert!(
        cached.answered.is_empty(),
        "the store recognises redeliveries"
    );
    assert!(tracked.known);
    assert_eq!(tracked.last_active_ms, 10_000);
}

#[test]
fn a_rerun_due_beyond_the_idle_time_is_left_to_the_poller() {
    let mut tracked = Tracked::new(0);
    let far = 10_000 + IDLE_MS * 10;
    assert_eq!(
        tracked.adopt(Some(scheduled(far)), 10_000, IDLE_MS, false),
        Timer::Disarm
    );
}

#[test]
fn a_pending_claim_retry_keeps_its_backoff_and_a_claim_with_github_arms_nothing() {
    let mut tracked = Tracked::new(0);
    assert_eq!(
        tracked.adopt(Some(scheduled(10_000)), 10_000, IDLE_MS, true),
        Timer::Keep
    );
    tracked.awaiting_github = true;
    assert_eq!(
        tracked.adopt(Some(scheduled(10_000)), 10_000, IDLE_MS, false),
        Timer::Disarm
    );
}

#[test]
fn a_committed_claim_goes_with_the_github_actor_and_ends_a_run_of_failures() {
    let mut tracked = Tracked::new(0);
    assert_eq!(tracked.claim_failed(), Duration::from_secs(1));
    assert_eq!(tracked.claim_failed(), Duration::from_secs(2));
    let go = claimed(NextStep::Post);
    let (recovered, after) = tracked.claimed(ChangeResult::Claimed(Some(go.clone())));
    assert!(recovered, "the recovery is reported once");
    assert_eq!(after, AfterClaim::Go(go));
    assert!(tracked.awaiting_github);
    assert!(!tracked.may_claim(false), "one claim at a time");
    let (again, _) = tracked.claimed(ChangeResult::Claimed(None));
    assert!(!again);
}

#[test]
fn a_claim_that_found_nothing_due_or_gave_up_leaves_nothing_with_github() {
    let mut tracked = Tracked::new(0);
    let (_, nothing) = tracked.claimed(ChangeResult::Claimed(None));
    assert_eq!(nothing, AfterClaim::Nothing);
    let (_, gave_up) = tracked.claimed(ChangeResult::GaveUp {
        attempt: 1,
        claims: 9,
    });
    assert_eq!(
        gave_up,
        AfterClaim::GaveUp {
            attempt: 1,
            claims: 9
        }
    );
    assert!(tracked.may_claim(false));
    assert!(
        !tracked.may_claim(true),
        "a pending retry claims in its time"
    );
}

#[test]
fn a_decision_to_rerun_goes_on_with_the_claim() {
    let mut tracked = Tracked::new(0);
    tracked.awaiting_github = true;
    let go = claimed(NextStep::Post);
    let (decision, after) = tracked.decided(
        ChangeResult::Decided {
            claimed: Some(go.clone()),
            decision: None,
        },
        None,
    );
    assert_eq!((decision, after), (None, AfterDecision::Go(go)));
    assert!(tracked.awaiting_github);
}

#[test]
fn a_skip_closes_the_attempt_and_is_reported() {
    let mut tracked = Tracked::new(0);
    tracked.awaiting_github = true;
    let done = state(RerunState::Done {
        outcome: RerunOutcome::Started,
    });
    let (decision, after) = tracked.decided(
        ChangeResult::Decided {
            claimed: None,
            decision: Some(skip()),
        },
        Some(&done),
    );
    assert_eq!((decision, after), (Some(skip()), AfterDecision::Closed));
    assert!(!tracked.awaiting_github);
}

#[test]
fn no_decision_with_the_rerun_scheduled_again_is_a_storm_holding_it() {
    let mut tracked = Tracked::new(0);
    let held = scheduled(99_000);
    let (decision, after) = tracked.decided(
        ChangeResult::Decided {
            claimed: None,
            decision: None,
        },
        Some(&held),
    );
    assert_eq!(decision, None);
    assert_eq!(after, AfterDecision::Held { due_at: 99_000 });
    let (_, lost) = tracked.decided(ChangeResult::Recorded, Some(&held));
    assert_eq!(
        lost,
        AfterDecision::Nothing,
        "another result: nothing to do"
    );
}

#[test]
fn a_quiet_tracker_stays_while_something_is_pending_and_retires_when_it_knows_nothing() {
    let tracked = Tracked::new(0);
    assert_eq!(tracked.quiet(1_000_000, 1_000, true), Quiet::Stay);
    assert_eq!(
        tracked.quiet(1_000_000, 1_000, false),
        Quiet::Retire("state not known")
    );
    let mut known = Tracked::new(0);
    known.adopt(None, 0, IDLE_MS, false);
    assert_eq!(
        known.quiet(1_000_000, 1_000, false),
        Quiet::Retire("no state")
    );
}

#[test]
fn a_run_quiet_for_its_ttl_expires_and_one_seen_lately_stays() {
    let mut tracked = Tracked::new(0);
    let done = state(RerunState::Done {
        outcome: RerunOutcome::Started,
    });
    tracked.adopt(Some(done), 2_000, IDLE_MS, false);
    assert_eq!(tracked.quiet(2_500, 1_000, false), Quiet::Stay);
    assert_eq!(
        tracked.quiet(3_000, 1_000, false),
        Quiet::Expire { last_seen: 2_000 }
    );
}
