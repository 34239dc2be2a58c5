//! What one change does to the tables, written once: a plan that both stores carry
//! out in the change's transaction, each in its own SQL dialect. SQLite and
//! PostgreSQL can differ in how they say a write, never in which writes a change
//! makes or in their order. Pure: it reads the stored text and the applied change,
//! never the database.
//!
//! One transaction, the same in both stores:
//! 1. the run's row is read, and [`load`] says what it holds: a state, nothing, or a
//!    value that is not JSON at all, moved to `quarantine` first (a state of a newer
//!    version fails the change and is left as it is);
//! 2. when the change wants it (`RunChange::wants_history`), the history a decision
//!    reads is read ([`history`] puts its parts together);
//! 3. the change is applied (`run::apply_change`);
//! 4. [`writes`] are carried out, in order.

use super::StoreError;
use super::codec::{self, SignatureCounts, Unreadable};
use crate::ids::RunKey;
use crate::policy::{History, SignatureHistory};
use crate::run::{Applied, DecisionRecord, Persist, RerunEffect, RerunRecord, RunState};

/// The run's row as the store found it: `None` when there is none, else its `state`
/// column as text, or (shown, why) for a value that is not text.
pub type StoredState = Option<Result<String, (String, String)>>;

/// What the run's row holds for a change.
#[derive(Debug)]
pub struct Loaded {
    /// The state the change applies to (`None`: the run is new here, or starts afresh).
    pub current: Option<RunState>,
    /// A value nothing will ever read: moved to `quarantine` before anything else.
    pub quarantine: Option<Quarantine>,
}

/// A `runs` row moved aside: what it held and why it could not be read.
#[derive(Debug, PartialEq, Eq)]
pub struct Quarantine {
    /// The value as found (or as it could be shown).
    pub kept: String,
    /// Why it is unreadable.
    pub why: String,
}

/// Reads the run's stored row for a change. `Err` is a state a newer version wrote:
/// the change fails and the row is left as it is (`StoreWatch::newer` counts it).
pub fn load(key: &RunKey, stored: StoredState) -> Result<Loaded, StoreError> {
    let (kept, why) = match stored {
        None => {
            return Ok(Loaded {
                current: None,
                quarantine: None,
            });
        }
        Some(Ok(json)) => match codec::decode_stored_state(key, &json) {
            Ok(state) => {
                return Ok(Loaded {
                    current: Some(state),
                    quarantine: None,
                });
            }
            Err(Unreadable::Newer(err)) => return Err(err),
            Err(Unreadable::Garbled(err)) => (json, err.message().to_owned()),
        },
        Some(Err(unreadable)) => unreadable,
    };
    Ok(Loaded {
        current: None,
        quarantine: Some(Quarantine { kept, why }),
    })
}

/// The history a decision reads, from what the store counted: the repository's
/// counted decisions of the last hour, its workflow's latest `job_reruns` rows
/// (newest first; an unreadable row is left out by the store) and the signatures'
/// histories.
pub fn history(
    counted: i64,
    job_reruns: Vec<(String, bool)>,
    signatures: std::collections::HashMap<String, SignatureHistory>,
) -> History {
    History {
        reruns_last_hour: u32::try_from(counted).unwrap_or(u32::MAX),
        jobs: codec::after_rerun_history(job_reruns),
        signatures,
    }
}

/// One write of a change, in the terms of the tables.
#[derive(Debug)]
pub enum Write<'a> {
    /// Insert or replace the run's row.
    SaveRun {
        /// `runs.state`.
        state: String,
        /// `runs.pending_rerun_at`: when its re-run needs attention.
        pending_rerun_at: Option<i64>,
    },
    /// Delete the run's row (it expired).
    DeleteRun,
    /// One more time a job was flaky (`flaky_jobs`).
    CountFlaky {
        /// The job's workflow.
        workflow: &'a str,
        /// The job.
        job: &'a str,
    },
    /// The re-run's record (`reruns`), in a savepoint: a record the database refuses
    /// is left out, and the run's state (the outcome, which ends the claims) still
    /// commits.
    RecordRerun {
        /// The record.
        record: &'a RerunRecord,
        /// `reruns.detail`: the outcome, as JSON.
        detail: String,
        /// `reruns.failed_jobs`: the names, as JSON.
        failed_jobs: String,
    },
    /// What a job did after an automatic re-run (`job_reruns`).
    AfterRerun {
        /// The job's workflow.
        workflow: &'a str,
        /// The job.
        job: &'a str,
        /// It passed.
        passed: bool,
    },
    /// A decision of the failure policy (`decisions`), replacing one of the same
    /// attempt.
    Decision {
        /// The decision.
        decision: &'a DecisionRecord,
        /// `decisions.facts`, as JSON.
        facts: Option<String>,
    },
    /// A signature's counts grow (`signatures`).
    Signature(SignatureCounts<'a>),
    /// The outcome of a decided re-run is known (`decisions.outcome`): one failed job
    /// failing again makes the whole re-run one that did not help.
    SettleDecision {
        /// The attempt re-run.
        attempt: u32,
        /// `passed` or `failed_again`.
        outcome: &'static str,
    },
    /// A re-run's job ran: its runner time, and whether the run turned green
    /// (`reruns.runner_ms`, `reruns.green`).
    Effect(RerunEffect),
}

/// The writes an applied change makes, in the order they are carried out.
pub fn writes<'a>(key: &RunKey, applied: &'a Applied) -> Result<Vec<Write<'a>>, StoreError> {
    let mut writes = Vec::new();
    match (&applied.persist, &applied.state) {
        (Persist::Save, Some(state)) => writes.push(Write::SaveRun {
            state: codec::encode_state(key, state)?,
            pending_rerun_at: state.pending_rerun_at().map(|at| at as i64),
        }),
        (Persist::Delete, _) => writes.push(Write::DeleteRun),
        _ => {}
    }
    if let Some((workflow, job)) = codec::flaky_to_count(applied) {
        writes.push(Write::CountFlaky { workflow, job });
    }
    if let Some(record) = &applied.history {
        let (detail, failed_jobs) = codec::encode_record(record)?;
        writes.push(Write::RecordRerun {
            record,
            detail,
            failed_jobs,
        });
    }
    if let Some((workflow, job, passed)) = codec::after_rerun_to_record(applied) {
        writes.push(Write::AfterRerun {
            workflow,
            job,
            passed,
        });
    }
    if let Some(decision) = &applied.decision {
        let facts = decision
            .facts
            .as_ref()
            .map(codec::encode_facts)
            .transpose()?;
        writes.push(Write::Decision { decision, facts });
    }
    let teaching = codec::teaching(applied);
    writes.extend(
        codec::signature_counts(&teaching)
            .into_iter()
            .map(Write::Signature),
    );
    if let Some((attempt, outcome)) = codec::settled_decision(&teaching) {
        writes.push(Write::SettleDecision { attempt, outcome });
    }
    if let Some(effect) = teaching.effect {
        writes.push(Write::Effect(effect));
    }
    Ok(writes)
}

#[cfg(test)]
mod tests;
