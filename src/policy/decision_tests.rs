//! Every reason, the two phases, shadow mode, backoff and debug logging, each on a
//! small run built by hand.

use super::*;
use crate::ids::Conclusion;
use crate::ids::JobId;

/// A job that ran its steps and ended with `conclusion`.
pub(super) fn job(id: u64, name: &str, conclusion: Conclusion) -> JobFacts {
    JobFacts {
        id: JobId(id),
        name: name.into(),
        conclusion,
        ran_steps: true,
        failed_steps: Vec::new(),
    }
}

/// The rule `[defaults]` of `toml` gives (every branch unless it says otherwise).
pub(super) fn rule(toml: &str) -> Rule {
    let text = if toml.contains("branches") {
        format!("[defaults]\n{toml}")
    } else {
        format!("[defaults]\nbranches = [\"*\"]\n{toml}")
    };
    load(Some(&text), None, &EnvDefaults::default())
        .expect("valid policy")
        .defaults()
        .clone()
}

fn run(jobs: &[JobFacts]) -> RunFacts<'_> {
    RunFacts {
        workflow: "CI",
        branch: "master",
        attempt: 1,
        jobs,
    }
}

fn decided(outcome: AtCompletion) -> Decision {
    match outcome {
        AtCompletion::Decided(decision) => decision,
        other => panic!("expected a decision, got {other:?}"),
    }
}

fn skipped(decision: &Decision) -> Reason {
    match decision.verdict {
        Verdict::Skip { reason } => reason,
        other => panic!("expected a skip, got {other:?}"),
    }
}

fn log(job: u64, text: &str) -> JobEvidence {
    JobEvidence {
        job: JobId(job),
        annotations: Fetched::Got(Vec::new()),
        log: Fetched::Got(text.to_owned()),
    }
}

fn annotated(job: u64, annotations: &[&str], text: &str) -> JobEvidence {
    JobEvidence {
        job: JobId(job),
        annotations: Fetched::Got(
            annotations
                .iter()
                .map(|a| Annotation::failure(*a))
                .collect(),
        ),
        log: Fetched::Got(text.to_owned()),
    }
}

fn rerun_plan(decision: &Decision) -> RerunPlan {
    match decision.verdict {
        Verdict::Rerun(plan) => plan,
        other => panic!("expected a re-run, got {other:?}"),
    }
}

#[test]
fn with_no_policy_a_failed_job_is_rerun_after_the_delay() {
    let jobs = [
        job(1, "test", Conclusion::Failure),
        job(2, "lint", Conclusion::Success),
    ];
    let decision = decided(decide_at_completion(
        &run(&jobs),
        &History::default(),
        &rule(""),
    ));
    assert_eq!(
        decision,
        Decision {
            verdict: Verdict::Rerun(RerunPlan {
                delay_ms: 5000,
                debug_logging: false
            }),
            job: None,
            evidence: None,
            pattern: None,
        }
    );
}

#[test]
fn a_job_that_ran_no_step_is_never_rerun_even_with_no_policy() {
    let mut never_started = job(7, "build", Conclusion::Failure);
    never_started.ran_steps = false;
    let jobs = [job(1, "test", Conclusion::Failure), never_started];
    let decision = decided(decide_at_completion(
        &run(&jobs),
        &History::default(),
        &rule(""),
    ));
    assert_eq!(skipped(&decision), Reason::NotStarted);
    assert_eq!(decision.job.as_ref().map(|j| j.id), Some(JobId(7)));
}

