//! The embedded default store: one SQLite file in WAL mode, owned by one thread.
//!
//! Every request goes through a channel to that thread, which takes all requests
//! waiting at that moment, runs them in one transaction, commits once (one fsync), and
//! only then answers each. That is group commit: under load many webhooks share one
//! write. Should one request of a batch fail, the batch is undone and run again with a
//! savepoint per request, so that the failing one is undone alone; savepoints cost two
//! statements per request, so the common case does without them. Transactions begin
//! IMMEDIATE, so a second process on the same file (a Dokku zero-downtime deploy) waits
//! its turn instead of interleaving. Checkpoints (copying the WAL into the database
//! file) run on a thread and connection of their own, off the commit path.
//!
//! Before a batch that changed anything commits, the thread checks (one `stat`) that
//! the file at the path is still the one it opened (device and inode): a database
//! deleted or replaced under the running service would otherwise take commits that no
//! restart ever sees. Such a batch fails, so its webhooks answer 503.
//!
//! Readiness (`ping`) writes a heartbeat through the same batches, but a one-row update
//! can still fit in the WAL's free frames when a full disk refuses a new run's row. So
//! the thread also remembers how the last batch carrying changes ended ([`WriteHealth`]):
//! while the latest change failed (for at most `WRITE_TROUBLE_FOR`, then the heartbeat
//! decides again), the store is not ready. Only a change that wrote rows clears that: a
//! redelivery or a claim that finds nothing writes nothing, so it proves nothing about
//! the disk.

mod learning;
mod recovery;
mod reports;
mod thread;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params};
use tokio::sync::oneshot;

use super::codec;
use super::plan::{self, Quarantine, Write};
use super::{FlakyJob, RerunHelp, Store, StoreError, StoreFuture, StoreWatch, schema};
use crate::clock::now_ms as unix_ms;
use crate::ids::RunKey;
use crate::run::{Applied, RerunRecord, RunChange, RunState, apply_change};
use thread::{Job, Work, checkpoint_until, serve};

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// Most requests committed in one transaction; bounds the latency one batch adds.
pub(super) const MAX_BATCH: usize = 1024;
/// How often the checkpointer copies committed WAL frames into the database file.
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// A WAL longer than this (in 4 KiB frames, about 64 MiB) is checkpointed even if that
/// makes the writer wait: passive checkpoints alone can fall behind a steady stream of
/// commits, and the WAL must not grow without bound.
pub(super) const WAL_FRAMES_LIMIT: i64 = 16_384;
/// The size, in bytes, the WAL file is cut back to when it starts over (64 MiB).
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;
/// How long a failed change keeps the store "not ready" when no change commits after
/// it: long enough for a deploy's or a balancer's check to see it, short enough that an
/// instance taken out of rotation (so it gets no changes) is looked at again soon.
pub(super) const WRITE_TROUBLE_FOR: Duration = Duration::from_secs(30);

/// An SQLite-backed [`Store`].
pub struct SqliteStore {
    requests: mpsc::Sender<Box<dyn Work>>,
    /// The file, for reads that must not wait behind the writer (`Store::count_runs`).
    path: PathBuf,
    watch: Arc<StoreWatch>,
    health: Arc<WriteHealth>,
    newer_migrations: Vec<String>,
}

/// The database file the store opened: its device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileIdentity {
    device: u64,
    inode: u64,
}

/// The file at `path` now.
fn identity(path: &Path) -> std::io::Result<FileIdentity> {
    let metadata = std::fs::metadata(path)?;
    Ok(FileIdentity {
        device: metadata.dev(),
        inode: metadata.ino(),
    })
}

/// What the store thread checks before it commits a change.
pub(super) struct Opened {
    path: PathBuf,
    identity: FileIdentity,
}

impl Opened {
    /// Fails unless the file at the path is still the one opened.
    pub(super) fn still_there(&self) -> Result<(), StoreError> {
        match identity(&self.path) {
            Ok(now) if now == self.identity => Ok(()),
            Ok(_) => Err(self.gone("was replaced")),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(self.gone("was deleted")),
            Err(err) => Err(StoreError::Unavailable(format!(
                "cannot check the database file {}: {err}",
                self.path.display()
            ))),
        }
    }

    fn gone(&self, what: &str) -> StoreError {
        StoreError::Unavailable(format!(
            "the database file {} {what} since it was opened; nothing more is committed to it (restart the service)",
            self.path.display()
        ))
    }
}

