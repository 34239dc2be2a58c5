//! The failure policy decided on evidence, end to end (issue 9): the real service
//! with a rule that has `never_when` / `only_when` patterns, a fake GitHub serving
//! annotations and answering the logs endpoint with a 302 to a second fake host (the
//! blob store, refusing any request carrying `Authorization`), and the re-run POSTs
//! GitHub received.

use serde_json::{Value, json};
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Job, TestApp, eventually, get_page, github_expects_rerun, spawn_app, unique};

pub const REPO: &str = "org/repo";
pub const STATUS_TOKEN: &str = "a-status-token-of-some-length";

/// The service under `rules`, and the blob store its log redirects point at.
pub async fn start(rules: &str) -> (TestApp, MockServer) {
    start_with(rules, &[]).await
}

/// As [`start`], with more settings.
pub async fn start_with(rules: &str, more: &[(&str, &str)]) -> (TestApp, MockServer) {
    let mut settings = vec![("RULES", rules), ("STATUS_TOKEN", STATUS_TOKEN)];
    settings.extend_from_slice(more);
    let app = spawn_app(&settings).await;
    let blob = MockServer::start().await;
    Mock::given(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(403).set_body_string("<Error>auth refused</Error>"))
        .with_priority(1)
        .mount(&blob)
        .await;
    (app, blob)
}

/// GitHub serves `annotations` for `job` and redirects its log to the blob store,
/// which serves `log`.
pub async fn serves_evidence(
    app: &TestApp,
    blob: &MockServer,
    job: u64,
    annotations: Value,
    log: &str,
) {
    serves_evidence_in(app, blob, REPO, job, annotations, log).await;
}

/// As [`serves_evidence`], for a job of `repo`.
pub async fn serves_evidence_in(
    app: &TestApp,
    blob: &MockServer,
    repo: &str,
    job: u64,
    annotations: Value,
    log: &str,
) {
    Mock::given(method("GET"))
        .and(path(format!("/repos/{repo}/check-runs/{job}/annotations")))
        .respond_with(ResponseTemplate::new(200).set_body_json(annotations))
        .mount(&app.github)
        .await;
    let blob_path = format!("/blobs/{job}.txt");
    Mock::given(method("GET"))
        .and(path(format!("/repos/{repo}/actions/jobs/{job}/logs")))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("{}{blob_path}?sig=c2lnbmVk&sp=r", blob.uri()),
        ))
        .mount(&app.github)
        .await;
    Mock::given(method("GET"))
        .and(path(blob_path))
        .respond_with(ResponseTemplate::new(200).set_body_string(log))
        .mount(blob)
        .await;
}

/// Sends the run's one job queued and completed as a failure; the completion's status.
async fn fail_run(app: &TestApp, run: u64, job: u64) -> u16 {
    let job = Job::new(REPO, run, job).name("test");
    assert_eq!(app.send(&job.queued()).await.status, 202);
    let answer = app.send(&job.completed("failure")).await;
    assert_eq!(
        answer.status, 201,
        "decided after the delay: {}",
        answer.body
    );
    answer.status
}

/// The `/api/reruns` entry of `run`, once its attempt is recorded.
pub async fn rerun_entry(app: &TestApp, run: u64) -> Value {
    eventually(&format!("run {run} in /api/reruns"), || async {
        let page = get_page(&app.address, "/api/reruns", Some(STATUS_TOKEN)).await;
        let reruns: Value = serde_json::from_str(&page.body).ok()?;
        reruns
            .as_array()?
            .iter()
            .find(|entry| entry["run_id"] == json!(run))
            .cloned()
    })
    .await
}

