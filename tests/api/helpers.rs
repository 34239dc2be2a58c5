//! Spawns the real service on port 0 against a fake GitHub API (wiremock on 127.0.0.1)
//! and sends it real, signed webhooks.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use job_rerunner::actors::Registry;
use job_rerunner::http::signature::sign;
use job_rerunner::settings::{Secret, Settings};
use job_rerunner::startup::Application;
use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const SIGN_KEY: &str = "test-webhook-secret";
pub const TOKEN: &str = "test-github-token";

/// A running service, its fake GitHub and its database.
pub struct TestApp {
    pub address: String,
    pub github: MockServer,
    pub db_path: PathBuf,
    /// The in-process service's run registry (`None` for a service in another process).
    pub registry: Option<Arc<Registry>>,
    _server: Option<ServerHandle>,
    _db_dir: Option<TempDir>,
    client: awc::Client,
}

/// The settings every test starts from: no delays, a database of its own.
pub fn test_vars(github: &MockServer, db_path: &std::path::Path) -> HashMap<String, String> {
    [
        ("GITHUB_SIGN_KEY", SIGN_KEY.to_owned()),
        ("GITHUB_TOKEN", TOKEN.to_owned()),
        ("GITHUB_API_URL", github.uri()),
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("WORKERS", "2".to_owned()),
        ("RERUN_DELAY", "0".to_owned()),
        ("GITHUB_MIN_INTERVAL", "0".to_owned()),
        ("GITHUB_BACKOFF", "0.05".to_owned()),
        ("GITHUB_POLL_INTERVAL", "0.05".to_owned()),
        ("DATABASE_URL", format!("sqlite://{}", db_path.display())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Starts the service with the test settings, changed by `overrides`.
pub async fn spawn_app(overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_with_github(MockServer::start().await, overrides).await
}

/// As [`spawn_app`], with a fake GitHub the test started (to name its URL in `overrides`).
pub async fn spawn_app_with_github(github: MockServer, overrides: &[(&str, &str)]) -> TestApp {
    let db_dir = tempfile::tempdir().expect("temp dir");
    let db_path = db_dir.path().join("db").join("job-rerunner.db");
    let settings = test_settings(&github, &db_path, overrides);
    let app = Application::build(settings, test_logger())
        .await
        .expect("service starts");
    serve(app, github, db_path, db_dir)
}

/// The test settings for `db_path`, changed by `overrides`.
fn test_settings(
    github: &MockServer,
    db_path: &std::path::Path,
    overrides: &[(&str, &str)],
) -> Settings {
    let mut vars = test_vars(github, db_path);
    for (name, value) in overrides {
        vars.insert((*name).to_owned(), (*value).to_owned());
    }
    Settings::from_vars(vars).expect("test settings are valid")
}

/// Runs a built service in the background and describes it to the test.
fn serve(app: Application, github: MockServer, db_path: PathBuf, db_dir: TempDir) -> TestApp {
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let registry = Some(app.registry());
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        github,
        db_path,
        registry,
        _server: Some(handle),
        _db_dir: Some(db_dir),
        client: awc::Client::default(),
    }
}

/// Silent unless `TEST_LOG` is set.
pub fn test_logger() -> slog::Logger {
    use slog::Drain;
    if std::env::var_os("TEST_LOG").is_some() {
        let decorator = slog_term::PlainSyncDecorator::new(std::io::stderr());
        let drain = slog_term::FullFormat::new(decorator).build().fuse();
        slog::Logger::root(drain, slog::o!())
    } else {
        slog::Logger::root(slog::Discard, slog::o!())
    }
}

/// One job of one run, as GitHub describes it in a `workflow_job` delivery.
#[derive(Clone)]
pub struct Job {
    pub repo: String,
    pub run_id: u64,
    pub job_id: u64,
    pub attempt: u32,
    pub branch: String,
    pub sender: String,
    /// Whether its completion lists steps (false: GitHub never started it).
    pub ran: bool,
    /// The name of the step its completion concludes as the job does.
    pub step: String,
    /// `name` (default `job-{job_id}`).
    pub name: Option<String>,
    /// `workflow_name`.
    pub workflow: String,
    /// `installation.id`: the delivery comes from a GitHub App's installation.
    pub installation: Option<u64>,
    /// Seconds between `started_at` and `completed_at` of its completion.
    pub ran_seconds: u64,
}

impl Job {
    pub fn new(repo: &str, run_id: u64, job_id: u64) -> Self {
        Self {
            repo: repo.to_owned(),
            run_id,
            job_id,
            attempt: 1,
            branch: "master".to_owned(),
            sender: "someone".to_owned(),
            ran: true,
            step: "test".to_owned(),
            name: None,
            workflow: "CI".to_owned(),
            installation: None,
            ran_seconds: 60,
        }
    }

    /// Its completion says it ran this long.
    pub fn ran_for(mut self, seconds: u64) -> Self {
        self.ran_seconds = seconds;
        self
    }

    /// Delivered by a GitHub App installed as `id`.
    pub fn installation(mut self, id: u64) -> Self {
        self.installation = Some(id);
        self
    }

    /// Its completion lists no step: GitHub never started it.
    pub fn never_started(mut self) -> Self {
        self.ran = false;
        self
    }

    /// The step that concludes as the job does.
    pub fn step(mut self, step: &str) -> Self {
        self.step = step.to_owned();
        self
    }

    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    pub fn workflow(mut self, workflow: &str) -> Self {
        self.workflow = workflow.to_owned();
        self
    }

    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    pub fn branch(mut self, branch: &str) -> Self {
        self.branch = branch.to_owned();
        self
    }

    pub fn sender(mut self, sender: &str) -> Self {
        self.sender = sender.to_owned();
        self
    }

    pub fn queued(&self) -> Value {
        self.payload("queued", None)
    }

    pub fn in_progress(&self) -> Value {
        self.payload("in_progress", None)
    }

    pub fn completed(&self, conclusion: &str) -> Value {
        self.payload("completed", Some(conclusion))
    }

    fn payload(&self, action: &str, conclusion: Option<&str>) -> Value {
        let (owner, name) = self.repo.split_once('/').expect("owner/name");
        // As GitHub sends them: none while queued, the steps so far while in
        // progress, all of them once completed (none for a job that never started).
        let steps = match (action, self.ran) {
            ("queued", _) | ("completed", false) => json!([]),
            ("completed", true) => json!([
                {"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1},
                {"name": self.step, "status": "completed", "conclusion": conclusion, "number": 2},
            ]),
            _ => json!([
                {"name": "Set up job", "status": "in_progress", "conclusion": null, "number": 1},
            ]),
        };
        let job_name = self
            .name
            .clone()
            .unwrap_or_else(|| format!("job-{}", self.job_id));
        let mut payload = json!({
            "action": action,
            "workflow_job": {
                "id": self.job_id,
                "run_id": self.run_id,
                "run_attempt": self.attempt,
                "run_url": format!("https://api.github.com/repos/{}/actions/runs/{}", self.repo, self.run_id),
                "head_branch": self.branch,
                "head_sha": "0d5ec357fb8684bd26a74f0b8b3a5020768688eb",
                "status": action,
                "conclusion": conclusion,
                "name": job_name,
                "workflow_name": self.workflow,
                "labels": ["ubuntu-latest"],
                "steps": steps,
                "started_at": "2026-12-01T10:00:00Z",
                "completed_at": (action == "completed").then(|| {
                    let at = std::time::UNIX_EPOCH
                        + Duration::from_secs(1_796_119_200 + self.ran_seconds);
                    humantime::format_rfc3339_seconds(at).to_string()
                }),
            },
            "repository": {
                "id": 526527630,
                "name": name,
                "full_name": self.repo,
                "private": false,
                "owner": {"login": owner, "type": "Organization"},
            },
            "organization": {"login": owner},
            "sender": {"login": self.sender, "type": "User"},
        });
        if let Some(id) = self.installation {
            payload["installation"] =
                json!({"id": id, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u"});
        }
        payload
    }
}

/// A delivery's answer.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl TestApp {
    /// Sends a signed `workflow_job` delivery with a fresh delivery id.
    pub async fn send(&self, payload: &Value) -> Answer {
        let delivery = format!("delivery-{}", unique());
        self.send_as(payload, "workflow_job", &delivery).await
    }

    /// Sends a signed delivery with the given event name and delivery id.
    pub async fn send_as(&self, payload: &Value, event: &str, delivery: &str) -> Answer {
        send_signed(&self.client, &self.address, payload, event, delivery).await
    }

    /// Posts raw bytes with exactly these headers.
    pub async fn post(&self, body: Vec<u8>, headers: &[(&str, &str)]) -> Answer {
        post_raw(&self.client, &self.address, body, headers).await
    }

    /// `GET /`.
    pub async fn get_root(&self) -> Answer {
        let mut response = self
            .client
            .get(&self.address)
            .send()
            .await
            .expect("the service answers");
        let bytes = response.body().await.expect("body");
        Answer {
            status: response.status().as_u16(),
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Re-run POSTs GitHub received for `repo`'s run `run_id`.
    pub async fn rerun_posts(&self, repo: &str, run_id: u64) -> Vec<Request> {
        let wanted = rerun_path(repo, run_id);
        self.github
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path() == wanted)
            .collect()
    }

    /// All POSTs GitHub received.
    pub async fn all_posts(&self) -> Vec<Request> {
        self.github
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == "POST")
            .collect()
    }

    /// The recorded outcome of a run's re-run of `attempt`, once there is one.
    pub fn recorded_outcome(&self, repo: &str, run_id: u64, attempt: u32) -> Option<String> {
        recorded_outcome(&self.db_path, repo, run_id, attempt)
    }

    /// Waits until the re-run of `repo`'s run is answered and returns the outcome label.
    pub async fn outcome_of(&self, repo: &str, run_id: u64, attempt: u32) -> String {
        eventually(
            &format!("the re-run outcome of {repo}#{run_id}"),
            || async { self.recorded_outcome(repo, run_id, attempt) },
        )
        .await
    }

    /// Waits until the recorded outcome of the run's re-run is `expected` (a re-run that
    /// settled nothing, such as `still_running`, is recorded, then tried again).
    pub async fn outcome_becomes(&self, repo: &str, run_id: u64, attempt: u32, expected: &str) {
        eventually(
            &format!("{repo}#{run_id}'s re-run to end {expected}"),
            || async {
                (self.recorded_outcome(repo, run_id, attempt).as_deref() == Some(expected))
                    .then_some(())
            },
        )
        .await;
    }

    /// Talks to a service running in another process, on `port`.
    pub fn for_process(port: u16, github: MockServer, db_path: PathBuf) -> Self {
        let address = format!("http://127.0.0.1:{port}");
        TestApp {
            address,
            github,
            db_path,
            registry: None,
            _server: None,
            _db_dir: None,
            client: awc::Client::default(),
        }
    }
}

pub fn recorded_outcome(
    db: &std::path::Path,
    repo: &str,
    run_id: u64,
    attempt: u32,
) -> Option<String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    conn.query_row(
        "SELECT outcome FROM reruns WHERE repo = ?1 AND run_id = ?2 AND attempt = ?3",
        rusqlite::params![repo, run_id as i64, attempt],
        |row| row.get(0),
    )
    .ok()
}

pub fn run_path(repo: &str, run_id: u64) -> String {
    format!("/repos/{repo}/actions/runs/{run_id}")
}

pub fn rerun_path(repo: &str, run_id: u64) -> String {
    format!("{}/rerun-failed-jobs", run_path(repo, run_id))
}

/// GitHub shows the run as `status`/`conclusion` at `attempt`.
pub async fn github_shows_run(
    github: &MockServer,
    repo: &str,
    run_id: u64,
    status: &str,
    conclusion: Option<&str>,
    attempt: u32,
) {
    Mock::given(method("GET"))
        .and(path(run_path(repo, run_id)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": run_id, "status": status, "conclusion": conclusion, "run_attempt": attempt,
        })))
        .mount(github)
        .await;
}

/// GitHub accepts re-runs of the run (201).
pub async fn github_accepts_rerun(github: &MockServer, repo: &str, run_id: u64) {
    Mock::given(method("POST"))
        .and(path(rerun_path(repo, run_id)))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .mount(github)
        .await;
}

/// The usual fake: the run completed as a failure at attempt 1 and GitHub accepts its re-run.
pub async fn github_expects_rerun(github: &MockServer, repo: &str, run_id: u64) {
    github_shows_run(github, repo, run_id, "completed", Some("failure"), 1).await;
    github_accepts_rerun(github, repo, run_id).await;
}

/// Polls `probe` until it gives a value, failing the test after 20 seconds.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A number no other call in this process returns (run ids, delivery ids).
pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1_000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Nanoseconds since the epoch, to tell apart names made by runs of the suite.
pub fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Sends a signed `workflow_job` delivery (fresh delivery id) to the service at `address`.
pub async fn send_to(client: &awc::Client, address: &str, payload: &Value) -> Answer {
    let delivery = format!("delivery-{}", unique());
    send_signed(client, address, payload, "workflow_job", &delivery).await
}

/// Sends a signed `workflow_job` delivery with the delivery id `delivery` to the service
/// at `address`.
pub async fn send_as_to(
    client: &awc::Client,
    address: &str,
    payload: &Value,
    delivery: &str,
) -> Answer {
    send_signed(client, address, payload, "workflow_job", delivery).await
}

async fn send_signed(
    client: &awc::Client,
    address: &str,
    payload: &Value,
    event: &str,
    delivery: &str,
) -> Answer {
    let body = payload.to_string();
    let signature = sign(&Secret::new(SIGN_KEY), body.as_bytes());
    let headers = [
        ("X-GitHub-Event", event),
        ("X-GitHub-Delivery", delivery),
        ("X-Hub-Signature-256", signature.as_str()),
        ("Content-Type", "application/json"),
    ];
    post_raw(client, address, body.into_bytes(), &headers).await
}

async fn post_raw(
    client: &awc::Client,
    address: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = client.post(address).timeout(Duration::from_secs(30));
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let mut response = request.send_body(body).await.expect("the service answers");
    let bytes = response.body().limit(1 << 20).await.expect("body");
    Answer {
        status: response.status().as_u16(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Starts the service as [`spawn_app`] does, but on the store `make_store` opens on the
/// test's database file (a wrapper injecting faults, say) and logging to `log`.
pub async fn spawn_app_on_store(
    overrides: &[(&str, &str)],
    log: slog::Logger,
    make_store: impl FnOnce(&std::path::Path) -> Arc<dyn job_rerunner::store::Store>,
) -> TestApp {
    let github = MockServer::start().await;
    let db_dir = tempfile::tempdir().expect("temp dir");
    let db_path = db_dir.path().join("job-rerunner.db");
    let settings = test_settings(&github, &db_path, overrides);
    let store = make_store(&db_path);
    let app = Application::build_with_store(settings, log, store)
        .await
        .expect("service starts");
    serve(app, github, db_path, db_dir)
}

/// `GET path` on the service at `address` (with `STATUS_TOKEN` `token` if given): status and body.
pub async fn get_page(address: &str, path: &str, token: Option<&str>) -> Answer {
    let mut request = awc::Client::default()
        .get(format!("{address}{path}"))
        .timeout(Duration::from_secs(30));
    if let Some(token) = token {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let mut response = request.send().await.expect("the service answers");
    let bytes = response.body().limit(1 << 22).await.expect("body");
    Answer {
        status: response.status().as_u16(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}