/// How the last batch that carried changes ended, as the store thread saw it.
#[derive(Default)]
pub(super) struct WriteHealth {
    /// Unix ms of the last batch whose changes did not all commit; 0: never.
    failed_at: AtomicU64,
    /// Unix ms of the last batch whose changes all committed; 0: never.
    committed_at: AtomicU64,
    /// Why the last failed batch failed.
    why: Mutex<String>,
}

impl WriteHealth {
    /// Notes how a batch with changes ended: `None` if they all committed.
    pub(super) fn record(&self, failure: Option<&StoreError>) {
        match failure {
            None => self.committed_at.store(unix_ms(), Ordering::Relaxed),
            Some(err) => {
                if let Ok(mut why) = self.why.lock() {
                    *why = err.message().to_owned();
                }
                self.failed_at.store(unix_ms(), Ordering::Relaxed);
            }
        }
    }

    /// An error while the latest change failed and `WRITE_TROUBLE_FOR` has not passed.
    fn check(&self) -> Result<(), StoreError> {
        let failed_at = self.failed_at.load(Ordering::Relaxed);
        let recent = unix_ms().saturating_sub(failed_at) < WRITE_TROUBLE_FOR.as_millis() as u64;
        if failed_at > self.committed_at.load(Ordering::Relaxed) && recent {
            let ago_s = unix_ms().saturating_sub(failed_at) / 1000;
            let why = self.why.lock().map(|why| why.clone()).unwrap_or_default();
            return Err(StoreError::Unavailable(format!(
                "the last change did not commit ({ago_s} s ago) and none has since: {why}"
            )));
        }
        Ok(())
    }
}

/// What a request to the store thread does, for [`WriteHealth`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Reads only.
    Read,
    /// Changes rows (transitions, purges).
    Change,
    /// The readiness heartbeat: a write, but too small to speak for the others.
    Probe,
}

pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

impl SqliteStore {
    /// Opens (creating it and its directory if needed) and migrates the database at
    /// `path`, then starts the thread that owns it and the checkpointer. Unreadable
    /// rows are reported nowhere; see [`SqliteStore::open_watched`].
    pub fn open(path: &str) -> Result<Self, StoreError> {
        Self::open_watched(path, Arc::new(StoreWatch::silent()))
    }

    /// As [`SqliteStore::open`], reporting unreadable rows to `watch`.
    pub fn open_watched(path: &str, watch: Arc<StoreWatch>) -> Result<Self, StoreError> {
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|err| {
                StoreError::Unavailable(format!("cannot create {}: {err}", dir.display()))
            })?;
        }
        let mut conn = connect(path)?;
        let newer_migrations =
            schema::migrate_sqlite(&mut conn, embedded::migrations::runner, path)?;
        let opened = Opened {
            path: PathBuf::from(path),
            identity: identity(Path::new(path))
                .map_err(|err| StoreError::Unavailable(format!("cannot read {path}: {err}")))?,
        };
        // The writer never checkpoints on commit; the checkpointer thread does.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sql_error)?;
        let checkpointer = connect(path)?;
        let (requests, inbox) = mpsc::channel();
        let (stop, stopped) = mpsc::channel::<()>();
        let health = Arc::new(WriteHealth::default());
        let thread_health = Arc::clone(&health);
        std::thread::Builder::new()
            .name("sqlite-store".into())
            .spawn(move || {
                serve(conn, inbox, &opened, &thread_health);
                drop(stop);
            })
            .map_err(|err| {
                StoreError::Unavailable(format!("cannot start the store thread: {err}"))
            })?;
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_until(checkpointer, stopped))
            .map_err(|err| {
                StoreError::Unavailable(format!("cannot start the checkpointer: {err}"))
            })?;
        Ok(Self {
            requests,
            path: PathBuf::from(path),
            watch,
            health,
            newer_migrations,
        })
    }

    /// Sends `work` to the store thread; resolves with its result once committed.
    pub(super) fn ask<T, F>(&self, kind: Kind, work: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let sent = self.requests.send(Box::new(Job {
            work,
            kind,
            reply,
            value: None,
            wrote: false,
        }));
        Box::pin(async move {
            sent.map_err(|_| StoreError::Unavailable("the store thread has stopped".into()))?;
            answer
                .await
                .map_err(|_| StoreError::Unavailable("the store thread has stopped".into()))?
        })
    }
}

