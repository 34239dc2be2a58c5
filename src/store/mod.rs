//! Durable state: tracked runs and the re-runs decided for them. The actors see the
//! [`Store`] trait only; [`SqliteStore`] is the embedded default.
//!
//! Writes are group-committed: a backend may gather the writes that arrive together
//! into one transaction, and answers each only after that transaction committed.

mod sqlite;

use std::future::Future;
use std::pin::Pin;

pub use sqlite::SqliteStore;

use crate::ids::RunKey;
use crate::run::{RerunOutcome, RunState};

/// A store operation's pending result.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// The store could not do what was asked (disk full, database gone, corrupt row).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("store: {0}")]
pub struct StoreError(pub String);

/// An answered re-run, kept for the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RerunRecord {
    /// The attempt that was re-run.
    pub attempt: u32,
    /// What GitHub answered.
    pub outcome: RerunOutcome,
    /// The run's workflow.
    pub workflow: String,
    /// The run's branch.
    pub branch: String,
    /// Names of the jobs that had failed.
    pub failed_jobs: Vec<String>,
    /// When the answer came, unix ms.
    pub finished_at: u64,
}

/// One change to commit.
#[derive(Clone, Debug)]
pub enum Write {
    /// Insert or replace a run's state.
    SaveRun {
        /// The run.
        key: RunKey,
        /// Its state after the change.
        state: RunState,
        /// Commit time, unix ms.
        now: u64,
        /// An answered re-run to record in the same transaction.
        rerun: Option<Box<RerunRecord>>,
    },
    /// Forget a run (it expired).
    DeleteRun {
        /// The run.
        key: RunKey,
    },
}

/// Where tracked runs live.
pub trait Store: Send + Sync + 'static {
    /// Reads a run's state; `None` when the run has no record.
    fn load(&self, key: &RunKey) -> StoreFuture<Option<RunState>>;
    /// Commits one change; resolves once it is durable.
    fn write(&self, write: Write) -> StoreFuture<()>;
    /// Runs with a re-run decided but not answered: they are resumed on start.
    fn pending_reruns(&self) -> StoreFuture<Vec<RunKey>>;
    /// Deletes runs with no pending re-run that have not changed since `before` (unix ms);
    /// returns how many.
    fn purge_idle(&self, before: u64) -> StoreFuture<u64>;
    /// Answered re-runs, newest first.
    fn recent_reruns(&self, limit: u32) -> StoreFuture<Vec<(RunKey, RerunRecord)>>;
}
