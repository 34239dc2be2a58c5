//! The embedded default store: one SQLite file in WAL mode, owned by one thread.
//!
//! Every request goes through a channel to that thread, which takes all requests
//! waiting at that moment, runs them in one transaction, commits (one fsync), and only
//! then answers each. That is group commit: under load many webhooks share one write.

use std::path::Path;
use std::sync::mpsc;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::{RerunRecord, Store, StoreError, StoreFuture, Write};
use crate::ids::{RepoName, RunId, RunKey};
use crate::run::{RerunOutcome, RunState};

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
    Write(Box<Write>, Reply<()>),
    Pending(Reply<Vec<RunKey>>),
    Purge(u64, Reply<u64>),
    Recent(u32, Reply<Vec<(RunKey, RerunRecord)>>),
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
        conn.busy_timeout(std::time::Duration::from_secs(5))
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

    fn write(&self, write: Write) -> StoreFuture<()> {
        self.ask(move |reply| Request::Write(Box::new(write), reply))
    }

    fn pending_reruns(&self) -> StoreFuture<Vec<RunKey>> {
        self.ask(Request::Pending)
    }

    fn purge_idle(&self, before: u64) -> StoreFuture<u64> {
        self.ask(move |reply| Request::Purge(before, reply))
    }

    fn recent_reruns(&self, limit: u32) -> StoreFuture<Vec<(RunKey, RerunRecord)>> {
        self.ask(move |reply| Request::Recent(limit, reply))
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
    let tx = match conn.transaction() {
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
        answers.push(match request {
            Request::Load(key, reply) => answer(reply, load(&tx, &key)),
            Request::Write(write, reply) => answer(reply, apply(&tx, *write)),
            Request::Pending(reply) => answer(reply, pending(&tx)),
            Request::Purge(before, reply) => answer(reply, purge(&tx, before)),
            Request::Recent(limit, reply) => answer(reply, recent(&tx, limit)),
        });
    }
    tx.commit().map_err(sql_error)
}

fn fail(request: Request, err: &StoreError) -> Box<dyn Deliver> {
    match request {
        Request::Load(_, reply) => answer(reply, Err(err.clone())),
        Request::Write(_, reply) => answer(reply, Err(err.clone())),
        Request::Pending(reply) => answer(reply, Err(err.clone())),
        Request::Purge(_, reply) => answer(reply, Err(err.clone())),
        Request::Recent(_, reply) => answer(reply, Err(err.clone())),
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
    json.map(|json| {
        serde_json::from_str(&json)
            .map_err(|err| StoreError(format!("run {key} is unreadable: {err}")))
    })
    .transpose()
}

fn apply(conn: &Connection, write: Write) -> Result<(), StoreError> {
    match write {
        Write::SaveRun {
            key,
            state,
            now,
            rerun,
        } => {
            let json = serde_json::to_string(&state)
                .map_err(|err| StoreError(format!("cannot encode run {key}: {err}")))?;
            conn.prepare_cached(
                "INSERT INTO runs (repo, run_id, state, pending_rerun_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (repo, run_id) DO UPDATE SET state = excluded.state,
                     pending_rerun_at = excluded.pending_rerun_at, updated_at = excluded.updated_at",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    key.repo.as_str(),
                    key.run_id.0 as i64,
                    json,
                    state.pending_rerun_at().map(|at| at as i64),
                    now as i64
                ])
            })
            .map_err(sql_error)?;
            if let Some(record) = rerun {
                save_rerun(conn, &key, &record)?;
            }
            Ok(())
        }
        Write::DeleteRun { key } => conn
            .prepare_cached("DELETE FROM runs WHERE repo = ?1 AND run_id = ?2")
            .and_then(|mut stmt| stmt.execute(params![key.repo.as_str(), key.run_id.0 as i64]))
            .map(|_| ())
            .map_err(sql_error),
    }
}

fn save_rerun(conn: &Connection, key: &RunKey, record: &RerunRecord) -> Result<(), StoreError> {
    let detail = serde_json::to_string(&record.outcome)
        .map_err(|err| StoreError(format!("cannot encode outcome: {err}")))?;
    let failed_jobs = serde_json::to_string(&record.failed_jobs)
        .map_err(|err| StoreError(format!("cannot encode job names: {err}")))?;
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

fn run_key(repo: String, run_id: i64) -> Result<RunKey, StoreError> {
    let repo = RepoName::parse(&repo).map_err(|err| StoreError(err.to_string()))?;
    Ok(RunKey {
        repo,
        run_id: RunId(run_id as u64),
    })
}

fn pending(conn: &Connection) -> Result<Vec<RunKey>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT repo, run_id FROM runs WHERE pending_rerun_at IS NOT NULL
             ORDER BY pending_rerun_at",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })
        .map_err(sql_error)?;
    rows.map(|row| {
        row.map_err(sql_error)
            .and_then(|(repo, run_id)| run_key(repo, run_id))
    })
    .collect()
}

