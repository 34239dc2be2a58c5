//! How runs and re-run records are encoded in rows; shared by every backend.
//!
//! Public so that the encoding can be checked from outside the backends: the property
//! tests and the fuzz target `state_codec` (`fuzz/`) feed it arbitrary rows and check
//! that whatever decodes encodes back to the same state. The service itself uses it
//! only through the stores.

use super::StoreError;
use crate::ids::{RepoName, RunId, RunKey};
use crate::run::{RerunOutcome, RerunRecord, RunState};

/// A run's state as stored in `runs.state`.
pub fn encode_state(key: &RunKey, state: &RunState) -> Result<String, StoreError> {
    serde_json::to_string(state)
        .map_err(|err| StoreError::Broken(format!("cannot encode run {key}: {err}")))
}

/// Reads `runs.state` back.
pub fn decode_state(key: &RunKey, json: &str) -> Result<RunState, StoreError> {
    serde_json::from_str(json)
        .map_err(|err| StoreError::Unreadable(format!("run {key} is unreadable: {err}")))
}

/// Why a stored state could not be read, which decides what the store does with it.
#[derive(Debug)]
pub enum Unreadable {
    /// Not JSON at all (cut short, overwritten): nothing will ever read it, so a change
    /// moves it to the `quarantine` table and the run starts afresh.
    Garbled(StoreError),
    /// JSON this version cannot read (a variant or type it does not know): written by
    /// a newer version, running side by side or rolled back from. Left as it is.
    Newer(StoreError),
}

/// Reads `runs.state` back for a change, saying why it cannot be (see [`Unreadable`]).
pub fn decode_stored_state(key: &RunKey, json: &str) -> Result<RunState, Unreadable> {
    use serde_json::error::Category;
    serde_json::from_str(json).map_err(|err| {
        let classified = err.classify();
        let why = format!("run {key} is unreadable: {err}");
        match classified {
            Category::Data => Unreadable::Newer(StoreError::Newer(why)),
            Category::Syntax | Category::Eof | Category::Io => {
                Unreadable::Garbled(StoreError::Unreadable(why))
            }
        }
    })
}

/// A run key from a row's `repo` and `run_id`.
pub fn run_key(repo: &str, run_id: i64) -> Result<RunKey, StoreError> {
    let repo = RepoName::parse(repo).map_err(|err| StoreError::Unreadable(err.to_string()))?;
    Ok(RunKey {
        repo,
        run_id: RunId(run_id as u64),
    })
}

/// `reruns.detail` and `reruns.failed_jobs` of a record.
pub fn encode_record(record: &RerunRecord) -> Result<(String, String), StoreError> {
    let detail = serde_json::to_string(&record.outcome)
        .map_err(|err| StoreError::Broken(format!("cannot encode outcome: {err}")))?;
    let failed_jobs = serde_json::to_string(&record.failed_jobs)
        .map_err(|err| StoreError::Broken(format!("cannot encode job names: {err}")))?;
    Ok((detail, failed_jobs))
}

/// The columns of a `reruns` row, as read.
pub struct RerunRow {
    /// `repo`: `owner/name`.
    pub repo: String,
    /// `run_id`.
    pub run_id: i64,
    /// `attempt`: the attempt that was re-run.
    pub attempt: i64,
    /// `detail`: the outcome as JSON ([`encode_record`]).
    pub detail: String,
    /// `workflow`.
    pub workflow: String,
    /// `branch`.
    pub branch: String,
    /// `failed_jobs`: a JSON list of job names.
    pub failed_jobs: String,
    /// `finished_at`: unix ms.
    pub finished_at: i64,
}

