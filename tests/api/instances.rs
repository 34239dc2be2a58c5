//! Several instances on one PostgreSQL database, a stateful fake GitHub, and a
//! database that goes away.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{Job, eventually, send_to, spawn_app, unique};
use crate::postgres::{TestDatabase, fresh_database};
use crate::process::Service;

/// A fake GitHub that remembers re-runs: once a run was re-run, reading it shows the
/// next attempt, as the real API does. Counts the POSTs per run path.
#[derive(Clone, Default)]
struct StatefulGitHub {
    posts: Arc<Mutex<HashMap<String, usize>>>,
}

impl StatefulGitHub {
    async fn mount(github: &MockServer) -> Self {
        let fake = Self::default();
        Mock::given(method("GET"))
            .and(path_regex(r"^/repos/[^/]+/[^/]+/actions/runs/\d+$"))
            .respond_with(fake.clone())
            .mount(github)
            .await;
        Mock::given(method("POST"))
            .and(path_regex(
                r"^/repos/[^/]+/[^/]+/actions/runs/\d+/rerun-failed-jobs$",
            ))
            .respond_with(fake.clone())
            .mount(github)
            .await;
        fake
    }

    fn posts_for(&self, run_path: &str) -> usize {
        self.posts
            .lock()
            .expect("counts")
            .get(run_path)
            .copied()
            .unwrap_or(0)
    }

    fn total_posts(&self) -> usize {
        self.posts.lock().expect("counts").values().sum()
    }
}

impl Respond for StatefulGitHub {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path();
        let mut posts = self.posts.lock().expect("counts");
        if request.method.as_str() == "POST" {
            let run_path = path.trim_end_matches("/rerun-failed-jobs").to_owned();
            *posts.entry(run_path).or_default() += 1;
            return ResponseTemplate::new(201).set_body_json(json!({}));
        }
        let body = if posts.get(path).copied().unwrap_or(0) > 0 {
            json!({"status": "queued", "conclusion": null, "run_attempt": 2})
        } else {
            json!({"status": "completed", "conclusion": "failure", "run_attempt": 1})
        };
        ResponseTemplate::new(200).set_body_json(body)
    }
}

#[actix_web::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL, with --include-ignored"]
async fn two_instances_rerun_each_failed_run_once_even_when_one_is_killed() {
    let test = "two_instances_rerun_each_failed_run_once_even_when_one_is_killed";
    let database = fresh_database(test).await;
    let github = MockServer::start().await;
    let fake = StatefulGitHub::mount(&github).await;
    let settings = [
        ("DATABASE_URL", database.url.as_str()),
        ("RERUN_DELAY", "0.3"),
        ("CLAIM_LEASE", "2"),
        ("OUTBOX_POLL", "0.2"),
        ("LOG_LEVEL", "info"),
    ];
    let first = Service::start(&github, Path::new("unused"), &settings);
    let second = Service::start(&github, Path::new("unused"), &settings);
    let addresses = [first.port, second.port].map(|port| format!("http://127.0.0.1:{port}"));
    let client = awc::Client::default();

    let base = unique() * 1_000;
    let runs: Vec<(String, u64, bool)> = (0..100u64)
        .map(|i| (format!("org{}/repo{}", i % 5, i % 9), base + i, i % 3 == 0))
        .collect();
    let jobs_of =
        |repo: &str, run: u64| -> Vec<Job> { (1..=3).map(|id| Job::new(repo, run, id)).collect() };

    // Every event of a run goes to the other instance than the one before.
    let queue_all = runs.iter().map(|(repo, run, _)| {
        let (client, addresses) = (&client, &addresses);
        async move {
            for (index, job) in jobs_of(repo, *run).iter().enumerate() {
                let answer = send_to(client, &addresses[index % 2], &job.queued()).await;
                assert_eq!(answer.status, 202, "{repo}#{run}: {}", answer.body);
            }
        }
    });
    futures_util::future::join_all(queue_all).await;

    let complete = |runs: &'static [(String, u64, bool)], instances: Vec<String>| {
        let client = client.clone();
        async move {
            let sends = runs.iter().map(|(repo, run, fails)| {
                let (client, instances) = (&client, &instances);
                async move {
                    let mut last = 0;
                    for (index, job) in jobs_of(repo, *run).iter().enumerate() {
                        let conclusion = if *fails && index == 0 {
                            "failure"
                        } else {
                            "success"
                        };
                        let address = &instances[index % instances.len()];
                        last = send_to(client, address, &job.completed(conclusion))
                            .await
                            .status;
                    }
                    assert_eq!(last, if *fails { 201 } else { 200 }, "{repo}#{run}");
                }
            });
            futures_util::future::join_all(sends).await;
        }
    };
    let runs: &'static [(String, u64, bool)] = Box::leak(runs.into_boxed_slice());
    complete(&runs[..50], addresses.to_vec()).await;
    // The first instance dies with re-runs it decided and not yet performed.
    let first_logs = first.kill();
    complete(&runs[50..], vec![addresses[1].clone()]).await;

    let failed = runs.iter().filter(|(_, _, fails)| *fails).count();
    eventually("every failed run's re-run to be recorded", || async {
        let recorded = database.outcomes().await;
        (recorded.len() >= failed).then_some(())
    })
    .await;
    for (repo, run, fails) in runs {
        let posts = fake.posts_for(&format!("/repos/{repo}/actions/runs/{run}"));
        assert_eq!(
            posts,
            usize::from(*fails),
            "{repo}#{run} was re-run {posts} times"
        );
    }
    assert_eq!(fake.total_posts(), failed);
    let outcomes = database.outcomes().await;
    assert_eq!(outcomes.len(), failed, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|(_, _, _, outcome)| outcome == "started" || outcome == "already_rerun"),
        "{outcomes:?}"
    );
    let second_logs = second.kill();
    assert!(
        second_logs.contains("\"msg\":\"due re-runs found\""),
        "the surviving instance never took over re-runs the killed one had decided"
    );
    let logs = first_logs + &second_logs;
    assert!(!logs.contains("panicked"), "{logs}");
    database.drop_now().await;
}

