//! The GitHub side's section of the settings: where the API is, which credentials,
//! how calls are paced, retried and waited for, and how evidence is read. `settings`
//! reads it from the environment; the GitHub client and actor only ever see this.

use std::time::Duration;

use crate::secret::Secret;

/// How the GitHub actor paces, retries and waits.
#[derive(Clone, Debug, PartialEq)]
pub struct GitHubSettings {
    /// API base without a trailing slash, e.g. `https://api.github.com`.
    pub api_url: String,
    /// Token sent as `Authorization: Bearer …` for runs of no App installation; without
    /// it (and without `app`) re-runs are refused.
    pub token: Option<Secret>,
    /// The GitHub App whose installation tokens re-run the runs of its installations.
    pub app: Option<super::app_auth::AppCredentials>,
    /// `REPORT=check_run`: each automatic decision on a run of an App installation is
    /// reported as a check run on its commit.
    pub report_check_runs: bool,
    /// `PUBLIC_URL`: the service's address as people reach it, for the check runs' link
    /// to the status page (no trailing slash).
    pub public_url: Option<String>,
    /// Least time between two POSTs to the API.
    pub min_interval: Duration,
    /// Tries for one re-run before giving up on transient errors.
    pub max_tries: u32,
    /// First back-off after a transient error; doubles on each further one.
    pub backoff_base: Duration,
    /// Longest back-off between two tries.
    pub backoff_max: Duration,
    /// Time limit of one API request.
    pub request_timeout: Duration,
    /// Wait before looking at a run again that GitHub still shows in progress.
    pub poll_interval: Duration,
    /// How many times to look at a run that is still in progress before giving up.
    pub poll_tries: u32,
    /// Least pause after a secondary rate limit that names no reset time.
    pub secondary_limit_wait: Duration,
    /// Bytes kept of the end of a failed job's log, for the failure policy.
    pub log_tail_bytes: usize,
    /// Most bytes of one job's log read; the rest is left unread.
    pub log_read_max_bytes: u64,
    /// Time limit of one log download, answer and body (longer than `request_timeout`).
    pub log_read_timeout: Duration,
    /// Time limit of one run's evidence, all its jobs' calls and downloads together.
    pub evidence_timeout: Duration,
    /// Log downloads in flight at once, all runs and credentials together.
    pub log_downloads: usize,
}
