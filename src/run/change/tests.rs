use super::*;
use crate::ids::{JobId, RepoName, RunId, RunKey};
use crate::run::{Conclusion, JobAction, MAX_UNRECORDED_CLAIMS, UNRECORDED_CLAIMS_FOR_MS};

fn policy() -> RunConfig {
    RunConfig {
        rerun_delay_ms: 0,
        branch_eligible: true,
        ..RunConfig::default()
    }
}
const CLAIM: Claim = Claim {
    owner: 5,
    lease_ms: 1_000,
};

fn event(job: u64, action: JobAction) -> RunChange {
    let event = JobEvent {
        delivery: Some(format!("d-{job}-{action:?}")),
        run: RunKey {
            repo: RepoName::parse("o/r").expect("valid"),
            run_id: RunId(1),
        },
        run_attempt: 1,
        job_id: JobId(job),
        job_name: "build".into(),
        workflow_name: "ci".into(),
        branch: "master".into(),
        action,
        ran_steps: true,
        failed_steps: Vec::new(),
        installation: None,
        head_sha: None,
        beyond_attempts: None,
        ran_ms: None,
    };
    RunChange::Event {
        event: Arc::new(event),
        policy: policy(),
        now: 10,
    }
}

fn failed_run() -> RunState {
    let queued = apply_change(None, &event(1, JobAction::Unfinished));
    let done = apply_change(
        queued.state,
        &event(1, JobAction::Completed(Conclusion::Failure)),
    );
    assert_eq!(done.persist, Persist::Save);
    done.state.expect("state")
}

/// Every answer that settles nothing is tried once more, a millisecond later.
const RETRY_ONCE: RetryPolicy = RetryPolicy {
    still_running_every_ms: 1,
    still_running_tries: 1,
    gave_up_first_ms: 1,
    gave_up_max_ms: 1,
    gave_up_tries: 1,
};

fn with_delivery(mut change: RunChange, delivery: &str) -> RunChange {
    if let RunChange::Event { event, .. } = &mut change {
        Arc::make_mut(event).delivery = Some(delivery.to_owned());
    }
    change
}

#[test]
fn a_skip_is_recorded_as_a_decision_and_as_the_attempts_outcome_once() {
    let queued = apply_change(None, &event(1, JobAction::Unfinished));
    let mut completion = event(1, JobAction::Completed(Conclusion::Failure));
    if let RunChange::Event { event, .. } = &mut completion {
        Arc::make_mut(event).ran_steps = false;
    }
    let skipped = apply_change(queued.state, &completion);
    assert_eq!(status_of(&skipped), 200);
    let decision = skipped.decision.expect("recorded");
    assert_eq!(decision.verdict, "skip");
    assert_eq!(decision.reason, Some(Reason::NotStarted));
    assert_eq!(decision.job.as_deref(), Some("build"));
    assert!(!decision.counts, "a skip spends no budget");
    let record = skipped.history.expect("the attempt's outcome");
    assert_eq!(record.outcome.label(), "skipped");
    let again = apply_change(skipped.state, &completion);
    assert_eq!(status_of(&again), 200, "a redelivery: its first answer");
    assert_eq!(again.decision, None);
    assert_eq!(again.history, None);
}

#[test]
fn only_a_completion_under_a_budget_or_stop_when_useless_reads_the_history() {
    let rules = |toml: &str| {
        Arc::new(
            crate::policy::parse(
                toml,
                crate::policy::PolicySource::Inline,
                &crate::policy::EnvDefaults::default(),
            )
            .expect("valid"),
        )
    };
    let with = |action, toml: &str| {
        let mut change = event(1, action);
        if let RunChange::Event { policy, .. } = &mut change {
            policy.rules = Some(rules(toml));
        }
        change
    };
    let failed = JobAction::Completed(Conclusion::Failure);
    assert!(with(failed, "[defaults]\nbudget_per_hour = 3\n").wants_history());
    assert!(with(failed, "[defaults]\nstop_when_useless = 2\n").wants_history());
    assert!(!with(failed, "[defaults]\n").wants_history());
    assert!(!with(JobAction::Unfinished, "[defaults]\nbudget_per_hour = 3\n").wants_history());
    assert!(!event(1, failed).wants_history(), "no policy: no history");
}