#[test]
fn a_run_with_no_failed_job_on_another_branch_or_out_of_attempts_is_no_candidate() {
    let passed = [
        job(1, "test", Conclusion::Success),
        job(2, "x", Conclusion::Cancelled),
    ];
    let none = History::default();
    assert_eq!(
        decide_at_completion(&run(&passed), &none, &rule("")),
        AtCompletion::Ineligible(Ineligible::NoFailedJob)
    );
    let failed = [job(1, "test", Conclusion::Failure)];
    let mut facts = run(&failed);
    facts.branch = "feature/x";
    assert_eq!(
        decide_at_completion(
            &facts,
            &none,
            &rule("branches = [\"master\", \"release/*\"]")
        ),
        AtCompletion::Ineligible(Ineligible::Branch)
    );
    facts.branch = "release/2.x";
    facts.attempt = 4;
    assert_eq!(
        decide_at_completion(&facts, &none, &rule("branches = [\"release/*\"]")),
        AtCompletion::Ineligible(Ineligible::AttemptsUsed)
    );
}

#[test]
fn a_skipped_workflow_is_not_rerun() {
    let jobs = [job(1, "build", Conclusion::Failure)];
    let mut facts = run(&jobs);
    facts.workflow = "Release nightly";
    let decision = decided(decide_at_completion(
        &facts,
        &History::default(),
        &rule("skip_workflows = [\"release*\"]"),
    ));
    assert_eq!(skipped(&decision), Reason::WorkflowSkipped);
    assert_eq!(decision.job, None);
    assert_eq!(
        decision.evidence.as_deref(),
        Some("workflow \"Release nightly\" matches skip_workflows \"release*\"")
    );
}

#[test]
fn a_skipped_job_name_names_the_job() {
    let jobs = [
        job(1, "test", Conclusion::Failure),
        job(2, "deploy / prod", Conclusion::Failure),
    ];
    let decision = decided(decide_at_completion(
        &run(&jobs),
        &History::default(),
        &rule("skip_jobs = [\"deploy*\"]"),
    ));
    assert_eq!(skipped(&decision), Reason::JobSkipped);
    assert_eq!(
        decision.job.as_ref().map(|j| j.name.to_string()).as_deref(),
        Some("deploy / prod")
    );
}

#[test]
fn a_skipped_failed_step_names_the_job() {
    let mut linted = job(3, "checks", Conclusion::Failure);
    linted.failed_steps = vec!["Run tests".into(), "Run ESLint".into()];
    let jobs = [linted];
    let decision = decided(decide_at_completion(
        &run(&jobs),
        &History::default(),
        &rule("skip_steps = [\"*lint*\"]"),
    ));
    assert_eq!(skipped(&decision), Reason::StepSkipped);
    assert_eq!(decision.job.as_ref().map(|j| j.id), Some(JobId(3)));
}

#[test]
fn a_timed_out_job_is_rerun_unless_timed_out_is_off() {
    let jobs = [job(1, "slow", Conclusion::TimedOut)];
    let none = History::default();
    rerun_plan(&decided(decide_at_completion(
        &run(&jobs),
        &none,
        &rule(""),
    )));
    let decision = decided(decide_at_completion(
        &run(&jobs),
        &none,
        &rule("timed_out = false"),
    ));
    assert_eq!(skipped(&decision), Reason::TimedOutOff);
}

#[test]
fn more_failed_jobs_than_the_limit_is_broken_not_flaky() {
    let jobs: Vec<JobFacts> = (1..=3)
        .map(|i| job(i, &format!("j{i}"), Conclusion::Failure))
        .collect();
    let none = History::default();
    let decision = decided(decide_at_completion(
        &run(&jobs),
        &none,
        &rule("max_failed_jobs = 2"),
    ));
    assert_eq!(skipped(&decision), Reason::TooManyFailedJobs);
    assert_eq!(
        decision.evidence.as_deref(),
        Some("3 jobs failed, more than max_failed_jobs 2")
    );
    rerun_plan(&decided(decide_at_completion(
        &run(&jobs),
        &none,
        &rule("max_failed_jobs = 3"),
    )));
}

