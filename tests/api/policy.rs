//! The failure policy end to end (issue 9, the decisions that need no GitHub call):
//! the real service, `RULES` / `RULES_FILE`, the fake GitHub's received calls, the
//! stored decisions, the logs and metrics, and the real binary for start-up, SIGHUP
//! and restarts.

use std::process::Command;

use wiremock::MockServer;

use crate::helpers::{Job, TestApp, eventually, get_page, github_expects_rerun, spawn_app, unique};
use crate::process::Service;

const STATUS_TOKEN: &str = "a-status-token-of-some-length";

/// Sends `job` queued, then completed with `conclusion`; returns the completion's answer.
async fn run_one(app: &TestApp, job: &Job, conclusion: &str) -> crate::helpers::Answer {
    assert_eq!(app.send(&job.queued()).await.status, 202);
    app.send(&job.completed(conclusion)).await
}

/// Every request GitHub received.
async fn github_calls(app: &TestApp) -> usize {
    app.github
        .received_requests()
        .await
        .unwrap_or_default()
        .len()
}

/// A column of the `decisions` row of a run's attempt.
fn decision(
    app: &TestApp,
    repo: &str,
    run_id: u64,
    attempt: u32,
) -> Option<(String, Option<String>)> {
    let conn = rusqlite::Connection::open_with_flags(
        &app.db_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .ok()?;
    conn.query_row(
        "SELECT verdict, reason FROM decisions WHERE repo = ?1 AND run_id = ?2 AND attempt = ?3",
        rusqlite::params![repo, run_id as i64, attempt],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .ok()
}

/// The stored due time of a run's decided re-run.
fn pending_rerun_at(db: &std::path::Path, repo: &str, run_id: u64) -> Option<u64> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    conn.query_row(
        "SELECT pending_rerun_at FROM runs WHERE repo = ?1 AND run_id = ?2",
        rusqlite::params![repo, run_id as i64],
        |row| row.get::<_, Option<i64>>(0),
    )
    .ok()
    .flatten()
    .map(|at| at as u64)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

#[actix_web::test]
async fn a_failed_job_that_ran_no_step_is_answered_200_not_started_and_github_is_never_called() {
    // No policy at all: the built-in rule alone.
    let app = spawn_app(&[]).await;
    let run = unique();
    let job = Job::new("org/repo", run, 1).name("build").never_started();
    let answer = run_one(&app, &job, "failure").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body.trim(),
        "not re-run: job build: the job ran no step: GitHub never started it (not_started)"
    );
    assert_eq!(
        app.recorded_outcome("org/repo", run, 1).as_deref(),
        Some("skipped")
    );
    assert_eq!(
        decision(&app, "org/repo", run, 1),
        Some(("skip".into(), Some("not_started".into())))
    );
    // The attempt is final: a redelivery, or a late job, schedules nothing.
    let late = Job::new("org/repo", run, 2);
    assert_eq!(app.send(&late.completed("failure")).await.status, 200);
    assert_eq!(pending_rerun_at(&app.db_path, "org/repo", run), None);
    assert_eq!(github_calls(&app).await, 0, "no GET and no POST");
}

#[actix_web::test]
async fn a_failed_job_matching_skip_jobs_is_answered_200_job_skipped_without_a_post() {
    let app = spawn_app(&[("RULES", "[defaults]\nskip_jobs = [\"deploy*\"]\n")]).await;
    let run = unique();
    let answer = run_one(
        &app,
        &Job::new("org/repo", run, 1).name("deploy-prod"),
        "failure",
    )
    .await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("(job_skipped)"), "{}", answer.body);
    assert!(answer.body.contains("deploy-prod"), "{}", answer.body);
    assert_eq!(github_calls(&app).await, 0);
}

#[actix_web::test]
async fn a_run_of_a_workflow_matching_skip_workflows_is_answered_200_workflow_skipped() {
    let app = spawn_app(&[("RULES", "[defaults]\nskip_workflows = [\"Release*\"]\n")]).await;
    let run = unique();
    let job = Job::new("org/repo", run, 1).workflow("Release build");
    let answer = run_one(&app, &job, "failure").await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.body.contains("(workflow_skipped)"),
        "{}",
        answer.body
    );
    assert_eq!(github_calls(&app).await, 0);
}

