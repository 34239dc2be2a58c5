//! The SQLite store's thread: requests come in over a channel and run in batches, one
//! transaction per batch (group commit: one fsync for many webhooks); a batch whose
//! transaction fails is run again one request at a time, so one bad request fails
//! alone. Beside it, the checkpointer copies the WAL into the database file.

use std::sync::mpsc;

use rusqlite::{Connection, TransactionBehavior};

use super::{
    CHECKPOINT_EVERY, Kind, MAX_BATCH, Opened, Reply, WAL_FRAMES_LIMIT, WriteHealth, sql_error,
};
use crate::store::StoreError;

/// One request to the store thread: work to run inside a transaction (perhaps twice, if
/// its batch is run again), and the answer to send once the transaction is committed.
pub(super) trait Work: Send {
    /// Runs the work and keeps its result; says whether it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Sends the kept result, or the commit's error.
    fn deliver(self: Box<Self>, committed: &Result<(), StoreError>);
    /// What the request does.
    fn kind(&self) -> Kind;
    /// Why its last run failed, if it did.
    fn failure(&self) -> Option<&StoreError>;
    /// Whether its last run changed rows (the connection's change count moved).
    fn wrote(&self) -> bool;
}

pub(super) struct Job<T, F> {
    pub(super) work: F,
    pub(super) kind: Kind,
    pub(super) reply: Reply<T>,
    pub(super) value: Option<Result<T, StoreError>>,
    pub(super) wrote: bool,
}

impl<T, F> Work for Job<T, F>
where
    T: Send,
    F: Fn(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let before = conn.total_changes();
        let value = (self.work)(conn);
        self.wrote = conn.total_changes() != before;
        let ok = value.is_ok();
        self.value = Some(value);
        ok
    }

    fn deliver(self: Box<Self>, committed: &Result<(), StoreError>) {
        let value = match (committed, self.value) {
            (Ok(()), Some(value)) => value,
            (Ok(()), None) => Err(StoreError::Broken("the store skipped the request".into())),
            (Err(err), _) => Err(err.clone()),
        };
        // The asker may have gone (its webhook timed out); nothing to tell then.
        let _ = self.reply.send(value);
    }

    fn kind(&self) -> Kind {
        self.kind
    }

    fn failure(&self) -> Option<&StoreError> {
        self.value.as_ref().and_then(|value| value.as_ref().err())
    }

    fn wrote(&self) -> bool {
        self.wrote
    }
}

/// The store thread: batches requests into transactions until every sender is gone.
pub(super) fn serve(
    mut conn: Connection,
    inbox: mpsc::Receiver<Box<dyn Work>>,
    opened: &Opened,
    health: &WriteHealth,
) {
    while let Ok(first) = inbox.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(work) => batch.push(work),
                Err(_) => break,
            }
        }
        let committed = match run_batch(&mut conn, &mut batch, opened) {
            Some(committed) => committed,
            None => run_batch_one_by_one(&mut conn, &mut batch, opened),
        };
        let changes: Vec<&dyn Work> = batch
            .iter()
            .filter(|work| work.kind() == Kind::Change)
            .map(|work| &**work)
            .collect();
        if !changes.is_empty() {
            let failure = committed
                .as_ref()
                .err()
                .or_else(|| changes.iter().find_map(|work| work.failure()));
            // A success counts only if a change wrote rows: one that wrote nothing (a
            // redelivery, a claim that found nothing) says nothing about the disk.
            if failure.is_some() || changes.iter().any(|work| work.wrote()) {
                health.record(failure);
            }
        }
        for work in batch {
            work.deliver(&committed);
        }
    }
}

/// Runs the whole batch in one transaction. `None` when some request failed: the
/// transaction was rolled back and the batch is to be run one by one.
fn run_batch(
    conn: &mut Connection,
    batch: &mut [Box<dyn Work>],
    opened: &Opened,
) -> Option<Result<(), StoreError>> {
    let changes = conn.total_changes();
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => return Some(Err(sql_error(err))),
    };
    if batch.iter_mut().all(|work| work.run(&tx)) {
        // Dropping the transaction (on the error) rolls it back.
        Some(commit_if_there(tx, changes, opened))
    } else {
        // Dropping the transaction rolls it back.
        None
    }
}

/// Runs the batch in one transaction with a savepoint per request: a request that
/// fails is undone alone (and answered with its error), the others commit.
fn run_batch_one_by_one(
    conn: &mut Connection,
    batch: &mut [Box<dyn Work>],
    opened: &Opened,
) -> Result<(), StoreError> {
    let changes = conn.total_changes();
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    for work in batch.iter_mut() {
        let mut savepoint = tx.savepoint().map_err(sql_error)?;
        if work.run(&savepoint) {
            savepoint.commit().map_err(sql_error)?;
        } else {
            let _ = savepoint.rollback();
        }
    }
    commit_if_there(tx, changes, opened)
}

/// Commits `tx`, unless it changed rows (the connection's change count moved from
/// `changes`) and the database file is no longer the one opened. Reads go on either
/// way: they show what was acknowledged.
fn commit_if_there(
    tx: rusqlite::Transaction<'_>,
    changes: u64,
    opened: &Opened,
) -> Result<(), StoreError> {
    if tx.total_changes() != changes {
        opened.still_there()?;
    }
    tx.commit().map_err(sql_error)
}

/// The checkpointer: copies committed WAL frames into the database file every
/// `CHECKPOINT_EVERY` until the store thread is gone, then once more.
pub(super) fn checkpoint_until(conn: Connection, stopped: mpsc::Receiver<()>) {
    loop {
        let stopping = !matches!(
            stopped.recv_timeout(CHECKPOINT_EVERY),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        let mode = if stopping { "TRUNCATE" } else { "PASSIVE" };
        // Behind: the WAL is long and commits keep it from being copied in full.
        let behind = checkpoint(&conn, mode)
            .is_some_and(|(frames, copied)| frames > WAL_FRAMES_LIMIT && copied < frames);
        if behind {
            checkpoint(&conn, "RESTART");
        }
        if stopping {
            return;
        }
    }
}

/// Runs one checkpoint; returns the WAL's length and how much of it is copied, in
/// frames. Errors (a busy database) are left to the next round.
pub(super) fn checkpoint(conn: &Connection, mode: &str) -> Option<(i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
    .ok()
}
