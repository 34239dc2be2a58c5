//! The service's configuration, read once from the environment and validated at
//! start-up. Nothing else in the crate reads environment variables.

use std::collections::HashMap;
use std::time::Duration;

use env::Env;

mod catalog;
mod env;
mod key_file;
mod kind;
mod public_url;

pub use crate::secret::Secret;

pub use crate::policy::BranchFilter;

// Each component owns its section; these are read here and handed to it.
pub use crate::github::GitHubSettings;
pub use crate::github::app_auth::AppJwt;
pub use crate::logging::{LogFormat, LoggingSettings};
pub use crate::store::DatabaseUrl;

/// Everything the service is configured with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `RULES`: the re-run policy's TOML text (`crate::rules` loads it).
    pub rules: Option<String>,
    /// `RULES_FILE`: a path to it.
    pub rules_file: Option<std::path::PathBuf>,
    /// Webhook secret that signs every delivery.
    pub sign_key: Secret,
    /// Events with `run_attempt >= run_attempts` are ignored.
    pub run_attempts: u32,
    /// Branches whose runs may be re-run.
    pub branches: BranchFilter,
    /// Senders (lower-cased GitHub logins) whose events are ignored.
    pub no_retry: Vec<String>,
    /// Address to listen on.
    pub host: String,
    /// Port to listen on; 0 picks a free one (tests).
    pub port: u16,
    /// Number of HTTP worker threads.
    pub workers: usize,
    /// Delay between a run's last completion and its re-run call.
    pub rerun_delay: Duration,
    /// Where tracked runs live.
    pub database: DatabaseUrl,
    /// Largest webhook body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long a process's claim on a due re-run holds before another may take it over.
    pub claim_lease: Duration,
    /// How often the store is polled for due re-runs (resumed after a crash, or left
    /// by a process that died).
    pub outbox_poll: Duration,
    /// A run with no event for this long is forgotten (lost deliveries).
    pub run_ttl: Duration,
    /// How long a tracker with nothing due soon stays in memory after its run's last
    /// message before it sleeps (leaves memory; the run stays in the store).
    pub tracker_idle: Duration,
    /// How often the mailbox summary is logged.
    pub summary_every: Duration,
    /// Waiting messages (tracker mailboxes, GitHub queue) above which a warning is logged.
    pub backlog_warning: usize,
    /// Decide and log everything, never call the re-run endpoint.
    pub dry_run: bool,
    /// Token that opens the status page and `/api/…`; unset: they are off.
    pub status_token: Option<Secret>,
    /// How log lines are written (`LOG_FORMAT`, `LOG_LEVEL`).
    pub logging: LoggingSettings,
    /// How long a webhook's body may take to arrive, from the end of its headers.
    pub body_timeout: Duration,
    /// Most webhook body bytes held in memory at once, all connections together.
    pub max_buffered_bytes: usize,
    /// Whether the client of a request is the last address in `X-Forwarded-For` (behind
    /// one reverse proxy that sets it) rather than the peer address.
    pub trust_forwarded_for: bool,
    /// GitHub API client settings.
    pub github: GitHubSettings,
    /// How often missed deliveries are looked for and redelivered; zero: never.
    pub redeliver_every: Duration,
    /// When failures with one transient signature make a storm (`STORM_REPOS`,
    /// `STORM_WINDOW`).
    pub storm: crate::storm::StormSettings,
    /// The GitHub App's JWT source; `None` without App authentication (no sweep then).
    pub app_jwt: Option<AppJwt>,
}

/// A configuration error: names the variable and what is wrong with it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {problem}")]
pub struct SettingsError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong, without echoing secrets.
    pub problem: String,
}

/// The shortest `STATUS_TOKEN` accepted: a shorter one is guessed too easily.
pub const MIN_STATUS_TOKEN_CHARS: usize = 16;

/// The longest value any duration setting takes (30 days). Durations are added to
/// instants (deadlines, leases, sleeps); an unbounded one (`1e19`) would overflow there
/// and panic, so start-up refuses it instead.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

