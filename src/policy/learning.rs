//! Learning from what re-runs did: per failure signature ([`super::signature`]), how
//! often a re-run of it passed and how often it failed again, the service's own
//! re-runs and people's alike.
//!
//! Two uses, both pure functions of the counts the store keeps (the store counts,
//! this module only reads):
//! - [`learned`]: a failure no family knows, whose re-runs passed at least half of
//!   the time over at least `learn_after` observations, is re-run like a transient
//!   one. The repository's own count decides once it has enough observations; until
//!   then, every repository's together (a registry outage looks the same
//!   everywhere).
//! - [`useless`]: a failure whose last `stop_when_useless` re-runs in this
//!   repository all failed again is not re-run any more, whichever family calls it
//!   transient: the per-job rule of the same name, per signature.

use serde::{Deserialize, Serialize};

use super::families::Class;
use super::rule::Rule;

/// What a job did after one of its automatic re-runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterRerun {
    /// It passed: the failure was flaky.
    Passed,
    /// It failed again: the re-run did not help.
    FailedAgain,
}

/// How many of a signature's latest outcomes the store keeps per repository: more
/// than any useful `stop_when_useless`.
pub const RECENT_OUTCOMES: usize = 16;

/// Re-runs of one signature whose outcome is known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    /// Re-runs whose failed jobs then completed.
    pub reruns: u32,
    /// Of those, the ones where the job passed.
    pub passed: u32,
}

/// What the store knows of one signature, for a decision in one repository.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignatureHistory {
    /// In the run's repository.
    pub here: Outcomes,
    /// The repository's latest outcomes, oldest first (at most [`RECENT_OUTCOMES`]).
    pub recent: Vec<AfterRerun>,
    /// In every repository, this one included.
    pub everywhere: Outcomes,
}

/// Whether learning re-runs a failure no family knows, and the words that say so:
/// `learned: 3 of 4 re-runs passed` (`… across repositories` when the repository has
/// fewer than `learn_after` observations and all of them together decided). `None`:
/// learning is off (`learn_after = 0`), too few observations, or fewer than half passed.
pub fn learned(rule: &Rule, history: Option<&SignatureHistory>) -> Option<String> {
    let after = rule.learn_after;
    let history = history?;
    if after == 0 {
        return None;
    }
    let (seen, scope) = if history.here.reruns >= after {
        (history.here, "")
    } else if history.everywhere.reruns >= after {
        (history.everywhere, " across repositories")
    } else {
        return None;
    };
    (u64::from(seen.passed) * 2 >= u64::from(seen.reruns)).then(|| {
        format!(
            "learned: {} of {} re-runs passed{scope}",
            seen.passed, seen.reruns
        )
    })
}

/// Whether a failure's last `stop_when_useless` re-runs in this repository all failed
/// again, and the words that say so.
pub fn useless(rule: &Rule, history: Option<&SignatureHistory>) -> Option<String> {
    let n = rule.stop_when_useless as usize;
    let recent = &history?.recent;
    if n == 0 || recent.len() < n {
        return None;
    }
    recent[recent.len() - n..]
        .iter()
        .all(|outcome| *outcome == AfterRerun::FailedAgain)
        .then(|| format!("its last {n} re-runs in this repository all failed again"))
}

/// What the policy would do now with a signature, in a few words for `/status` and
/// `/api/signatures`: the family's class first, then what learning says.
pub fn verdict_now(rule: &Rule, class: Option<Class>, history: &SignatureHistory) -> String {
    if let Some(why) = useless(rule, Some(history)) {
        return format!("not re-run: {why}");
    }
    match class {
        Some(Class::Broken) => "not re-run: broken".to_owned(),
        Some(Class::Transient) => "re-run: transient".to_owned(),
        Some(Class::NotStarted) => "not re-run: never started".to_owned(),
        None => match learned(rule, Some(history)) {
            Some(why) => format!("re-run: {why}"),
            None if rule.learn_after == 0 => "not re-run: unknown (learning off)".to_owned(),
            None => format!(
                "not re-run: unknown ({} of {} re-runs passed here)",
                history.here.passed, history.here.reruns
            ),
        },
    }
}

/// The latest outcomes as the store keeps them: one letter each, `P` passed, `F`
/// failed again, oldest first.
pub fn encode_recent(recent: &[AfterRerun]) -> String {
    recent
        .iter()
        .map(|outcome| match outcome {
            AfterRerun::Passed => 'P',
            AfterRerun::FailedAgain => 'F',
        })
        .collect()
}

/// Reads [`encode_recent`]'s letters; any other character is left out.
pub fn decode_recent(letters: &str) -> Vec<AfterRerun> {
    letters
        .chars()
        .filter_map(|letter| match letter {
            'P' => Some(AfterRerun::Passed),
            'F' => Some(AfterRerun::FailedAgain),
            _ => None,
        })
        .collect()
}