#[test]
fn a_spent_budget_skips_and_a_fresh_hour_reruns_again() {
    let jobs = [job(1, "test", Conclusion::Failure)];
    let rule = rule("budget_per_hour = 2");
    let spent = History {
        reruns_last_hour: 2,
        ..History::default()
    };
    let decision = decided(decide_at_completion(&run(&jobs), &spent, &rule));
    assert_eq!(skipped(&decision), Reason::BudgetSpent);
    let later = History {
        reruns_last_hour: 1,
        ..History::default()
    };
    rerun_plan(&decided(decide_at_completion(&run(&jobs), &later, &rule)));
}

#[test]
fn a_job_whose_last_reruns_all_failed_again_is_not_rerun() {
    use AfterRerun::{FailedAgain, Passed};
    let jobs = [
        job(1, "flaky", Conclusion::Failure),
        job(2, "broken", Conclusion::Failure),
    ];
    let rule = rule("stop_when_useless = 3");
    let mut history = History::default();
    history.jobs.insert(
        "flaky".into(),
        vec![FailedAgain, FailedAgain, Passed, FailedAgain],
    );
    history.jobs.insert(
        "broken".into(),
        vec![Passed, FailedAgain, FailedAgain, FailedAgain],
    );
    let decision = decided(decide_at_completion(&run(&jobs), &history, &rule));
    assert_eq!(skipped(&decision), Reason::UselessBefore);
    assert_eq!(decision.job.as_ref().map(|j| j.id), Some(JobId(2)));
    // Fewer re-runs than N on record says nothing yet.
    history
        .jobs
        .insert("broken".into(), vec![FailedAgain, FailedAgain]);
    rerun_plan(&decided(decide_at_completion(&run(&jobs), &history, &rule)));
}

#[test]
fn patterns_ask_for_the_failed_jobs_evidence_after_the_delay() {
    let jobs = [
        job(1, "ok", Conclusion::Success),
        job(2, "a", Conclusion::Failure),
        job(3, "b", Conclusion::TimedOut),
    ];
    let outcome = decide_at_completion(
        &run(&jobs),
        &History::default(),
        &rule("delay = \"7s\"\nnever_when = ['boom']"),
    );
    assert_eq!(
        outcome,
        AtCompletion::NeedsEvidence(EvidenceRequest {
            jobs: vec![
                JobRef {
                    id: JobId(2),
                    name: "a".into()
                },
                JobRef {
                    id: JobId(3),
                    name: "b".into()
                },
            ],
            delay_ms: 7000,
        })
    );
}

#[test]
fn a_broken_log_is_not_rerun_and_quotes_the_line() {
    let jobs = [job(1, "test", Conclusion::Failure)];
    let rule = rule(r"never_when = ['(?i)assertion.*failed', 'error\[E\d{4}\]']");
    let text = "2024-05-01T10:00:00.0000000Z running 3 tests\n\
                2024-05-01T10:00:01.0000000Z error[E0425]: cannot find value `x`\n";
    let decision = decide_with_evidence(&run(&jobs), &History::default(), &rule, &[log(1, text)])
        .expect("candidate");
    assert_eq!(skipped(&decision), Reason::BrokenLog);
    assert_eq!(decision.job.as_ref().map(|j| j.id), Some(JobId(1)));
    assert_eq!(
        decision.evidence.as_deref(),
        Some("error[E0425]: cannot find value `x`")
    );
}

#[test]
fn one_broken_job_among_flaky_ones_makes_the_run_skip_naming_it() {
    let jobs = [
        job(1, "net", Conclusion::Failure),
        job(2, "unit", Conclusion::Failure),
    ];
    let rule = rule("only_when = ['@infra']\nnever_when = ['panicked at']");
    let evidence = [
        annotated(1, &["The runner has received a shutdown signal."], ""),
        log(2, "thread 'main' panicked at src/lib.rs:3:5"),
    ];
    let decision = decide_with_evidence(&run(&jobs), &History::default(), &rule, &evidence)
        .expect("candidate");
    assert_eq!(skipped(&decision), Reason::BrokenLog);
    assert_eq!(decision.job.as_ref().map(|j| j.id), Some(JobId(2)));
}

