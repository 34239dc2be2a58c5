//! The service's configuration, read once from the environment and validated at
//! start-up. Nothing else in the crate reads environment variables.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

mod catalog;
mod database_url;
mod key_file;
mod public_url;

pub use crate::secret::Secret;

/// Where the redelivery sweep gets a fresh GitHub App JWT (`/app/…` endpoints take the
/// App's JWT, not an installation token): [`AppJwt::for_app`] with App authentication;
/// tests may put in another.
#[derive(Clone)]
pub struct AppJwt(pub std::sync::Arc<dyn Fn() -> Result<Secret, String> + Send + Sync>);

impl AppJwt {
    /// Signs a fresh JWT for `app` on each call: one lives 10 minutes, a sweep may last
    /// longer.
    pub fn for_app(app: crate::github::app_auth::AppCredentials) -> Self {
        Self(std::sync::Arc::new(move || {
            crate::github::app_auth::app_jwt(&app, crate::clock::now_secs())
        }))
    }

    /// A fresh JWT, or why none can be made (never the key).
    pub fn make(&self) -> Result<Secret, String> {
        (self.0)()
    }
}

impl fmt::Debug for AppJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppJwt([redacted])")
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Coloured, aligned lines for people.
    Term,
    /// One JSON object per line for log shippers.
    Json,
}

pub use crate::policy::BranchFilter;

pub use crate::github::GitHubSettings;
pub use database_url::DatabaseUrl;

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
    /// Log line format.
    pub log_format: LogFormat,
    /// How long a webhook's body may take to arrive, from the end of its headers.
    pub body_timeout: Duration,
    /// Most webhook body bytes held in memory at once, all connections together.
    pub max_buffered_bytes: usize,
    /// Whether the client of a request is the last address in `X-Forwarded-For` (behind
    /// one reverse proxy that sets it) rather than the peer address.
    pub trust_forwarded_for: bool,
    /// Least severe level logged.
    pub log_level: slog::Level,
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

/// The longest `BODY_TIMEOUT`: GitHub sends a body at once, and a longer deadline only
/// lets slow senders hold their share of `MAX_BUFFERED_BYTES` longer.
pub const MAX_BODY_TIMEOUT: Duration = Duration::from_secs(300);

