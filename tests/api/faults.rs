//! Store faults: a store that reads but cannot write (claims or records refused, a
//! read-only file, a full disk), the database file deleted under the running service,
//! and rows this version cannot read. Each test checks that no event answered 2xx is
//! lost and that no run is re-run twice (POSTs counted on the fake GitHub).
//!
//! Real faults where the machine allows them: a read-only file is made with
//! `chattr +i` (root ignores file modes, and a mount cannot be remounted read-only
//! while the service has files open on it for writing: the kernel answers EBUSY), a
//! full disk with a small tmpfs (needs `mount`, so root). Without them, those tests say
//! loudly that they were skipped, as the PostgreSQL tests do.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use job_rerunner::ids::RunKey;
use job_rerunner::run::{Applied, RerunRecord, RunChange, RunState};
use job_rerunner::store::{FlakyJob, RerunHelp, SqliteStore, Store, StoreError, StoreFuture};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    Job, TestApp, eventually, get_page, github_accepts_rerun, github_expects_rerun, run_path,
    spawn_app, spawn_app_on_store, unique,
};
use crate::postgres::fresh_database;
use crate::process::Service;

// ---------------------------------------------------------------------------------
// Tools: a store that refuses some changes, a logger that keeps its lines, real faults.

/// Wraps the real SQLite store; refuses claims and/or outcome records on demand, and
/// counts the claims asked for.
struct Refusing {
    inner: SqliteStore,
    refuse_claims: AtomicBool,
    refuse_records: AtomicBool,
    claims: AtomicUsize,
}

impl Refusing {
    fn open(path: &Path) -> Arc<Self> {
        let inner = SqliteStore::open(&path.display().to_string()).expect("the store opens");
        Arc::new(Self {
            inner,
            refuse_claims: AtomicBool::new(false),
            refuse_records: AtomicBool::new(false),
            claims: AtomicUsize::new(0),
        })
    }

    fn claims(&self) -> usize {
        self.claims.load(Ordering::SeqCst)
    }
}

fn refused<T: Send + 'static>() -> StoreFuture<T> {
    Box::pin(async {
        Err(StoreError::Unavailable(
            "disk I/O error (injected by the test)".into(),
        ))
    })
}

impl Store for Refusing {
    fn load(&self, key: &RunKey) -> StoreFuture<Option<RunState>> {
        self.inner.load(key)
    }
    fn transition(&self, key: &RunKey, change: RunChange) -> StoreFuture<Applied> {
        match change {
            RunChange::Claim { .. } => {
                self.claims.fetch_add(1, Ordering::SeqCst);
                if self.refuse_claims.load(Ordering::SeqCst) {
                    return refused();
                }
            }
            RunChange::Record { .. } if self.refuse_records.load(Ordering::SeqCst) => {
                return refused();
            }
            _ => {}
        }
        self.inner.transition(key, change)
    }
    fn due_reruns(&self, now: u64, limit: u32) -> StoreFuture<Vec<RunKey>> {
        self.inner.due_reruns(now, limit)
    }
    fn purge_idle(&self, before: u64) -> StoreFuture<u64> {
        self.inner.purge_idle(before)
    }
    fn count_runs(&self) -> StoreFuture<u64> {
        self.inner.count_runs()
    }
    fn recent_reruns(&self, limit: u32) -> StoreFuture<Vec<(RunKey, RerunRecord)>> {
        self.inner.recent_reruns(limit)
    }
    fn recent_runs(&self, limit: u32) -> StoreFuture<Vec<(RunKey, RunState)>> {
        self.inner.recent_runs(limit)
    }
    fn flaky_jobs(&self, limit: u32) -> StoreFuture<Vec<FlakyJob>> {
        self.inner.flaky_jobs(limit)
    }
    fn rerun_help(&self, since: u64, limit: u32) -> StoreFuture<Vec<RerunHelp>> {
        self.inner.rerun_help(since, limit)
    }
    fn skip_reasons(&self, since: u64) -> StoreFuture<Vec<(String, u64)>> {
        self.inner.skip_reasons(since)
    }
    fn ping(&self) -> StoreFuture<()> {
        self.inner.ping()
    }
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

/// The messages an in-process service logged.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl slog::Drain for Lines {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &slog::Record<'_>, _: &slog::OwnedKVList) -> Result<(), slog::Never> {
        self.0.lock().expect("lines").push(record.msg().to_string());
        Ok(())
    }
}

