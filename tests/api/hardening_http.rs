//! What an unauthenticated client cannot do to the service: hold memory or connections
//! with slow bodies, fill the log with huge headers, guess STATUS_TOKEN quickly, or get
//! answers without a reason. Raw TCP where the test must control the bytes and their
//! timing.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Job, SIGN_KEY, TestApp, eventually, github_expects_rerun, spawn_app, unique};
use job_rerunner::http::signature::sign;
use job_rerunner::settings::Secret;

const STATUS_TOKEN: &str = "status-token-for-hardening-tests";
/// What a cut header value carries after its prefix (`src/http/headers.rs`).
const TRUNCATED: &str = "…(truncated ";

/// A well-formed signature that matches no body.
fn fake_signature() -> String {
    format!("sha256={}", "0".repeat(64))
}

/// One answer read off a raw connection.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    head: String,
    body: String,
}

impl RawAnswer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.expect("connects")
}

/// A POST / head announcing `length` body bytes, with these extra header lines.
fn post_head(length: usize, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut head = format!("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: {length}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Reads one answer (head and a Content-Length body), failing after `within`.
async fn read_answer(stream: &mut TcpStream, within: Duration) -> RawAnswer {
    let read = async {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let n = stream.read(&mut chunk).await.expect("reads");
            assert!(n > 0, "closed before an answer: {buffer:?}");
            buffer.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let mut answer = RawAnswer {
            status: head
                .split(' ')
                .nth(1)
                .and_then(|code| code.parse().ok())
                .expect("a status line"),
            head,
            body: String::new(),
        };
        let length: usize = answer
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buffer.len() < head_end + length {
            let n = stream.read(&mut chunk).await.expect("reads");
            assert!(n > 0, "closed inside the body");
            buffer.extend_from_slice(&chunk[..n]);
        }
        answer.body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).into_owned();
        answer
    };
    tokio::time::timeout(within, read)
        .await
        .unwrap_or_else(|_| panic!("no answer within {within:?}"))
}

/// Whether the service closes the connection within `within` (reading and dropping
/// anything it still sends).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let wait = async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, wait).await.is_ok()
}

