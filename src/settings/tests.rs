use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_match_the_old_service() {
    let settings = Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k")])).expect("valid");
    assert_eq!(settings.run_attempts, 4);
    assert_eq!(settings.branches, BranchFilter::Only(vec!["master".into()]));
    assert!(settings.no_retry.is_empty());
    assert_eq!(settings.port, 5000);
    assert_eq!(settings.rerun_delay, Duration::from_secs(5));
    assert_eq!(
        settings.database,
        DatabaseUrl::Sqlite("db/job-rerunner.db".into())
    );
    assert_eq!(settings.github.api_url, "https://api.github.com");
    assert_eq!(settings.logging.format, LogFormat::Term);
    assert!(settings.github.token.is_none());
}

#[test]
fn a_missing_sign_key_names_the_variable() {
    let err = Settings::from_vars(vars(&[])).expect_err("must fail");
    assert_eq!(err.variable, "GITHUB_SIGN_KEY");
}

#[test]
fn a_non_numeric_run_attempts_names_the_variable() {
    let err = Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), ("RUN_ATTEMPTS", "abc")]))
        .expect_err("must fail");
    assert_eq!(err.variable, "RUN_ATTEMPTS");
    assert!(err.to_string().starts_with("RUN_ATTEMPTS: "), "{err}");
}

#[test]
fn bad_values_name_their_variable() {
    for (name, value) in [
        ("PORT", "70000"),
        ("RERUN_DELAY", "-1"),
        ("RERUN_DELAY", "soon"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "loud"),
        ("GITHUB_API_URL", "api.github.com"),
        ("DATABASE_URL", "mysql://x"),
        ("REPO_BRANCHES", " , "),
        ("WORKERS", "0"),
    ] {
        let err =
            Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), (name, value)])).expect_err(name);
        assert_eq!(err.variable, name, "{name}={value}");
    }
}

#[test]
fn the_log_limits_default_to_256_kib_and_64_mib_and_refuse_a_tail_above_the_cap() {
    let settings = Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k")])).expect("valid");
    assert_eq!(settings.github.log_tail_bytes, 262_144);
    assert_eq!(settings.github.log_read_max_bytes, 67_108_864);
    assert_eq!(settings.github.log_read_timeout, Duration::from_secs(120));
    for (pairs, variable) in [
        (&[("LOG_TAIL_BYTES", "100")][..], "LOG_TAIL_BYTES"),
        (&[("LOG_TAIL_BYTES", "67108865")][..], "LOG_TAIL_BYTES"),
        (
            &[("LOG_TAIL_BYTES", "8192"), ("LOG_READ_MAX_BYTES", "4096")][..],
            "LOG_READ_MAX_BYTES",
        ),
        (&[("LOG_READ_MAX_BYTES", "lots")][..], "LOG_READ_MAX_BYTES"),
        (&[("LOG_READ_TIMEOUT", "0")][..], "LOG_READ_TIMEOUT"),
    ] {
        let mut all = vec![("GITHUB_SIGN_KEY", "k")];
        all.extend_from_slice(pairs);
        let err = Settings::from_vars(vars(&all)).expect_err(variable);
        assert_eq!(err.variable, variable, "{pairs:?}");
    }
}

#[test]
fn lists_are_trimmed_and_logins_compare_case_insensitively() {
    let settings = Settings::from_vars(vars(&[
        ("GITHUB_SIGN_KEY", "k"),
        ("REPO_BRANCHES", "master, main ,release/2.x"),
        ("NO_RETRY_LIST", "Bot-One, someone"),
        ("RERUN_DELAY", "0.25"),
    ]))
    .expect("valid");
    assert!(settings.branches.allows("main"));
    assert!(settings.branches.allows("release/2.x"));
    assert!(!settings.branches.allows("feature"));
    let door = settings.door();
    assert!(door.is_denied_sender("bot-one"));
    assert!(door.is_denied_sender("SOMEONE"));
    assert!(!door.is_denied_sender("other"));
    assert_eq!(settings.rerun_delay, Duration::from_millis(250));
}

#[test]
fn a_postgres_url_is_taken_as_dokku_sets_it_and_logged_without_its_password() {
    let url = "postgres://postgres:s3cret@dokku-postgres-rerunner:5432/rerunner?password=s3cret";
    let settings = Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), ("DATABASE_URL", url)]))
        .expect("valid");
    assert_eq!(settings.database, DatabaseUrl::Postgres(Secret::new(url)));
    let shown = settings.database.describe();
    assert_eq!(
        shown,
        "postgres://postgres@dokku-postgres-rerunner:5432/rerunner"
    );
    assert!(!format!("{settings:?}").contains("s3cret"));
}

