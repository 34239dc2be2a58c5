//! Durable state: tracked runs, decided re-runs (the outbox) and answered re-runs.
//! The actors see the [`Store`] trait only. [`SqliteStore`] is the embedded default;
//! [`PostgresStore`] lets several processes share one database.
//!
//! Every change goes through [`Store::transition`]: in one transaction the store reads
//! the run's row (locked against other processes), applies the pure
//! [`apply_change`](crate::run::apply_change) and writes the result, so the same rules
//! hold whichever process applies them.

pub mod codec;
mod database_url;
mod learning;
mod plan;
mod postgres;
mod recovery;
mod schema;
mod sqlite;
mod watch;

use std::future::Future;
use std::pin::Pin;

pub use database_url::DatabaseUrl;
pub use learning::{DecisionRow, LearningStore, RerunEffects, SignatureRow};
pub use postgres::PostgresStore;
pub use recovery::{FinishedSweep, RecoveryStore, SweepRecord};
pub use sqlite::SqliteStore;
pub use watch::StoreWatch;

use crate::ids::RunKey;
use crate::run::{Applied, RerunRecord, RunChange, RunState};

/// A store operation's pending result.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// The store could not do what was asked, and of which kind the trouble is: callers
/// (and people reading the logs) tell "the database is gone" from "it refused this
/// write" from "a newer version wrote this row". Every kind says `store: <why>`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The database cannot be used now: it cannot be reached or opened, the file was
    /// replaced, a thread or runtime of the store is gone. Trying later may work.
    #[error("store: {0}")]
    Unavailable(String),
    /// The database refused this request (disk full, read-only, a constraint, a
    /// migration that fails): the same request fails again until someone acts.
    #[error("store: {0}")]
    Refused(String),
    /// A stored row this version cannot read (not JSON, a column of another type).
    #[error("store: {0}")]
    Unreadable(String),
    /// A stored row or schema written by a newer version: left as it is.
    #[error("store: {0}")]
    Newer(String),
    /// Something this version should never do happened (a value it cannot encode, a
    /// request its thread skipped): a bug to report.
    #[error("store: {0}")]
    Broken(String),
}

impl StoreError {
    /// Why, in a few words (without the `store: ` prefix).
    pub fn message(&self) -> &str {
        match self {
            Self::Unavailable(why)
            | Self::Refused(why)
            | Self::Unreadable(why)
            | Self::Newer(why)
            | Self::Broken(why) => why,
        }
    }
}

/// A job that failed, was re-run automatically and then passed, counted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FlakyJob {
    /// `owner/name`.
    pub repo: String,
    /// The workflow's name.
    pub workflow: String,
    /// The job's name.
    pub job: String,
    /// How many times it passed on an automatic re-run.
    pub times: u64,
    /// The last time, unix ms.
    pub last_seen: u64,
}

/// What automatic re-runs of one job did in a window: the "do re-runs help?" table.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RerunHelp {
    /// `owner/name`.
    pub repo: String,
    /// The workflow's name.
    pub workflow: String,
    /// The job's name.
    pub job: String,
    /// Automatic re-runs of it that completed.
    pub reruns: u64,
    /// Of those, how many passed (flaky).
    pub passed: u64,
    /// Of those, how many failed again (broken).
    pub failed_again: u64,
}

/// Where tracked runs live.
pub trait Store: Send + Sync + 'static {
    /// Reads a run's state; `None` when the run has no record.
    fn load(&self, key: &RunKey) -> StoreFuture<Option<RunState>>;
    /// Applies `change` to the run's stored state atomically and commits; resolves once
    /// the result is durable. A redelivered event (same delivery id as one that changed
    /// the run, remembered in the run's state) is answered with its first status and
    /// changes nothing.
    fn transition(&self, key: &RunKey, change: RunChange) -> StoreFuture<Applied>;
    /// Runs whose decided re-run is due at `now` (or whose claim ran out), oldest first.
    /// Here and in the other listings a row that cannot be read is skipped (and
    /// reported to the store's [`StoreWatch`]): one bad row does not hide the others.
    fn due_reruns(&self, now: u64, limit: u32) -> StoreFuture<Vec<RunKey>>;
    /// Deletes runs with no pending re-run older than `before` (unix ms); returns how many.
    fn purge_idle(&self, before: u64) -> StoreFuture<u64>;
    /// How many runs the store holds (awake or asleep, settled ones until purged): the
    /// `runs_tracked` figure. Never delays changes: SQLite counts on a read connection
    /// of its own.
    fn count_runs(&self) -> StoreFuture<u64>;
    /// Answered re-runs, newest first.
    fn recent_reruns(&self, limit: u32) -> StoreFuture<Vec<(RunKey, RerunRecord)>>;
    /// The most recently changed runs, newest first.
    fn recent_runs(&self, limit: u32) -> StoreFuture<Vec<(RunKey, RunState)>>;
    /// Flaky jobs, most often flaky first.
    fn flaky_jobs(&self, limit: u32) -> StoreFuture<Vec<FlakyJob>>;
    /// Per repository, workflow and job: automatic re-runs completed since `since`
    /// (unix ms) and how many passed or failed again (`job_reruns`), most re-run first.
    fn rerun_help(&self, since: u64, limit: u32) -> StoreFuture<Vec<RerunHelp>>;
    /// Why attempts were not re-run since `since` (unix ms): the reasons of the
    /// `skip` and `shadow` decisions, counted, most frequent first.
    fn skip_reasons(&self, since: u64) -> StoreFuture<Vec<(String, u64)>>;
    /// Checks that a write commits: updates the one-row `heartbeat` table in a
    /// transaction of its own (SQLite: also that the file at the path is still the one
    /// opened). What `/readyz` asks.
    fn ping(&self) -> StoreFuture<()>;
    /// Migrations applied to the database that are newer than this version's (a newer
    /// version migrated it; tolerated at start-up, see `schema`). Empty normally.
    fn newer_migrations(&self) -> &[String] {
        &[]
    }
    /// The redelivery sweep's bookkeeping; `None` for a store that keeps none (a
    /// test's wrapper): the sweep is then off.
    fn recovery(&self) -> Option<&dyn RecoveryStore> {
        None
    }
    /// The learning tables (signatures, kept decisions); `None` for a store that keeps
    /// none (a test's wrapper): `/status` then shows no signatures.
    fn learning(&self) -> Option<&dyn LearningStore> {
        None
    }
    /// `sqlite` or `postgres`, for logs.
    fn backend(&self) -> &'static str;
}
