//! The actors: one [`RunTracker`] per workflow run, found through the [`Registry`], and
//! one [`GitHubActor`] per process. The HTTP handler (`crate::http`) is the entry point.

pub mod claim_trouble;
pub mod github;
pub mod registry;
pub mod run_tracker;
pub mod storm_watch;

pub use github::{FetchEvidence, GitHubActor, PostGuard, QueueDepth, RerunRequest};
pub use registry::Registry;
pub use run_tracker::{RunTracker, Track, TrackError, TrackerDeps, TrackerSettings, Wake};
