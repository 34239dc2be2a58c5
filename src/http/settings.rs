//! What the HTTP layer reads of the configuration: its own section, declared here and
//! filled by the wiring (`startup`) from `Settings`, so that the door never reads the
//! whole configuration (nor imports it).

use std::time::Duration;

use crate::secret::Secret;

/// The longest `BODY_TIMEOUT`: GitHub sends a body at once, and a longer deadline only
/// lets slow senders hold their share of `MAX_BUFFERED_BYTES` longer.
pub const MAX_BODY_TIMEOUT: Duration = Duration::from_secs(300);

/// The HTTP layer's settings.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// `GITHUB_SIGN_KEY`: the webhook secret every delivery is signed with.
    pub sign_key: Secret,
    /// `STATUS_TOKEN`: the status page's and `/api/*`'s credential (`None`: open).
    pub status_token: Option<Secret>,
    /// `TRUST_FORWARDED_FOR`: a client's address is taken from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// `MAX_BODY_BYTES`: the largest webhook body read.
    pub max_body_bytes: usize,
    /// `BODY_TIMEOUT`: how long a body may take to arrive.
    pub body_timeout: Duration,
    /// `MAX_BUFFERED_BYTES`: body bytes held, all connections together.
    pub max_buffered_bytes: usize,
    /// Which deliveries are ignored at the door.
    pub door: Door,
    /// `GITHUB_API_URL`: where the status page's links to runs point (its web side).
    pub api_url: String,
    /// The redelivery sweep runs (`REDELIVER_EVERY` is not 0, and the App is set).
    pub sweeping: bool,
}

/// What decides, from the payload alone, that a delivery is ignored (204).
#[derive(Clone, Debug)]
pub struct Door {
    /// `RUN_ATTEMPTS`: events of attempts at or above it are beyond every re-run
    /// (without a policy whose rules say otherwise).
    pub run_attempts: u32,
    /// `NO_RETRY_LIST`: senders whose runs are never re-run.
    pub no_retry: Vec<String>,
}

impl Door {
    /// Whether `login` is in `NO_RETRY_LIST` (GitHub logins are case-insensitive).
    pub fn is_denied_sender(&self, login: &str) -> bool {
        self.no_retry
            .iter()
            .any(|denied| denied.eq_ignore_ascii_case(login))
    }
}
