//! GitHub App authentication end to end: a fake GitHub that checks the App's JWT
//! (signature with the test key under tests/fixtures, `iat`/`exp` window, `iss`) and
//! issues installation tokens with an expiry; the re-run POSTs' `Authorization`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{
    Job, TOKEN, TestApp, eventually, get_page, github_expects_rerun, run_path, spawn_app, unique,
};
use crate::process::Service;

const APP_ID: &str = "31337";
const PUBLIC_KEY: &str = include_str!("../fixtures/github-app-test-key.pub.pem");

fn key_file() -> String {
    format!(
        "{}/tests/fixtures/github-app-test-key.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The settings of a service authenticating as the test App (`GITHUB_TOKEN` stays set
/// by the test settings).
fn app_settings(key_file: &str) -> [(&'static str, String); 2] {
    [
        ("GITHUB_APP_ID", APP_ID.to_owned()),
        ("GITHUB_APP_PRIVATE_KEY_FILE", key_file.to_owned()),
    ]
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[derive(serde::Deserialize)]
struct Claims {
    iat: u64,
    exp: u64,
}

/// GitHub's `POST /app/installations/{id}/access_tokens`: refuses (401) a JWT that is
/// not RS256-signed with the test key by the App `APP_ID`, issued about a minute back
/// and expiring within 10 minutes; otherwise issues `ghs-{id}-{n}` expiring in
/// `expires_in` seconds.
#[derive(Clone)]
pub(crate) struct FakeApp {
    issued: Arc<Mutex<HashMap<u64, u32>>>,
    /// When each token was asked for.
    asked_at: Arc<Mutex<Vec<std::time::Instant>>>,
    expires_in: u64,
}

impl FakeApp {
    async fn mount(github: &MockServer, expires_in: u64) -> Self {
        let fake = FakeApp {
            issued: Arc::default(),
            asked_at: Arc::default(),
            expires_in,
        };
        Mock::given(method("POST"))
            .and(path_regex(
                r"^(/api/v3)?/app/installations/\d+/access_tokens$",
            ))
            .respond_with(fake.clone())
            .mount(github)
            .await;
        fake
    }

    fn issued(&self, installation: u64) -> u32 {
        self.issued
            .lock()
            .expect("counts")
            .get(&installation)
            .copied()
            .unwrap_or(0)
    }

    fn jwt_problem(request: &Request) -> Option<String> {
        let header = request.headers.get("authorization")?.to_str().ok()?;
        let jwt = header.strip_prefix("Bearer ")?;
        let key = DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).ok()?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[APP_ID]);
        validation.leeway = 0;
        let claims = match jsonwebtoken::decode::<Claims>(jwt, &key, &validation) {
            Ok(decoded) => decoded.claims,
            Err(err) => return Some(format!("bad JWT: {err}")),
        };
        let now = now();
        if claims.iat > now.saturating_sub(50) || claims.iat < now.saturating_sub(70) {
            return Some(format!("iat {} is not about a minute back", claims.iat));
        }
        if claims.exp > now + 600 {
            return Some("exp is more than 10 minutes ahead".into());
        }
        None
    }
}

impl Respond for FakeApp {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if request.headers.get("authorization").is_none() {
            return ResponseTemplate::new(401).set_body_json(json!({"message": "no JWT"}));
        }
        if let Some(problem) = Self::jwt_problem(request) {
            return ResponseTemplate::new(401).set_body_json(json!({"message": problem}));
        }
        let installation: u64 = request
            .url
            .path()
            .split('/')
            .skip_while(|part| *part != "installations")
            .nth(1)
            .and_then(|id| id.parse().ok())
            .unwrap_or(0);
        self.asked_at
            .lock()
            .expect("times")
            .push(std::time::Instant::now());
        let n = {
            let mut issued = self.issued.lock().expect("counts");
            let n = issued.entry(installation).or_insert(0);
            *n += 1;
            *n
        };
        let expires_at = SystemTime::now() + Duration::from_secs(self.expires_in);
        ResponseTemplate::new(201).set_body_json(json!({
            "token": format!("ghs-{installation}-{n}"),
            "expires_at": humantime::format_rfc3339_seconds(expires_at).to_string(),
            "permissions": {"actions": "write", "checks": "write", "metadata": "read"},
        }))
    }
}

/// The `Authorization` header of each re-run POST of the run, in order.
async fn rerun_authorizations(app: &TestApp, repo: &str, run: u64) -> Vec<String> {
    app.rerun_posts(repo, run)
        .await
        .iter()
        .map(|request| {
            request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_owned()
        })
        .collect()
}

/// Fails a job of a new run (queued, then completed as a failure) and waits for its
/// re-run's outcome.
pub(crate) async fn rerun_one(app: &TestApp, job: &Job) -> String {
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    app.outcome_of(&job.repo, job.run_id, 1).await
}

/// The service as the test App, reporting no check runs (their token fetches would
/// count with the re-runs').
async fn spawn_app_as_app(expires_in: u64) -> (TestApp, FakeApp) {
    spawn_app_as_app_with(expires_in, &[]).await
}

/// As [`spawn_app_as_app`], with `more` settings.
async fn spawn_app_as_app_with(expires_in: u64, more: &[(&str, &str)]) -> (TestApp, FakeApp) {
    let key = key_file();
    let settings = app_settings(&key);
    let mut overrides: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.push(("REPORT", "off"));
    overrides.extend_from_slice(more);
    let app = spawn_app(&overrides).await;
    let fake = FakeApp::mount(&app.github, expires_in).await;
    (app, fake)
}

#[actix_web::test]
async fn app_and_token_events_side_by_side_are_each_rerun_with_their_own_credential() {
    let (app, fake) = spawn_app_as_app(3600).await;
    let (from_app, from_hook) = (unique(), unique());
    github_expects_rerun(&app.github, "org/installed", from_app).await;
    github_expects_rerun(&app.github, "org/hooked", from_hook).await;

    let installed = Job::new("org/installed", from_app, 1).installation(11);
    let hooked = Job::new("org/hooked", from_hook, 2);
    assert_eq!(rerun_one(&app, &installed).await, "started");
    assert_eq!(rerun_one(&app, &hooked).await, "started");

    assert_eq!(
        rerun_authorizations(&app, "org/installed", from_app).await,
        ["Bearer ghs-11-1"]
    );
    assert_eq!(
        rerun_authorizations(&app, "org/hooked", from_hook).await,
        [format!("Bearer {TOKEN}")]
    );
    assert_eq!(fake.issued(11), 1, "one installation token");
}

/// Two runs of `installation` re-run one after the other, the fake's tokens expiring
/// in `expires_in` seconds: each re-run POST's `Authorization`, and the tokens issued.
async fn two_reruns(installation: u64, expires_in: u64) -> ([Vec<String>; 2], u32) {
    let (app, fake) = spawn_app_as_app(expires_in).await;
    let runs = [unique(), unique()];
    let mut authorizations = [Vec::new(), Vec::new()];
    for (run, seen) in runs.into_iter().zip(&mut authorizations) {
        github_expects_rerun(&app.github, "org/installed", run).await;
        let job = Job::new("org/installed", run, run).installation(installation);
        assert_eq!(rerun_one(&app, &job).await, "started");
        *seen = rerun_authorizations(&app, "org/installed", run).await;
    }
    (authorizations, fake.issued(installation))
}

#[actix_web::test]
async fn a_cached_installation_token_serves_the_next_rerun_until_near_its_expiry() {
    let ([first, second], issued) = two_reruns(12, 3600).await;
    assert_eq!(first, ["Bearer ghs-12-1"]);
    assert_eq!(second, ["Bearer ghs-12-1"]);
    assert_eq!(issued, 1, "the token was cached");
}

#[actix_web::test]
async fn a_token_that_expires_between_two_reruns_is_fetched_anew_for_the_second() {
    // Two minutes left is within the refresh margin: the second re-run needs another.
    let ([first, second], issued) = two_reruns(13, 120).await;
    assert_eq!(first, ["Bearer ghs-13-1"]);
    assert_eq!(second, ["Bearer ghs-13-2"]);
    assert_eq!(issued, 2);
}

#[actix_web::test]
async fn an_installation_token_answered_401_is_fetched_anew_once_and_the_rerun_made() {
    let (app, fake) = spawn_app_as_app(3600).await;
    let run = unique();
    // GitHub revoked the first token: every call made with it is refused.
    Mock::given(header("authorization", "Bearer ghs-14-1"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
        )
        .with_priority(1)
        .mount(&app.github)
        .await;
    github_expects_rerun(&app.github, "org/installed", run).await;
    let job = Job::new("org/installed", run, 1).installation(14);
    assert_eq!(rerun_one(&app, &job).await, "started");
    assert_eq!(
        rerun_authorizations(&app, "org/installed", run).await,
        ["Bearer ghs-14-2"]
    );
    assert_eq!(fake.issued(14), 2, "refreshed once");
}

#[actix_web::test]
async fn a_token_refused_again_after_its_refresh_refuses_the_rerun_without_asking_a_third() {
    let (app, fake) = spawn_app_as_app(3600).await;
    let run = unique();
    Mock::given(method("GET"))
        .and(path(run_path("org/installed", run)))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"})),
        )
        .mount(&app.github)
        .await;
    let job = Job::new("org/installed", run, 1).installation(15);
    assert_eq!(rerun_one(&app, &job).await, "refused");
    assert_eq!(fake.issued(15), 2, "one refresh, no loop");
    assert!(app.rerun_posts("org/installed", run).await.is_empty());
}

#[actix_web::test]
async fn new_installations_tokens_are_asked_for_min_interval_apart_and_their_idle_lanes_dropped() {
    let (app, fake) = spawn_app_as_app_with(3600, &[("GITHUB_MIN_INTERVAL", "0.3")]).await;
    let jobs: Vec<Job> = (0..4u64)
        .map(|i| {
            let run = unique();
            Job::new(&format!("org/burst{i}"), run, 1).installation(40 + i)
        })
        .collect();
    for job in &jobs {
        github_expects_rerun(&app.github, &job.repo, job.run_id).await;
    }

    // Four installations fail at once: four tokens are needed at the same moment.
    let outcomes =
        futures_util::future::join_all(jobs.iter().map(|job| rerun_one(&app, job))).await;

    assert!(outcomes.iter().all(|o| o == "started"), "{outcomes:?}");
    let mut asked = fake.asked_at.lock().expect("times").clone();
    asked.sort();
    assert_eq!(asked.len(), 4);
    let gaps: Vec<u128> = asked
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    println!("gaps between token requests: {gaps:?} ms");
    assert!(gaps.iter().all(|&gap| gap >= 250), "{gaps:?}");
    // Once GITHUB_MIN_INTERVAL passed since their POSTs, no installation's lane is kept.
    eventually("idle lanes dropped", || async {
        let metrics = get_page(&app.address, "/metrics", None).await.body;
        metrics
            .lines()
            .any(|line| line == "job_rerunner_github_lanes 0")
            .then_some(())
    })
    .await;
}

#[actix_web::test]
async fn a_rate_limited_installation_does_not_hold_back_another_installations_rerun() {
    let (app, _fake) = spawn_app_as_app(3600).await;
    let (limited, other) = (unique(), unique());
    let reset = (now() + 3000).to_string();
    Mock::given(header("authorization", "Bearer ghs-21-1"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.as_str())
                .set_body_json(
                    json!({"message": "API rate limit exceeded for installation ID 21."}),
                ),
        )
        .with_priority(1)
        .mount(&app.github)
        .await;
    github_expects_rerun(&app.github, "org/limited", limited).await;
    github_expects_rerun(&app.github, "org/other", other).await;

    let paused = Job::new("org/limited", limited, 1).installation(21);
    assert_eq!(app.send(&paused.queued()).await.status, 202);
    assert_eq!(app.send(&paused.completed("failure")).await.status, 201);
    // Installation 21 is paused for 50 minutes once its run was read.
    eventually("installation 21's rate limit", || async {
        let requests = app.github.received_requests().await.unwrap_or_default();
        requests
            .iter()
            .any(|r| r.url.path() == run_path("org/limited", limited))
            .then_some(())
    })
    .await;
    let free = Job::new("org/other", other, 2).installation(22);
    assert_eq!(rerun_one(&app, &free).await, "started");
    assert_eq!(
        rerun_authorizations(&app, "org/other", other).await,
        ["Bearer ghs-22-1"]
    );
    assert!(app.rerun_posts("org/limited", limited).await.is_empty());
    assert_eq!(
        app.recorded_outcome("org/limited", limited, 1),
        None,
        "still paused"
    );
}

#[actix_web::test]
async fn the_installation_survives_a_restart_and_the_decided_rerun_uses_its_token() {
    let github = MockServer::start().await;
    let fake = FakeApp::mount(&github, 3600).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db/job-rerunner.db");
    let run = unique();
    github_expects_rerun(&github, "org/installed", run).await;
    let job = Job::new("org/installed", run, 1).installation(77);
    let key = key_file();
    let [id, key_path] = app_settings(&key);
    let with = |delay: &'static str| {
        vec![
            (id.0, id.1.clone()),
            (key_path.0, key_path.1.clone()),
            ("RERUN_DELAY", delay.to_owned()),
        ]
    };
    let extra = with("3");
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let first = Service::start(&github, &db, &extra);
    let app = TestApp::for_process(first.port, github, db.clone());
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    let logs = first.kill();
    assert!(app.rerun_posts("org/installed", run).await.is_empty());

    let extra = with("0");
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let second = Service::start(&app.github, &db, &extra);
    let app = TestApp::for_process(second.port, app.github, db.clone());
    assert_eq!(app.outcome_of("org/installed", run, 1).await, "started");
    assert_eq!(
        rerun_authorizations(&app, "org/installed", run).await,
        ["Bearer ghs-77-1"]
    );
    assert_eq!(fake.issued(77), 1);
    let logs = logs + &second.kill();
    assert!(logs.contains("installation token fetched"), "{logs}");
    for secret in ["ghs-77", "eyJ", "PRIVATE KEY", TOKEN] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}

