//! Every variable the service reads, once: its name, its kind (with its typed default
//! and, for a number, its range), what it means and how its current value is shown
//! (secrets redacted). `--help` and `check-config` come from it, docs/configuration.md's
//! table is tested to be it, and `Settings::from_vars` reads each number and duration
//! by its entry here (`env.count("PORT")`), so no default or range is written twice.

use std::time::Duration;

use super::kind::{Count, Kind, Seconds, seconds_text};
use super::{BranchFilter, LogFormat, MAX_BODY_TIMEOUT, Secret, Settings};

/// One variable.
pub struct Variable {
    /// Its name in the environment.
    pub name: &'static str,
    /// What it takes, and what it is when unset.
    pub kind: Kind,
    /// What it means, in one line.
    pub help: &'static str,
    /// Its current value as `check-config` shows it (secrets redacted).
    pub show: fn(&Settings) -> String,
}

impl Variable {
    /// Its default, as `--help` and the documentation show it: the typed default's
    /// number where it has one, else what being unset means.
    pub fn default(&self) -> String {
        self.kind.shown_default()
    }
}

/// The entry of `name`. A variable is declared here before it is read: reading an
/// undeclared one is a mistake in the code, met by the first test that reads settings.
pub fn declared(name: &str) -> &'static Variable {
    VARIABLES
        .iter()
        .find(|variable| variable.name == name)
        .unwrap_or_else(|| panic!("{name} is read but not declared in settings::catalog"))
}

/// `WORKERS`' default: the CPUs this process may use (2 when that cannot be told).
fn cores() -> u64 {
    std::thread::available_parallelism().map_or(2, |n| n.get() as u64)
}

