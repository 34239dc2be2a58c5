//! The failure policy's evidence, fetched through the GitHub actor: a fake GitHub
//! serves annotations and answers the logs endpoint with a 302 to a second host, the
//! log blob store, which refuses any request carrying `Authorization` (as GitHub's
//! does). A large log comes from a small streaming server, so that neither side holds
//! it in memory and the service's memory can be measured.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::{Actor, Addr};
use job_rerunner::actors::github::{EvidenceOf, Gather};
use job_rerunner::actors::{FetchEvidence, GitHubActor};
use job_rerunner::ids::{JobId, RepoName, RunId, RunKey};
use job_rerunner::metrics::Metrics;
use job_rerunner::policy::{AnnotationLevel, Fetched, JobEvidence, JobRef};
use job_rerunner::settings::Settings;
use serde_json::json;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{TOKEN, test_vars, unique};

pub(crate) const REPO: &str = "tarantool/tarantool";
/// The pre-signed URL's signature: it must never reach a log line.
pub(crate) const SIGNATURE: &str = "sig=Zm9yZ2VkLXNpZ25hdHVyZQ%3D%3D";

/// Log lines written by the actor, as text.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

/// A GitHub actor against a fake GitHub, a fake blob store and a store of its own.
pub(crate) struct Harness {
    pub(crate) github: MockServer,
    pub(crate) blob: MockServer,
    pub(crate) actor: Addr<GitHubActor>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) logs: Captured,
    _db: TempDir,
}

impl Harness {
    pub(crate) async fn start(overrides: &[(&str, &str)]) -> Self {
        use slog::Drain;
        let github = MockServer::start().await;
        let blob = MockServer::start().await;
        let db = tempfile::tempdir().expect("temp dir");
        let mut vars = test_vars(&github, &db.path().join("db.sqlite"));
        for (name, value) in overrides {
            vars.insert((*name).to_owned(), (*value).to_owned());
        }
        let settings = Settings::from_vars(vars).expect("test settings are valid");
        let logs = Captured::default();
        let decorator = slog_term::PlainSyncDecorator::new(logs.clone());
        let drain = slog_term::FullFormat::new(decorator).build().fuse();
        let log = slog::Logger::root(drain, slog::o!());
        let metrics = Arc::new(Metrics::new());
        let actor =
            GitHubActor::new(settings.github.clone(), Arc::clone(&metrics), false, &log).start();
        Self {
            github,
            blob,
            actor,
            metrics,
            logs,
            _db: db,
        }
    }

    pub(crate) async fn fetch(&self, jobs: &[u64]) -> Vec<JobEvidence> {
        self.fetch_metered(jobs).await.0
    }

    /// As [`Harness::fetch`], with what the fetch cost: API requests and log bytes.
    pub(crate) async fn fetch_metered(&self, jobs: &[u64]) -> (Vec<JobEvidence>, u32, u64) {
        let meter = std::sync::Arc::new(job_rerunner::github::meter::Meter::default());
        let run = RunKey {
            repo: RepoName::parse(REPO).expect("repo name"),
            run_id: RunId(unique()),
        };
        let jobs = jobs
            .iter()
            .map(|&id| JobRef {
                id: JobId(id),
                name: format!("job-{id}").as_str().into(),
            })
            .collect();
        let request = FetchEvidence {
            run,
            attempt: 1,
            delivery: Some("delivery-evidence".into()),
            installation: None,
            jobs,
            meter: Some(std::sync::Arc::clone(&meter)),
        };
        let evidence = self.actor.send(request).await.expect("the actor answers");
        (evidence, meter.calls(), meter.bytes())
    }

