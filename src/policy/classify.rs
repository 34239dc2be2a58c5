//! `classify`: what the service would make of one failure's text, without a run, a
//! store or GitHub: the decisive line, the family that knows it, its signature, and
//! the decision the rule's evidence checks lead to. The `classify` command prints it
//! (a tester for policies, like a regex tester), and the corpus test replays real
//! failure text through it.
//!
//! The text is read as a job's log (raw, with timestamps and `##[error]` markers, or as
//! the UI shows it, or annotations pasted one per line). Only the rule's checks on
//! evidence apply: the text is taken as the first failed attempt of a job that ran
//! its steps, on a branch the rule accepts, with no history.

use super::decision::{Decision, JobFacts, RunFacts, decide_with_evidence};
use super::decisive::Unbounded;
use super::job_evidence::{Fetched, JobEvidence};
use super::judgement::{DecisiveLine, judge};
use super::patterns::{GlobKind, GlobList};
use super::rule::Rule;
use crate::ids::Conclusion;
use crate::ids::JobId;

/// The recommended policy (`docs/policies/recommended.toml`), built in: what
/// `classify` decides with when given no policy, and what the corpus test measures.
pub const RECOMMENDED_POLICY: &str = include_str!("../../docs/policies/recommended.toml");

/// The recommended policy's `[defaults]` rule (tests).
#[cfg(test)]
pub(crate) fn recommended_rule() -> Rule {
    super::load(
        Some(RECOMMENDED_POLICY),
        None,
        &super::EnvDefaults::default(),
    )
    .expect("the recommended policy is valid")
    .defaults()
    .clone()
}

/// What one failure's text says under a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    /// The line that failed the job, if any line was worth it.
    pub decisive: Option<DecisiveLine>,
    /// What the rule decides on it.
    pub decision: Decision,
}

/// Classifies `text` under `rule`.
pub fn classify(text: &str, rule: &Rule) -> Classification {
    let mut rule = rule.clone();
    // The text is all there is: whatever the rule says of branches and attempts,
    // it is judged as the first failure of an eligible run.
    rule.branches = GlobList::new(&["*"], GlobKind::Branch).unwrap_or_else(|_| GlobList::empty());
    rule.attempts = rule.attempts.max(2);
    let job = JobFacts {
        id: JobId(1),
        name: "job".into(),
        conclusion: Conclusion::Failure,
        ran_steps: true,
        failed_steps: Vec::new(),
    };
    let jobs = [job];
    let run = RunFacts {
        workflow: "",
        branch: "main",
        attempt: 1,
        jobs: &jobs,
    };
    let evidence = [JobEvidence {
        job: JobId(1),
        annotations: Fetched::Got(Vec::new()),
        log: Fetched::Got(text.to_owned()),
    }];
    let decisive = judge(&rule, &evidence, &mut Unbounded)
        .pop()
        .and_then(|judged| judged.decisive);
    let decision = match decide_with_evidence(&run, &Default::default(), &rule, &evidence) {
        Ok(decision) => decision,
        // Unreachable with the rule adjusted above; say so rather than panic.
        Err(ineligible) => Decision {
            verdict: super::decision::Verdict::Skip {
                reason: super::decision::Reason::NoTransientMatch,
            },
            job: None,
            evidence: Some(format!("not eligible: {}", ineligible.as_str())),
            pattern: None,
        },
    };
    Classification { decisive, decision }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Verdict;

    fn recommended() -> Rule {
        recommended_rule()
    }

    #[test]
    fn a_registry_reset_is_re_run_under_the_recommended_policy() {
        let found = classify(
            "2024-05-01T10:00:00.1234567Z npm ERR! code ECONNRESET\n2024-05-01T10:00:00.2234567Z ##[error]Process completed with exit code 1.\n",
            &recommended(),
        );
        assert!(
            matches!(found.decision.verdict, Verdict::Rerun(_)),
            "{found:?}"
        );
        assert_eq!(
            found.decision.pattern.as_deref(),
            Some("@registry:npm_network")
        );
        let decisive = found.decisive.expect("a decisive line");
        assert_eq!(decisive.signature, "npm err! code econnreset");
    }

    #[test]
    fn a_compile_error_is_not_re_run_and_says_why() {
        let found = classify(
            "error[E0425]: cannot find value `x` in this scope\nError: Process completed with exit code 101.\n",
            &recommended(),
        );
        assert_eq!(
            found.decision.verdict.reason(),
            Some(super::super::Reason::BrokenLog)
        );
        assert_eq!(found.decision.pattern.as_deref(), Some("@compile:rust"));
    }

    #[test]
    fn text_no_family_knows_is_not_re_run_but_keeps_its_decisive_line() {
        let found = classify("frobnicate failed: 3 widgets left over\n", &recommended());
        assert_eq!(
            found.decision.verdict.reason(),
            Some(super::super::Reason::NoTransientMatch)
        );
        let decisive = found.decisive.expect("a decisive line");
        assert_eq!(decisive.known, None);
        assert_eq!(
            decisive.signature,
            "frobnicate failed: <n> widgets left over"
        );
    }
}
