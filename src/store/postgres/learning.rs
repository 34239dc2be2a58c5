//! The `signatures` table (migration V6) for PostgreSQL, inside a change's
//! transaction: what a decision's judged failures and a re-run's outcomes teach, and
//! the history of the signatures a decision reads. The same rows as
//! `sqlite/learning.rs`, in PostgreSQL's dialect.

use std::collections::HashMap;

use tokio_postgres::Transaction;

use super::{PostgresStore, pool_error, sql_error, text};
use crate::ids::RunKey;
use crate::policy::SignatureHistory;
use crate::run::{RerunEffect, RunChange};
use crate::store::codec::{self, SignatureCounts};
use crate::store::learning::{DecisionRow, LearningStore, RerunEffects, SignatureRow, unsigned};
use crate::store::{StoreError, StoreFuture};

/// A signature's counts grow by `counts` (`plan::Write::Signature`).
pub(super) async fn count_signature(
    tx: &Transaction<'_>,
    repo: &str,
    counts: &SignatureCounts<'_>,
    now: i64,
) -> Result<(), StoreError> {
    let failure = counts.failure;
    tx.execute(
        "INSERT INTO signatures
         (repo, signature, class, family, example, seen, reruns, passed, people, recent, last_seen)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (repo, signature) DO UPDATE SET seen = signatures.seen + excluded.seen,
             reruns = signatures.reruns + excluded.reruns,
             passed = signatures.passed + excluded.passed,
             people = signatures.people + excluded.people,
             recent = right(signatures.recent || excluded.recent, 16),
             class = excluded.class, family = excluded.family, example = excluded.example,
             last_seen = excluded.last_seen",
        &[
            &repo,
            &text(&failure.signature),
            &failure.class.map(|c| c.as_str()),
            &failure.family.as_deref().map(text),
            &text(&failure.line),
            &counts.seen,
            &counts.reruns,
            &counts.passed,
            &counts.people,
            &counts.recent,
            &now,
        ],
    )
    .await
    .map(|_| ())
    .map_err(sql_error)
}

/// A decided re-run's outcome is known (`plan::Write::SettleDecision`).
pub(super) async fn settle_decision(
    tx: &Transaction<'_>,
    key: &RunKey,
    attempt: u32,
    outcome: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE decisions SET outcome = CASE WHEN outcome = 'failed_again' THEN outcome ELSE $4 END
         WHERE repo = $1 AND run_id = $2 AND attempt = $3",
        &[
            &key.repo.as_str(),
            &(key.run_id.0 as i64),
            &i64::from(attempt),
            &outcome,
        ],
    )
    .await
    .map(|_| ())
    .map_err(sql_error)
}

/// A re-run's job ran (`plan::Write::Effect`).
pub(super) async fn add_effect(
    tx: &Transaction<'_>,
    key: &RunKey,
    effect: &RerunEffect,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE reruns SET runner_ms = COALESCE(runner_ms, 0) + $4,
             green = CASE WHEN $5 THEN 1 ELSE green END
         WHERE repo = $1 AND run_id = $2 AND attempt = $3",
        &[
            &key.repo.as_str(),
            &(key.run_id.0 as i64),
            &(effect.attempt as i32),
            &(effect.ran_ms.unwrap_or(0) as i64),
            &effect.turned_green,
        ],
    )
    .await
    .map(|_| ())
    .map_err(sql_error)
}

/// What re-runs of the signatures a change's decision judged did, here and in every
/// repository.
pub(super) async fn signature_histories(
    tx: &Transaction<'_>,
    repo: &str,
    change: &RunChange,
) -> Result<HashMap<String, SignatureHistory>, StoreError> {
    let mut histories = HashMap::new();
    for signature in codec::wanted_signatures(change) {
        let signature_text = text(signature);
        let here = tx
            .query_opt(
                "SELECT reruns, passed, recent FROM signatures WHERE repo = $1 AND signature = $2",
                &[&repo, &signature_text],
            )
            .await
            .map_err(sql_error)?
            .and_then(|row| {
                Some((
                    row.try_get(0).ok()?,
                    row.try_get(1).ok()?,
                    row.try_get(2).ok()?,
                ))
            });
        let everywhere = tx
            .query_one(
                "SELECT COALESCE(SUM(reruns), 0)::BIGINT, COALESCE(SUM(passed), 0)::BIGINT
                 FROM signatures WHERE signature = $1",
                &[&signature_text],
            )
            .await
            .map_err(sql_error)?;
        let everywhere = (
            everywhere.try_get(0).unwrap_or(0),
            everywhere.try_get(1).unwrap_or(0),
        );
        histories.insert(
            signature.to_owned(),
            codec::signature_history(here, everywhere),
        );
    }
    Ok(histories)
}