#[test]
fn a_redelivery_is_answered_with_its_first_status_and_changes_nothing() {
    let run = failed_run();
    let again = apply_change(
        Some(run.clone()),
        &event(1, JobAction::Completed(Conclusion::Failure)),
    );
    assert_eq!(again.persist, Persist::Unchanged);
    let ChangeResult::Event(verdict) = again.result else {
        panic!("not an event verdict");
    };
    assert_eq!(verdict.reply, Reply::redelivered(201));
    assert_eq!(again.state, Some(run));
}

fn in_attempt(mut change: RunChange, attempt: u32) -> RunChange {
    if let RunChange::Event { event, .. } = &mut change {
        Arc::make_mut(event).run_attempt = attempt;
    }
    change
}

fn status_of(applied: &Applied) -> u16 {
    match &applied.result {
        ChangeResult::Event(verdict) => verdict.reply.status,
        other => panic!("not an event result: {other:?}"),
    }
}

#[test]
fn every_delivery_of_a_big_matrix_is_answered_alike_when_redelivered() {
    let jobs = 40;
    let mut state = None;
    for job in 1..=jobs {
        state = apply_change(state, &event(job, JobAction::Unfinished)).state;
    }
    let failed = JobAction::Completed(Conclusion::Failure);
    let passed = JobAction::Completed(Conclusion::Success);
    state = apply_change(state, &event(1, failed)).state;
    for job in 2..jobs {
        state = apply_change(state, &event(job, passed)).state;
    }
    let last = apply_change(state, &event(jobs, passed));
    assert_eq!(status_of(&last), 201);
    let state = last.state;
    // The first completion, answered 202 long before the run finished, is recognised.
    let again = apply_change(state.clone(), &event(1, failed));
    assert_eq!(
        (status_of(&again), again.persist),
        (202, Persist::Unchanged)
    );
    let again = apply_change(state, &event(jobs, passed));
    assert_eq!(status_of(&again), 201);
}

#[test]
fn older_attempts_keep_their_last_deliveries_only() {
    let mut state = None;
    for attempt in 1..=40 {
        let queued = in_attempt(
            with_delivery(
                event(attempt.into(), JobAction::Unfinished),
                &format!("q{attempt}"),
            ),
            attempt,
        );
        state = apply_change(state, &queued).state;
        let done = JobAction::Completed(Conclusion::Success);
        let completed = in_attempt(
            with_delivery(event(attempt.into(), done), &format!("c{attempt}")),
            attempt,
        );
        state = apply_change(state, &completed).state;
    }
    let state = state.expect("state");
    assert_eq!(state.answered.len(), 2 + crate::run::ANSWERS_KEPT);
    assert_eq!(
        state.answered("q1"),
        None,
        "the oldest attempt's were forgotten"
    );
    assert_eq!(
        state.answered("c39"),
        Some(200),
        "the previous attempt's are kept"
    );
    assert_eq!(state.answered("c40"), Some(200));
    // An event that changed nothing is not remembered: judged again, it answers alike.
    let unchanged = apply_change(
        Some(state.clone()),
        &in_attempt(with_delivery(event(40, JobAction::Unfinished), "again"), 40),
    );
    assert_eq!(unchanged.persist, Persist::Unchanged);
    assert_eq!(unchanged.state.expect("state").answered("again"), None);
}

#[test]
fn delivery_tokens_are_stored_as_one_string_and_read_back() {
    let state = failed_run();
    let json = serde_json::to_value(&state).expect("encodes");
    assert!(json["answered"].is_string(), "{json}");
    let back: RunState = serde_json::from_value(json).expect("decodes");
    assert_eq!(back, state);
    assert_eq!(back.answered.len(), 2);
}

#[test]
fn two_processes_claiming_the_same_rerun_get_it_once() {
    let first = apply_change(
        Some(failed_run()),
        &RunChange::Claim {
            now: 20,
            claim: CLAIM,
        },
    );
    assert!(matches!(first.result, ChangeResult::Claimed(Some(_))));
    let other = Claim {
        owner: 6,
        lease_ms: 1_000,
    };
    let second = apply_change(
        first.state,
        &RunChange::Claim {
            now: 21,
            claim: other,
        },
    );
    assert_eq!(second.result, ChangeResult::Claimed(None));
    assert_eq!(second.persist, Persist::Unchanged);
}

