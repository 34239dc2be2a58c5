//! Parses a `workflow_run` delivery and applies docs/spec.md's filters, in the order
//! `payload.rs` applies them to `workflow_job`: sender in `NO_RETRY_LIST` → 204, no
//! `workflow_run` → 204, `run_attempt` at the limit → 204, missing or malformed
//! fields → 400 naming the field. Only the fields used are read, strings borrowed
//! from the body; `requested` and `in_progress` are recognised here and answered
//! without reaching the run logic (they change nothing).

use serde::Deserialize;

use super::payload::{FullName, Installation, Login, PayloadError, RULE_ATTEMPTS_REACHED, owned};
use super::picked::{Picked, Text};
use super::settings::Door;
use crate::ids::{CommitSha, InstallationId, RepoName, RunId, RunKey};
use crate::rules::AttemptLimits;
use crate::run::{Conclusion, RunEvent};

/// The members of a `workflow_run` delivery the service reads.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    action: Option<Text<'a>>,
    #[serde(borrow)]
    sender: Option<Picked<'a, Login>>,
    #[serde(borrow)]
    repository: Option<Picked<'a, FullName>>,
    #[serde(borrow)]
    workflow_run: Option<WorkflowRun<'a>>,
    installation: Option<Installation>,
}

#[derive(Deserialize)]
struct WorkflowRun<'a> {
    id: Option<u64>,
    run_attempt: Option<u32>,
    #[serde(borrow)]
    conclusion: Option<Text<'a>>,
    #[serde(borrow)]
    head_branch: Option<Text<'a>>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    head_sha: Option<Text<'a>>,
}

/// What a well-formed `workflow_run` payload turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum RunClassified {
    /// Not for us (204), with the reason.
    Ignored(&'static str),
    /// `requested` or `in_progress`: answered 202, nothing changes.
    Unfinished,
    /// `completed`: routed to the run's tracker.
    Completed(RunEvent),
}

