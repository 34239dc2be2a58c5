//! Durability: the real binary, killed with SIGKILL and started again on the same file.

use wiremock::MockServer;

use crate::helpers::{Job, SIGN_KEY, TOKEN, TestApp, github_expects_rerun, unique};
use crate::process::Service;

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