impl Lines {
    fn logger(&self) -> slog::Logger {
        slog::Logger::root(slog::Drain::fuse(self.clone()), slog::o!())
    }

    fn count(&self, message: &str) -> usize {
        let lines = self.0.lock().expect("lines");
        lines.iter().filter(|line| line.as_str() == message).count()
    }
}

/// Lines of a service in another process (JSON) whose message is `message`.
fn count_logged(logs: &str, message: &str) -> usize {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|entry| entry["msg"] == message)
        .count()
}

/// Files made immutable (`chattr +i`): even root's writes to them fail, also through
/// descriptors opened before. Lifted when dropped, so a failed test leaves no such file.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    /// Only ignored tests call it: asked to run where the file system does not take
    /// the flag (not root, not ext4-like), the test fails saying so.
    fn set(test: &str, files: &[PathBuf]) -> Self {
        let mut set = Immutable(Vec::new());
        for file in files {
            let done = Command::new("chattr").arg("+i").arg(file).status();
            assert!(
                done.is_ok_and(|status| status.success()),
                "{test} needs `chattr +i` (root, an ext4-like file system)"
            );
            set.0.push(file.clone());
        }
        set
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for file in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(file).status();
        }
    }
}

/// A small tmpfs mounted on a directory of its own; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Only ignored tests call it: asked to run where `mount` is not allowed, the test
    /// fails saying so.
    fn mount(test: &str, size: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status();
        assert!(
            mounted.is_ok_and(|status| status.success()),
            "{test} needs `mount -t tmpfs` (root)"
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the file system is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 4096];
        while file
            .write_all(&chunk)
            .and_then(|()| file.sync_all())
            .is_ok()
        {}
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// The database's file and its WAL.
fn db_files(db: &Path) -> [PathBuf; 2] {
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    [db.to_path_buf(), wal]
}

/// GitHub shows the run at attempt 1, failed, once; then at attempt 2 (it was re-run),
/// as the real API does after the POST.
async fn github_reruns_once(github: &MockServer, repo: &str, run_id: u64) {
    let shows = |attempt: u32, status: &str, conclusion: Option<&str>| {
        ResponseTemplate::new(200).set_body_json(json!({
            "id": run_id, "status": status, "conclusion": conclusion, "run_attempt": attempt,
        }))
    };
    Mock::given(method("GET"))
        .and(path(run_path(repo, run_id)))
        .respond_with(shows(1, "completed", Some("failure")))
        .up_to_n_times(1)
        .mount(github)
        .await;
    Mock::given(method("GET"))
        .and(path(run_path(repo, run_id)))
        .respond_with(shows(2, "queued", None))
        .mount(github)
        .await;
    github_accepts_rerun(github, repo, run_id).await;
}

/// GETs of the run GitHub received.
async fn run_reads(app: &TestApp, repo: &str, run_id: u64) -> usize {
    let wanted = run_path(repo, run_id);
    app.github
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "GET" && r.url.path() == wanted)
        .count()
}

/// Lets the service run for `window` while a fault holds: the tests below count what
/// it did meanwhile (claims, lines, calls), which no condition can be waited for.
async fn observe_for(window: Duration) {
    actix_web::rt::time::sleep(window).await;
}

// ---------------------------------------------------------------------------------
// A store that reads but does not write.