pub use crate::http::MAX_BODY_TIMEOUT;

pub use catalog::{VARIABLES, Variable};
pub use kind::{Bounds, Count, CountDefault, Kind, Seconds};

impl Settings {
    /// The defaults a failure policy overrides: `RUN_ATTEMPTS`, `REPO_BRANCHES` and
    /// `RERUN_DELAY`.
    pub fn policy_defaults(&self) -> crate::policy::EnvDefaults {
        crate::policy::EnvDefaults {
            attempts: self.run_attempts,
            branches: self.branches.clone(),
            delay: self.rerun_delay,
        }
    }

    /// The HTTP layer's section.
    pub fn http(&self) -> crate::http::HttpSettings {
        crate::http::HttpSettings {
            sign_key: self.sign_key.clone(),
            status_token: self.status_token.clone(),
            trust_forwarded_for: self.trust_forwarded_for,
            max_body_bytes: self.max_body_bytes,
            body_timeout: self.body_timeout,
            max_buffered_bytes: self.max_buffered_bytes,
            door: self.door(),
            api_url: self.github.api_url.clone(),
            sweeping: !self.redeliver_every.is_zero() && self.app_jwt.is_some(),
        }
    }

    /// Which deliveries the door ignores (part of the HTTP layer's section).
    pub fn door(&self) -> crate::http::Door {
        crate::http::Door {
            run_attempts: self.run_attempts,
            no_retry: self.no_retry.clone(),
        }
    }

    /// The run trackers' section.
    pub fn tracker(&self) -> crate::actors::TrackerSettings {
        crate::actors::TrackerSettings {
            rerun_delay: self.rerun_delay,
            run_ttl: self.run_ttl,
            tracker_idle: self.tracker_idle,
            poll_interval: self.github.poll_interval,
            poll_tries: self.github.poll_tries,
            debugging: self.logging.level.is_at_least(slog::Level::Debug),
        }
    }