#[actix_web::test]
async fn a_broken_log_matching_never_when_is_skipped_as_broken_log_without_a_post() {
    let (app, blob) = start("[defaults]\nnever_when = ['(?i)assertion.*failed']\n").await;
    let run = unique();
    github_expects_rerun(&app.github, REPO, run).await;
    let log = "2026-12-01T10:00:00.0000000Z ##[group]Run make test\n\
               2026-12-01T10:00:01.0000000Z test_sum: Assertion `sum == 4' failed.\n\
               2026-12-01T10:00:02.0000000Z ##[error]Process completed with exit code 1.\n";
    serves_evidence(&app, &blob, 11, json!([]), log).await;
    fail_run(&app, run, 11).await;
    app.outcome_becomes(REPO, run, 1, "skipped").await;
    let entry = rerun_entry(&app, run).await;
    assert_eq!(entry["outcome"], "skipped", "{entry}");
    assert_eq!(entry["reason"], "broken_log", "{entry}");
    assert_eq!(entry["job"], "test", "{entry}");
    assert_eq!(
        entry["evidence"], "test_sum: Assertion `sum == 4' failed.",
        "{entry}"
    );
    assert!(app.rerun_posts(REPO, run).await.is_empty(), "no POST");
    let metrics = get_page(&app.address, "/metrics", None).await;
    assert!(
        metrics
            .body
            .contains(r#"job_rerunner_decisions_total{decision="skip",reason="broken_log"} 1"#),
        "{}",
        metrics.body
    );
    let blob_calls = blob.received_requests().await.unwrap_or_default();
    assert!(
        blob_calls
            .iter()
            .any(|r| r.url.path() == "/blobs/11.txt" && !r.headers.contains_key("authorization")),
        "the log was read from the blob store without Authorization"
    );
}

#[actix_web::test]
async fn only_infra_with_a_lost_communication_annotation_posts_exactly_once() {
    let (app, blob) = start("[defaults]\nonly_when = [\"@infra\"]\n").await;
    let run = unique();
    github_expects_rerun(&app.github, REPO, run).await;
    let annotations = json!([{
        "annotation_level": "failure",
        "message": "The self-hosted runner: box-7 lost communication with the server. \
                    Verify the machine is running and has a healthy network connection.",
    }]);
    serves_evidence(&app, &blob, 21, annotations, "Running tests\n").await;
    fail_run(&app, run, 21).await;
    app.outcome_becomes(REPO, run, 1, "started").await;
    let posts = app.rerun_posts(REPO, run).await;
    assert_eq!(posts.len(), 1, "exactly one POST");
    assert!(posts[0].body.is_empty(), "no debug logging asked for");
    let calls = app.github.received_requests().await.unwrap_or_default();
    let annotation_reads = calls
        .iter()
        .filter(|r| r.url.path() == format!("/repos/{REPO}/check-runs/21/annotations"))
        .count();
    assert_eq!(annotation_reads, 1, "decided on the annotations, read once");
    let entry = rerun_entry(&app, run).await;
    assert_eq!(entry["outcome"], "started", "{entry}");
}

#[actix_web::test]
async fn only_when_with_nothing_matching_is_skipped_as_no_transient_match_without_a_post() {
    let (app, blob) = start("[defaults]\nonly_when = [\"@infra\", 'ECONNRESET']\n").await;
    let run = unique();
    github_expects_rerun(&app.github, REPO, run).await;
    let annotations = json!([{
        "annotation_level": "failure",
        "message": "Process completed with exit code 1.",
    }]);
    serves_evidence(&app, &blob, 31, annotations, "FAIL: test_parse\n").await;
    fail_run(&app, run, 31).await;
    app.outcome_becomes(REPO, run, 1, "skipped").await;
    let entry = rerun_entry(&app, run).await;
    assert_eq!(entry["reason"], "no_transient_match", "{entry}");
    assert_eq!(entry["job"], "test", "{entry}");
    assert!(app.rerun_posts(REPO, run).await.is_empty(), "no POST");
}

#[actix_web::test]
async fn an_expired_log_under_only_when_is_skipped_naming_the_log_unavailable() {
    let (app, _blob) = start("[defaults]\nonly_when = [\"@infra\"]\n").await;
    let run = unique();
    github_expects_rerun(&app.github, REPO, run).await;
    let job = 41;
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/check-runs/{job}/annotations")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&app.github)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/actions/jobs/{job}/logs")))
        .respond_with(
            ResponseTemplate::new(410).set_body_json(json!({"message": "Logs have expired"})),
        )
        .mount(&app.github)
        .await;
    fail_run(&app, run, job).await;
    app.outcome_becomes(REPO, run, 1, "skipped").await;
    let entry = rerun_entry(&app, run).await;
    assert_eq!(entry["reason"], "no_transient_match", "{entry}");
    assert!(
        entry["evidence"]
            .as_str()
            .is_some_and(|e| e.starts_with("log unavailable") && e.contains("410")),
        "{entry}"
    );
    assert!(app.rerun_posts(REPO, run).await.is_empty(), "no POST");
}

