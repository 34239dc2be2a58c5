//! A validated `workflow_job` event, as the run logic sees it.

use crate::ids::{CommitSha, InstallationId, JobId, RunKey};
pub use crate::ids::{Conclusion, Name};

/// What happened to the job (`action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobAction {
    /// `queued`, `waiting` or `in_progress`: the job exists and has not finished.
    Unfinished,
    /// `completed`, with the job's conclusion.
    Completed(Conclusion),
}

/// One `workflow_job` delivery that passed validation and docs/spec.md's filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobEvent {
    /// `X-GitHub-Delivery`, when GitHub sent one.
    pub delivery: Option<String>,
    /// The run the job belongs to.
    pub run: RunKey,
    /// `workflow_job.run_attempt`.
    pub run_attempt: u32,
    /// `workflow_job.id`.
    pub job_id: JobId,
    /// `workflow_job.name`.
    pub job_name: Name,
    /// `workflow_job.workflow_name`.
    pub workflow_name: Name,
    /// `workflow_job.head_branch`.
    pub branch: Name,
    /// What happened.
    pub action: JobAction,
    /// Whether the job ran any step: `workflow_job.steps` is not empty (or absent: an
    /// older payload shape says nothing, and nothing is concluded from it). A failed
    /// job that ran no step never started (spending limit, invalid workflow, no
    /// runner) and is never re-run.
    pub ran_steps: bool,
    /// The names of the steps whose conclusion is `failure` (empty for an unfinished job).
    pub failed_steps: Vec<Name>,
    /// `installation.id`: the GitHub App installation the delivery came from (`None`
    /// for a repository or organisation webhook).
    pub installation: Option<InstallationId>,
    /// `workflow_job.head_sha`: the commit the run's check runs are reported on.
    pub head_sha: Option<CommitSha>,
    /// The completion of a job in an attempt its rule will never re-run (`run_attempt`
    /// at or above the rule's `attempts`, or `RUN_ATTEMPTS`): answered 204, the job not
    /// tracked, but its outcome settles what the previous attempt's failures taught
    /// (a person's re-run, or the service's last).
    pub beyond_attempts: Option<BeyondAttempts>,
    /// How long a completed job ran (`completed_at - started_at`), ms: what a re-run
    /// costs in runner time. `None` while unfinished, or when GitHub did not say.
    pub ran_ms: Option<u64>,
}

/// Which limit an attempt the service never re-runs reached; what it is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BeyondAttempts {
    /// `run_attempt` at or above `RUN_ATTEMPTS` (and every rule's `attempts`).
    RunAttempts,
    /// `run_attempt` at or above its own rule's `attempts`.
    RuleAttempts,
}

impl BeyondAttempts {
    /// The one-line answer (204).
    pub const fn reason(self) -> &'static str {
        match self {
            Self::RunAttempts => "run_attempt reached RUN_ATTEMPTS",
            Self::RuleAttempts => "run_attempt reached the attempts of its rule",
        }
    }
}
