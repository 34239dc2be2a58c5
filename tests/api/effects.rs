//! What re-runs cost and saved (issue 19 point 8), end to end: the runner time of the
//! jobs of an automatic re-run (from their `started_at` and `completed_at`), whether
//! it turned the run green, and what a skip saved, on `/api/effects` and the page.

use serde_json::Value;

use crate::helpers::{Job, eventually, get_page, github_expects_rerun, spawn_app, unique};

const REPO: &str = "org/effects";
const STATUS_TOKEN: &str = "a-status-token-of-some-length";

#[actix_web::test]
async fn a_re_run_that_turned_the_run_green_and_a_skip_are_counted_in_runner_time() {
    let app = spawn_app(&[
        ("RULES", "[defaults]\nskip_jobs = ['deploy*']\n"),
        ("STATUS_TOKEN", STATUS_TOKEN),
    ])
    .await;
    // A failed test job, re-run by the service; its re-run passes after 90 s.
    let run = unique();
    github_expects_rerun(&app.github, REPO, run).await;
    let job = Job::new(REPO, run, 1).name("test").ran_for(60);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    app.outcome_becomes(REPO, run, 1, "started").await;
    let again = Job::new(REPO, run, 2).name("test").attempt(2).ran_for(90);
    assert_eq!(app.send(&again.queued()).await.status, 202);
    assert_eq!(app.send(&again.completed("success")).await.status, 200);
    // A failed deploy job that ran 45 s: skipped.
    let skipped = unique();
    let deploy = Job::new(REPO, skipped, 3).name("deploy-prod").ran_for(45);
    assert_eq!(app.send(&deploy.queued()).await.status, 202);
    assert_eq!(app.send(&deploy.completed("failure")).await.status, 200);

    let day = eventually("the effects are counted", || async {
        let page = get_page(&app.address, "/api/effects", Some(STATUS_TOKEN)).await;
        let effects: Value = serde_json::from_str(&page.body).ok()?;
        let day = effects["day"].clone();
        (day["runner_ms"] == 90_000 && day["skips"] == 1).then_some(day)
    })
    .await;
    assert_eq!(day["reruns"], 1, "{day}");
    assert_eq!(day["turned_green"], 1, "{day}");
    assert_eq!(day["skipped_ms"], 45_000, "{day}");
    let page = get_page(&app.address, "/status", Some(STATUS_TOKEN)).await;
    assert!(
        page.body.contains("What re-runs cost and saved"),
        "{}",
        page.body
    );
    assert!(page.body.contains("1 of 1 (100 %)"), "turned green");
}

#[actix_web::test]
async fn a_re_run_whose_job_failed_again_did_not_turn_the_run_green() {
    let app = spawn_app(&[("STATUS_TOKEN", STATUS_TOKEN)]).await;
    let run = unique();
    github_expects_rerun(&app.github, REPO, run).await;
    let job = Job::new(REPO, run, 1).name("test");
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    app.outcome_becomes(REPO, run, 1, "started").await;
    let again = Job::new(REPO, run, 2).name("test").attempt(2).ran_for(30);
    assert_eq!(app.send(&again.queued()).await.status, 202);
    app.send(&again.completed("failure")).await;
    let day = eventually("the re-run's runner time is counted", || async {
        let page = get_page(&app.address, "/api/effects", Some(STATUS_TOKEN)).await;
        let effects: Value = serde_json::from_str(&page.body).ok()?;
        (effects["day"]["runner_ms"] == 30_000).then(|| effects["day"].clone())
    })
    .await;
    assert_eq!(day["turned_green"], 0, "{day}");
}