impl LearningStore for PostgresStore {
    fn signatures(&self, limit: u32) -> StoreFuture<Vec<SignatureRow>> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let rows = client
                .query(
                    "SELECT repo, signature, class, family, example, seen, reruns, passed, people,
                            recent, last_seen,
                            (SELECT COALESCE(SUM(e.reruns), 0)::BIGINT FROM signatures e
                             WHERE e.signature = s.signature),
                            (SELECT COALESCE(SUM(e.passed), 0)::BIGINT FROM signatures e
                             WHERE e.signature = s.signature)
                     FROM signatures s ORDER BY last_seen DESC LIMIT $1",
                    &[&i64::from(limit)],
                )
                .await
                .map_err(sql_error)?;
            // A row that cannot be read (written by hand) is left out, not an error.
            Ok(rows
                .iter()
                .filter_map(|row| {
                    Some(SignatureRow {
                        repo: row.try_get(0).ok()?,
                        signature: row.try_get(1).ok()?,
                        class: row.try_get(2).ok()?,
                        family: row.try_get(3).ok()?,
                        example: row.try_get(4).ok()?,
                        seen: unsigned(row.try_get(5).ok()?),
                        reruns: unsigned(row.try_get(6).ok()?),
                        passed: unsigned(row.try_get(7).ok()?),
                        people: unsigned(row.try_get(8).ok()?),
                        recent: row.try_get(9).ok()?,
                        last_seen: unsigned(row.try_get(10).ok()?),
                        everywhere: (
                            unsigned(row.try_get(11).ok()?),
                            unsigned(row.try_get(12).ok()?),
                        ),
                    })
                })
                .collect())
        })
    }

    fn prune_signatures(&self, before: u64, keep: u32) -> StoreFuture<u64> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let old = client
                .execute(
                    "DELETE FROM signatures WHERE last_seen < $1",
                    &[&(before as i64)],
                )
                .await
                .map_err(sql_error)?;
            let over = client
                .execute(
                    "DELETE FROM signatures WHERE last_seen < (
                         SELECT last_seen FROM signatures ORDER BY last_seen DESC
                         LIMIT 1 OFFSET $1)",
                    &[&i64::from(keep)],
                )
                .await
                .map_err(sql_error)?;
            Ok(old + over)
        })
    }

    fn effects(&self, since: u64) -> StoreFuture<RerunEffects> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let reruns = client
                .query_one(
                    "SELECT COUNT(*), COALESCE(SUM(runner_ms), 0)::BIGINT, COALESCE(SUM(green), 0)::BIGINT
                     FROM reruns WHERE outcome = 'started' AND finished_at >= $1",
                    &[&(since as i64)],
                )
                .await
                .map_err(sql_error)?;
            let skips = client
                .query_one(
                    "SELECT COUNT(*), COALESCE(SUM(failed_ms), 0)::BIGINT FROM decisions
                     WHERE verdict = 'skip' AND decided_at >= $1",
                    &[&(since as i64)],
                )
                .await
                .map_err(sql_error)?;
            let at = |row: &tokio_postgres::Row, i| row.try_get::<_, i64>(i).unwrap_or(0);
            Ok(RerunEffects::from_sums(
                (at(&reruns, 0), at(&reruns, 1), at(&reruns, 2)),
                (at(&skips, 0), at(&skips, 1)),
            ))
        })
    }

    fn decisions_since(&self, since: u64, limit: u32) -> StoreFuture<Vec<DecisionRow>> {
        let pool = self.pool.clone();
        self.on_runtime(async move {
            let client = pool.get().await.map_err(pool_error)?;
            let rows = client
                .query(
                    "SELECT repo, run_id, attempt, decided_at, verdict, reason, job, evidence,
                            facts, outcome
                     FROM decisions WHERE decided_at >= $1 AND verdict <> 'needs_evidence'
                     ORDER BY decided_at LIMIT $2",
                    &[&(since as i64), &i64::from(limit)],
                )
                .await
                .map_err(sql_error)?;
            Ok(rows
                .iter()
                .filter_map(|row| {
                    Some(DecisionRow {
                        repo: row.try_get(0).ok()?,
                        run_id: unsigned(row.try_get(1).ok()?),
                        attempt: u32::try_from(row.try_get::<_, i64>(2).ok()?).unwrap_or(0),
                        decided_at: unsigned(row.try_get(3).ok()?),
                        verdict: row.try_get(4).ok()?,
                        reason: row.try_get(5).ok()?,
                        job: row.try_get(6).ok()?,
                        evidence: row.try_get(7).ok()?,
                        facts: row.try_get(8).ok()?,
                        outcome: row.try_get(9).ok()?,
                    })
                })
                .collect())
        })
    }
}
