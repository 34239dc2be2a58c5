//! The failure policy: which failed runs are worth a re-run, and why not the others.
//!
//! Users write a TOML policy (`RULES` or `RULES_FILE`, see docs/policy.md): defaults
//! that override the environment's `RUN_ATTEMPTS`, `REPO_BRANCHES` and `RERUN_DELAY`,
//! and `[[rule]]`s for some repositories or workflows. [`load`] reads and validates it
//! into a [`Policy`] (every error one line naming the source, line and field);
//! [`Policy::rule_for`] gives a run its complete [`Rule`]; [`decide_at_completion`]
//! and [`decide_with_evidence`] turn the run's facts into a [`Decision`] with a reason
//! from a closed set and the evidence it rests on.
//!
//! Like `run/`, this module is pure: no actor, no HTTP, no store, no clock, no
//! environment. The tracker gathers the inputs and acts on the decision; the GitHub
//! actor fetches the evidence when a decision asks for it.

mod classify;
mod config;
mod costly;
mod decision;
pub mod decisive;
mod error;
mod evidence;
pub mod families;
mod job_evidence;
mod judgement;
mod learning;
mod patterns;
mod raw;
mod replay;
mod rule;
mod signature;
mod view;
mod what_if;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod decision_tests;
#[cfg(test)]
mod learning_tests;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

pub use classify::{Classification, RECOMMENDED_POLICY, classify};
pub use config::{MAX_DURATION, MAX_POLICY_BYTES, load, parse};
pub use decision::{
    AtCompletion, Decision, EvidenceRequest, History, Ineligible, JobFacts, Reason, RerunPlan,
    RunFacts, Verdict, backoff_delay_ms, decide_at_completion, decide_on_judgements,
    decide_with_evidence,
};
pub use decisive::{Budget, Unbounded};
pub use error::{Location, PolicyError, PolicySource};
pub use evidence::{EVIDENCE_CHARS, clean as clean_evidence, has_secret, log_lines, mask_secrets};
pub use job_evidence::{Annotation, AnnotationLevel, Fetched, JobEvidence, JobRef};
pub use judgement::{DecisiveLine, JobJudgement, Matched, judge};
pub use learning::{
    AfterRerun, Outcomes, RECENT_OUTCOMES, SignatureHistory, decode_recent, encode_recent, learned,
    useless, verdict_now,
};
pub use patterns::{GlobKind, GlobList, Hit, ListError, MAX_PATTERN_CHARS, MAX_PATTERNS, Patterns};
pub use replay::{DecisionFacts, replay};
pub use rule::{
    BranchFilter, DEFAULT_MAX_DELAY, EnvDefaults, Mode, Policy, Rule, RuleRef, ScopedRule,
};
pub use signature::{SIGNATURE_CHARS, signature};
pub use view::{PolicyView, RuleView, ScopedRuleView};
pub use what_if::{Changed, KeptDecision, Report, compare};