#[test]
fn an_outcome_is_recorded_with_the_jobs_that_failed() {
    let claimed = apply_change(
        Some(failed_run()),
        &RunChange::Claim {
            now: 20,
            claim: CLAIM,
        },
    );
    let ChangeResult::Claimed(Some(rerun)) = claimed.result else {
        panic!("not claimed")
    };
    let retry = RETRY_ONCE;
    let record = RunChange::Record {
        now: 30,
        claimed: rerun,
        owner: 5,
        outcome: RerunOutcome::Started,
        retry,
    };
    let recorded = apply_change(claimed.state, &record);
    assert_eq!(recorded.persist, Persist::Save);
    let history = recorded.history.expect("history");
    assert_eq!(history.failed_jobs, vec!["build".to_string()]);
    assert_eq!(history.outcome, RerunOutcome::Started);
}

fn claim_at(now: u64) -> RunChange {
    RunChange::Claim { now, claim: CLAIM }
}

#[test]
fn a_rerun_claimed_again_and_again_without_an_outcome_is_given_up_after_the_time_bound() {
    let mut state = Some(failed_run());
    let first = 20;
    let mut now = first;
    // Each claim's lease runs out with no outcome recorded (the record failed):
    // claimed again after every lease until the time bound has passed.
    while now - first < UNRECORDED_CLAIMS_FOR_MS {
        let claimed = apply_change(state, &claim_at(now));
        assert!(
            matches!(claimed.result, ChangeResult::Claimed(Some(_))),
            "{} ms after the first claim: {:?}",
            now - first,
            claimed.result
        );
        assert_eq!(claimed.persist, Persist::Save);
        state = claimed.state;
        now += CLAIM.lease_ms;
    }
    let claims = state.as_ref().expect("state").claims;
    assert!(claims >= MAX_UNRECORDED_CLAIMS);
    let given_up = apply_change(state, &claim_at(now));
    assert_eq!(given_up.result, ChangeResult::GaveUp { attempt: 1, claims });
    assert_eq!(given_up.persist, Persist::Save);
    let history = given_up.history.expect("the give-up is recorded");
    assert_eq!(history.outcome.label(), "gave_up");
    let state = given_up.state.expect("state");
    assert!(matches!(state.rerun, RerunState::Done { .. }));
    assert_eq!(
        state.pending_rerun_at(),
        None,
        "no longer due: no more claims"
    );
    let after = apply_change(Some(state), &claim_at(now + 10 * CLAIM.lease_ms));
    assert_eq!(after.result, ChangeResult::Claimed(None));
}

#[test]
fn takeovers_of_live_claimants_for_an_hour_do_not_give_the_rerun_up() {
    // Several instances whose GitHub actors a rate limit pauses: each claim is taken
    // over when its 60 s lease runs out, for an hour, and no outcome is recorded.
    let lease_ms = 60_000;
    let mut state = Some(failed_run());
    let mut now = 20;
    let mut owner = 0;
    while now < 20 + 60 * 60 * 1000 {
        owner += 1;
        let claim = Claim { owner, lease_ms };
        let claimed = apply_change(state, &RunChange::Claim { now, claim });
        assert!(
            matches!(claimed.result, ChangeResult::Claimed(Some(_))),
            "claim {owner}: {:?}",
            claimed.result
        );
        state = claimed.state;
        now += lease_ms;
    }
    // The last claimant's pause ends: its claim is still its own, and it may POST.
    let renew = RunChange::Renew {
        now: now - lease_ms + 1,
        attempt: 1,
        claim: Claim { owner, lease_ms },
    };
    assert_eq!(
        apply_change(state, &renew).result,
        ChangeResult::Renewed(true)
    );
}

#[test]
fn a_long_lease_stretches_the_time_bound() {
    // Five leases of an hour each are longer than two hours: the bound is theirs.
    let lease_ms = 60 * 60 * 1000;
    let mut state = failed_run();
    state.claims = MAX_UNRECORDED_CLAIMS;
    state.first_unrecorded_claim_at = Some(0);
    assert!(!unrecorded_claims_exhausted(&state, 3 * lease_ms, lease_ms));
    assert!(unrecorded_claims_exhausted(&state, 5 * lease_ms, lease_ms));
    // A row written before the time was kept: its next claim starts the clock.
    state.first_unrecorded_claim_at = None;
    assert!(!unrecorded_claims_exhausted(&state, u64::MAX, lease_ms));
}