#[test]
fn only_infra_with_a_lost_communication_annotation_reruns() {
    let jobs = [job(1, "test", Conclusion::Failure)];
    let rule = rule("only_when = ['@infra']");
    let evidence = [annotated(
        1,
        &[
            "The self-hosted runner: box-1 lost communication with the server. Verify the machine is running and has a healthy network connection.",
        ],
        "",
    )];
    let decision = decide_with_evidence(&run(&jobs), &History::default(), &rule, &evidence)
        .expect("candidate");
    rerun_plan(&decision);
    assert_eq!(decision.job.as_ref().map(|j| j.id), Some(JobId(1)));
    assert!(
        decision
            .evidence
            .as_deref()
            .is_some_and(|e| e.starts_with("The self-hosted runner: box-1 lost communication")),
        "{decision:?}"
    );
}

#[test]
fn an_infra_message_moved_into_the_log_is_found_behind_a_canceled_annotation() {
    let jobs = [job(1, "test", Conclusion::Failure)];
    let rule = rule("only_when = ['@infra']");
    let text = "2024-05-01T10:00:00.0000000Z ##[error]The runner has received a shutdown signal. This can happen when the runner service is stopped, or a manually started runner is canceled.\n";
    let evidence = [annotated(1, &["The operation was canceled."], text)];
    let decision = decide_with_evidence(&run(&jobs), &History::default(), &rule, &evidence)
        .expect("candidate");
    rerun_plan(&decision);
    // The annotation alone is only a hint.
    let hint_only = [annotated(1, &["The operation was canceled."], "")];
    let decision = decide_with_evidence(&run(&jobs), &History::default(), &rule, &hint_only)
        .expect("candidate");
    assert_eq!(skipped(&decision), Reason::NoTransientMatch);
}

#[test]
fn only_when_with_no_match_names_the_job_and_an_unavailable_log() {
    let jobs = [
        job(1, "a", Conclusion::Failure),
        job(2, "b", Conclusion::Failure),
    ];
    let rule = rule("only_when = ['ECONNRESET']");
    let evidence = [
        log(1, "read ECONNRESET"),
        JobEvidence {
            job: JobId(2),
            annotations: Fetched::Got(vec![Annotation::failure(
                "Process completed with exit code 1.",
            )]),
            log: Fetched::Unavailable {
                why: "410 Gone".into(),
            },
        },
    ];
    let decision = decide_with_evidence(&run(&jobs), &History::default(), &rule, &evidence)
        .expect("candidate");
    assert_eq!(skipped(&decision), Reason::NoTransientMatch);
    assert_eq!(decision.job.as_ref().map(|j| j.id), Some(JobId(2)));
    assert_eq!(
        decision.evidence.as_deref(),
        Some("log unavailable: 410 Gone")
    );
    // No entry at all for a job counts as nothing fetched.
    let decision = decide_with_evidence(&run(&jobs), &History::default(), &rule, &evidence[..1])
        .expect("candidate");
    assert_eq!(skipped(&decision), Reason::NoTransientMatch);
    assert!(decision.evidence.is_some_and(|e| e.contains("not fetched")));
}

#[test]
fn an_unavailable_log_does_not_prove_a_job_broken() {
    let jobs = [job(1, "a", Conclusion::Failure)];
    let rule = rule("never_when = ['boom']");
    let evidence = [JobEvidence {
        job: JobId(1),
        annotations: Fetched::Unavailable { why: "500".into() },
        log: Fetched::Unavailable {
            why: "410 Gone".into(),
        },
    }];
    rerun_plan(
        &decide_with_evidence(&run(&jobs), &History::default(), &rule, &evidence)
            .expect("candidate"),
    );
}

