//! [`RecoveryStore`] for PostgreSQL: the redelivery sweep's rows (migration V5). The
//! lease is one conditional `UPDATE` of the one row, so of two instances taking it at
//! once exactly one gets it; a guid is claimed by an `INSERT … ON CONFLICT DO NOTHING`.

use super::{PostgresStore, pool_error, sql_error, text};
use crate::store::recovery::{FinishedSweep, RecoveryStore, SweepRecord};
use crate::store::{StoreError, StoreFuture};

/// A non-negative BIGINT as unix ms.
fn ms(value: i64) -> u64 {
    value.max(0) as u64
}

impl RecoveryStore for PostgresStore {
    fn take_sweep_lease(&self, owner: u64, now: u64, until: u64) -> StoreFuture<bool> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let taken = client
                .execute(
                    "UPDATE redelivery_sweep SET owner = $1, lease_until = $3
                     WHERE id = 1 AND (lease_until <= $2 OR owner = $1)",
                    &[&(owner as i64), &(now as i64), &(until as i64)],
                )
                .await
                .map_err(sql_error)?;
            Ok(taken == 1)
        })
    }

    fn sweep_record(&self) -> StoreFuture<SweepRecord> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let asked = client
                .query_one("SELECT COUNT(*) FROM redelivery_asked", &[])
                .await
                .map_err(sql_error)?;
            let asked_in_window: i64 = asked.try_get(0).map_err(sql_error)?;
            let Some(row) = client
                .query_opt(
                    "SELECT seen_until, last_sweep_at, last_outcome, last_asked
                     FROM redelivery_sweep WHERE id = 1",
                    &[],
                )
                .await
                .map_err(sql_error)?
            else {
                return Ok(SweepRecord::default());
            };
            let read = |err: tokio_postgres::Error| {
                StoreError::Unreadable(format!("redelivery_sweep: {err}"))
            };
            Ok(SweepRecord {
                seen_until: row.try_get::<_, Option<i64>>(0).map_err(read)?.map(ms),
                last_sweep_at: row.try_get::<_, Option<i64>>(1).map_err(read)?.map(ms),
                last_outcome: row.try_get(2).map_err(read)?,
                last_asked: ms(row.try_get(3).map_err(read)?),
                asked_in_window: ms(asked_in_window),
            })
        })
    }

    fn asked_among(&self, guids: Vec<String>) -> StoreFuture<Vec<String>> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let rows = client
                .query(
                    "SELECT guid FROM redelivery_asked WHERE guid = ANY($1)",
                    &[&guids],
                )
                .await
                .map_err(sql_error)?;
            rows.iter()
                .map(|row| row.try_get(0).map_err(sql_error))
                .collect()
        })
    }

    fn claim_guid(&self, guid: String, delivery_id: u64, now: u64) -> StoreFuture<bool> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let inserted = client
                .execute(
                    "INSERT INTO redelivery_asked (guid, delivery_id, asked_at) VALUES ($1, $2, $3)
                     ON CONFLICT (guid) DO NOTHING",
                    &[&text(&guid), &(delivery_id as i64), &(now as i64)],
                )
                .await
                .map_err(sql_error)?;
            Ok(inserted == 1)
        })
    }

    fn release_guid(&self, guid: String) -> StoreFuture<()> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            client
                .execute(
                    "DELETE FROM redelivery_asked WHERE guid = $1",
                    &[&text(&guid)],
                )
                .await
                .map(|_| ())
                .map_err(sql_error)
        })
    }

    fn finish_sweep(&self, finished: FinishedSweep) -> StoreFuture<()> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let mut client = pool.get().await.map_err(pool_error)?;
            let tx = client.transaction().await.map_err(sql_error)?;
            tx.execute(
                "UPDATE redelivery_sweep SET seen_until = COALESCE($2, seen_until),
                     last_sweep_at = $3, last_outcome = $4, last_asked = $5, lease_until = 0
                 WHERE id = 1 AND owner = $1",
                &[
                    &(finished.owner as i64),
                    &finished.seen_until.map(|at| at as i64),
                    &(finished.now as i64),
                    &finished.outcome,
                    &(finished.asked as i64),
                ],
            )
            .await
            .map_err(sql_error)?;
            tx.execute(
                "DELETE FROM redelivery_asked WHERE asked_at < $1",
                &[&(finished.forget_before as i64)],
            )
            .await
            .map_err(sql_error)?;
            tx.commit().await.map_err(sql_error)
        })
    }
}
