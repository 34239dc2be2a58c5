use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::run::{Conclusion, RerunState};

fn action() -> impl Strategy<Value = JobAction> {
    prop_oneof![
        3 => Just(JobAction::Unfinished),
        2 => Just(JobAction::Completed(Conclusion::Failure)),
        2 => Just(JobAction::Completed(Conclusion::Success)),
        1 => Just(JobAction::Completed(Conclusion::TimedOut)),
        1 => Just(JobAction::Completed(Conclusion::Cancelled)),
        1 => Just(JobAction::Completed(Conclusion::Skipped)),
    ]
}

fn outcome() -> impl Strategy<Value = RerunOutcome> {
    prop_oneof![
        3 => Just(RerunOutcome::Started),
        2 => Just(RerunOutcome::StillRunning),
        2 => (1u32..4).prop_map(|tries| RerunOutcome::GaveUp { tries, last_error: "HTTP 502".into() }),
        1 => Just(RerunOutcome::AlreadyRerun { github_attempt: 2 }),
        1 => Just(RerunOutcome::NotNeeded { conclusion: "cancelled".into() }),
        1 => Just(RerunOutcome::Refused { status: 403, message: "no".into() }),
        1 => Just(RerunOutcome::Superseded),
        1 => Just(RerunOutcome::DryRun),
    ]
}

/// Steps over a small world (4 jobs, 3 attempts, 3 processes), so that they collide.
fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (1u64..=4, 1u32..=3, action())
            .prop_map(|(job, attempt, action)| Step::Deliver { job, attempt, action }),
        2 => any::<usize>().prop_map(|nth| Step::Redeliver { nth }),
        3 => prop_oneof![Just(0u64), 1u64..2_000, Just(LEASE_MS + 1)]
            .prop_map(|ms| Step::Wait { ms }),
        3 => (1u64..=3).prop_map(|owner| Step::Claim { owner }),
        1 => (1u64..=3).prop_map(|owner| Step::Renew { owner }),
        2 => (1u64..=3, outcome()).prop_map(|(owner, outcome)| Step::Record { owner, outcome }),
        1 => (1u64..=3, any::<bool>()).prop_map(|(owner, broken)| Step::Decide { owner, broken }),
        2 => (1u32..=3, any::<bool>()).prop_map(|(attempt, failed)| Step::RunEnded { attempt, failed }),
        1 => (1u64..=3, any::<bool>()).prop_map(|(owner, failed)| Step::ListJobs { owner, failed }),
        1 => prop_oneof![Just(0u64), Just(10_000), Just(u64::MAX)]
            .prop_map(|ttl_ms| Step::Expire { ttl_ms }),
    ]
}

proptest! {
    // Modest: the whole property suite stays well under a second.
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_sequence_of_changes_breaks_the_run_invariants(steps in vec(step(), 1..80)) {
        let mut checker = Checker::new();
        if let Err(violation) = checker.run(&steps) {
            prop_assert!(false, "{violation}\nsteps: {steps:#?}");
        }
    }
}

#[test]
fn lease_takeovers_alone_for_under_two_hours_never_close_the_rerun() {
    let failed = JobAction::Completed(Conclusion::Failure);
    let mut checker = Checker::new();
    let mut steps = vec![
        Step::Deliver {
            job: 1,
            attempt: 1,
            action: failed,
        },
        Step::Deliver {
            job: 2,
            attempt: 1,
            action: JobAction::Unfinished,
        },
        Step::Deliver {
            job: 2,
            attempt: 1,
            action: failed,
        },
        Step::Wait { ms: DELAY_MS },
    ];
    // Three processes take the claim over from each other each time its lease runs
    // out, none of them recording an outcome, for just under two hours.
    let takeovers = (UNRECORDED_CLAIMS_FOR_MS - 1) / LEASE_MS;
    for nth in 0..takeovers {
        steps.push(Step::Claim { owner: nth % 3 + 1 });
        steps.push(Step::Wait { ms: LEASE_MS });
    }
    checker.run(&steps).expect("invariants hold");
    let state = checker.state().expect("a run");
    assert!(
        matches!(state.rerun, RerunState::InFlight { .. }),
        "{:?}",
        state.rerun
    );
}