pub use catalog::{VARIABLES, Variable};

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

    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(std::env::vars().collect())
    }

    /// Reads the settings from a map of variables (the environment, or a test's).
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
        let run_attempts = env
            .number("RUN_ATTEMPTS", 4u32, 2..=51)
            .map_err(|mut err| {
                // Why the bound is where it is, for the side the value fell out of.
                if err.problem.contains("out of range") {
                    let raw = env.get("RUN_ATTEMPTS").unwrap_or_default();
                    let too_few = raw.starts_with('-') || raw.parse::<u64>().is_ok_and(|n| n < 2);
                    err.problem.push_str(if too_few {
                        " (it counts the first attempt too: 1 would never re-run)"
                    } else {
                        " (GitHub refuses more than 50 re-runs of one run)"
                    });
                }
                err
            })?;
        let branches = match env.list("REPO_BRANCHES", false) {
            None => BranchFilter::Only(vec!["master".to_owned()]),
            Some(list) if list.iter().any(|b| b == "*") => BranchFilter::Any,
            Some(list) if list.is_empty() => {
                return Err(env.problem("REPO_BRANCHES", "names no branch"));
            }
            Some(list) => BranchFilter::Only(list),
        };
        let no_retry = env.list("NO_RETRY_LIST", true).unwrap_or_default();
        let api_url = env
            .get("GITHUB_API_URL")
            .unwrap_or("https://api.github.com")
            .trim_end_matches('/')
            .to_owned();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(env.problem("GITHUB_API_URL", "must start with https:// or http://"));
        }
        let database = match env
            .get("DATABASE_URL")
            .unwrap_or("sqlite://db/job-rerunner.db")
        {
            url if url.starts_with("sqlite://") => {
                let path = url.trim_start_matches("sqlite://");
                if path.is_empty() {
                    return Err(env.problem("DATABASE_URL", "sqlite:// needs a file path"));
                }
                DatabaseUrl::Sqlite(path.to_owned())
            }
            url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                check_postgres_url(url).map_err(|problem| SettingsError {
                    variable: "DATABASE_URL",
                    problem,
                })?;
                DatabaseUrl::Postgres(Secret::new(url))
            }
            _ => {
                return Err(env.problem(
                    "DATABASE_URL",
                    "must start with sqlite://, postgres:// or postgresql://",
                ));
            }
        };
        let log_format = match env.get("LOG_FORMAT").unwrap_or("term") {
            "term" => LogFormat::Term,
            "json" => LogFormat::Json,
            _ => return Err(env.problem("LOG_FORMAT", "must be term or json")),
        };
        let log_level = match env
            .get("LOG_LEVEL")
            .unwrap_or("info")
            .to_ascii_lowercase()
            .as_str()
        {
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
        let default_workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = env.number("WORKERS", default_workers, 1..=usize::MAX)?;
        let max_body_bytes = env.number("MAX_BODY_BYTES", 1_048_576usize, 1024..=usize::MAX)?;
        let body_timeout = env.seconds("BODY_TIMEOUT", 5.0)?;
        if body_timeout.is_zero() {
            return Err(env.problem("BODY_TIMEOUT", "must be more than 0"));
        }
        let body_timeout = env.at_most(
            "BODY_TIMEOUT",
            body_timeout.as_secs_f64(),
            MAX_BODY_TIMEOUT,
            "GitHub sends a body at once",
        )?;
        let max_buffered_bytes = env.number("MAX_BUFFERED_BYTES", 64usize << 20, 0..=usize::MAX)?;
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
        let max_tries = env.number("GITHUB_MAX_TRIES", 10u32, 1..=u32::MAX)?;
        let log_tail_bytes = env.number("LOG_TAIL_BYTES", 256usize << 10, 1024..=64 << 20)?;
        let log_read_max_bytes = env.number("LOG_READ_MAX_BYTES", 64u64 << 20, 0..=u64::MAX)?;
        if log_read_max_bytes < log_tail_bytes as u64 {
            return Err(env.problem("LOG_READ_MAX_BYTES", "must be at least LOG_TAIL_BYTES"));
        }
        let log_read_timeout = env.seconds("LOG_READ_TIMEOUT", 120.0)?;
        if log_read_timeout.is_zero() {
            return Err(env.problem("LOG_READ_TIMEOUT", "must be more than 0"));
        }
        let evidence_timeout = env.seconds("EVIDENCE_TIMEOUT", 300.0)?;
        if evidence_timeout.is_zero() {
            return Err(env.problem("EVIDENCE_TIMEOUT", "must be more than 0"));
        }
        let log_downloads = env.number("LOG_DOWNLOADS", 8usize, 1..=1024)?;
        let storm_window = env.seconds("STORM_WINDOW", 600.0)?;
        if storm_window.is_zero() {
            return Err(env.problem("STORM_WINDOW", "must be more than 0"));
        }
        let storm = crate::storm::StormSettings {
            repos: env.number("STORM_REPOS", 4u32, 0..=100_000)?,
            window_ms: storm_window.as_millis().min(u128::from(u64::MAX)) as u64,
        };
        Ok(Settings {
            rules: env.get("RULES").map(str::to_owned),
            rules_file: env.get("RULES_FILE").map(std::path::PathBuf::from),
            sign_key,
            run_attempts,
            branches,
            no_retry,
            host: env.get("HOST").unwrap_or("0.0.0.0").to_owned(),
            port: env.number("PORT", 5000u16, 0..=u16::MAX)?,
            workers,
            rerun_delay: env.seconds("RERUN_DELAY", 5.0)?,
            database,
            max_body_bytes,
            run_ttl: env.seconds("RUN_TTL", 86_400.0)?,
            claim_lease: env.seconds("CLAIM_LEASE", 60.0)?,
            outbox_poll: env.seconds("OUTBOX_POLL", 1.0)?,
            tracker_idle: env.tracker_idle()?,
            summary_every: env.seconds("SUMMARY_EVERY", 60.0)?,
            backlog_warning: env.number("BACKLOG_WARNING", 1000usize, 0..=usize::MAX)?,
            dry_run: env.flag("DRY_RUN")?,
            status_token,
            log_format,
            body_timeout,
            max_buffered_bytes,
            trust_forwarded_for: env.flag("TRUST_FORWARDED_FOR")?,
            log_level,
            github: GitHubSettings {
                api_url,
                token,
                app,
                report_check_runs,
                public_url,
                min_interval: env.seconds("GITHUB_MIN_INTERVAL", 1.0)?,
                max_tries,
                backoff_base: env.seconds("GITHUB_BACKOFF", 2.0)?,
                backoff_max: env.seconds("GITHUB_BACKOFF_MAX", 300.0)?,
                request_timeout: env.seconds("GITHUB_TIMEOUT", 10.0)?,
                poll_interval: env.seconds("GITHUB_POLL_INTERVAL", 5.0)?,
                poll_tries: env.number("GITHUB_POLL_TRIES", 12u32, 0..=u32::MAX)?,
                secondary_limit_wait: env.seconds("GITHUB_SECONDARY_LIMIT_WAIT", 60.0)?,
                log_tail_bytes,
                log_read_max_bytes,
                log_read_timeout,
                evidence_timeout,
                log_downloads,
            },
            redeliver_every: env.seconds("REDELIVER_EVERY", 600.0)?,
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

    /// Whether events sent by `login` are ignored.
    pub fn is_denied_sender(&self, login: &str) -> bool {
        self.no_retry
            .iter()
            .any(|denied| denied.eq_ignore_ascii_case(login))
    }
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

/// Parses a PostgreSQL URL as the store will, so that a bad one (`?sslmode=bogus`, a
/// host of `[bad`, no database) stops start-up and `check-config` with one line naming
/// the part at fault, rather than failing later. The problem never holds the password.
fn check_postgres_url(url: &str) -> Result<(), String> {
    let config = url.parse::<tokio_postgres::Config>().map_err(|err| {
        // tokio-postgres names the option ("invalid value for option `sslmode`") in the
        // error's source; no version quotes the URL, but one that did must not leak it.
        let cause =
            std::error::Error::source(&err).map_or_else(|| err.to_string(), |c| c.to_string());
        format!(
            "not a valid PostgreSQL URL: {}",
            without_passwords(&cause, url)
        )
    })?;
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        return Err("names no host (postgres://USER:PASSWORD@HOST:PORT/DATABASE)".into());
    }
    if config.get_dbname().is_none_or(str::is_empty) {
        return Err("names no database (postgres://USER:PASSWORD@HOST:PORT/DATABASE)".into());
    }
    Ok(())
}

/// `text` with every password `url` holds (after `user:`, or in `password=`), as written
/// and percent-decoded, replaced by `[redacted]`.
fn without_passwords(text: &str, url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    // tokio-postgres takes the credentials up to the first `@`.
    let from_userinfo = rest
        .split_once('@')
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, password)| password);
    let from_query = rest
        .split_once('?')
        .into_iter()
        .flat_map(|(_, query)| query.split('&'))
        .filter_map(|pair| pair.strip_prefix("password="));
    let mut shown = text.to_owned();
    for password in from_userinfo.into_iter().chain(from_query) {
        let decoded = decode_percent(password);
        for secret in [password, decoded.as_str()] {
            if !secret.is_empty() {
                shown = shown.replace(secret, "[redacted]");
            }
        }
    }
    shown
}