#[test]
fn a_bad_private_key_stops_start_up_and_check_config_with_one_line_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret_body = "c2VjcmV0LWtleS1ib2R5";
    let bad =
        format!("-----BEGIN RSA PRIVATE KEY-----\\n{secret_body}\\n-----END RSA PRIVATE KEY-----");
    let bad_file = dir.path().join("bad.pem");
    std::fs::write(&bad_file, bad.replace("\\n", "\n")).expect("written");
    let bad_file = bad_file.display().to_string();
    for (variable, value) in [
        ("GITHUB_APP_PRIVATE_KEY", bad.as_str()),
        ("GITHUB_APP_PRIVATE_KEY_FILE", bad_file.as_str()),
    ] {
        for args in [&[][..], &["check-config"][..]] {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_job-rerunner"))
                .args(args)
                .env_clear()
                .env("GITHUB_SIGN_KEY", "k")
                .env("HOST", "127.0.0.1")
                .env("PORT", "0")
                .env(
                    "DATABASE_URL",
                    format!("sqlite://{}/db", dir.path().display()),
                )
                .env("GITHUB_APP_ID", APP_ID)
                .env(variable, value)
                .output()
                .expect("runs");
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{variable} {args:?}: {stderr}"
            );
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(
                stderr.contains(&format!("{variable}: is not an RSA private key")),
                "{stderr}"
            );
            assert!(
                !stderr.contains(secret_body) && !stdout.contains(secret_body),
                "the key leaked: {stderr}{stdout}"
            );
        }
    }
}

