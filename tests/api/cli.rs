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
