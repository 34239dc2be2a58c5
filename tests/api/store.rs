//! Store conformance: one set of tests, run against every backend: `NAME::on_sqlite`
//! always, `NAME::on_postgres` when asked for (ignored by a plain `cargo test`).

use std::sync::Arc;

use job_rerunner::ids::{JobId, RepoName, RunId, RunKey};
use job_rerunner::run::{
    ChangeResult, Claim, Conclusion, JobAction, JobEvent, RerunOutcome, RetryPolicy, RunChange,
    RunConfig,
};
use job_rerunner::settings::DatabaseUrl;
use job_rerunner::startup::open_store;
use job_rerunner::store::Store;

use crate::postgres::{TestDatabase, fresh_database};

/// A backend under test and what keeps its database alive.
struct Backend {
    name: &'static str,
    url: DatabaseUrl,
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    database: Option<TestDatabase>,
}

impl Backend {
    /// Opens a second store on the same database (a restart, or another instance).
    async fn reopen(&self) -> Arc<dyn Store> {
        open_store(&self.url).await.expect("reopen")
    }

    async fn finish(self) {
        drop(self.store);
        if let Some(database) = self.database {
            database.drop_now().await;
        }
    }
}

/// The embedded backend, on a file of its own.
async fn sqlite_backend() -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = DatabaseUrl::Sqlite(dir.path().join("store.db").display().to_string());
    let store = open_store(&url).await.expect("sqlite opens");
    Backend {
        name: "sqlite",
        url,
        store,
        _dir: Some(dir),
        database: None,
    }
}

/// PostgreSQL, on a database of the test's own (`TEST_DATABASE_URL`).
async fn postgres_backend(test: &str) -> Backend {
    let database = fresh_database(test).await;
    let url = DatabaseUrl::Postgres(job_rerunner::settings::Secret::new(database.url.clone()));
    let store = open_store(&url).await.expect("postgres opens");
    Backend {
        name: "postgres",
        url,
        store,
        _dir: None,
        database: Some(database),
    }
}

/// One conformance test, twice: `NAME::on_sqlite` runs in every `cargo test`;
/// `NAME::on_postgres` needs a server, so it is ignored unless asked for
/// (`cargo test -- --include-ignored` with `TEST_DATABASE_URL`, as `.ci/run` does).
macro_rules! on_every_backend {
    ($test:ident) => {
        mod $test {
            #[actix_web::test]
            async fn on_sqlite() {
                super::$test(super::sqlite_backend().await).await;
            }

            #[actix_web::test]
            #[ignore = "needs PostgreSQL: TEST_DATABASE_URL, with --include-ignored"]
            async fn on_postgres() {
                let test = concat!(stringify!($test), "::on_postgres");
                super::$test(super::postgres_backend(test).await).await;
            }
        }
    };
}

fn key(run: u64) -> RunKey {
    RunKey {
        repo: RepoName::parse("org/repo").expect("valid"),
        run_id: RunId(run),
    }
}

const RETRY: RetryPolicy = RetryPolicy {
    still_running_every_ms: 10,
    still_running_tries: 1,
    gave_up_first_ms: 10,
    gave_up_max_ms: 10,
    gave_up_tries: 1,
};

fn policy() -> RunConfig {
    RunConfig {
        rerun_delay_ms: 0,
        branch_eligible: true,
        ..RunConfig::default()
    }
}

fn event(run: u64, job: u64, delivery: &str, action: JobAction, now: u64) -> RunChange {
    let event = JobEvent {
        delivery: Some(delivery.to_owned()),
        run: key(run),
        run_attempt: 1,
        job_id: JobId(job),
        job_name: format!("job-{job}").into(),
        workflow_name: "ci".into(),
        branch: "master".into(),
        action,
        ran_steps: true,
        failed_steps: Vec::new(),
        installation: None,
        head_sha: None,
        beyond_attempts: None,
        ran_ms: None,
    };
    RunChange::Event {
        event: Arc::new(event),
        policy: policy(),
        now,
    }
}

