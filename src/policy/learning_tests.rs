//! Learning in decisions: a failure no family knows, re-run once its re-runs passed
//! often enough, here or everywhere; a failure whose re-runs here kept failing, not
//! re-run any more; and a kept decision decided again under another policy.

use super::decision_tests::{job, rule};
use super::*;
use crate::ids::Conclusion;
use crate::ids::JobId;

const UNKNOWN: &str = "2026-12-01T10:00:01.0000000Z ##[error]frobnicator 4711 wobbled at stage 3\n\
                       2026-12-01T10:00:02.0000000Z ##[error]Process completed with exit code 1.\n";
const RESET: &str = "2026-12-01T10:00:01.0000000Z npm ERR! code ECONNRESET\n\
                     2026-12-01T10:00:01.0000000Z npm ERR! network read ECONNRESET\n\
                     2026-12-01T10:00:02.0000000Z ##[error]Process completed with exit code 1.\n";
const COMPILE: &str = "2026-12-01T10:00:01.0000000Z error[E0308]: mismatched types\n\
                       2026-12-01T10:00:02.0000000Z ##[error]Process completed with exit code 101.\n";

fn evidence(text: &str) -> Vec<JobEvidence> {
    vec![JobEvidence {
        job: JobId(1),
        annotations: Fetched::Got(Vec::new()),
        log: Fetched::Got(text.to_owned()),
    }]
}

fn facts(jobs: &[JobFacts]) -> RunFacts<'_> {
    RunFacts {
        workflow: "CI",
        branch: "master",
        attempt: 1,
        jobs,
    }
}

/// The signature of the job's decisive line under `rule`.
fn signature_of(rule: &Rule, text: &str) -> String {
    let judged = judge(rule, &evidence(text), &mut Unbounded);
    judged[0]
        .decisive
        .as_ref()
        .expect("a decisive line")
        .signature
        .clone()
}

fn history(signature: &str, here: (u32, u32), recent: &str, everywhere: (u32, u32)) -> History {
    let mut history = History::default();
    history.signatures.insert(
        signature.to_owned(),
        SignatureHistory {
            here: Outcomes {
                reruns: here.0,
                passed: here.1,
            },
            recent: decode_recent(recent),
            everywhere: Outcomes {
                reruns: everywhere.0,
                passed: everywhere.1,
            },
        },
    );
    history
}

fn decide(rule: &Rule, history: &History, text: &str) -> Decision {
    let jobs = [job(1, "test", Conclusion::Failure)];
    decide_with_evidence(&facts(&jobs), history, rule, &evidence(text)).expect("eligible")
}

#[test]
fn a_failure_no_family_knows_is_rerun_once_three_of_four_reruns_here_passed() {
    let rule = rule("only_when = ['@transient']\nlearn_after = 3");
    let signature = signature_of(&rule, UNKNOWN);
    let decision = decide(&rule, &history(&signature, (4, 3), "PFPP", (4, 3)), UNKNOWN);
    assert!(
        matches!(decision.verdict, Verdict::Rerun(_)),
        "{decision:?}"
    );
    assert_eq!(decision.pattern.as_deref(), Some("learned"));
    assert_eq!(
        decision.evidence.as_deref(),
        Some("learned: 3 of 4 re-runs passed: frobnicator 4711 wobbled at stage 3")
    );
}

#[test]
fn too_few_observations_or_fewer_than_half_passed_is_still_no_transient_match() {
    let rule = rule("only_when = ['@transient']\nlearn_after = 3");
    let signature = signature_of(&rule, UNKNOWN);
    for (here, everywhere) in [((2, 2), (2, 2)), ((5, 2), (5, 2)), ((0, 0), (9, 4))] {
        let decision = decide(&rule, &history(&signature, here, "", everywhere), UNKNOWN);
        assert_eq!(
            decision.verdict.reason(),
            Some(Reason::NoTransientMatch),
            "{here:?} here, {everywhere:?} everywhere: {decision:?}"
        );
    }
}

#[test]
fn with_too_few_observations_here_every_repository_together_decides_and_says_so() {
    let rule = rule("only_when = ['@transient']\nlearn_after = 3");
    let signature = signature_of(&rule, UNKNOWN);
    let decision = decide(&rule, &history(&signature, (1, 0), "F", (6, 5)), UNKNOWN);
    assert!(
        decision
            .evidence
            .as_deref()
            .is_some_and(|e| e.starts_with("learned: 5 of 6 re-runs passed across repositories: ")),
        "{decision:?}"
    );
    // Enough observations here: the repository's own count decides, even against
    // every repository's.
    let decision = decide(
        &rule,
        &history(&signature, (3, 1), "FFP", (30, 29)),
        UNKNOWN,
    );
    assert_eq!(decision.verdict.reason(), Some(Reason::NoTransientMatch));
}

#[test]
fn without_learn_after_an_unknown_failure_is_never_learned() {
    let rule = rule("only_when = ['@transient']");
    let signature = signature_of(&rule, UNKNOWN);
    let decision = decide(&rule, &history(&signature, (9, 9), "PPP", (9, 9)), UNKNOWN);
    assert_eq!(decision.verdict.reason(), Some(Reason::NoTransientMatch));
}