#[actix_web::test]
async fn more_failed_jobs_than_max_failed_jobs_is_answered_200_too_many_failed_jobs() {
    let app = spawn_app(&[("RULES", "[defaults]\nmax_failed_jobs = 1\n")]).await;
    let run = unique();
    let (one, two) = (Job::new("org/repo", run, 1), Job::new("org/repo", run, 2));
    app.send(&one.queued()).await;
    app.send(&two.queued()).await;
    assert_eq!(app.send(&one.completed("failure")).await.status, 202);
    let answer = app.send(&two.completed("failure")).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.body.contains("(too_many_failed_jobs)"),
        "{}",
        answer.body
    );
    assert_eq!(github_calls(&app).await, 0);
}

#[actix_web::test]
async fn the_hourly_budget_allows_one_rerun_and_answers_the_next_200_budget_spent() {
    let app = spawn_app(&[("RULES", "[defaults]\nbudget_per_hour = 1\n")]).await;
    let (first, second) = (unique(), unique());
    github_expects_rerun(&app.github, "org/repo", first).await;
    let answer = run_one(&app, &Job::new("org/repo", first, 1), "failure").await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(app.outcome_of("org/repo", first, 1).await, "started");
    let answer = run_one(&app, &Job::new("org/repo", second, 1), "failure").await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("(budget_spent)"), "{}", answer.body);
    // Another repository has a budget of its own.
    let other = unique();
    github_expects_rerun(&app.github, "org/other", other).await;
    assert_eq!(
        run_one(&app, &Job::new("org/other", other, 1), "failure")
            .await
            .status,
        201
    );
    assert_eq!(app.outcome_of("org/other", other, 1).await, "started");
    assert_eq!(app.rerun_posts("org/repo", first).await.len(), 1);
    assert!(app.rerun_posts("org/repo", second).await.is_empty());
}

#[actix_web::test]
async fn the_second_rerun_is_due_delay_times_backoff_after_its_run_completed() {
    let app = spawn_app(&[(
        "RULES",
        "[defaults]\ndelay = \"10s\"\nbackoff = 3.0\nmax_delay = \"1h\"\n",
    )])
    .await;
    let run = unique();
    let before = now_ms();
    assert_eq!(
        run_one(&app, &Job::new("org/repo", run, 1), "failure")
            .await
            .status,
        201
    );
    let due = pending_rerun_at(&app.db_path, "org/repo", run).expect("a decided re-run");
    assert!(
        (before + 10_000..=now_ms() + 10_000).contains(&due),
        "first: {}",
        due - before
    );

    // Attempt 2 (as GitHub's re-run would make it) fails again: re-run 2 waits 10 s × 3.
    let job = Job::new("org/repo", run, 11).attempt(2);
    let before = now_ms();
    assert_eq!(run_one(&app, &job, "failure").await.status, 201);
    let due = pending_rerun_at(&app.db_path, "org/repo", run).expect("a decided re-run");
    assert!(
        (before + 30_000..=now_ms() + 30_000).contains(&due),
        "second: {}",
        due - before
    );
    assert_eq!(github_calls(&app).await, 0, "nothing is due yet");
}

#[actix_web::test]
async fn shadow_mode_decides_and_records_but_never_posts() {
    let app = spawn_app(&[("RULES", "[defaults]\nmode = \"shadow\"\ndelay = \"2s\"\n")]).await;
    let run = unique();
    let answer = run_one(&app, &Job::new("org/repo", run, 1), "failure").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.trim(), "shadow: would re-run after 2s");
    assert_eq!(
        app.recorded_outcome("org/repo", run, 1).as_deref(),
        Some("skipped")
    );
    assert_eq!(
        decision(&app, "org/repo", run, 1),
        Some(("shadow".into(), Some("shadow".into())))
    );
    assert_eq!(pending_rerun_at(&app.db_path, "org/repo", run), None);
    assert_eq!(github_calls(&app).await, 0);
}