#[test]
fn evidence_is_short_and_holds_no_token() {
    let jobs = [job(1, "a", Conclusion::Failure)];
    let rule = rule("never_when = ['denied']");
    let line = format!(
        "push denied for ghp_{} with Authorization: Bearer abc.def {}",
        "A".repeat(36),
        "x".repeat(300)
    );
    let decision = decide_with_evidence(&run(&jobs), &History::default(), &rule, &[log(1, &line)])
        .expect("candidate");
    let evidence = decision.evidence.expect("a line");
    assert_eq!(evidence.chars().count(), 200);
    assert!(evidence.starts_with("push denied for ghp_*** with Authorization: Bearer ***"));
    assert!(!evidence.contains("AAAA") && !evidence.contains("abc.def"));
}

#[test]
fn the_evidence_phase_checks_the_budget_again() {
    let jobs = [job(1, "a", Conclusion::Failure)];
    let rule = rule("budget_per_hour = 1\nnever_when = ['boom']");
    let spent = History {
        reruns_last_hour: 1,
        ..History::default()
    };
    let decision =
        decide_with_evidence(&run(&jobs), &spent, &rule, &[log(1, "fine")]).expect("candidate");
    assert_eq!(skipped(&decision), Reason::BudgetSpent);
}

#[test]
fn shadow_mode_decides_everything_and_reruns_nothing() {
    let jobs = [job(1, "a", Conclusion::Failure)];
    let none = History::default();
    let decision = decided(decide_at_completion(
        &run(&jobs),
        &none,
        &rule("mode = \"shadow\""),
    ));
    assert_eq!(
        decision.verdict,
        Verdict::Shadow(RerunPlan {
            delay_ms: 5000,
            debug_logging: false
        })
    );
    assert_eq!(decision.verdict.reason(), Some(Reason::Shadow));
    assert_eq!(decision.verdict.label(), "skip");
    // What would be skipped anyway keeps its own reason.
    let decision = decided(decide_at_completion(
        &run(&jobs),
        &none,
        &rule("mode = \"shadow\"\nskip_jobs = [\"a\"]"),
    ));
    assert_eq!(skipped(&decision), Reason::JobSkipped);
}

#[test]
fn the_second_rerun_waits_delay_times_backoff_capped_by_max_delay() {
    let jobs = [job(1, "a", Conclusion::Failure)];
    let rule = rule("attempts = 10\ndelay = \"10s\"\nbackoff = 2.0\nmax_delay = \"35s\"");
    let none = History::default();
    let delays: Vec<u64> = (1..=4)
        .map(|attempt| {
            let mut facts = run(&jobs);
            facts.attempt = attempt;
            rerun_plan(&decided(decide_at_completion(&facts, &none, &rule))).delay_ms
        })
        .collect();
    assert_eq!(delays, [10_000, 20_000, 35_000, 35_000]);
}

#[test]
fn debug_logging_is_asked_for_on_the_last_automatic_rerun_only() {
    let jobs = [job(1, "a", Conclusion::Failure)];
    let rule = rule("attempts = 3\ndebug_last_attempt = true");
    let none = History::default();
    let debug = |attempt| {
        let mut facts = run(&jobs);
        facts.attempt = attempt;
        rerun_plan(&decided(decide_at_completion(&facts, &none, &rule))).debug_logging
    };
    assert!(!debug(1));
    assert!(debug(2));
}

#[test]
fn reasons_have_the_fixed_labels_and_serialize_as_them() {
    let labels: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        labels,
        [
            "not_started",
            "job_skipped",
            "step_skipped",
            "workflow_skipped",
            "broken_log",
            "no_transient_match",
            "too_many_failed_jobs",
            "budget_spent",
            "useless_before",
            "timed_out_off",
            "shadow"
        ]
    );
    for reason in Reason::ALL {
        let json = serde_json::to_string(&reason).expect("serializes");
        assert_eq!(json, format!("\"{}\"", reason.as_str()));
    }
}

#[test]
fn a_decision_survives_a_round_trip_through_json() {
    let decision = Decision {
        verdict: Verdict::Shadow(RerunPlan {
            delay_ms: 1,
            debug_logging: true,
        }),
        job: Some(JobRef {
            id: JobId(9),
            name: "n".into(),
        }),
        evidence: Some("line".into()),
        pattern: Some("@infra:killed".into()),
    };
    let json = serde_json::to_string(&decision).expect("serializes");
    let back: Decision = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, decision);
}