async fn status(store: &dyn Store, run: u64, change: RunChange) -> u16 {
    match store
        .transition(&key(run), change)
        .await
        .expect("transition")
        .result
    {
        ChangeResult::Event(verdict) => verdict.reply.status,
        other => panic!("not an event result: {other:?}"),
    }
}

/// Queues a job and fails it: the run's re-run is then due.
async fn failed_run(store: &dyn Store, run: u64) {
    assert_eq!(
        status(
            store,
            run,
            event(run, 1, &format!("q{run}"), JobAction::Unfinished, 10)
        )
        .await,
        202
    );
    let failed = JobAction::Completed(Conclusion::Failure);
    assert_eq!(
        status(store, run, event(run, 1, &format!("c{run}"), failed, 20)).await,
        201
    );
}

on_every_backend!(a_redelivered_event_is_answered_alike);
async fn a_redelivered_event_is_answered_alike(backend: Backend) {
    let store = &*backend.store;
    failed_run(store, 1).await;
    // The run moved on (a needs: job), then the last completion is redelivered.
    assert_eq!(
        status(store, 1, event(1, 2, "q2", JobAction::Unfinished, 30)).await,
        202
    );
    let redelivered = event(1, 1, "c1", JobAction::Completed(Conclusion::Failure), 40);
    assert_eq!(status(store, 1, redelivered).await, 201, "{}", backend.name);
    let state = store.load(&key(1)).await.expect("load").expect("run");
    assert_eq!(
        state.unfinished_jobs(),
        1,
        "{}: the redelivery changed the run",
        backend.name
    );
    backend.finish().await;
}

on_every_backend!(concurrent_changes_to_one_run_are_all_kept);
async fn concurrent_changes_to_one_run_are_all_kept(backend: Backend) {
    // Two stores on one database: two processes.
    let other = backend.reopen().await;
    let changes = (0..40u64).map(|job| {
        let store = if job % 2 == 0 {
            Arc::clone(&backend.store)
        } else {
            Arc::clone(&other)
        };
        async move {
            store
                .transition(
                    &key(7),
                    event(7, job, &format!("d{job}"), JobAction::Unfinished, job),
                )
                .await
        }
    });
    for result in futures_util::future::join_all(changes).await {
        result.expect("transition");
    }
    let state = backend
        .store
        .load(&key(7))
        .await
        .expect("load")
        .expect("run");
    assert_eq!(
        state.jobs.len(),
        40,
        "{}: a concurrent change was lost",
        backend.name
    );
    backend.finish().await;
}

on_every_backend!(a_due_rerun_is_claimed_once_and_taken_over_after_its_lease);
async fn a_due_rerun_is_claimed_once_and_taken_over_after_its_lease(backend: Backend) {
    let store = &backend.store;
    failed_run(&**store, 3).await;
    assert_eq!(
        store.due_reruns(1_000, 10).await.expect("due"),
        vec![key(3)],
        "{}",
        backend.name
    );
    let claims = [
        Claim {
            owner: 1,
            lease_ms: 1_000,
        },
        Claim {
            owner: 2,
            lease_ms: 1_000,
        },
    ];
    let attempts = claims.iter().map(|claim| {
        store.transition(
            &key(3),
            RunChange::Claim {
                now: 100,
                claim: *claim,
            },
        )
    });
    let won: Vec<_> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|applied| {
            matches!(
                applied.as_ref().expect("claim").result,
                ChangeResult::Claimed(Some(_))
            )
        })
        .collect();
    assert_eq!(
        won.len(),
        1,
        "{}: a due re-run must be claimed exactly once",
        backend.name
    );
    assert!(
        store.due_reruns(500, 10).await.expect("due").is_empty(),
        "claimed: not due while the lease holds"
    );
    let late = store
        .transition(
            &key(3),
            RunChange::Claim {
                now: 1_200,
                claim: claims[1],
            },
        )
        .await
        .expect("claim");
    let ChangeResult::Claimed(Some(claimed)) = late.result else {
        panic!(
            "{}: the lease ran out, the re-run must be claimable",
            backend.name
        );
    };
    let renew_by_first = RunChange::Renew {
        now: 1_300,
        attempt: 1,
        claim: claims[0],
    };
    let first = store
        .transition(&key(3), renew_by_first)
        .await
        .expect("renew");
    assert_eq!(first.result, ChangeResult::Renewed(false));
    let record = RunChange::Record {
        now: 1_400,
        claimed,
        owner: 2,
        outcome: RerunOutcome::Started,
        retry: RETRY,
    };
    store.transition(&key(3), record).await.expect("record");
    assert!(
        store
            .due_reruns(u64::MAX, 10)
            .await
            .expect("due")
            .is_empty()
    );
    let recent = store.recent_reruns(5).await.expect("recent");
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].1.outcome, RerunOutcome::Started);
    assert_eq!(recent[0].1.failed_jobs, vec!["job-1".to_string()]);
    backend.finish().await;
}