    /// GitHub's annotations for `job`.
    pub(crate) async fn serves_annotations(&self, job: u64, body: serde_json::Value) {
        Mock::given(method("GET"))
            .and(path(annotations_path(job)))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&self.github)
            .await;
    }

    /// The logs endpoint of `job` redirects to `to` (a URL with a signed query).
    pub(crate) async fn redirects_log(&self, job: u64, to: &str) {
        Mock::given(method("GET"))
            .and(path(logs_path(job)))
            .respond_with(ResponseTemplate::new(302).insert_header("location", to))
            .mount(&self.github)
            .await;
    }

    /// The blob store: 403 to anything carrying `Authorization`, the log otherwise.
    pub(crate) async fn blob_serves(&self, blob_path: &str, log: &str) {
        Mock::given(header_exists("authorization"))
            .respond_with(
                ResponseTemplate::new(403)
                    .set_body_string("<Error><Code>InvalidAuthenticationInfo</Code></Error>"),
            )
            .with_priority(1)
            .mount(&self.blob)
            .await;
        Mock::given(method("GET"))
            .and(path(blob_path))
            .respond_with(ResponseTemplate::new(200).set_body_string(log))
            .mount(&self.blob)
            .await;
    }

    pub(crate) fn signed_url(&self, blob_path: &str) -> String {
        format!(
            "{}{blob_path}?{SIGNATURE}&se=2026-12-01T23%3A59Z&sp=r",
            self.blob.uri()
        )
    }

    pub(crate) async fn requests_to(&self, server: &MockServer, to: &str) -> Vec<Request> {
        server
            .received_requests()
            .await
            .expect("requests are recorded")
            .into_iter()
            .filter(|r| r.url.path() == to)
            .collect()
    }

    pub(crate) fn metric(&self, line: &str) -> bool {
        self.metrics.render().lines().any(|l| l == line)
    }
}

pub(crate) fn annotations_path(job: u64) -> String {
    format!("/repos/{REPO}/check-runs/{job}/annotations")
}

pub(crate) fn logs_path(job: u64) -> String {
    format!("/repos/{REPO}/actions/jobs/{job}/logs")
}

pub(crate) fn got<T: std::fmt::Debug>(fetched: &Fetched<T>) -> &T {
    match fetched {
        Fetched::Got(value) => value,
        other => panic!("expected content, got {other:?}"),
    }
}

