use super::super::*;
use super::*;
use crate::ids::{RepoName, RunId, RunKey};

const DELAY: u64 = 5_000;
const OWNER: u64 = 77;
const CLAIM: Claim = Claim {
    owner: OWNER,
    lease_ms: 60_000,
};
const RETRY: RetryPolicy = RetryPolicy {
    still_running_every_ms: 100,
    still_running_tries: 2,
    gave_up_first_ms: 1_000,
    gave_up_max_ms: 3_000,
    gave_up_tries: 3,
};

/// Claims the re-run as the timer would once it is due.
fn take_due(run: &mut RunState) -> Option<u32> {
    run.claim(1_000_000, &CLAIM).map(|claimed| claimed.attempt)
}

fn policy() -> RunConfig {
    RunConfig {
        rerun_delay_ms: DELAY,
        branch_eligible: true,
        ..RunConfig::default()
    }
}

fn event(job: u64, attempt: u32, action: JobAction) -> JobEvent {
    JobEvent {
        delivery: None,
        run: RunKey {
            repo: RepoName::parse("org/repo").expect("valid"),
            run_id: RunId(7),
        },
        run_attempt: attempt,
        job_id: JobId(job),
        job_name: format!("job-{job}").into(),
        workflow_name: "ci".into(),
        branch: "master".into(),
        action,
        ran_steps: true,
        failed_steps: Vec::new(),
        installation: None,
        head_sha: None,
        beyond_attempts: None,
        ran_ms: None,
    }
}

fn queued(job: u64) -> JobEvent {
    event(job, 1, JobAction::Unfinished)
}

fn completed(job: u64, conclusion: Conclusion) -> JobEvent {
    event(job, 1, JobAction::Completed(conclusion))
}

/// A run whose jobs were all queued at t=0.
fn run_with_jobs(jobs: &[u64]) -> RunState {
    let (mut state, _) = RunState::first_event(&queued(jobs[0]), 0, &policy());
    for &job in &jobs[1..] {
        state.apply(&queued(job), 0, &policy());
    }
    state
}

