//! Every variable the service reads, once: its name, its default, what it means and
//! how its current value is shown (secrets redacted). `--help` and `check-config` come
//! from it, and docs/configuration.md's table is tested to be it; `Settings::from_vars`
//! reads each variable, typed and checked.

use std::time::Duration;

use super::{BranchFilter, LogFormat, Secret, Settings};

/// One variable.
pub struct Variable {
    /// Its name in the environment.
    pub name: &'static str,
    /// Its default, as `--help` shows it.
    pub default: &'static str,
    /// What it means, in one line.
    pub help: &'static str,
    /// Its current value as `check-config` shows it (secrets redacted).
    pub show: fn(&Settings) -> String,
}

/// Every variable, in the order `--help` and `check-config` list them.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "GITHUB_SIGN_KEY",
        default: "required",
        help: "webhook secret; deliveries must carry X-Hub-Signature-256",
        show: |_| "[redacted]".into(),
    },
    Variable {
        name: "GITHUB_TOKEN",
        default: "unset",
        help: "token used to re-run (classic: repo scope; fine-grained: Actions read and write); unset: re-runs are refused",
        show: |s| secret(&s.github.token),
    },
    Variable {
        name: "GITHUB_APP_ID",
        default: "unset",
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
        default: "unset",
        help: "the App's private key, PEM text (a literal \\n is taken as a line break); not with GITHUB_APP_PRIVATE_KEY_FILE",
        show: |s| match &s.github.app {
            Some(app) if app.key_file.is_none() => "[redacted]".into(),
            _ => "unset".into(),
        },
    },
    Variable {
        name: "GITHUB_APP_PRIVATE_KEY_FILE",
        default: "unset",
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
        default: "check_run with the App, else off",
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
        default: "unset",
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
        default: "4",
        help: "events with run_attempt >= RUN_ATTEMPTS are ignored (at most RUN_ATTEMPTS-1 re-runs; 2 to 51)",
        show: |s| s.run_attempts.to_string(),
    },
    Variable {
        name: "REPO_BRANCHES",
        default: "master",
        help: "comma-separated branches whose runs are re-run; * for every branch",
        show: |s| match &s.branches {
            BranchFilter::Any => "*".into(),
            BranchFilter::Only(names) => names.join(","),
        },
    },
    Variable {
        name: "NO_RETRY_LIST",
        default: "empty",
        help: "comma-separated GitHub logins whose events are ignored",
        show: |s| s.no_retry.join(","),
    },
    Variable {
        name: "PORT",
        default: "5000",
        help: "listening port",
        show: |s| s.port.to_string(),
    },
    Variable {
        name: "HOST",
        default: "0.0.0.0",
        help: "listening address",
        show: |s| s.host.clone(),
    },
    Variable {
        name: "WORKERS",
        default: "CPU cores",
        help: "HTTP worker threads",
        show: |s| s.workers.to_string(),
    },
    Variable {
        name: "GITHUB_API_URL",
        default: "https://api.github.com",
        help: "API base (GitHub Enterprise Server: https://HOST/api/v3)",
        show: |s| crate::redact::url(&s.github.api_url),
    },
    Variable {
        name: "RERUN_DELAY",
        default: "5",
        help: "seconds between a run's last completion and the re-run call",
        show: |s| seconds(s.rerun_delay),
    },
    Variable {
        name: "DATABASE_URL",
        default: "sqlite://db/job-rerunner.db",
        help: "where tracked runs live: sqlite://PATH, or postgres://… to share them between instances",
        show: |s| s.database.describe(),
    },
    Variable {
        name: "MAX_BODY_BYTES",
        default: "1048576",
        help: "largest webhook body accepted (413 above)",
        show: |s| s.max_body_bytes.to_string(),
    },
    Variable {
        name: "RUN_TTL",
        default: "86400",
        help: "seconds without events after which an unfinished run is forgotten",
        show: |s| seconds(s.run_ttl),
    },
    Variable {
        name: "TRACKER_IDLE",
        default: "30",
        help: "seconds a quiet run's tracker stays in memory before it sleeps (the run stays in the store; its next event or due re-run wakes it); TRACKER_LINGER is its former name",
        show: |s| seconds(s.tracker_idle),
    },
    Variable {
        name: "CLAIM_LEASE",
        default: "60",
        help: "seconds an instance's claim on a due re-run holds; another instance takes it over after",
        show: |s| seconds(s.claim_lease),
    },
    Variable {
        name: "OUTBOX_POLL",
        default: "1",
        help: "seconds between looks in the store for due re-runs (after a restart, or left by a dead instance)",
        show: |s| seconds(s.outbox_poll),
    },
    Variable {
        name: "GITHUB_MIN_INTERVAL",
        default: "1",
        help: "least seconds between two POSTs to the GitHub API made with the same credential (the token, or one App installation); the App's installation token requests, all installations together, are as far apart",
        show: |s| seconds(s.github.min_interval),
    },
    Variable {
        name: "GITHUB_MAX_TRIES",
        default: "10",
        help: "tries per re-run on transient errors (5xx, timeouts) before giving up",
        show: |s| s.github.max_tries.to_string(),
    },
    Variable {
        name: "GITHUB_BACKOFF",
        default: "2",
        help: "first back-off in seconds after a transient error; doubles each try",
        show: |s| seconds(s.github.backoff_base),
    },
    Variable {
        name: "GITHUB_BACKOFF_MAX",
        default: "300",
        help: "longest back-off in seconds",
        show: |s| seconds(s.github.backoff_max),
    },
    Variable {
        name: "GITHUB_TIMEOUT",
        default: "10",
        help: "seconds one GitHub API request may take",
        show: |s| seconds(s.github.request_timeout),
    },
    Variable {
        name: "GITHUB_POLL_INTERVAL",
        default: "5",
        help: "seconds before looking again at a run GitHub still shows in progress",
        show: |s| seconds(s.github.poll_interval),
    },
    Variable {
        name: "GITHUB_POLL_TRIES",
        default: "12",
        help: "looks at a still-running run before giving up on it",
        show: |s| s.github.poll_tries.to_string(),
    },
    Variable {
        name: "GITHUB_SECONDARY_LIMIT_WAIT",
        default: "60",
        help: "least seconds to pause on a rate limit that names no reset time",
        show: |s| seconds(s.github.secondary_limit_wait),
    },
    Variable {
        name: "LOG_TAIL_BYTES",
        default: "262144",
        help: "bytes kept of the end of a failed job's log, for the policy's patterns (1024 to 67108864)",
        show: |s| s.github.log_tail_bytes.to_string(),
    },
    Variable {
        name: "LOG_READ_MAX_BYTES",
        default: "67108864",
        help: "most bytes of one job's log read; the tail of what was read is used (at least LOG_TAIL_BYTES)",
        show: |s| s.github.log_read_max_bytes.to_string(),
    },
    Variable {
        name: "LOG_READ_TIMEOUT",
        default: "120",
        help: "seconds one job log download may take, body included",
        show: |s| seconds(s.github.log_read_timeout),
    },
    Variable {
        name: "EVIDENCE_TIMEOUT",
        default: "300",
        help: "seconds one run's evidence (its failed jobs' annotations and logs) may take in all; what is not read by then is unavailable",
        show: |s| seconds(s.github.evidence_timeout),
    },
    Variable {
        name: "LOG_DOWNLOADS",
        default: "8",
        help: "job log downloads in flight at once, all runs and credentials together (1 to 1024)",
        show: |s| s.github.log_downloads.to_string(),
    },
    Variable {
        name: "SUMMARY_EVERY",
        default: "60",
        help: "seconds between two mailbox summary log lines",
        show: |s| seconds(s.summary_every),
    },
    Variable {
        name: "BACKLOG_WARNING",
        default: "1000",
        help: "waiting messages (tracker mailboxes or GitHub queue) above which a warning is logged",
        show: |s| s.backlog_warning.to_string(),
    },
    Variable {
        name: "DRY_RUN",
        default: "false",
        help: "true: decide and log everything, never call the re-run endpoint",
        show: |s| s.dry_run.to_string(),
    },
    Variable {
        name: "STATUS_TOKEN",
        default: "unset",
        help: "token (at least 16 characters) for /status and /api/… (bearer, or basic-auth password); unset: they are off",
        show: |s| secret(&s.status_token),
    },
    Variable {
        name: "LOG_FORMAT",
        default: "term",
        help: "term (people) or json (one object a line)",
        show: |s| match s.log_format {
            LogFormat::Term => "term".into(),
            LogFormat::Json => "json".into(),
        },
    },
    Variable {
        name: "LOG_LEVEL",
        default: "info",
        help: "trace, debug, info, warning, error or critical",
        show: |s| s.log_level.as_str().to_ascii_lowercase(),
    },
    Variable {
        name: "BODY_TIMEOUT",
        default: "5",
        help: "seconds (at most 300) a webhook body may take to arrive after its headers (408 after)",
        show: |s| seconds(s.body_timeout),
    },
    Variable {
        name: "MAX_BUFFERED_BYTES",
        default: "67108864",
        help: "most webhook body bytes held at once, all connections together (503 with Retry-After above); at least MAX_BODY_BYTES",
        show: |s| s.max_buffered_bytes.to_string(),
    },
    Variable {
        name: "TRUST_FORWARDED_FOR",
        default: "false",
        help: "true behind one reverse proxy that sets X-Forwarded-For (Dokku's nginx): the status page's failure limit counts per its last address",
        show: |s| s.trust_forwarded_for.to_string(),
    },
    Variable {
        name: "RULES",
        default: "unset",
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
        default: "unset",
        help: "path to the re-run policy's TOML file, read again on SIGHUP; not with RULES",
        show: |s| {
            s.rules_file
                .as_ref()
                .map_or_else(|| "unset".into(), |path| path.display().to_string())
        },
    },
    Variable {
        name: "REDELIVER_EVERY",
        default: "600",
        help: "seconds between two looks for deliveries GitHub failed to make, which it is asked to redeliver (GitHub App only); 0: off",
        show: |s| seconds(s.redeliver_every),
    },
    Variable {
        name: "STORM_REPOS",
        default: "4",
        help: "repositories failing with the same transient error within STORM_WINDOW that make a storm: their re-runs are held until it is over, then released a few at a time; 0: off",
        show: |s| s.storm.repos.to_string(),
    },
    Variable {
        name: "STORM_WINDOW",
        default: "600",
        help: "seconds a storm looks back; a held re-run looks again every half of it, and held re-runs are released one every sixtieth of it",
        show: |s| seconds(Duration::from_millis(s.storm.window_ms)),
    },
];

fn seconds(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

fn secret(value: &Option<Secret>) -> String {
    if value.is_some() {
        "[redacted]".to_owned()
    } else {
        "unset".to_owned()
    }
}
