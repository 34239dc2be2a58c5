//! What a decision kept so that it can be decided again under another policy
//! (`job-rerunner what-if`): the attempt's facts and each failed job's judgement
//! (decisive line, family, signature, and the lines the rule's own lists matched),
//! never the whole log.
//!
//! Replaying is [`super::decide_on_judgements`] on those facts under the other rule.
//! What the kept lines cannot show is said, not guessed: a regex of the other policy
//! that would have matched some other line of the log finds nothing here, and the
//! hourly budget and per-job history are not replayed (each decision is taken alone).

use serde::{Deserialize, Serialize};

use super::decision::{Decision, History, Ineligible, JobFacts, RunFacts, decide_on_judgements};
use super::judgement::{JobJudgement, Matched};
use super::rule::Rule;

/// One decision's facts, as the `decisions` table keeps them (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionFacts {
    /// `workflow_name`.
    pub workflow: String,
    /// `head_branch`.
    pub branch: String,
    /// The attempt decided.
    pub attempt: u32,
    /// The attempt's jobs that completed (the decision reads the failed ones).
    pub jobs: Vec<JobFacts>,
    /// Each failed job's judgement, when the decision read evidence.
    #[serde(default)]
    pub judged: Vec<JobJudgement>,
}

/// Decides the kept facts again under `rule`. The lines a rule's own regexes matched
/// when the decision was made are the only raw lines kept, with the decisive line:
/// `rule`'s regexes are tried on those.
pub fn replay(facts: &DecisionFacts, rule: &Rule) -> Result<Decision, Ineligible> {
    let run = RunFacts {
        workflow: &facts.workflow,
        branch: &facts.branch,
        attempt: facts.attempt,
        jobs: &facts.jobs,
    };
    let judged: Vec<JobJudgement> = facts
        .judged
        .iter()
        .map(|judgement| rejudge(judgement, rule))
        .collect();
    decide_on_judgements(&run, &History::default(), rule, &judged)
}

/// A kept judgement under another rule: families on the decisive line, the rule's own
/// regexes on every kept line.
fn rejudge(kept: &JobJudgement, rule: &Rule) -> JobJudgement {
    let mut lines: Vec<&str> = Vec::new();
    lines.extend(kept.decisive.as_ref().map(|d| d.line.as_str()));
    lines.extend(kept.never.as_ref().map(|m| m.line.as_str()));
    lines.extend(kept.only.as_ref().map(|m| m.line.as_str()));
    let own = |patterns: &super::patterns::Patterns, field: &str| {
        lines.iter().find_map(|line| {
            let index = patterns.matching_regex(line)?;
            Some(Matched {
                line: (*line).to_owned(),
                pattern: format!("{field}[{index}]"),
            })
        })
    };
    let family = |patterns: &super::patterns::Patterns| {
        let decisive = kept.decisive.as_ref()?;
        let known = super::families::known(&decisive.line)?;
        Some(Matched {
            line: decisive.line.clone(),
            pattern: patterns.family_hit(known)?,
        })
    };
    JobJudgement {
        job: kept.job,
        never: own(&rule.never_when, "never_when").or_else(|| family(&rule.never_when)),
        only: own(&rule.only_when, "only_when").or_else(|| family(&rule.only_when)),
        decisive: kept.decisive.clone(),
        unread: kept.unread.clone(),
    }
}