#[actix_web::test]
async fn under_a_ghes_api_base_an_installations_evidence_and_rerun_use_its_token() {
    let github = MockServer::start().await;
    let base = format!("{}/api/v3", github.uri());
    let key = key_file();
    let [id, key_path] = app_settings(&key);
    let rules = "[defaults]\nnever_when = ['error\\[E0308\\]']\n";
    let overrides = [
        (id.0, id.1.as_str()),
        (key_path.0, key_path.1.as_str()),
        ("GITHUB_API_URL", base.as_str()),
        ("RULES", rules),
    ];
    let app = crate::helpers::spawn_app_with_github(github, &overrides).await;
    let fake = FakeApp::mount(&app.github, 3600).await;
    let (run, job) = (unique(), unique());
    let api = |rest: String| format!("/api/v3{rest}");
    Mock::given(method("GET"))
        .and(path(api(run_path("org/installed", run))))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": run, "status": "completed", "conclusion": "failure", "run_attempt": 1}),
        ))
        .mount(&app.github)
        .await;
    Mock::given(method("POST"))
        .and(path(api(format!(
            "{}/rerun-failed-jobs",
            run_path("org/installed", run)
        ))))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .mount(&app.github)
        .await;
    Mock::given(method("GET"))
        .and(path(api(format!(
            "/repos/org/installed/check-runs/{job}/annotations"
        ))))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&app.github)
        .await;
    Mock::given(method("GET"))
        .and(path(api(format!(
            "/repos/org/installed/actions/jobs/{job}/logs"
        ))))
        .respond_with(ResponseTemplate::new(200).set_body_string("the runner lost communication\n"))
        .mount(&app.github)
        .await;

    let failed = Job::new("org/installed", run, job).installation(31);
    assert_eq!(rerun_one(&app, &failed).await, "started");
    assert_eq!(fake.issued(31), 1);
    let requests = app.github.received_requests().await.unwrap_or_default();
    let token_asked = requests
        .iter()
        .any(|r| r.url.path() == "/api/v3/app/installations/31/access_tokens");
    assert!(token_asked, "the token is asked for under GITHUB_API_URL");
    let calls: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path().starts_with("/api/v3/repos/"))
        .map(|r| {
            let auth = r.headers.get("authorization").and_then(|v| v.to_str().ok());
            (r.url.path().to_owned(), auth.unwrap_or("none").to_owned())
        })
        .collect();
    assert!(calls.len() >= 4, "run, annotations, log, re-run: {calls:?}");
    assert!(
        calls.iter().all(|(_, auth)| auth == "Bearer ghs-31-1"),
        "{calls:?}"
    );
    assert!(calls.iter().any(|(p, _)| p.ends_with("/logs")), "{calls:?}");
}

