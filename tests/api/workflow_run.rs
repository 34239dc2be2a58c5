//! `workflow_run` deliveries: GitHub's own word on how an attempt ended. A run whose
//! job deliveries were lost (all or some) is decided on the jobs GitHub lists; a
//! conclusion without failure settles a disagreement; any order of job and run events,
//! redelivered, gives one re-run; a crash between the claim and the listing loses
//! nothing.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Job, TestApp, eventually, github_expects_rerun, run_path, spawn_app, unique};
use crate::postgres::fresh_database;
use crate::process::Service;

/// A `workflow_run` delivery for `job`'s run (its repository, run, attempt, branch).
pub(crate) fn run_event(job: &Job, action: &str, conclusion: Option<&str>) -> Value {
    json!({
        "action": action,
        "workflow_run": {
            "id": job.run_id,
            "name": job.workflow,
            "run_attempt": job.attempt,
            "head_branch": job.branch,
            "head_sha": "0d5ec357fb8684bd26a74f0b8b3a5020768688eb",
            "status": if action == "completed" { "completed" } else { action },
            "conclusion": conclusion,
            "pull_requests": [],
        },
        "repository": {"id": 1, "full_name": job.repo, "private": false},
        "organization": {"login": "org"},
        "sender": {"login": job.sender, "type": "User"},
    })
}

/// `job`'s run completed with a failure, as a `workflow_run` delivery of its own id.
pub(crate) async fn sends_run_failed(app: &TestApp, job: &Job) -> crate::helpers::Answer {
    app.send_as(
        &run_event(job, "completed", Some("failure")),
        "workflow_run",
        &format!("d-{}", unique()),
    )
    .await
}

/// Run `run`'s job (id `run * 10`), whose log says `log`, and GitHub ready to re-run it.
pub(crate) async fn a_job_whose_log_says(app: &TestApp, run: u64, log: &str) -> Job {
    github_expects_rerun(&app.github, "org/repo", run).await;
    github_serves_log(&app.github, "org/repo", run * 10, log).await;
    Job::new("org/repo", run, run * 10)
}

/// A job as GitHub's jobs listing shows it.
pub(crate) fn listed(job_id: u64, conclusion: &str) -> Value {
    json!({
        "id": job_id, "name": format!("job-{job_id}"), "run_attempt": 1,
        "status": "completed", "conclusion": conclusion,
        "steps": [
            {"name": "Set up job", "status": "completed", "conclusion": "success", "number": 1},
            {"name": "test", "status": "completed", "conclusion": conclusion, "number": 2},
        ],
    })
}

fn jobs_path(repo: &str, run_id: u64) -> String {
    format!("{}/jobs", run_path(repo, run_id))
}

/// GitHub lists `jobs` for the run, in pages of 100.
pub(crate) async fn github_lists_jobs(
    github: &MockServer,
    repo: &str,
    run_id: u64,
    jobs: &[Value],
) {
    let pages: Vec<&[Value]> = if jobs.is_empty() {
        vec![&[]]
    } else {
        jobs.chunks(100).collect()
    };
    for (index, page) in pages.iter().enumerate() {
        Mock::given(method("GET"))
            .and(path(jobs_path(repo, run_id)))
            .and(query_param("filter", "latest"))
            .and(query_param("page", (index + 1).to_string()))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"total_count": jobs.len(), "jobs": page})),
            )
            .mount(github)
            .await;
    }
}

/// The jobs listing requests GitHub received for the run: the `page` of each.
async fn listing_pages(github: &MockServer, repo: &str, run_id: u64) -> Vec<String> {
    let wanted = jobs_path(repo, run_id);
    github
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == wanted)
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "page")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect()
}

