//! A validated `workflow_run.completed` event: GitHub's own word on how one attempt
//! of a run ended, as the run logic sees it. (`requested` and `in_progress` are
//! answered by the webhook handler and never reach the run logic: they change nothing.)

use crate::ids::{CommitSha, InstallationId, RunKey};

use super::{Conclusion, Name};

/// One `workflow_run` delivery with `action: completed` that passed validation and the
/// docs/spec.md's filters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunEvent {
    /// `X-GitHub-Delivery`, when GitHub sent one.
    pub delivery: Option<String>,
    /// The run (`repository.full_name`, `workflow_run.id`).
    pub run: RunKey,
    /// `workflow_run.run_attempt`.
    pub run_attempt: u32,
    /// `workflow_run.name`: the workflow's name, as `workflow_job.workflow_name` gives it.
    pub workflow_name: Name,
    /// `workflow_run.head_branch` ("" when absent: such runs are not eligible).
    pub branch: Name,
    /// `workflow_run.conclusion`.
    pub conclusion: Conclusion,
    /// `installation.id`: the GitHub App installation the delivery came from (`None`
    /// for a repository webhook), as for a job.
    pub installation: Option<InstallationId>,
    /// `workflow_run.head_sha`: the commit the run's check runs are reported on.
    pub head_sha: Option<CommitSha>,
}