/// The check runs GitHub received for `repo`: each body, with its `Authorization`.
pub(crate) async fn check_runs(app: &TestApp, repo: &str) -> Vec<(serde_json::Value, String)> {
    let wanted = format!("/repos/{repo}/check-runs");
    app.all_posts()
        .await
        .into_iter()
        .filter(|r| r.url.path() == wanted)
        .map(|r| {
            let auth = r.headers.get("authorization").and_then(|v| v.to_str().ok());
            let body = serde_json::from_slice(&r.body).unwrap_or_default();
            (body, auth.unwrap_or("none").to_owned())
        })
        .collect()
}

pub(crate) async fn github_takes_check_runs(github: &MockServer, repo: &str, status: u16) {
    Mock::given(method("POST"))
        .and(path(format!("/repos/{repo}/check-runs")))
        .respond_with(ResponseTemplate::new(status).set_body_json(json!({"id": 1})))
        .mount(github)
        .await;
}

async fn spawn_reporting_app() -> (TestApp, FakeApp) {
    spawn_reporting_app_with(&[]).await
}

/// As [`spawn_reporting_app`], with more settings (a policy).
pub(crate) async fn spawn_reporting_app_with(more: &[(&str, &str)]) -> (TestApp, FakeApp) {
    let key = key_file();
    let [id, key_path] = app_settings(&key);
    let mut settings = vec![
        (id.0, id.1.as_str()),
        (key_path.0, key_path.1.as_str()),
        ("PUBLIC_URL", "https://rerun.example/"),
    ];
    settings.extend_from_slice(more);
    let app = spawn_app(&settings).await;
    let fake = FakeApp::mount(&app.github, 3600).await;
    (app, fake)
}

