//! Evidence that can neither mislead nor exhaust: a log cut short is never read as
//! whole, a slow log host holds no credential's lane, one run's evidence has one time
//! budget, downloads in flight are bounded, and a gzip bomb costs no more memory than
//! a plain log. The blob hosts here are small raw TCP servers, so that a body can be
//! cut, reset or held exactly as a misbehaving host would.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use job_rerunner::actors::FetchEvidence;
use job_rerunner::actors::github::FetchJobs;
use job_rerunner::ids::{JobId, RepoName, RunId, RunKey};
use job_rerunner::policy::JobRef;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::evidence::{Harness, REPO, SIGNATURE, got, peak_rss_kib, ran_alone_in_a_child, why};
use crate::helpers::unique;

/// How a raw log host ends each answer.
#[derive(Clone, Copy)]
enum Ending {
    /// Sends what it has and closes (FIN).
    Close,
    /// Sends what it has and resets the connection (RST).
    Reset,
    /// Waits this long after the head, then sends the body and closes.
    After(Duration),
}

/// What a raw log host saw: requests, and the most connections it served at once.
#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    now: AtomicUsize,
    most: AtomicUsize,
}

/// A log host that answers every request with `head` (status line and headers) and
/// `body` exactly as given, then ends as `ending` says. Returns its URL.
async fn raw_log_host(head: String, body: Vec<u8>, ending: Ending) -> (String, Arc<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let seen = Arc::new(Seen::default());
    let counts = Arc::clone(&seen);
    let answer = Arc::new((head, body));
    actix_web::rt::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (seen, answer) = (Arc::clone(&counts), Arc::clone(&answer));
            actix_web::rt::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                seen.requests.fetch_add(1, Ordering::SeqCst);
                let now = seen.now.fetch_add(1, Ordering::SeqCst) + 1;
                seen.most.fetch_max(now, Ordering::SeqCst);
                let (head, body) = &*answer;
                let _ = socket.write_all(head.as_bytes()).await;
                if let Ending::After(wait) = ending {
                    tokio::time::sleep(wait).await;
                }
                let _ = socket.write_all(body).await;
                let _ = socket.flush().await;
                seen.now.fetch_sub(1, Ordering::SeqCst);
                if let Ending::Reset = ending {
                    let _ = socket.set_zero_linger();
                }
                // Dropped: FIN, or RST after a zero linger.
            });
        }
    });
    (format!("http://{address}"), seen)
}

/// A log of `lines` numbered lines, the last of which a policy would decide on.
fn numbered_log(lines: usize) -> String {
    (0..lines)
        .map(|n| format!("{n:06} step output\n"))
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("in memory");
    encoder.finish().expect("in memory")
}

fn evidence_request(jobs: &[u64]) -> FetchEvidence {
    FetchEvidence {
        run: RunKey {
            repo: RepoName::parse(REPO).expect("repo name"),
            run_id: RunId(unique()),
        },
        attempt: 1,
        meter: None,
        delivery: None,
        installation: None,
        jobs: jobs
            .iter()
            .map(|&id| JobRef {
                id: JobId(id),
                name: format!("job-{id}").as_str().into(),
            })
            .collect(),
    }
}

async fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn a_log_cut_short_is_unavailable_after_its_tries_never_read_as_whole() {
    let h = Harness::start(&[]).await;
    let log = numbered_log(200);
    let half = &log.as_bytes()[..log.len() / 2];
    // Content-Length says the whole log; half of it comes, then FIN, or RST.
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n",
        log.len()
    );
    let (fin, fin_seen) = raw_log_host(head.clone(), half.to_vec(), Ending::Close).await;
    let (rst, rst_seen) = raw_log_host(head, half.to_vec(), Ending::Reset).await;
    // A chunked gzip body whose stream and last chunk never come.
    let packed = gzip(log.as_bytes());
    let part = &packed[..packed.len() / 2];
    let chunked_head =
        "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n";
    let mut chunk = format!("{:x}\r\n", part.len()).into_bytes();
    chunk.extend_from_slice(part);
    chunk.extend_from_slice(b"\r\n");
    let (chunked, chunked_seen) = raw_log_host(chunked_head.into(), chunk, Ending::Close).await;
    for (job, host) in [(91, &fin), (92, &rst), (93, &chunked)] {
        h.serves_annotations(job, json!([])).await;
        h.redirects_log(job, &format!("{host}/blobs/{job}.txt?{SIGNATURE}"))
            .await;
    }

    let evidence = h.fetch(&[91, 92, 93]).await;

    let cut = why(&evidence[0].log);
    assert_eq!(
        cut,
        format!(
            "gave up after 3 tries: log download: cut short: the log stopped after {} of its {} bytes",
            half.len(),
            log.len()
        )
    );
    assert!(why(&evidence[1].log).starts_with("gave up after 3 tries: log download:"));
    let unended = why(&evidence[2].log);
    assert!(
        unended.starts_with(
            "gave up after 3 tries: log download: cut short: the compressed log has no end"
        ),
        "{unended}"
    );
    for seen in [&fin_seen, &rst_seen, &chunked_seen] {
        assert_eq!(
            seen.requests.load(Ordering::SeqCst),
            3,
            "each cut is tried again"
        );
    }
    assert!(h.metric(r#"job_rerunner_evidence_fetches_total{kind="log",result="unavailable"} 3"#));
    assert!(!h.logs.text().contains("Zm9yZ2Vk"));
}

#[actix_web::test]
async fn a_whole_gzip_log_is_read_and_checked_to_its_end() {
    let h = Harness::start(&[]).await;
    let log = numbered_log(300);
    let packed = gzip(log.as_bytes());
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
        packed.len()
    );
    let (host, _) = raw_log_host(head, packed, Ending::Close).await;
    h.serves_annotations(94, json!([])).await;
    h.redirects_log(94, &format!("{host}/blobs/94.txt?{SIGNATURE}"))
        .await;

    let evidence = h.fetch(&[94]).await;

    assert_eq!(got(&evidence[0].log), &log);
}

#[actix_web::test]
async fn a_stalled_log_blob_does_not_hold_its_credentials_lane() {
    let h = Harness::start(&[("LOG_READ_TIMEOUT", "1")]).await;
    let (host, seen) = raw_log_host(
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n".into(),
        b"late\n".to_vec(),
        Ending::After(Duration::from_secs(30)),
    )
    .await;
    for job in [95, 96] {
        h.serves_annotations(job, json!([])).await;
        h.redirects_log(job, &format!("{host}/blobs/{job}.txt?{SIGNATURE}"))
            .await;
    }
    let other = RunKey {
        repo: RepoName::parse("elsewhere/other").expect("repo name"),
        run_id: RunId(unique()),
    };
    Mock::given(method("GET"))
        .and(path(format!(
            "/repos/elsewhere/other/actions/runs/{}/jobs",
            other.run_id
        )))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"total_count": 0, "jobs": []})),
        )
        .mount(&h.github)
        .await;
    let stalled = h.actor.send(evidence_request(&[95, 96]));
    let stalled = actix_web::rt::spawn(stalled);
    wait_until("the stalled downloads", Duration::from_secs(10), || {
        seen.requests.load(Ordering::SeqCst) >= 1
    })
    .await;

    // Another repository's call on the same token, while the blobs stall.
    let started = Instant::now();
    let listed = h
        .actor
        .send(FetchJobs {
            run: other,
            attempt: 1,
            delivery: None,
            installation: None,
        })
        .await
        .expect("the actor answers");
    let waited = started.elapsed();

    println!(
        "a call of the same credential waited {} ms behind 2 stalled log blobs",
        waited.as_millis()
    );
    assert!(listed.is_ok(), "{listed:?}");
    assert!(waited < Duration::from_millis(500), "waited {waited:?}");
    let evidence = stalled.await.expect("task").expect("the actor answers");
    assert!(why(&evidence[0].log).contains("LOG_READ_TIMEOUT"));
}