#[actix_web::test]
async fn refused_claims_are_retried_with_backoff_not_once_per_poll() {
    let lines = Lines::default();
    let store = Arc::new(Mutex::new(None::<Arc<Refusing>>));
    let kept = Arc::clone(&store);
    let app = spawn_app_on_store(&[("OUTBOX_POLL", "0.05")], lines.logger(), |db| {
        let refusing = Refusing::open(db);
        refusing.refuse_claims.store(true, Ordering::SeqCst);
        *kept.lock().expect("store") = Some(Arc::clone(&refusing));
        refusing
    })
    .await;
    let store = store.lock().expect("store").clone().expect("opened");
    let run = unique();
    github_expects_rerun(&app.github, "org/repo", run).await;
    let job = Job::new("org/repo", run, 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);

    // 4.5 s of refused claims with a poll every 50 ms: the backoff (1 s, 2 s, 4 s …)
    // allows tries at about 0, 1 and 3 s; a retry per poll would make ninety.
    observe_for(Duration::from_millis(4_500)).await;
    let tries = store.claims();
    assert!((2..=4).contains(&tries), "{tries} claims in 4.5 s");
    assert_eq!(
        lines.count(
            "claiming due re-runs fails; each run tries again with backoff (up to a minute)"
        ),
        1
    );
    assert_eq!(
        lines.count("claims failing"),
        0,
        "no summary within the minute"
    );
    assert!(app.rerun_posts("org/repo", run).await.is_empty());

    // The store writes again: the next retry claims it, once.
    store.refuse_claims.store(false, Ordering::SeqCst);
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
    assert_eq!(lines.count("claims succeed again"), 1);
}

/// A re-run whose outcome is never recorded is given up only after two hours of claims
/// (`run::unrecorded_claims_exhausted`, unit-tested in `run::change`), which no test
/// waits for. What can be seen here: it is claimed again once per lease, not once per
/// poll, and not given up after five claims.
#[actix_web::test]
async fn a_rerun_whose_outcome_cannot_be_recorded_is_claimed_once_a_lease_and_not_given_up_early() {
    let store = Arc::new(Mutex::new(None::<Arc<Refusing>>));
    let kept = Arc::clone(&store);
    let overrides = [("OUTBOX_POLL", "0.05"), ("CLAIM_LEASE", "0.2")];
    let app = spawn_app_on_store(&overrides, crate::helpers::test_logger(), |db| {
        let refusing = Refusing::open(db);
        refusing.refuse_records.store(true, Ordering::SeqCst);
        *kept.lock().expect("store") = Some(Arc::clone(&refusing));
        refusing
    })
    .await;
    let run = unique();
    github_reruns_once(&app.github, "org/repo", run).await;
    let job = Job::new("org/repo", run, 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);

    // Every outcome is refused, so every lease runs out and the run is claimed again
    // (each claim reads the run from GitHub first): about twelve leases of 0.2 s.
    observe_for(Duration::from_millis(2_400)).await;
    let reads = run_reads(&app, "org/repo", run).await;
    let bound = job_rerunner::run::MAX_UNRECORDED_CLAIMS as usize;
    assert!(
        (bound + 2..=14).contains(&reads),
        "{reads} claims in 2.4 s with a 0.2 s lease (a poll is every 50 ms)"
    );
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
}

