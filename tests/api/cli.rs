//! The binary's command line and start-up checks.

use std::process::Command;

use job_rerunner::settings::VARIABLES;

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_job-rerunner"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

#[test]
fn help_lists_every_variable() {
    let output = binary().arg("--help").output().expect("runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for (name, _, _) in VARIABLES {
        assert!(text.contains(name), "--help does not mention {name}");
    }
}

#[test]
fn a_bad_value_stops_start_up_with_one_line_naming_the_variable() {
    let output = binary()
        .env("GITHUB_SIGN_KEY", "secret-value")
        .env("RUN_ATTEMPTS", "abc")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("RUN_ATTEMPTS"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_missing_sign_key_stops_start_up() {
    let output = binary().output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("GITHUB_SIGN_KEY"), "{stderr}");
}

#[test]
fn an_unusable_database_path_stops_start_up_with_one_line() {
    let output = binary()
        .env("GITHUB_SIGN_KEY", "k")
        .env("DATABASE_URL", "sqlite:///proc/not-a-dir/db.sqlite")
        .env("PORT", "0")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("/proc/not-a-dir"), "{stderr}");
}

#[test]
fn check_config_prints_the_effective_configuration_without_secrets() {
    let output = binary()
        .arg("check-config")
        .env("GITHUB_SIGN_KEY", "sign-key-value")
        .env("GITHUB_TOKEN", "token-value")
        .env("REPO_BRANCHES", "main, master")
        .env(
            "DATABASE_URL",
            "postgres://bot:db-password@db.internal:5432/rerunner",
        )
        .output()
        .expect("runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    // The variables, one a line; then, after a blank line, the effective policy.
    let (variables, policy) = text
        .split_once("\n\n")
        .expect("a policy after the variables");
    assert_eq!(variables.lines().count(), VARIABLES.len(), "{text}");
    assert!(policy.contains("from environment"), "{policy}");
    assert!(
        policy.contains(r#"branches = ["main", "master"]"#),
        "{policy}"
    );
    assert!(text.contains("REPO_BRANCHES=main,master\n"), "{text}");
    assert!(
        text.contains("DATABASE_URL=postgres://bot@db.internal:5432/rerunner\n"),
        "{text}"
    );
    for secret in ["sign-key-value", "token-value", "db-password"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn check_config_names_the_bad_variable_and_fails() {
    let output = binary()
        .arg("check-config")
        .env("GITHUB_SIGN_KEY", "k")
        .env("DRY_RUN", "maybe")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DRY_RUN"), "{stderr}");
}

/// PostgreSQL URLs that tokio-postgres cannot parse, each with the part at fault.
const MALFORMED_DATABASE_URLS: [(&str, &str); 3] = [
    (
        "postgres://bot:db-hunter2@db.internal:5432/rerunner?sslmode=bogus",
        "sslmode",
    ),
    (
        "postgres://bot:db-hunter2@db.internal:5432/rerunner?connect_timeout=abc",
        "connect_timeout",
    ),
    ("postgres://bot:db-hunter2@[bad/rerunner", "host"),
];

/// Runs the binary with `DATABASE_URL=url` (and `args`) and checks it stops with one line
/// naming the variable and the part at fault, exit 2, and no password.
fn refuses_database_url(args: &[&str], url: &str, part: &str) {
    let output = binary()
        .args(args)
        .env("GITHUB_SIGN_KEY", "k")
        .env("PORT", "0")
        .env("DATABASE_URL", url)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?} {url}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?} {url}: {stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(stderr.contains(part), "{url}: {part} not named in {stderr}");
    assert!(
        !stderr.contains("db-hunter2"),
        "the password leaked: {stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("db-hunter2"),
        "the password leaked on stdout"
    );
}

#[test]
fn a_malformed_postgres_url_stops_start_up_with_one_line_naming_the_part_at_fault() {
    for (url, part) in MALFORMED_DATABASE_URLS {
        refuses_database_url(&[], url, part);
    }
}

#[test]
fn check_config_refuses_a_malformed_postgres_url() {
    for (url, part) in MALFORMED_DATABASE_URLS {
        refuses_database_url(&["check-config"], url, part);
    }
}

#[test]
fn check_config_shows_the_github_api_url_without_its_credentials() {
    let output = binary()
        .arg("check-config")
        .env("GITHUB_SIGN_KEY", "k")
        .env(
            "GITHUB_API_URL",
            "https://robot:api-hunter2@ghe.example/api/v3?access_token=query-hunter2",
        )
        .output()
        .expect("runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|line| line.starts_with("GITHUB_API_URL="))
        .expect("GITHUB_API_URL shown");
    assert!(line.contains("ghe.example/api/v3"), "{line}");
    for secret in ["api-hunter2", "query-hunter2", "robot"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}