/// `%XX` escapes decoded (as tokio-postgres reads a password); malformed ones kept.
fn decode_percent(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `raw` is written as a whole number (an optional sign, then digits), whatever
/// its size.
fn is_whole_number(raw: &str) -> bool {
    let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The variables being read; an empty value counts as unset.
struct Env(HashMap<String, String>);

impl Env {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn problem(&self, variable: &'static str, problem: &str) -> SettingsError {
        SettingsError {
            variable,
            problem: problem.to_owned(),
        }
    }

    /// A whole number from `range` (the variable's own range, not only its type's): a
    /// value outside it, however large or negative, is "out of range" and the message
    /// gives the range; only text that is no whole number at all is "not a whole number".
    fn number<T>(
        &self,
        name: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, SettingsError>
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        let out_of_range = || SettingsError {
            variable: name,
            problem: format!(
                "{raw} is out of range: {name} takes {} to {}",
                range.start(),
                range.end()
            ),
        };
        match raw.parse::<T>() {
            Ok(value) if range.contains(&value) => Ok(value),
            Ok(_) => Err(out_of_range()),
            // Digits that do not fit the type (`99999` for a port, `-1`) are out of range
            // too; anything else is not a number.
            Err(_) if is_whole_number(raw) => Err(out_of_range()),
            Err(_) => Err(SettingsError {
                variable: name,
                problem: format!("{raw:?} is not a whole number"),
            }),
        }
    }

    fn flag(&self, name: &'static str) -> Result<bool, SettingsError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0" | "no" | "off") => Ok(false),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some(other) => Err(SettingsError {
                variable: name,
                problem: format!("{other:?} is not true or false"),
            }),
        }
    }

    /// `TRACKER_IDLE`, or `TRACKER_LINGER` (its name before trackers slept with their
    /// runs unfinished) when only that is set, so that existing deployments keep theirs.
    fn tracker_idle(&self) -> Result<Duration, SettingsError> {
        match (self.get("TRACKER_IDLE"), self.get("TRACKER_LINGER")) {
            (None, Some(_)) => self.seconds("TRACKER_LINGER", 30.0),
            _ => self.seconds("TRACKER_IDLE", 30.0),
        }
    }

    fn seconds(&self, name: &'static str, default: f64) -> Result<Duration, SettingsError> {
        let value = match self.get(name) {
            None => default,
            Some(raw) => raw.parse::<f64>().map_err(|_| SettingsError {
                variable: name,
                problem: format!(
                    "{raw:?} is not a number of seconds; write one without a unit, such as {name}=5 or {name}=0.25"
                ),
            })?,
        };
        self.at_most(name, value, MAX_DURATION, "30 days")
    }

    /// `value` seconds as a duration, refused above `bound` (checked before the
    /// conversion, which itself refuses only what does not fit a `Duration`).
    fn at_most(
        &self,
        name: &'static str,
        value: f64,
        bound: Duration,
        bound_text: &str,
    ) -> Result<Duration, SettingsError> {
        if value > bound.as_secs_f64() {
            return Err(SettingsError {
                variable: name,
                problem: format!(
                    "{value} seconds is too long: at most {} ({bound_text})",
                    bound.as_secs()
                ),
            });
        }
        Duration::try_from_secs_f64(value).map_err(|_| SettingsError {
            variable: name,
            problem: format!("{value} is not a non-negative number of seconds"),
        })
    }

    /// A comma-separated list; `None` when unset. Logins compare case-insensitively on GitHub.
    fn list(&self, name: &str, lowercase: bool) -> Option<Vec<String>> {
        self.get(name).map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| {
                    if lowercase {
                        item.to_ascii_lowercase()
                    } else {
                        item.to_owned()
                    }
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests;