#[actix_web::test]
#[ignore = "needs root: mount and chattr, with --include-ignored"]
async fn a_read_only_database_refuses_events_and_readiness_and_claims_back_off() {
    let test = "a_read_only_database_refuses_events_and_readiness_and_claims_back_off";
    let github = MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db/job-rerunner.db");
    let extra = [
        ("OUTBOX_POLL", "0.05"),
        ("RERUN_DELAY", "1"),
        ("STATUS_TOKEN", "status-token-for-faults"),
    ];
    let service = Service::start(&github, &db, &extra);
    let app = TestApp::for_process(service.port, github, db.clone());
    let (decided, refused) = (unique(), unique());
    github_expects_rerun(&app.github, "org/repo", decided).await;
    github_expects_rerun(&app.github, "org/repo", refused).await;
    let job = Job::new("org/repo", decided, 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);

    let read_only = Immutable::set(test, &db_files(&db));
    let other = Job::new("org/repo", refused, 1);
    let answer = app
        .send_as(&other.queued(), "workflow_job", "ro-queued")
        .await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    let ready = get_page(&app.address, "/readyz", None).await;
    assert_eq!(
        ready.status, 503,
        "ready while no write commits: {}",
        ready.body
    );
    // What was acknowledged is still readable.
    let runs = get_page(&app.address, "/api/runs", Some("status-token-for-faults")).await;
    assert_eq!(runs.status, 200, "{}", runs.body);
    assert!(runs.body.contains(&decided.to_string()), "{}", runs.body);

    // The decided re-run falls due after 1 s; its claims fail for the rest of the window.
    observe_for(Duration::from_millis(4_500)).await;
    let logs = service.logs();
    let failed = count_logged(&logs, "claiming the due re-run failed");
    assert!((1..=4).contains(&failed), "{failed} failed claims in 3.5 s");
    assert_eq!(
        count_logged(
            &logs,
            "claiming due re-runs fails; each run tries again with backoff (up to a minute)"
        ),
        1
    );
    assert!(app.rerun_posts("org/repo", decided).await.is_empty());

    drop(read_only);
    assert_eq!(app.outcome_of("org/repo", decided, 1).await, "started");
    // GitHub redelivers what was refused.
    let answer = app
        .send_as(&other.queued(), "workflow_job", "ro-queued")
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(app.send(&other.completed("failure")).await.status, 201);
    assert_eq!(app.outcome_of("org/repo", refused, 1).await, "started");
    eventually("ready again", || async {
        (get_page(&app.address, "/readyz", None).await.status == 200).then_some(())
    })
    .await;
    assert_eq!(app.rerun_posts("org/repo", decided).await.len(), 1);
    assert_eq!(app.rerun_posts("org/repo", refused).await.len(), 1);
    let logs = service.kill();
    assert_eq!(count_logged(&logs, "claims succeed again"), 1, "{logs}");
}