/// Every variable, in the order `--help` and `check-config` list them.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "GITHUB_SIGN_KEY",
        kind: Kind::Required,
        help: "webhook secret; deliveries must carry X-Hub-Signature-256",
        show: |_| "[redacted]".into(),
    },
    Variable {
        name: "GITHUB_TOKEN",
        kind: Kind::Optional { unset: "unset" },
        help: "token used to re-run (classic: repo scope; fine-grained: Actions read and write); unset: re-runs are refused",
        show: |s| secret(&s.github.token),
    },
    Variable {
        name: "GITHUB_APP_ID",
        kind: Kind::Optional { unset: "unset" },
        help: "the GitHub App's id (App settings, About); with a private key, runs of the App's installations are re-run with installation tokens",
        show: |s| {
            s.github
                .app
                .as_ref()
                .map_or_else(|| "unset".into(), |app| app.id.to_string())
        },
    },
    Variable {
        name: "GITHUB_APP_PRIVATE_KEY",
        kind: Kind::Optional { unset: "unset" },
        help: "the App's private key, PEM text (a literal \\n is taken as a line break); not with GITHUB_APP_PRIVATE_KEY_FILE",
        show: |s| match &s.github.app {
            Some(app) if app.key_file.is_none() => "[redacted]".into(),
            _ => "unset".into(),
        },
    },
    Variable {
        name: "GITHUB_APP_PRIVATE_KEY_FILE",
        kind: Kind::Optional { unset: "unset" },
        help: "path to the App's private key (.pem: a regular file of at most 16 KB); not with GITHUB_APP_PRIVATE_KEY",
        show: |s| {
            s.github
                .app
                .as_ref()
                .and_then(|app| app.key_file.as_ref())
                .map_or_else(|| "unset".into(), |path| path.display().to_string())
        },
    },
    Variable {
        name: "REPORT",
        kind: Kind::Optional {
            unset: "check_run with the App, else off",
        },
        help: "check_run: each automatic re-run decision (started, skipped) on a run of an App installation becomes a check run named job-rerunner on its commit; off: none",
        show: |s| {
            if s.github.report_check_runs {
                "check_run"
            } else {
                "off"
            }
            .into()
        },
    },
    Variable {
        name: "PUBLIC_URL",
        kind: Kind::Optional { unset: "unset" },
        help: "the service's URL as people reach it (https://HOST[/PATH], no user:password, query or fragment); the check runs link to PUBLIC_URL/status",
        show: |s| {
            s.github
                .public_url
                .as_deref()
                .map_or_else(|| "unset".into(), crate::redact::url)
        },
    },
    Variable {
        name: "RUN_ATTEMPTS",
        kind: Kind::Count(Count::new(4, 2, 51).because(
            "it counts the first attempt too: 1 would never re-run",
            "GitHub refuses more than 50 re-runs of one run",
        )),
        help: "events with run_attempt >= RUN_ATTEMPTS are ignored (at most RUN_ATTEMPTS-1 re-runs; 2 to 51)",
        show: |s| s.run_attempts.to_string(),
    },
    Variable {
        name: "REPO_BRANCHES",
        kind: Kind::Text { default: "master" },
        help: "comma-separated branches whose runs are re-run; * for every branch",
        show: |s| match &s.branches {
            BranchFilter::Any => "*".into(),
            BranchFilter::Only(names) => names.join(","),
        },
    },
    Variable {
        name: "NO_RETRY_LIST",
        kind: Kind::Optional { unset: "empty" },
        help: "comma-separated GitHub logins whose events are ignored",
        show: |s| s.no_retry.join(","),
    },
    Variable {
        name: "PORT",
        kind: Kind::Count(Count::new(5000, 0, u16::MAX as u64)),
        help: "listening port",
        show: |s| s.port.to_string(),
    },
    Variable {
        name: "HOST",
        kind: Kind::Text { default: "0.0.0.0" },
        help: "listening address",
        show: |s| s.host.clone(),
    },
    Variable {
        name: "WORKERS",
        kind: Kind::Count(Count::found("CPU cores", cores, 1, usize::MAX as u64)),
        help: "HTTP worker threads",
        show: |s| s.workers.to_string(),
    },
    Variable {
        name: "GITHUB_API_URL",
        kind: Kind::Text {
            default: "https://api.github.com",
        },
        help: "API base (GitHub Enterprise Server: https://HOST/api/v3)",
        show: |s| crate::redact::url(&s.github.api_url),
    },
    Variable {
        name: "RERUN_DELAY",
        kind: Kind::Seconds(Seconds::new(5)),
        help: "seconds between a run's last completion and the re-run call",
        show: |s| seconds_text(s.rerun_delay),
    },
    Variable {
        name: "DATABASE_URL",
        kind: Kind::Text {
            default: "sqlite://db/job-rerunner.db",
        },
        help: "where tracked runs live: sqlite://PATH, or postgres://… to share them between instances",
        show: |s| s.database.describe(),
    },
    Variable {
        name: "MAX_BODY_BYTES",
        kind: Kind::Count(Count::new(1_048_576, 1024, usize::MAX as u64)),
        help: "largest webhook body accepted (413 above)",
        show: |s| s.max_body_bytes.to_string(),
    },
    Variable {
        name: "RUN_TTL",
        kind: Kind::Seconds(Seconds::new(86_400)),
        help: "seconds without events after which an unfinished run is forgotten",
        show: |s| seconds_text(s.run_ttl),
    },
    Variable {
        name: "TRACKER_IDLE",
        kind: Kind::Seconds(Seconds::new(30)),
        help: "seconds a quiet run's tracker stays in memory before it sleeps (the run stays in the store; its next event or due re-run wakes it); TRACKER_LINGER is its former name",
        show: |s| seconds_text(s.tracker_idle),
    },
    Variable {
        name: "CLAIM_LEASE",
        kind: Kind::Seconds(Seconds::new(60)),
        help: "seconds an instance's claim on a due re-run holds; another instance takes it over after",
        show: |s| seconds_text(s.claim_lease),
    },
    Variable {
        name: "OUTBOX_POLL",
        kind: Kind::Seconds(Seconds::new(1)),
        help: "seconds between looks in the store for due re-runs (after a restart, or left by a dead instance)",
        show: |s| seconds_text(s.outbox_poll),
    },
    Variable {
        name: "GITHUB_MIN_INTERVAL",
        kind: Kind::Seconds(Seconds::new(1)),
        help: "least seconds between two POSTs to the GitHub API made with the same credential (the token, or one App installation); the App's installation token requests, all installations together, are as far apart",
        show: |s| seconds_text(s.github.min_interval),
    },
    Variable {
        name: "GITHUB_MAX_TRIES",
        kind: Kind::Count(Count::new(10, 1, u32::MAX as u64)),
        help: "tries per re-run on transient errors (5xx, timeouts) before giving up",
        show: |s| s.github.max_tries.to_string(),
    },
    Variable {
        name: "GITHUB_BACKOFF",
        kind: Kind::Seconds(Seconds::new(2)),
        help: "first back-off in seconds after a transient error; doubles each try",
        show: |s| seconds_text(s.github.backoff_base),
    },
    Variable {
        name: "GITHUB_BACKOFF_MAX",
        kind: Kind::Seconds(Seconds::new(300)),
        help: "longest back-off in seconds",
        show: |s| seconds_text(s.github.backoff_max),
    },
    Variable {
        name: "GITHUB_TIMEOUT",
        kind: Kind::Seconds(Seconds::new(10)),
        help: "seconds one GitHub API request may take",
        show: |s| seconds_text(s.github.request_timeout),
    },
    Variable {
        name: "GITHUB_POLL_INTERVAL",
        kind: Kind::Seconds(Seconds::new(5)),
        help: "seconds before looking again at a run GitHub still shows in progress",
        show: |s| seconds_text(s.github.poll_interval),
    },
    Variable {
        name: "GITHUB_POLL_TRIES",
        kind: Kind::Count(Count::new(12, 0, u32::MAX as u64)),
        help: "looks at a still-running run before giving up on it",
        show: |s| s.github.poll_tries.to_string(),
    },
    Variable {
        name: "GITHUB_SECONDARY_LIMIT_WAIT",
        kind: Kind::Seconds(Seconds::new(60)),
        help: "least seconds to pause on a rate limit that names no reset time",
        show: |s| seconds_text(s.github.secondary_limit_wait),
    },
    Variable {
        name: "LOG_TAIL_BYTES",
        kind: Kind::Count(Count::new(256 << 10, 1024, 64 << 20)),
        help: "bytes kept of the end of a failed job's log, for the policy's patterns (1024 to 67108864)",
        show: |s| s.github.log_tail_bytes.to_string(),
    },
    Variable {
        name: "LOG_READ_MAX_BYTES",
        kind: Kind::Count(Count::new(64 << 20, 0, u64::MAX)),
        help: "most bytes of one job's log read; the tail of what was read is used (at least LOG_TAIL_BYTES)",
        show: |s| s.github.log_read_max_bytes.to_string(),
    },
    Variable {
        name: "LOG_READ_TIMEOUT",
        kind: Kind::Seconds(Seconds::new(120).positive()),
        help: "seconds one job log download may take, body included",
        show: |s| seconds_text(s.github.log_read_timeout),
    },
    Variable {
        name: "EVIDENCE_TIMEOUT",
        kind: Kind::Seconds(Seconds::new(300).positive()),
        help: "seconds one run's evidence (its failed jobs' annotations and logs) may take in all; what is not read by then is unavailable",
        show: |s| seconds_text(s.github.evidence_timeout),
    },
    Variable {
        name: "LOG_DOWNLOADS",
        kind: Kind::Count(Count::new(8, 1, 1024)),
        help: "job log downloads in flight at once, all runs and credentials together (1 to 1024)",
        show: |s| s.github.log_downloads.to_string(),
    },
    Variable {
        name: "SUMMARY_EVERY",
        kind: Kind::Seconds(Seconds::new(60)),
        help: "seconds between two mailbox summary log lines",
        show: |s| seconds_text(s.summary_every),
    },
    Variable {
        name: "BACKLOG_WARNING",
        kind: Kind::Count(Count::new(1000, 0, usize::MAX as u64)),
        help: "waiting messages (tracker mailboxes or GitHub queue) above which a warning is logged",
        show: |s| s.backlog_warning.to_string(),
    },
    Variable {
        name: "DRY_RUN",
        kind: Kind::Flag { default: false },
        help: "true: decide and log everything, never call the re-run endpoint",
        show: |s| s.dry_run.to_string(),
    },
    Variable {
        name: "STATUS_TOKEN",
        kind: Kind::Optional { unset: "unset" },
        help: "token (at least 16 characters) for /status and /api/… (bearer, or basic-auth password); unset: they are off",
        show: |s| secret(&s.status_token),
    },
    Variable {
        name: "LOG_FORMAT",
        kind: Kind::Text { default: "term" },
        help: "term (people) or json (one object a line)",
        show: |s| match s.logging.format {
            LogFormat::Term => "term".into(),
            LogFormat::Json => "json".into(),
        },
    },
    Variable {
        name: "LOG_LEVEL",
        kind: Kind::Text { default: "info" },
        help: "trace, debug, info, warning, error or critical",
        show: |s| s.logging.level.as_str().to_ascii_lowercase(),
    },
    Variable {
        name: "BODY_TIMEOUT",
        kind: Kind::Seconds(
            Seconds::new(5)
                .positive()
                .at_most(MAX_BODY_TIMEOUT, "GitHub sends a body at once"),
        ),
        help: "seconds (at most 300) a webhook body may take to arrive after its headers (408 after)",
        show: |s| seconds_text(s.body_timeout),
    },
    Variable {
        name: "MAX_BUFFERED_BYTES",
        kind: Kind::Count(Count::new(64 << 20, 0, usize::MAX as u64)),
        help: "most webhook body bytes held at once, all connections together (503 with Retry-After above); at least MAX_BODY_BYTES",
        show: |s| s.max_buffered_bytes.to_string(),
    },
    Variable {
        name: "TRUST_FORWARDED_FOR",
        kind: Kind::Flag { default: false },
        help: "true behind one reverse proxy that sets X-Forwarded-For (Dokku's nginx): the status page's failure limit counts per its last address",
        show: |s| s.trust_forwarded_for.to_string(),
    },
    Variable {
        name: "RULES",
        kind: Kind::Optional { unset: "unset" },
        help: "the re-run policy itself, TOML (docs/policy.md); not with RULES_FILE",
        show: |s| match &s.rules {
            Some(text) => {
                format!("set ({} bytes; the policy is printed below)", text.len())
            }
            None => "unset".into(),
        },
    },
    Variable {
        name: "RULES_FILE",
        kind: Kind::Optional { unset: "unset" },
        help: "path to the re-run policy's TOML file, read again on SIGHUP; not with RULES",
        show: |s| {
            s.rules_file
                .as_ref()
                .map_or_else(|| "unset".into(), |path| path.display().to_string())
        },
    },
    Variable {
        name: "REDELIVER_EVERY",
        kind: Kind::Seconds(Seconds::new(600)),
        help: "seconds between two looks for deliveries GitHub failed to make, which it is asked to redeliver (GitHub App only); 0: off",
        show: |s| seconds_text(s.redeliver_every),
    },
    Variable {
        name: "STORM_REPOS",
        kind: Kind::Count(Count::new(4, 0, 100_000)),
        help: "repositories failing with the same transient error within STORM_WINDOW that make a storm: their re-runs are held until it is over, then released a few at a time; 0: off",
        show: |s| s.storm.repos.to_string(),
    },
    Variable {
        name: "STORM_WINDOW",
        kind: Kind::Seconds(Seconds::new(600).positive()),
        help: "seconds a storm looks back; a held re-run looks again every half of it, and held re-runs are released one every sixtieth of it",
        show: |s| seconds_text(Duration::from_millis(s.storm.window_ms)),
    },
];

fn secret(value: &Option<Secret>) -> String {
    if value.is_some() {
        "[redacted]".to_owned()
    } else {
        "unset".to_owned()
    }
}