#[test]
fn a_recorded_outcome_counts_the_claims_afresh() {
    let mut state = Some(failed_run());
    let mut now = 20;
    let retry = RetryPolicy {
        still_running_every_ms: 1,
        still_running_tries: 100,
        gave_up_first_ms: 1,
        gave_up_max_ms: 1,
        gave_up_tries: 1,
    };
    // Twice as many claims as the bound, each answered (GitHub: still running).
    for _ in 0..2 * MAX_UNRECORDED_CLAIMS {
        let claimed = apply_change(state, &claim_at(now));
        let ChangeResult::Claimed(Some(rerun)) = claimed.result else {
            panic!("not claimed: {:?}", claimed.result);
        };
        let record = RunChange::Record {
            now,
            claimed: rerun,
            owner: CLAIM.owner,
            outcome: RerunOutcome::StillRunning,
            retry,
        };
        state = apply_change(claimed.state, &record).state;
        now += 10;
    }
    assert_eq!(state.expect("state").claims, 0);
}

#[test]
fn expiry_counts_events_this_process_saw_but_did_not_store() {
    let run = apply_change(None, &event(1, JobAction::Unfinished)).state;
    let kept = apply_change(
        run.clone(),
        &RunChange::Expire {
            now: 1_000,
            ttl_ms: 500,
            last_seen: 900,
        },
    );
    assert_eq!(kept.result, ChangeResult::Expired(false));
    let gone = apply_change(
        run,
        &RunChange::Expire {
            now: 1_000,
            ttl_ms: 500,
            last_seen: 10,
        },
    );
    assert_eq!(gone.persist, Persist::Delete);
}

fn evidence_rules(toml: &str) -> RunConfig {
    RunConfig {
        rules: Some(Arc::new(
            crate::policy::parse(
                toml,
                crate::policy::PolicySource::Inline,
                &crate::policy::EnvDefaults::default(),
            )
            .expect("valid"),
        )),
        ..policy()
    }
}

/// A failed run whose re-run waits for evidence, claimed by `CLAIM.owner` at 20.
fn claimed_for_evidence() -> (RunState, ClaimedRerun) {
    let mut run = failed_run();
    run.rerun = RerunState::Scheduled {
        due_at: 10,
        decided_by: Some("d".into()),
        needs_evidence: true,
        debug_logging: false,
    };
    let claimed = apply_change(
        Some(run),
        &RunChange::Claim {
            now: 20,
            claim: CLAIM,
        },
    );
    let ChangeResult::Claimed(Some(rerun)) = claimed.result else {
        panic!("claimed: {:?}", claimed.result);
    };
    assert!(rerun.needs_evidence());
    assert_eq!(rerun.evidence_jobs.len(), 1, "the failed job, by id");
    assert_eq!(rerun.evidence_jobs[0].id, JobId(1));
    (claimed.state.expect("state"), rerun)
}

fn decide(owner: u64, log: &str, toml: &str) -> RunChange {
    let policy = evidence_rules(toml);
    let evidence = [crate::policy::JobEvidence {
        job: JobId(1),
        annotations: crate::policy::Fetched::Got(Vec::new()),
        log: crate::policy::Fetched::Got(log.into()),
    }];
    let rule = policy
        .rules
        .as_ref()
        .expect("a policy")
        .rule_for("o/r", "ci")
        .clone();
    let judged = crate::policy::judge(&rule, &evidence, &mut crate::policy::Unbounded);
    RunChange::Decide {
        now: 30,
        attempt: 1,
        claim: Claim { owner, ..CLAIM },
        repo: "o/r".into(),
        workflow: "ci".into(),
        listed: None,
        judged: Some(Arc::new(judged)),
        hold_until: None,
        cost: Default::default(),
        policy,
    }
}

#[test]
fn a_broken_log_closes_the_claimed_attempt_as_skipped_and_records_the_decision() {
    let (run, _) = claimed_for_evidence();
    let toml = "[defaults]\nnever_when = ['(?i)assertion.*failed']\n";
    let applied = apply_change(
        Some(run),
        &decide(CLAIM.owner, "Assertion x failed\n", toml),
    );
    let ChangeResult::Decided { claimed, decision } = &applied.result else {
        panic!("{:?}", applied.result);
    };
    assert_eq!(claimed, &None, "no POST");
    assert!(decision.is_some());
    let record = applied.decision.expect("recorded");
    assert_eq!(
        (record.verdict, record.reason),
        ("skip", Some(Reason::BrokenLog))
    );
    assert_eq!(record.evidence.as_deref(), Some("Assertion x failed"));
    assert_eq!(applied.history.map(|h| h.outcome.label()), Some("skipped"));
    let state = applied.state.expect("state");
    assert!(matches!(state.rerun, RerunState::Done { .. }));
    assert_eq!(state.pending_rerun_at(), None, "final: never claimed again");
}

