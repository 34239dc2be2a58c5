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

/// The stored detail (the outcome as JSON) of the run's re-run of attempt 1.
fn recorded_detail(db: &std::path::Path, repo: &str, run_id: u64) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("database opens");
    conn.query_row(
        "SELECT detail FROM reruns WHERE repo = ?1 AND run_id = ?2 AND attempt = 1",
        rusqlite::params![repo, run_id as i64],
        |row| row.get(0),
    )
    .expect("an outcome is recorded")
}

/// Requests GitHub received for `wanted_path`, any method.
async fn requests_to(github: &wiremock::MockServer, wanted_path: &str) -> usize {
    github
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == wanted_path)
        .count()
}

#[actix_web::test]
async fn a_redirect_in_answer_to_the_rerun_post_is_a_refusal_and_is_not_followed() {
    let github = wiremock::MockServer::start().await;
    let run = unique();
    github_shows_run(&github, "org/repo", run, "completed", Some("failure"), 1).await;
    // A proxy or an SSO gateway bounces the POST to a login page; following it would
    // turn the POST into a GET of that page, and its 200 would read as "started".
    let login = format!("{}/sso/login?state=sso-hunter2&next=x", github.uri());
    Mock::given(method("POST"))
        .and(path(rerun_path("org/repo", run)))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", login.as_str()))
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path("/sso/login"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>Sign in</html>"))
        .mount(&github)
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db.sqlite");
    let service = crate::process::Service::start(&github, &db, &[]);
    let app = crate::helpers::TestApp::for_process(service.port, github, db);
    fail_one_run(&app, "org/repo", run).await;
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "refused");
    assert_eq!(requests_to(&app.github, "/sso/login").await, 0);
    let logs = service.kill();
    assert!(
        logs.contains("/sso/login"),
        "the Location is not logged:\n{logs}"
    );
    assert!(
        !logs.contains("sso-hunter2"),
        "the Location's query is logged:\n{logs}"
    );
}

#[actix_web::test]
async fn a_temporary_redirect_of_the_rerun_post_to_another_host_is_refused_and_not_followed() {
    let app = spawn_app(&[("GITHUB_MAX_TRIES", "2")]).await;
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
    // Another port is another host: the token is for GITHUB_API_URL only.
    let other = wiremock::MockServer::start().await;
    let elsewhere = format!("{}{}", other.uri(), rerun_path("org/repo", run));
    Mock::given(method("POST"))
        .and(path(rerun_path("org/repo", run)))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", elsewhere.as_str()))
        .mount(&app.github)
        .await;
    fail_one_run(&app, "org/repo", run).await;
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "refused");
    assert_eq!(
        app.rerun_posts("org/repo", run).await.len(),
        1,
        "not retried"
    );
    let followed = other.received_requests().await.unwrap_or_default();
    assert!(followed.is_empty(), "followed to {followed:?}");
}

#[actix_web::test]
async fn a_renamed_repository_is_rerun_exactly_once_at_its_new_path() {
    let app = spawn_app(&[]).await;
    let run = unique();
    // GitHub's answers for a renamed repository: 301 to a GET, 307 to a POST, both
    // to the new path on the API host.
    let moved = |status: u16, to: String| {
        ResponseTemplate::new(status).insert_header("Location", format!("{}{to}", app.github.uri()))
    };
    Mock::given(method("GET"))
        .and(path(crate::helpers::run_path("org/old", run)))
        .respond_with(moved(301, crate::helpers::run_path("org/new", run)))
        .mount(&app.github)
        .await;
    Mock::given(method("POST"))
        .and(path(rerun_path("org/old", run)))
        .respond_with(moved(307, rerun_path("org/new", run)))
        .mount(&app.github)
        .await;
    crate::helpers::github_expects_rerun(&app.github, "org/new", run).await;
    fail_one_run(&app, "org/old", run).await;
    assert_eq!(app.outcome_of("org/old", run, 1).await, "started");
    let posts = app.rerun_posts("org/new", run).await;
    assert_eq!(posts.len(), 1, "re-run exactly once at the new path");
    let authorization = posts[0]
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    assert_eq!(
        authorization,
        Some(format!("Bearer {}", crate::helpers::TOKEN).as_str())
    );
    assert_eq!(app.rerun_posts("org/old", run).await.len(), 1);
}

