//! An incident is not N flaky jobs (issue 19 point 6), end to end: the same transient
//! failure in STORM_REPOS repositories within STORM_WINDOW starts a storm; the
//! re-runs it catches are held (no POST) while the `storms` and `reruns_held` gauges
//! say so; once no new repository failed that way for a window, the storm ends and
//! the held re-runs are POSTed, each exactly once.

use serde_json::json;

use crate::evidence_policy::{STATUS_TOKEN, serves_evidence_in, start_with};
use crate::helpers::{Job, TestApp, eventually, get_page, github_expects_rerun, unique};

const POLICY: &str = "[defaults]\nonly_when = ['@transient']\n";
const RESET_LOG: &str = "2026-12-01T10:00:00.0000000Z ##[group]Run npm ci\n\
                         2026-12-01T10:00:01.0000000Z npm ERR! code ECONNRESET\n\
                         2026-12-01T10:00:01.0000000Z npm ERR! network read ECONNRESET\n\
                         2026-12-01T10:00:02.0000000Z ##[error]Process completed with exit code 1.\n";

/// The value of an unlabelled metric.
async fn gauge(app: &TestApp, name: &str) -> Option<i64> {
    let page = get_page(&app.address, "/metrics", None).await;
    page.body
        .lines()
        .find_map(|line| line.strip_prefix(&format!("job_rerunner_{name} ")))
        .and_then(|value| value.trim().parse().ok())
}

#[actix_web::test]
async fn one_transient_failure_in_many_repositories_holds_their_re_runs_until_the_storm_is_over() {
    let (app, blob) = start_with(
        POLICY,
        &[
            ("STORM_REPOS", "3"),
            ("STORM_WINDOW", "2"),
            ("STATUS_TOKEN", STATUS_TOKEN),
        ],
    )
    .await;
    let mut runs = Vec::new();
    for n in 1..=4u64 {
        let repo = format!("org/service-{n}");
        let run = unique();
        github_expects_rerun(&app.github, &repo, run).await;
        serves_evidence_in(&app, &blob, &repo, 500 + n, json!([]), RESET_LOG).await;
        let job = Job::new(&repo, run, 500 + n).name("install");
        assert_eq!(app.send(&job.queued()).await.status, 202);
        assert_eq!(app.send(&job.completed("failure")).await.status, 201);
        if n <= 2 {
            // Before the storm: re-run at once.
            eventually(&format!("{repo} re-run"), || async {
                (app.rerun_posts(&repo, run).await.len() == 1).then_some(())
            })
            .await;
        }
        runs.push((repo, run));
    }
    // The third repository started the storm: its re-run and the fourth's are held.
    eventually("two re-runs held by one storm", || async {
        (gauge(&app, "storms").await == Some(1) && gauge(&app, "reruns_held").await == Some(2))
            .then_some(())
    })
    .await;
    for (repo, run) in &runs[2..] {
        assert!(
            app.rerun_posts(repo, *run).await.is_empty(),
            "{repo}: held, not POSTed"
        );
    }
    // No new repository fails that way: after a window the storm ends and the held
    // re-runs go, each once.
    for (repo, run) in &runs[2..] {
        eventually(&format!("{repo} released"), || async {
            (!app.rerun_posts(repo, *run).await.is_empty()).then_some(())
        })
        .await;
    }
    eventually("the storm is over", || async {
        (gauge(&app, "storms").await == Some(0) && gauge(&app, "reruns_held").await == Some(0))
            .then_some(())
    })
    .await;
    for (repo, run) in &runs {
        assert_eq!(
            app.rerun_posts(repo, *run).await.len(),
            1,
            "{repo}: exactly one POST"
        );
        app.outcome_becomes(repo, *run, 1, "started").await;
    }
}