#[actix_web::test]
async fn a_run_whose_job_deliveries_were_all_lost_is_rerun_from_its_completion_alone() {
    let app = spawn_app(&[]).await;
    let run = unique();
    let job = Job::new("org/repo", run, 1);
    github_expects_rerun(&app.github, "org/repo", run).await;
    // 101 jobs: two pages; the failed one is on the second.
    let mut jobs: Vec<Value> = (1..=100).map(|id| listed(id, "success")).collect();
    jobs.push(listed(101, "failure"));
    github_lists_jobs(&app.github, "org/repo", run, &jobs).await;

    let answer = sends_run_failed(&app, &job).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
    let mut pages = listing_pages(&app.github, "org/repo", run).await;
    pages.sort();
    assert_eq!(pages, vec!["1", "2"], "both pages read, once each");
}

#[actix_web::test]
async fn a_run_seen_in_part_is_decided_on_the_jobs_github_lists() {
    let app = spawn_app(&[]).await;
    let run = unique();
    let passed = Job::new("org/repo", run, 1);
    github_expects_rerun(&app.github, "org/repo", run).await;
    github_lists_jobs(
        &app.github,
        "org/repo",
        run,
        &[listed(1, "success"), listed(2, "failure")],
    )
    .await;

    // Job 2's deliveries were lost: the run looks passed from its jobs.
    assert_eq!(app.send(&passed.queued()).await.status, 202);
    assert_eq!(app.send(&passed.completed("success")).await.status, 200);
    assert!(app.rerun_posts("org/repo", run).await.is_empty());
    let answer = app
        .send_as(
            &run_event(&passed, "completed", Some("failure")),
            "workflow_run",
            &format!("d-{}", unique()),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
}

#[actix_web::test]
async fn a_failed_continue_on_error_job_in_a_run_github_concluded_success_is_not_rerun() {
    // The delay keeps the re-run scheduled when GitHub's word arrives.
    let app = spawn_app(&[("RERUN_DELAY", "30")]).await;
    let run = unique();
    let job = Job::new("org/repo", run, 1);
    github_expects_rerun(&app.github, "org/repo", run).await;
    app.send(&job.queued()).await;
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    let answer = app
        .send_as(
            &run_event(&job, "completed", Some("success")),
            "workflow_run",
            &format!("d-{}", unique()),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("not needed"), "{}", answer.body);
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "not_needed");

    // The other order: GitHub's word first, then the job's failure.
    let other = Job::new("org/repo", unique(), 1);
    let first = app
        .send_as(
            &run_event(&other, "completed", Some("success")),
            "workflow_run",
            &format!("d-{}", unique()),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    app.send(&other.queued()).await;
    let late = app.send(&other.completed("failure")).await;
    assert_eq!(late.status, 200, "{}", late.body);

    assert!(app.rerun_posts("org/repo", run).await.is_empty());
    assert!(app.rerun_posts("org/repo", other.run_id).await.is_empty());
    assert!(
        app.github
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "GitHub is not even asked"
    );
}

#[actix_web::test]
async fn requested_and_in_progress_answer_202_and_store_nothing() {
    let app = spawn_app(&[]).await;
    let job = Job::new("org/repo", unique(), 1);
    for action in ["requested", "in_progress"] {
        let answer = app
            .send_as(
                &run_event(&job, action, None),
                "workflow_run",
                &format!("d-{}", unique()),
            )
            .await;
        assert_eq!(answer.status, 202, "{action}: {}", answer.body);
    }
    let conn = rusqlite::Connection::open(&app.db_path).expect("the database opens");
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM runs", [], |row| row.get(0))
        .expect("counted");
    assert_eq!(rows, 0, "no run was written");
    // The SPEC's filters and 400s apply to workflow_run too.
    let denied = job.clone().sender("bot");
    let app = spawn_app(&[("NO_RETRY_LIST", "bot")]).await;
    let answer = app
        .send_as(
            &run_event(&denied, "completed", Some("failure")),
            "workflow_run",
            "d-x",
        )
        .await;
    assert_eq!(answer.status, 204);
    let mut broken = run_event(&job, "completed", Some("failure"));
    broken["workflow_run"]
        .as_object_mut()
        .expect("object")
        .remove("run_attempt");
    let answer = app.send_as(&broken, "workflow_run", "d-y").await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.body.contains("workflow_run.run_attempt"),
        "{}",
        answer.body
    );
}