/// A connection to `path` with the settings both threads need.
fn connect(path: &str) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)
        .map_err(|err| StoreError::Unavailable(format!("cannot open {path}: {err}")))?;
    // WAL lets the one writer commit with a single fsync; FULL makes each commit survive
    // a power cut, not only a crash of the process.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql_error)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql_error)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(sql_error)?;
    // A burst of writes can outrun the checkpoints and grow the WAL (3.4 GB while the
    // benchmark wrote a million runs); once it is copied back and starts over, SQLite
    // cuts the file to this size instead of keeping it at its largest.
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
        .map_err(sql_error)?;
    Ok(conn)
}

impl Store for SqliteStore {
    fn load(&self, key: &RunKey) -> StoreFuture<Option<RunState>> {
        let key = key.clone();
        self.ask(Kind::Read, move |conn| load(conn, &key))
    }

    fn transition(&self, key: &RunKey, change: RunChange) -> StoreFuture<Applied> {
        let (key, watch) = (key.clone(), Arc::clone(&self.watch));
        self.ask(Kind::Change, move |conn| {
            transition(conn, &key, &change, &watch)
        })
    }

    fn due_reruns(&self, now: u64, limit: u32) -> StoreFuture<Vec<RunKey>> {
        let watch = Arc::clone(&self.watch);
        self.ask(Kind::Read, move |conn| due(conn, now, limit, &watch))
    }

    fn purge_idle(&self, before: u64) -> StoreFuture<u64> {
        self.ask(Kind::Change, move |conn| purge(conn, before))
    }

    // Counting a million rows takes tens of milliseconds: on a connection and thread of
    // its own (WAL lets it read beside the writer), not on the store thread, where it
    // would hold every commit back that long.
    fn count_runs(&self) -> StoreFuture<u64> {
        let (reply, answer) = oneshot::channel();
        let path = self.path.clone();
        let spawned = std::thread::Builder::new()
            .name("sqlite-count".into())
            .spawn(move || {
                let _ = reply.send(count_runs(&path));
            });
        Box::pin(async move {
            spawned.map_err(|err| {
                StoreError::Unavailable(format!("cannot start a counting thread: {err}"))
            })?;
            answer
                .await
                .map_err(|_| StoreError::Unavailable("the counting thread stopped".into()))?
        })
    }

    fn recent_reruns(&self, limit: u32) -> StoreFuture<Vec<(RunKey, RerunRecord)>> {
        let watch = Arc::clone(&self.watch);
        self.ask(Kind::Read, move |conn| reports::recent(conn, limit, &watch))
    }

    fn recent_runs(&self, limit: u32) -> StoreFuture<Vec<(RunKey, RunState)>> {
        let watch = Arc::clone(&self.watch);
        self.ask(Kind::Read, move |conn| reports::runs(conn, limit, &watch))
    }

    fn flaky_jobs(&self, limit: u32) -> StoreFuture<Vec<FlakyJob>> {
        let watch = Arc::clone(&self.watch);
        self.ask(Kind::Read, move |conn| reports::flaky(conn, limit, &watch))
    }

    fn rerun_help(&self, since: u64, limit: u32) -> StoreFuture<Vec<RerunHelp>> {
        self.ask(Kind::Read, move |conn| {
            reports::rerun_help(conn, since, limit)
        })
    }

    fn skip_reasons(&self, since: u64) -> StoreFuture<Vec<(String, u64)>> {
        self.ask(Kind::Read, move |conn| reports::skip_reasons(conn, since))
    }

