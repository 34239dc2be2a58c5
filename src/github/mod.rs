//! The GitHub REST API as the service uses it: read a workflow run, re-run its failed
//! jobs, read a failed job's annotations and log tail (the policy's evidence). Responses are classified into typed errors that know what is retryable and
//! what is a rate limit; pacing and retries live in the GitHub actor.

mod client;
mod error;
pub mod logs;
mod redirect;

pub use client::jobs::{JobsListing, MAX_JOB_PAGES};
pub use client::{Answer, GitHubClient, WorkflowRun};
pub use error::{GitHubError, RateLimit, exhausted_quota_wait};
pub use logs::LogTail;