/// Reads a `reruns` row back.
pub fn decode_record(row: RerunRow) -> Result<(RunKey, RerunRecord), StoreError> {
    let outcome: RerunOutcome = serde_json::from_str(&row.detail)
        .map_err(|err| StoreError::Unreadable(format!("unreadable re-run outcome: {err}")))?;
    let failed_jobs: Vec<String> = serde_json::from_str(&row.failed_jobs)
        .map_err(|err| StoreError::Unreadable(format!("unreadable job names: {err}")))?;
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

/// What a job did after its automatic re-run, as an applied event found it:
/// `(workflow, job, passed)`, for the per-job history `stop_when_useless` reads.
pub fn after_rerun_to_record(applied: &crate::run::Applied) -> Option<(&str, &str, bool)> {
    use crate::run::{ChangeResult, Persist};
    match (&applied.result, applied.persist, &applied.state) {
        (ChangeResult::Event(verdict), Persist::Save, Some(state)) => {
            let workflow = state.workflow.as_str();
            match (&verdict.flaky, &verdict.failed_again) {
                (Some(job), _) => Some((workflow, job.as_str(), true)),
                (None, Some(job)) => Some((workflow, job.as_str(), false)),
                (None, None) => None,
            }
        }
        _ => None,
    }
}

/// How many of a workflow's latest per-job re-run results a decision reads.
pub const AFTER_RERUN_ROWS: u32 = 1000;

/// The per-job history from rows `(job, passed)`, newest first (as read).
pub fn after_rerun_history(
    rows: Vec<(String, bool)>,
) -> std::collections::HashMap<crate::run::Name, Vec<crate::policy::AfterRerun>> {
    let mut jobs: std::collections::HashMap<_, Vec<_>> = std::collections::HashMap::new();
    for (job, passed) in rows.into_iter().rev() {
        jobs.entry(crate::run::Name::from(job))
            .or_default()
            .push(if passed {
                crate::policy::AfterRerun::Passed
            } else {
                crate::policy::AfterRerun::FailedAgain
            });
    }
    jobs
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

/// What an applied change teaches the `signatures` table: the judged failures of a
/// decision made on evidence (each seen once more), and the lesson of a job whose
/// outcome settled a judged failure of the previous attempt.
pub struct Teaching<'a> {
    /// Failures judged by this change's decision.
    pub seen: &'a [crate::run::Failure],
    /// A re-run's outcome for one failure.
    pub lesson: Option<&'a crate::run::Lesson>,
    /// A job of an attempt the service re-ran: its runner time, and whether the
    /// re-run turned the run green (written to the re-run's `reruns` row).
    pub effect: Option<crate::run::RerunEffect>,
}

/// The [`Teaching`] of an applied change (both empty for most changes).
pub fn teaching(applied: &crate::run::Applied) -> Teaching<'_> {
    use crate::run::{ChangeResult, Persist};
    let seen = match (&applied.result, &applied.state) {
        (
            ChangeResult::Decided {
                decision: Some(_), ..
            },
            Some(state),
        ) => &state.failures[..],
        _ => &[],
    };
    let (lesson, effect) = match (&applied.result, applied.persist) {
        (ChangeResult::Event(verdict), Persist::Save) => (verdict.lesson.as_ref(), verdict.effect),
        _ => (None, None),
    };
    Teaching {
        seen,
        lesson,
        effect,
    }
}

/// What one failure adds to its `signatures` row.
#[derive(Debug)]
pub struct SignatureCounts<'a> {
    /// The failure (its signature, line, family).
    pub failure: &'a crate::run::Failure,
    /// 1 when judged again.
    pub seen: i64,
    /// 1 when a re-run's outcome is known.
    pub reruns: i64,
    /// 1 when that re-run passed.
    pub passed: i64,
    /// 1 when a person started that re-run.
    pub people: i64,
    /// The outcome's letter (`P`, `F`), or nothing.
    pub recent: &'static str,
}

/// The rows a [`Teaching`] adds to: one per failure seen, one for the lesson.
pub fn signature_counts<'a>(teaching: &Teaching<'a>) -> Vec<SignatureCounts<'a>> {
    let seen = teaching.seen.iter().map(|failure| SignatureCounts {
        failure,
        seen: 1,
        reruns: 0,
        passed: 0,
        people: 0,
        recent: "",
    });
    let lesson = teaching.lesson.map(|lesson| SignatureCounts {
        failure: &lesson.failure,
        seen: 0,
        reruns: 1,
        passed: i64::from(lesson.passed),
        people: i64::from(!lesson.by_service),
        recent: if lesson.passed { "P" } else { "F" },
    });
    seen.chain(lesson).collect()
}

