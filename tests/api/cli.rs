//! The binary's command line and start-up checks.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use job_rerunner::settings::VARIABLES;
use serde_json::Value;

pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_job-rerunner"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

/// The binary with settings it would serve with: a command line it must refuse is then
/// told apart from one it follows by whether it ends by itself.
pub fn binary_that_could_serve(db: &std::path::Path) -> Command {
    let mut command = binary();
    command
        .env("GITHUB_SIGN_KEY", "k")
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("DATABASE_URL", format!("sqlite://{}", db.display()));
    command
}

/// Runs the command to its end; fails the test if it still runs after 10 s (it started
/// the service instead of refusing the command line).
pub fn run_to_end(mut command: Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("waits").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("reaped");
            panic!(
                "still running after 10 s: it started the service\n{}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn help_lists_every_variable_with_its_default_and_the_subcommand() {
    let output = binary().arg("--help").output().expect("runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    for variable in VARIABLES {
        let (name, default) = (variable.name, variable.default());
        let line = text
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("--help does not mention {name}:\n{text}"));
        assert!(
            line.ends_with(&format!("(default: {default})")),
            "{name}'s line has not its default: {line}"
        );
    }
    for expected in ["check-config", "--version", "--help"] {
        assert!(text.contains(expected), "--help misses {expected}:\n{text}");
    }
}

#[test]
fn version_prints_the_version() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run_to_end({
        let mut command = binary_that_could_serve(&dir.path().join("db.sqlite"));
        command.arg("--version");
        command
    });
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("job-rerunner {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn an_unknown_subcommand_exits_2_with_one_line_naming_it_and_never_serves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = run_to_end({
        let mut command = binary_that_could_serve(&dir.path().join("db.sqlite"));
        command.arg("chek-config");
        command
    });
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("'chek-config'"), "{stderr}");
    assert!(output.stdout.is_empty(), "it logged: it started");
}

#[test]
fn an_unknown_flag_exits_2_with_one_line_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    for flag in ["--frobnicate", "-x"] {
        let output = run_to_end({
            let mut command = binary_that_could_serve(&dir.path().join("db.sqlite"));
            command.arg(flag);
            command
        });
        assert_eq!(output.status.code(), Some(2), "{flag}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&format!("'{flag}'")), "{stderr}");
    }
}

/// The `listening` line of a service's JSON logs.
fn listening_line(logs: &str) -> Value {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["msg"] == "listening")
        .unwrap_or_else(|| panic!("no listening line in:\n{logs}"))
}

#[actix_web::test]
async fn the_start_up_line_names_the_version_and_the_eligible_branches_readably() {
    let github = wiremock::MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let service = crate::process::Service::start(
        &github,
        &dir.path().join("db.sqlite"),
        &[("REPO_BRANCHES", "main, master")],
    );
    let listening = listening_line(&service.kill());
    assert_eq!(
        listening["version"],
        env!("CARGO_PKG_VERSION"),
        "{listening}"
    );
    assert_eq!(listening["branches"], "main,master", "{listening}");
    assert_eq!(
        listening["attempts"], 4,
        "RUN_ATTEMPTS' default: {listening}"
    );
    assert_eq!(listening["rules"], 0, "{listening}");
}

#[actix_web::test]
async fn the_start_up_line_shows_the_policys_defaults_and_rules_not_the_environments() {
    let github = wiremock::MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = "[defaults]\nbranches = [\"*\"]\nattempts = 2\ndelay = \"30s\"\n\n\
                 [[rule]]\nrepos = [\"org/*\"]\nattempts = 3\n";
    let service = crate::process::Service::start(
        &github,
        &dir.path().join("db.sqlite"),
        &[
            ("RULES", rules),
            ("REPO_BRANCHES", "master"),
            ("RUN_ATTEMPTS", "4"),
            ("RERUN_DELAY", "5"),
        ],
    );
    let listening = listening_line(&service.kill());
    assert_eq!(listening["branches"], "*", "{listening}");
    assert_eq!(listening["attempts"], 2, "{listening}");
    assert_eq!(listening["delay_ms"], 30_000, "{listening}");
    assert_eq!(listening["rules"], 1, "{listening}");
    for environment in ["run_attempts", "rerun_delay_ms"] {
        assert!(listening.get(environment).is_none(), "{listening}");
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

#[test]
fn a_port_out_of_range_stops_start_up_saying_so_with_the_range() {
    let output = binary()
        .env("GITHUB_SIGN_KEY", "k")
        .env("PORT", "99999")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr,
        "job-rerunner: configuration error: PORT: 99999 is out of range: PORT takes 0 to 65535\n"
    );
}

#[test]
fn classify_reads_a_log_file_and_prints_its_decisive_line_family_and_decision() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = dir.path().join("job.log");
    std::fs::write(
        &log,
        "2024-05-01T10:00:00.1234567Z ##[group]Run npm ci\n\
         2024-05-01T10:00:01.1234567Z npm ERR! code ECONNRESET\n\
         2024-05-01T10:00:01.2234567Z npm ERR! network aborted\n\
         2024-05-01T10:00:02.1234567Z ##[error]Process completed with exit code 1.\n",
    )
    .expect("written");
    let output = run_to_end({
        let mut command = binary();
        command.arg("classify").arg(&log);
        command
    });
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("decisive:  npm ERR! network aborted"),
        "{text}"
    );
    assert!(text.contains("family:    registry (transient)"), "{text}");
    assert!(text.contains("decision:  re-run"), "{text}");
}