#[test]
fn a_failure_that_shows_only_its_exit_code_is_never_learned() {
    // Every failure whose log says nothing but the step's end has this one line: its
    // re-runs say nothing about this failure.
    const EXIT_ONLY: &str = "2026-12-01T10:00:01.0000000Z make: leaving directory\n\
                             2026-12-01T10:00:02.0000000Z ##[error]Process completed with exit code 2.\n";
    let rule = rule("only_when = ['@transient']\nlearn_after = 3");
    let judged = judge(&rule, &evidence(EXIT_ONLY), &mut Unbounded);
    let decisive = judged[0].decisive.as_ref().expect("a decisive line");
    assert!(decisive.exit_only, "{decisive:?}");
    let signature = decisive.signature.clone();
    let decision = decide(
        &rule,
        &history(&signature, (9, 9), "PPP", (90, 90)),
        EXIT_ONLY,
    );
    assert_eq!(decision.verdict.reason(), Some(Reason::NoTransientMatch));
    // A line that says why is no exit-only line.
    let judged = judge(&rule, &evidence(UNKNOWN), &mut Unbounded);
    assert!(!judged[0].decisive.as_ref().expect("decisive").exit_only);
}

#[test]
fn learning_never_turns_a_failure_a_family_knows_as_broken_into_a_rerun() {
    let rule = rule("only_when = ['@transient']\nnever_when = ['@broken']\nlearn_after = 3");
    let signature = signature_of(&rule, COMPILE);
    let decision = decide(&rule, &history(&signature, (9, 9), "PPP", (9, 9)), COMPILE);
    assert_eq!(decision.verdict.reason(), Some(Reason::BrokenLog));
}

#[test]
fn a_transient_failure_whose_last_reruns_here_all_failed_again_is_not_rerun() {
    let rule = rule("only_when = ['@transient']\nstop_when_useless = 3");
    let signature = signature_of(&rule, RESET);
    let decision = decide(&rule, &history(&signature, (4, 1), "PFFF", (4, 1)), RESET);
    assert_eq!(decision.verdict.reason(), Some(Reason::UselessBefore));
    assert_eq!(
        decision.evidence.as_deref(),
        Some(
            "its last 3 re-runs in this repository all failed again: npm ERR! network read ECONNRESET"
        )
    );
    // One pass among the last three: still worth it.
    let decision = decide(&rule, &history(&signature, (4, 2), "FFPF", (4, 2)), RESET);
    assert!(
        matches!(decision.verdict, Verdict::Rerun(_)),
        "{decision:?}"
    );
}

#[test]
fn the_verdict_now_says_what_the_policy_would_do_with_a_signature() {
    let rule = rule("only_when = ['@transient']\nlearn_after = 3\nstop_when_useless = 2");
    let counts = |here: (u32, u32), recent: &str| SignatureHistory {
        here: Outcomes {
            reruns: here.0,
            passed: here.1,
        },
        recent: decode_recent(recent),
        everywhere: Outcomes {
            reruns: here.0,
            passed: here.1,
        },
    };
    use families::Class;
    assert_eq!(
        verdict_now(&rule, Some(Class::Transient), &counts((1, 1), "P")),
        "re-run: transient"
    );
    assert_eq!(
        verdict_now(&rule, Some(Class::Transient), &counts((3, 1), "PFF")),
        "not re-run: its last 2 re-runs in this repository all failed again"
    );
    assert_eq!(
        verdict_now(&rule, None, &counts((3, 2), "PFP")),
        "re-run: learned: 2 of 3 re-runs passed"
    );
    assert_eq!(
        verdict_now(&rule, None, &counts((1, 0), "F")),
        "not re-run: unknown (0 of 1 re-runs passed here)"
    );
    assert_eq!(
        verdict_now(&rule, Some(Class::Broken), &counts((0, 0), "")),
        "not re-run: broken"
    );
}

#[test]
fn recent_outcomes_read_back_as_written_and_ignore_other_letters() {
    use AfterRerun::{FailedAgain, Passed};
    let outcomes = vec![Passed, FailedAgain, FailedAgain];
    assert_eq!(encode_recent(&outcomes), "PFF");
    assert_eq!(decode_recent("P?F\u{e9}F"), outcomes);
}

#[test]
fn a_kept_decision_is_decided_again_under_another_policy() {
    let broad = rule("only_when = ['@transient']");
    let jobs = vec![job(1, "test", Conclusion::Failure)];
    let judged = judge(&broad, &evidence(RESET), &mut Unbounded);
    let kept = DecisionFacts {
        workflow: "CI".into(),
        branch: "master".into(),
        attempt: 1,
        jobs,
        judged,
    };
    let json = serde_json::to_string(&kept).expect("facts encode");
    let kept: DecisionFacts = serde_json::from_str(&json).expect("facts decode");
    assert!(matches!(
        replay(&kept, &broad).map(|d| d.verdict),
        Ok(Verdict::Rerun(_))
    ));
    let narrow = rule("only_when = ['@github_service']");
    let replayed = replay(&kept, &narrow).expect("eligible");
    assert_eq!(replayed.verdict.reason(), Some(Reason::NoTransientMatch));
    // A regex of the other policy is tried on the kept lines.
    let own = rule("only_when = ['network read']");
    let replayed = replay(&kept, &own).expect("eligible");
    assert_eq!(replayed.pattern.as_deref(), Some("only_when[0]"));
    // An attempt the other policy no longer re-runs is ineligible.
    let once = rule("attempts = 1");
    assert_eq!(replay(&kept, &once), Err(Ineligible::AttemptsUsed));
}