on_every_backend!(state_survives_reopening_and_quiet_runs_are_purged);
async fn state_survives_reopening_and_quiet_runs_are_purged(backend: Backend) {
    failed_run(&*backend.store, 4).await;
    assert_eq!(
        status(
            &*backend.store,
            5,
            event(5, 1, "q5", JobAction::Unfinished, 10)
        )
        .await,
        202
    );
    let reopened = backend.reopen().await;
    let state = reopened.load(&key(4)).await.expect("load").expect("run");
    assert!(
        state.pending_rerun_at().is_some(),
        "{}: the decided re-run was lost",
        backend.name
    );
    let purged = reopened.purge_idle(u64::MAX / 2).await.expect("purge");
    assert_eq!(
        purged, 1,
        "{}: only the run without a pending re-run goes",
        backend.name
    );
    assert!(reopened.load(&key(5)).await.expect("load").is_none());
    assert!(reopened.load(&key(4)).await.expect("load").is_some());
    reopened.ping().await.expect("ping");
    drop(reopened);
    backend.finish().await;
}

mod first_schema {
    refinery::embed_migrations!("migrations/sqlite");
}

#[actix_web::test]
async fn a_database_of_the_first_schema_keeps_its_runs_after_the_upgrade() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("v1.db");
    {
        // The first release's schema, holding one run with a queued job, as it stored it.
        let mut conn = rusqlite::Connection::open(&path).expect("open");
        first_schema::migrations::runner()
            .set_target(refinery::Target::Version(1))
            .run(&mut conn)
            .expect("schema version 1");
        let state = r#"{"branch":"master","workflow":"ci","attempt":1,
            "jobs":[{"id":1,"name":"job-1","conclusion":null}],"rerun":{"state":"idle"},
            "retries":0,"confirmed":true,"first_seen_at":10,"last_event_at":10}"#;
        conn.execute(
            "INSERT INTO runs (repo, run_id, state, pending_rerun_at, updated_at)
             VALUES ('org/repo', 9, ?1, NULL, 10)",
            [state],
        )
        .expect("old run");
        conn.execute(
            "INSERT INTO deliveries (delivery, status, at) VALUES ('q9', 202, 10)",
            [],
        )
        .expect("old delivery");
    }
    let url = DatabaseUrl::Sqlite(path.display().to_string());
    let store = open_store(&url)
        .await
        .expect("the old file opens and migrates");
    let state = store
        .load(&key(9))
        .await
        .expect("load")
        .expect("the run is kept");
    assert_eq!(state.jobs.len(), 1);
    // The run goes on where it was: its job fails, and its re-run is decided.
    let failed = JobAction::Completed(Conclusion::Failure);
    assert_eq!(status(&*store, 9, event(9, 1, "c9", failed, 20)).await, 201);
    assert!(
        store
            .due_reruns(u64::MAX, 5)
            .await
            .expect("due")
            .contains(&key(9))
    );
    // The previous version may still run on this file during a deploy: its table stays.
    let conn = rusqlite::Connection::open(&path).expect("open");
    let kept: i64 = conn
        .query_row("SELECT count(*) FROM deliveries", [], |row| row.get(0))
        .expect("the deliveries table is still there");
    assert_eq!(kept, 1);
}