#[test]
fn classify_under_a_policy_file_skips_a_compile_error_and_reads_standard_input() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rules = dir.path().join("policy.toml");
    std::fs::write(&rules, "[defaults]\nnever_when = [\"@compile\"]\n").expect("written");
    let mut child = binary()
        .args(["classify", "--rules"])
        .arg(&rules)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            b"error[E0308]: mismatched types\nError: Process completed with exit code 101.\n",
        )
        .expect("written");
    let output = child.wait_with_output().expect("ends");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("decision:  skip (broken_log)"), "{text}");
    assert!(text.contains("matched:   @compile:rust"), "{text}");
}

#[test]
fn classify_with_an_invalid_policy_says_so_in_one_line_and_exits_2() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rules = dir.path().join("policy.toml");
    std::fs::write(&rules, "[defaults]\nonly_when = [\"@flaky\"]\n").expect("written");
    let output = run_to_end({
        let mut command = binary();
        command
            .args(["classify", "--rules"])
            .arg(&rules)
            .arg("/dev/null");
        command
    });
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("unknown built-in \"@flaky\""), "{text}");
}

#[test]
fn check_config_refuses_a_public_url_with_credentials_or_markdown_in_one_line() {
    for url in [
        "https://robot:hunter2@rerun.example",
        "https://ok.example) [x](https://evil.example",
        "\"><script>alert(1)</script>",
        "https://ok.example/a)[x](https://evil.example",
    ] {
        let output = binary()
            .arg("check-config")
            .env("GITHUB_SIGN_KEY", "k")
            .env("PUBLIC_URL", url)
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(2), "{url}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{url}: {stderr}");
        assert!(stderr.contains("PUBLIC_URL"), "{url}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}

#[test]
fn a_key_file_that_is_a_fifo_a_device_or_too_large_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("key.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs")
            .success()
    );
    let huge = dir.path().join("huge.pem");
    // Sparse: 64 MB that take no disk, and that start-up used to read whole.
    std::fs::File::create(&huge)
        .and_then(|file| file.set_len(64 << 20))
        .expect("sized");
    for (path, reason) in [
        (fifo.as_path(), "not a regular file"),
        (std::path::Path::new("/dev/zero"), "not a regular file"),
        (huge.as_path(), "more than a private key's"),
    ] {
        let mut command = binary();
        command
            .arg("check-config")
            .env("GITHUB_SIGN_KEY", "k")
            .env("GITHUB_APP_ID", "1")
            .env("GITHUB_APP_PRIVATE_KEY_FILE", path);
        let output = run_to_end(command);
        assert_eq!(output.status.code(), Some(2), "{}", path.display());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("GITHUB_APP_PRIVATE_KEY_FILE") && stderr.contains(reason),
            "{stderr}"
        );
    }
}

#[actix_web::test]
async fn a_second_instance_on_a_taken_port_stops_before_it_touches_its_database() {
    let github = wiremock::MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let first = crate::process::Service::start(&github, &dir.path().join("first.sqlite"), &[]);
    let port = first.port;
    let second_db = dir.path().join("second").join("job-rerunner.db");
    let output = run_to_end({
        let mut command = binary_that_could_serve(&second_db);
        command.env("PORT", port.to_string());
        command
    });
    first.kill();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(
        !second_db.parent().expect("a directory").exists(),
        "the database (or its directory) was created before the port was tried"
    );
}
