//! The GitHub REST API as the service uses it: read a workflow run, re-run its failed
//! jobs. Responses are classified into typed errors that know what is retryable and
//! what is a rate limit; pacing and retries live in the GitHub actor.

mod client;
mod error;
mod redirect;

pub use client::{GitHubClient, WorkflowRun};
pub use error::{GitHubError, RateLimit, exhausted_quota_wait};
