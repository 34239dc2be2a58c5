//! What another policy would have done with the decisions already made: each kept
//! decision ([`DecisionFacts`]) decided again ([`replay`]) and compared with what was
//! decided, and, where the next attempt's jobs said how the failure ended, whether the
//! change would have helped. Pure: the rows come in, a [`Report`] goes out; the
//! command (`cli/what_if.rs`) reads the store and prints it.

use super::decision::Verdict;
use super::replay::{DecisionFacts, replay};
use super::rule::Policy;

/// One kept decision as the store gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptDecision {
    /// `owner/name`.
    pub repo: String,
    /// The run.
    pub run_id: u64,
    /// The attempt decided.
    pub attempt: u32,
    /// `rerun`, `skip` or `shadow`, as decided then.
    pub verdict: String,
    /// The skip's reason then.
    pub reason: Option<String>,
    /// The facts (`None`: decided before they were kept, or unreadable).
    pub facts: Option<DecisionFacts>,
    /// `passed` / `failed_again` once the next attempt's jobs said.
    pub outcome: Option<String>,
}

/// A decision the other policy makes differently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    /// `owner/name`.
    pub repo: String,
    /// The run.
    pub run_id: u64,
    /// The attempt.
    pub attempt: u32,
    /// The job the new decision names (else the one the old named).
    pub job: Option<String>,
    /// What was decided: `rerun`, or `skip (reason)`.
    pub before: String,
    /// What the other policy decides.
    pub after: String,
    /// The line the new decision rests on.
    pub evidence: Option<String>,
    /// How the failure ended after a re-run, when known.
    pub outcome: Option<String>,
}

/// The comparison.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Decisions replayed.
    pub replayed: usize,
    /// Decisions without facts (made before they were kept).
    pub without_facts: usize,
    /// The decisions that change, oldest first.
    pub changed: Vec<Changed>,
    /// Of the skips that become re-runs, with a known outcome: a re-run passed.
    pub new_reruns_that_helped: usize,
    /// … a re-run failed again.
    pub new_reruns_that_failed_again: usize,
    /// Of the re-runs that become skips, with a known outcome: the re-run failed
    /// again (a re-run saved).
    pub dropped_reruns_that_failed_again: usize,
    /// … the re-run passed (a green run lost).
    pub dropped_reruns_that_helped: usize,
}

/// Whether a decision re-runs (or would, in shadow mode): what changes matter.
fn reruns(label: &str) -> bool {
    label == "rerun" || label == "shadow"
}

/// Replays every kept decision under `policy` and compares.
pub fn compare(kept: &[KeptDecision], policy: &Policy) -> Report {
    let mut report = Report::default();
    for decision in kept {
        let Some(facts) = &decision.facts else {
            report.without_facts += 1;
            continue;
        };
        report.replayed += 1;
        let rule = policy.rule_for(&decision.repo, &facts.workflow);
        let (after_label, after, job, evidence) = match replay(facts, rule) {
            Ok(new) => {
                let label = match new.verdict {
                    Verdict::Rerun(_) => "rerun",
                    Verdict::Shadow(_) => "shadow",
                    Verdict::Skip { .. } => "skip",
                };
                let shown = match (new.verdict.reason(), &new.pattern) {
                    (Some(reason), _) => format!("skip ({})", reason.as_str()),
                    (None, Some(pattern)) => format!("{label} ({pattern})"),
                    (None, None) => label.to_owned(),
                };
                let job = new.job.as_ref().map(|j| j.name.to_string());
                (label, shown, job, new.evidence.clone())
            }
            Err(ineligible) => (
                "skip",
                format!("not eligible ({})", ineligible.as_str()),
                None,
                None,
            ),
        };
        let before_reruns = reruns(&decision.verdict);
        if before_reruns == reruns(after_label) {
            continue;
        }
        match (before_reruns, decision.outcome.as_deref()) {
            (false, Some("passed")) => report.new_reruns_that_helped += 1,
            (false, Some("failed_again")) => report.new_reruns_that_failed_again += 1,
            (true, Some("passed")) => report.dropped_reruns_that_helped += 1,
            (true, Some("failed_again")) => report.dropped_reruns_that_failed_again += 1,
            _ => {}
        }
        let before = match &decision.reason {
            Some(reason) => format!("{} ({reason})", decision.verdict),
            None => decision.verdict.clone(),
        };
        report.changed.push(Changed {
            repo: decision.repo.clone(),
            run_id: decision.run_id,
            attempt: decision.attempt,
            job,
            before,
            after,
            evidence,
            outcome: decision.outcome.clone(),
        });
    }
    report
}