/// Adds a migration this version does not have to the database's history, as a newer
/// version would have: `version`, with `checksum`.
async fn add_to_history(
    backend: &Backend,
    path: Option<&std::path::Path>,
    version: i64,
    checksum: &str,
) {
    let sql = format!(
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum)
         VALUES ({version}, 'from_a_newer_version', '2026-12-01T00:00:00Z', '{checksum}')"
    );
    run_sql(backend, path, &sql).await;
}

/// Runs `sql` on the backend's database directly.
async fn run_sql(backend: &Backend, path: Option<&std::path::Path>, sql: &str) {
    match (&backend.database, path) {
        (Some(database), _) => {
            let (client, connection) =
                tokio_postgres::connect(&database.url, tokio_postgres::NoTls)
                    .await
                    .expect("PostgreSQL answers");
            actix_web::rt::spawn(connection);
            client.batch_execute(sql).await.expect("history changed");
        }
        (None, Some(path)) => {
            rusqlite::Connection::open(path)
                .expect("open")
                .execute_batch(sql)
                .expect("history changed");
        }
        (None, None) => panic!("no database to change"),
    }
}

fn sqlite_path(backend: &Backend) -> Option<std::path::PathBuf> {
    match &backend.url {
        DatabaseUrl::Sqlite(path) => Some(path.into()),
        DatabaseUrl::Postgres(_) => None,
    }
}

on_every_backend!(a_database_migrated_by_a_newer_version_still_opens);
async fn a_database_migrated_by_a_newer_version_still_opens(backend: Backend) {
    failed_run(&*backend.store, 11).await;
    let path = sqlite_path(&backend);
    add_to_history(&backend, path.as_deref(), 999, "12345").await;
    // The previous version restarts (a rollback, or a restart during a deploy).
    let reopened = backend.reopen().await;
    assert_eq!(
        reopened.newer_migrations(),
        ["V999__from_a_newer_version".to_owned()],
        "{}",
        backend.name
    );
    assert!(
        reopened
            .due_reruns(u64::MAX, 5)
            .await
            .expect("due")
            .contains(&key(11))
    );
    assert_eq!(
        status(
            &*reopened,
            12,
            event(12, 1, "q12", JobAction::Unfinished, 10)
        )
        .await,
        202,
        "{}: the schema still takes changes",
        backend.name
    );
    reopened.ping().await.expect("ready");
    drop(reopened);
    backend.finish().await;
}

on_every_backend!(a_divergent_or_missing_older_migration_stops_start_up);
async fn a_divergent_or_missing_older_migration_stops_start_up(backend: Backend) {
    let path = sqlite_path(&backend);
    run_sql(
        &backend,
        path.as_deref(),
        "UPDATE refinery_schema_history SET checksum = '1' WHERE version = 2",
    )
    .await;
    let Err(refused) = open_store(&backend.url).await else {
        panic!(
            "{}: opened a database with a divergent migration",
            backend.name
        );
    };
    assert!(
        refused.message().contains("V2__deliveries_in_runs differs"),
        "{refused}"
    );
    assert!(refused.message().ends_with("not starting"), "{refused}");
    assert_eq!(refused.to_string().lines().count(), 1, "{refused}");
    // A newer migration does not excuse a missing older one.
    run_sql(
        &backend,
        path.as_deref(),
        "DELETE FROM refinery_schema_history WHERE version = 2",
    )
    .await;
    add_to_history(&backend, path.as_deref(), 999, "12345").await;
    let Err(refused) = open_store(&backend.url).await else {
        panic!("{}: opened a database missing a migration", backend.name);
    };
    assert!(
        refused
            .message()
            .contains("V2__deliveries_in_runs was not applied"),
        "{refused}"
    );
    backend.finish().await;
}

