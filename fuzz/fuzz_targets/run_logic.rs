//! The run logic over any sequence of changes to one run (job and workflow_run deliveries, redeliveries, jobs listings,
//! claims by three processes, renewals, outcomes, expiry, time passing), applied as a
//! store applies them; `job_rerunner::run::invariants` checks after each step that no
//! two claims on one attempt are live, nothing is claimed after `started`, the attempt
//! never goes backwards, a redelivery gets its first status, and states survive JSON.

#![no_main]

use job_rerunner::run::invariants::{Checker, Step};
use job_rerunner::run::{Conclusion, JobAction, RerunOutcome};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fn action(u: &mut Unstructured) -> Result<JobAction> {
    Ok(match u.int_in_range(0..=6)? {
        0..=2 => JobAction::Unfinished,
        3 => JobAction::Completed(Conclusion::Failure),
        4 => JobAction::Completed(Conclusion::Success),
        5 => JobAction::Completed(Conclusion::TimedOut),
        _ => JobAction::Completed(*u.choose(&[
            Conclusion::Cancelled,
            Conclusion::Skipped,
            Conclusion::Other,
        ])?),
    })
}

fn outcome(u: &mut Unstructured) -> Result<RerunOutcome> {
    Ok(match u.int_in_range(0..=8)? {
        0..=2 => RerunOutcome::Started,
        3 => RerunOutcome::StillRunning,
        4 => RerunOutcome::GaveUp {
            tries: 3,
            last_error: "HTTP 502".into(),
        },
        5 => RerunOutcome::AlreadyRerun {
            github_attempt: u.int_in_range(1..=4)?,
        },
        6 => RerunOutcome::Refused {
            status: 403,
            message: "Resource not accessible".into(),
        },
        7 => RerunOutcome::NotNeeded {
            conclusion: "cancelled".into(),
        },
        _ => u
            .choose(&[RerunOutcome::Superseded, RerunOutcome::DryRun])?
            .clone(),
    })
}

fn step(u: &mut Unstructured) -> Result<Step> {
    Ok(match u.int_in_range(0..=14)? {
        0..=3 => Step::Deliver {
            job: u.int_in_range(1..=4)?,
            attempt: u.int_in_range(1..=3)?,
            action: action(u)?,
        },
        4 => Step::Redeliver {
            nth: usize::from(u.arbitrary::<u8>()?),
        },
        5 | 6 => Step::Wait {
            ms: *u.choose(&[0, 1, 500, 1_000, 5_001, 60_000])?,
        },
        7 | 8 => Step::Claim {
            owner: u.int_in_range(1..=3)?,
        },
        9 => Step::Renew {
            owner: u.int_in_range(1..=3)?,
        },
        10 => Step::Record {
            owner: u.int_in_range(1..=3)?,
            outcome: outcome(u)?,
        },
        11 => Step::Decide {
            owner: u.int_in_range(1..=3)?,
            broken: u.arbitrary()?,
        },
        12 => Step::RunEnded {
            attempt: u.int_in_range(1..=3)?,
            failed: u.arbitrary()?,
        },
        13 => Step::ListJobs {
            owner: u.int_in_range(1..=3)?,
            failed: u.arbitrary()?,
        },
        _ => Step::Expire {
            ttl_ms: *u.choose(&[0, 10_000, u64::MAX])?,
        },
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut checker = Checker::new();
    let mut steps = Vec::new();
    while !u.is_empty() {
        let Ok(next) = step(&mut u) else {
            break;
        };
        if let Err(violation) = checker.step(&next) {
            steps.push(next);
            panic!("{violation}\nsteps: {steps:#?}");
        }
        steps.push(next);
    }
});
