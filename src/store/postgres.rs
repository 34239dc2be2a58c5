//! PostgreSQL store: several job-rerunner processes share one database.
//!
//! Each change runs in its own transaction that first takes a transaction-scoped
//! advisory lock on the run's key (which also covers a run that has no row yet), then
//! reads the row `FOR UPDATE`, applies the pure transition and writes it back. So the
//! events of one run are applied one at a time across all processes, and a decided
//! re-run is claimed by one process at a time (a claim is a lease in the row).
//!
//! The pool and its connections live on a small runtime of their own, so they do not
//! depend on which HTTP worker happens to call.
//!
//! PostgreSQL's `TEXT` refuses the NUL character, which GitHub does not forbid in a
//! branch, workflow or job name: every text bound to a statement goes through
//! [`text`], which replaces it (U+FFFD), so such a run is recorded like any other.

mod learning;
mod pg_error;
mod recovery;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Config, Pool, PoolConfig, Runtime, Timeouts};
use tokio_postgres::{NoTls, Transaction};

use super::codec::{self, RerunRow};
use super::plan::{self, Quarantine, Write};
use super::{FlakyJob, RerunHelp, Store, StoreError, StoreFuture, StoreWatch, schema};
use crate::ids::RunKey;
use crate::run::{Applied, RerunRecord, RunChange, RunState, apply_change};
use pg_error::Cause;

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// Connections per process.
const POOL_SIZE: usize = 16;
/// How long a call waits for a connection, or to open one, before the store is "down".
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A PostgreSQL-backed [`Store`].
pub struct PostgresStore {
    pub(super) pool: Pool,
    runtime: OwnRuntime,
    watch: Arc<StoreWatch>,
    newer_migrations: Vec<String>,
}

/// `value` as PostgreSQL takes it: NUL, which `TEXT` refuses, replaced by U+FFFD. The
/// one place text goes through on its way into a statement.
pub(super) fn text(value: &str) -> Cow<'_, str> {
    if value.contains('\0') {
        Cow::Owned(value.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// The store's runtime. The store is opened, and dropped, from async code (the actix
/// system), where dropping a tokio runtime panics ("Cannot drop a runtime in a context
/// where blocking is not allowed"); this one is let wind down in the background instead,
/// from the moment it exists: also when opening fails half-way.
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl PostgresStore {
    /// Connects to `url` (as Dokku's `postgres:link` sets it), migrates the schema and
    /// checks the database answers. Unreadable rows are reported nowhere; see
    /// [`PostgresStore::open_watched`].
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_watched(url, Arc::new(StoreWatch::silent())).await
    }

    /// As [`PostgresStore::open`], reporting unreadable rows to `watch`.
    pub async fn open_watched(url: &str, watch: Arc<StoreWatch>) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres-store")
            .enable_all()
            .build()
            .map_err(|err| {
                StoreError::Unavailable(format!("cannot start the store runtime: {err}"))
            })?;
        let runtime = OwnRuntime(Some(runtime));
        let mut config = Config::new();
        config.url = Some(url.to_owned());
        let mut pool_config = PoolConfig::new(POOL_SIZE);
        pool_config.timeouts = Timeouts {
            wait: Some(CONNECT_TIMEOUT),
            create: Some(CONNECT_TIMEOUT),
            recycle: Some(CONNECT_TIMEOUT),
        };
        config.pool = Some(pool_config);
        let pool = config
            .create_pool(Some(Runtime::Tokio1), NoTls)
            .map_err(|err| StoreError::Unavailable(format!("DATABASE_URL is not usable: {err}")))?;
        let mut store = Self {
            pool,
            runtime,
            watch,
            newer_migrations: Vec::new(),
        };
        let pool = store.pool.clone();
        let target = pg_error::target(url).unwrap_or_else(|| "DATABASE_URL".into());
        store.newer_migrations = store
            .on_runtime(async move {
                let mut client = pool
                    .get()
                    .await
                    .map_err(|err| cannot_connect(&target, &err))?;
                schema::migrate_postgres(&mut client, embedded::migrations::runner, "PostgreSQL")
                    .await
            })
            .await?;
        Ok(store)
    }

    /// Runs `work` on the store's runtime and awaits it from any other.
    pub(super) fn on_runtime<T, F>(&self, work: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let Some(runtime) = &self.runtime.0 else {
            return Box::pin(async {
                Err(StoreError::Unavailable("the store is shut down".into()))
            });
        };
        let handle = runtime.spawn(work);
        Box::pin(async move {
            handle
                .await
                .map_err(|err| StoreError::Unavailable(format!("store task failed: {err}")))?
        })
    }
}