#[test]
fn the_effective_configuration_names_every_variable_and_hides_secrets() {
    let settings = Settings::from_vars(vars(&[
        ("GITHUB_SIGN_KEY", "sign-key-value"),
        ("GITHUB_TOKEN", "token-value"),
        ("STATUS_TOKEN", "status-value-of-16-chars"),
        ("DRY_RUN", "yes"),
    ]))
    .expect("valid");
    let effective = settings.effective();
    assert_eq!(effective.len(), VARIABLES.len());
    assert!(
        effective.iter().all(|(_, value)| value != "?"),
        "{effective:?}"
    );
    let shown = format!("{effective:?}");
    for secret in ["sign-key-value", "token-value", "status-value-of-16-chars"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(effective.contains(&("DRY_RUN", "true".to_owned())));
}

const TEST_KEY: &str = include_str!("../../tests/fixtures/github-app-test-key.pem");

#[test]
fn the_app_is_read_from_its_id_and_key_inline_or_from_a_file() {
    let inline = Settings::from_vars(vars(&[
        ("GITHUB_SIGN_KEY", "k"),
        ("GITHUB_APP_ID", "123"),
        ("GITHUB_APP_PRIVATE_KEY", &TEST_KEY.replace('\n', "\\n")),
    ]))
    .expect("valid");
    assert_eq!(inline.github.app.as_ref().map(|app| app.id), Some(123));
    let effective = inline.effective();
    assert!(effective.contains(&("GITHUB_APP_PRIVATE_KEY", "[redacted]".to_owned())));
    assert!(!format!("{effective:?}{inline:?}").contains("BEGIN"));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("app.pem");
    std::fs::write(&file, TEST_KEY).expect("written");
    let from_file = Settings::from_vars(vars(&[
        ("GITHUB_SIGN_KEY", "k"),
        ("GITHUB_APP_ID", "123"),
        ("GITHUB_APP_PRIVATE_KEY_FILE", &file.display().to_string()),
    ]))
    .expect("valid");
    let app = from_file.github.app.expect("the App");
    assert_eq!(app.key_file.as_deref(), Some(file.as_path()));
}

#[test]
fn a_bad_or_missing_app_key_names_its_variable_and_never_quotes_it() {
    let garbage =
        "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWtleS10ZXh0\n-----END RSA PRIVATE KEY-----";
    for (pairs, variable) in [
        (
            &[("GITHUB_APP_ID", "1"), ("GITHUB_APP_PRIVATE_KEY", garbage)][..],
            "GITHUB_APP_PRIVATE_KEY",
        ),
        (&[("GITHUB_APP_ID", "1")][..], "GITHUB_APP_PRIVATE_KEY"),
        (
            &[("GITHUB_APP_PRIVATE_KEY", TEST_KEY)][..],
            "GITHUB_APP_PRIVATE_KEY",
        ),
        (
            &[
                ("GITHUB_APP_ID", "app"),
                ("GITHUB_APP_PRIVATE_KEY", TEST_KEY),
            ][..],
            "GITHUB_APP_ID",
        ),
        (
            &[
                ("GITHUB_APP_ID", "1"),
                ("GITHUB_APP_PRIVATE_KEY_FILE", "/nonexistent/app.pem"),
            ][..],
            "GITHUB_APP_PRIVATE_KEY_FILE",
        ),
        (
            &[
                ("GITHUB_APP_ID", "1"),
                ("GITHUB_APP_PRIVATE_KEY", TEST_KEY),
                ("GITHUB_APP_PRIVATE_KEY_FILE", "/x"),
            ][..],
            "GITHUB_APP_PRIVATE_KEY",
        ),
    ] {
        let mut all = vec![("GITHUB_SIGN_KEY", "k")];
        all.extend_from_slice(pairs);
        let err = Settings::from_vars(vars(&all)).expect_err(variable);
        assert_eq!(err.variable, variable, "{pairs:?}");
        let shown = err.to_string();
        assert!(
            !shown.contains("c2VjcmV0") && !shown.contains("MII"),
            "{shown}"
        );
        assert_eq!(shown.lines().count(), 1, "{shown}");
    }
}

#[test]
fn a_star_allows_every_branch() {
    let settings = Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), ("REPO_BRANCHES", "*")]))
        .expect("valid");
    assert!(settings.branches.allows("anything"));
}