#[actix_web::test]
async fn the_last_automatic_rerun_under_debug_last_attempt_asks_for_debug_logs() {
    let (app, blob) =
        start("[defaults]\nattempts = 2\ndebug_last_attempt = true\nonly_when = [\"@infra\"]\n")
            .await;
    let run = unique();
    github_expects_rerun(&app.github, REPO, run).await;
    let annotations = json!([{
        "annotation_level": "failure",
        "message": "The runner has received a shutdown signal.",
    }]);
    serves_evidence(&app, &blob, 51, annotations, "").await;
    fail_run(&app, run, 51).await;
    app.outcome_becomes(REPO, run, 1, "started").await;
    let posts = app.rerun_posts(REPO, run).await;
    assert_eq!(posts.len(), 1);
    let body: Value = serde_json::from_slice(&posts[0].body).expect("a JSON body");
    assert_eq!(body, json!({"enable_debug_logging": true}));
    assert_eq!(
        posts[0]
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
}

#[actix_web::test]
async fn the_hourly_budget_is_read_again_when_deciding_on_evidence() {
    // Both runs complete within the delay: neither has spent the budget yet, so both are
    // scheduled (201); deciding on evidence, the first decided takes the hour's budget.
    let rules = "[defaults]\ndelay = \"1s\"\nbudget_per_hour = 1\nonly_when = [\"@infra\"]\n";
    let (app, blob) = start(rules).await;
    let annotations = json!([{
        "annotation_level": "failure",
        "message": "The runner has received a shutdown signal.",
    }]);
    let runs = [(unique(), 61), (unique(), 62)];
    for (run, job) in runs {
        github_expects_rerun(&app.github, REPO, run).await;
        serves_evidence(&app, &blob, job, annotations.clone(), "").await;
    }
    for (run, job) in runs {
        fail_run(&app, run, job).await;
    }
    let mut outcomes = Vec::new();
    for (run, _) in runs {
        outcomes.push(app.outcome_of(REPO, run, 1).await);
    }
    outcomes.sort();
    assert_eq!(outcomes, ["skipped", "started"]);
    assert_eq!(app.all_posts().await.len(), 1, "one POST in all");
    let skipped = runs
        .iter()
        .find(|(run, _)| app.recorded_outcome(REPO, *run, 1).as_deref() == Some("skipped"))
        .map(|(run, _)| *run)
        .expect("a skipped run");
    let entry = rerun_entry(&app, skipped).await;
    assert_eq!(entry["reason"], "budget_spent", "{entry}");
}

#[actix_web::test]
async fn the_debug_logging_body_is_sent_again_when_the_post_is_redirected_with_307() {
    // No patterns: decided at completion; the repository was renamed meanwhile.
    let app = spawn_app(&[(
        "RULES",
        "[defaults]\nattempts = 2\ndebug_last_attempt = true\n",
    )])
    .await;
    let run = unique();
    let moved = |status: u16, to: String| {
        ResponseTemplate::new(status).insert_header("Location", format!("{}{to}", app.github.uri()))
    };
    Mock::given(method("GET"))
        .and(path(crate::helpers::run_path("org/old", run)))
        .respond_with(moved(301, crate::helpers::run_path("org/new", run)))
        .mount(&app.github)
        .await;
    Mock::given(method("POST"))
        .and(path(crate::helpers::rerun_path("org/old", run)))
        .respond_with(moved(307, crate::helpers::rerun_path("org/new", run)))
        .mount(&app.github)
        .await;
    github_expects_rerun(&app.github, "org/new", run).await;
    let job = Job::new("org/old", run, 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    assert_eq!(app.outcome_of("org/old", run, 1).await, "started");
    for repo in ["org/old", "org/new"] {
        let posts = app.rerun_posts(repo, run).await;
        assert_eq!(posts.len(), 1, "{repo}");
        let body: Value = serde_json::from_slice(&posts[0].body).expect("a JSON body");
        assert_eq!(body, json!({"enable_debug_logging": true}), "{repo}");
    }
}