#[test]
fn a_rerun_skipped_on_evidence_is_never_claimed_again_and_a_stale_decision_changes_nothing() {
    let failed = JobAction::Completed(Conclusion::Failure);
    let mut checker = Checker::new();
    checker
        .run(&[
            Step::Deliver {
                job: 1,
                attempt: 1,
                action: failed,
            },
            Step::Deliver {
                job: 1,
                attempt: 1,
                action: JobAction::Unfinished,
            },
            Step::Wait { ms: DELAY_MS },
            Step::Claim { owner: 1 },
            Step::Wait { ms: LEASE_MS },
            Step::Claim { owner: 2 },
            Step::Decide {
                owner: 1,
                broken: false,
            },
            Step::Decide {
                owner: 2,
                broken: true,
            },
            Step::Wait { ms: 10 * LEASE_MS },
            Step::Claim { owner: 3 },
        ])
        .expect("invariants hold");
    let state = checker.state().expect("a run");
    assert!(
        matches!(
            &state.rerun,
            RerunState::Done {
                outcome: RerunOutcome::Skipped {
                    reason: crate::policy::Reason::BrokenLog,
                    ..
                }
            }
        ),
        "{:?}",
        state.rerun
    );
}

#[test]
fn a_failed_run_is_claimed_started_and_never_claimed_again() {
    let failed = JobAction::Completed(Conclusion::Failure);
    let mut checker = Checker::new();
    checker
        .run(&[
            Step::Deliver {
                job: 1,
                attempt: 1,
                action: JobAction::Unfinished,
            },
            Step::Deliver {
                job: 1,
                attempt: 1,
                action: failed,
            },
            Step::Redeliver { nth: 1 },
            Step::Wait { ms: DELAY_MS },
            Step::Claim { owner: 1 },
            Step::Claim { owner: 2 },
            Step::Renew { owner: 1 },
            Step::Record {
                owner: 1,
                outcome: RerunOutcome::Started,
            },
            Step::Wait { ms: 10 * LEASE_MS },
            Step::Claim { owner: 2 },
            Step::Redeliver { nth: 1 },
        ])
        .expect("invariants hold");
    let state = checker.state().expect("a run");
    assert_eq!(
        state.rerun,
        RerunState::Done {
            outcome: RerunOutcome::Started
        }
    );
}

#[test]
fn a_run_known_only_from_its_completion_is_listed_rerun_once_and_late_jobs_change_nothing() {
    let mut checker = Checker::new();
    let late_failure = Step::Deliver {
        job: 1,
        attempt: 1,
        action: JobAction::Completed(Conclusion::Failure),
    };
    checker
        .run(&[
            Step::RunEnded {
                attempt: 1,
                failed: true,
            },
            Step::Redeliver { nth: 0 },
            Step::Wait { ms: DELAY_MS },
            Step::Claim { owner: 1 },
            Step::ListJobs {
                owner: 2,
                failed: true,
            },
            Step::ListJobs {
                owner: 1,
                failed: true,
            },
            Step::Renew { owner: 1 },
            Step::Record {
                owner: 1,
                outcome: RerunOutcome::Started,
            },
            late_failure,
            Step::Redeliver { nth: 0 },
            Step::Wait { ms: 10 * LEASE_MS },
            Step::Claim { owner: 2 },
        ])
        .expect("the invariants hold");
    let state = checker.state().expect("a state");
    assert_eq!(
        state.rerun,
        RerunState::Done {
            outcome: RerunOutcome::Started
        }
    );
    assert!(!state.needs_jobs);
    assert_eq!(checker.started.len(), 1, "one re-run");
}