#[test]
fn secrets_never_show_in_debug_output() {
    let settings = Settings::from_vars(vars(&[
        ("GITHUB_SIGN_KEY", "sign-key-value"),
        ("GITHUB_TOKEN", "token-value"),
    ]))
    .expect("valid");
    let shown = format!("{settings:?}");
    assert!(
        !shown.contains("sign-key-value") && !shown.contains("token-value"),
        "{shown}"
    );
    assert!(shown.contains("[redacted]"));
}

#[test]
fn a_malformed_postgres_url_names_the_part_at_fault() {
    for (url, part) in [
        ("postgres://u:pw@h/db?sslmode=bogus", "`sslmode`"),
        (
            "postgres://u:pw@h/db?connect_timeout=abc",
            "`connect_timeout`",
        ),
        ("postgres://u:pw@[bad/db", "`host`"),
        ("postgres://u:pw@h:5432", "no database"),
        ("postgresql://u:pw@/db", "no host"),
    ] {
        let err = Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), ("DATABASE_URL", url)]))
            .expect_err(url);
        assert_eq!(err.variable, "DATABASE_URL");
        assert!(err.problem.contains(part), "{url}: {err}");
    }
    let socket = "postgres://u@/db?host=/var/run/postgresql";
    Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), ("DATABASE_URL", socket)]))
        .expect("a Unix socket is a host");
}

/// Every variable read as seconds, to check that none takes an unbounded value.
pub(super) const DURATION_VARIABLES: &[&str] = &[
    "RERUN_DELAY",
    "RUN_TTL",
    "TRACKER_IDLE",
    "TRACKER_LINGER",
    "CLAIM_LEASE",
    "OUTBOX_POLL",
    "GITHUB_MIN_INTERVAL",
    "GITHUB_BACKOFF",
    "GITHUB_BACKOFF_MAX",
    "GITHUB_TIMEOUT",
    "GITHUB_POLL_INTERVAL",
    "GITHUB_SECONDARY_LIMIT_WAIT",
    "SUMMARY_EVERY",
    "BODY_TIMEOUT",
    "LOG_READ_TIMEOUT",
    "EVIDENCE_TIMEOUT",
    "REDELIVER_EVERY",
    "STORM_WINDOW",
];

#[test]
fn a_huge_duration_is_refused_at_start_up_naming_its_variable() {
    let described: Vec<&str> = VARIABLES
        .iter()
        .filter(|variable| variable.help.contains("seconds"))
        .map(|variable| variable.name)
        .collect();
    for name in &described {
        assert!(DURATION_VARIABLES.contains(name), "{name} is not checked");
    }
    for name in DURATION_VARIABLES {
        for value in ["1e19", "18446744073709551615", "2592001"] {
            let err = Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), (name, value)]))
                .expect_err(name);
            assert_eq!(err.variable, *name, "{name}={value}");
            assert!(err.problem.contains("at most"), "{name}={value}: {err}");
        }
    }
    let err = Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), ("BODY_TIMEOUT", "301")]))
        .expect_err("BODY_TIMEOUT above 300 s");
    assert_eq!(err.variable, "BODY_TIMEOUT");
    let settings = Settings::from_vars(vars(&[
        ("GITHUB_SIGN_KEY", "k"),
        ("RUN_TTL", "2592000"),
        ("BODY_TIMEOUT", "300"),
    ]))
    .expect("the bounds themselves are allowed");
    assert_eq!(settings.run_ttl, MAX_DURATION);
    assert_eq!(settings.body_timeout, MAX_BODY_TIMEOUT);
}

#[test]
fn tracker_idle_takes_fractions_and_reads_its_former_name_only_when_unset() {
    let idle = |pairs: &[(&str, &str)]| {
        let mut all = vec![("GITHUB_SIGN_KEY", "k")];
        all.extend_from_slice(pairs);
        Settings::from_vars(vars(&all)).map(|s| s.tracker_idle)
    };
    assert_eq!(idle(&[]), Ok(Duration::from_secs(30)));
    assert_eq!(
        idle(&[("TRACKER_IDLE", "0.05")]),
        Ok(Duration::from_millis(50))
    );
    assert_eq!(idle(&[("TRACKER_LINGER", "2")]), Ok(Duration::from_secs(2)));
    assert_eq!(
        idle(&[("TRACKER_IDLE", "1"), ("TRACKER_LINGER", "2")]),
        Ok(Duration::from_secs(1))
    );
    let err = idle(&[("TRACKER_IDLE", "soon")]).expect_err("not a number");
    assert_eq!(err.variable, "TRACKER_IDLE");
}