/// The decision a lesson settles: `(attempt, outcome)` for `decisions.outcome`.
pub fn settled_decision(teaching: &Teaching<'_>) -> Option<(u32, &'static str)> {
    let lesson = teaching.lesson?;
    Some((
        lesson.attempt,
        if lesson.passed {
            "passed"
        } else {
            "failed_again"
        },
    ))
}

/// A kept decision's facts as the `decisions.facts` column holds them.
pub fn encode_facts(facts: &crate::policy::DecisionFacts) -> Result<String, StoreError> {
    serde_json::to_string(facts)
        .map_err(|err| StoreError::Broken(format!("cannot encode a decision's facts: {err}")))
}

/// The signatures whose history a change's decision reads (the judged decisive lines').
pub fn wanted_signatures(change: &crate::run::RunChange) -> Vec<&str> {
    match change {
        crate::run::RunChange::Decide {
            judged: Some(judged),
            ..
        } => {
            let mut wanted: Vec<&str> = judged
                .iter()
                .filter_map(|j| j.decisive.as_ref().map(|d| d.signature.as_str()))
                .collect();
            wanted.sort_unstable();
            wanted.dedup();
            wanted
        }
        _ => Vec::new(),
    }
}

/// One signature's counts as the store read them: here `(reruns, passed, recent)` and
/// everywhere `(reruns, passed)`.
pub fn signature_history(
    here: Option<(i64, i64, String)>,
    everywhere: (i64, i64),
) -> crate::policy::SignatureHistory {
    let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    let (reruns, passed, recent) = here.unwrap_or_default();
    crate::policy::SignatureHistory {
        here: crate::policy::Outcomes {
            reruns: count(reruns),
            passed: count(passed),
        },
        recent: crate::policy::decode_recent(&recent),
        everywhere: crate::policy::Outcomes {
            reruns: count(everywhere.0),
            passed: count(everywhere.1),
        },
    }
}

/// How long a signature nobody saw is kept: a month of quiet means the failure is gone.
pub const SIGNATURES_KEPT_FOR_MS: u64 = 30 * 24 * 3_600_000;