/// Column `index` of `row`, or why it cannot be read (`Row::get` would panic).
fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    index: usize,
) -> Result<T, StoreError> {
    row.try_get(index)
        .map_err(|err| StoreError::Unreadable(format!("column {index}: {err}")))
}

/// How a row of `runs` or `reruns` is named in logs: `repo#run_id`, as far as it reads.
fn row_name(row: &tokio_postgres::Row) -> String {
    let repo = column::<String>(row, 0).unwrap_or_else(|_| "?".into());
    let run_id = column::<i64>(row, 1).map_or_else(|_| "?".into(), |id| id.to_string());
    format!("{repo}#{run_id}")
}

pub(super) fn pool_error(err: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(format!("PostgreSQL unavailable: {}", Cause::of_pool(&err)))
}

/// The start-up failure: where the service tried to connect, and the driver's cause.
fn cannot_connect(target: &str, err: &deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(format!(
        "cannot connect to PostgreSQL at {target}: {}",
        Cause::of_pool(err)
    ))
}

pub(super) fn sql_error(err: tokio_postgres::Error) -> StoreError {
    let cause = Cause::of(&err);
    let why = format!("PostgreSQL: {cause}");
    match cause {
        // The server answered and refused this statement (disk full, a constraint, a
        // permission): it fails the same way until someone acts.
        Cause::Server(_) => StoreError::Refused(why),
        // The connection broke or timed out: another try may do better.
        _ => StoreError::Unavailable(why),
    }
}

/// Moves the `runs` row (`repo`, `run_id` as read in `row`) whose key this version
/// refuses to the `quarantine` table, in one statement.
async fn quarantine_row(
    client: &tokio_postgres::Client,
    row: &tokio_postgres::Row,
    why: &str,
) -> Result<(), StoreError> {
    let repo: String = column(row, 0)?;
    let run_id: i64 = column(row, 1)?;
    let now = crate::clock::now_ms() as i64;
    client
        .execute(
            "WITH moved AS (DELETE FROM runs WHERE repo = $1 AND run_id = $2
                 RETURNING repo, run_id, state)
             INSERT INTO quarantine (repo, run_id, state, reason, quarantined_at)
             SELECT repo, run_id, state, $3, $4 FROM moved",
            &[&repo, &run_id, &text(why), &now],
        )
        .await
        .map(|_| ())
        .map_err(sql_error)
}

