use super::*;
use crate::run::{ChangeResult, RerunOutcome, RerunState};

fn key() -> RunKey {
    codec::run_key("org/repo", 7).expect("a valid key")
}

fn state() -> RunState {
    RunState::one_failed_job(RerunState::Done {
        outcome: RerunOutcome::Started,
    })
}

fn applied(persist: Persist, state: Option<RunState>) -> Applied {
    Applied {
        state,
        persist,
        result: ChangeResult::Recorded,
        history: None,
        decision: None,
    }
}

fn names(writes: &[Write<'_>]) -> Vec<&'static str> {
    writes
        .iter()
        .map(|write| match write {
            Write::SaveRun { .. } => "save_run",
            Write::DeleteRun => "delete_run",
            Write::CountFlaky { .. } => "count_flaky",
            Write::RecordRerun { .. } => "record_rerun",
            Write::AfterRerun { .. } => "after_rerun",
            Write::Decision { .. } => "decision",
            Write::Signature(_) => "signature",
            Write::SettleDecision { .. } => "settle_decision",
            Write::Effect(_) => "effect",
        })
        .collect()
}

#[test]
fn a_change_that_changed_nothing_writes_nothing() {
    let unchanged = applied(Persist::Unchanged, Some(state()));
    assert!(writes(&key(), &unchanged).expect("a plan").is_empty());
}

#[test]
fn an_expired_run_is_deleted() {
    let expired = applied(Persist::Delete, None);
    assert_eq!(
        names(&writes(&key(), &expired).expect("a plan")),
        ["delete_run"]
    );
}

#[test]
fn a_recorded_outcome_saves_the_run_before_its_record_with_its_due_time() {
    let mut recorded = applied(Persist::Save, Some(state()));
    recorded.history = Some(RerunRecord {
        attempt: 1,
        outcome: RerunOutcome::Started,
        workflow: "CI".into(),
        branch: "main".into(),
        failed_jobs: vec!["test".into()],
        finished_at: 3,
    });
    let plan = writes(&key(), &recorded).expect("a plan");
    assert_eq!(names(&plan), ["save_run", "record_rerun"]);
    let Write::SaveRun {
        state,
        pending_rerun_at,
    } = &plan[0]
    else {
        unreachable!("checked above");
    };
    assert_eq!(
        *pending_rerun_at, None,
        "a run whose re-run is done is due for nothing"
    );
    assert_eq!(
        codec::decode_state(&key(), state).expect("the saved state reads back"),
        self::state()
    );
    let Write::RecordRerun { failed_jobs, .. } = &plan[1] else {
        unreachable!("checked above");
    };
    assert_eq!(failed_jobs, "[\"test\"]");
}

#[test]
fn a_missing_row_is_a_new_run() {
    let loaded = load(&key(), None).expect("loaded");
    assert!(loaded.current.is_none() && loaded.quarantine.is_none());
}

#[test]
fn a_stored_state_is_read_back() {
    let json = codec::encode_state(&key(), &state()).expect("encoded");
    let loaded = load(&key(), Some(Ok(json))).expect("loaded");
    assert_eq!(loaded.current, Some(state()));
    assert!(loaded.quarantine.is_none());
}

#[test]
fn a_row_that_is_not_json_is_moved_aside_as_found_and_the_run_starts_afresh() {
    let loaded = load(&key(), Some(Ok("{\"branch\": \"ma".into()))).expect("loaded");
    assert!(loaded.current.is_none());
    let quarantine = loaded.quarantine.expect("moved aside");
    assert_eq!(quarantine.kept, "{\"branch\": \"ma");
    assert!(!quarantine.why.is_empty());
    let not_text = load(&key(), Some(Err(("(blob)".into(), "not text".into())))).expect("loaded");
    assert_eq!(
        not_text.quarantine,
        Some(Quarantine {
            kept: "(blob)".into(),
            why: "not text".into()
        })
    );
}

#[test]
fn a_state_a_newer_version_wrote_fails_the_change_and_stays() {
    let json = codec::encode_state(&key(), &state()).expect("encoded");
    let newer = json.replacen("\"done\"", "\"a_state_of_tomorrow\"", 1);
    assert_ne!(json, newer, "the test changed the state's tag");
    assert!(load(&key(), Some(Ok(newer))).is_err());
}