fn purge(conn: &Connection, before: u64) -> Result<u64, StoreError> {
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
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, u32>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, i64>(7)?,
            ))
        })
        .map_err(sql_error)?;
    rows.map(|row| {
        let (repo, run_id, attempt, detail, workflow, branch, failed_jobs, finished_at) =
            row.map_err(sql_error)?;
        let outcome: RerunOutcome = serde_json::from_str(&detail)
            .map_err(|err| StoreError(format!("unreadable re-run outcome: {err}")))?;
        let failed_jobs: Vec<String> = serde_json::from_str(&failed_jobs)
            .map_err(|err| StoreError(format!("unreadable job names: {err}")))?;
        let record = RerunRecord {
            attempt,
            outcome,
            workflow,
            branch,
            failed_jobs,
            finished_at: finished_at as u64,
        };
        Ok((run_key(repo, run_id)?, record))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::JobId;
    use crate::run::{Conclusion, RerunState, TrackedJob};

    fn key(run: u64) -> RunKey {
        RunKey {
            repo: RepoName::parse("org/repo").expect("valid"),
            run_id: RunId(run),
        }
    }

    fn state(rerun: RerunState) -> RunState {
        RunState {
            branch: "master".into(),
            workflow: "ci".into(),
            attempt: 1,
            jobs: vec![TrackedJob {
                id: JobId(1),
                name: "build".into(),
                conclusion: Some(Conclusion::Failure),
            }],
            rerun,
            confirmed: true,
            first_seen_at: 1,
            last_event_at: 2,
        }
    }

    async fn save(store: &SqliteStore, run: u64, state: RunState, now: u64) {
        let write = Write::SaveRun {
            key: key(run),
            state,
            now,
            rerun: None,
        };
        store.write(write).await.expect("write");
    }

    #[actix_rt::test]
    async fn saved_runs_survive_reopening_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/runs.db");
        let path = path.to_str().expect("utf-8 path");
        {
            let store = SqliteStore::open(path).expect("open");
            save(&store, 1, state(RerunState::Scheduled { due_at: 10 }), 5).await;
            save(&store, 2, state(RerunState::Idle), 5).await;
        }
        let store = SqliteStore::open(path).expect("reopen");
        assert_eq!(
            store.load(&key(1)).await.expect("load"),
            Some(state(RerunState::Scheduled { due_at: 10 }))
        );
        assert_eq!(store.load(&key(3)).await.expect("load"), None);
        assert_eq!(store.pending_reruns().await.expect("pending"), vec![key(1)]);
    }

    #[actix_rt::test]
    async fn purge_keeps_runs_with_a_pending_rerun_and_recent_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            SqliteStore::open(dir.path().join("r.db").to_str().expect("path")).expect("open");
        save(&store, 1, state(RerunState::Idle), 100).await;
        save(&store, 2, state(RerunState::Scheduled { due_at: 1 }), 100).await;
        save(&store, 3, state(RerunState::Idle), 500).await;
        assert_eq!(store.purge_idle(200).await.expect("purge"), 1);
        assert_eq!(store.load(&key(1)).await.expect("load"), None);
        assert!(store.load(&key(2)).await.expect("load").is_some());
        assert!(store.load(&key(3)).await.expect("load").is_some());
    }

    #[actix_rt::test]
    async fn concurrent_writes_are_all_committed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            SqliteStore::open(dir.path().join("r.db").to_str().expect("path")).expect("open");
        let writes = (0..200).map(|run| {
            store.write(Write::SaveRun {
                key: key(run),
                state: state(RerunState::Idle),
                now: 1,
                rerun: None,
            })
        });
        for result in futures_util::future::join_all(writes).await {
            result.expect("write");
        }
        for run in 0..200 {
            assert!(
                store.load(&key(run)).await.expect("load").is_some(),
                "run {run} lost"
            );
        }
    }

    #[actix_rt::test]
    async fn answered_reruns_are_recorded_newest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            SqliteStore::open(dir.path().join("r.db").to_str().expect("path")).expect("open");
        for (run, at) in [(1, 10), (2, 20)] {
            let record = RerunRecord {
                attempt: 1,
                outcome: RerunOutcome::Started,
                workflow: "ci".into(),
                branch: "master".into(),
                failed_jobs: vec!["build".into()],
                finished_at: at,
            };
            let write = Write::SaveRun {
                key: key(run),
                state: state(RerunState::Idle),
                now: at,
                rerun: Some(Box::new(record)),
            };
            store.write(write).await.expect("write");
        }
        let recent = store.recent_reruns(10).await.expect("recent");
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].0, key(2));
        assert_eq!(recent[0].1.failed_jobs, vec!["build".to_string()]);
    }
}