    /// The policy's section: where it is read from, and the defaults it overrides.
    pub fn policy(&self) -> crate::rules::PolicySettings {
        crate::rules::PolicySettings {
            rules: self.rules.clone(),
            rules_file: self.rules_file.clone(),
            env: self.policy_defaults(),
        }
    }

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(std::env::vars().collect())
    }

    /// Reads the settings from a map of variables (the environment, or a test's). Every
    /// number's and duration's default and range come from its catalog entry. The
    /// variables are checked in a fixed order: the first at fault is the one named.
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self, SettingsError> {
        let env = Env(vars);
        let sign_key = match env.get("GITHUB_SIGN_KEY") {
            Some(key) => Secret::new(key),
            None => return Err(env.problem("GITHUB_SIGN_KEY", "is required (the webhook secret)")),
        };
        let token = env.get("GITHUB_TOKEN").map(Secret::new);
        let app = app_credentials(&env)?;
        let report_check_runs = match env.get("REPORT") {
            None => app.is_some(),
            Some("check_run") => true,
            Some("off") => false,
            Some(_) => return Err(env.problem("REPORT", "must be check_run or off")),
        };
        let public_url = env.get("PUBLIC_URL").map(public_url::checked).transpose();
        let public_url = public_url.map_err(|why| env.problem("PUBLIC_URL", &why))?;
        let app_jwt = app.clone().map(AppJwt::for_app);
        let run_attempts = env.count("RUN_ATTEMPTS")?;
        let branches = match Env::list(env.text("REPO_BRANCHES"), false) {
            list if list.iter().any(|b| b == "*") => BranchFilter::Any,
            list if list.is_empty() => {
                return Err(env.problem("REPO_BRANCHES", "names no branch"));
            }
            list => BranchFilter::Only(list),
        };
        let no_retry = env
            .get("NO_RETRY_LIST")
            .map(|raw| Env::list(raw, true))
            .unwrap_or_default();
        let api_url = env.text("GITHUB_API_URL").trim_end_matches('/').to_owned();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(env.problem("GITHUB_API_URL", "must start with https:// or http://"));
        }
        let database = DatabaseUrl::parse(env.text("DATABASE_URL"))
            .map_err(|why| env.problem("DATABASE_URL", &why))?;
        let logging = logging_settings(&env)?;
        let workers = env.count("WORKERS")?;
        let max_body_bytes = env.count("MAX_BODY_BYTES")?;
        let body_timeout = env.seconds("BODY_TIMEOUT")?;
        let max_buffered_bytes = env.count("MAX_BUFFERED_BYTES")?;
        if max_buffered_bytes < max_body_bytes {
            return Err(env.problem(
                "MAX_BUFFERED_BYTES",
                "must be at least MAX_BODY_BYTES (a largest body must fit)",
            ));
        }
        let status_token = env.get("STATUS_TOKEN").map(Secret::new);
        if status_token
            .as_ref()
            .is_some_and(|token| token.expose().chars().count() < MIN_STATUS_TOKEN_CHARS)
        {
            return Err(env.problem(
                "STATUS_TOKEN",
                &format!(
                    "must be at least {MIN_STATUS_TOKEN_CHARS} characters (it guards the status page)"
                ),
            ));
        }
        let max_tries = env.count("GITHUB_MAX_TRIES")?;
        let log_tail_bytes: usize = env.count("LOG_TAIL_BYTES")?;
        let log_read_max_bytes: u64 = env.count("LOG_READ_MAX_BYTES")?;
        if log_read_max_bytes < log_tail_bytes as u64 {
            return Err(env.problem("LOG_READ_MAX_BYTES", "must be at least LOG_TAIL_BYTES"));
        }
        let log_read_timeout = env.seconds("LOG_READ_TIMEOUT")?;
        let evidence_timeout = env.seconds("EVIDENCE_TIMEOUT")?;
        let log_downloads = env.count("LOG_DOWNLOADS")?;
        let storm_window = env.seconds("STORM_WINDOW")?;
        let storm = crate::storm::StormSettings {
            repos: env.count("STORM_REPOS")?,
            window_ms: storm_window.as_millis().min(u128::from(u64::MAX)) as u64,
        };
        Ok(Settings {
            rules: env.get("RULES").map(str::to_owned),
            rules_file: env.get("RULES_FILE").map(std::path::PathBuf::from),
            sign_key,
            run_attempts,
            branches,
            no_retry,
            host: env.text("HOST").to_owned(),
            port: env.count("PORT")?,
            workers,
            rerun_delay: env.seconds("RERUN_DELAY")?,
            database,
            max_body_bytes,
            run_ttl: env.seconds("RUN_TTL")?,
            claim_lease: env.seconds("CLAIM_LEASE")?,
            outbox_poll: env.seconds("OUTBOX_POLL")?,
            tracker_idle: tracker_idle(&env)?,
            summary_every: env.seconds("SUMMARY_EVERY")?,
            backlog_warning: env.count("BACKLOG_WARNING")?,
            dry_run: env.flag("DRY_RUN")?,
            status_token,
            logging,
            body_timeout,
            max_buffered_bytes,
            trust_forwarded_for: env.flag("TRUST_FORWARDED_FOR")?,
            github: GitHubSettings {
                api_url,
                token,
                app,
                report_check_runs,
                public_url,
                min_interval: env.seconds("GITHUB_MIN_INTERVAL")?,
                max_tries,
                backoff_base: env.seconds("GITHUB_BACKOFF")?,
                backoff_max: env.seconds("GITHUB_BACKOFF_MAX")?,
                request_timeout: env.seconds("GITHUB_TIMEOUT")?,
                poll_interval: env.seconds("GITHUB_POLL_INTERVAL")?,
                poll_tries: env.count("GITHUB_POLL_TRIES")?,
                secondary_limit_wait: env.seconds("GITHUB_SECONDARY_LIMIT_WAIT")?,
                log_tail_bytes,
                log_read_max_bytes,
                log_read_timeout,
                evidence_timeout,
                log_downloads,
            },
            redeliver_every: env.seconds("REDELIVER_EVERY")?,
            storm,
            app_jwt,
        })
    }

    /// The effective value of every variable, secrets redacted, in `VARIABLES` order.
    pub fn effective(&self) -> Vec<(&'static str, String)> {
        VARIABLES
            .iter()
            .map(|variable| (variable.name, (variable.show)(self)))
            .collect()
    }
}