    // Goes through the batch like any change, so it fails when changes fail: the write
    // does not commit, or the file is no longer the one opened; and while the latest
    // change failed (see `WriteHealth`).
    fn ping(&self) -> StoreFuture<()> {
        if let Err(err) = self.health.check() {
            return Box::pin(std::future::ready(Err(err)));
        }
        self.ask(Kind::Probe, |conn| {
            let beat = unix_ms() as i64;
            let updated = conn
                .prepare_cached("UPDATE heartbeat SET beat = ?1 WHERE id = 1")
                .and_then(|mut stmt| stmt.execute([beat]))
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
        "sqlite"
    }
}

pub(super) fn sql_error(err: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::{
        CannotOpen, DatabaseBusy, DatabaseLocked, NotADatabase, SystemIoFailure,
    };
    let why = err.to_string();
    match &err {
        // The file cannot be used now (another writer, the disk failing, a file that is
        // not a database any more): another try, or another instance, may do better.
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(
                failure.code,
                CannotOpen | DatabaseBusy | DatabaseLocked | NotADatabase | SystemIoFailure
            ) =>
        {
            StoreError::Unavailable(why)
        }
        // Disk full, read-only, a constraint, a statement this version got wrong: this
        // request fails the same way until someone acts.
        _ => StoreError::Refused(why),
    }
}

fn load(conn: &Connection, key: &RunKey) -> Result<Option<RunState>, StoreError> {
    let json: Option<String> = conn
        .prepare_cached("SELECT state FROM runs WHERE repo = ?1 AND run_id = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![key.repo.as_str(), key.run_id.0 as i64], |row| {
                row.get(0)
            })
            .optional()
        })
        .map_err(sql_error)?;
    json.map(|json| codec::decode_state(key, &json)).transpose()
}

/// A column as text, whatever SQLite holds there (its columns are not strictly typed,
/// so a row written by something else may hold anything): `Err` says why not.
pub(super) fn text(row: &Row<'_>, column: usize) -> Result<String, String> {
    match row.get_ref(column) {
        Ok(ValueRef::Text(bytes)) => {
            String::from_utf8(bytes.to_vec()).map_err(|_| format!("column {column} is not UTF-8"))
        }
        Ok(other) => Err(format!(
            "column {column} is {}, not text",
            other.data_type()
        )),
        Err(err) => Err(err.to_string()),
    }
}

/// A column as an integer; `Err` says why not.
pub(super) fn integer(row: &Row<'_>, column: usize) -> Result<i64, String> {
    row.get::<_, i64>(column).map_err(|err| err.to_string())
}

/// A column as text for a log line, whatever it holds.
pub(super) fn shown(row: &Row<'_>, column: usize) -> String {
    match row.get_ref(column) {
        Ok(ValueRef::Text(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Ok(ValueRef::Integer(number)) => number.to_string(),
        Ok(other) => format!("({})", other.data_type()),
        Err(_) => "(missing)".to_owned(),
    }
}

/// How a row of `runs` is named in logs: `repo#run_id`, as far as they can be read.
pub(super) fn run_row_name(row: &Row<'_>) -> String {
    format!("{}#{}", shown(row, 0), shown(row, 1))
}

/// The run's stored row for a change, as the plan reads it (`plan::load`); a value
/// that is not JSON at all is moved to the `quarantine` table first, in the change's
/// transaction.
fn load_for_change(
    conn: &Connection,
    key: &RunKey,
    now: i64,
    watch: &StoreWatch,
) -> Result<Option<RunState>, StoreError> {
    let stored = conn
        .prepare_cached("SELECT state FROM runs WHERE repo = ?1 AND run_id = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![key.repo.as_str(), key.run_id.0 as i64], |row| {
                Ok(text(row, 0).map_err(|why| (shown(row, 0), why)))
            })
            .optional()
        })
        .map_err(sql_error)?;
    let loaded = plan::load(key, stored).map_err(|err| watch.newer(&key.to_string(), err))?;
    if let Some(Quarantine { kept, why }) = &loaded.quarantine {
        let (repo, run_id) = (key.repo.as_str(), key.run_id.0 as i64);
        conn.prepare_cached(
            "INSERT INTO quarantine (repo, run_id, state, reason, quarantined_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut stmt| stmt.execute(params![repo, run_id, kept, why, now]))
        .and_then(|_| {
            conn.prepare_cached("DELETE FROM runs WHERE repo = ?1 AND run_id = ?2")
                .and_then(|mut stmt| stmt.execute(params![repo, run_id]))
        })
        .map_err(sql_error)?;
        watch.quarantined(&key.to_string(), why);
    }
    Ok(loaded.current)
}

/// One change in one transaction, as `plan` lays it out.
fn transition(
    conn: &Connection,
    key: &RunKey,
    change: &RunChange,
    watch: &StoreWatch,
) -> Result<Applied, StoreError> {
    let now = change.now() as i64;
    let current = load_for_change(conn, key, now, watch)?;
    let applied = if change.wants_history() {
        let mut change = change.clone();
        change.set_history(history(conn, key, &change)?);
        apply_change(current, &change)
    } else {
        apply_change(current, change)
    };
    for write in plan::writes(key, &applied)? {
        carry_out(conn, key, now, write, watch)?;
    }
    Ok(applied)
}

