//! The embedded default store: one SQLite file in WAL mode, owned by one thread.
//!
//! Every request goes through a channel to that thread, which takes all requests
//! waiting at that moment, runs them in one transaction (each inside a savepoint, so
//! one failing request undoes only itself), commits once (one fsync), and only then
//! answers each. That is group commit: under load many webhooks share one write.
//! Transactions begin IMMEDIATE, so a second process on the same file (a Dokku
//! zero-downtime deploy) waits its turn instead of interleaving.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::codec::{self, RerunRow};
use super::{FlakyJob, Store, StoreError, StoreFuture};
use crate::ids::RunKey;
use crate::run::{Applied, Persist, RerunRecord, RunChange, RunState, apply_change, redelivered};

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// Most requests committed in one transaction; bounds the latency one batch adds.
const MAX_BATCH: usize = 1024;

/// An SQLite-backed [`Store`].
pub struct SqliteStore {
    requests: mpsc::Sender<Request>,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

enum Request {
    Load(RunKey, Reply<Option<RunState>>),
    Transition(RunKey, Box<RunChange>, Reply<Applied>),
    Due(u64, u32, Reply<Vec<RunKey>>),
    Purge(u64, Reply<u64>),
    Recent(u32, Reply<Vec<(RunKey, RerunRecord)>>),
    Runs(u32, Reply<Vec<(RunKey, RunState)>>),
    Flaky(u32, Reply<Vec<FlakyJob>>),
    Ping(Reply<()>),
}

impl SqliteStore {
    /// Opens (creating it and its directory if needed) and migrates the database at
    /// `path`, then starts the thread that owns it.
    pub fn open(path: &str) -> Result<Self, StoreError> {
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|err| StoreError(format!("cannot create {}: {err}", dir.display())))?;
        }
        let mut conn = Connection::open(path)
            .map_err(|err| StoreError(format!("cannot open {path}: {err}")))?;
        // WAL lets the one writer commit with a single fsync; FULL makes each commit survive
        // a power cut, not only a crash of the process.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_error)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql_error)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(sql_error)?;
        embedded::migrations::runner()
            .run(&mut conn)
            .map_err(|err| StoreError(format!("migrating {path}: {err}")))?;
        let (requests, inbox) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-store".into())
            .spawn(move || serve(conn, inbox))
            .map_err(|err| StoreError(format!("cannot start the store thread: {err}")))?;
        Ok(Self { requests })
    }

    fn ask<T: Send + 'static>(&self, request: impl FnOnce(Reply<T>) -> Request) -> StoreFuture<T> {
        let (reply, answer) = oneshot::channel();
        let sent = self.requests.send(request(reply));
        Box::pin(async move {
            sent.map_err(|_| StoreError("the store thread has stopped".into()))?;
            answer
                .await
                .map_err(|_| StoreError("the store thread has stopped".into()))?
        })
    }
}

impl Store for SqliteStore {
    fn load(&self, key: &RunKey) -> StoreFuture<Option<RunState>> {
        let key = key.clone();
        self.ask(move |reply| Request::Load(key, reply))
    }

    fn transition(&self, key: &RunKey, change: RunChange) -> StoreFuture<Applied> {
        let key = key.clone();
        self.ask(move |reply| Request::Transition(key, Box::new(change), reply))
    }

    fn due_reruns(&self, now: u64, limit: u32) -> StoreFuture<Vec<RunKey>> {
        self.ask(move |reply| Request::Due(now, limit, reply))
    }

    fn purge_idle(&self, before: u64) -> StoreFuture<u64> {
        self.ask(move |reply| Request::Purge(before, reply))
    }

    fn recent_reruns(&self, limit: u32) -> StoreFuture<Vec<(RunKey, RerunRecord)>> {
        self.ask(move |reply| Request::Recent(limit, reply))
    }

    fn recent_runs(&self, limit: u32) -> StoreFuture<Vec<(RunKey, RunState)>> {
        self.ask(move |reply| Request::Runs(limit, reply))
    }

    fn flaky_jobs(&self, limit: u32) -> StoreFuture<Vec<FlakyJob>> {
        self.ask(move |reply| Request::Flaky(limit, reply))
    }