#[actix_web::test]
async fn a_rule_for_one_repository_overrides_the_defaults_there_only() {
    let rules =
        "[defaults]\nattempts = 4\n\n[[rule]]\nrepos = [\"org/special\"]\nskip_jobs = [\"*\"]\n";
    let app = spawn_app(&[("RULES", rules)]).await;
    let (special, plain) = (unique(), unique());
    github_expects_rerun(&app.github, "org/plain", plain).await;
    let answer = run_one(&app, &Job::new("org/special", special, 1), "failure").await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("(job_skipped)"), "{}", answer.body);
    assert_eq!(
        run_one(&app, &Job::new("org/plain", plain, 1), "failure")
            .await
            .status,
        201
    );
    assert_eq!(app.outcome_of("org/plain", plain, 1).await, "started");
    assert!(app.rerun_posts("org/special", special).await.is_empty());
}

#[actix_web::test]
async fn a_policy_file_is_read_from_rules_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, "[defaults]\nskip_steps = [\"*lint*\"]\n").expect("write");
    let app = spawn_app(&[("RULES_FILE", path.to_str().expect("utf-8"))]).await;
    let run = unique();
    let job = Job::new("org/repo", run, 1).step("cargo lint");
    let answer = run_one(&app, &job, "failure").await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("(step_skipped)"), "{}", answer.body);
    assert_eq!(github_calls(&app).await, 0);
}

#[actix_web::test]
async fn a_policy_allowing_more_attempts_than_run_attempts_keeps_their_events() {
    let app = spawn_app(&[
        ("RUN_ATTEMPTS", "2"),
        ("RULES", "[defaults]\nattempts = 3\n"),
    ])
    .await;
    let run = unique();
    // RUN_ATTEMPTS=2 alone would ignore attempt 2 (204); the policy allows 3 attempts.
    let job = Job::new("org/repo", run, 1).attempt(2);
    assert_eq!(app.send(&job.queued()).await.status, 202);
}

