//! Which runs get re-run, and how many times.

use std::time::Duration;

use crate::helpers::{Job, TOKEN, eventually, github_expects_rerun, rerun_path, spawn_app, unique};

#[actix_web::test]
async fn a_matrix_run_with_one_failure_is_rerun_exactly_once() {
    let app = spawn_app(&[]).await;
    let run = unique();
    github_expects_rerun(&app.github, "tarantool/tarantool", run).await;
    let jobs: Vec<Job> = (1..=3)
        .map(|id| Job::new("tarantool/tarantool", run, id))
        .collect();
    for job in &jobs {
        assert_eq!(app.send(&job.queued()).await.status, 202);
    }
    for job in &jobs {
        assert_eq!(app.send(&job.in_progress()).await.status, 202);
    }
    assert_eq!(app.send(&jobs[0].completed("success")).await.status, 202);
    assert_eq!(app.send(&jobs[1].completed("failure")).await.status, 202);
    assert_eq!(app.send(&jobs[2].completed("success")).await.status, 201);

    assert_eq!(
        app.outcome_of("tarantool/tarantool", run, 1).await,
        "started"
    );
    let posts = app.rerun_posts("tarantool/tarantool", run).await;
    assert_eq!(posts.len(), 1, "exactly one re-run");
    let post = &posts[0];
    assert_eq!(post.url.path(), rerun_path("tarantool/tarantool", run));
    let header = |name: &str| {
        post.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("authorization"), Some(format!("Bearer {TOKEN}")));
    assert_eq!(
        header("accept").as_deref(),
        Some("application/vnd.github+json")
    );
    assert_eq!(
        header("x-github-api-version").as_deref(),
        Some("2022-11-28")
    );
    assert!(header("user-agent").is_some_and(|ua| ua.starts_with("job-rerunner/")));
}

#[actix_web::test]
async fn passing_runs_and_runs_on_other_branches_are_not_rerun() {
    let app = spawn_app(&[]).await;
    let passing = Job::new("org/a", unique(), 1);
    app.send(&passing.queued()).await;
    assert_eq!(app.send(&passing.completed("success")).await.status, 200);
    let cancelled = Job::new("org/a", unique(), 1);
    app.send(&cancelled.queued()).await;
    assert_eq!(
        app.send(&cancelled.completed("cancelled")).await.status,
        200
    );
    let feature = Job::new("org/a", unique(), 1).branch("feature");
    app.send(&feature.queued()).await;
    assert_eq!(app.send(&feature.completed("failure")).await.status, 200);

    // A failing run sent last: once its re-run is answered, anything scheduled before it
    // (with no delay) would have been performed too.
    let sentinel = unique();
    github_expects_rerun(&app.github, "org/a", sentinel).await;
    let job = Job::new("org/a", sentinel, 1);
    app.send(&job.queued()).await;
    app.send(&job.completed("failure")).await;
    app.outcome_of("org/a", sentinel, 1).await;
    let posts = app.all_posts().await;
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].url.path(), rerun_path("org/a", sentinel));
}

#[actix_web::test]
async fn a_redelivered_last_completion_does_not_rerun_twice() {
    let app = spawn_app(&[]).await;
    let run = unique();
    github_expects_rerun(&app.github, "org/repo", run).await;
    let job = Job::new("org/repo", run, 1);
    app.send(&job.queued()).await;
    let first = app
        .send_as(&job.completed("failure"), "workflow_job", "same-delivery")
        .await;
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    let again = app
        .send_as(&job.completed("failure"), "workflow_job", "same-delivery")
        .await;
    let duplicate = app.send(&job.completed("failure")).await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(duplicate.status, 201);
    // A second re-run would need a second timer; the attempt is settled ("started").
    let late_queued = app.send(&job.queued()).await;
    assert_eq!(late_queued.status, 202);
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
}

#[actix_web::test]
async fn a_job_queued_after_the_run_looked_finished_delays_the_rerun() {
    let app = spawn_app(&[("RERUN_DELAY", "0.5")]).await;
    let run = unique();
    github_expects_rerun(&app.github, "org/repo", run).await;
    let build = Job::new("org/repo", run, 1);
    let deploy = Job::new("org/repo", run, 2);
    app.send(&build.queued()).await;
    assert_eq!(app.send(&build.completed("failure")).await.status, 201);
    // `needs:` job shows up before the delay runs out: the re-run must wait for it.
    assert_eq!(app.send(&deploy.queued()).await.status, 202);
    // Let the cancelled timer's due time pass; nothing may be called meanwhile.
    actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        app.rerun_posts("org/repo", run).await.is_empty(),
        "re-run fired while a job was unfinished"
    );
    assert_eq!(app.send(&deploy.completed("skipped")).await.status, 201);
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
}