    fn ping(&self) -> StoreFuture<()> {
        self.ask(Request::Ping)
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

/// An answer computed inside the transaction, sent once the transaction is committed.
trait Deliver {
    fn deliver(self: Box<Self>, committed: &Result<(), StoreError>);
}

struct Answer<T> {
    reply: Reply<T>,
    value: Result<T, StoreError>,
}

impl<T> Deliver for Answer<T> {
    fn deliver(self: Box<Self>, committed: &Result<(), StoreError>) {
        let value = match committed {
            Ok(()) => self.value,
            Err(err) => Err(err.clone()),
        };
        // The asker may have gone (its webhook timed out); nothing to tell then.
        let _ = self.reply.send(value);
    }
}

fn answer<T: 'static>(reply: Reply<T>, value: Result<T, StoreError>) -> Box<dyn Deliver> {
    Box::new(Answer { reply, value })
}

/// The store thread: batches requests into transactions until every sender is gone.
fn serve(mut conn: Connection, inbox: mpsc::Receiver<Request>) {
    while let Ok(first) = inbox.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let mut answers = Vec::with_capacity(batch.len());
        let committed = run_batch(&mut conn, batch, &mut answers);
        for answer in answers {
            answer.deliver(&committed);
        }
    }
}

fn run_batch(
    conn: &mut Connection,
    batch: Vec<Request>,
    answers: &mut Vec<Box<dyn Deliver>>,
) -> Result<(), StoreError> {
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => {
            let err = sql_error(err);
            for request in batch {
                answers.push(fail(request, &err));
            }
            return Err(err);
        }
    };
    for request in batch {
        // A savepoint per request: one that fails is undone alone, the others commit.
        let mut savepoint = match tx.savepoint() {
            Ok(savepoint) => savepoint,
            Err(err) => {
                answers.push(fail(request, &sql_error(err)));
                continue;
            }
        };
        let (done, ok) = match request {
            Request::Load(key, reply) => keep(reply, load(&savepoint, &key)),
            Request::Transition(key, change, reply) => {
                keep(reply, transition(&savepoint, &key, *change))
            }
            Request::Due(now, limit, reply) => keep(reply, due(&savepoint, now, limit)),
            Request::Purge(before, reply) => keep(reply, purge(&savepoint, before)),
            Request::Recent(limit, reply) => keep(reply, recent(&savepoint, limit)),
            Request::Runs(limit, reply) => keep(reply, runs(&savepoint, limit)),
            Request::Flaky(limit, reply) => keep(reply, flaky(&savepoint, limit)),
            Request::Ping(reply) => keep(reply, Ok(())),
        };
        if ok {
            if let Err(err) = savepoint.commit() {
                answers.push(done);
                return Err(sql_error(err));
            }
        } else {
            let _ = savepoint.rollback();
        }
        answers.push(done);
    }
    tx.commit().map_err(sql_error)
}

fn keep<T: 'static>(reply: Reply<T>, value: Result<T, StoreError>) -> (Box<dyn Deliver>, bool) {
    let ok = value.is_ok();
    (answer(reply, value), ok)
}

fn fail(request: Request, err: &StoreError) -> Box<dyn Deliver> {
    let err = err.clone();
    match request {
        Request::Load(_, reply) => answer(reply, Err(err)),
        Request::Transition(_, _, reply) => answer(reply, Err(err)),
        Request::Due(_, _, reply) => answer(reply, Err(err)),
        Request::Purge(_, reply) => answer(reply, Err(err)),
        Request::Recent(_, reply) => answer(reply, Err(err)),
        Request::Runs(_, reply) => answer(reply, Err(err)),
        Request::Flaky(_, reply) => answer(reply, Err(err)),
        Request::Ping(reply) => answer(reply, Err(err)),
    }
}

fn sql_error(err: rusqlite::Error) -> StoreError {
    StoreError(err.to_string())
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

fn transition(conn: &Connection, key: &RunKey, change: RunChange) -> Result<Applied, StoreError> {
    let delivery = change.delivery().map(str::to_owned);
    if let Some(delivery) = &delivery {
        let answered: Option<i64> = conn
            .prepare_cached("SELECT status FROM deliveries WHERE delivery = ?1")
            .and_then(|mut stmt| {
                stmt.query_row(params![delivery], |row| row.get(0))
                    .optional()
            })
            .map_err(sql_error)?;
        if let Some(status) = answered {
            return Ok(redelivered(load(conn, key)?, status as u16));
        }
    }
    let now = change.now() as i64;
    let applied = apply_change(load(conn, key)?, change);
    match (&applied.persist, &applied.state) {
        (Persist::Save, Some(state)) => {
            let json = codec::encode_state(key, state)?;
            conn.prepare_cached(
                "INSERT INTO runs (repo, run_id, state, pending_rerun_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (repo, run_id) DO UPDATE SET state = excluded.state,
                     pending_rerun_at = excluded.pending_rerun_at, updated_at = excluded.updated_at",
            )
            .and_then(|mut stmt| {
                let pending = state.pending_rerun_at().map(|at| at as i64);
                stmt.execute(params![key.repo.as_str(), key.run_id.0 as i64, json, pending, now])
            })
            .map_err(sql_error)?;
        }
        (Persist::Delete, _) => {
            conn.prepare_cached("DELETE FROM runs WHERE repo = ?1 AND run_id = ?2")
                .and_then(|mut stmt| stmt.execute(params![key.repo.as_str(), key.run_id.0 as i64]))
                .map_err(sql_error)?;
        }
        _ => {}
    }
    if let Some((delivery, status)) = codec::delivery_to_remember(delivery, &applied) {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO deliveries (delivery, status, at) VALUES (?1, ?2, ?3)",
        )
        .and_then(|mut stmt| stmt.execute(params![delivery, status, now]))
        .map_err(sql_error)?;
    }
    if let Some((workflow, job)) = codec::flaky_to_count(&applied) {
        conn.prepare_cached(
            "INSERT INTO flaky_jobs (repo, workflow, job, times, last_seen) VALUES (?1, ?2, ?3, 1, ?4)
             ON CONFLICT (repo, workflow, job) DO UPDATE SET times = times + 1, last_seen = excluded.last_seen",
        )
        .and_then(|mut stmt| stmt.execute(params![key.repo.as_str(), workflow, job, now]))
        .map_err(sql_error)?;
    }
    if let Some(record) = &applied.history {
        save_rerun(conn, key, record)?;
    }
    Ok(applied)
}