/// `TRACKER_IDLE`, or `TRACKER_LINGER` (its name before trackers slept with their runs
/// unfinished) when only that is set, so that existing deployments keep theirs.
fn tracker_idle(env: &Env) -> Result<Duration, SettingsError> {
    match (env.get("TRACKER_IDLE"), env.get("TRACKER_LINGER")) {
        (None, Some(_)) => env.seconds_as("TRACKER_LINGER", "TRACKER_IDLE"),
        _ => env.seconds("TRACKER_IDLE"),
    }
}

/// The logging section: `LOG_FORMAT` and `LOG_LEVEL`.
fn logging_settings(env: &Env) -> Result<LoggingSettings, SettingsError> {
    let format = match env.text("LOG_FORMAT") {
        "term" => LogFormat::Term,
        "json" => LogFormat::Json,
        _ => return Err(env.problem("LOG_FORMAT", "must be term or json")),
    };
    let level = match env.text("LOG_LEVEL").to_ascii_lowercase().as_str() {
        "trace" => slog::Level::Trace,
        "debug" => slog::Level::Debug,
        "info" => slog::Level::Info,
        "warn" | "warning" => slog::Level::Warning,
        "error" => slog::Level::Error,
        "critical" => slog::Level::Critical,
        _ => {
            return Err(env.problem(
                "LOG_LEVEL",
                "must be trace, debug, info, warning, error or critical",
            ));
        }
    };
    Ok(LoggingSettings { format, level })
}

/// `GITHUB_APP_ID` and its private key (inline or from a file), read and checked to
/// sign: a key that does not parse stops start-up naming its variable, never quoting it.
fn app_credentials(
    env: &Env,
) -> Result<Option<crate::github::app_auth::AppCredentials>, SettingsError> {
    use crate::github::app_auth::{AppCredentials, BAD_KEY, parse_private_key};
    const KEY: &str = "GITHUB_APP_PRIVATE_KEY";
    const KEY_FILE: &str = "GITHUB_APP_PRIVATE_KEY_FILE";
    let id = match env.get("GITHUB_APP_ID") {
        None => None,
        Some(raw) => match raw.parse::<u64>() {
            Ok(id) if id > 0 => Some(id),
            _ => {
                return Err(env.problem(
                    "GITHUB_APP_ID",
                    &format!("{raw:?} is not an App id (a whole number)"),
                ));
            }
        },
    };
    let (key_text, key_file) = match (env.get(KEY), env.get(KEY_FILE)) {
        (Some(_), Some(_)) => {
            return Err(env.problem(KEY, "is set with GITHUB_APP_PRIVATE_KEY_FILE: set one"));
        }
        (Some(text), None) => (Some((KEY, text.to_owned())), None),
        (None, Some(path)) => {
            let path = std::path::PathBuf::from(path);
            let text = key_file::read(&path).map_err(|why| env.problem(KEY_FILE, &why))?;
            (Some((KEY_FILE, text)), Some(path))
        }
        (None, None) => (None, None),
    };
    match (id, key_text) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(env.problem(
            KEY,
            "is required with GITHUB_APP_ID (or GITHUB_APP_PRIVATE_KEY_FILE)",
        )),
        (None, Some((variable, _))) => Err(env.problem(variable, "is set without GITHUB_APP_ID")),
        (Some(id), Some((variable, text))) => {
            crate::own_secrets::register_pem(&text);
            let key = parse_private_key(&text).map_err(|_| env.problem(variable, BAD_KEY))?;
            Ok(Some(AppCredentials { id, key, key_file }))
        }
    }
}

#[cfg(test)]
mod catalog_tests;
#[cfg(test)]
mod tests;
