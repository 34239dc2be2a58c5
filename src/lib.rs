//! job-rerunner: receives GitHub `workflow_job` webhooks, tracks every job of every
//! workflow run, and re-runs the failed jobs of finished runs a bounded number of times.
//!
//! Life of a webhook: [`http`] reads, verifies and parses it, the [`actors::Registry`]
//! routes it to the run's [`actors::RunTracker`], which applies it to its
//! [`run::RunState`], commits to the [`store`] and answers; when a run finishes with a
//! failure, the tracker's timer hands the re-run to the [`actors::GitHubActor`].

pub mod actors;
pub mod cli;
pub mod clock;
pub mod github;
pub mod http;
pub mod ids;
pub mod logging;
pub mod loops;
pub mod memory;
pub mod metrics;
pub mod own_secrets;
pub mod policy;
pub mod recovery;
pub mod redact;
pub mod rules;
pub mod run;
pub mod secret;
pub mod settings;
pub mod small_file;
pub mod startup;
pub mod store;
pub mod storm;
pub mod token_shapes;

/// This build's version (`Cargo.toml`): `--version`, the start-up log and the
/// `job_rerunner_build_info` metric.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
