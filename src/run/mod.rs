//! The run logic, free of actors, HTTP and storage: what one webhook event does to a
//! tracked workflow run and what the service answers. `RunTracker` is a thin shell
//! around [`RunState`]; everything here is tested with plain unit tests.

mod change;
mod event;
// The model checker of the run logic: for the property tests and the `run_logic` fuzz
// target only (`cargo fuzz` builds with `--cfg fuzzing`), never in the service.
#[cfg(any(test, fuzzing))]
pub mod invariants;
mod outcome;
mod run_end;
mod run_event;
mod state;
mod teaching;

pub use change::{
    Applied, BUDGET_WINDOW_MS, ChangeResult, DecisionRecord, EvidenceCost, Persist, RerunRecord,
    RunChange, apply_change,
};
pub use event::{BeyondAttempts, Conclusion, JobAction, JobEvent, Name};
pub use outcome::RerunOutcome;
pub use run_event::RunEvent;
pub use state::{
    ANSWERS_KEPT, Claim, ClaimedRerun, Decided, EventVerdict, Finish, MAX_UNRECORDED_CLAIMS,
    NextStep, RULE_ATTEMPTS_REACHED, Reply, RerunEffect, RerunState, RetryPolicy, RunConfig,
    RunState, TimerChange, TrackedJob, UNRECORDED_CLAIMS_FOR_MS, unrecorded_claims_exhausted,
};
pub use teaching::{Failure, Lesson};