#[test]
fn a_divergent_migration_stops_the_binary_with_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("diverged.db");
    {
        let mut conn = rusqlite::Connection::open(&path).expect("open");
        first_schema::migrations::runner()
            .run(&mut conn)
            .expect("schema");
        conn.execute(
            "UPDATE refinery_schema_history SET checksum = '1' WHERE version = 1",
            [],
        )
        .expect("diverge");
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_job-rerunner"))
        .env_clear()
        .env("GITHUB_SIGN_KEY", "k")
        .env("PORT", "0")
        .env("DATABASE_URL", format!("sqlite://{}", path.display()))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("V1__initial differs"), "{stderr}");
}

on_every_backend!(unreadable_rows_are_skipped_and_an_unreadable_state_is_quarantined);
async fn unreadable_rows_are_skipped_and_an_unreadable_state_is_quarantined(backend: Backend) {
    let store = &*backend.store;
    failed_run(store, 21).await;
    let path = sqlite_path(&backend);
    run_sql(
        &backend,
        path.as_deref(),
        "INSERT INTO runs (repo, run_id, state, pending_rerun_at, updated_at)
                 VALUES ('not a repository', 1, '{}', 1, 1);
             INSERT INTO runs (repo, run_id, state, pending_rerun_at, updated_at)
                 VALUES ('org/repo', 22, '{not json', 2, 2);",
    )
    .await;
    assert_eq!(
        store.due_reruns(u64::MAX, 10).await.expect("due"),
        vec![key(22), key(21)],
        "{}: the row under a bad name is skipped",
        backend.name
    );
    let runs = store.recent_runs(10).await.expect("runs");
    assert_eq!(runs.len(), 1, "{}", backend.name);
    assert_eq!(runs[0].0, key(21));
    // A change to the run with the unreadable state: it starts afresh.
    assert_eq!(
        status(store, 22, event(22, 1, "q22", JobAction::Unfinished, 30)).await,
        202,
        "{}",
        backend.name
    );
    assert_eq!(store.recent_runs(10).await.expect("runs").len(), 2);
    backend.finish().await;
}

#[actix_web::test]
async fn a_postgres_store_that_cannot_be_opened_fails_without_a_panic() {
    // Settings refuse these URLs first; the store must still fail cleanly when handed one
    // (it starts a runtime of its own, which must not be dropped inside this one).
    for url in [
        "postgres://bot:store-hunter2@127.0.0.1:5432/db?sslmode=bogus",
        "postgres://bot:store-hunter2@127.0.0.1:5432",
    ] {
        let url = DatabaseUrl::Postgres(job_rerunner::settings::Secret::new(url));
        let Err(err) = open_store(&url).await else {
            panic!("{} opened", url.describe());
        };
        assert!(!err.to_string().contains("store-hunter2"), "{err}");
    }
}

/// An event judged by a policy of `budget_per_hour = 1` and `stop_when_useless = 1`.
fn judged(run: u64, job: u64, attempt: u32, action: JobAction, now: u64) -> RunChange {
    let rules = job_rerunner::policy::parse(
        "[defaults]\nbudget_per_hour = 1\nstop_when_useless = 1\n",
        job_rerunner::policy::PolicySource::Inline,
        &job_rerunner::policy::EnvDefaults::default(),
    )
    .expect("a valid policy");
    let mut change = event(
        run,
        job,
        &format!("d{run}-{job}-{attempt}-{now}-{action:?}"),
        action,
        now,
    );
    if let RunChange::Event { event, policy, .. } = &mut change {
        let event = Arc::make_mut(event);
        event.run_attempt = attempt;
        event.job_name = "build".into();
        policy.rules = Some(Arc::new(rules));
    }
    change
}

/// The answer's line to a run completing with its one job failed.
async fn fail_once(store: &dyn Store, run: u64, attempt: u32, now: u64) -> String {
    let failed = JobAction::Completed(Conclusion::Failure);
    store
        .transition(
            &key(run),
            judged(run, attempt.into(), attempt, JobAction::Unfinished, now),
        )
        .await
        .expect("queued");
    let applied = store
        .transition(&key(run), judged(run, attempt.into(), attempt, failed, now))
        .await
        .expect("completed");
    match applied.result {
        ChangeResult::Event(verdict) => {
            format!("{} {}", verdict.reply.status, verdict.reply.reason)
        }
        other => panic!("not an event result: {other:?}"),
    }
}