pub(crate) fn why<T: std::fmt::Debug>(fetched: &Fetched<T>) -> &str {
    match fetched {
        Fetched::Unavailable { why } => why,
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[actix_web::test]
async fn annotations_and_the_log_tail_are_fetched_and_the_token_never_reaches_the_log_host() {
    let h = Harness::start(&[]).await;
    let job = 71;
    h.serves_annotations(
        job,
        json!([
            {"annotation_level": "failure", "message": "The runner has received a shutdown signal.",
             "path": ".github", "start_line": 1},
            {"annotation_level": "warning", "message": "Node.js 16 actions are deprecated."}
        ]),
    )
    .await;
    h.redirects_log(job, &h.signed_url("/blobs/71.txt")).await;
    let log = "2026-12-01T10:00:00.0000000Z ##[group]Run make test\n\
               2026-12-01T10:00:01.0000000Z Error: The operation was canceled.\n";
    h.blob_serves("/blobs/71.txt", log).await;

    let evidence = h.fetch(&[job]).await;

    assert_eq!(evidence.len(), 1);
    assert_eq!(evidence[0].job, JobId(job));
    let annotations = got(&evidence[0].annotations);
    assert_eq!(
        annotations.iter().map(|a| a.level).collect::<Vec<_>>(),
        [AnnotationLevel::Failure, AnnotationLevel::Warning]
    );
    assert!(got(&evidence[0].log).ends_with("Error: The operation was canceled.\n"));

    // GitHub got the token; the blob store got exactly one request, without it.
    let auth = format!("Bearer {TOKEN}");
    for (to, pages) in [(annotations_path(job), 1), (logs_path(job), 1)] {
        let calls = h.requests_to(&h.github, &to).await;
        assert_eq!(calls.len(), pages, "{to}");
        for call in calls {
            assert_eq!(
                call.headers.get("authorization").map(|v| v.as_bytes()),
                Some(auth.as_bytes()),
                "{to}"
            );
        }
    }
    let annotations_call = &h.requests_to(&h.github, &annotations_path(job)).await[0];
    assert!(
        annotations_call
            .url
            .query_pairs()
            .any(|(k, v)| k == "per_page" && v == "100"),
        "{}",
        annotations_call.url
    );
    let downloads = h.blob.received_requests().await.expect("recorded");
    assert_eq!(downloads.len(), 1);
    assert_eq!(downloads[0].url.path(), "/blobs/71.txt");
    assert!(
        downloads[0]
            .url
            .query()
            .is_some_and(|q| q.contains(SIGNATURE))
    );
    assert!(
        !downloads[0].headers.contains_key("authorization"),
        "the token went to the log host"
    );
    assert!(!downloads[0].headers.contains_key("x-github-api-version"));

    // The redirect is logged as host and path; its signature never is.
    let logged = h.logs.text();
    assert!(logged.contains("following the log redirect"), "{logged}");
    assert!(
        logged.contains(&format!("{}/blobs/71.txt", h.blob.uri())),
        "{logged}"
    );
    assert!(!logged.contains("Zm9yZ2Vk"), "{logged}");
    assert!(!logged.contains("se=2026"), "{logged}");
    assert!(h.metric(r#"job_rerunner_evidence_fetches_total{kind="annotations",result="ok"} 1"#));
    assert!(h.metric(r#"job_rerunner_evidence_fetches_total{kind="log",result="ok"} 1"#));
    assert!(
        h.metric(&format!("job_rerunner_log_bytes_read_total {}", log.len())),
        "{}",
        h.metrics.render()
    );
}

#[actix_web::test]
async fn a_full_page_of_annotations_is_followed_by_the_next_page() {
    let h = Harness::start(&[]).await;
    let job = 72;
    let page: Vec<_> = (0..100)
        .map(|i| json!({"annotation_level": "notice", "message": format!("note {i}")}))
        .collect();
    Mock::given(method("GET"))
        .and(path(annotations_path(job)))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .expect(1)
        .mount(&h.github)
        .await;
    Mock::given(method("GET"))
        .and(path(annotations_path(job)))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"annotation_level": "failure", "message": "Process completed with exit code 143."}
        ])))
        .expect(1)
        .mount(&h.github)
        .await;
    h.redirects_log(job, &h.signed_url("/blobs/72.txt")).await;
    h.blob_serves("/blobs/72.txt", "done\n").await;

    let (evidence, api_calls, log_bytes) = h.fetch_metered(&[job]).await;

    let annotations = got(&evidence[0].annotations);
    assert_eq!(annotations.len(), 101);
    assert_eq!(annotations[100].level, AnnotationLevel::Failure);
    assert_eq!(
        (api_calls, log_bytes),
        (3, 5),
        "two pages of annotations and the log's location; the 5 bytes of the log"
    );
}

#[actix_web::test]
async fn a_log_not_ready_yet_is_asked_for_again_until_it_is() {
    let h = Harness::start(&[]).await;
    let job = 73;
    h.serves_annotations(job, json!([])).await;
    Mock::given(method("GET"))
        .and(path(logs_path(job)))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.github)
        .await;
    h.redirects_log(job, &h.signed_url("/blobs/73.txt")).await;
    h.blob_serves("/blobs/73.txt", "line\nfinal line\n").await;

    let (evidence, api_calls, log_bytes) = h.fetch_metered(&[job]).await;

    assert_eq!(got(&evidence[0].log), "line\nfinal line\n");
    assert_eq!(h.requests_to(&h.github, &logs_path(job)).await.len(), 2);
    assert_eq!(
        (api_calls, log_bytes),
        (3, 16),
        "the location asked twice is two calls"
    );
    assert!(
        h.logs
            .text()
            .contains("job log not ready yet; asking again")
    );
}

