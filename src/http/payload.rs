//! Parses a webhook body into a typed event and applies docs/spec.md's filters, in its order.
//! Only the fields the service uses are read; serde skips the rest of GitHub's payload.

use serde::Deserialize;

use super::picked::{FieldName, Picked, Text};
use super::settings::Door;
use crate::ids::{CommitSha, InstallationId, JobId, RepoName, RunId, RunKey};
use crate::rules::AttemptLimits;
use crate::run::{BeyondAttempts, Conclusion, JobAction, JobEvent, Name};

/// The members of a delivery the service reads; strings are borrowed from the body.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    action: Option<Text<'a>>,
    #[serde(borrow)]
    sender: Option<Picked<'a, Login>>,
    #[serde(borrow)]
    repository: Option<Picked<'a, FullName>>,
    #[serde(borrow)]
    workflow_job: Option<WorkflowJob<'a>>,
    installation: Option<Installation>,
}

/// `installation`, in a GitHub App's deliveries (of jobs and of runs).
#[derive(Deserialize)]
pub(super) struct Installation {
    pub(super) id: Option<u64>,
}

/// `sender.login`.
pub(super) struct Login;
impl FieldName for Login {
    const NAME: &'static str = "login";
}

/// `repository.full_name`.
pub(super) struct FullName;
impl FieldName for FullName {
    const NAME: &'static str = "full_name";
}

#[derive(Deserialize)]
struct WorkflowJob<'a> {
    id: Option<u64>,
    run_id: Option<u64>,
    run_attempt: Option<u32>,
    #[serde(borrow)]
    status: Option<Text<'a>>,
    #[serde(borrow)]
    conclusion: Option<Text<'a>>,
    #[serde(borrow)]
    head_branch: Option<Text<'a>>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    workflow_name: Option<Text<'a>>,
    #[serde(borrow)]
    head_sha: Option<Text<'a>>,
    #[serde(borrow)]
    started_at: Option<Text<'a>>,
    #[serde(borrow)]
    completed_at: Option<Text<'a>>,
    #[serde(default)]
    steps: Option<Steps>,
}

/// What `workflow_job.steps` says, read without keeping the array: whether it has any
/// step, and the names of those that failed. The hot path's `queued`/`in_progress`
/// events carry a few steps each; every step's other fields are skimmed undecoded,
/// and nothing is allocated unless a step failed.
#[derive(Debug, Default)]
struct Steps {
    any: bool,
    failed: Vec<Name>,
}

/// One step, the two fields read.
#[derive(Deserialize)]
struct Step<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    conclusion: Option<Text<'a>>,
}

impl<'de> Deserialize<'de> for Steps {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StepsVisitor;
        impl<'de> serde::de::Visitor<'de> for StepsVisitor {
            type Value = Steps;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of steps")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Steps, A::Error> {
                let mut steps = Steps::default();
                while let Some(step) = seq.next_element::<Step<'de>>()? {
                    steps.any = true;
                    if step
                        .conclusion
                        .as_ref()
                        .is_some_and(|c| c.as_str() == "failure")
                    {
                        steps.failed.push(owned(step.name));
                    }
                }
                Ok(steps)
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Steps, E> {
                Ok(Steps {
                    any: true,
                    failed: Vec::new(),
                })
            }
        }
        deserializer.deserialize_any(StepsVisitor)
    }
}

/// What a well-formed payload turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Classified {
    /// Not for us (204), with the reason.
    Ignored(&'static str),
    /// A job event to route to its run's tracker.
    Job(JobEvent),
}

