//! What a run tracker reads of the configuration: its own section, declared here and
//! filled by the wiring (`startup`) from `Settings`, so that the tracker never reads
//! the whole configuration (nor imports it).

use std::time::Duration;

/// The tracker's settings.
#[derive(Clone, Copy, Debug)]
pub struct TrackerSettings {
    /// `RERUN_DELAY`: a re-run's wait after the run looked finished (without `RULES`).
    pub rerun_delay: Duration,
    /// `RUN_TTL`: a run quiet this long is forgotten.
    pub run_ttl: Duration,
    /// `TRACKER_IDLE`: a tracker quiet this long, with nothing due soon, sleeps.
    pub tracker_idle: Duration,
    /// `GITHUB_POLL_INTERVAL`: the wait before looking again at a run GitHub still
    /// showed in progress.
    pub poll_interval: Duration,
    /// `GITHUB_POLL_TRIES`: how many times it is looked at again.
    pub poll_tries: u32,
    /// `LOG_LEVEL` is `debug` or finer: debug lines are built at all.
    pub debugging: bool,
}