#[actix_web::test]
async fn a_log_that_never_gets_ready_is_unavailable_after_a_few_looks() {
    let h = Harness::start(&[]).await;
    let job = 74;
    h.serves_annotations(job, json!([])).await;
    Mock::given(method("GET"))
        .and(path(logs_path(job)))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&h.github)
        .await;

    let evidence = h.fetch(&[job]).await;

    assert_eq!(why(&evidence[0].log), "HTTP 404: Not Found");
    assert_eq!(h.requests_to(&h.github, &logs_path(job)).await.len(), 3);
    assert!(got(&evidence[0].annotations).is_empty());
}

#[actix_web::test]
async fn an_expired_log_is_unavailable_and_not_asked_for_again() {
    let h = Harness::start(&[]).await;
    let job = 75;
    h.serves_annotations(job, json!([])).await;
    Mock::given(method("GET"))
        .and(path(logs_path(job)))
        .respond_with(
            ResponseTemplate::new(410).set_body_json(json!({"message": "Logs have expired"})),
        )
        .mount(&h.github)
        .await;

    let evidence = h.fetch(&[job]).await;

    assert_eq!(why(&evidence[0].log), "HTTP 410: Logs have expired");
    assert_eq!(h.requests_to(&h.github, &logs_path(job)).await.len(), 1);
    assert!(h.metric(r#"job_rerunner_evidence_fetches_total{kind="log",result="unavailable"} 1"#));
}

#[actix_web::test]
async fn a_log_host_that_keeps_failing_is_unavailable_after_the_evidence_tries() {
    let h = Harness::start(&[]).await;
    let job = 76;
    h.serves_annotations(job, json!([])).await;
    h.redirects_log(job, &h.signed_url("/blobs/76.txt")).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&h.blob)
        .await;

    let evidence = h.fetch(&[job]).await;

    let why = why(&evidence[0].log);
    assert_eq!(why, "gave up after 3 tries: log download: HTTP 503");
    // Each try asks GitHub for a fresh URL: the old one may have expired.
    assert_eq!(h.requests_to(&h.github, &logs_path(job)).await.len(), 3);
    assert_eq!(h.blob.received_requests().await.expect("recorded").len(), 3);
    assert!(!h.logs.text().contains("Zm9yZ2Vk"));
}

#[actix_web::test]
async fn a_download_slower_than_github_timeout_gets_log_read_timeout_instead() {
    // GITHUB_TIMEOUT bounds API calls; the blob download has its own deadline.
    let h = Harness::start(&[("GITHUB_TIMEOUT", "0.2"), ("LOG_READ_TIMEOUT", "5")]).await;
    let job = 83;
    h.serves_annotations(job, json!([])).await;
    h.redirects_log(job, &h.signed_url("/blobs/83.txt")).await;
    Mock::given(method("GET"))
        .and(path("/blobs/83.txt"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("slow but whole\n")
                .set_delay(Duration::from_millis(600)),
        )
        .mount(&h.blob)
        .await;

    let evidence = h.fetch(&[job]).await;

    assert_eq!(got(&evidence[0].log), "slow but whole\n");
}

#[actix_web::test]
async fn a_download_past_log_read_timeout_is_unavailable() {
    let h = Harness::start(&[("LOG_READ_TIMEOUT", "0.2")]).await;
    let job = 84;
    h.serves_annotations(job, json!([])).await;
    h.redirects_log(job, &h.signed_url("/blobs/84.txt")).await;
    Mock::given(method("GET"))
        .and(path("/blobs/84.txt"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("too late\n")
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&h.blob)
        .await;

    let evidence = h.fetch(&[job]).await;

    assert_eq!(
        why(&evidence[0].log),
        "gave up after 3 tries: log download: no answer within 200 ms (LOG_READ_TIMEOUT)"
    );
}

#[actix_web::test]
async fn a_malformed_annotations_answer_is_unavailable_and_the_log_is_still_read() {
    let h = Harness::start(&[]).await;
    let job = 77;
    h.serves_annotations(job, json!({"total_count": 1, "annotations": "yes"}))
        .await;
    h.redirects_log(job, &h.signed_url("/blobs/77.txt")).await;
    h.blob_serves("/blobs/77.txt", "boom\n").await;

    let evidence = h.fetch(&[job]).await;

    let why = why(&evidence[0].annotations);
    assert!(why.starts_with("malformed annotations answer"), "{why}");
    assert_eq!(got(&evidence[0].log), "boom\n");
    assert_eq!(
        h.requests_to(&h.github, &annotations_path(job)).await.len(),
        1
    );
}

#[actix_web::test]
async fn a_rate_limited_annotations_call_pauses_and_is_asked_again() {
    let h = Harness::start(&[]).await;
    let job = 78;
    Mock::given(method("GET"))
        .and(path(annotations_path(job)))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.github)
        .await;
    h.serves_annotations(
        job,
        json!([{"annotation_level": "failure", "message": "x"}]),
    )
    .await;
    h.redirects_log(job, &h.signed_url("/blobs/78.txt")).await;
    h.blob_serves("/blobs/78.txt", "ok\n").await;

    let started = Instant::now();
    let evidence = h.fetch(&[job]).await;

    assert_eq!(got(&evidence[0].annotations).len(), 1);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the pause was skipped"
    );
    assert_eq!(
        h.requests_to(&h.github, &annotations_path(job)).await.len(),
        2
    );
}

#[actix_web::test]
async fn without_a_token_nothing_is_fetched_and_every_job_is_unavailable() {
    let h = Harness::start(&[("GITHUB_TOKEN", "")]).await;
    let evidence = h.fetch(&[1, 2]).await;
    assert_eq!(evidence.len(), 2);
    for e in &evidence {
        assert_eq!(why(&e.log), "GITHUB_TOKEN is not set");
        assert_eq!(why(&e.annotations), "GITHUB_TOKEN is not set");
    }
    assert!(
        h.github
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
}

/// A log host that streams `size` bytes of 64-byte numbered lines without holding
/// them, and refuses (403) any request carrying `Authorization`. Returns its URL and
/// the request heads it received.
async fn streaming_log_host(size: u64) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&heads);
    actix_web::rt::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            actix_web::rt::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let refused = head.to_ascii_lowercase().contains("\nauthorization:");
                seen.lock().expect("heads").push(head);
                if refused {
                    let _ = socket
                        .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                    return;
                }
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {size}\r\nconnection: close\r\n\r\n"
                );
                if socket.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                let mut chunk = Vec::with_capacity(64 << 10);
                let mut line = 0u64;
                let mut sent = 0u64;
                while sent < size {
                    chunk.clear();
                    while chunk.len() < 64 << 10 && sent + (chunk.len() as u64) < size {
                        chunk.extend_from_slice(log_line(line).as_bytes());
                        line += 1;
                    }
                    let room = usize::try_from(size - sent).unwrap_or(usize::MAX);
                    chunk.truncate(room);
                    if socket.write_all(&chunk).await.is_err() {
                        return; // the reader stopped: the read cap
                    }
                    sent += chunk.len() as u64;
                }
            });
        }
    });
    (format!("http://{address}"), heads)
}