/// GitHub serves `annotations` and `log` for `job` of `repo` (the log without a
/// redirect: the fake GitHub is its own blob store here).
pub(crate) async fn github_serves_evidence(
    github: &MockServer,
    repo: &str,
    job: u64,
    annotations: serde_json::Value,
    log: &str,
) {
    Mock::given(method("GET"))
        .and(path(format!("/repos/{repo}/check-runs/{job}/annotations")))
        .respond_with(ResponseTemplate::new(200).set_body_json(annotations))
        .mount(github)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/{repo}/actions/jobs/{job}/logs")))
        .respond_with(ResponseTemplate::new(200).set_body_string(log.to_owned()))
        .mount(github)
        .await;
}

#[actix_web::test]
async fn decisions_taken_on_evidence_are_reported_with_the_line_they_rest_on() {
    let rules = "[defaults]\nonly_when = [\"@infra\"]\nnever_when = ['error\\[E\\d+\\]']\n";
    let (app, _fake) = spawn_reporting_app_with(&[("RULES", rules)]).await;
    let (flaky, broken) = (unique(), unique());
    github_takes_check_runs(&app.github, "org/flaky", 201).await;
    github_takes_check_runs(&app.github, "org/broken", 201).await;
    github_expects_rerun(&app.github, "org/flaky", flaky).await;
    github_expects_rerun(&app.github, "org/broken", broken).await;
    let lost = "The self-hosted runner: box-7 lost communication with the server.";
    let annotations = json!([{"annotation_level": "failure", "message": lost}]);
    github_serves_evidence(&app.github, "org/flaky", 71, annotations, "Running tests\n").await;
    let log = "Compiling app\nerror[E0308]: mismatched types\n";
    github_serves_evidence(&app.github, "org/broken", 72, json!([]), log).await;

    let job = Job::new("org/flaky", flaky, 71)
        .name("test (5, 1)")
        .installation(51);
    assert_eq!(rerun_one(&app, &job).await, "started");
    let (body, _) = eventually("the started re-run's check run", || async {
        check_runs(&app, "org/flaky").await.pop()
    })
    .await;
    let title = body["output"]["title"].as_str().unwrap_or_default();
    assert_eq!(
        title,
        format!("re-run 1 of 3 started: job `test (5, 1)` failed, {lost}")
    );

    let job = Job::new("org/broken", broken, 72)
        .name("build")
        .installation(51);
    assert_eq!(rerun_one(&app, &job).await, "skipped");
    let (body, _) = eventually("the skip's check run", || async {
        check_runs(&app, "org/broken").await.pop()
    })
    .await;
    let title = body["output"]["title"].as_str().unwrap_or_default();
    assert!(title.starts_with("not re-run: job build: "), "{title}");
    assert!(title.contains("error[E0308]"), "{title}");
    assert!(title.ends_with("(broken_log)"), "{title}");
    assert!(app.rerun_posts("org/broken", broken).await.is_empty());
}

