//! How runs and re-run records are encoded in rows; shared by every backend.

use super::StoreError;
use crate::ids::{RepoName, RunId, RunKey};
use crate::run::{RerunOutcome, RerunRecord, RunState};

/// A run's state as stored in `runs.state`.
pub fn encode_state(key: &RunKey, state: &RunState) -> Result<String, StoreError> {
    serde_json::to_string(state)
        .map_err(|err| StoreError(format!("cannot encode run {key}: {err}")))
}

/// Reads `runs.state` back.
pub fn decode_state(key: &RunKey, json: &str) -> Result<RunState, StoreError> {
    serde_json::from_str(json).map_err(|err| StoreError(format!("run {key} is unreadable: {err}")))
}

/// A run key from a row's `repo` and `run_id`.
pub fn run_key(repo: &str, run_id: i64) -> Result<RunKey, StoreError> {
    let repo = RepoName::parse(repo).map_err(|err| StoreError(err.to_string()))?;
    Ok(RunKey {
        repo,
        run_id: RunId(run_id as u64),
    })
}

/// `reruns.detail` and `reruns.failed_jobs` of a record.
pub fn encode_record(record: &RerunRecord) -> Result<(String, String), StoreError> {
    let detail = serde_json::to_string(&record.outcome)
        .map_err(|err| StoreError(format!("cannot encode outcome: {err}")))?;
    let failed_jobs = serde_json::to_string(&record.failed_jobs)
        .map_err(|err| StoreError(format!("cannot encode job names: {err}")))?;
    Ok((detail, failed_jobs))
}

/// The columns of a `reruns` row, as read.
pub struct RerunRow {
    pub repo: String,
    pub run_id: i64,
    pub attempt: i64,
    pub detail: String,
    pub workflow: String,
    pub branch: String,
    pub failed_jobs: String,
    pub finished_at: i64,
}

/// Reads a `reruns` row back.
pub fn decode_record(row: RerunRow) -> Result<(RunKey, RerunRecord), StoreError> {
    let outcome: RerunOutcome = serde_json::from_str(&row.detail)
        .map_err(|err| StoreError(format!("unreadable re-run outcome: {err}")))?;
    let failed_jobs: Vec<String> = serde_json::from_str(&row.failed_jobs)
        .map_err(|err| StoreError(format!("unreadable job names: {err}")))?;
    let record = RerunRecord {
        attempt: row.attempt as u32,
        outcome,
        workflow: row.workflow,
        branch: row.branch,
        failed_jobs,
        finished_at: row.finished_at as u64,
    };
    Ok((run_key(&row.repo, row.run_id)?, record))
}

/// The flaky job an applied event found, if it is to be counted.
pub fn flaky_to_count(applied: &crate::run::Applied) -> Option<(&str, &str)> {
    use crate::run::{ChangeResult, Persist};
    match (&applied.result, applied.persist, &applied.state) {
        (ChangeResult::Event(verdict), Persist::Save, Some(state)) => verdict
            .flaky
            .as_deref()
            .map(|job| (state.workflow.as_str(), job)),
        _ => None,
    }
}