on_every_backend!(the_budget_and_the_jobs_history_are_read_in_the_transition);
async fn the_budget_and_the_jobs_history_are_read_in_the_transition(backend: Backend) {
    let store = &*backend.store;
    let hour = 3_600_000;
    let start = 1_700_000_000_000;
    assert_eq!(fail_once(store, 1, 1, start).await, "201 re-run scheduled");
    let spent = fail_once(store, 2, 1, start + 1_000).await;
    assert!(
        spent.starts_with("200 ") && spent.ends_with("(budget_spent)"),
        "{}: {spent}",
        backend.name
    );
    // An hour after the first decision the budget is available again.
    assert_eq!(
        fail_once(store, 3, 1, start + hour + 1).await,
        "201 re-run scheduled"
    );

    // Run 1's re-run starts, and `build` fails again in attempt 2.
    let claim = Claim {
        owner: 1,
        lease_ms: 1_000,
    };
    let claimed = match store
        .transition(
            &key(1),
            RunChange::Claim {
                now: start + hour,
                claim,
            },
        )
        .await
        .expect("claim")
        .result
    {
        ChangeResult::Claimed(Some(claimed)) => claimed,
        other => panic!("{}: not claimed: {other:?}", backend.name),
    };
    store
        .transition(
            &key(1),
            RunChange::Record {
                now: start + hour,
                claimed,
                owner: 1,
                outcome: RerunOutcome::Started,
                retry: RETRY,
            },
        )
        .await
        .expect("recorded");
    fail_once(store, 1, 2, start + 3 * hour).await;
    // The next failure of `build` is not worth a re-run.
    let useless = fail_once(store, 4, 1, start + 5 * hour).await;
    assert!(
        useless.ends_with("(useless_before)"),
        "{}: {useless}",
        backend.name
    );
    backend.finish().await;
}

/// Claims run `run`'s decided re-run at `now` and records it started.
async fn rerun_started(store: &dyn Store, run: u64, now: u64) {
    let claim = Claim {
        owner: 1,
        lease_ms: 1_000,
    };
    let claimed = match store
        .transition(&key(run), RunChange::Claim { now, claim })
        .await
        .expect("claim")
        .result
    {
        ChangeResult::Claimed(Some(claimed)) => claimed,
        other => panic!("not claimed: {other:?}"),
    };
    store
        .transition(
            &key(run),
            RunChange::Record {
                now,
                claimed,
                owner: 1,
                outcome: RerunOutcome::Started,
                retry: RETRY,
            },
        )
        .await
        .expect("recorded");
}

on_every_backend!(rerun_help_and_skip_reasons_count_the_window_per_job_and_reason);
async fn rerun_help_and_skip_reasons_count_the_window_per_job_and_reason(backend: Backend) {
    let store = &*backend.store;
    let hour = 3_600_000;
    let start = 1_700_000_000_000;
    // Run 1: `build` fails, is re-run, and passes in attempt 2.
    assert_eq!(fail_once(store, 1, 1, start).await, "201 re-run scheduled");
    // Run 2 fails within the hour: budget_per_hour = 1 skips it.
    assert!(
        fail_once(store, 2, 1, start + 1_000)
            .await
            .ends_with("(budget_spent)")
    );
    rerun_started(store, 1, start + hour).await;
    let passed = JobAction::Completed(Conclusion::Success);
    for action in [JobAction::Unfinished, passed] {
        store
            .transition(&key(1), judged(1, 2, 2, action, start + 2 * hour))
            .await
            .expect("attempt 2");
    }
    // Run 3: `build` fails later, is re-run, and fails again in attempt 2.
    assert_eq!(
        fail_once(store, 3, 1, start + 3 * hour).await,
        "201 re-run scheduled",
        "{}",
        backend.name
    );
    rerun_started(store, 3, start + 4 * hour).await;
    fail_once(store, 3, 2, start + 5 * hour).await;

    let help = store.rerun_help(start, 10).await.expect("help");
    assert_eq!(help.len(), 1, "{}: {help:?}", backend.name);
    let build = &help[0];
    assert_eq!(
        (build.repo.as_str(), build.job.as_str()),
        ("org/repo", "build")
    );
    assert_eq!(
        (build.reruns, build.passed, build.failed_again),
        (2, 1, 1),
        "{}",
        backend.name
    );
    // Only what completed since `since` counts.
    let later = store.rerun_help(start + 3 * hour, 10).await.expect("help");
    assert_eq!(
        later
            .iter()
            .map(|h| (h.reruns, h.passed, h.failed_again))
            .collect::<Vec<_>>(),
        [(1, 0, 1)],
        "{}",
        backend.name
    );
    assert_eq!(
        store.skip_reasons(start).await.expect("reasons"),
        [("budget_spent".to_owned(), 1)],
        "{}",
        backend.name
    );
    assert!(
        store
            .skip_reasons(start + 2_000)
            .await
            .expect("reasons")
            .is_empty()
    );
    backend.finish().await;
}