#[test]
fn a_rerun_decided_on_evidence_keeps_the_claim_and_is_not_fetched_again_after_a_restart() {
    let (run, _) = claimed_for_evidence();
    let toml = "[defaults]\nonly_when = ['ECONNRESET']\n";
    let applied = apply_change(Some(run), &decide(CLAIM.owner, "read ECONNRESET\n", toml));
    let ChangeResult::Decided { claimed, decision } = &applied.result else {
        panic!("{:?}", applied.result);
    };
    let claimed = claimed.as_ref().expect("to be performed");
    assert!(!claimed.needs_evidence());
    assert!(decision.is_some());
    assert_eq!(applied.decision.map(|d| d.counts), Some(true));
    let state = applied.state.expect("state");
    assert_eq!(
        state.pending_rerun_at(),
        Some(30 + CLAIM.lease_ms),
        "lease renewed"
    );
    // The process dies before the POST: the next claim performs it, no fetch.
    let again = apply_change(
        Some(state),
        &RunChange::Claim {
            now: 30 + CLAIM.lease_ms,
            claim: Claim { owner: 6, ..CLAIM },
        },
    );
    let ChangeResult::Claimed(Some(retaken)) = again.result else {
        panic!("{:?}", again.result);
    };
    assert!(!retaken.needs_evidence(), "the decision is kept");
}

#[test]
fn evidence_for_a_claim_another_process_took_over_changes_nothing() {
    let (run, _) = claimed_for_evidence();
    let toml = "[defaults]\nnever_when = ['boom']\n";
    let applied = apply_change(Some(run.clone()), &decide(9, "boom\n", toml));
    assert_eq!(applied.persist, Persist::Unchanged);
    assert_eq!(
        applied.result,
        ChangeResult::Decided {
            claimed: None,
            decision: None
        }
    );
    assert_eq!(applied.decision, None);
    assert_eq!(applied.state, Some(run));
}

#[test]
fn a_claim_lost_before_its_evidence_came_is_claimed_and_fetched_again() {
    let (run, _) = claimed_for_evidence();
    let again = apply_change(
        Some(run),
        &RunChange::Claim {
            now: 20 + CLAIM.lease_ms,
            claim: Claim { owner: 6, ..CLAIM },
        },
    );
    let ChangeResult::Claimed(Some(retaken)) = again.result else {
        panic!("{:?}", again.result);
    };
    assert!(retaken.needs_evidence());
}

const UNKNOWN_FAILURE: &str = "##[error]frobnicator 4711 wobbled\n";

/// The run after its claimed attempt 1 was decided on `log` under `toml`.
fn judged_run(log: &str, toml: &str) -> Applied {
    let (run, _) = claimed_for_evidence();
    apply_change(Some(run), &decide(CLAIM.owner, log, toml))
}

/// The completion of job `job` ("build") in attempt `attempt`, `beyond` its rule's
/// attempts or not.
fn next_attempt_completed(
    job: u64,
    attempt: u32,
    conclusion: Conclusion,
    beyond: Option<crate::run::BeyondAttempts>,
) -> RunChange {
    let mut change = in_attempt(event(job, JobAction::Completed(conclusion)), attempt);
    if let RunChange::Event { event, .. } = &mut change {
        Arc::make_mut(event).beyond_attempts = beyond;
    }
    change
}

fn lesson_of(applied: &Applied) -> Option<crate::run::Lesson> {
    match &applied.result {
        ChangeResult::Event(verdict) => verdict.lesson.clone(),
        other => panic!("not an event verdict: {other:?}"),
    }
}