/// `GET path`: status, `Retry-After` and body.
async fn get(
    app: &TestApp,
    path: &str,
    authorization: Option<&str>,
) -> (u16, Option<String>, String) {
    let mut request = awc::Client::default().get(format!("{}{path}", app.address));
    if let Some(value) = authorization {
        request = request.insert_header(("Authorization", value));
    }
    let mut response = request.send().await.expect("answers");
    let body = response.body().limit(4 << 20).await.expect("body");
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        response.status().as_u16(),
        retry_after,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

async fn metrics(app: &TestApp) -> String {
    get(app, "/metrics", None).await.2
}

#[actix_web::test]
async fn a_request_without_a_well_formed_signature_is_refused_before_its_body_is_read() {
    let app = spawn_app(&[]).await;
    for signature in [None, Some("sha256=abc"), Some("sha1=0000")] {
        let mut stream = connect(&app).await;
        let mut headers = vec![("X-GitHub-Event", "workflow_job")];
        headers.extend(signature.map(|s| ("X-Hub-Signature-256", s)));
        // A whole megabyte announced, not a byte of it sent.
        stream
            .write_all(&post_head(1 << 20, &headers))
            .await
            .expect("writes");
        let answer = read_answer(&mut stream, Duration::from_secs(2)).await;
        assert_eq!(answer.status, 403, "{signature:?}: {answer:?}");
        assert!(
            answer.body.starts_with("X-Hub-Signature-256 "),
            "{answer:?}"
        );
        assert_eq!(answer.body.lines().count(), 1);
        assert!(
            closed_within(&mut stream, Duration::from_secs(3)).await,
            "the connection stays open"
        );
    }
}

#[actix_web::test]
async fn a_request_without_an_event_header_is_refused_400_before_its_body_is_read() {
    let app = spawn_app(&[]).await;
    let mut stream = connect(&app).await;
    let signature = fake_signature();
    stream
        .write_all(&post_head(1 << 20, &[("X-Hub-Signature-256", &signature)]))
        .await
        .expect("writes");
    let answer = read_answer(&mut stream, Duration::from_secs(2)).await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(answer.body, "X-GitHub-Event header is missing\n");
}

#[actix_web::test]
async fn a_stalled_body_is_answered_408_within_body_timeout_and_the_connection_closed() {
    let app = spawn_app(&[("BODY_TIMEOUT", "0.5")]).await;
    let mut stream = connect(&app).await;
    let signature = fake_signature();
    let headers = [
        ("X-GitHub-Event", "workflow_job"),
        ("X-Hub-Signature-256", signature.as_str()),
    ];
    let started = Instant::now();
    stream
        .write_all(&post_head(10_000, &headers))
        .await
        .expect("writes");
    stream.write_all(&[b' '; 5_000]).await.expect("writes");
    let answer = read_answer(&mut stream, Duration::from_secs(3)).await;
    let took = started.elapsed();
    assert_eq!(answer.status, 408, "{answer:?}");
    assert_eq!(
        answer.body,
        "payload did not arrive within 0.5 s of the headers (BODY_TIMEOUT)\n"
    );
    assert!(
        took >= Duration::from_millis(450),
        "answered after {took:?}"
    );
    assert!(
        closed_within(&mut stream, Duration::from_secs(3)).await,
        "the connection stays open"
    );
    let text = metrics(&app).await;
    assert!(
        text.contains(
            r#"job_rerunner_webhooks_total{action="",event="workflow_job",status="408"} 1"#
        ),
        "{text}"
    );
}

/// A connection to the service from `local` (any 127.x.y.z on loopback), so that a
/// test can act as several clients.
async fn connect_from(app: &TestApp, local: [u8; 4]) -> TcpStream {
    let address = app
        .address
        .trim_start_matches("http://")
        .parse()
        .expect("an address");
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(std::net::SocketAddr::from((local, 0)))
        .expect("binds a loopback address");
    socket.connect(address).await.expect("connects")
}

/// Sends a signed `workflow_job` delivery on `stream` and reads its answer.
async fn deliver_on(mut stream: TcpStream, job: &Job, delivery: &str) -> RawAnswer {
    let body = job.queued().to_string();
    let signed = sign(&Secret::new(SIGN_KEY), body.as_bytes());
    let headers = [
        ("X-GitHub-Event", "workflow_job"),
        ("X-GitHub-Delivery", delivery),
        ("X-Hub-Signature-256", signed.as_str()),
    ];
    let mut request = post_head(body.len(), &headers);
    request.extend_from_slice(body.as_bytes());
    stream.write_all(&request).await.expect("writes");
    read_answer(&mut stream, Duration::from_secs(5)).await
}

#[actix_web::test]
async fn stalled_bodies_from_several_clients_over_the_global_cap_make_deliveries_wait_503_until_they_are_gone()
 {
    let app = spawn_app(&[
        ("MAX_BODY_BYTES", "16384"),
        ("MAX_BUFFERED_BYTES", "32768"),
        ("BODY_TIMEOUT", "60"),
        ("TRUST_FORWARDED_FOR", "true"),
    ])
    .await;
    let signature = fake_signature();
    // Three clients (behind the trusted proxy) hold 14,336 + 14,336 + 4,000 of the
    // 32,768 bytes, each within its share of 16,384, the small third partly in the
    // reserve: no room for a delivery of 500 bytes.
    let stall = |client: &'static str, sent: usize| {
        let headers = [
            ("X-GitHub-Event", "workflow_job".to_owned()),
            ("X-Hub-Signature-256", signature.clone()),
            ("X-Forwarded-For", client.to_owned()),
        ];
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let mut stream = connect(app).await;
            stream
                .write_all(&post_head(16_384, &headers))
                .await
                .expect("writes");
            stream.write_all(&vec![b' '; sent]).await.expect("writes");
            stream
        }
    };
    let clients = [
        ("10.0.0.1", 14_336),
        ("10.0.0.2", 14_336),
        ("10.0.0.3", 4_000),
    ];
    let mut streams = Vec::new();
    for (client, sent) in clients {
        streams.push(stall(client, sent).await);
    }
    let stalled = std::cell::RefCell::new(streams);
    let job = Job::new("org/repo", unique(), 1);
    let refused = eventually("a delivery refused for the full budget", || async {
        // A probe buffered while a stalled body's bytes were still on their way can
        // push that body out (503): send it again, until all three are held at once.
        let mut streams = stalled.take();
        for (slot, (client, sent)) in streams.iter_mut().zip(clients) {
            let mut probe = [0u8; 1];
            if !matches!(slot.try_read(&mut probe), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock) {
                *slot = stall(client, sent).await;
            }
        }
        stalled.replace(streams);
        let answer = deliver_on(connect(&app).await, &job, "d-over-the-cap").await;
        (answer.status == 503).then_some(answer)
    })
    .await;
    assert_eq!(
        refused.header("retry-after").as_deref(),
        Some("60"),
        "{refused:?}"
    );
    assert_eq!(
        refused.body,
        "too many payloads being read at once: retry in 60 s\n"
    );

    drop(stalled);
    let accepted = eventually(
        "the delivery accepted once the stalled bodies are gone",
        || async {
            let answer = app
                .send_as(&job.queued(), "workflow_job", "d-after-the-cap")
                .await;
            (answer.status != 503).then_some(answer.status)
        },
    )
    .await;
    assert_eq!(accepted, 202);
}

