//! What one re-run costs the service's own machinery, read off `/metrics`: the store
//! transactions it takes (`store_changes_total`) and the turns it waits for at the
//! back of the GitHub actor's queue (`github_turns_total`). The path goes one way:
//! claim, gather what the decision needs, one decision commit, the POST behind its
//! guard, the record.

use crate::helpers::{TestApp, get_page, spawn_app, unique};
use crate::workflow_run::{a_job_whose_log_says, github_lists_jobs, listed, sends_run_failed};

/// A policy that reads the failed jobs' logs: a re-run needs its evidence.
const READS_LOGS: &str =
    "[defaults]\nbranches = [\"*\"]\ndelay = \"0s\"\nnever_when = ['segfault']\n";

/// The value of one labelled sample of a counter on `/metrics` (0 when absent).
async fn sample(app: &TestApp, name: &str, label: &str, value: &str) -> u64 {
    let page = get_page(&app.address, "/metrics", None).await;
    let wanted = format!("job_rerunner_{name}{{{label}=\"{value}\"}} ");
    page.body
        .lines()
        .find_map(|line| line.strip_prefix(wanted.as_str()))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0)
}

/// Store transactions of each re-run step, and GitHub queue turns of each request.
async fn trips(app: &TestApp) -> (Vec<(&'static str, u64)>, Vec<(&'static str, u64)>) {
    let mut store = Vec::new();
    for change in ["claim", "jobs_listed", "decide", "renew", "record"] {
        store.push((
            change,
            sample(app, "store_changes_total", "change", change).await,
        ));
    }
    let mut github = Vec::new();
    for request in ["gather", "jobs", "annotations", "locate", "rerun", "report"] {
        github.push((
            request,
            sample(app, "github_turns_total", "request", request).await,
        ));
    }
    (store, github)
}

fn total(counts: &[(&str, u64)]) -> u64 {
    counts.iter().map(|(_, n)| n).sum()
}

#[actix_web::test]
async fn a_rerun_decided_on_its_evidence_takes_four_store_transactions_and_three_github_turns() {
    let app = spawn_app(&[("RULES", READS_LOGS)]).await;
    let run = unique();
    let job = a_job_whose_log_says(&app, run, "connection reset by peer").await;
    assert_eq!(app.send(&job.in_progress()).await.status, 202);
    let answer = app.send(&job.completed("failure")).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    app.outcome_becomes("org/repo", run, 1, "started").await;

    let (store, github) = trips(&app).await;
    assert_eq!(total(&store), 4, "claim, decide, renew, record: {store:?}");
    assert_eq!(
        total(&github),
        3,
        "annotations, one log's location, the re-run: {github:?}"
    );
}

#[actix_web::test]
async fn a_rerun_decided_on_listed_jobs_and_their_evidence_takes_no_more_trips_than_one_on_webhooks()
 {
    let app = spawn_app(&[("RULES", READS_LOGS)]).await;
    let run = unique();
    github_lists_jobs(&app.github, "org/repo", run, &[listed(run * 10, "failure")]).await;
    let job = a_job_whose_log_says(&app, run, "connection reset by peer").await;
    let answer = sends_run_failed(&app, &job).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    app.outcome_becomes("org/repo", run, 1, "started").await;

    let (store, github) = trips(&app).await;
    assert_eq!(
        total(&store),
        4,
        "claim, one decision on the jobs and their evidence, renew, record: {store:?}"
    );
    assert_eq!(
        total(&github),
        3,
        "the jobs with the annotations, one log's location, the re-run: {github:?}"
    );
}
