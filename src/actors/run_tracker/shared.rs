//! What the run trackers share: their dependencies (store, GitHub actor, settings,
//! policy, storms), the way a tracker takes itself off the registry, and the error a
//! webhook gets when its event could not be tracked. The registry builds it once and
//! hands every tracker one pointer to it; the tracker never names the registry.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use actix::Addr;
use slog::Logger;

use super::TrackerSettings;
use crate::actors::claim_trouble::ClaimTrouble;
use crate::actors::github::GitHubActor;
use crate::actors::storm_watch::StormWatch;
use crate::ids::RunKey;
use crate::metrics::Metrics;
use crate::rules::LivePolicy;
use crate::run::Claim;
use crate::store::{Store, StoreError};

/// Takes the tracker of a run (its key, its id) off the registry.
pub type Retire = Box<dyn Fn(&RunKey, u64) + Send + Sync>;

/// What every tracker needs, shared.
pub struct TrackerDeps {
    /// Where runs are kept.
    pub store: Arc<dyn Store>,
    /// Who performs re-runs.
    pub github: Addr<GitHubActor>,
    /// What the tracker reads of the configuration (its own section).
    pub settings: TrackerSettings,
    /// The root logger.
    pub log: Logger,
    /// This process's claims on due re-runs.
    pub claim: Claim,
    /// Where outcomes and store latency are counted.
    pub metrics: Arc<Metrics>,
    /// The failure policy in force (swapped on SIGHUP).
    pub policy: Arc<LivePolicy>,
    /// The storms of transient failures, which hold re-runs.
    pub storms: Arc<StormWatch>,
}

/// Why an event could not be tracked; the HTTP layer answers 503 so GitHub can redeliver.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TrackError {
    /// The state change could not be committed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// No tracker could take the event (its run could not be read back).
    #[error("the run's tracker is unavailable: {0}")]
    Unavailable(String),
}

/// What every tracker holds one pointer to (a pointer per tracker, not three).
pub struct Shared {
    /// The trackers' dependencies.
    pub deps: TrackerDeps,
    /// Takes a retiring tracker (its run, its id) off the registry.
    pub retire: Retire,
    /// Messages sent to any tracker and not yet handled.
    pub waiting: AtomicUsize,
    /// Failing claims, reported once for all trackers.
    pub claim_trouble: ClaimTrouble,
}