fn save_rerun(conn: &Connection, key: &RunKey, record: &RerunRecord) -> Result<(), StoreError> {
    let (detail, failed_jobs) = codec::encode_record(record)?;
    conn.prepare_cached(
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
    })
    .map(|_| ())
    .map_err(sql_error)
}

fn due(conn: &Connection, now: u64, limit: u32) -> Result<Vec<RunKey>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT repo, run_id FROM runs WHERE pending_rerun_at <= ?1
             ORDER BY pending_rerun_at LIMIT ?2",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map(params![now.min(i64::MAX as u64) as i64, limit], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .map_err(sql_error)?;
    rows.map(|row| {
        row.map_err(sql_error)
            .and_then(|(repo, run_id)| codec::run_key(&repo, run_id))
    })
    .collect()
}

fn purge(conn: &Connection, before: u64) -> Result<u64, StoreError> {
    conn.prepare_cached("DELETE FROM deliveries WHERE at < ?1")
        .and_then(|mut stmt| stmt.execute(params![before as i64]))
        .map_err(sql_error)?;
    conn.prepare_cached("DELETE FROM runs WHERE pending_rerun_at IS NULL AND updated_at < ?1")
        .and_then(|mut stmt| stmt.execute(params![before as i64]))
        .map(|deleted| deleted as u64)
        .map_err(sql_error)
}

fn recent(conn: &Connection, limit: u32) -> Result<Vec<(RunKey, RerunRecord)>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT repo, run_id, attempt, detail, workflow, branch, failed_jobs, finished_at
             FROM reruns ORDER BY finished_at DESC LIMIT ?1",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map(params![limit], |row| {
            Ok(RerunRow {
                repo: row.get(0)?,
                run_id: row.get(1)?,
                attempt: row.get(2)?,
                detail: row.get(3)?,
                workflow: row.get(4)?,
                branch: row.get(5)?,
                failed_jobs: row.get(6)?,
                finished_at: row.get(7)?,
            })
        })
        .map_err(sql_error)?;
    rows.map(|row| row.map_err(sql_error).and_then(codec::decode_record))
        .collect()
}

fn runs(conn: &Connection, limit: u32) -> Result<Vec<(RunKey, RunState)>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT repo, run_id, state FROM runs ORDER BY updated_at DESC LIMIT ?1")
        .map_err(sql_error)?;
    let rows = stmt
        .query_map(params![limit], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .map_err(sql_error)?;
    rows.map(|row| {
        let (repo, run_id, json) = row.map_err(sql_error)?;
        let key = codec::run_key(&repo, run_id)?;
        let state = codec::decode_state(&key, &json)?;
        Ok((key, state))
    })
    .collect()
}

fn flaky(conn: &Connection, limit: u32) -> Result<Vec<FlakyJob>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT repo, workflow, job, times, last_seen FROM flaky_jobs
             ORDER BY times DESC, last_seen DESC LIMIT ?1",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map(params![limit], |row| {
            Ok(FlakyJob {
                repo: row.get(0)?,
                workflow: row.get(1)?,
                job: row.get(2)?,
                times: row.get::<_, i64>(3)? as u64,
                last_seen: row.get::<_, i64>(4)? as u64,
            })
        })
        .map_err(sql_error)?;
    rows.map(|row| row.map_err(sql_error)).collect()
}