#[actix_web::test]
async fn the_effective_policy_is_served_at_api_policy_behind_the_status_token() {
    let rules = "[defaults]\nbudget_per_hour = 7\n\n[[rule]]\nrepos = [\"org/*\"]\nattempts = 2\n";
    let app = spawn_app(&[("RULES", rules), ("STATUS_TOKEN", STATUS_TOKEN)]).await;
    assert_eq!(
        get_page(&app.address, "/api/policy", None).await.status,
        401
    );
    let answer = get_page(&app.address, "/api/policy", Some(STATUS_TOKEN)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let policy: serde_json::Value = serde_json::from_str(&answer.body).expect("JSON");
    assert_eq!(policy["source"], "RULES");
    assert_eq!(policy["defaults"]["budget_per_hour"], 7);
    assert_eq!(policy["rules"][0]["attempts"], 2, "{policy}");
    assert_eq!(policy["rules"][0]["repos"][0], "org/*");
}

#[actix_web::test]
async fn skipped_attempts_are_shown_with_reason_job_and_evidence_and_counted() {
    let app = spawn_app(&[("STATUS_TOKEN", STATUS_TOKEN)]).await;
    let run = unique();
    let job = Job::new("org/repo", run, 1).name("build").never_started();
    assert_eq!(run_one(&app, &job, "failure").await.status, 200);
    let reruns = get_page(&app.address, "/api/reruns", Some(STATUS_TOKEN)).await;
    let reruns: serde_json::Value = serde_json::from_str(&reruns.body).expect("JSON");
    let skipped = &reruns[0];
    assert_eq!(skipped["outcome"], "skipped", "{reruns}");
    assert_eq!(skipped["reason"], "not_started");
    assert_eq!(skipped["job"], "build");
    assert!(
        skipped["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("ran no step"))
    );
    let page = get_page(&app.address, "/status", Some(STATUS_TOKEN)).await;
    assert!(page.body.contains("not_started · build"), "{}", page.body);
    let metrics = get_page(&app.address, "/metrics", None).await;
    assert!(
        metrics
            .body
            .contains(r#"job_rerunner_decisions_total{decision="skip",reason="not_started"} 1"#),
        "{}",
        metrics.body
    );
}

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_job-rerunner"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GITHUB_SIGN_KEY", "k")
        .env("PORT", "0");
    command
}

/// Starts the binary with `vars` and returns its exit code and stderr.
fn refused(vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let output = binary()
        .env("DATABASE_URL", db)
        .envs(vars.iter().copied())
        .output()
        .expect("runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn patterns_too_costly_to_match_stop_start_up_with_one_line_saying_so() {
    // 100 patterns whose lazy DFA explodes: accepted once, they took seconds per
    // decision inside the store's transaction and other webhooks got 503.
    let patterns: Vec<String> = (0..100)
        .map(|i| format!("'[a-z]*a[a-z]{{{}}}\\p{{Greek}}'", 10 + i % 7))
        .collect();
    let rules = format!("[defaults]\nnever_when = [{}]\n", patterns.join(", "));
    let (code, stderr) = refused(&[("RULES", &rules)]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("never_when"), "{stderr}");
    assert!(
        stderr.contains("the 100 patterns together are too costly to match"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_policy_stops_start_up_with_one_line_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rules.toml");
    std::fs::write(
        &file,
        "[defaults]\nattempts = 3\nnever_when = ['(unclosed']\n",
    )
    .expect("write");
    let file = file.to_str().expect("utf-8");
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Vars, &[&str]); 3] = [
        (
            &[("RULES_FILE", file)],
            &["rules.toml", ":3:", "never_when"],
        ),
        (
            &[("RULES", "[defaults]\nattemps = 3\n")],
            &["RULES", ":2:", "attemps"],
        ),
        (
            &[("RULES", "[defaults]\n"), ("RULES_FILE", file)],
            &["RULES", "RULES_FILE", "both"],
        ),
    ];
    for (vars, named) in cases {
        let (code, stderr) = refused(vars);
        assert_eq!(code, Some(2), "{vars:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{vars:?}: {stderr}");
        for part in named {
            assert!(stderr.contains(part), "{vars:?}: {part} not in {stderr}");
        }
    }
}

#[test]
fn check_config_prints_the_effective_policy_after_the_variables() {
    let rules =
        "[defaults]\nbudget_per_hour = 9\n\n[[rule]]\nrepos = [\"tarantool/*\"]\nattempts = 3\n";
    let output = binary()
        .arg("check-config")
        .env("RULES", rules)
        .output()
        .expect("runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let (variables, policy) = text
        .split_once("\n\n")
        .expect("a policy after the variables");
    assert!(variables.contains("RULES=set ("), "{variables}");
    assert!(
        policy.contains("# effective re-run policy, from RULES"),
        "{policy}"
    );
    assert!(policy.contains("budget_per_hour = 9"), "{policy}");
    assert!(policy.contains("repos = [\"tarantool/*\"]"), "{policy}");
    let bad = binary()
        .arg("check-config")
        .env("RULES", "[defaults]\nmode = \"loud\"\n")
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("mode"));
}

#[actix_web::test]
async fn sighup_reloads_a_valid_policy_and_keeps_the_old_one_on_an_invalid_one() {
    let github = MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db/job-rerunner.db");
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "[defaults]\nskip_jobs = [\"first*\"]\n").expect("write");
    let service = Service::start(
        &github,
        &db,
        &[("RULES_FILE", rules.to_str().expect("utf-8"))],
    );
    let app = TestApp::for_process(service.port, github, db.clone());

    let skipped = |name: &str| Job::new("org/repo", unique(), 1).name(name);
    assert!(
        run_one(&app, &skipped("first-job"), "failure")
            .await
            .body
            .contains("job_skipped")
    );

    std::fs::write(&rules, "[defaults]\nskip_jobs = [\"second*\"]\n").expect("write");
    service.hangup();
    eventually("the policy reloaded", || async {
        service
            .logs()
            .contains("\"msg\":\"policy reloaded\"")
            .then_some(())
    })
    .await;
    assert!(
        run_one(&app, &skipped("second-job"), "failure")
            .await
            .body
            .contains("job_skipped")
    );

    std::fs::write(&rules, "[defaults]\nskip_jobs = [\"third*\"\n").expect("write");
    service.hangup();
    eventually("the reload refused", || async {
        service
            .logs()
            .contains("policy reload refused")
            .then_some(())
    })
    .await;
    // The second policy stays in force.
    assert!(
        run_one(&app, &skipped("second-job"), "failure")
            .await
            .body
            .contains("job_skipped")
    );
    // The log drain is asynchronous: wait for the third decision's line before the kill.
    eventually("three decisions logged", || async {
        (service.logs().matches("\"msg\":\"re-run decided\"").count() == 3).then_some(())
    })
    .await;
    let logs = service.kill();
    let refusal = logs
        .lines()
        .find(|line| line.contains("policy reload refused"))
        .expect("logged");
    assert!(
        refusal.contains("\"level\":\"ERRO\"") || refusal.contains("ERROR"),
        "{refusal}"
    );
    assert!(refusal.contains("rules.toml"), "{refusal}");
    // One `re-run decided` line per decided attempt, with the delivery.
    let decided: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("\"msg\":\"re-run decided\""))
        .collect();
    assert_eq!(decided.len(), 3, "{logs}");
    for line in decided {
        assert!(line.contains("\"decision\":\"skip\""), "{line}");
        assert!(line.contains("\"reason\":\"job_skipped\""), "{line}");
        assert!(line.contains("\"delivery\":\"delivery-"), "{line}");
        assert!(line.contains("\"evidence\":\"job "), "{line}");
    }
}

