//! What operators watch: metrics (checked by promtool), health, the status page (read
//! by a real headless Chromium), its JSON, dry-run.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::helpers::{
    Job, TestApp, github_accepts_rerun, github_expects_rerun, github_shows_run, spawn_app, unique,
};

const STATUS_TOKEN: &str = "status-token-for-tests";

/// A tool the test needs; `.ci/run` installs it. The tests that need one are ignored by a
/// plain `cargo test`; asked to run without it, they fail saying so.
pub(crate) fn tool(name: &str, test: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    found.unwrap_or_else(|| panic!("{test} needs {name}: .ci/run installs it"))
}

async fn get(app: &TestApp, path: &str, bearer: Option<&str>) -> (u16, String) {
    let mut request = awc::Client::default().get(format!("{}{path}", app.address));
    if let Some(token) = bearer {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let mut response = request.send().await.expect("answers");
    let body = response.body().limit(4 << 20).await.expect("body");
    (
        response.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// One run of each kind: re-run and then flaky, failed and waiting, passing.
async fn some_history(app: &TestApp) -> (u64, u64) {
    let flaky_run = unique();
    github_expects_rerun(&app.github, "tarantool/tarantool", flaky_run).await;
    let build = Job::new("tarantool/tarantool", flaky_run, 1);
    app.send(&build.queued()).await;
    assert_eq!(app.send(&build.completed("failure")).await.status, 201);
    app.outcome_of("tarantool/tarantool", flaky_run, 1).await;
    // The automatic re-run (attempt 2) passes: the job is flaky.
    let mut retried = Job::new("tarantool/tarantool", flaky_run, 2).attempt(2);
    retried.job_id = 2;
    let mut payload = retried.completed("success");
    payload["workflow_job"]["name"] = "job-1".into();
    let mut queued = retried.queued();
    queued["workflow_job"]["name"] = "job-1".into();
    app.send(&queued).await;
    assert_eq!(app.send(&payload).await.status, 200);

    let waiting = unique();
    let unfinished = Job::new("org/private-repo", waiting, 7);
    app.send(&unfinished.queued()).await;
    let passing = Job::new("org/other", unique(), 1);
    app.send(&passing.queued()).await;
    app.send(&passing.completed("success")).await;
    (flaky_run, waiting)
}

/// `/metrics` after some history and one refused delivery.
async fn metrics_after_some_history() -> String {
    let app = spawn_app(&[]).await;
    some_history(&app).await;
    app.post(b"{}".to_vec(), &[("X-Hub-Signature-256", "sha256=00")])
        .await;
    let (status, text) = get(&app, "/metrics", None).await;
    assert_eq!(status, 200);
    text
}

#[actix_web::test]
async fn metrics_count_what_happened() {
    let text = metrics_after_some_history().await;
    for expected in [
        r#"job_rerunner_webhooks_total{action="completed",event="workflow_job",status="201"} 1"#,
        r#"job_rerunner_webhooks_total{action="",event="",status="403"} 1"#,
        "job_rerunner_signature_failures_total 1",
        r#"job_rerunner_reruns_total{outcome="started"} 1"#,
        r#"job_rerunner_github_api_calls_total{endpoint="rerun_failed_jobs",status="201"} 1"#,
        r#"job_rerunner_github_api_calls_total{endpoint="get_run",status="200"} 1"#,
        "job_rerunner_github_api_duration_seconds_bucket",
        "job_rerunner_webhook_duration_seconds_count",
        "job_rerunner_store_commit_duration_seconds_count",
        "job_rerunner_github_queue_depth 0",
        "job_rerunner_trackers ",
        "job_rerunner_trackers_awake ",
        "job_rerunner_runs_tracked ",
        "job_rerunner_tracker_starts_total ",
        "job_rerunner_tracker_sleeps_total ",
        "job_rerunner_tracker_messages_waiting 0",
        "job_rerunner_github_ratelimit_remaining -1",
        // What an operator alerts on: the process, the build, the pending re-runs.
        "\nprocess_resident_memory_bytes ",
        "\nprocess_cpu_seconds_total ",
        "\nprocess_open_fds ",
        &format!(
            r#"job_rerunner_build_info{{version="{}"}} 1"#,
            env!("CARGO_PKG_VERSION")
        ),
        r#"job_rerunner_reruns_pending{state="scheduled"} "#,
        r#"job_rerunner_reruns_pending{state="in_flight"} "#,
        "job_rerunner_oldest_overdue_rerun_seconds ",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let resident = sample(&text, "process_resident_memory_bytes");
    assert!(
        resident > 1e6,
        "RSS of {resident} bytes is not this process's"
    );
}

#[actix_web::test]
#[ignore = "needs promtool (Debian's prometheus), with --include-ignored"]
async fn promtool_accepts_the_metrics() {
    let promtool = tool("promtool", "promtool_accepts_the_metrics");
    let text = metrics_after_some_history().await;
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), &text).expect("write");
    let checked = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(file.path()).expect("open"))
        .output()
        .expect("promtool runs");
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// The value of the sample `series` (name and labels, as written) in a metrics page.
pub(crate) fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

#[actix_web::test]
async fn the_pending_gauges_count_a_scheduled_rerun() {
    // Due in a minute: scheduled, not overdue.
    let app = spawn_app(&[("RERUN_DELAY", "60"), ("SUMMARY_EVERY", "0.05")]).await;
    let job = Job::new("org/repo", unique(), 1);
    app.send(&job.queued()).await;
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    let text = crate::helpers::eventually("the scheduled re-run in the gauges", || async {
        let (_, text) = get(&app, "/metrics", None).await;
        (sample(&text, r#"job_rerunner_reruns_pending{state="scheduled"}"#) == 1.0).then_some(text)
    })
    .await;
    assert_eq!(
        sample(&text, r#"job_rerunner_reruns_pending{state="in_flight"}"#),
        0.0
    );
    assert_eq!(
        sample(&text, "job_rerunner_oldest_overdue_rerun_seconds"),
        0.0
    );
}

#[actix_web::test]
async fn the_pending_gauges_show_a_claim_that_ran_out_as_overdue() {
    // GitHub takes 5 s to show the run, the claim holds 0.3 s: the re-run stays in flight
    // past its lease, which is what a hung or dead instance looks like.
    let app = spawn_app(&[
        ("CLAIM_LEASE", "0.3"),
        ("OUTBOX_POLL", "60"),
        ("SUMMARY_EVERY", "0.05"),
    ])
    .await;
    let run = unique();
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"status": "completed", "conclusion": "failure", "run_attempt": 1}))
                .set_delay(std::time::Duration::from_secs(5)),
        )
        .mount(&app.github)
        .await;
    let job = Job::new("org/repo", run, 1);
    app.send(&job.queued()).await;
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    let text = crate::helpers::eventually("the overdue claim in the gauges", || async {
        let (_, text) = get(&app, "/metrics", None).await;
        (sample(&text, "job_rerunner_oldest_overdue_rerun_seconds") >= 0.5).then_some(text)
    })
    .await;
    assert_eq!(
        sample(&text, r#"job_rerunner_reruns_pending{state="in_flight"}"#),
        1.0
    );
    assert_eq!(
        sample(&text, r#"job_rerunner_reruns_pending{state="scheduled"}"#),
        0.0
    );
}

#[actix_web::test]
async fn health_and_readiness_answer() {
    let app = spawn_app(&[]).await;
    assert_eq!(get(&app, "/healthz", None).await, (200, "ok\n".to_owned()));
    assert_eq!(
        get(&app, "/readyz", None).await,
        (200, "ready\n".to_owned())
    );
}

#[actix_web::test]
async fn the_status_page_is_off_without_a_token_and_closed_without_credentials() {
    let off = spawn_app(&[]).await;
    let (status, body) = get(&off, "/status", None).await;
    assert_eq!(status, 404);
    assert!(body.contains("set STATUS_TOKEN"), "{body}");
    assert_eq!(get(&off, "/api/runs", Some("anything")).await.0, 404);

    let on = spawn_app(&[("STATUS_TOKEN", STATUS_TOKEN)]).await;
    assert_eq!(get(&on, "/status", None).await.0, 401);
    assert_eq!(get(&on, "/api/status", Some("wrong")).await.0, 401);
    assert_eq!(get(&on, "/status", Some(STATUS_TOKEN)).await.0, 200);
}

#[actix_web::test]
async fn the_api_reports_tracked_runs_reruns_and_flaky_jobs() {
    let app = spawn_app(&[("STATUS_TOKEN", STATUS_TOKEN)]).await;
    let (flaky_run, waiting) = some_history(&app).await;
    let (status, body) = get(&app, "/api/status", Some(STATUS_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).expect("JSON");
    let runs = json["runs"].as_array().expect("runs");
    assert!(
        runs.iter()
            .any(|run| run["run_id"] == waiting && run["unfinished_jobs"][0] == "job-7"),
        "{runs:?}"
    );
    assert!(
        runs.iter().all(|run| run["repo"] != "org/other"),
        "finished runs are not 'tracked now'"
    );
    let reruns = json["reruns"].as_array().expect("reruns");
    assert_eq!(reruns.len(), 1);
    assert_eq!(reruns[0]["run_id"], flaky_run);
    assert_eq!(reruns[0]["outcome"], "started");
    assert_eq!(
        reruns[0]["url"],
        format!(
            "{}/tarantool/tarantool/actions/runs/{flaky_run}",
            app.github.uri()
        )
    );
    assert_eq!(json["reruns_per_hour"].as_array().expect("hours").len(), 24);
    assert_eq!(json["reruns_per_hour"][23], 1);
    let flaky = &json["flaky_jobs"];
    assert_eq!(flaky[0]["repo"], "tarantool/tarantool");
    assert_eq!(flaky[0]["job"], "job-1");
    assert_eq!(flaky[0]["times"], 1);
    let (_, flaky_only) = get(&app, "/api/flaky", Some(STATUS_TOKEN)).await;
    assert_eq!(
        serde_json::from_str::<Value>(&flaky_only).expect("JSON"),
        *flaky
    );
}

pub(crate) fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    let browser = tool("chromium", "the_status_page_shows_in_a_real_browser");
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

#[actix_web::test]
#[ignore = "needs chromium (Debian's chromium), with --include-ignored"]
async fn the_status_page_shows_in_a_real_browser() {
    let app = spawn_app(&[("STATUS_TOKEN", STATUS_TOKEN)]).await;
    let (flaky_run, waiting) = some_history(&app).await;
    // The browser logs in with basic auth: any user name, the token as password.
    let url = app
        .address
        .replace("http://", &format!("http://ops:{STATUS_TOKEN}@"))
        + "/status";
    let profile = tempfile::tempdir().expect("profile dir");
    let address = url.clone();
    let page = actix_web::rt::task::spawn_blocking(move || {
        chromium(
            &["--virtual-time-budget=3000", "--dump-dom", &address],
            profile.path(),
        )
    })
    .await
    .expect("browser task");
    let dom = String::from_utf8_lossy(&page.stdout);
    assert!(
        dom.contains("<h1>job-rerunner</h1>"),
        "the browser did not show the page: {dom}"
    );
    assert!(
        dom.contains("Flaky jobs") && dom.contains(r#"<td data-label="job">job-1</td>"#),
        "{dom}"
    );
    assert!(
        dom.contains(&format!(">{flaky_run}</a>")) && dom.contains(r#"class="started""#),
        "{dom}"
    );
    assert!(
        dom.contains(&format!(">{waiting}</a>")) && dom.contains("org/private-repo"),
        "{dom}"
    );
    assert_eq!(
        dom.matches("<rect").count(),
        24,
        "the chart has a bar per hour"
    );
}

#[actix_web::test]
async fn a_dry_run_decides_and_logs_but_never_calls_the_rerun_endpoint() {
    let app = spawn_app(&[("DRY_RUN", "true")]).await;
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
    github_accepts_rerun(&app.github, "org/repo", run).await;
    let job = Job::new("org/repo", run, 1);
    app.send(&job.queued()).await;
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "dry_run");
    assert!(app.all_posts().await.is_empty(), "a dry run must not POST");
}

#[actix_web::test]
async fn the_logs_summarise_the_mailboxes_and_warn_of_a_backlog() {
    let github = wiremock::MockServer::start().await;
    let run = unique();
    // A slow GitHub keeps one re-run in the GitHub actor's queue.
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"status": "completed", "conclusion": "failure", "run_attempt": 1}))
                .set_delay(std::time::Duration::from_secs(3)),
        )
        .mount(&github)
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let service = crate::process::Service::start(
        &github,
        &dir.path().join("db.sqlite"),
        &[("SUMMARY_EVERY", "0.2"), ("BACKLOG_WARNING", "0")],
    );
    let client = awc::Client::default();
    let address = format!("http://127.0.0.1:{}", service.port);
    let job = Job::new("org/repo", run, 1);
    crate::helpers::send_to(&client, &address, &job.queued()).await;
    assert_eq!(
        crate::helpers::send_to(&client, &address, &job.completed("failure"))
            .await
            .status,
        201
    );
    let logs = crate::helpers::eventually("a backlog warning", || async {
        let logs = service.logs();
        logs.contains(r#""msg":"backlog growing""#).then_some(logs)
    })
    .await;
    let summary = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["msg"] == "mailboxes" && line["github_queue"] == 1)
        .unwrap_or_else(|| panic!("no summary with the queued re-run in:\n{logs}"));
    assert!(
        summary["trackers_awake"].as_u64().is_some_and(|n| n >= 1),
        "{summary}"
    );
    assert!(
        summary["runs_tracked"].as_u64().is_some_and(|n| n >= 1),
        "the run is in the store: {summary}"
    );
    assert_eq!(summary["tracker_messages_waiting"], 0);
    service.kill();
}