/// The variables whose value is a number: a count or a duration.
fn numeric_variables() -> Vec<&'static str> {
    VARIABLES
        .iter()
        .filter(|v| matches!(v.kind, Kind::Count(_) | Kind::Seconds(_)))
        .map(|variable| variable.name)
        .collect()
}

#[test]
fn every_numeric_setting_says_a_value_too_large_or_negative_is_out_of_range() {
    let numeric = numeric_variables();
    assert!(numeric.len() > 20, "{numeric:?}");
    for name in numeric {
        let duration = DURATION_VARIABLES.contains(&name);
        for value in ["99999999999999999999999", "-1"] {
            let err = Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), (name, value)]))
                .expect_err(name);
            assert_eq!(err.variable, name, "{name}={value}");
            let says_range = if duration {
                err.problem.contains("at most") || err.problem.contains("non-negative")
            } else {
                err.problem.contains("out of range") && err.problem.contains(" to ")
            };
            assert!(says_range, "{name}={value}: {err}");
            assert!(
                !err.problem.contains("not a whole"),
                "{name}={value}: {err}"
            );
        }
        let err =
            Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), (name, "lots")])).expect_err(name);
        assert!(err.problem.contains("is not a"), "{name}=lots: {err}");
    }
}

#[test]
fn a_port_of_99999_is_out_of_range_and_the_message_gives_the_range() {
    let err = Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), ("PORT", "99999")]))
        .expect_err("PORT=99999");
    assert_eq!(
        err.to_string(),
        "PORT: 99999 is out of range: PORT takes 0 to 65535"
    );
    let err = Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), ("RUN_ATTEMPTS", "1")]))
        .expect_err("RUN_ATTEMPTS=1");
    assert!(err.problem.contains("takes 2 to"), "{err}");
    assert!(err.problem.contains("would never re-run"), "{err}");
    assert!(
        !err.problem.contains("50"),
        "one note, the one that fits: {err}"
    );
    let err = Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), ("RUN_ATTEMPTS", "52")]))
        .expect_err("RUN_ATTEMPTS=52");
    assert!(err.problem.contains("takes 2 to 51"), "{err}");
    assert!(err.problem.contains("more than 50 re-runs"), "{err}");
    assert!(
        !err.problem.contains("never re-run"),
        "one note, the one that fits: {err}"
    );
    let err = Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), ("RUN_ATTEMPTS", "abc")]))
        .expect_err("RUN_ATTEMPTS=abc");
    assert!(!err.problem.contains("re-run"), "{err}");
}

#[test]
fn http_limits_are_validated_and_name_their_variable() {
    for (name, value) in [
        ("STATUS_TOKEN", "fifteen-chars.."),
        ("BODY_TIMEOUT", "0"),
        ("BODY_TIMEOUT", "soon"),
        ("MAX_BUFFERED_BYTES", "1048575"),
        ("TRUST_FORWARDED_FOR", "maybe"),
    ] {
        let err =
            Settings::from_vars(vars(&[("GITHUB_SIGN_KEY", "k"), (name, value)])).expect_err(name);
        assert_eq!(err.variable, name, "{name}={value}");
    }
    let short = Settings::from_vars(vars(&[
        ("GITHUB_SIGN_KEY", "k"),
        ("STATUS_TOKEN", "fifteen-chars.."),
    ]))
    .expect_err("a short token");
    assert!(
        !short.to_string().contains("fifteen"),
        "{short} echoes the token"
    );
    let settings = Settings::from_vars(vars(&[
        ("GITHUB_SIGN_KEY", "k"),
        ("STATUS_TOKEN", "sixteen-chars..."),
        ("BODY_TIMEOUT", "0.5"),
    ]))
    .expect("valid");
    assert_eq!(settings.body_timeout, Duration::from_millis(500));
    assert_eq!(settings.max_buffered_bytes, 64 << 20);
    assert!(!settings.trust_forwarded_for);
}