/// Parses `body` (a `workflow_run` delivery) and decides whether it is for us,
/// keeping the attempts below their rule's `attempts` (as `classify_with` does for jobs).
pub fn classify_run(
    body: &[u8],
    delivery: Option<&str>,
    door: &Door,
    limits: &dyn AttemptLimits,
) -> Result<RunClassified, PayloadError> {
    let max_attempts = limits.max();
    let text = std::str::from_utf8(body)
        .map_err(|err| PayloadError::MalformedRun(format!("the body is not UTF-8: {err}")))?;
    let envelope: Envelope = serde_json::from_str(text).map_err(|err| {
        // The field at fault by name, as for a job (`shape.rs`).
        PayloadError::MalformedRun(super::shape::explain(text, &err))
    })?;
    let sender = envelope.sender.and_then(|sender| sender.0);
    if sender
        .as_ref()
        .is_some_and(|login| door.is_denied_sender(login.as_str()))
    {
        return Ok(RunClassified::Ignored("sender is in NO_RETRY_LIST"));
    }
    let Some(run) = envelope.workflow_run else {
        return Ok(RunClassified::Ignored("no workflow_run in the payload"));
    };
    let run_attempt = run
        .run_attempt
        .ok_or(PayloadError::Missing("workflow_run.run_attempt"))?;
    if run_attempt >= max_attempts {
        return Ok(RunClassified::Ignored("run_attempt reached RUN_ATTEMPTS"));
    }
    let action = envelope.action.ok_or(PayloadError::Missing("action"))?;
    let full_name = envelope
        .repository
        .and_then(|repo| repo.0)
        .ok_or(PayloadError::Missing("repository.full_name"))?;
    let workflow = run.name.as_ref().map_or("", |name| name.as_str());
    if run_attempt >= limits.for_run(full_name.as_str(), workflow) {
        return Ok(RunClassified::Ignored(RULE_ATTEMPTS_REACHED));
    }
    let key = RunKey {
        repo: RepoName::parse(full_name.as_str())?,
        run_id: RunId(run.id.ok_or(PayloadError::Missing("workflow_run.id"))?),
    };
    match action.as_str() {
        "requested" | "in_progress" => Ok(RunClassified::Unfinished),
        "completed" => {
            let conclusion = run.conclusion.ok_or(PayloadError::Missing(
                "workflow_run.conclusion of a completed run",
            ))?;
            Ok(RunClassified::Completed(RunEvent {
                delivery: delivery.map(str::to_owned),
                run: key,
                run_attempt,
                workflow_name: owned(run.name),
                branch: owned(run.head_branch),
                conclusion: Conclusion::parse(conclusion.as_str()),
                installation: envelope
                    .installation
                    .and_then(|installation| installation.id)
                    .map(InstallationId),
                head_sha: run.head_sha.and_then(|sha| CommitSha::parse(sha.as_str())),
            }))
        }
        _ => Ok(RunClassified::Ignored(
            "action is not one the service tracks",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    /// The door the service builds from these settings.
    fn settings() -> Door {
        let vars: HashMap<String, String> = [("GITHUB_SIGN_KEY", "k"), ("NO_RETRY_LIST", "bot")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        crate::settings::Settings::from_vars(vars)
            .expect("valid settings")
            .door()
    }

    fn payload(action: &str, attempt: u32) -> serde_json::Value {
        json!({
            "action": action,
            "sender": {"login": "someone"},
            "repository": {"full_name": "org/repo", "private": false},
            "workflow_run": {
                "id": 22, "run_attempt": attempt, "status": action, "name": "CI",
                "conclusion": if action == "completed" { json!("failure") } else { json!(null) },
                "head_branch": "master", "head_sha": "abc", "pull_requests": []
            }
        })
    }

    fn classify_json(value: &serde_json::Value) -> Result<RunClassified, PayloadError> {
        classify_run(value.to_string().as_bytes(), Some("d-1"), &settings(), &3)
    }

    #[test]
    fn a_completed_run_becomes_an_event_with_its_conclusion() {
        let Ok(RunClassified::Completed(event)) = classify_json(&payload("completed", 1)) else {
            panic!("not a run event");
        };
        assert_eq!(event.run.to_string(), "org/repo#22");
        assert_eq!(event.conclusion, Conclusion::Failure);
        assert_eq!(event.run_attempt, 1);
        assert_eq!(
            (event.workflow_name.as_str(), event.branch.as_str()),
            ("CI", "master")
        );
        assert_eq!(event.delivery.as_deref(), Some("d-1"));
    }

    #[test]
    fn requested_and_in_progress_change_nothing() {
        for action in ["requested", "in_progress"] {
            assert_eq!(
                classify_json(&payload(action, 1)),
                Ok(RunClassified::Unfinished)
            );
        }
    }

    #[test]
    fn filters_answer_in_the_specs_order() {
        let mut denied = payload("completed", 9);
        denied["sender"]["login"] = json!("BOT");
        assert_eq!(
            classify_json(&denied),
            Ok(RunClassified::Ignored("sender is in NO_RETRY_LIST"))
        );
        assert_eq!(
            classify_json(&json!({"zen": "hi"})),
            Ok(RunClassified::Ignored("no workflow_run in the payload"))
        );
        assert_eq!(
            classify_json(&payload("completed", 3)),
            Ok(RunClassified::Ignored("run_attempt reached RUN_ATTEMPTS"))
        );
    }

    #[test]
    fn malformed_or_incomplete_payloads_are_refused_with_the_field_named() {
        assert!(matches!(
            classify_run(b"{not json", None, &settings(), &3),
            Err(PayloadError::MalformedRun(_))
        ));
        let mut no_id = payload("completed", 1);
        no_id["workflow_run"]
            .as_object_mut()
            .expect("object")
            .remove("id");
        assert_eq!(
            classify_json(&no_id),
            Err(PayloadError::Missing("workflow_run.id"))
        );
        let mut no_conclusion = payload("completed", 1);
        no_conclusion["workflow_run"]["conclusion"] = json!(null);
        assert_eq!(
            classify_json(&no_conclusion),
            Err(PayloadError::Missing(
                "workflow_run.conclusion of a completed run"
            ))
        );
        let mut bad_attempt = payload("completed", 1);
        bad_attempt["workflow_run"]["run_attempt"] = json!("one");
        assert!(matches!(
            classify_json(&bad_attempt),
            Err(PayloadError::MalformedRun(_))
        ));
        let mut bad_repo = payload("completed", 1);
        bad_repo["repository"]["full_name"] = json!("../etc");
        assert!(matches!(
            classify_json(&bad_repo),
            Err(PayloadError::BadRepository(_))
        ));
    }

    mod properties {
        use proptest::collection::vec;
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn a_damaged_payload_is_classified_or_refused_without_a_panic(
                at in any::<prop::sample::Index>(),
                cut in 0usize..16,
                insert in vec(any::<u8>(), 0..8),
            ) {
                let body = payload("completed", 1).to_string().into_bytes();
                let start = at.index(body.len() + 1);
                let end = (start + cut).min(body.len());
                let damaged = [&body[..start], &insert, &body[end..]].concat();
                let _ = classify_run(&damaged, Some("d"), &settings(), &3);
            }
        }
    }
}