/// A TCP proxy in front of PostgreSQL that can cut every connection.
struct Proxy {
    address: String,
    down: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let down = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (is_down, tracked) = (Arc::clone(&down), Arc::clone(&connections));
        actix_web::rt::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if is_down.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let upstream = upstream.clone();
                let relay = actix_web::rt::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().expect("connections").push(relay);
            }
        });
        Self {
            address,
            down,
            connections,
        }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for relay in self.connections.lock().expect("connections").drain(..) {
            relay.abort();
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

/// `url` with its host:port replaced by `address`.
fn through(url: &str, address: &str) -> (String, String) {
    let after_at = url
        .rfind('@')
        .map_or_else(|| url.find("://").map_or(0, |i| i + 3), |i| i + 1);
    let end = url[after_at..]
        .find('/')
        .map_or(url.len(), |i| after_at + i);
    let upstream = url[after_at..end].to_owned();
    (
        format!("{}{address}{}", &url[..after_at], &url[end..]),
        upstream,
    )
}

/// A fresh database for `test`, a cutting proxy in front of it, and the URL through the
/// proxy.
async fn behind_a_proxy(test: &str) -> (TestDatabase, Proxy, String) {
    let database = fresh_database(test).await;
    let (_, upstream) = through(&database.url, "");
    let proxy = Proxy::start(upstream).await;
    let (proxied, _) = through(&database.url, &proxy.address);
    (database, proxy, proxied)
}

#[actix_web::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL, with --include-ignored"]
async fn a_database_outage_answers_503_and_recovers_by_itself() {
    let (database, proxy, proxied) =
        behind_a_proxy("a_database_outage_answers_503_and_recovers_by_itself").await;
    let app = spawn_app(&[("DATABASE_URL", proxied.as_str())]).await;
    let run = unique();
    let build = Job::new("org/repo", run, 1);
    let test = Job::new("org/repo", run, 2);
    assert_eq!(app.send(&build.queued()).await.status, 202);

    proxy.cut();
    let refused = app
        .send_as(&test.queued(), "workflow_job", "outage-delivery")
        .await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert!(
        refused.body.starts_with("event not recorded"),
        "{}",
        refused.body
    );
    assert_eq!(refused.body.lines().count(), 1);
    let mut ready = awc::Client::default()
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .expect("answers");
    assert_eq!(
        ready.status().as_u16(),
        503,
        "not ready while the database is away"
    );
    let reason = ready.body().await.expect("body");
    assert!(reason.starts_with(b"not ready: "), "{reason:?}");

    proxy.restore();
    // GitHub redelivers the failed delivery; the service reconnects by itself.
    eventually("the service to record events again", || async {
        let answer = app
            .send_as(&test.queued(), "workflow_job", "outage-delivery")
            .await;
        (answer.status == 202).then_some(())
    })
    .await;
    assert_eq!(app.send(&build.completed("success")).await.status, 202);
    assert_eq!(app.send(&test.completed("success")).await.status, 200);
    database.drop_now().await;
}

#[actix_web::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL, with --include-ignored"]
async fn a_tracker_whose_only_commit_failed_does_not_stay_in_memory() {
    let (database, proxy, proxied) =
        behind_a_proxy("a_tracker_whose_only_commit_failed_does_not_stay_in_memory").await;
    let app = spawn_app(&[
        ("DATABASE_URL", proxied.as_str()),
        ("RUN_TTL", "1"),
        ("TRACKER_IDLE", "0.1"),
    ])
    .await;
    let registry = app.registry.clone().expect("in-process app");
    proxy.cut();
    let lost = Job::new("org/repo", unique(), 1);
    assert_eq!(app.send(&lost.queued()).await.status, 503);
    proxy.restore();
    // Nothing of the run is stored and GitHub may never redeliver: its tracker goes.
    eventually("the tracker of the unrecorded run to retire", || async {
        registry.is_empty().then_some(())
    })
    .await;
    database.drop_now().await;
}

#[test]
fn an_unreachable_database_stops_start_up_with_one_line() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_job-rerunner"))
        .env_clear()
        .env("GITHUB_SIGN_KEY", "k")
        .env("PORT", "0")
        .env("DATABASE_URL", "postgres://nobody:pw@127.0.0.1:1/none")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("PostgreSQL"), "{stderr}");
    assert!(!stderr.contains(":pw@"), "the password leaked: {stderr}");
}