/// Line `n` of the streamed log: 64 bytes with its newline.
fn log_line(n: u64) -> String {
    let line = format!("{n:010} step output, nothing to see here, keep scrolling....\n");
    assert_eq!(line.len(), 64);
    line
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// In the parent process: runs `test` alone in a child process (with `alone` set),
/// checks that it passed and says `true`; in that child, says `false` (run the test).
pub(crate) fn ran_alone_in_a_child(test: &str, alone: &str) -> bool {
    if std::env::var_os(alone).is_some() {
        return false;
    }
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(alone, "1")
        .output()
        .expect("the test binary runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    println!("{text}");
    assert!(output.status.success(), "{text}");
    assert!(text.contains("1 passed"), "the child ran no test: {text}");
    true
}

/// Runs `work`, sampling the RSS every millisecond: (RSS before, peak) in KiB, and its output.
pub(crate) async fn peak_rss_kib<T>(work: impl std::future::Future<Output = T>) -> ((u64, u64), T) {
    let before = rss_kib();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let output = work.await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().expect("sampler");
    let peak = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .max(rss_kib());
    ((before, peak), output)
}

/// Set in the child process that runs the memory test alone.
const ALONE: &str = "EVIDENCE_MEMORY_TEST_ALONE";

#[actix_web::test]
async fn a_40_mb_log_is_read_in_flat_memory_and_its_last_bytes_kept() {
    // Other tests of this binary run in parallel threads and move the process's RSS:
    // the measurement runs in a child process running this test alone.
    if ran_alone_in_a_child(
        "evidence::a_40_mb_log_is_read_in_flat_memory_and_its_last_bytes_kept",
        ALONE,
    ) {
        return;
    }
    const SIZE: u64 = 40 << 20;
    let h = Harness::start(&[]).await;
    let (host, heads) = streaming_log_host(SIZE).await;
    for job in [80, 81] {
        h.serves_annotations(job, json!([])).await;
        h.redirects_log(job, &format!("{host}/blobs/{job}.txt?{SIGNATURE}"))
            .await;
    }
    // A first fetch warms up what a process sets up once (TLS roots, pools).
    let _ = h.fetch(&[80]).await;

    let started = Instant::now();
    let ((before, peak), evidence) = peak_rss_kib(h.fetch(&[81])).await;
    let took = started.elapsed();
    let grew_kib = peak.saturating_sub(before);
    println!(
        "40 MiB log: read in {} ms; RSS {before} KiB before, peak {peak} KiB (+{grew_kib} KiB)",
        took.as_millis()
    );

    let tail = got(&evidence[0].log);
    let lines = SIZE / 64;
    // 256 KiB is 4096 whole lines: the tail starts at a line, which is kept.
    assert_eq!(tail.len(), 256 << 10);
    assert!(tail.starts_with(&log_line(lines - 4096)), "{}", &tail[..80]);
    assert!(tail.ends_with(&log_line(lines - 1)));
    assert!(grew_kib < 16 << 10, "RSS grew by {grew_kib} KiB");
    assert!(h.metric(&format!("job_rerunner_log_bytes_read_total {}", 2 * SIZE)));
    for head in heads.lock().expect("heads").iter() {
        assert!(
            !head.to_ascii_lowercase().contains("authorization"),
            "{head}"
        );
    }
}

#[actix_web::test]
async fn a_log_larger_than_the_read_cap_is_read_up_to_the_cap_and_its_tail_used() {
    const CAP: u64 = 1 << 20;
    let h = Harness::start(&[
        ("LOG_READ_MAX_BYTES", "1048576"),
        ("LOG_TAIL_BYTES", "4096"),
    ])
    .await;
    let (host, _) = streaming_log_host(16 << 20).await;
    let job = 82;
    h.serves_annotations(job, json!([])).await;
    h.redirects_log(job, &format!("{host}/blobs/82.txt?{SIGNATURE}"))
        .await;

    let evidence = h.fetch(&[job]).await;

    let tail = got(&evidence[0].log);
    // The last line read is the one at the cap, not the log's last.
    assert!(tail.ends_with(&log_line(CAP / 64 - 1)), "{tail}");
    assert_eq!(tail.len(), 4096);
    assert!(h.metric(&format!("job_rerunner_log_bytes_read_total {CAP}")));
    assert!(h.metric(r#"job_rerunner_evidence_fetches_total{kind="log",result="capped"} 1"#));
    assert!(h.logs.text().contains("job log read cap reached"));
}

/// A blob host that honours `Range: bytes=-N` as GitHub's does: 206 with the last N
/// bytes and their `Content-Range`.
struct RangedBlob(String);

impl wiremock::Respond for RangedBlob {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let log = self.0.as_bytes();
        let suffix = request
            .headers
            .get("range")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("bytes=-"))
            .and_then(|n| n.parse::<usize>().ok());
        match suffix {
            Some(n) => {
                let start = log.len().saturating_sub(n);
                ResponseTemplate::new(206)
                    .insert_header(
                        "content-range",
                        format!("bytes {start}-{}/{}", log.len() - 1, log.len()).as_str(),
                    )
                    .set_body_bytes(&log[start..])
            }
            None => ResponseTemplate::new(200).set_body_bytes(log),
        }
    }
}

#[actix_web::test]
async fn a_log_host_that_honours_range_sends_only_the_tail_which_is_all_that_is_read() {
    let h = Harness::start(&[("LOG_TAIL_BYTES", "4096")]).await;
    let job = 91;
    h.serves_annotations(job, json!([])).await;
    h.redirects_log(job, &h.signed_url("/blobs/91.txt")).await;
    let mut log = String::new();
    for line in 0..30_000 {
        log.push_str(&format!(
            "2026-12-01T10:00:00.0000000Z building part {line}\n"
        ));
    }
    log.push_str("2026-12-01T10:00:01.0000000Z npm ERR! code ECONNRESET\n");
    Mock::given(method("GET"))
        .and(path("/blobs/91.txt"))
        .respond_with(RangedBlob(log.clone()))
        .mount(&h.blob)
        .await;

    let evidence = h.fetch(&[job]).await;

    let tail = got(&evidence[0].log);
    assert!(tail.ends_with("npm ERR! code ECONNRESET\n"), "{tail}");
    assert!(
        tail.len() <= 4096 && tail.starts_with("2026-"),
        "a whole first line: {tail}"
    );
    let asked = h.requests_to(&h.blob, "/blobs/91.txt").await;
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].headers.get("range").map(|v| v.as_bytes()),
        Some(&b"bytes=-4096"[..])
    );
    // 4096 bytes read of a log of about a megabyte.
    assert!(log.len() > 1 << 20);
    assert!(h.metric("job_rerunner_log_bytes_read_total 4096"));
}

