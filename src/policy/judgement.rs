//! Reading the evidence: what each failed job's annotations and log say under a
//! rule's `never_when` and `only_when`, done once and *before* the decision is
//! committed, within a budget.
//!
//! Matching is the one costly part of a decision (regexes over up to a log tail per
//! job), so it never runs inside the store's transaction: the tracker judges the
//! evidence on a blocking thread with a [`Budget`] of bytes and time, and the
//! transaction decides on the [`JobJudgement`]s, which is cheap. A job whose reading
//! the budget cut short is judged on what was read, and says so.
//!
//! A rule's list holds two kinds of entry, matched differently:
//! - a regex the user wrote matches *any* failure annotation or log line, as it
//!   always has: the user said exactly what they mean;
//! - a family (`@network`, `@broken`, …) matches the job's *decisive* line only
//!   ([`super::decisive`]): a compile error is broken even when a network warning
//!   stands above it, and a word in ordinary output is no failure.

use serde::{Deserialize, Serialize};

use super::decisive::{self, Budget};
use super::evidence;
use super::families::Class;
use super::job_evidence::{AnnotationLevel, Fetched, JobEvidence};
use super::patterns::Patterns;
use super::rule::Rule;
use super::signature::signature;
use crate::ids::JobId;

/// A line that matched a list, cleaned for display, and what matched it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matched {
    /// The line (at most 200 characters, secrets masked).
    pub line: String,
    /// `never_when[1]` for a regex of the list, `@network:connection_reset` for a
    /// family's pattern (`@infra:…` when the list named it by its old name).
    pub pattern: String,
}

/// The decisive line of a job, as a decision keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisiveLine {
    /// The line (at most 200 characters, secrets masked).
    pub line: String,
    /// `network:connection_reset`; `None` when no family knows the line.
    pub known: Option<String>,
    /// The known family's class; `None` when no family knows the line.
    pub class: Option<Class>,
    /// The line's signature (what learning counts).
    pub signature: String,
    /// The line is only the step's exit code (see `decisive::Decisive::exit_only`):
    /// learning neither counts nor trusts it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exit_only: bool,
}

/// What one failed job's evidence says under a rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobJudgement {
    /// The job.
    pub job: JobId,
    /// The first `never_when` match: the job is broken.
    pub never: Option<Matched>,
    /// The first `only_when` match: the job's failure is one the rule re-runs.
    pub only: Option<Matched>,
    /// The line that failed the job, if any line was worth it.
    pub decisive: Option<DecisiveLine>,
    /// Why the evidence could not all be read (unavailable, or the budget was spent).
    pub unread: Option<String>,
}

impl JobJudgement {
    /// A job with no evidence at all.
    pub fn unavailable(job: JobId, why: &str) -> Self {
        Self {
            job,
            never: None,
            only: None,
            decisive: None,
            unread: Some(why.to_owned()),
        }
    }
}

/// Judges each job's evidence under `rule`; the budget is shared by all of them.
pub fn judge(rule: &Rule, evidence: &[JobEvidence], budget: &mut dyn Budget) -> Vec<JobJudgement> {
    evidence
        .iter()
        .map(|job| judge_job(rule, job, budget))
        .collect()
}

fn judge_job(rule: &Rule, job: &JobEvidence, budget: &mut dyn Budget) -> JobJudgement {
    let failures: Vec<&str> = match &job.annotations {
        Fetched::Got(annotations) => annotations
            .iter()
            .filter(|a| a.level == AnnotationLevel::Failure)
            .map(|a| a.message.as_str())
            .collect(),
        Fetched::Unavailable { .. } => Vec::new(),
    };
    let log = match &job.log {
        Fetched::Got(log) => Some(log.as_str()),
        Fetched::Unavailable { .. } => None,
    };
    let mut cut_short = false;
    let mut own = |patterns: &Patterns, field: &str, budget: &mut dyn Budget| {
        let found = first_own_match(patterns, field, &failures, log, budget);
        cut_short |= found.1;
        found.0
    };
    let never_own = own(&rule.never_when, "never_when", budget);
    let only_own = own(&rule.only_when, "only_when", budget);
    // The decisive line is read whatever the lists hold: its signature is what learning
    // counts and what `what-if` replays, even under a rule of regexes alone.
    let reading = decisive::decide_line(log, failures.iter().copied(), budget);
    cut_short |= reading.cut_short;
    let family_hit = |patterns: &Patterns| {
        let found = reading.decisive.as_ref()?;
        let name = patterns.family_hit(found.known?)?;
        Some(Matched {
            line: evidence::clean(&found.line),
            pattern: name,
        })
    };
    let never = never_own.or_else(|| family_hit(&rule.never_when));
    let only = only_own.or_else(|| family_hit(&rule.only_when));
    let decisive = reading.decisive.as_ref().map(|found| DecisiveLine {
        line: evidence::clean(&found.line),
        known: found.known.map(|k| k.label()),
        class: found.known.map(|k| k.family().class),
        signature: signature(&found.line),
        exit_only: found.exit_only,
    });
    let mut unread = unavailable(job);
    if cut_short {
        let spent = "the matching budget was spent before the end of the log".to_owned();
        unread = Some(match unread {
            Some(why) => format!("{why}; {spent}"),
            None => spent,
        });
    }
    JobJudgement {
        job: job.job,
        never,
        only,
        decisive,
        unread,
    }
}

/// The first failure annotation line, then log line, that one of the list's own
/// regexes matches; and whether the budget ran out first.
fn first_own_match(
    patterns: &Patterns,
    field: &str,
    failures: &[&str],
    log: Option<&str>,
    budget: &mut dyn Budget,
) -> (Option<Matched>, bool) {
    if !patterns.has_regexes() {
        return (None, false);
    }
    let texts = failures.iter().copied().chain(log);
    for text in texts {
        for line in evidence::log_lines(text) {
            if !budget.take(line.len() + 1) {
                return (None, true);
            }
            if let Some(index) = patterns.matching_regex(&line) {
                let matched = Matched {
                    line: evidence::clean(&line),
                    pattern: format!("{field}[{index}]"),
                };
                return (Some(matched), false);
            }
        }
    }
    (None, false)
}

/// Why nothing could be read, when the log (or the annotations) could not be fetched.
fn unavailable(evidence: &JobEvidence) -> Option<String> {
    let log = match &evidence.log {
        Fetched::Unavailable { why } => Some(format!("log unavailable: {why}")),
        Fetched::Got(_) => None,
    };
    let annotations = match &evidence.annotations {
        Fetched::Unavailable { why } => Some(format!("annotations unavailable: {why}")),
        Fetched::Got(_) => None,
    };
    match (log, annotations) {
        (Some(l), Some(a)) => Some(format!("{l}; {a}")),
        (l, a) => l.or(a),
    }
}