/// One write of the plan, in PostgreSQL's words.
async fn carry_out(
    tx: &mut Transaction<'_>,
    key: &RunKey,
    now: i64,
    write: Write<'_>,
    watch: &StoreWatch,
) -> Result<(), StoreError> {
    let (repo, run_id) = (key.repo.as_str(), key.run_id.0 as i64);
    let done = match write {
        Write::SaveRun {
            state,
            pending_rerun_at,
        } => {
            tx.execute(
                "INSERT INTO runs (repo, run_id, state, pending_rerun_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (repo, run_id) DO UPDATE SET state = excluded.state,
                     pending_rerun_at = excluded.pending_rerun_at, updated_at = excluded.updated_at",
                &[&repo, &run_id, &text(&state), &pending_rerun_at, &now],
            )
            .await
        }
        Write::DeleteRun => {
            tx.execute("DELETE FROM runs WHERE repo = $1 AND run_id = $2", &[&repo, &run_id])
                .await
        }
        Write::CountFlaky { workflow, job } => {
            tx.execute(
                "INSERT INTO flaky_jobs (repo, workflow, job, times, last_seen) VALUES ($1, $2, $3, 1, $4)
                 ON CONFLICT (repo, workflow, job)
                 DO UPDATE SET times = flaky_jobs.times + 1, last_seen = excluded.last_seen",
                &[&repo, &text(workflow), &text(job), &now],
            )
            .await
        }
        Write::RecordRerun {
            record,
            detail,
            failed_jobs,
        } => {
            // In a savepoint: a record the database refuses is left out, and the
            // run's state (the outcome, which ends the claims) still commits.
            let savepoint = tx.savepoint("record").await.map_err(sql_error)?;
            let saved = savepoint
                .execute(
                    "INSERT INTO reruns
                     (repo, run_id, attempt, outcome, detail, workflow, branch, failed_jobs, finished_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (repo, run_id, attempt) DO UPDATE SET outcome = excluded.outcome,
                         detail = excluded.detail, failed_jobs = excluded.failed_jobs,
                         finished_at = excluded.finished_at",
                    &[
                        &repo,
                        &run_id,
                        &(record.attempt as i32),
                        &record.outcome.label(),
                        &text(&detail),
                        &text(&record.workflow),
                        &text(&record.branch),
                        &text(&failed_jobs),
                        &(record.finished_at as i64),
                    ],
                )
                .await;
            return match saved {
                Ok(_) => savepoint.commit().await.map_err(sql_error),
                Err(err) => {
                    savepoint.rollback().await.map_err(sql_error)?;
                    watch.record_lost(&key.to_string(), sql_error(err).message());
                    Ok(())
                }
            };
        }
        Write::AfterRerun {
            workflow,
            job,
            passed,
        } => {
            tx.execute(
                "INSERT INTO job_reruns (repo, workflow, job, at, passed) VALUES ($1, $2, $3, $4, $5)",
                &[&repo, &text(workflow), &text(job), &now, &passed],
            )
            .await
        }
        Write::Decision { decision, facts } => {
            tx.execute(
                "INSERT INTO decisions
                 (repo, run_id, attempt, decided_at, verdict, reason, job, evidence, pattern, counts, facts,
                  api_calls, log_bytes, failed_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                 ON CONFLICT (repo, run_id, attempt) DO UPDATE SET decided_at = excluded.decided_at,
                     verdict = excluded.verdict, reason = excluded.reason, job = excluded.job,
                     evidence = excluded.evidence, pattern = excluded.pattern, counts = excluded.counts,
                     facts = excluded.facts, api_calls = excluded.api_calls,
                     log_bytes = excluded.log_bytes, failed_ms = excluded.failed_ms",
                &[
                    &repo,
                    &run_id,
                    &i64::from(decision.attempt),
                    &(decision.decided_at as i64),
                    &decision.verdict,
                    &decision.reason.map(|r| r.as_str()),
                    &decision.job.as_deref().map(text),
                    &decision.evidence.as_deref().map(text),
                    &decision.pattern.as_deref().map(text),
                    &decision.counts,
                    &facts.as_deref().map(text),
                    &decision.cost.map(|c| i64::from(c.api_calls)),
                    &decision.cost.map(|c| c.log_bytes as i64),
                    &decision.failed_ms.map(|ms| ms as i64),
                ],
            )
            .await
        }
        Write::Signature(counts) => return learning::count_signature(tx, repo, &counts, now).await,
        Write::SettleDecision { attempt, outcome } => {
            return learning::settle_decision(tx, key, attempt, outcome).await;
        }
        Write::Effect(effect) => return learning::add_effect(tx, key, &effect).await,
    };
    done.map(|_| ()).map_err(sql_error)
}

/// A stable 64-bit key for the run's advisory lock (FNV-1a over `repo#run_id`).
fn lock_key(key: &RunKey) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key
        .repo
        .as_str()
        .bytes()
        .chain(*b"#")
        .chain(key.run_id.0.to_le_bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

impl Store for PostgresStore {
    fn load(&self, key: &RunKey) -> StoreFuture<Option<RunState>> {
        let (pool, key) = (self.pool.clone(), key.clone());
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let statement = client
                .prepare_cached("SELECT state FROM runs WHERE repo = $1 AND run_id = $2")
                .await
                .map_err(sql_error)?;
            let row = client
                .query_opt(&statement, &[&key.repo.as_str(), &(key.run_id.0 as i64)])
                .await
                .map_err(sql_error)?;
            row.map(|row| codec::decode_state(&key, column(&row, 0)?))
                .transpose()
        })
    }

    fn transition(&self, key: &RunKey, change: RunChange) -> StoreFuture<Applied> {
        let (pool, key, watch) = (self.pool.clone(), key.clone(), Arc::clone(&self.watch));
        self.on_runtime(async move {
            let mut client = pool.get().await.map_err(pool_error)?;
            let mut tx = client.transaction().await.map_err(sql_error)?;
            let repo = key.repo.as_str();
            let run_id = key.run_id.0 as i64;
            let now = change.now() as i64;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key(&key)]).await.map_err(sql_error)?;
            let stored: Option<String> = tx
                .query_opt("SELECT state FROM runs WHERE repo = $1 AND run_id = $2 FOR UPDATE", &[&repo, &run_id])
                .await
                .map_err(sql_error)?
                .map(|row| column(&row, 0))
                .transpose()?;
            let loaded =
                plan::load(&key, stored.map(Ok)).map_err(|err| watch.newer(&key.to_string(), err))?;
            if let Some(Quarantine { kept, why }) = &loaded.quarantine {
                // Not JSON: moved aside, and the run starts afresh (see `Store`).
                tx.execute(
                    "INSERT INTO quarantine (repo, run_id, state, reason, quarantined_at)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&repo, &run_id, &text(kept), &text(why), &now],
                )
                .await
                .map_err(sql_error)?;
                tx.execute("DELETE FROM runs WHERE repo = $1 AND run_id = $2", &[&repo, &run_id])
                    .await
                    .map_err(sql_error)?;
                watch.quarantined(&key.to_string(), why);
            }
            let mut change = change;
            if change.wants_history() {
                let since = (change.now().saturating_sub(crate::run::BUDGET_WINDOW_MS)) as i64;
                let counted: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM decisions WHERE repo = $1 AND decided_at > $2 AND counts",
                        &[&repo, &since],
                    )
                    .await
                    .map_err(sql_error)?
                    .try_get(0)
                    .map_err(sql_error)?;
                let workflow = change.workflow().unwrap_or_default().to_owned();
                let rows = tx
                    .query(
                        "SELECT job, passed FROM job_reruns WHERE repo = $1 AND workflow = $2
                         ORDER BY at DESC LIMIT $3",
                        &[&repo, &text(&workflow), &i64::from(codec::AFTER_RERUN_ROWS)],
                    )
                    .await
                    .map_err(sql_error)?;
                // A row that cannot be read says nothing about the job: it is left out.
                let rows: Vec<(String, bool)> = rows
                    .iter()
                    .filter_map(|row| Some((row.try_get(0).ok()?, row.try_get(1).ok()?)))
                    .collect();
                let signatures = learning::signature_histories(&tx, repo, &change).await?;
                change.set_history(plan::history(counted, rows, signatures));
            }
            let applied = apply_change(loaded.current, &change);
            for write in plan::writes(&key, &applied)? {
                carry_out(&mut tx, &key, now, write, &watch).await?;
            }
            tx.commit().await.map_err(sql_error)?;
            Ok(applied)
        })
    }

    fn due_reruns(&self, now: u64, limit: u32) -> StoreFuture<Vec<RunKey>> {
        let (pool, watch) = (self.pool.clone(), Arc::clone(&self.watch));
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let rows = client
                .query(
                    "SELECT repo, run_id FROM runs WHERE pending_rerun_at <= $1
                     ORDER BY pending_rerun_at LIMIT $2",
                    &[&(now.min(i64::MAX as u64) as i64), &i64::from(limit)],
                )
                .await
                .map_err(sql_error)?;
            let mut due = Vec::new();
            for row in &rows {
                let key = column::<String>(row, 0)
                    .and_then(|repo| codec::run_key(&repo, column(row, 1)?));
                match key {
                    Ok(key) => due.push(key),
                    Err(err) => {
                        // Left in `runs` it would stay first among the due re-runs
                        // forever (enough of them fill every poll): moved aside.
                        let moved = match quarantine_row(&client, row, err.message()).await {
                            Ok(()) => format!("{}; moved to the quarantine table", err.message()),
                            Err(failed) => format!(
                                "{}; could not be moved to the quarantine table: {}",
                                err.message(),
                                failed.message()
                            ),
                        };
                        watch.unreadable("runs", &row_name(row), &moved);
                    }
                }
            }
            Ok(due)
        })
    }

    fn purge_idle(&self, before: u64) -> StoreFuture<u64> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let before = before as i64;
            client
                .execute(
                    "DELETE FROM runs WHERE pending_rerun_at IS NULL AND updated_at < $1",
                    &[&before],
                )
                .await
                .map_err(sql_error)
        })
    }

    fn recent_reruns(&self, limit: u32) -> StoreFuture<Vec<(RunKey, RerunRecord)>> {
        let (pool, watch) = (self.pool.clone(), Arc::clone(&self.watch));
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let rows = client
                .query(
                    "SELECT repo, run_id, attempt, detail, workflow, branch, failed_jobs, finished_at
                     FROM reruns ORDER BY finished_at DESC LIMIT $1",
                    &[&i64::from(limit)],
                )
                .await
                .map_err(sql_error)?;
            let mut records = Vec::new();
            for row in &rows {
                let read = (|| {
                    codec::decode_record(RerunRow {
                        repo: column(row, 0)?,
                        run_id: column(row, 1)?,
                        attempt: i64::from(column::<i32>(row, 2)?),
                        detail: column(row, 3)?,
                        workflow: column(row, 4)?,
                        branch: column(row, 5)?,
                        failed_jobs: column(row, 6)?,
                        finished_at: column(row, 7)?,
                    })
                })();
                match read {
                    Ok(record) => records.push(record),
                    Err(err) => watch.unreadable("reruns", &row_name(row), err.message()),
                }
            }
            Ok(records)
        })
    }

    fn count_runs(&self) -> StoreFuture<u64> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let row = client
                .query_one("SELECT COUNT(*) FROM runs", &[])
                .await
                .map_err(sql_error)?;
            Ok(column::<i64>(&row, 0)?.max(0) as u64)
        })
    }

    fn recent_runs(&self, limit: u32) -> StoreFuture<Vec<(RunKey, RunState)>> {
        let (pool, watch) = (self.pool.clone(), Arc::clone(&self.watch));
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let rows = client
                .query(
                    "SELECT repo, run_id, state FROM runs ORDER BY updated_at DESC LIMIT $1",
                    &[&i64::from(limit)],
                )
                .await
                .map_err(sql_error)?;
            let mut runs = Vec::new();
            for row in &rows {
                let run = (|| {
                    let key = codec::run_key(&column::<String>(row, 0)?, column(row, 1)?)?;
                    let state = codec::decode_state(&key, column(row, 2)?)?;
                    Ok::<_, StoreError>((key, state))
                })();
                match run {
                    Ok(run) => runs.push(run),
                    Err(err) => watch.unreadable("runs", &row_name(row), err.message()),
                }
            }
            Ok(runs)
        })
    }

    fn flaky_jobs(&self, limit: u32) -> StoreFuture<Vec<FlakyJob>> {
        let (pool, watch) = (self.pool.clone(), Arc::clone(&self.watch));
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let rows = client
                .query(
                    "SELECT repo, workflow, job, times, last_seen FROM flaky_jobs
                     ORDER BY times DESC, last_seen DESC LIMIT $1",
                    &[&i64::from(limit)],
                )
                .await
                .map_err(sql_error)?;
            let mut jobs = Vec::new();
            for row in &rows {
                let job = (|| {
                    Ok::<_, StoreError>(FlakyJob {
                        repo: column(row, 0)?,
                        workflow: column(row, 1)?,
                        job: column(row, 2)?,
                        times: column::<i64>(row, 3)? as u64,
                        last_seen: column::<i64>(row, 4)? as u64,
                    })
                })();
                match job {
                    Ok(job) => jobs.push(job),
                    Err(err) => {
                        let name = (0..3)
                            .map(|index| {
                                column::<String>(row, index).unwrap_or_else(|_| "?".into())
                            })
                            .collect::<Vec<_>>()
                            .join("/");
                        watch.unreadable("flaky_jobs", &name, err.message());
                    }
                }
            }
            Ok(jobs)
        })
    }

    // Same SQL as the SQLite backend's.
    fn rerun_help(&self, since: u64, limit: u32) -> StoreFuture<Vec<RerunHelp>> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let rows = client
                .query(
                    "SELECT repo, workflow, job, COUNT(*), SUM(CASE WHEN passed THEN 1 ELSE 0 END)
                     FROM job_reruns WHERE at >= $1
                     GROUP BY repo, workflow, job
                     ORDER BY COUNT(*) DESC, repo, workflow, job LIMIT $2",
                    &[&(since as i64), &i64::from(limit)],
                )
                .await
                .map_err(sql_error)?;
            let mut help = Vec::new();
            for row in &rows {
                let reruns = column::<i64>(row, 3)?;
                let passed = column::<i64>(row, 4)?;
                help.push(RerunHelp {
                    repo: column(row, 0)?,
                    workflow: column(row, 1)?,
                    job: column(row, 2)?,
                    reruns: reruns.max(0) as u64,
                    passed: passed.max(0) as u64,
                    failed_again: (reruns - passed).max(0) as u64,
                });
            }
            Ok(help)
        })
    }

    fn skip_reasons(&self, since: u64) -> StoreFuture<Vec<(String, u64)>> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let rows = client
                .query(
                    "SELECT COALESCE(reason, verdict), COUNT(*) FROM decisions
                     WHERE verdict IN ('skip', 'shadow') AND decided_at >= $1
                     GROUP BY COALESCE(reason, verdict)
                     ORDER BY COUNT(*) DESC, COALESCE(reason, verdict)",
                    &[&(since as i64)],
                )
                .await
                .map_err(sql_error)?;
            let mut reasons = Vec::new();
            for row in &rows {
                reasons.push((column(row, 0)?, column::<i64>(row, 1)?.max(0) as u64));
            }
            Ok(reasons)
        })
    }

    // A statement of its own is a transaction of its own: ready means a write commits.
    fn ping(&self) -> StoreFuture<()> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let beat = crate::clock::now_ms() as i64;
            let updated = client
                .execute("UPDATE heartbeat SET beat = $1 WHERE id = 1", &[&beat])
                .await
                .map_err(sql_error)?;
            match updated {
                1 => Ok(()),
                _ => Err(StoreError::Broken("the heartbeat row is missing".into())),
            }
        })
    }

    fn newer_migrations(&self) -> &[String] {
        &self.newer_migrations
    }

    fn recovery(&self) -> Option<&dyn super::RecoveryStore> {
        Some(self)
    }

    fn learning(&self) -> Option<&dyn super::LearningStore> {
        Some(self)
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_bound_for_postgresql_has_no_nul() {
        assert_eq!(text("main\0x"), "main\u{FFFD}x");
        assert!(matches!(text("main"), Cow::Borrowed("main")));
    }
}