#[test]
fn the_runs_installation_is_kept_and_goes_with_its_claimed_rerun() {
    let from = |event: JobEvent, id| JobEvent {
        installation: Some(InstallationId(id)),
        ..event
    };
    let (mut run, _) = RunState::first_event(&from(queued(1), 7), 0, &policy());
    assert_eq!(run.installation, Some(InstallationId(7)));
    // A delivery without one (say, a repository webhook as well) leaves it.
    let verdict = run.apply(&completed(1, Conclusion::Failure), 10, &policy());
    assert_eq!(verdict.reply.status, 201);
    assert_eq!(run.installation, Some(InstallationId(7)));
    let claim = Claim {
        owner: 1,
        lease_ms: 1000,
    };
    let claimed = run.claim(u64::MAX / 2, &claim).expect("due");
    assert_eq!(claimed.installation, Some(InstallationId(7)));
    let json = serde_json::to_string(&run).expect("encodes");
    assert!(json.contains(r#""installation":7"#), "{json}");
    let old_row: RunState =
        serde_json::from_str(&json.replace(r#","installation":7"#, "")).expect("decodes");
    assert_eq!(
        old_row.installation, None,
        "rows written before it was kept"
    );
}

#[test]
fn the_last_failed_completion_schedules_one_rerun_after_the_delay() {
    let mut run = run_with_jobs(&[1, 2, 3]);
    assert_eq!(
        run.apply(&completed(1, Conclusion::Success), 10, &policy())
            .reply
            .status,
        202
    );
    assert_eq!(
        run.apply(&completed(2, Conclusion::Failure), 20, &policy())
            .reply
            .status,
        202
    );
    let last = run.apply(&completed(3, Conclusion::Success), 30, &policy());
    assert_eq!(last.reply.status, 201);
    assert!(last.changed);
    assert_eq!(last.timer, TimerChange::Arm(30 + DELAY));
    assert_eq!(run.pending_rerun_at(), Some(30 + DELAY));
}

#[test]
fn a_run_without_failures_answers_200_and_schedules_nothing() {
    let mut run = run_with_jobs(&[1, 2]);
    run.apply(&completed(1, Conclusion::Success), 1, &policy());
    let last = run.apply(&completed(2, Conclusion::Skipped), 2, &policy());
    assert_eq!(last.reply.status, 200);
    assert_eq!(last.timer, TimerChange::Keep);
    assert!(run.is_settled());
}

#[test]
fn cancelled_and_skipped_jobs_do_not_trigger_a_rerun() {
    let mut run = run_with_jobs(&[1, 2]);
    run.apply(&completed(1, Conclusion::Cancelled), 1, &policy());
    assert_eq!(
        run.apply(&completed(2, Conclusion::Skipped), 2, &policy())
            .reply
            .status,
        200
    );
}

#[test]
fn timed_out_counts_as_failed() {
    let mut run = run_with_jobs(&[1]);
    assert_eq!(
        run.apply(&completed(1, Conclusion::TimedOut), 1, &policy())
            .reply
            .status,
        201
    );
}

#[test]
fn an_ineligible_branch_answers_200_without_a_rerun() {
    let mut run = run_with_jobs(&[1]);
    let ineligible = RunConfig {
        branch_eligible: false,
        ..policy()
    };
    let last = run.apply(&completed(1, Conclusion::Failure), 1, &ineligible);
    assert_eq!(last.reply.status, 200);
    assert_eq!(last.timer, TimerChange::Keep);
    assert_eq!(run.rerun, RerunState::Idle);
}

#[test]
fn a_redelivered_completion_changes_nothing_and_schedules_no_second_rerun() {
    let mut run = run_with_jobs(&[1]);
    let first = run.apply(&completed(1, Conclusion::Failure), 1, &policy());
    let again = run.apply(&completed(1, Conclusion::Failure), 2, &policy());
    assert_eq!(first.reply.status, 201);
    assert_eq!(again.reply.status, 201);
    assert!(!again.changed);
    assert_eq!(again.timer, TimerChange::Keep);
    assert_eq!(
        run.pending_rerun_at(),
        Some(1 + DELAY),
        "the due time must not move"
    );
}

#[test]
fn a_late_queued_for_a_completed_job_does_not_reopen_it() {
    let mut run = run_with_jobs(&[1, 2]);
    run.apply(&completed(1, Conclusion::Failure), 1, &policy());
    run.apply(&completed(2, Conclusion::Success), 2, &policy());
    let late = run.apply(&event(1, 1, JobAction::Unfinished), 3, &policy());
    assert_eq!(late.reply.status, 202);
    assert!(!late.changed);
    assert_eq!(late.timer, TimerChange::Keep);
    assert_eq!(run.unfinished_jobs(), 0);
    assert!(matches!(run.rerun, RerunState::Scheduled { .. }));
}

#[test]
fn a_job_queued_after_the_run_looked_finished_cancels_the_scheduled_rerun() {
    let mut run = run_with_jobs(&[1]);
    run.apply(&completed(1, Conclusion::Failure), 1, &policy());
    let needs = run.apply(&queued(2), 2, &policy());
    assert_eq!(needs.reply.status, 202);
    assert_eq!(needs.timer, TimerChange::Cancel);
    assert_eq!(run.rerun, RerunState::Idle);
    // When the late job completes, the run is finished again and the re-run comes back.
    let last = run.apply(&completed(2, Conclusion::Skipped), 3, &policy());
    assert_eq!(last.reply.status, 201);
    assert_eq!(last.timer, TimerChange::Arm(3 + DELAY));
}

#[test]
fn a_completion_with_no_record_answers_404_and_is_not_rerun_alone() {
    let (run, verdict) = RunState::first_event(&completed(1, Conclusion::Failure), 5, &policy());
    assert_eq!(verdict.reply.status, 404);
    assert!(
        verdict.changed,
        "kept so that a late queued can put it right"
    );
    assert_eq!(verdict.timer, TimerChange::Keep);
    assert_eq!(run.rerun, RerunState::Idle);
}

#[test]
fn a_late_queued_confirms_a_run_first_seen_completed() {
    let (mut run, _) = RunState::first_event(&completed(1, Conclusion::Failure), 5, &policy());
    let redelivered = run.apply(&completed(1, Conclusion::Failure), 6, &policy());
    assert_eq!(
        redelivered.reply.status, 404,
        "a repeat is not a new record"
    );
    let late = run.apply(&queued(1), 7, &policy());
    assert_eq!(late.reply.status, 202);
    assert_eq!(late.timer, TimerChange::Arm(7 + DELAY));
}

#[test]
fn a_newer_attempt_starts_afresh_and_older_events_are_ignored() {
    let mut run = run_with_jobs(&[1]);
    run.apply(&completed(1, Conclusion::Failure), 1, &policy());
    assert_eq!(take_due(&mut run), Some(1));
    assert!(run.record_outcome(1, OWNER, RerunOutcome::Started, 0, &RETRY));

    let next = run.apply(&event(10, 2, JobAction::Unfinished), 2, &policy());
    assert_eq!(next.reply.status, 202);
    assert!(next.changed);
    assert_eq!(run.attempt, 2);
    assert_eq!(run.jobs.len(), 1);
    assert_eq!(run.rerun, RerunState::Idle);

    let stale = run.apply(&completed(1, Conclusion::Failure), 3, &policy());
    assert_eq!(stale.reply.status, 200);
    assert!(!stale.changed);
    let stale_queued = run.apply(&queued(5), 3, &policy());
    assert_eq!(stale_queued.reply.status, 202);
    assert!(!stale_queued.changed);
    assert_eq!(run.jobs.len(), 1);
}

#[test]
fn a_newer_attempt_cancels_a_scheduled_rerun_of_the_older_one() {
    let mut run = run_with_jobs(&[1]);
    run.apply(&completed(1, Conclusion::Failure), 1, &policy());
    let next = run.apply(&event(10, 2, JobAction::Unfinished), 2, &policy());
    assert_eq!(next.timer, TimerChange::Cancel);
    assert_eq!(take_due(&mut run), None);
}

#[test]
fn an_outcome_for_an_older_attempt_is_not_recorded_on_the_new_one() {
    let mut run = run_with_jobs(&[1]);
    run.apply(&completed(1, Conclusion::Failure), 1, &policy());
    take_due(&mut run);
    run.apply(&event(10, 2, JobAction::Unfinished), 2, &policy());
    assert!(!run.record_outcome(1, OWNER, RerunOutcome::Started, 0, &RETRY));
    assert_eq!(run.rerun, RerunState::Idle);
}

#[test]
fn a_final_outcome_closes_the_attempt() {
    let mut run = run_with_jobs(&[1, 2]);
    run.apply(&completed(1, Conclusion::Failure), 1, &policy());
    run.apply(&completed(2, Conclusion::Success), 1, &policy());
    take_due(&mut run);
    assert!(run.record_outcome(1, OWNER, RerunOutcome::Started, 5, &RETRY));
    assert!(run.is_settled());
    let late = run.apply(
        &event(3, 1, JobAction::Completed(Conclusion::Failure)),
        2,
        &policy(),
    );
    assert_eq!(late.timer, TimerChange::Keep, "an attempt is re-run once");
    assert_eq!(late.reply.status, 201);
}

#[test]
fn a_run_still_in_progress_is_looked_at_again_a_bounded_number_of_times() {
    let mut run = run_with_jobs(&[1]);
    run.apply(&completed(1, Conclusion::Failure), 1, &policy());
    for look in 0..2 {
        take_due(&mut run).expect("due");
        assert!(run.record_outcome(1, OWNER, RerunOutcome::StillRunning, 1_000, &RETRY));
        assert_eq!(
            run.pending_rerun_at(),
            Some(1_100),
            "look {look}: due again after the poll interval"
        );
    }
    take_due(&mut run).expect("due");
    run.record_outcome(1, OWNER, RerunOutcome::StillRunning, 1_000, &RETRY);
    assert_eq!(run.pending_rerun_at(), None, "the looks are used up");
    // A later completion of the attempt opens it again.
    let later = run.apply(&completed(2, Conclusion::Success), 9, &policy());
    assert_eq!(later.timer, TimerChange::Arm(9 + DELAY));
}

#[test]
fn an_outage_schedules_the_rerun_again_with_growing_waits() {
    let mut run = run_with_jobs(&[1]);
    run.apply(&completed(1, Conclusion::Failure), 1, &policy());
    let gave_up = || RerunOutcome::GaveUp {
        tries: 10,
        last_error: "HTTP 502".into(),
    };
    let mut waits = Vec::new();
    for _ in 0..3 {
        take_due(&mut run).expect("due");
        run.record_outcome(1, OWNER, gave_up(), 10_000, &RETRY);
        waits.push(run.pending_rerun_at().map(|at| at - 10_000));
    }
    assert_eq!(waits, vec![Some(1_000), Some(2_000), Some(3_000)]);
    take_due(&mut run).expect("due");
    run.record_outcome(1, OWNER, gave_up(), 10_000, &RETRY);
    assert_eq!(
        run.pending_rerun_at(),
        None,
        "tries used up: given up for good, and logged"
    );
}

#[test]
fn a_claim_is_taken_over_only_after_its_lease_ran_out() {
    let mut run = run_with_jobs(&[1]);
    let done = run.apply(&completed(1, Conclusion::Failure), 1, &policy());
    assert_eq!(done.timer, TimerChange::Arm(1 + DELAY));
    assert_eq!(run.claim(DELAY, &CLAIM), None, "not due yet");
    let claimed = run.claim(1 + DELAY, &CLAIM).expect("due");
    assert_eq!(claimed.attempt, 1);
    assert_eq!(claimed.failed_jobs, vec!["job-1".to_string()]);
    let other = Claim {
        owner: 99,
        lease_ms: 60_000,
    };
    assert_eq!(run.claim(2 + DELAY, &other), None, "the first claim holds");
    assert!(run.renew(30_000, 1, &CLAIM), "the claimant may extend it");
    assert!(!run.renew(30_000, 1, &other), "nobody else may");
    assert_eq!(run.pending_rerun_at(), Some(90_000));
    // The claimant died: once the lease ran out another process takes the re-run over.
    assert!(run.claim(90_000, &other).is_some());
    // The old claimant's answer is void (it only counts the claims afresh).
    run.record_outcome(1, OWNER, RerunOutcome::Started, 0, &RETRY);
    assert!(
        matches!(run.rerun, RerunState::InFlight { owner: 99, .. }),
        "the old claimant's answer is void"
    );
    assert_eq!(run.claims, 0);
    assert!(run.record_outcome(1, 99, RerunOutcome::Started, 0, &RETRY));
    assert_eq!(run.pending_rerun_at(), None);
}

#[test]
fn a_job_that_fails_then_passes_on_the_automatic_rerun_is_flaky() {
    let mut run = run_with_jobs(&[1, 2]);
    run.apply(&completed(1, Conclusion::Failure), 1, &policy());
    run.apply(&completed(2, Conclusion::Failure), 1, &policy());
    take_due(&mut run);
    run.record_outcome(1, OWNER, RerunOutcome::Started, 2, &RETRY);
    // Attempt 2 re-runs both failed jobs (new ids, same names).
    run.apply(&event(11, 2, JobAction::Unfinished), 3, &policy());
    let mut second = event(11, 2, JobAction::Completed(Conclusion::Success));
    second.job_name = "job-1".into();
    let passed = run.apply(&second, 4, &policy());
    assert_eq!(passed.flaky.as_deref(), Some("job-1"));
    let mut again = event(12, 2, JobAction::Completed(Conclusion::Failure));
    again.job_name = "job-2".into();
    assert_eq!(
        run.apply(&again, 5, &policy()).flaky,
        None,
        "failing again is not flaky"
    );
    let repeat = run.apply(&second, 6, &policy());
    assert_eq!(repeat.flaky, None, "counted once");
}

#[test]
fn a_job_that_fails_again_after_the_automatic_rerun_is_reported_once() {
    let mut run = run_with_jobs(&[1]);
    run.apply(&completed(1, Conclusion::Failure), 1, &policy());
    take_due(&mut run);
    run.record_outcome(1, OWNER, RerunOutcome::Started, 2, &RETRY);
    let mut again = event(11, 2, JobAction::Completed(Conclusion::Failure));
    again.job_name = "job-1".into();
    let verdict = run.apply(&again, 3, &policy());
    assert_eq!(verdict.failed_again.as_deref(), Some("job-1"));
    assert_eq!(verdict.flaky, None);
    assert_eq!(run.apply(&again, 4, &policy()).failed_again, None, "once");
}

#[test]
fn a_quiet_run_expires_after_the_ttl_unless_a_rerun_is_pending() {
    let mut run = run_with_jobs(&[1, 2]);
    run.apply(&completed(1, Conclusion::Failure), 100, &policy());
    assert_eq!(
        run.expires_at(1_000),
        Some(1_100),
        "counted from the last event"
    );
    run.apply(&completed(2, Conclusion::Success), 200, &policy());
    assert_eq!(
        run.expires_at(1_000),
        None,
        "a decided re-run is never forgotten"
    );
    take_due(&mut run);
    assert_eq!(run.expires_at(1_000), None, "nor one in flight");
    run.record_outcome(1, OWNER, RerunOutcome::Started, 0, &RETRY);
    assert_eq!(run.expires_at(1_000), Some(1_200));
}

fn with_rules(toml: &str) -> RunConfig {
    let rules = crate::policy::parse(
        toml,
        crate::policy::PolicySource::Inline,
        &crate::policy::EnvDefaults::default(),
    )
    .expect("a valid policy");
    RunConfig {
        rules: Some(Arc::new(rules)),
        ..policy()
    }
}

fn never_started(job: u64) -> JobEvent {
    JobEvent {
        ran_steps: false,
        ..completed(job, Conclusion::Failure)
    }
}

fn skipped_reason(run: &RunState) -> Option<policy::Reason> {
    match &run.rerun {
        RerunState::Done {
            outcome: RerunOutcome::Skipped { reason, .. },
        } => Some(*reason),
        _ => None,
    }
}

#[test]
fn a_failed_job_that_ran_no_step_closes_the_attempt_as_skipped_without_any_policy() {
    let mut run = run_with_jobs(&[1, 2]);
    run.apply(&never_started(1), 1, &policy());
    let last = run.apply(&completed(2, Conclusion::Success), 2, &policy());
    assert_eq!(last.reply.status, 200);
    assert!(
        last.reply.reason.ends_with("(not_started)"),
        "{}",
        last.reply.reason
    );
    assert_eq!(last.timer, TimerChange::Keep);
    assert!(matches!(last.decision, Some(Decided::Now(_))));
    assert_eq!(skipped_reason(&run), Some(policy::Reason::NotStarted));
    assert_eq!(
        take_due(&mut run),
        None,
        "a skipped attempt is never claimed"
    );
    let again = run.apply(&completed(3, Conclusion::Failure), 3, &policy());
    assert_eq!(again.reply.status, 200);
    assert_eq!(again.decision, None, "decided once per attempt");
    assert_eq!(take_due(&mut run), None);
}

#[test]
fn a_job_that_never_started_is_skipped_under_a_policy_too_and_a_passing_one_is_not() {
    let rules = with_rules("[defaults]\nbranches = [\"*\"]\n");
    let mut run = run_with_jobs(&[1]);
    assert_eq!(run.apply(&never_started(1), 1, &rules).reply.status, 200);
    assert_eq!(skipped_reason(&run), Some(policy::Reason::NotStarted));
    let mut ran = run_with_jobs(&[1]);
    let verdict = ran.apply(&completed(1, Conclusion::Failure), 1, &rules);
    assert_eq!(verdict.reply.status, 201);
    assert_eq!(
        verdict.timer,
        TimerChange::Arm(1 + 5_000),
        "RERUN_DELAY's default"
    );
}

#[test]
fn the_policys_delay_and_backoff_set_the_stored_due_time() {
    let rules = with_rules("[defaults]\ndelay = \"10s\"\nbackoff = 2.0\n");
    let mut run = run_with_jobs(&[1]);
    run.apply(&completed(1, Conclusion::Failure), 100, &rules);
    assert_eq!(run.pending_rerun_at(), Some(100 + 10_000));
    take_due(&mut run).expect("due");
    assert!(run.record_outcome(1, OWNER, RerunOutcome::Started, 0, &RETRY));
    let mut second = event(5, 3, JobAction::Completed(Conclusion::Failure));
    second.run_attempt = 3;
    run.apply(&second, 200, &rules);
    assert_eq!(
        run.pending_rerun_at(),
        Some(200 + 40_000),
        "re-run 3: 10 s × 2²"
    );
}

#[test]
fn shadow_mode_closes_the_attempt_with_what_it_would_have_done() {
    let rules = with_rules("[defaults]\nmode = \"shadow\"\ndelay = \"3s\"\n");
    let mut run = run_with_jobs(&[1]);
    let verdict = run.apply(&completed(1, Conclusion::Failure), 1, &rules);
    assert_eq!(verdict.reply.status, 200);
    assert_eq!(verdict.reply.reason, "shadow: would re-run after 3s");
    assert_eq!(skipped_reason(&run), Some(policy::Reason::Shadow));
    assert_eq!(take_due(&mut run), None);
}

#[test]
fn a_rule_with_patterns_schedules_the_rerun_marked_as_needing_evidence() {
    let rules = with_rules("[defaults]\nnever_when = ['segfault']\ndelay = \"1s\"\n");
    let mut run = run_with_jobs(&[1]);
    let verdict = run.apply(&completed(1, Conclusion::Failure), 1, &rules);
    assert_eq!(verdict.reply.status, 201);
    assert_eq!(
        verdict.decision,
        Some(Decided::NeedsEvidence { delay_ms: 1_000 })
    );
    let claimed = run.claim(2_000, &CLAIM).expect("due");
    assert!(claimed.needs_evidence());
    assert!(!claimed.debug_logging);
}

#[test]
fn the_last_automatic_rerun_asks_for_debug_logs_when_the_policy_says_so() {
    let rules = with_rules("[defaults]\nattempts = 3\ndebug_last_attempt = true\n");
    let mut run = run_with_jobs(&[1]);
    run.apply(&completed(1, Conclusion::Failure), 1, &rules);
    assert!(!take_claim(&mut run).debug_logging, "re-run 1 of 2");
    run.record_outcome(1, OWNER, RerunOutcome::Started, 0, &RETRY);
    run.apply(
        &event(7, 2, JobAction::Completed(Conclusion::Failure)),
        2,
        &rules,
    );
    let claimed = take_claim(&mut run);
    assert_eq!(claimed.attempt, 2);
    assert!(claimed.debug_logging, "re-run 2 of 2 is the last");
    // A retry after an outage keeps the flag.
    let gave_up = RerunOutcome::GaveUp {
        tries: 1,
        last_error: "HTTP 502".into(),
    };
    run.record_outcome(2, OWNER, gave_up, 0, &RETRY);
    assert!(take_claim(&mut run).debug_logging);
}

fn take_claim(run: &mut RunState) -> ClaimedRerun {
    run.claim(u64::MAX / 2, &CLAIM).expect("due")
}

#[test]
fn a_stored_job_without_ran_steps_reads_as_having_run() {
    let json = r#"{"id":1,"name":"build","conclusion":"failure"}"#;
    let job: TrackedJob = serde_json::from_str(json).expect("an older row");
    assert!(
        job.ran_steps,
        "rows stored before the field never become not_started"
    );
    assert!(job.failed_steps.is_empty());
}

#[test]
fn the_state_round_trips_through_json() {
    let mut run = run_with_jobs(&[1, 2]);
    run.apply(&completed(1, Conclusion::TimedOut), 1, &policy());
    let json = serde_json::to_string(&run).expect("serialise");
    let back: RunState = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, run);
}