/// One write of the plan, in SQLite's words.
fn carry_out(
    conn: &Connection,
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
        } => conn
            .prepare_cached(
                "INSERT INTO runs (repo, run_id, state, pending_rerun_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (repo, run_id) DO UPDATE SET state = excluded.state,
                     pending_rerun_at = excluded.pending_rerun_at, updated_at = excluded.updated_at",
            )
            .and_then(|mut stmt| stmt.execute(params![repo, run_id, state, pending_rerun_at, now])),
        Write::DeleteRun => conn
            .prepare_cached("DELETE FROM runs WHERE repo = ?1 AND run_id = ?2")
            .and_then(|mut stmt| stmt.execute(params![repo, run_id])),
        Write::CountFlaky { workflow, job } => conn
            .prepare_cached(
                "INSERT INTO flaky_jobs (repo, workflow, job, times, last_seen) VALUES (?1, ?2, ?3, 1, ?4)
                 ON CONFLICT (repo, workflow, job) DO UPDATE SET times = times + 1, last_seen = excluded.last_seen",
            )
            .and_then(|mut stmt| stmt.execute(params![repo, workflow, job, now])),
        Write::RecordRerun {
            record,
            detail,
            failed_jobs,
        } => return save_rerun(conn, key, (record, detail, failed_jobs), watch),
        Write::AfterRerun {
            workflow,
            job,
            passed,
        } => conn
            .prepare_cached(
                "INSERT INTO job_reruns (repo, workflow, job, at, passed) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut stmt| stmt.execute(params![repo, workflow, job, now, passed])),
        Write::Decision { decision, facts } => conn
            .prepare_cached(
                "INSERT OR REPLACE INTO decisions
                 (repo, run_id, attempt, decided_at, verdict, reason, job, evidence, pattern, counts, facts,
                  api_calls, log_bytes, failed_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    repo,
                    run_id,
                    decision.attempt,
                    decision.decided_at as i64,
                    decision.verdict,
                    decision.reason.map(|r| r.as_str()),
                    decision.job,
                    decision.evidence,
                    decision.pattern,
                    decision.counts,
                    facts,
                    decision.cost.map(|c| c.api_calls),
                    decision.cost.map(|c| c.log_bytes as i64),
                    decision.failed_ms.map(|ms| ms as i64)
                ])
            }),
        Write::Signature(counts) => return learning::count_signature(conn, repo, &counts, now),
        Write::SettleDecision { attempt, outcome } => {
            return learning::settle_decision(conn, key, attempt, outcome);
        }
        Write::Effect(effect) => return learning::add_effect(conn, key, &effect),
    };
    done.map(|_| ()).map_err(sql_error)
}

/// What the failure policy reads of the repository's past: its counted decisions of
/// the last hour (an indexed count), and what the workflow's jobs did after their
/// latest automatic re-runs (`job_reruns`, newest `AFTER_RERUN_ROWS`).
fn history(
    conn: &Connection,
    key: &RunKey,
    change: &RunChange,
) -> Result<crate::policy::History, StoreError> {
    let since = change.now().saturating_sub(crate::run::BUDGET_WINDOW_MS) as i64;
    let counted: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM decisions WHERE repo = ?1 AND decided_at > ?2 AND counts = 1",
        )
        .and_then(|mut stmt| stmt.query_row(params![key.repo.as_str(), since], |row| row.get(0)))
        .map_err(sql_error)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT job, passed FROM job_reruns WHERE repo = ?1 AND workflow = ?2
             ORDER BY at DESC LIMIT ?3",
        )
        .map_err(sql_error)?;
    let workflow = change.workflow().unwrap_or_default();
    let rows = stmt
        .query_map(
            params![key.repo.as_str(), workflow, codec::AFTER_RERUN_ROWS],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, bool>(1)?)),
        )
        .map_err(sql_error)?;
    // A row that cannot be read says nothing about the job: it is left out.
    let rows: Vec<(String, bool)> = rows.filter_map(Result::ok).collect();
    let signatures = learning::signature_histories(conn, key, change)?;
    Ok(plan::history(counted, rows, signatures))
}

