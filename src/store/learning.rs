//! What learning keeps in the store beyond a change's transaction: the `signatures`
//! table as `/status` and `/api/signatures` show it, its pruning, and the kept
//! decisions `job-rerunner what-if` replays (migration V6). Both backends implement
//! [`LearningStore`] (`sqlite/learning.rs`, `postgres/learning.rs`); a
//! [`Store`](super::Store) offers it through `Store::learning`.

use super::StoreFuture;

/// One signature of one repository, as counted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SignatureRow {
    /// `owner/name`.
    pub repo: String,
    /// The signature: the decisive line with what varies normalised away.
    pub signature: String,
    /// `transient`, `broken`, `not_started`; `None`: no family knows it.
    pub class: Option<String>,
    /// The family and pattern that know it (`network:connection_reset`).
    pub family: Option<String>,
    /// The latest decisive line with this signature (masked).
    pub example: String,
    /// Failures judged with it.
    pub seen: u64,
    /// Re-runs of it whose outcome is known (the service's and people's).
    pub reruns: u64,
    /// Of those, the ones that passed.
    pub passed: u64,
    /// Of `reruns`, those a person started.
    pub people: u64,
    /// The latest outcomes, oldest first: `P` passed, `F` failed again.
    pub recent: String,
    /// Last seen or re-run, unix ms.
    pub last_seen: u64,
    /// Re-runs of this signature in every repository (this one included), and how many
    /// passed: what a decision reads when this repository has too few (shown by the
    /// page's view as `everywhere`).
    #[serde(skip)]
    pub everywhere: (u64, u64),
}

/// One kept decision, for `what-if`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionRow {
    /// `owner/name`.
    pub repo: String,
    /// The run.
    pub run_id: u64,
    /// The attempt decided.
    pub attempt: u32,
    /// Unix ms.
    pub decided_at: u64,
    /// `rerun`, `skip`, `shadow`.
    pub verdict: String,
    /// The skip's reason.
    pub reason: Option<String>,
    /// The job it named.
    pub job: Option<String>,
    /// The line it rested on.
    pub evidence: Option<String>,
    /// Its facts (JSON, `policy::DecisionFacts`); `None` in rows written before V6.
    pub facts: Option<String>,
    /// `passed` or `failed_again` once the next attempt's jobs said; `None` until then.
    pub outcome: Option<String>,
}

/// What automatic re-runs cost and saved in a window: the status page's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RerunEffects {
    /// Automatic re-runs GitHub started.
    pub reruns: u64,
    /// Runner time their jobs took, ms (as far as the jobs' completions said).
    pub runner_ms: u64,
    /// Of them, those whose every re-run job passed: the run went green.
    pub turned_green: u64,
    /// Attempts the policy did not re-run.
    pub skips: u64,
    /// Their failed jobs' own run time, ms: about what re-running them would have cost.
    pub skipped_ms: u64,
}

impl RerunEffects {
    /// From the two sums the stores read: `(reruns, runner_ms, green)`, `(skips, ms)`.
    pub(super) fn from_sums(reruns: (i64, i64, i64), skips: (i64, i64)) -> Self {
        Self {
            reruns: unsigned(reruns.0),
            runner_ms: unsigned(reruns.1),
            turned_green: unsigned(reruns.2),
            skips: unsigned(skips.0),
            skipped_ms: unsigned(skips.1),
        }
    }
}

/// The learning tables, read and pruned.
pub trait LearningStore: Send + Sync {
    /// The signatures last seen most recently first, at most `limit`.
    fn signatures(&self, limit: u32) -> StoreFuture<Vec<SignatureRow>>;
    /// Forgets signatures last seen before `before` (unix ms), then all but the `keep`
    /// seen most recently; returns how many rows went.
    fn prune_signatures(&self, before: u64, keep: u32) -> StoreFuture<u64>;
    /// Decisions made since `since` (unix ms), oldest first, at most `limit`
    /// (`needs_evidence` rows are no decision and are left out).
    fn decisions_since(&self, since: u64, limit: u32) -> StoreFuture<Vec<DecisionRow>>;
    /// What automatic re-runs started since `since` (unix ms) cost and did, and what
    /// the skips decided since then saved.
    fn effects(&self, since: u64) -> StoreFuture<RerunEffects>;
}

/// A non-negative count or time read from an integer column.
pub(super) fn unsigned(value: i64) -> u64 {
    value.max(0) as u64
}
