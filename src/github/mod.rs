//! The GitHub REST API as the service uses it: read a workflow run, re-run its failed
//! jobs, read a failed job's annotations and log tail (the policy's evidence), with
//! `GITHUB_TOKEN` or a GitHub App's installation tokens (`app_auth`, `credentials`). Responses are classified into typed errors that know what is retryable and
//! what is a rate limit; pacing and retries live in the GitHub actor.

pub mod app_auth;
pub mod check_run;
mod client;
pub mod credentials;
mod error;
pub mod log_body;
pub mod logs;
pub mod markdown;
pub mod meter;
mod redirect;
mod settings;

pub use client::job_log::{Located, LogRead};
pub use client::jobs::{JobsListing, MAX_JOB_PAGES};
pub use client::{Answer, GitHubClient, WorkflowRun};
pub use credentials::{Credential, Credentials, RequestAuth};
pub use error::{GitHubError, NoCredential, RateLimit, exhausted_quota_wait};
pub use logs::LogTail;
pub use settings::GitHubSettings;