#[test]
fn a_skipped_failure_a_person_re_ran_teaches_whether_its_re_run_passed_once() {
    let skipped = judged_run(UNKNOWN_FAILURE, "[defaults]\nonly_when = ['ECONNRESET']\n");
    assert_eq!(skipped.decision.as_ref().map(|d| d.verdict), Some("skip"));
    let teaching = crate::store::codec::teaching(&skipped);
    assert_eq!(teaching.seen.len(), 1, "the judged failure is seen once");
    assert_eq!(teaching.seen[0].line, "frobnicator 4711 wobbled");
    let facts = skipped.decision.as_ref().and_then(|d| d.facts.as_ref());
    assert_eq!(facts.map(|f| f.judged.len()), Some(1), "kept for what-if");

    let passed = apply_change(
        skipped.state,
        &next_attempt_completed(2, 2, Conclusion::Success, None),
    );
    let lesson = lesson_of(&passed).expect("a lesson");
    assert!(lesson.passed);
    assert!(!lesson.by_service, "a person re-ran it");
    assert_eq!(lesson.attempt, 1);
    assert_eq!(lesson.failure.signature, teaching_signature());
    let again = apply_change(
        passed.state,
        &with_delivery(
            next_attempt_completed(2, 2, Conclusion::Success, None),
            "other",
        ),
    );
    assert_eq!(lesson_of(&again), None, "taught once");
}

fn teaching_signature() -> String {
    crate::policy::signature("frobnicator 4711 wobbled")
}

#[test]
fn a_completion_beyond_its_rules_attempts_is_answered_204_yet_teaches() {
    let skipped = judged_run(UNKNOWN_FAILURE, "[defaults]\nonly_when = ['ECONNRESET']\n");
    let beyond = Some(crate::run::BeyondAttempts::RuleAttempts);
    let failed = apply_change(
        skipped.state,
        &next_attempt_completed(2, 2, Conclusion::Failure, beyond),
    );
    assert_eq!(status_of(&failed), 204);
    let lesson = lesson_of(&failed).expect("a lesson");
    assert!(!lesson.passed, "failed again");
    assert_eq!(failed.persist, Persist::Save);
    let state = failed.state.expect("state");
    assert_eq!(state.attempt, 2);
    assert!(
        state.jobs.is_empty(),
        "the job is not tracked: never re-run"
    );
    assert_eq!(failed.decision, None);

    // Nothing to teach and no record: nothing is kept.
    let unknown = apply_change(
        None,
        &next_attempt_completed(7, 3, Conclusion::Failure, beyond),
    );
    assert_eq!(status_of(&unknown), 204);
    assert_eq!((unknown.persist, unknown.state), (Persist::Unchanged, None));
}

#[test]
fn the_services_own_re_run_teaches_as_the_services() {
    let decided = judged_run(
        "read ECONNRESET\n",
        "[defaults]\nonly_when = ['ECONNRESET']\n",
    );
    let ChangeResult::Decided {
        claimed: Some(rerun),
        ..
    } = decided.result.clone()
    else {
        panic!("{:?}", decided.result);
    };
    let retry = RETRY_ONCE;
    let started = apply_change(
        decided.state,
        &RunChange::Record {
            now: 40,
            claimed: rerun,
            owner: CLAIM.owner,
            outcome: RerunOutcome::Started,
            retry,
        },
    );
    let failed = apply_change(
        started.state,
        &next_attempt_completed(2, 2, Conclusion::Failure, None),
    );
    let lesson = lesson_of(&failed).expect("a lesson");
    assert!(lesson.by_service);
    assert!(!lesson.passed);
}

#[test]
fn a_re_run_a_storm_holds_is_scheduled_again_undecided_and_unrecorded() {
    let (run, _) = claimed_for_evidence();
    let mut held = decide(
        CLAIM.owner,
        "read ECONNRESET\n",
        "[defaults]\nonly_when = ['ECONNRESET']\n",
    );
    if let RunChange::Decide { hold_until, .. } = &mut held {
        *hold_until = Some(5_000);
    }
    let applied = apply_change(Some(run), &held);
    assert_eq!(
        applied.result,
        ChangeResult::Decided {
            claimed: None,
            decision: None
        },
        "no POST, no decision yet"
    );
    assert_eq!(applied.decision, None, "nothing counts against the budget");
    let state = applied.state.expect("state");
    assert_eq!(
        state.pending_rerun_at(),
        Some(5_000),
        "looked at again then"
    );
    assert_eq!(state.rerun_flags(), (true, false), "on fresh evidence");
    // A skip is not held: it closes the attempt at once.
    let (run, _) = claimed_for_evidence();
    let mut broken = decide(CLAIM.owner, "boom\n", "[defaults]\nnever_when = ['boom']\n");
    if let RunChange::Decide { hold_until, .. } = &mut broken {
        *hold_until = Some(5_000);
    }
    let applied = apply_change(Some(run), &broken);
    assert_eq!(applied.decision.map(|d| d.verdict), Some("skip"));
}
