//! Durability: the real binary, killed with SIGKILL and started again on the same file.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wiremock::MockServer;

use crate::helpers::{Job, SIGN_KEY, TOKEN, TestApp, github_expects_rerun, test_vars, unique};

/// The service binary running in a child process.
struct Service {
    child: Child,
    port: u16,
    output: Arc<Mutex<String>>,
}

impl Service {
    fn start(github: &MockServer, db: &Path, extra: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_job-rerunner"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        command
            .envs(test_vars(github, db))
            .env("LOG_FORMAT", "json")
            .env("LOG_LEVEL", "debug");
        command.envs(extra.iter().copied());
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        for (stream, announce) in [
            (Box::new(stdout) as Box<dyn std::io::Read + Send>, true),
            (Box::new(stderr), false),
        ] {
            let output = Arc::clone(&output);
            let port_tx = port_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let entry = announce
                        .then(|| serde_json::from_str::<serde_json::Value>(&line).ok())
                        .flatten();
                    if let Some(entry) = entry.filter(|entry| entry["msg"] == "listening") {
                        let _ = port_tx.send(entry["port"].as_u64().unwrap_or(0) as u16);
                    }
                    output.lock().expect("log buffer").push_str(&(line + "\n"));
                }
            });
        }
        let port = port_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                panic!(
                    "the service did not start: {}",
                    output.lock().expect("log buffer")
                )
            });
        Self {
            child,
            port,
            output,
        }
    }

    /// SIGKILL: no shutdown code runs.
    fn kill(mut self) -> String {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
        std::thread::sleep(Duration::from_millis(100)); // let the reader threads drain the pipes
        self.output.lock().expect("log buffer").clone()
    }
}

#[actix_web::test]
async fn tracked_jobs_survive_a_kill_and_restart() {
    let github = MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db/job-rerunner.db");
    let run = unique();
    github_expects_rerun(&github, "org/repo", run).await;
    let build = Job::new("org/repo", run, 1);
    let test = Job::new("org/repo", run, 2);

    let first = Service::start(&github, &db, &[]);
    let app = TestApp::for_process(first.port, github, db.clone());
    assert_eq!(app.send(&build.queued()).await.status, 202);
    assert_eq!(app.send(&test.queued()).await.status, 202);
    let logs = first.kill();

    let second = Service::start(&app.github, &db, &[]);
    let app = TestApp::for_process(second.port, app.github, db.clone());
    // Without the stored run these would be 404s ("no earlier record").
    assert_eq!(app.send(&build.completed("failure")).await.status, 202);
    assert_eq!(app.send(&test.completed("success")).await.status, 201);
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
    let logs = logs + &second.kill();

    assert!(
        logs.contains("\"msg\":\"webhook answered\""),
        "no webhook lines in:\n{logs}"
    );
    assert!(
        !logs.contains(SIGN_KEY) && !logs.contains(TOKEN),
        "a secret leaked into the logs"
    );
}

#[actix_web::test]
async fn a_decided_rerun_survives_a_kill_before_it_was_performed() {
    let github = MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db/job-rerunner.db");
    let run = unique();
    github_expects_rerun(&github, "org/repo", run).await;
    let job = Job::new("org/repo", run, 1);

    // The delay keeps the decided re-run waiting when the process dies.
    let first = Service::start(&github, &db, &[("RERUN_DELAY", "3")]);
    let app = TestApp::for_process(first.port, github, db.clone());
    app.send(&job.queued()).await;
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    first.kill();
    assert!(app.rerun_posts("org/repo", run).await.is_empty());

    let second = Service::start(&app.github, &db, &[("RERUN_DELAY", "0")]);
    let app = TestApp::for_process(second.port, app.github, db.clone());
    // No new event arrives: start-up alone must find the decision and perform it.
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
    second.kill();
}