#[test]
fn a_warning_annotation_does_not_mark_a_job_broken() {
    let jobs = [job(1, "a", Conclusion::Failure)];
    let rule = rule("never_when = ['deprecated']");
    let warned = |level| JobEvidence {
        job: JobId(1),
        annotations: Fetched::Got(vec![Annotation {
            level,
            message: "Node.js 16 actions are deprecated.".into(),
        }]),
        log: Fetched::Got(String::new()),
    };
    for level in [
        AnnotationLevel::Warning,
        AnnotationLevel::Notice,
        AnnotationLevel::Other,
    ] {
        let decision =
            decide_with_evidence(&run(&jobs), &History::default(), &rule, &[warned(level)])
                .expect("candidate");
        rerun_plan(&decision);
    }
    let decision = decide_with_evidence(
        &run(&jobs),
        &History::default(),
        &rule,
        &[warned(AnnotationLevel::Failure)],
    )
    .expect("candidate");
    assert_eq!(skipped(&decision), Reason::BrokenLog);
}

#[test]
fn annotations_are_read_from_github_answers_with_their_level() {
    let json = r#"[{"path": ".github", "annotation_level": "warning", "message": "w"},
                   {"annotation_level": "failure", "message": "f", "title": null},
                   {"annotation_level": "something_new", "message": "n"}]"#;
    let annotations: Vec<Annotation> = serde_json::from_str(json).expect("parses");
    let levels: Vec<AnnotationLevel> = annotations.iter().map(|a| a.level).collect();
    assert_eq!(
        levels,
        [
            AnnotationLevel::Warning,
            AnnotationLevel::Failure,
            AnnotationLevel::Other
        ]
    );
}

#[test]
fn a_decision_names_the_pattern_that_matched() {
    let jobs = [job(1, "a", Conclusion::Failure)];
    let none = History::default();
    let rule = rule("never_when = ['boom', 'panicked at']\nonly_when = ['ECONNRESET', '@infra']");
    let broken = decide_with_evidence(
        &run(&jobs),
        &none,
        &rule,
        &[log(1, "thread 'main' panicked at x")],
    )
    .expect("candidate");
    assert_eq!(broken.pattern.as_deref(), Some("never_when[1]"));
    let infra = decide_with_evidence(
        &run(&jobs),
        &none,
        &rule,
        &[annotated(
            1,
            &["The hosted runner: GitHub Actions 2 lost communication with the server."],
            "",
        )],
    )
    .expect("candidate");
    rerun_plan(&infra);
    assert_eq!(infra.pattern.as_deref(), Some("@infra:runner_lost"));
    let no_pattern = decided(decide_at_completion(
        &run(&jobs),
        &none,
        &super::decision_tests::rule(""),
    ));
    assert_eq!(no_pattern.pattern, None);
}

#[test]
fn budget_counted_at_decision_time_holds_a_burst_of_failures_to_the_budget() {
    // 100 runs fail in the same second; the tracker decides them one after another
    // and counts every decision that would re-run (History::reruns_last_hour).
    for mode in ["rerun", "shadow"] {
        let rule = rule(&format!("budget_per_hour = 30\nmode = \"{mode}\""));
        let jobs = [job(1, "a", Conclusion::Failure)];
        let mut history = History::default();
        let mut spent = 0;
        for _ in 0..100 {
            let decision = decided(decide_at_completion(&run(&jobs), &history, &rule));
            if decision.counts_against_budget() {
                history.reruns_last_hour += 1;
            } else {
                assert_eq!(skipped(&decision), Reason::BudgetSpent, "{mode}");
                spent += 1;
            }
        }
        assert_eq!((history.reruns_last_hour, spent), (30, 70), "{mode}");
    }
}