#[actix_web::test]
async fn an_html_page_in_answer_to_the_rerun_post_is_not_taken_for_a_started_rerun() {
    let app = spawn_app(&[("GITHUB_MAX_TRIES", "2")]).await;
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
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "text/html")
                .set_body_string("<html>Your session expired. Sign in.</html>"),
        )
        .mount(&app.github)
        .await;
    fail_one_run(&app, "org/repo", run).await;
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "gave_up");
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 2);
}

#[actix_web::test]
async fn a_redirect_loop_gives_up_after_three_hops_as_transient() {
    let app = spawn_app(&[("GITHUB_MAX_TRIES", "2")]).await;
    let run = unique();
    // The run's URL redirects to itself: a loop, not an answer about the run.
    let itself = format!(
        "{}{}",
        app.github.uri(),
        crate::helpers::run_path("org/repo", run)
    );
    Mock::given(method("GET"))
        .and(path(crate::helpers::run_path("org/repo", run)))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", itself.as_str()))
        .mount(&app.github)
        .await;
    github_accepts_rerun(&app.github, "org/repo", run).await;
    fail_one_run(&app, "org/repo", run).await;
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "gave_up");
    assert_eq!(
        requests_to(&app.github, &crate::helpers::run_path("org/repo", run)).await,
        2 * 4,
        "per try: the GET and 3 redirects followed, then given up"
    );
    assert!(app.rerun_posts("org/repo", run).await.is_empty());
}

#[actix_web::test]
async fn the_logs_never_show_the_credentials_of_the_github_api_url() {
    let github = wiremock::MockServer::start().await;
    let run = unique();
    github_shows_run(&github, "org/repo", run, "completed", Some("failure"), 1).await;
    github_accepts_rerun(&github, "org/repo", run).await;
    let with_userinfo = github
        .uri()
        .replacen("http://", "http://robot:api-hunter2@", 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db.sqlite");
    let service = crate::process::Service::start(
        &github,
        &db,
        &[
            ("GITHUB_API_URL", with_userinfo.as_str()),
            ("GITHUB_MAX_TRIES", "1"),
        ],
    );
    let app = crate::helpers::TestApp::for_process(service.port, github, db);
    fail_one_run(&app, "org/repo", run).await;
    app.outcome_of("org/repo", run, 1).await;
    let logs = service.kill();
    assert!(logs.contains("actor started"), "{logs}");
    assert!(
        logs.contains("GitHub API call"),
        "no API call logged:\n{logs}"
    );
    assert!(
        !logs.contains("api-hunter2"),
        "the password is logged:\n{logs}"
    );
}

#[actix_web::test]
async fn githubs_error_message_is_stored_short_one_line_and_without_tokens() {
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
    let message = format!(
        "Bad token ghp_{} for \x1b[31mBearer abc.def-ghi\x1b[0m \u{202e}github_pat_11AB_cd {}",
        "A".repeat(36),
        "long ".repeat(100)
    );
    Mock::given(method("POST"))
        .and(path(rerun_path("org/repo", run)))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({ "message": message })))
        .mount(&app.github)
        .await;
    fail_one_run(&app, "org/repo", run).await;
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "refused");
    let detail: serde_json::Value =
        serde_json::from_str(&recorded_detail(&app.db_path, "org/repo", run)).expect("JSON");
    let stored = detail["message"].as_str().expect("a message");
    assert!(stored.starts_with("Bad token"), "{stored}");
    assert!(stored.chars().count() <= 200, "{stored}");
    for leak in ["ghp_", "github_pat_", "abc.def", "\x1b", "\u{202e}"] {
        assert!(!stored.contains(leak), "{leak:?} in {stored:?}");
    }
}

#[actix_web::test]
async fn a_token_quoted_by_an_unreadable_answer_is_not_stored() {
    let app = spawn_app(&[("GITHUB_MAX_TRIES", "1")]).await;
    let run = unique();
    // serde quotes the value it could not read; here that is something token-shaped.
    Mock::given(method("GET"))
        .and(path(crate::helpers::run_path("org/repo", run)))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"status": "completed", "conclusion": "failure", "run_attempt": "ghs_0123456789abcdefghijABCDEFGHIJ"}),
        ))
        .mount(&app.github)
        .await;
    fail_one_run(&app, "org/repo", run).await;
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "gave_up");
    let detail = recorded_detail(&app.db_path, "org/repo", run);
    assert!(detail.contains("unreadable answer"), "{detail}");
    assert!(!detail.contains("ghs_"), "{detail}");
}