/// Why a payload was refused (400). The message names the field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    /// Not JSON, or a field of the wrong type.
    #[error("payload is not valid workflow_job JSON: {0}")]
    Malformed(String),
    /// A `workflow_run` delivery that is not JSON, or has a field of the wrong type.
    #[error("payload is not valid workflow_run JSON: {0}")]
    MalformedRun(String),
    /// A field the service needs is absent or null.
    #[error("payload is missing {0}")]
    Missing(&'static str),
    /// `repository.full_name` is not `owner/name`.
    #[error("{0}")]
    BadRepository(#[from] crate::ids::InvalidRepoName),
}

/// Parses `body` and decides whether the event is for us (attempts filtered by
/// `RUN_ATTEMPTS`).
pub fn classify(
    body: &[u8],
    delivery: Option<&str>,
    door: &Door,
) -> Result<Classified, PayloadError> {
    classify_with(body, delivery, door, &door.run_attempts)
}

pub use crate::run::RULE_ATTEMPTS_REACHED;

/// As [`classify`], keeping the events of attempts below their rule's `attempts`.
pub fn classify_with(
    body: &[u8],
    delivery: Option<&str>,
    door: &Door,
    limits: &dyn AttemptLimits,
) -> Result<Classified, PayloadError> {
    let max_attempts = limits.max();
    // The body is checked to be UTF-8 once, as a whole (a fast, vectorised pass), so that
    // serde_json reads it as text and need not check each string it decodes again.
    let text = std::str::from_utf8(body)
        .map_err(|err| PayloadError::Malformed(format!("the body is not UTF-8: {err}")))?;
    let envelope: Envelope = serde_json::from_str(text).map_err(|err| {
        // One line naming the field at fault (`shape.rs`); it quotes no secrets.
        PayloadError::Malformed(super::shape::explain(text, &err))
    })?;
    let sender = envelope.sender.and_then(|sender| sender.0);
    if sender
        .as_ref()
        .is_some_and(|login| door.is_denied_sender(login.as_str()))
    {
        return Ok(Classified::Ignored("sender is in NO_RETRY_LIST"));
    }
    let Some(job) = envelope.workflow_job else {
        return Ok(Classified::Ignored("no workflow_job in the payload"));
    };
    let run_attempt = job
        .run_attempt
        .ok_or(PayloadError::Missing("workflow_job.run_attempt"))?;
    // An attempt no rule re-runs: only a completion goes on, to settle what the previous
    // attempt's failures teach (`JobEvent::beyond_attempts`).
    let mut beyond_attempts = None;
    if run_attempt >= max_attempts {
        if !is_completion(envelope.action.as_ref().or(job.status.as_ref())) {
            return Ok(Classified::Ignored(RUN_ATTEMPTS_REACHED));
        }
        beyond_attempts = Some(BeyondAttempts::RunAttempts);
    }
    let action_word = envelope
        .action
        .or(job.status)
        .ok_or(PayloadError::Missing("action"))?;
    let action = match action_word.as_str() {
        "queued" | "waiting" | "in_progress" => JobAction::Unfinished,
        "completed" => {
            let conclusion = job.conclusion.ok_or(PayloadError::Missing(
                "workflow_job.conclusion of a completed job",
            ))?;
            JobAction::Completed(Conclusion::parse(conclusion.as_str()))
        }
        _ => return Ok(Classified::Ignored("action is not one the service tracks")),
    };
    let full_name = envelope
        .repository
        .and_then(|repo| repo.0)
        .ok_or(PayloadError::Missing("repository.full_name"))?;
    let workflow = job.workflow_name.as_ref().map_or("", |name| name.as_str());
    if beyond_attempts.is_none() && run_attempt >= limits.for_run(full_name.as_str(), workflow) {
        if action == JobAction::Unfinished {
            return Ok(Classified::Ignored(RULE_ATTEMPTS_REACHED));
        }
        beyond_attempts = Some(BeyondAttempts::RuleAttempts);
    }
    Ok(Classified::Job(JobEvent {
        delivery: delivery.map(str::to_owned),
        run: RunKey {
            repo: RepoName::parse(full_name.as_str())?,
            run_id: RunId(
                job.run_id
                    .ok_or(PayloadError::Missing("workflow_job.run_id"))?,
            ),
        },
        run_attempt,
        job_id: JobId(job.id.ok_or(PayloadError::Missing("workflow_job.id"))?),
        job_name: owned(job.name),
        workflow_name: owned(job.workflow_name),
        // A job can come without a branch (e.g. a tag push); such runs are not eligible.
        branch: owned(job.head_branch),
        action,
        // No `steps` at all (null or absent) says nothing: only an empty list is a
        // job GitHub never started.
        ran_steps: job.steps.as_ref().is_none_or(|steps| steps.any),
        failed_steps: job.steps.map(|steps| steps.failed).unwrap_or_default(),
        installation: envelope
            .installation
            .and_then(|installation| installation.id)
            .map(InstallationId),
        head_sha: job.head_sha.and_then(|sha| CommitSha::parse(sha.as_str())),
        ran_ms: match action {
            JobAction::Completed(_) => ran_ms(job.started_at.as_ref(), job.completed_at.as_ref()),
            JobAction::Unfinished => None,
        },
        beyond_attempts,
    }))
}

/// How long a completed job ran: `completed_at - started_at` (RFC 3339, as GitHub
/// writes them); `None` when either is absent or unreadable, or the clock went back.
fn ran_ms(started: Option<&Text<'_>>, completed: Option<&Text<'_>>) -> Option<u64> {
    let at = |text: Option<&Text<'_>>| humantime::parse_rfc3339_weak(text?.as_str()).ok();
    let ran = at(completed)?.duration_since(at(started)?).ok()?;
    u64::try_from(ran.as_millis()).ok()
}

/// What an event of an attempt at or above `RUN_ATTEMPTS` is answered.
pub const RUN_ATTEMPTS_REACHED: &str = BeyondAttempts::RunAttempts.reason();

/// Whether the payload's action word is `completed`.
fn is_completion(word: Option<&Text<'_>>) -> bool {
    word.is_some_and(|word| word.as_str() == "completed")
}

/// An optional borrowed string, as the name the event keeps ("" when absent).
pub(super) fn owned(text: Option<Text<'_>>) -> Name {
    text.map(|text| Name::from(text.as_str()))
        .unwrap_or_default()
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
            "workflow_job": {
                "id": 11, "run_id": 22, "run_attempt": attempt, "status": action,
                "conclusion": if action == "completed" { json!("failure") } else { json!(null) },
                "head_branch": "master", "name": "build", "workflow_name": "ci",
                "steps": [], "labels": ["ubuntu-latest"]
            }
        })
    }

    fn classify_json(value: &serde_json::Value) -> Result<Classified, PayloadError> {
        classify(value.to_string().as_bytes(), Some("d-1"), &settings())
    }

    #[test]
    fn a_completed_job_becomes_an_event() {
        let Ok(Classified::Job(event)) = classify_json(&payload("completed", 1)) else {
            panic!("not a job event");
        };
        assert_eq!(event.run.to_string(), "org/repo#22");
        assert_eq!(event.job_id, JobId(11));
        assert_eq!(event.action, JobAction::Completed(Conclusion::Failure));
        assert_eq!(event.delivery.as_deref(), Some("d-1"));
    }

    #[test]
    fn an_apps_delivery_carries_its_installation_and_a_webhooks_none_and_head_sha_is_read() {
        let mut from_app = payload("completed", 1);
        from_app["installation"] = json!({"id": 4242, "node_id": "MDIz"});
        let Ok(Classified::Job(event)) = classify_json(&from_app) else {
            panic!("not a job event");
        };
        assert_eq!(event.installation, Some(InstallationId(4242)));
        let mut with_sha = payload("completed", 1);
        with_sha["workflow_job"]["head_sha"] = json!("0d5ec357fb8684bd26a74f0b8b3a5020768688eb");
        let Ok(Classified::Job(event)) = classify_json(&with_sha) else {
            panic!("not a job event");
        };
        let sha = event.head_sha.expect("parsed").to_string();
        assert_eq!(sha, "0d5ec357fb8684bd26a74f0b8b3a5020768688eb");
        with_sha["workflow_job"]["head_sha"] = json!("not a sha");
        let Ok(Classified::Job(event)) = classify_json(&with_sha) else {
            panic!("a bad head_sha refuses nothing");
        };
        assert_eq!(event.head_sha, None);
        let Ok(Classified::Job(event)) = classify_json(&payload("completed", 1)) else {
            panic!("not a job event");
        };
        assert_eq!(event.installation, None);
    }

    #[test]
    fn steps_say_whether_the_job_ran_and_which_steps_failed() {
        let mut ran = payload("completed", 1);
        ran["workflow_job"]["steps"] = json!([
            {"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1},
            {"name": "Test", "status": "completed", "conclusion": "failure", "number": 2},
            {"name": "Post Test", "status": "completed", "conclusion": "failure", "number": 3},
            {"name": "Lint", "status": "completed", "conclusion": "skipped", "number": 4}
        ]);
        let Ok(Classified::Job(event)) = classify_json(&ran) else {
            panic!("not a job event");
        };
        assert!(event.ran_steps);
        assert_eq!(
            event.failed_steps,
            vec![Name::from("Test"), Name::from("Post Test")]
        );
        let Ok(Classified::Job(empty)) = classify_json(&payload("completed", 1)) else {
            panic!("not a job event");
        };
        assert!(
            !empty.ran_steps,
            "an empty steps list: GitHub never started the job"
        );
        for absent in [json!(null), json!("no steps key")] {
            let mut value = payload("completed", 1);
            if absent.is_null() {
                value["workflow_job"]["steps"] = absent;
            } else {
                value["workflow_job"]
                    .as_object_mut()
                    .expect("object")
                    .remove("steps");
            }
            let Ok(Classified::Job(event)) = classify_json(&value) else {
                panic!("not a job event");
            };
            assert!(event.ran_steps, "no steps list says nothing");
        }
    }

    #[test]
    fn a_policy_allowing_more_attempts_keeps_their_events() {
        let body = payload("queued", 5).to_string();
        assert!(matches!(
            classify_with(body.as_bytes(), None, &settings(), &6),
            Ok(Classified::Job(_))
        ));
        assert!(matches!(
            classify_with(body.as_bytes(), None, &settings(), &5),
            Ok(Classified::Ignored(_))
        ));
    }

    #[test]
    fn filters_answer_in_the_specs_order() {
        let mut denied = payload("completed", 9);
        denied["sender"]["login"] = json!("BOT");
        assert_eq!(
            classify_json(&denied),
            Ok(Classified::Ignored("sender is in NO_RETRY_LIST"))
        );
        assert_eq!(
            classify_json(&json!({"zen": "hi"})),
            Ok(Classified::Ignored("no workflow_job in the payload"))
        );
        assert_eq!(
            classify_json(&payload("queued", 4)),
            Ok(Classified::Ignored("run_attempt reached RUN_ATTEMPTS"))
        );
    }

    #[test]
    fn a_body_that_is_not_utf8_is_refused_as_malformed() {
        let mut body = payload("queued", 1).to_string().into_bytes();
        let at = body.len() - 3;
        body[at] = 0xFF;
        let refused = classify(&body, None, &settings());
        assert!(
            matches!(&refused, Err(PayloadError::Malformed(why)) if why.contains("UTF-8")),
            "{refused:?}"
        );
    }

    #[test]
    fn malformed_or_incomplete_payloads_are_refused_with_the_field_named() {
        assert!(matches!(
            classify(b"{not json", None, &settings()),
            Err(PayloadError::Malformed(_))
        ));
        let mut no_run = payload("queued", 1);
        no_run["workflow_job"]
            .as_object_mut()
            .expect("object")
            .remove("run_id");
        assert_eq!(
            classify_json(&no_run),
            Err(PayloadError::Missing("workflow_job.run_id"))
        );
        let mut bad_type = payload("queued", 1);
        bad_type["workflow_job"]["id"] = json!("eleven");
        assert!(matches!(
            classify_json(&bad_type),
            Err(PayloadError::Malformed(_))
        ));
        let mut bad_repo = payload("queued", 1);
        bad_repo["repository"]["full_name"] = json!("../etc");
        assert!(matches!(
            classify_json(&bad_repo),
            Err(PayloadError::BadRepository(_))
        ));
        let mut no_conclusion = payload("completed", 1);
        no_conclusion["workflow_job"]["conclusion"] = json!(null);
        assert!(matches!(
            classify_json(&no_conclusion),
            Err(PayloadError::Missing(_))
        ));
    }

    mod properties {
        use proptest::collection::vec;
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn any_body_is_classified_or_refused_without_a_panic(body in vec(any::<u8>(), 0..256)) {
                let _ = classify(&body, Some("d"), &settings());
            }

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
                let _ = classify(&damaged, Some("d"), &settings());
            }

            #[test]
            fn a_well_formed_event_keeps_its_fields_or_is_filtered_as_the_spec_says(
                action in prop_oneof![
                    Just("queued"), Just("waiting"), Just("in_progress"), Just("completed"), Just("requested"),
                ],
                conclusion in ".{0,12}",
                attempt in any::<u32>(),
                ids in (any::<u64>(), any::<u64>()),
                full_name in prop_oneof!["[a-z]{1,8}/[a-z.-]{1,8}", ".{0,20}"],
                names in (".{0,30}", ".{0,30}", ".{0,30}"),
            ) {
                let mut value = payload(action, attempt);
                value["workflow_job"]["conclusion"] = serde_json::json!(conclusion);
                value["workflow_job"]["id"] = serde_json::json!(ids.0);
                value["workflow_job"]["run_id"] = serde_json::json!(ids.1);
                value["repository"]["full_name"] = serde_json::json!(full_name);
                value["workflow_job"]["name"] = serde_json::json!(names.0);
                value["workflow_job"]["workflow_name"] = serde_json::json!(names.1);
                value["workflow_job"]["head_branch"] = serde_json::json!(names.2);
                let classified = classify_json(&value);
                let beyond = attempt >= settings().run_attempts;
                if beyond && action != "completed" {
                    prop_assert_eq!(classified, Ok(Classified::Ignored("run_attempt reached RUN_ATTEMPTS")));
                } else if action == "requested" {
                    prop_assert_eq!(classified, Ok(Classified::Ignored("action is not one the service tracks")));
                } else if RepoName::parse(&full_name).is_err() {
                    prop_assert!(matches!(classified, Err(PayloadError::BadRepository(_))), "{:?}", classified);
                } else {
                    let Ok(Classified::Job(event)) = classified else {
                        return Err(TestCaseError::fail(format!("not a job: {classified:?}")));
                    };
                    prop_assert_eq!(event.run.repo.as_str(), full_name.as_str());
                    prop_assert_eq!((event.job_id.0, event.run.run_id.0), ids);
                    prop_assert_eq!(event.run_attempt, attempt);
                    prop_assert_eq!(
                        (event.job_name.as_str(), event.workflow_name.as_str(), event.branch.as_str()),
                        (names.0.as_str(), names.1.as_str(), names.2.as_str())
                    );
                    let expected = if action == "completed" {
                        JobAction::Completed(Conclusion::parse(&conclusion))
                    } else {
                        JobAction::Unfinished
                    };
                    prop_assert_eq!(event.action, expected);
                    // A completion of an attempt no rule re-runs goes on, to teach only.
                    prop_assert_eq!(event.beyond_attempts, beyond.then_some(BeyondAttempts::RunAttempts));
                }
            }
        }
    }
}
