//! What a run remembers so that its re-runs teach: the failures of the attempt that
//! were judged (each failed job's decisive line and its signature), and, once a newer
//! attempt starts, which of them its jobs' outcomes will settle.
//!
//! The newer attempt may be the service's re-run or a person's ("Re-run failed
//! jobs"), and it may be one the policy will never re-run itself (answered 204 at the
//! door): either way, a job of the judged failure that now passes says a re-run of
//! that signature helped, one that fails again says it did not. Each such outcome is
//! one [`Lesson`], which the store counts per repository and signature.

use serde::{Deserialize, Serialize};

use super::TrackedJob;
use crate::policy::JobJudgement;
use crate::policy::families::Class;

/// One judged failure of a job: what learning counts and `/status` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The job's name (a newer attempt gives the job a new id, never a new name).
    pub job: String,
    /// The decisive line's signature.
    pub signature: String,
    /// The decisive line (masked, at most 200 characters).
    pub line: String,
    /// `network:connection_reset`; `None` when no family knows the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// The family's class; `None` when no family knows the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<Class>,
}

/// What one job's completion in a newer attempt said about a judged failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lesson {
    /// The failure it settles.
    pub failure: Failure,
    /// The job passed: the re-run helped.
    pub passed: bool,
    /// The service asked for the re-run (false: a person did).
    pub by_service: bool,
    /// The attempt whose failure it was.
    pub attempt: u32,
}

/// The failures of `judged` jobs that had a decisive line saying why, by job name (a
/// line that is only the step's exit code is every failure's: nothing to learn).
pub fn failures_of(judged: &[JobJudgement], jobs: &[TrackedJob]) -> Vec<Failure> {
    judged
        .iter()
        .filter_map(|judgement| {
            let decisive = judgement.decisive.as_ref().filter(|d| !d.exit_only)?;
            let job = jobs.iter().find(|job| job.id == judgement.job)?;
            Some(Failure {
                job: job.name.to_string(),
                signature: decisive.signature.clone(),
                line: decisive.line.clone(),
                family: decisive.known.clone(),
                class: decisive.class,
            })
        })
        .collect()
}