/// The most signature rows kept (the newest): bounds the table whatever the failures.
pub const SIGNATURES_KEPT: u32 = 20_000;

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::ids::JobId;
    use crate::run::{Conclusion, RerunState, TrackedJob};

    fn key() -> RunKey {
        run_key("octo-org/octo-repo", 7).expect("valid")
    }

    fn conclusion() -> impl Strategy<Value = Option<Conclusion>> {
        prop_oneof![
            Just(None),
            Just(Some(Conclusion::Success)),
            Just(Some(Conclusion::Failure)),
            Just(Some(Conclusion::TimedOut)),
            Just(Some(Conclusion::Cancelled)),
            Just(Some(Conclusion::Skipped)),
            Just(Some(Conclusion::Other)),
        ]
    }

    fn outcome() -> impl Strategy<Value = RerunOutcome> {
        prop_oneof![
            Just(RerunOutcome::Started),
            any::<u32>().prop_map(|github_attempt| RerunOutcome::AlreadyRerun { github_attempt }),
            any::<String>().prop_map(|conclusion| RerunOutcome::NotNeeded { conclusion }),
            (any::<u16>(), any::<String>())
                .prop_map(|(status, message)| RerunOutcome::Refused { status, message }),
            Just(RerunOutcome::StillRunning),
            Just(RerunOutcome::DryRun),
            Just(RerunOutcome::Superseded),
            (any::<u32>(), any::<String>())
                .prop_map(|(tries, last_error)| RerunOutcome::GaveUp { tries, last_error }),
        ]
    }

    fn rerun() -> impl Strategy<Value = RerunState> {
        prop_oneof![
            Just(RerunState::Idle),
            (any::<u64>(), any::<Option<String>>(), any::<(bool, bool)>()).prop_map(
                |(due_at, decided_by, (needs_evidence, debug_logging))| RerunState::Scheduled {
                    due_at,
                    decided_by,
                    needs_evidence,
                    debug_logging
                }
            ),
            (
                any::<u64>(),
                any::<u64>(),
                any::<Option<String>>(),
                any::<(bool, bool)>()
            )
                .prop_map(
                    |(owner, lease_until, decided_by, (needs_evidence, debug_logging))| {
                        RerunState::InFlight {
                            owner,
                            lease_until,
                            decided_by,
                            needs_evidence,
                            debug_logging,
                        }
                    }
                ),
            outcome().prop_map(|outcome| RerunState::Done { outcome }),
        ]
    }

    prop_compose! {
        fn state()(
            names in (any::<String>(), any::<String>()),
            attempt in any::<u32>(),
            jobs in vec((any::<u64>(), any::<String>(), conclusion(), any::<bool>(), vec(any::<String>(), 0..2)), 0..6),
            rerun in rerun(),
            retries in any::<u32>(),
            claims in any::<u32>(),
            first_unrecorded_claim_at in any::<Option<u64>>(),
            rerun_failed in vec(any::<String>(), 0..3),
            confirmed in any::<bool>(),
            times in (any::<u64>(), any::<u64>()),
            answered in vec(any::<u64>(), 0..8),
            run_end in (conclusion(), any::<bool>()),
            installation in any::<Option<u64>>(),
        ) -> RunState {
            RunState {
                branch: names.0.into(),
                workflow: names.1.into(),
                attempt,
                jobs: jobs
                    .into_iter()
                    .map(|(id, name, conclusion, ran_steps, failed_steps)| TrackedJob {
                        id: JobId(id),
                        name: name.into(),
                        conclusion,
                        ran_steps,
                        failed_steps: failed_steps.into_iter().map(Into::into).collect(),
                        ran_ms: None,
                    })
                    .collect(),
                rerun,
                retries,
                claims,
                first_unrecorded_claim_at,
                rerun_failed,
                confirmed,
                first_seen_at: times.0,
                last_event_at: times.1,
                answered,
                run_conclusion: run_end.0,
                needs_jobs: run_end.1,
                installation: installation.map(crate::ids::InstallationId),
                head_sha: installation.map(|n| crate::ids::CommitSha([n as u8; 20])),
                rerun_evidence: installation.map(|n| format!("runner lost {n}")),
                failures: Vec::new(),
                teaching: Vec::new(),
                teaching_by_service: false,
                rerun_failed_again: false,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn every_state_decodes_to_itself(state in state()) {
            let json = encode_state(&key(), &state).expect("encodes");
            prop_assert_eq!(decode_state(&key(), &json).expect("decodes"), state);
        }

        #[test]
        fn a_damaged_row_is_refused_or_decodes_to_what_encodes_back(
            state in state(),
            at in any::<prop::sample::Index>(),
            cut in 0usize..8,
            insert in "[\\[\\]{}\",:0-9a-z_ -]{0,6}",
        ) {
            // A valid row with a few characters replaced: mostly refused, sometimes another
            // valid state, which must then be stable.
            let json = encode_state(&key(), &state).expect("encodes");
            let chars: Vec<char> = json.chars().collect();
            let start = at.index(chars.len() + 1);
            let end = (start + cut).min(chars.len());
            let text: String = chars[..start]
                .iter()
                .chain(insert.chars().collect::<Vec<_>>().iter())
                .chain(chars[end..].iter())
                .collect();
            if let Ok(state) = decode_state(&key(), &text) {
                let json = encode_state(&key(), &state).expect("encodes");
                prop_assert_eq!(decode_state(&key(), &json).expect("decodes"), state);
            }
        }

        #[test]
        fn every_outcome_row_decodes_to_itself(outcome in outcome(), jobs in vec(any::<String>(), 0..4)) {
            let record = RerunRecord {
                attempt: 3,
                outcome,
                workflow: "CI".into(),
                branch: "master".into(),
                failed_jobs: jobs,
                finished_at: 1_700_000_000_000,
            };
            let (detail, failed_jobs) = encode_record(&record).expect("encodes");
            let row = RerunRow {
                repo: "octo-org/octo-repo".into(),
                run_id: 7,
                attempt: 3,
                detail,
                workflow: record.workflow.clone(),
                branch: record.branch.clone(),
                failed_jobs,
                finished_at: 1_700_000_000_000,
            };
            prop_assert_eq!(decode_record(row).expect("decodes"), (key(), record));
        }
    }
}
