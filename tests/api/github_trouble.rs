//! What GitHub does that the service must survive: errors, rate limits, runs re-run by hand.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{Job, github_accepts_rerun, github_shows_run, rerun_path, spawn_app, unique};

async fn fail_one_run(app: &crate::helpers::TestApp, repo: &str, run: u64) {
    let job = Job::new(repo, run, 1);
    app.send(&job.queued()).await;
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
}

#[actix_web::test]
async fn a_502_is_retried_until_github_accepts() {
    let app = spawn_app(&[]).await;
    let run = unique();
    github_shows_run(
        &app.github,
        "org/repo",
        run,
        "completed",
        Some("failure"),
        1,
    )
    .await;
    Mock::given(method("POST"))
        .and(path(rerun_path("org/repo", run)))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&app.github)
        .await;
    github_accepts_rerun(&app.github, "org/repo", run).await;
    fail_one_run(&app, "org/repo", run).await;
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 2);
}

#[actix_web::test]
async fn a_rate_limit_is_waited_out_until_its_reset() {
    let app = spawn_app(&[]).await;
    let run = unique();
    github_shows_run(
        &app.github,
        "org/repo",
        run,
        "completed",
        Some("failure"),
        1,
    )
    .await;
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 2;
    Mock::given(method("POST"))
        .and(path(rerun_path("org/repo", run)))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_json(json!({"message": "API rate limit exceeded"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&app.github)
        .await;
    github_accepts_rerun(&app.github, "org/repo", run).await;
    let started = std::time::Instant::now();
    fail_one_run(&app, "org/repo", run).await;
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    let waited = started.elapsed();
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 2);
    assert!(
        waited >= Duration::from_millis(900),
        "retried after {waited:?}, before the reset"
    );
}

#[actix_web::test]
async fn a_run_rerun_by_hand_is_not_rerun_again() {
    let app = spawn_app(&[]).await;
    let run = unique();
    // Someone pressed "Re-run failed jobs": GitHub already shows attempt 2.
    github_shows_run(&app.github, "org/repo", run, "queued", None, 2).await;
    github_accepts_rerun(&app.github, "org/repo", run).await;
    fail_one_run(&app, "org/repo", run).await;
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "already_rerun");
    assert!(app.rerun_posts("org/repo", run).await.is_empty());
}

#[actix_web::test]
async fn a_run_github_still_shows_in_progress_is_looked_at_again() {
    let app = spawn_app(&[]).await;
    let run = unique();
    Mock::given(method("GET"))
        .and(path(crate::helpers::run_path("org/repo", run)))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"status": "in_progress", "conclusion": null, "run_attempt": 1}),
            ),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&app.github)
        .await;
    github_shows_run(
        &app.github,
        "org/repo",
        run,
        "completed",
        Some("failure"),
        1,
    )
    .await;
    github_accepts_rerun(&app.github, "org/repo", run).await;
    fail_one_run(&app, "org/repo", run).await;
    app.outcome_becomes("org/repo", run, 1, "started").await;
    let gets = app.github.received_requests().await.unwrap_or_default();
    assert_eq!(
        gets.iter().filter(|r| r.method.as_str() == "GET").count(),
        3
    );
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
}

#[actix_web::test]
async fn a_refusal_is_recorded_and_not_retried() {
    let app = spawn_app(&[]).await;
    let run = unique();
    github_shows_run(
        &app.github,
        "org/repo",
        run,
        "completed",
        Some("failure"),
        1,
    )
    .await;
    Mock::given(method("POST"))
        .and(path(rerun_path("org/repo", run)))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Resource not accessible by integration"})),
        )
        .mount(&app.github)
        .await;
    fail_one_run(&app, "org/repo", run).await;
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "refused");
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
}

#[actix_web::test]
async fn a_github_outage_is_retried_a_bounded_number_of_times() {
    let app = spawn_app(&[("GITHUB_MAX_TRIES", "3")]).await;
    let run = unique();
    Mock::given(method("GET"))
        .and(path(crate::helpers::run_path("org/repo", run)))
        .respond_with(ResponseTemplate::new(503))
        .mount(&app.github)
        .await;
    fail_one_run(&app, "org/repo", run).await;
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "gave_up");
    let calls = app.github.received_requests().await.unwrap_or_default();
    assert_eq!(calls.len(), 3);
}

#[actix_web::test]
async fn webhooks_are_answered_at_once_while_github_is_slow() {
    let app = spawn_app(&[]).await;
    // Every API call takes 5 s: the GitHub actor is busy for a long while.
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(
                    json!({"status": "completed", "conclusion": "failure", "run_attempt": 1}),
                )
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&app.github)
        .await;
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let job = Job::new("org/repo", unique(), 1);
        for payload in [job.queued(), job.completed("failure")] {
            let started = std::time::Instant::now();
            let answer = app.send(&payload).await;
            slowest = slowest.max(started.elapsed());
            assert!(
                answer.status == 202 || answer.status == 201,
                "{}",
                answer.body
            );
        }
    }
    // Ten re-runs wait for GitHub (50 s of calls); no webhook waited for any of them.
    assert!(
        slowest < Duration::from_secs(2),
        "a webhook waited {slowest:?} for GitHub"
    );
}