#[actix_web::test]
async fn a_gathering_meters_the_evidence_and_not_the_jobs_listing() {
    let h = Harness::start(&[]).await;
    let (run, job) = (unique(), 91);
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/actions/runs/{run}/jobs")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 2,
            "jobs": [
                {"id": job, "name": "test", "run_attempt": 1, "status": "completed",
                 "conclusion": "failure", "steps": []},
                {"id": 92, "name": "lint", "run_attempt": 1, "status": "completed",
                 "conclusion": "success", "steps": []},
            ],
        })))
        .expect(1)
        .mount(&h.github)
        .await;
    h.serves_annotations(job, json!([])).await;
    h.redirects_log(job, &h.signed_url("/blobs/91.txt")).await;
    h.blob_serves("/blobs/91.txt", "reset\n").await;
    let meter = Arc::new(job_rerunner::github::meter::Meter::default());
    let gathered = h
        .actor
        .send(Gather {
            run: RunKey {
                repo: RepoName::parse(REPO).expect("repo name"),
                run_id: RunId(run),
            },
            attempt: 1,
            delivery: Some("delivery-gather".into()),
            installation: None,
            list_jobs: true,
            evidence: EvidenceOf::FailedListed,
            meter: Some(Arc::clone(&meter)),
        })
        .await
        .expect("the actor answers");

    let listed = gathered.listed.expect("listed").expect("the jobs");
    assert_eq!(listed.len(), 2);
    let jobs: Vec<u64> = gathered.evidence.iter().map(|e| e.job.0).collect();
    assert_eq!(jobs, [job], "the evidence of the failed listed job only");
    assert_eq!(
        (meter.calls(), meter.bytes()),
        (2, 6),
        "the annotations and the log's location; the 6 bytes of the log; not the listing"
    );
}