#[actix_web::test]
async fn a_started_rerun_of_an_installation_is_reported_as_a_neutral_check_run_on_its_commit() {
    let (app, _fake) = spawn_reporting_app().await;
    let (installed, hooked) = (unique(), unique());
    github_expects_rerun(&app.github, "org/installed", installed).await;
    github_expects_rerun(&app.github, "org/hooked", hooked).await;
    github_takes_check_runs(&app.github, "org/installed", 201).await;
    github_takes_check_runs(&app.github, "org/hooked", 201).await;
    let token_run = Job::new("org/hooked", hooked, 1);
    assert_eq!(rerun_one(&app, &token_run).await, "started");
    let job = Job::new("org/installed", installed, 2)
        .name("test (5, 1)")
        .installation(41);
    assert_eq!(rerun_one(&app, &job).await, "started");

    let reported = eventually("the check run", || async {
        check_runs(&app, "org/installed").await.pop()
    })
    .await;
    let (body, auth) = reported;
    assert_eq!(auth, "Bearer ghs-41-1");
    assert_eq!(body["name"], "job-rerunner");
    assert_eq!(body["head_sha"], "0d5ec357fb8684bd26a74f0b8b3a5020768688eb");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["conclusion"], "neutral");
    assert_eq!(
        body["output"]["title"],
        "re-run 1 of 3 started: job `test (5, 1)` failed"
    );
    assert_eq!(body["details_url"], "https://rerun.example/status");
    let summary = body["output"]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("https://rerun.example/status"),
        "{summary}"
    );
    assert!(
        check_runs(&app, "org/hooked").await.is_empty(),
        "only with an installation credential"
    );
}

#[actix_web::test]
async fn a_rerun_skipped_by_the_policy_is_reported_and_a_failed_report_changes_nothing() {
    let (app, _fake) = spawn_reporting_app().await;
    let (skipped, started) = (unique(), unique());
    github_takes_check_runs(&app.github, "org/skipped", 201).await;
    // GitHub fails to create the other run's check run: the re-run stands, once.
    github_takes_check_runs(&app.github, "org/started", 500).await;
    github_expects_rerun(&app.github, "org/started", started).await;

    let never_ran = Job::new("org/skipped", skipped, 1)
        .name("build")
        .installation(42)
        .never_started();
    assert_eq!(app.send(&never_ran.queued()).await.status, 202);
    let answer = app.send(&never_ran.completed("failure")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let (body, auth) = eventually("the skip's check run", || async {
        check_runs(&app, "org/skipped").await.pop()
    })
    .await;
    assert_eq!(auth, "Bearer ghs-42-1");
    assert_eq!(body["conclusion"], "neutral");
    let title = body["output"]["title"].as_str().unwrap_or_default();
    assert!(title.starts_with("not re-run: job build: "), "{title}");
    assert!(title.ends_with("(not_started)"), "{title}");

    let job = Job::new("org/started", started, 2).installation(42);
    assert_eq!(rerun_one(&app, &job).await, "started");
    eventually("the failed check run", || async {
        check_runs(&app, "org/started").await.pop()
    })
    .await;
    assert_eq!(app.rerun_posts("org/started", started).await.len(), 1);
    assert_eq!(app.outcome_of("org/started", started, 1).await, "started");
}