#[actix_web::test]
async fn the_next_attempt_is_tracked_until_the_attempt_limit() {
    let app = spawn_app(&[("RUN_ATTEMPTS", "3")]).await;
    let run = unique();
    crate::helpers::github_accepts_rerun(&app.github, "org/repo", run).await;
    for attempt in 1..=2u32 {
        // GitHub shows the attempt that just failed.
        app.github.reset().await;
        crate::helpers::github_shows_run(
            &app.github,
            "org/repo",
            run,
            "completed",
            Some("failure"),
            attempt,
        )
        .await;
        crate::helpers::github_accepts_rerun(&app.github, "org/repo", run).await;
        let job = Job::new("org/repo", run, u64::from(attempt) * 10).attempt(attempt);
        assert_eq!(app.send(&job.queued()).await.status, 202);
        assert_eq!(app.send(&job.completed("failure")).await.status, 201);
        assert_eq!(app.outcome_of("org/repo", run, attempt).await, "started");
    }
    // Attempt 3 reached RUN_ATTEMPTS: ignored.
    let job = Job::new("org/repo", run, 30).attempt(3);
    assert_eq!(app.send(&job.queued()).await.status, 204);
    assert_eq!(app.send(&job.completed("failure")).await.status, 204);
}

#[actix_web::test]
async fn fifty_concurrent_runs_across_many_repositories_get_exactly_their_reruns() {
    let app = spawn_app(&[]).await;
    let runs: Vec<(String, u64, bool)> = (0..50)
        .map(|i| (format!("org{}/repo{}", i % 7, i % 11), unique(), i % 3 == 0))
        .collect();
    for (repo, run, _) in &runs {
        github_expects_rerun(&app.github, repo, *run).await;
    }
    let sends = runs.iter().map(|(repo, run, fails)| {
        let app = &app;
        async move {
            let jobs: Vec<Job> = (1..=4).map(|id| Job::new(repo, *run, id)).collect();
            for job in &jobs {
                assert_eq!(app.send(&job.queued()).await.status, 202);
            }
            let mut last = 0;
            for (index, job) in jobs.iter().enumerate() {
                let conclusion = if *fails && index == 1 {
                    "failure"
                } else {
                    "success"
                };
                last = app.send(&job.completed(conclusion)).await.status;
            }
            assert_eq!(last, if *fails { 201 } else { 200 }, "run {repo}#{run}");
        }
    });
    futures_util::future::join_all(sends).await;

    for (repo, run, fails) in &runs {
        if *fails {
            assert_eq!(app.outcome_of(repo, *run, 1).await, "started");
        }
    }
    let failed = runs.iter().filter(|(_, _, fails)| *fails).count();
    let posts = eventually("all re-runs", || async {
        let posts = app.all_posts().await;
        (posts.len() >= failed).then_some(posts)
    })
    .await;
    assert_eq!(posts.len(), failed);
    for (repo, run, fails) in &runs {
        let expected = usize::from(*fails);
        assert_eq!(
            app.rerun_posts(repo, *run).await.len(),
            expected,
            "run {repo}#{run}"
        );
    }
}

#[actix_web::test]
async fn a_run_that_never_finishes_is_forgotten_after_the_ttl() {
    let app = spawn_app(&[("RUN_TTL", "1")]).await;
    let job = Job::new("org/repo", unique(), 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    let registry = app.registry.clone().expect("in-process service");
    assert_eq!(registry.len(), 1);
    // Its `completed` delivery is lost: after RUN_TTL the tracker and the stored run go.
    eventually("the quiet run's tracker to expire", || async {
        registry.is_empty().then_some(())
    })
    .await;
    let late = app.send(&job.completed("failure")).await;
    assert_eq!(
        late.status, 404,
        "the expired run must have left the store too"
    );
}

#[actix_web::test]
async fn settled_runs_leave_memory_but_not_the_store() {
    let app = spawn_app(&[("TRACKER_IDLE", "0.1")]).await;
    let run = unique();
    let job = Job::new("org/repo", run, 1);
    app.send(&job.queued()).await;
    assert_eq!(app.send(&job.completed("success")).await.status, 200);
    let registry = app.registry.clone().expect("in-process service");
    eventually("the settled tracker to retire", || async {
        registry.is_empty().then_some(())
    })
    .await;
    // A redelivery finds the run in the store: the same answer, not a 404.
    assert_eq!(app.send(&job.completed("success")).await.status, 200);
}