/// The deliveries of one run: its two jobs' and its own completion, each with an id.
fn deliveries(run: u64) -> Vec<(Value, &'static str, String)> {
    let failed = Job::new("org/repo", run, run * 10 + 1);
    let passed = Job::new("org/repo", run, run * 10 + 2);
    vec![
        (failed.queued(), "workflow_job", format!("{run}-q")),
        (
            failed.completed("failure"),
            "workflow_job",
            format!("{run}-f"),
        ),
        (
            passed.completed("success"),
            "workflow_job",
            format!("{run}-s"),
        ),
        (
            run_event(&failed, "completed", Some("failure")),
            "workflow_run",
            format!("{run}-r"),
        ),
    ]
}

/// Every order of `n` items (Heap's algorithm).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn heap(k: usize, items: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k == 1 {
            out.push(items.clone());
            return;
        }
        for i in 0..k {
            heap(k - 1, items, out);
            let swap = if k.is_multiple_of(2) { i } else { 0 };
            items.swap(swap, k - 1);
        }
    }
    let mut out = Vec::new();
    heap(n, &mut (0..n).collect(), &mut out);
    out
}

/// Sends every order of one run's deliveries (one run per order), each delivery twice,
/// and checks that each run was re-run exactly once.
async fn every_order_gives_one_rerun(app: &TestApp) -> Vec<u64> {
    let orders = permutations(4);
    assert_eq!(orders.len(), 24);
    let mut runs = Vec::new();
    for order in &orders {
        let run = unique();
        runs.push(run);
        github_expects_rerun(&app.github, "org/repo", run).await;
        let jobs = [
            listed(run * 10 + 1, "failure"),
            listed(run * 10 + 2, "success"),
        ];
        github_lists_jobs(&app.github, "org/repo", run, &jobs).await;
        let all = deliveries(run);
        for &index in order {
            let (payload, event, delivery) = &all[index];
            let first = app.send_as(payload, event, delivery).await;
            // A completion first is "no earlier record" (SPEC's 404); all else is 2xx.
            assert!(
                (200..300).contains(&first.status) || first.status == 404,
                "{event} {delivery}: {} {}",
                first.status,
                first.body
            );
            let again = app.send_as(payload, event, delivery).await;
            assert_eq!(again.status, first.status, "a redelivery is answered alike");
        }
    }
    runs
}

async fn posts_for(app: &TestApp, runs: &[u64]) -> Vec<usize> {
    let mut counts = Vec::new();
    for &run in runs {
        counts.push(app.rerun_posts("org/repo", run).await.len());
    }
    counts
}

#[actix_web::test]
async fn job_and_run_events_in_every_order_and_redelivered_give_exactly_one_rerun() {
    let app = spawn_app(&[]).await;
    let runs = every_order_gives_one_rerun(&app).await;
    for &run in &runs {
        assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    }
    assert_eq!(posts_for(&app, &runs).await, vec![1; runs.len()]);
}

#[actix_web::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL, with --include-ignored"]
async fn job_and_run_events_in_every_order_give_exactly_one_rerun_on_postgres() {
    let database =
        fresh_database("job_and_run_events_in_every_order_give_exactly_one_rerun_on_postgres")
            .await;
    let app = spawn_app(&[("DATABASE_URL", database.url.as_str())]).await;
    let runs = every_order_gives_one_rerun(&app).await;
    eventually("every run's re-run recorded", || async {
        let started = database
            .outcomes()
            .await
            .into_iter()
            .filter(|(_, run, _, outcome)| runs.contains(run) && outcome == "started")
            .count();
        (started == runs.len()).then_some(())
    })
    .await;
    assert_eq!(posts_for(&app, &runs).await, vec![1; runs.len()]);
    database.drop_now().await;
}