#[actix_web::test]
async fn a_restart_between_decision_and_post_keeps_the_decided_delay() {
    let github = MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db/job-rerunner.db");
    let run = unique();
    github_expects_rerun(&github, "org/repo", run).await;

    let first = Service::start(&github, &db, &[("RULES", "[defaults]\ndelay = \"2s\"\n")]);
    let app = TestApp::for_process(first.port, github, db.clone());
    assert_eq!(
        run_one(&app, &Job::new("org/repo", run, 1), "failure")
            .await
            .status,
        201
    );
    let due = pending_rerun_at(&db, "org/repo", run).expect("decided");
    first.kill();
    assert!(app.rerun_posts("org/repo", run).await.is_empty());

    // The new process's policy would wait an hour: the stored decision says 2 s.
    let second = Service::start(
        &app.github,
        &db,
        &[("RULES", "[defaults]\ndelay = \"1h\"\n")],
    );
    let app = TestApp::for_process(second.port, app.github, db.clone());
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    assert!(
        now_ms() >= due,
        "performed at its stored due time, not before"
    );
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
    second.kill();
}

#[actix_web::test]
async fn a_job_whose_last_automatic_reruns_all_failed_again_is_answered_200_useless_before() {
    // RERUN_DELAY=5 keeps attempt 2's decided re-run waiting: only its decision matters.
    let app = spawn_app(&[
        ("RERUN_DELAY", "5"),
        (
            "RULES",
            "[defaults]\ndelay = \"0s\"\nstop_when_useless = 1\n",
        ),
    ])
    .await;
    let (first, second) = (unique(), unique());
    github_expects_rerun(&app.github, "org/repo", first).await;
    let build = |run, id| Job::new("org/repo", run, id).name("build");
    assert_eq!(run_one(&app, &build(first, 1), "failure").await.status, 201);
    assert_eq!(app.outcome_of("org/repo", first, 1).await, "started");
    // GitHub's re-run: attempt 2, and `build` fails again. That is recorded; the
    // attempt itself is still decided on what was known before it (nothing).
    let again = build(first, 2).attempt(2);
    assert_eq!(run_one(&app, &again, "failure").await.status, 201);

    // The next failure of `build` in this repository's workflow is not worth a re-run.
    let answer = run_one(&app, &build(second, 3), "failure").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("(useless_before)"), "{}", answer.body);
    // Another job, or the same job in another workflow, is not concerned.
    let other = unique();
    let answer = run_one(
        &app,
        &Job::new("org/repo", other, 4).name("lint"),
        "failure",
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert!(app.rerun_posts("org/repo", second).await.is_empty());
}