async fn the_sweep_lease_and_the_asked_guids_hold_for_one_owner_at_a_time(backend: Backend) {
    use job_rerunner::store::FinishedSweep;
    let recovery = backend
        .store
        .recovery()
        .expect("the store keeps the sweep's rows");
    let lease = |owner, now, until| recovery.take_sweep_lease(owner, now, until);
    assert!(
        lease(1, 1_000, 2_000).await.expect("lease"),
        "free at first"
    );
    assert!(!lease(2, 1_500, 2_500).await.expect("lease"), "held by 1");
    assert!(
        lease(1, 1_500, 2_500).await.expect("lease"),
        "renewed by its owner"
    );
    assert!(
        lease(2, 2_500, 3_500).await.expect("lease"),
        "taken over once run out"
    );
    let finished = |owner, seen_until| FinishedSweep {
        owner,
        now: 3_000,
        seen_until,
        outcome: "ok",
        asked: 1,
        forget_before: 0,
    };
    recovery
        .finish_sweep(finished(1, Some(5)))
        .await
        .expect("finish");
    let record = recovery.sweep_record().await.expect("record");
    assert_eq!(
        record.seen_until, None,
        "{}: a former owner writes nothing",
        backend.name
    );
    recovery
        .finish_sweep(finished(2, Some(7)))
        .await
        .expect("finish");
    let record = recovery.sweep_record().await.expect("record");
    assert_eq!(record.seen_until, Some(7));
    assert_eq!(record.last_sweep_at, Some(3_000));
    assert_eq!(record.last_outcome.as_deref(), Some("ok"));
    assert!(
        lease(3, 3_000, 4_000).await.expect("lease"),
        "given back when finished"
    );

    assert!(
        recovery
            .claim_guid("g-1".into(), 11, 100)
            .await
            .expect("claim")
    );
    assert!(
        !recovery
            .claim_guid("g-1".into(), 12, 100)
            .await
            .expect("claim"),
        "once"
    );
    assert_eq!(
        recovery
            .asked_among(vec!["g-1".into(), "g-2".into()])
            .await
            .expect("asked"),
        vec!["g-1".to_owned()]
    );
    recovery.release_guid("g-1".into()).await.expect("release");
    assert!(
        recovery
            .claim_guid("g-1".into(), 11, 100)
            .await
            .expect("claim"),
        "given back"
    );
    assert_eq!(
        recovery
            .sweep_record()
            .await
            .expect("record")
            .asked_in_window,
        1
    );
    let forget = FinishedSweep {
        forget_before: 101,
        ..finished(3, None)
    };
    recovery.finish_sweep(forget).await.expect("finish");
    assert!(
        recovery
            .asked_among(vec!["g-1".into()])
            .await
            .expect("asked")
            .is_empty(),
        "forgotten"
    );
    assert_eq!(
        recovery.sweep_record().await.expect("record").seen_until,
        Some(7),
        "kept"
    );
    backend.finish().await;
}

on_every_backend!(the_sweep_lease_and_the_asked_guids_hold_for_one_owner_at_a_time);