/// Writes the re-run's record where it can: in a savepoint, so that a record the
/// database refuses is left out and the run's own state (the outcome, which ends the
/// claims) still commits.
fn save_rerun(
    conn: &Connection,
    key: &RunKey,
    (record, detail, failed_jobs): (&RerunRecord, String, String),
    watch: &StoreWatch,
) -> Result<(), StoreError> {
    conn.execute_batch("SAVEPOINT record").map_err(sql_error)?;
    let saved = conn
        .prepare_cached(
            "INSERT OR REPLACE INTO reruns
             (repo, run_id, attempt, outcome, detail, workflow, branch, failed_jobs, finished_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                key.repo.as_str(),
                key.run_id.0 as i64,
                record.attempt,
                record.outcome.label(),
                detail,
                record.workflow,
                record.branch,
                failed_jobs,
                record.finished_at as i64
            ])
        });
    if let Err(err) = saved {
        conn.execute_batch("ROLLBACK TO record")
            .map_err(sql_error)?;
        watch.record_lost(&key.to_string(), &err.to_string());
    }
    conn.execute_batch("RELEASE record").map_err(sql_error)
}

fn due(
    conn: &Connection,
    now: u64,
    limit: u32,
    watch: &StoreWatch,
) -> Result<Vec<RunKey>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT repo, run_id FROM runs WHERE pending_rerun_at <= ?1
             ORDER BY pending_rerun_at LIMIT ?2",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map(params![now.min(i64::MAX as u64) as i64, limit], |row| {
            let key = text(row, 0)
                .and_then(|repo| Ok((repo, integer(row, 1)?)))
                .and_then(|(repo, run_id)| {
                    codec::run_key(&repo, run_id).map_err(|err| err.message().to_owned())
                });
            Ok(key.map_err(|why| {
                let raw = (row.get::<_, Value>(0), row.get::<_, Value>(1));
                (run_row_name(row), why, raw)
            }))
        })
        .map_err(sql_error)?;
    let mut due = Vec::new();
    let mut poison = Vec::new();
    for row in rows {
        match row.map_err(sql_error)? {
            Ok(key) => due.push(key),
            Err((name, why, (Ok(repo), Ok(run_id)))) => poison.push((name, why, repo, run_id)),
            Err((name, why, _)) => watch.unreadable("runs", &name, &why),
        }
    }
    drop(stmt);
    for (name, why, repo, run_id) in poison {
        // Should the move fail, the row is skipped as before and the poll goes on.
        let moved = match quarantine_row(conn, &repo, &run_id, &why) {
            Ok(()) => format!("{why}; moved to the quarantine table"),
            Err(err) => format!("{why}; could not be moved to the quarantine table: {err}"),
        };
        watch.unreadable("runs", &name, &moved);
    }
    Ok(due)
}

/// Moves a row of `runs` whose key this version refuses (a repository name that is not
/// `owner/name`) to the `quarantine` table, as found: left in `runs` it would stay first
/// among the due re-runs forever, and enough of them would fill every poll. Its columns
/// go as they are (SQLite does not type them strictly); a missing one as empty.
fn quarantine_row(
    conn: &Connection,
    repo: &Value,
    run_id: &Value,
    why: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO quarantine (repo, run_id, state, reason, quarantined_at)
         SELECT coalesce(repo, ''), coalesce(run_id, 0), coalesce(state, ''), ?3, ?4
         FROM runs WHERE repo = ?1 AND run_id = ?2",
    )
    .and_then(|mut stmt| stmt.execute(params![repo, run_id, why, unix_ms() as i64]))
    .and_then(|_| {
        conn.prepare_cached("DELETE FROM runs WHERE repo = ?1 AND run_id = ?2")
            .and_then(|mut stmt| stmt.execute(params![repo, run_id]))
    })
    .map(|_| ())
    .map_err(sql_error)
}

/// The rows of `runs`, on a read-only connection opened for it.
fn count_runs(path: &Path) -> Result<u64, StoreError> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|err| StoreError::Unavailable(format!("cannot open {}: {err}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(sql_error)?;
    conn.query_row("SELECT COUNT(*) FROM runs", [], |row| row.get::<_, i64>(0))
        .map(|count| count.max(0) as u64)
        .map_err(sql_error)
}

fn purge(conn: &Connection, before: u64) -> Result<u64, StoreError> {
    conn.prepare_cached("DELETE FROM runs WHERE pending_rerun_at IS NULL AND updated_at < ?1")
        .and_then(|mut stmt| stmt.execute(params![before as i64]))
        .map(|deleted| deleted as u64)
        .map_err(sql_error)
}

#[cfg(test)]
mod tests;