#[actix_web::test]
async fn a_crash_between_the_claim_and_the_jobs_listing_still_gives_one_rerun() {
    let github = MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db/job-rerunner.db");
    let run = unique();
    let job = Job::new("org/repo", run, 1);
    github_expects_rerun(&github, "org/repo", run).await;
    // The first listing never answers in time: the process dies while it waits.
    Mock::given(method("GET"))
        .and(path(jobs_path("org/repo", run)))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .up_to_n_times(1)
        .mount(&github)
        .await;
    github_lists_jobs(&github, "org/repo", run, &[listed(1, "failure")]).await;
    let fast = [("OUTBOX_POLL", "0.05"), ("CLAIM_LEASE", "1")];

    let first = Service::start(&github, &db, &fast);
    let app = TestApp::for_process(first.port, github, db.clone());
    let answer = app
        .send_as(
            &run_event(&job, "completed", Some("failure")),
            "workflow_run",
            "d-crash",
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    eventually("the claimant to ask for the jobs", || async {
        (!listing_pages(&app.github, "org/repo", run).await.is_empty()).then_some(())
    })
    .await;
    first.kill();
    assert!(app.rerun_posts("org/repo", run).await.is_empty());

    let second = Service::start(&app.github, &db, &fast);
    let app = TestApp::for_process(second.port, app.github, db.clone());
    // No new event: the lease runs out, the re-run is claimed and its jobs listed again.
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
    assert_eq!(listing_pages(&app.github, "org/repo", run).await.len(), 2);
    second.kill();
}

/// GitHub serves job `job`'s log (directly, no redirect) and no annotations.
pub(crate) async fn github_serves_log(github: &MockServer, repo: &str, job: u64, log: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/repos/{repo}/check-runs/{job}/annotations")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(github)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/{repo}/actions/jobs/{job}/logs")))
        .respond_with(ResponseTemplate::new(200).set_body_string(log))
        .mount(github)
        .await;
}

#[actix_web::test]
async fn a_run_known_only_from_its_completion_is_decided_on_evidence_too() {
    let rules = "[defaults]\nbranches = [\"*\"]\ndelay = \"0s\"\nnever_when = ['segfault']\n";
    let app = spawn_app(&[("RULES", rules)]).await;
    let (broken, flaky) = (unique(), unique());
    for (run, log) in [
        (broken, "Segmentation fault: segfault in test"),
        (flaky, "connection reset"),
    ] {
        github_expects_rerun(&app.github, "org/repo", run).await;
        github_lists_jobs(&app.github, "org/repo", run, &[listed(run * 10, "failure")]).await;
        github_serves_log(&app.github, "org/repo", run * 10, log).await;
        let job = Job::new("org/repo", run, run * 10);
        let answer = app
            .send_as(
                &run_event(&job, "completed", Some("failure")),
                "workflow_run",
                &format!("d-{}", unique()),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
    }
    assert_eq!(app.outcome_of("org/repo", broken, 1).await, "skipped");
    assert_eq!(app.outcome_of("org/repo", flaky, 1).await, "started");
    assert!(
        app.rerun_posts("org/repo", broken).await.is_empty(),
        "never_when holds for a listed job"
    );
    assert_eq!(app.rerun_posts("org/repo", flaky).await.len(), 1);
}

#[actix_web::test]
async fn a_slow_jobs_listing_leaves_the_evidence_its_whole_budget() {
    let rules =
        "[defaults]\nbranches = [\"*\"]\ndelay = \"0s\"\nonly_when = ['connection reset']\n";
    let app = spawn_app(&[("RULES", rules), ("EVIDENCE_TIMEOUT", "1")]).await;
    let run = unique();
    // The listing takes longer than the evidence's whole budget.
    Mock::given(method("GET"))
        .and(path(jobs_path("org/repo", run)))
        .and(query_param("filter", "latest"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 1, "jobs": [listed(run * 10, "failure")]}))
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&app.github)
        .await;
    let job = a_job_whose_log_says(&app, run, "connection reset by peer").await;
    let answer = sends_run_failed(&app, &job).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(
        app.outcome_of("org/repo", run, 1).await,
        "started",
        "the log was read after the listing, within its own budget"
    );
}