#[actix_web::test]
#[ignore = "needs root: mount and chattr, with --include-ignored"]
async fn a_full_disk_refuses_events_and_loses_none_it_acknowledged() {
    let test = "a_full_disk_refuses_events_and_loses_none_it_acknowledged";
    let disk = Tmpfs::mount(test, "2m");
    let github = MockServer::start().await;
    let db = disk.path().join("job-rerunner.db");
    let service = Service::start(&github, &db, &[("OUTBOX_POLL", "0.05")]);
    let app = TestApp::for_process(service.port, github, db.clone());
    let before = unique();
    github_expects_rerun(&app.github, "org/repo", before).await;
    let job = Job::new("org/repo", before, 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    let done = app
        .send_as(&job.completed("failure"), "workflow_job", "before-done")
        .await;
    assert_eq!(done.status, 201);
    assert_eq!(app.outcome_of("org/repo", before, 1).await, "started");

    let filler = disk.fill();
    // New runs until the disk refuses one (the WAL's free frames take a few first).
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for _ in 0..2_000 {
        let run = unique();
        let answer = app.send(&Job::new("org/big-repo", run, 1).queued()).await;
        match answer.status {
            202 => acknowledged.push(run),
            503 => {
                refused = Some(run);
                break;
            }
            other => panic!("answered {other}: {}", answer.body),
        }
    }
    let refused = refused.expect("the full disk refused an event");
    // A redelivery writes nothing: it commits, and says nothing about the disk.
    let again = app
        .send_as(&job.completed("failure"), "workflow_job", "before-done")
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    let ready = get_page(&app.address, "/readyz", None).await;
    assert_eq!(ready.status, 503, "ready on a full disk: {}", ready.body);

    std::fs::remove_file(&filler).expect("free the disk");
    // GitHub redelivers the refused event; space is back.
    eventually("the refused event to be taken", || async {
        let answer = app
            .send(&Job::new("org/big-repo", refused, 1).queued())
            .await;
        (answer.status == 202).then_some(())
    })
    .await;
    acknowledged.push(refused);
    let logs = service.kill();

    // After a restart every event answered 2xx is there, and nothing is re-run twice.
    let service = Service::start(&app.github, &db, &[]);
    let conn = rusqlite::Connection::open(&db).expect("open");
    for run in &acknowledged {
        let stored: i64 = conn
            .query_row(
                "SELECT count(*) FROM runs WHERE repo = 'org/big-repo' AND run_id = ?1",
                [*run as i64],
                |row| row.get(0),
            )
            .expect("count");
        assert_eq!(stored, 1, "acknowledged run {run} was lost\n{logs}");
    }
    assert_eq!(app.rerun_posts("org/repo", before).await.len(), 1);
    assert_eq!(app.all_posts().await.len(), 1);
    service.kill();
}

/// A full disk's stand-in that needs no root: a trigger refuses new runs of org/full
/// with SQLite's own message, while the heartbeat (an update) still commits, as it does
/// in the WAL's free frames on a real full disk.
#[actix_web::test]
async fn a_change_that_writes_nothing_does_not_clear_the_not_ready_latch() {
    let app = spawn_app(&[]).await;
    let run = unique();
    github_expects_rerun(&app.github, "org/repo", run).await;
    let job = Job::new("org/repo", run, 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    let done = app
        .send_as(&job.completed("failure"), "workflow_job", "d-done")
        .await;
    assert_eq!(done.status, 201);
    // Its re-run's writes (claim, outcome) are done before the disk "fills".
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    {
        let conn = rusqlite::Connection::open(&app.db_path).expect("open");
        conn.busy_timeout(Duration::from_secs(5)).expect("timeout");
        conn.execute_batch(
            "CREATE TRIGGER full BEFORE INSERT ON runs WHEN NEW.repo = 'org/full'
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        )
        .expect("trigger");
    }
    let full = Job::new("org/full", unique(), 1);
    assert_eq!(app.send(&full.queued()).await.status, 503);
    assert_eq!(
        get_page(&app.address, "/readyz", None).await.status,
        503,
        "latched"
    );
    // A redelivery: a change that commits and writes nothing.
    let again = app
        .send_as(&job.completed("failure"), "workflow_job", "d-done")
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    let ready = get_page(&app.address, "/readyz", None).await;
    assert_eq!(
        ready.status, 503,
        "ready again while new runs are refused: {}",
        ready.body
    );
    assert!(
        ready.body.contains("database or disk is full"),
        "{}",
        ready.body
    );
    assert_eq!(
        app.send(&full.queued()).await.status,
        503,
        "still refusing new runs"
    );
}

// ---------------------------------------------------------------------------------
// The database file deleted under the running service.

#[actix_web::test]
async fn a_database_file_deleted_under_the_service_refuses_events_and_readiness() {
    let github = MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db/job-rerunner.db");
    let service = Service::start(&github, &db, &[]);
    let app = TestApp::for_process(service.port, github, db.clone());
    let (before, after) = (unique(), unique());
    github_expects_rerun(&app.github, "org/repo", before).await;
    github_expects_rerun(&app.github, "org/repo", after).await;
    let job = Job::new("org/repo", before, 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    assert_eq!(app.outcome_of("org/repo", before, 1).await, "started");

    for file in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{file}", db.display()));
    }
    // Nothing is acknowledged into the deleted file.
    let other = Job::new("org/repo", after, 1);
    let answer = app
        .send_as(&other.queued(), "workflow_job", "after-queued")
        .await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(answer.body.contains("was deleted"), "{}", answer.body);
    let answer = app
        .send_as(&other.completed("failure"), "workflow_job", "after-done")
        .await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    let ready = get_page(&app.address, "/readyz", None).await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.body.contains("was deleted"), "{}", ready.body);
    service.kill();

    // A restart makes a new database; GitHub redelivers the refused events.
    let service = Service::start(&app.github, &db, &[]);
    let app = TestApp::for_process(service.port, app.github, db.clone());
    let answer = app
        .send_as(&other.queued(), "workflow_job", "after-queued")
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let answer = app
        .send_as(&other.completed("failure"), "workflow_job", "after-done")
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(app.outcome_of("org/repo", after, 1).await, "started");
    assert_eq!(get_page(&app.address, "/readyz", None).await.status, 200);
    assert_eq!(app.rerun_posts("org/repo", before).await.len(), 1);
    assert_eq!(app.rerun_posts("org/repo", after).await.len(), 1);
    service.kill();
}

// ---------------------------------------------------------------------------------
// Rows this version cannot read.

/// Writes rows no version of the service writes: a run under a repository name that
/// is not `owner/name`, due before everything else; a run whose state is not JSON; a
/// re-run record and a flaky job that do not decode.
fn write_poison_rows(db: &Path, unreadable_run: u64) {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.busy_timeout(Duration::from_secs(5)).expect("timeout");
    conn.execute_batch(&format!(
        "INSERT INTO runs (repo, run_id, state, pending_rerun_at, updated_at)
             VALUES ('not a repository', 1, '{{}}', 1, 1);
         INSERT INTO runs (repo, run_id, state, pending_rerun_at, updated_at)
             VALUES ('org/poison', {unreadable_run}, '{{not json', 2, 9999999999999);
         INSERT INTO reruns (repo, run_id, attempt, outcome, detail, workflow, branch, failed_jobs, finished_at)
             VALUES ('org/poison', 3, 1, 'started', 'not json', 'ci', 'master', '[]', 9999999999999);
         INSERT INTO flaky_jobs (repo, workflow, job, times, last_seen)
             VALUES ('org/poison', 'ci', 'job', 'many', 1);"
    ))
    .expect("poison rows");
}

/// `job_rerunner_store_rows_unreadable_total{table="…"}` on the metrics page.
fn unreadable_count(metrics: &str, table: &str) -> Option<u64> {
    let prefix = format!("job_rerunner_store_rows_unreadable_total{{table=\"{table}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
}

#[actix_web::test]
async fn bad_rows_are_skipped_and_counted_while_a_due_run_gets_its_post() {
    let app = spawn_app(&[
        ("OUTBOX_POLL", "0.05"),
        ("STATUS_TOKEN", "status-token-for-faults"),
    ])
    .await;
    let poisoned = unique();
    write_poison_rows(&app.db_path, poisoned);
    let run = unique();
    github_expects_rerun(&app.github, "org/repo", run).await;
    let job = Job::new("org/repo", run, 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    let status = get_page(&app.address, "/status", Some("status-token-for-faults")).await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert!(
        status.body.contains(&run.to_string()),
        "the live run is shown"
    );
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);

    // The poll meets the bad row first, every 50 ms, and still wakes the due run.
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
    let status = get_page(&app.address, "/status", Some("status-token-for-faults")).await;
    assert_eq!(status.status, 200, "{}", status.body);
    for part in ["/api/runs", "/api/reruns", "/api/flaky"] {
        let answer = get_page(&app.address, part, Some("status-token-for-faults")).await;
        assert_eq!(answer.status, 200, "{part}: {}", answer.body);
    }
    // Each bad row counted once, however often it was skipped: the one under a bad
    // name, and the unreadable state (skipped by the page, quarantined by its claim).
    let metrics = get_page(&app.address, "/metrics", None).await.body;
    assert_eq!(unreadable_count(&metrics, "runs"), Some(2), "{metrics}");
    assert_eq!(unreadable_count(&metrics, "reruns"), Some(1), "{metrics}");
    assert_eq!(
        unreadable_count(&metrics, "flaky_jobs"),
        Some(1),
        "{metrics}"
    );
}

#[actix_web::test]
async fn a_run_whose_state_is_unreadable_starts_afresh_and_its_row_is_quarantined() {
    let app = spawn_app(&[]).await;
    let poisoned = unique();
    write_poison_rows(&app.db_path, poisoned);
    github_expects_rerun(&app.github, "org/poison", poisoned).await;
    let job = Job::new("org/poison", poisoned, 1);
    let first = app.send(&job.queued()).await;
    assert_eq!(first.status, 202, "{}", first.body);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    assert_eq!(app.outcome_of("org/poison", poisoned, 1).await, "started");
    assert_eq!(app.rerun_posts("org/poison", poisoned).await.len(), 1);
    let conn = rusqlite::Connection::open(&app.db_path).expect("open");
    let kept: String = conn
        .query_row(
            "SELECT state FROM quarantine WHERE repo = 'org/poison' AND run_id = ?1",
            [poisoned as i64],
            |row| row.get(0),
        )
        .expect("the unreadable state is kept in the quarantine table");
    assert_eq!(kept, "{not json");
}

/// `rows` rows under repository names this version refuses, all due before anything
/// else: as many as one poll lists (256), and more.
const POISON_ROWS: i64 = 300;

/// A re-run decided before a restart, with `POISON_ROWS` rows of refused keys added to
/// the store while the service was down (by `poison`): after the restart the poll
/// still finds the re-run and POSTs it, and the bad rows are in the quarantine table.
async fn a_due_rerun_is_resumed_past_rows_of_refused_keys(
    database_url: Option<&str>,
    poison: impl AsyncFnOnce(&Path),
    left_in_runs: impl AsyncFnOnce(&Path) -> (i64, i64),
) {
    let github = MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db.sqlite");
    let url = database_url.map(|url| ("DATABASE_URL", url));
    let first: Vec<_> = url.into_iter().chain([("RERUN_DELAY", "3")]).collect();
    let service = Service::start(&github, &db, &first);
    let app = TestApp::for_process(service.port, github, db.clone());
    let run = unique();
    github_expects_rerun(&app.github, "org/repo", run).await;
    let job = Job::new("org/repo", run, 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    service.kill();
    poison(&db).await;

    let second: Vec<_> = url.into_iter().chain([("OUTBOX_POLL", "0.05")]).collect();
    let service = Service::start(&app.github, &db, &second);
    eventually("the due re-run to be resumed", || async {
        (!app.rerun_posts("org/repo", run).await.is_empty()).then_some(())
    })
    .await;
    let logs = service.kill();
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
    assert_eq!(
        left_in_runs(&db).await,
        (0, POISON_ROWS),
        "(bad rows left in runs, rows quarantined)"
    );
    assert_eq!(
        count_logged(&logs, "skipped an unreadable row"),
        POISON_ROWS as usize,
        "each bad row logged once"
    );
}

#[actix_web::test]
async fn rows_of_refused_keys_are_moved_aside_and_a_due_rerun_is_still_resumed() {
    let poison = async |db: &Path| {
        let conn = rusqlite::Connection::open(db).expect("open");
        let tx = conn.unchecked_transaction().expect("transaction");
        for i in 0..POISON_ROWS {
            tx.execute(
                "INSERT INTO runs (repo, run_id, state, pending_rerun_at, updated_at)
                 VALUES (?1, ?2, '{}', 1, 1)",
                rusqlite::params![format!("bad repo {i}"), i],
            )
            .expect("poison row");
        }
        tx.commit().expect("commit");
    };
    let left = async |db: &Path| {
        let conn = rusqlite::Connection::open(db).expect("open");
        let count = |sql: &str| conn.query_row(sql, [], |row| row.get(0)).expect("count");
        (
            count("SELECT count(*) FROM runs WHERE repo LIKE 'bad repo %'"),
            count("SELECT count(*) FROM quarantine WHERE repo LIKE 'bad repo %'"),
        )
    };
    a_due_rerun_is_resumed_past_rows_of_refused_keys(None, poison, left).await;
}

#[actix_web::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL, with --include-ignored"]
async fn rows_of_refused_keys_are_moved_aside_and_a_due_rerun_is_still_resumed_on_postgres() {
    let database = fresh_database(
        "rows_of_refused_keys_are_moved_aside_and_a_due_rerun_is_still_resumed_on_postgres",
    )
    .await;
    let url = database.url.clone();
    let poison = async |_: &Path| {
        let client = crate::postgres::connect(&url).await;
        for i in 0..POISON_ROWS {
            client
                .execute(
                    "INSERT INTO runs (repo, run_id, state, pending_rerun_at, updated_at)
                     VALUES ($1, $2, '{}', 1, 1)",
                    &[&format!("bad repo {i}"), &i],
                )
                .await
                .expect("poison row");
        }
    };
    let left = async |_: &Path| {
        let client = crate::postgres::connect(&url).await;
        let count =
            async |sql: &str| -> i64 { client.query_one(sql, &[]).await.expect("count").get(0) };
        (
            count("SELECT count(*) FROM runs WHERE repo LIKE 'bad repo %'").await,
            count("SELECT count(*) FROM quarantine WHERE repo LIKE 'bad repo %'").await,
        )
    };
    a_due_rerun_is_resumed_past_rows_of_refused_keys(Some(&database.url), poison, left).await;
    database.drop_now().await;
}

/// What a newer version may store: a re-run state this version does not know
/// (issue 9's `awaiting_evidence`), due now.
#[actix_web::test]
async fn a_newer_versions_state_is_left_alone_by_a_poll_and_its_events_are_refused() {
    let app = spawn_app(&[("OUTBOX_POLL", "0.05"), ("RERUN_DELAY", "600")]).await;
    let run = unique();
    let job = Job::new("org/repo", run, 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    let conn = rusqlite::Connection::open(&app.db_path).expect("open");
    conn.busy_timeout(Duration::from_secs(5)).expect("timeout");
    let state: String = conn
        .query_row(
            "SELECT state FROM runs WHERE run_id = ?1",
            [run as i64],
            |r| r.get(0),
        )
        .expect("the run's row");
    let mut value: serde_json::Value = serde_json::from_str(&state).expect("JSON");
    value["rerun"] = json!({"state": "awaiting_evidence", "due_at": 1});
    let newer = value.to_string();
    conn.execute(
        "UPDATE runs SET state = ?1, pending_rerun_at = 1 WHERE run_id = ?2",
        rusqlite::params![newer, run as i64],
    )
    .expect("update");

    // The poll finds it due; its claim cannot read it, and counts it once.
    eventually("the claim to meet the newer state", || async {
        let metrics = get_page(&app.address, "/metrics", None).await.body;
        (unreadable_count(&metrics, "runs") == Some(1)).then_some(())
    })
    .await;
    let answer = app.send(&Job::new("org/repo", run, 2).queued()).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(
        answer.body.contains("was written by a newer version"),
        "{}",
        answer.body
    );
    let kept: String = conn
        .query_row(
            "SELECT state FROM runs WHERE run_id = ?1",
            [run as i64],
            |r| r.get(0),
        )
        .expect("the newer version's row is kept");
    assert_eq!(kept, newer, "left as it was");
    let quarantined: i64 = conn
        .query_row(
            "SELECT count(*) FROM quarantine WHERE run_id = ?1",
            [run as i64],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(quarantined, 0);
    let metrics = get_page(&app.address, "/metrics", None).await.body;
    assert_eq!(unreadable_count(&metrics, "runs"), Some(1), "counted once");
}

// ---------------------------------------------------------------------------------
// PostgreSQL refuses NUL in TEXT.

#[actix_web::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL, with --include-ignored"]
async fn a_nul_in_the_branch_is_recorded_on_postgres_and_the_run_is_read_once() {
    let database =
        fresh_database("a_nul_in_the_branch_is_recorded_on_postgres_and_the_run_is_read_once")
            .await;
    let overrides = [
        ("DATABASE_URL", database.url.as_str()),
        ("REPO_BRANCHES", "*"),
        ("CLAIM_LEASE", "0.3"),
        ("OUTBOX_POLL", "0.05"),
    ];
    let app = spawn_app(&overrides).await;
    let run = unique();
    github_reruns_once(&app.github, "org/repo", run).await;
    let build = Job::new("org/repo", run, 1).branch("feature/\0nul");
    let test = Job::new("org/repo", run, 2).branch("feature/\0nul");
    assert_eq!(app.send(&build.queued()).await.status, 202);
    assert_eq!(app.send(&test.queued()).await.status, 202);
    assert_eq!(app.send(&build.completed("failure")).await.status, 202);
    assert_eq!(app.send(&test.completed("success")).await.status, 201);
    eventually("the outcome to be recorded", || async {
        let outcomes = database.outcomes().await;
        outcomes
            .iter()
            .any(|(_, id, attempt, outcome)| *id == run && *attempt == 1 && outcome == "started")
            .then_some(())
    })
    .await;
    observe_for(Duration::from_secs(2)).await; // six leases
    assert_eq!(run_reads(&app, "org/repo", run).await, 1);
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
    database.drop_now().await;
}
