//! What the redelivery sweep (`crate::recovery`) keeps in the store: the lease that
//! lets one instance sweep at a time, how far back the last look reached, the guids
//! already asked for, and what the last sweep did. Both backends implement
//! [`RecoveryStore`] (`sqlite/recovery.rs`, `postgres/recovery.rs`) over the tables of
//! migration V5; a [`Store`](super::Store) offers it through `Store::recovery`.

use super::StoreFuture;

/// What the last sweep left in the store.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepRecord {
    /// The `delivered_at` (unix ms) the next listing must reach back to; `None` before
    /// the first sweep (it then looks back over GitHub's whole window).
    pub seen_until: Option<u64>,
    /// When the last sweep ended, unix ms.
    pub last_sweep_at: Option<u64>,
    /// How it ended (`ok`, `github_error`, `rate_limited`, …).
    pub last_outcome: Option<String>,
    /// Redeliveries it asked for.
    pub last_asked: u64,
    /// Guids asked for in GitHub's window (the kept ones), all instances together.
    pub asked_in_window: u64,
}

/// How a sweep ended, as it is written back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinishedSweep {
    /// The sweeping instance (the lease's owner).
    pub owner: u64,
    /// Unix ms.
    pub now: u64,
    /// The new mark for the next listing; `None` keeps the old one (nothing listed, or
    /// the listing failed).
    pub seen_until: Option<u64>,
    /// A short fixed label.
    pub outcome: &'static str,
    /// Redeliveries asked for.
    pub asked: u64,
    /// Asked guids older than this (unix ms) are forgotten.
    pub forget_before: u64,
}

/// The sweep's bookkeeping.
pub trait RecoveryStore: Send + Sync {
    /// Takes (or renews) the sweep lease for `owner` until `until` when it is free at
    /// `now` (run out, or already `owner`'s), in one statement; `true` when taken.
    fn take_sweep_lease(&self, owner: u64, now: u64, until: u64) -> StoreFuture<bool>;
    /// What the last sweep left.
    fn sweep_record(&self) -> StoreFuture<SweepRecord>;
    /// Those of `guids` (one sweep's listing: at most some 10,000 short ids) that were
    /// asked for and are not forgotten yet. Only these are read: every guid asked for in
    /// GitHub's 3-day window would grow with the window, not with the listing.
    fn asked_among(&self, guids: Vec<String>) -> StoreFuture<Vec<String>>;
    /// Remembers `guid` as asked for (before the request is made); `false` when it was
    /// already, by this instance or another: then it is not asked for again.
    fn claim_guid(&self, guid: String, delivery_id: u64, now: u64) -> StoreFuture<bool>;
    /// Forgets a claimed guid whose request failed for a reason worth trying again.
    fn release_guid(&self, guid: String) -> StoreFuture<()>;
    /// Writes how the sweep ended (only while `owner` holds the lease), gives the lease
    /// back, and forgets guids asked for before `forget_before`.
    fn finish_sweep(&self, finished: FinishedSweep) -> StoreFuture<()>;
}