#[actix_web::test]
async fn a_runs_evidence_ends_with_its_budget_however_slow_the_log_host() {
    let h = Harness::start(&[("EVIDENCE_TIMEOUT", "1"), ("LOG_READ_TIMEOUT", "30")]).await;
    let (host, _) = raw_log_host(
        "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n".into(),
        b"late\n".to_vec(),
        Ending::After(Duration::from_secs(60)),
    )
    .await;
    let jobs = [97, 98, 99, 100, 101, 102];
    for job in jobs {
        h.serves_annotations(job, json!([])).await;
        h.redirects_log(job, &format!("{host}/blobs/{job}.txt?{SIGNATURE}"))
            .await;
    }

    let started = Instant::now();
    let evidence = tokio::time::timeout(Duration::from_secs(10), h.fetch(&jobs))
        .await
        .expect("the evidence comes within its budget, not after every LOG_READ_TIMEOUT");
    let took = started.elapsed();

    println!(
        "6 stalled logs: evidence answered in {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    for e in &evidence {
        assert!(got(&e.annotations).is_empty());
        let why = why(&e.log);
        assert!(why.contains("EVIDENCE_TIMEOUT"), "{why}");
    }
}

#[actix_web::test]
async fn log_downloads_in_flight_are_bounded_across_runs() {
    let h = Harness::start(&[("LOG_DOWNLOADS", "2")]).await;
    let (host, seen) = raw_log_host(
        "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n".into(),
        b"whole\n".to_vec(),
        Ending::After(Duration::from_millis(200)),
    )
    .await;
    let jobs = [103, 104, 105, 106, 107, 108];
    for job in jobs {
        h.serves_annotations(job, json!([])).await;
        h.redirects_log(job, &format!("{host}/blobs/{job}.txt?{SIGNATURE}"))
            .await;
    }

    let (one, two) = futures_util::future::join(h.fetch(&jobs[..3]), h.fetch(&jobs[3..])).await;

    for e in one.iter().chain(&two) {
        assert_eq!(got(&e.log), "whole\n");
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 6);
    // Two runs of three jobs, downloaded a few at a time each: never more than 2.
    assert_eq!(seen.most.load(Ordering::SeqCst), 2);
}

/// Set in the child process that runs the memory test alone.
const ALONE: &str = "EVIDENCE_BOMB_TEST_ALONE";

#[actix_web::test]
async fn a_gzip_bomb_is_decoded_in_bounded_memory() {
    // Other tests of this binary move the process's RSS: measured in a child alone.
    if ran_alone_in_a_child(
        "evidence_limits::a_gzip_bomb_is_decoded_in_bounded_memory",
        ALONE,
    ) {
        return;
    }
    // 64 MiB of one repeated line, about 64 KiB compressed: one network read of it
    // inflates to the whole 64 MiB in a decoder without an output bound.
    let line = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
    let bomb = gzip(&line.repeat(1 << 20));
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
        bomb.len()
    );
    let (host, _) = raw_log_host(head, bomb, Ending::Close).await;
    let h = Harness::start(&[]).await;
    let jobs = [110, 111, 112, 113];
    for job in jobs {
        h.serves_annotations(job, json!([])).await;
        h.redirects_log(job, &format!("{host}/blobs/{job}.txt?{SIGNATURE}"))
            .await;
    }
    let _ = h.fetch(&jobs[..1]).await; // what a process sets up once

    let ((before, peak), evidence) = peak_rss_kib(h.fetch(&jobs[1..])).await;
    let grew_kib = peak.saturating_sub(before);
    println!("3 gzip bombs of 64 MiB at once: RSS +{grew_kib} KiB");

    for e in &evidence {
        let tail = got(&e.log);
        assert_eq!(tail.len(), 256 << 10);
        assert!(tail.ends_with(std::str::from_utf8(line).expect("ascii")));
    }
    assert!(grew_kib < 16 << 10, "RSS grew by {grew_kib} KiB");
}
