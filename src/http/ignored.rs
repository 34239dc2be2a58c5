//! What a 204 line says about the delivery it ignored: the repository, run, attempt,
//! sender and action, where the payload has them, so that "why wasn't my run re-run?"
//! is answered by searching the log for the run or the repository. Read only for a
//! delivery answered 204 (the tracked ones log the parsed event), from the verified
//! body, leniently: a field of another shape, or a body that is no JSON, leaves the
//! line with what could be read.

use serde::Deserialize;

use super::headers::{Shape, shown};
use super::payload::{FullName, Login};
use super::picked::{Picked, Text};

/// The ids a 204 line carries; each absent one is left out of the line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct About {
    repo: Option<String>,
    run_id: Option<u64>,
    run_attempt: Option<u32>,
    sender: Option<String>,
    action: Option<String>,
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow)]
    action: Option<Text<'a>>,
    #[serde(borrow)]
    sender: Option<Picked<'a, Login>>,
    #[serde(borrow)]
    repository: Option<Picked<'a, FullName>>,
    workflow_job: Option<JobRun>,
    workflow_run: Option<WorkflowRun>,
}

/// `workflow_job.run_id` and its attempt (the job's own `id` is not the run's).
#[derive(Deserialize)]
struct JobRun {
    run_id: Option<u64>,
    run_attempt: Option<u32>,
}

/// `workflow_run.id` and its attempt.
#[derive(Deserialize)]
struct WorkflowRun {
    id: Option<u64>,
    run_attempt: Option<u32>,
}

impl About {
    /// Reads what `body` says about itself (nothing, when it cannot be read).
    pub fn read(body: &[u8]) -> Self {
        let Ok(raw) = serde_json::from_slice::<Raw>(body) else {
            return Self::default();
        };
        let text = |value: Option<Text<'_>>| {
            value.map(|value| shown(value.as_str().as_bytes(), Shape::Text).into_owned())
        };
        let (run_id, run_attempt) = match (raw.workflow_job, raw.workflow_run) {
            (Some(job), _) => (job.run_id, job.run_attempt),
            (None, Some(run)) => (run.id, run.run_attempt),
            (None, None) => (None, None),
        };
        Self {
            repo: text(raw.repository.and_then(|repo| repo.0)),
            run_id,
            run_attempt,
            sender: text(raw.sender.and_then(|sender| sender.0)),
            action: text(raw.action),
        }
    }
}

impl slog::KV for About {
    fn serialize(
        &self,
        _record: &slog::Record<'_>,
        out: &mut dyn slog::Serializer,
    ) -> slog::Result {
        if let Some(repo) = &self.repo {
            out.emit_str("repo", repo)?;
        }
        if let Some(run_id) = self.run_id {
            out.emit_u64("run_id", run_id)?;
        }
        if let Some(attempt) = self.run_attempt {
            out.emit_u32("run_attempt", attempt)?;
        }
        if let Some(sender) = &self.sender {
            out.emit_str("sender", sender)?;
        }
        if let Some(action) = &self.action {
            out.emit_str("action", action)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_event_gives_its_repository_run_attempt_sender_and_action() {
        let body = br#"{"action": "completed", "sender": {"login": "dependabot[bot]", "id": 1},
            "repository": {"id": 5, "full_name": "org/repo"},
            "workflow_job": {"id": 99, "run_id": 42, "run_attempt": 4}}"#;
        assert_eq!(
            About::read(body),
            About {
                repo: Some("org/repo".into()),
                run_id: Some(42),
                run_attempt: Some(4),
                sender: Some("dependabot[bot]".into()),
                action: Some("completed".into()),
            }
        );
    }

    #[test]
    fn a_workflow_run_event_gives_its_run_and_a_body_of_another_shape_nothing() {
        let about = About::read(br#"{"workflow_run": {"id": 7, "run_attempt": 2}}"#);
        assert_eq!((about.run_id, about.run_attempt), (Some(7), Some(2)));
        assert_eq!(About::read(b"payload=x"), About::default());
        assert_eq!(About::read(br#"{"sender": "x"}"#), About::default());
    }
}