#[actix_web::test]
async fn the_status_shows_whether_reruns_helped_per_job_and_why_attempts_were_skipped() {
    // RERUN_DELAY=5 keeps the re-run decided for a failed attempt 2 waiting.
    let app = spawn_app(&[
        ("STATUS_TOKEN", STATUS_TOKEN),
        ("RERUN_DELAY", "5"),
        ("RULES", "[defaults]\ndelay = \"0s\"\n"),
    ])
    .await;
    let (flaky, broken) = (unique(), unique());
    let build = |run, id| Job::new("org/repo", run, id).name("build");
    // `build` fails, is re-run, and passes in attempt 2.
    github_expects_rerun(&app.github, "org/repo", flaky).await;
    assert_eq!(run_one(&app, &build(flaky, 1), "failure").await.status, 201);
    assert_eq!(app.outcome_of("org/repo", flaky, 1).await, "started");
    let passed = build(flaky, 2).attempt(2);
    assert_eq!(run_one(&app, &passed, "success").await.status, 200);
    // In another run, `build` fails, is re-run, and fails again.
    github_expects_rerun(&app.github, "org/repo", broken).await;
    assert_eq!(
        run_one(&app, &build(broken, 3), "failure").await.status,
        201
    );
    assert_eq!(app.outcome_of("org/repo", broken, 1).await, "started");
    let again = build(broken, 4).attempt(2);
    assert_eq!(run_one(&app, &again, "failure").await.status, 201);
    // A job that ran no step is not re-run: not_started.
    let never = Job::new("org/repo", unique(), 5)
        .name("lint")
        .never_started();
    assert_eq!(run_one(&app, &never, "failure").await.status, 200);

    let status = get_page(&app.address, "/api/status", Some(STATUS_TOKEN)).await;
    let status: serde_json::Value = serde_json::from_str(&status.body).expect("JSON");
    let help = &status["help"];
    assert_eq!(help.as_array().map(Vec::len), Some(1), "{help}");
    assert_eq!(help[0]["repo"], "org/repo");
    assert_eq!(help[0]["job"], "build");
    assert_eq!(help[0]["reruns"], 2, "{help}");
    assert_eq!(help[0]["passed"], 1);
    assert_eq!(help[0]["failed_again"], 1);
    assert_eq!(help[0]["helped_percent"], 50);
    let skips = &status["skip_reasons"];
    assert_eq!(
        skips,
        &serde_json::json!([{"reason": "not_started", "count": 1}]),
        "{skips}"
    );
    let part = get_page(&app.address, "/api/help", Some(STATUS_TOKEN)).await;
    let part: serde_json::Value = serde_json::from_str(&part.body).expect("JSON");
    assert_eq!(&part, help);

    let page = get_page(&app.address, "/status", Some(STATUS_TOKEN)).await;
    assert!(
        page.body.contains("Do re-runs help? (last 24 h)"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(
            r#"<td data-label="job">build</td><td data-label="re-runs" class="num">2</td><td data-label="passed" class="num">1</td><td data-label="failed again" class="num">1</td><td data-label="helped" class="num">50 %</td>"#
        ),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<tr><td data-label="reason">not_started</td><td data-label="attempts" class="num">1</td></tr>"#),
        "{}",
        page.body
    );
}

#[actix_web::test]
async fn an_attempt_at_its_own_rules_limit_is_answered_204_though_another_rule_allows_more() {
    let rules = "[defaults]\nbranches = [\"*\"]\nattempts = 5\n\n[[rule]]\nrepos = [\"org/limited\"]\nattempts = 2\n";
    let app = crate::helpers::spawn_app(&[("RULES", rules)]).await;
    let run = crate::helpers::unique();
    // attempt 2 of a run whose rule allows 2 attempts: its events are not kept.
    let limited = crate::helpers::Job::new("org/limited", run, 1).attempt(2);
    assert_eq!(app.send(&limited.queued()).await.status, 204);
    assert_eq!(app.send(&limited.completed("failure")).await.status, 204);
    // The same attempt of a repository under [defaults] (5 attempts) is tracked.
    let other = crate::helpers::Job::new("org/other", run, 1).attempt(2);
    assert_eq!(app.send(&other.queued()).await.status, 202);
}