#[actix_web::test]
async fn one_client_stalling_bodies_under_a_fake_signature_keeps_no_delivery_out() {
    let app = spawn_app(&[
        ("MAX_BODY_BYTES", "16384"),
        ("MAX_BUFFERED_BYTES", "32768"),
        ("BODY_TIMEOUT", "60"),
    ])
    .await;
    let signature = fake_signature();
    let headers = [
        ("X-GitHub-Event", "workflow_job"),
        ("X-Hub-Signature-256", signature.as_str()),
    ];
    // The attack that used to fill the whole budget from one address: two bodies of
    // 16,300 bytes, then silence. The one buffered first fills the client's share
    // (16,384); the other does not fit it, nor the reserve (4,096), and is refused.
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = connect_from(&app, [127, 0, 0, 1]).await;
        stream
            .write_all(&post_head(16_384, &headers))
            .await
            .expect("writes");
        stream.write_all(&[b' '; 16_300]).await.expect("writes");
        stalled.push(stream);
    }
    let (first, second) = stalled.split_at_mut(1);
    let over_its_share = tokio::select! {
        answer = read_answer(&mut first[0], Duration::from_secs(5)) => answer,
        answer = read_answer(&mut second[0], Duration::from_secs(5)) => answer,
    };
    assert_eq!(over_its_share.status, 503, "{over_its_share:?}");

    let job = Job::new("org/repo", unique(), 1);
    let other = deliver_on(connect_from(&app, [127, 0, 0, 2]).await, &job, "d-other").await;
    assert_eq!(other.status, 202, "from another address: {other:?}");
    let job = Job::new("org/repo", unique(), 1);
    let same = deliver_on(connect_from(&app, [127, 0, 0, 1]).await, &job, "d-same").await;
    assert_eq!(
        same.status, 202,
        "a small announced body from the attacker's address: {same:?}"
    );
    drop(stalled);
}

