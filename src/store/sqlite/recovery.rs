//! [`RecoveryStore`] for SQLite: the redelivery sweep's rows (migration V5), through
//! the store thread's batches like every other request.

use rusqlite::{OptionalExtension, params};

use super::{Kind, SqliteStore, sql_error};
use crate::store::StoreFuture;
use crate::store::recovery::{FinishedSweep, RecoveryStore, SweepRecord};

impl RecoveryStore for SqliteStore {
    fn take_sweep_lease(&self, owner: u64, now: u64, until: u64) -> StoreFuture<bool> {
        self.ask(Kind::Change, move |conn| {
            conn.prepare_cached(
                "UPDATE redelivery_sweep SET owner = ?1, lease_until = ?3
                 WHERE id = 1 AND (lease_until <= ?2 OR owner = ?1)",
            )
            .and_then(|mut stmt| stmt.execute(params![owner as i64, now as i64, until as i64]))
            .map(|taken| taken == 1)
            .map_err(sql_error)
        })
    }

    fn sweep_record(&self) -> StoreFuture<SweepRecord> {
        self.ask(Kind::Read, |conn| {
            let asked_in_window: i64 = conn
                .query_row("SELECT COUNT(*) FROM redelivery_asked", [], |row| {
                    row.get(0)
                })
                .map_err(sql_error)?;
            let record = conn
                .query_row(
                    "SELECT seen_until, last_sweep_at, last_outcome, last_asked
                     FROM redelivery_sweep WHERE id = 1",
                    [],
                    |row| {
                        Ok(SweepRecord {
                            seen_until: row.get::<_, Option<i64>>(0)?.map(|at| at.max(0) as u64),
                            last_sweep_at: row.get::<_, Option<i64>>(1)?.map(|at| at.max(0) as u64),
                            last_outcome: row.get(2)?,
                            last_asked: row.get::<_, i64>(3)?.max(0) as u64,
                            asked_in_window: asked_in_window.max(0) as u64,
                        })
                    },
                )
                .optional()
                .map_err(sql_error)?;
            Ok(record.unwrap_or_default())
        })
    }

    fn asked_among(&self, guids: Vec<String>) -> StoreFuture<Vec<String>> {
        self.ask(Kind::Read, move |conn| {
            // One statement for the whole listing: the guids go in as one JSON array.
            let listed = serde_json::to_string(&guids).map_err(|err| {
                crate::store::StoreError::Unreadable(format!("redelivery_asked: {err}"))
            })?;
            let mut stmt = conn
                .prepare_cached(
                    "SELECT guid FROM redelivery_asked
                     WHERE guid IN (SELECT value FROM json_each(?1))",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![listed], |row| row.get(0))
                .map_err(sql_error)?;
            rows.collect::<Result<_, _>>().map_err(sql_error)
        })
    }

    fn claim_guid(&self, guid: String, delivery_id: u64, now: u64) -> StoreFuture<bool> {
        self.ask(Kind::Change, move |conn| {
            conn.prepare_cached(
                "INSERT INTO redelivery_asked (guid, delivery_id, asked_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (guid) DO NOTHING",
            )
            .and_then(|mut stmt| stmt.execute(params![guid, delivery_id as i64, now as i64]))
            .map(|inserted| inserted == 1)
            .map_err(sql_error)
        })
    }

    fn release_guid(&self, guid: String) -> StoreFuture<()> {
        self.ask(Kind::Change, move |conn| {
            conn.prepare_cached("DELETE FROM redelivery_asked WHERE guid = ?1")
                .and_then(|mut stmt| stmt.execute(params![guid]))
                .map(|_| ())
                .map_err(sql_error)
        })
    }

    fn finish_sweep(&self, finished: FinishedSweep) -> StoreFuture<()> {
        self.ask(Kind::Change, move |conn| {
            conn.prepare_cached(
                "UPDATE redelivery_sweep SET seen_until = COALESCE(?2, seen_until),
                     last_sweep_at = ?3, last_outcome = ?4, last_asked = ?5, lease_until = 0
                 WHERE id = 1 AND owner = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    finished.owner as i64,
                    finished.seen_until.map(|at| at as i64),
                    finished.now as i64,
                    finished.outcome,
                    finished.asked as i64
                ])
            })
            .and_then(|_| {
                conn.prepare_cached("DELETE FROM redelivery_asked WHERE asked_at < ?1")
                    .and_then(|mut stmt| stmt.execute(params![finished.forget_before as i64]))
            })
            .map(|_| ())
            .map_err(sql_error)
        })
    }
}