#[actix_web::test]
async fn a_huge_delivery_header_is_logged_cut_short_and_counted() {
    let github = wiremock::MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let service = crate::process::Service::start(&github, &dir.path().join("db.sqlite"), &[]);
    let address = format!("http://127.0.0.1:{}", service.port);
    let huge = format!("{}\"quoted\"", "d".repeat(100_000));
    let client = awc::Client::default();
    let answer = client
        .post(&address)
        .insert_header(("X-GitHub-Delivery", huge.as_str()))
        .insert_header(("X-GitHub-Event", "e".repeat(20_000)))
        .send_body("{}")
        .await
        .expect("answers");
    assert_eq!(answer.status().as_u16(), 403);
    let logs = eventually("the refusal in the log", || async {
        let logs = service.logs();
        logs.contains(r#""msg":"webhook refused""#).then_some(logs)
    })
    .await;
    let line = logs
        .lines()
        .find(|line| line.contains(r#""msg":"webhook refused""#))
        .expect("the line");
    assert!(line.len() < 1_000, "a {} byte log line", line.len());
    let entry: Value = serde_json::from_str(line).expect("JSON");
    let delivery = entry["delivery"].as_str().expect("delivery");
    assert!(
        delivery.starts_with(&"d".repeat(64)) && delivery.contains(TRUNCATED),
        "{delivery}"
    );
    assert!(
        entry["event"].as_str().expect("event").contains(TRUNCATED),
        "{entry}"
    );

    let mut response = client
        .get(format!("{address}/metrics"))
        .send()
        .await
        .expect("answers");
    let text = String::from_utf8_lossy(&response.body().await.expect("body")).into_owned();
    for header in ["X-GitHub-Delivery", "X-GitHub-Event"] {
        let counted =
            format!(r#"job_rerunner_truncated_header_values_total{{header="{header}"}} 1"#);
        assert!(text.contains(&counted), "missing {counted} in:\n{text}");
    }
    service.kill();
}

#[actix_web::test]
async fn a_long_delivery_id_is_stored_with_the_decided_rerun_cut_short() {
    // A re-run due in a minute stays decided (with its deciding delivery) in the store.
    let app = spawn_app(&[("RERUN_DELAY", "60")]).await;
    let run = unique();
    github_expects_rerun(&app.github, "org/repo", run).await;
    let job = Job::new("org/repo", run, 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    let long = format!("{}-{}", "7".repeat(300), unique());
    let answer = app
        .send_as(&job.completed("failure"), "workflow_job", &long)
        .await;
    assert_eq!(answer.status, 201);
    // The same long id again is recognised as the redelivery it is.
    let again = app
        .send_as(&job.completed("failure"), "workflow_job", &long)
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, "redelivery of an answered event\n");
    let conn = rusqlite::Connection::open_with_flags(
        &app.db_path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("opens");
    let state: String = conn
        .query_row(
            "SELECT state FROM runs WHERE run_id = ?1",
            [run as i64],
            |row| row.get(0),
        )
        .expect("the run's row");
    assert!(!state.contains(&"7".repeat(65)), "{state}");
    assert!(
        state.contains(&format!("{}{TRUNCATED}", "7".repeat(64))),
        "{state}"
    );
}

#[test]
fn a_status_token_shorter_than_16_characters_stops_start_up() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_job-rerunner"))
        .env_clear()
        .env("GITHUB_SIGN_KEY", "k")
        .env("STATUS_TOKEN", "short-token")
        // Were the token accepted, start-up would stop here instead (exit 1), not serve.
        .env("DATABASE_URL", "sqlite:///proc/not-a-dir/db.sqlite")
        .env("PORT", "0")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("STATUS_TOKEN"), "{stderr}");
    assert!(stderr.contains("16"), "{stderr}");
    assert!(!stderr.contains("short-token"), "{stderr}");
}

#[actix_web::test]
async fn lower_case_bearer_and_basic_schemes_open_the_status_page() {
    use base64::Engine;
    let app = spawn_app(&[("STATUS_TOKEN", STATUS_TOKEN)]).await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("ops:{STATUS_TOKEN}"));
    for authorization in [
        format!("bearer {STATUS_TOKEN}"),
        format!("BEARER {STATUS_TOKEN}"),
        format!("basic {basic}"),
    ] {
        let (status, _, _) = get(&app, "/api/flaky", Some(&authorization)).await;
        assert_eq!(status, 200, "{authorization}");
    }
}

#[actix_web::test]
async fn repeated_wrong_status_tokens_are_answered_429_with_retry_after_and_counted() {
    let app = spawn_app(&[("STATUS_TOKEN", STATUS_TOKEN)]).await;
    for _ in 0..10 {
        let (status, _, _) =
            get(&app, "/api/status", Some("Bearer wrong-guess-of-the-token")).await;
        assert_eq!(status, 401);
    }
    let (status, retry_after, body) =
        get(&app, "/api/status", Some("Bearer another-wrong-guess")).await;
    assert_eq!(status, 429);
    let retry_after: u64 = retry_after
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(
        body.starts_with("too many wrong STATUS_TOKEN") && body.lines().count() == 1,
        "{body}"
    );
    // Locked means locked: the right token does not tell itself apart now.
    let (right, _, _) = get(&app, "/api/status", Some(&format!("Bearer {STATUS_TOKEN}"))).await;
    assert_eq!(right, 429);

    let text = metrics(&app).await;
    for expected in [
        r#"job_rerunner_status_auth_failures_total{answer="401"} 10"#,
        r#"job_rerunner_status_auth_failures_total{answer="429"} 2"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
}

#[actix_web::test]
async fn unknown_paths_and_methods_are_answered_with_a_reason() {
    let app = spawn_app(&[]).await;
    let client = awc::Client::default();
    let mut missing = client
        .get(format!("{}/no/such/page", app.address))
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status().as_u16(), 404);
    let body = missing.body().await.expect("body");
    let body = String::from_utf8_lossy(&body);
    assert!(
        body.starts_with("no such page: ") && body.lines().count() == 1,
        "{body:?}"
    );

    for (method, path, allow) in [
        ("PUT", "/", "GET, HEAD, POST"),
        ("DELETE", "/healthz", "GET"),
    ] {
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut answer = client
            .request(method.clone(), format!("{}{path}", app.address))
            .send()
            .await
            .expect("answers");
        assert_eq!(answer.status().as_u16(), 405, "{method} {path}");
        assert_eq!(
            answer.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow)
        );
        let body = answer.body().await.expect("body");
        let body = String::from_utf8_lossy(&body);
        assert_eq!(
            body,
            format!("method not allowed here: this path answers {allow}\n")
        );
    }
}

#[actix_web::test]
async fn only_a_verified_webhook_keeps_the_connection_open() {
    let app = spawn_app(&[]).await;
    // A health check, then half a request: actix-http would wait for the rest forever.
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("writes");
    let answer = read_answer(&mut stream, Duration::from_secs(2)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("connection").as_deref(), Some("close"));
    let _ = stream.write_all(b"GET /healthz HT").await;
    assert!(
        closed_within(&mut stream, Duration::from_secs(3)).await,
        "the connection stays open after a health check"
    );

    // Two signed deliveries on one connection: GitHub (and the benchmark) keep theirs.
    let mut stream = connect(&app).await;
    let job = Job::new("org/repo", unique(), 1);
    for delivery in ["d-keep-1", "d-keep-2"] {
        let body = job.queued().to_string();
        let signature = sign(&Secret::new(SIGN_KEY), body.as_bytes());
        let mut request = post_head(
            body.len(),
            &[
                ("X-GitHub-Event", "workflow_job"),
                ("X-GitHub-Delivery", delivery),
                ("X-Hub-Signature-256", &signature),
            ],
        );
        request.extend_from_slice(body.as_bytes());
        stream.write_all(&request).await.expect("writes");
        let answer = read_answer(&mut stream, Duration::from_secs(5)).await;
        assert_eq!(answer.status, 202, "{answer:?}");
        assert_ne!(answer.header("connection").as_deref(), Some("close"));
    }
}
