//! The `signatures` table (migration V6) for SQLite, inside a change's transaction:
//! what a decision's judged failures and a re-run's outcomes teach, and the history
//! of the signatures a decision reads. The same rows as `postgres/learning.rs`.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Kind, SqliteStore, sql_error};
use crate::ids::RunKey;
use crate::policy::SignatureHistory;
use crate::run::{RerunEffect, RunChange};
use crate::store::codec::{self, SignatureCounts};
use crate::store::learning::{DecisionRow, LearningStore, RerunEffects, SignatureRow, unsigned};
use crate::store::{StoreError, StoreFuture};

/// A signature's counts grow by `counts` (`plan::Write::Signature`).
pub(super) fn count_signature(
    conn: &Connection,
    repo: &str,
    counts: &SignatureCounts<'_>,
    now: i64,
) -> Result<(), StoreError> {
    let failure = counts.failure;
    conn.prepare_cached(
        "INSERT INTO signatures
         (repo, signature, class, family, example, seen, reruns, passed, people, recent, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (repo, signature) DO UPDATE SET seen = seen + excluded.seen,
             reruns = reruns + excluded.reruns, passed = passed + excluded.passed,
             people = people + excluded.people, recent = substr(recent || excluded.recent, -16),
             class = excluded.class, family = excluded.family, example = excluded.example,
             last_seen = excluded.last_seen",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            repo,
            failure.signature,
            failure.class.map(|c| c.as_str()),
            failure.family,
            failure.line,
            counts.seen,
            counts.reruns,
            counts.passed,
            counts.people,
            counts.recent,
            now
        ])
    })
    .map(|_| ())
    .map_err(sql_error)
}

/// A decided re-run's outcome is known (`plan::Write::SettleDecision`).
pub(super) fn settle_decision(
    conn: &Connection,
    key: &RunKey,
    attempt: u32,
    outcome: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE decisions SET outcome = CASE WHEN outcome = 'failed_again' THEN outcome ELSE ?4 END
         WHERE repo = ?1 AND run_id = ?2 AND attempt = ?3",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            key.repo.as_str(),
            key.run_id.0 as i64,
            attempt,
            outcome
        ])
    })
    .map(|_| ())
    .map_err(sql_error)
}

/// A re-run's job ran (`plan::Write::Effect`).
pub(super) fn add_effect(
    conn: &Connection,
    key: &RunKey,
    effect: &RerunEffect,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE reruns SET runner_ms = COALESCE(runner_ms, 0) + ?4,
             green = CASE WHEN ?5 THEN 1 ELSE green END
         WHERE repo = ?1 AND run_id = ?2 AND attempt = ?3",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            key.repo.as_str(),
            key.run_id.0 as i64,
            effect.attempt,
            effect.ran_ms.unwrap_or(0) as i64,
            effect.turned_green
        ])
    })
    .map(|_| ())
    .map_err(sql_error)
}

/// What re-runs of the judged signatures did, here and in every repository.
pub(super) fn signature_histories(
    conn: &Connection,
    key: &RunKey,
    change: &RunChange,
) -> Result<HashMap<String, SignatureHistory>, StoreError> {
    let mut histories = HashMap::new();
    for signature in codec::wanted_signatures(change) {
        let here = conn
            .prepare_cached(
                "SELECT reruns, passed, recent FROM signatures WHERE repo = ?1 AND signature = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![key.repo.as_str(), signature], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()
            })
            .map_err(sql_error)?;
        let everywhere = conn
            .prepare_cached(
                "SELECT COALESCE(SUM(reruns), 0), COALESCE(SUM(passed), 0) FROM signatures
                 WHERE signature = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![signature], |row| Ok((row.get(0)?, row.get(1)?)))
            })
            .map_err(sql_error)?;
        histories.insert(
            signature.to_owned(),
            codec::signature_history(here, everywhere),
        );
    }
    Ok(histories)
}

impl LearningStore for SqliteStore {
    fn signatures(&self, limit: u32) -> StoreFuture<Vec<SignatureRow>> {
        self.ask(Kind::Read, move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT repo, signature, class, family, example, seen, reruns, passed, people,
                            recent, last_seen,
                            (SELECT COALESCE(SUM(e.reruns), 0) FROM signatures e
                             WHERE e.signature = s.signature),
                            (SELECT COALESCE(SUM(e.passed), 0) FROM signatures e
                             WHERE e.signature = s.signature)
                     FROM signatures s ORDER BY last_seen DESC LIMIT ?1",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![limit], |row| {
                    Ok(SignatureRow {
                        repo: row.get(0)?,
                        signature: row.get(1)?,
                        class: row.get(2)?,
                        family: row.get(3)?,
                        example: row.get(4)?,
                        seen: unsigned(row.get(5)?),
                        reruns: unsigned(row.get(6)?),
                        passed: unsigned(row.get(7)?),
                        people: unsigned(row.get(8)?),
                        recent: row.get(9)?,
                        last_seen: unsigned(row.get(10)?),
                        everywhere: (unsigned(row.get(11)?), unsigned(row.get(12)?)),
                    })
                })
                .map_err(sql_error)?;
            // A row that cannot be read (written by hand) is left out, not an error.
            Ok(rows.filter_map(Result::ok).collect())
        })
    }

    fn prune_signatures(&self, before: u64, keep: u32) -> StoreFuture<u64> {
        self.ask(Kind::Change, move |conn| {
            let old = conn
                .prepare_cached("DELETE FROM signatures WHERE last_seen < ?1")
                .and_then(|mut stmt| stmt.execute(params![before as i64]))
                .map_err(sql_error)?;
            let over = conn
                .prepare_cached(
                    "DELETE FROM signatures WHERE last_seen < (
                         SELECT last_seen FROM signatures ORDER BY last_seen DESC
                         LIMIT 1 OFFSET ?1)",
                )
                .and_then(|mut stmt| stmt.execute(params![keep]))
                .map_err(sql_error)?;
            Ok((old + over) as u64)
        })
    }

    fn effects(&self, since: u64) -> StoreFuture<RerunEffects> {
        self.ask(Kind::Read, move |conn| {
            let (reruns, runner_ms, green): (i64, i64, i64) = conn
                .query_row(
                    "SELECT COUNT(*), COALESCE(SUM(runner_ms), 0), COALESCE(SUM(green), 0)
                     FROM reruns WHERE outcome = 'started' AND finished_at >= ?1",
                    params![since as i64],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .map_err(sql_error)?;
            let (skips, skipped_ms): (i64, i64) = conn
                .query_row(
                    "SELECT COUNT(*), COALESCE(SUM(failed_ms), 0) FROM decisions
                     WHERE verdict = 'skip' AND decided_at >= ?1",
                    params![since as i64],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .map_err(sql_error)?;
            Ok(RerunEffects::from_sums(
                (reruns, runner_ms, green),
                (skips, skipped_ms),
            ))
        })
    }

    fn decisions_since(&self, since: u64, limit: u32) -> StoreFuture<Vec<DecisionRow>> {
        self.ask(Kind::Read, move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT repo, run_id, attempt, decided_at, verdict, reason, job, evidence,
                            facts, outcome
                     FROM decisions WHERE decided_at >= ?1 AND verdict <> 'needs_evidence'
                     ORDER BY decided_at LIMIT ?2",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![since as i64, limit], |row| {
                    Ok(DecisionRow {
                        repo: row.get(0)?,
                        run_id: unsigned(row.get(1)?),
                        attempt: u32::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                        decided_at: unsigned(row.get(3)?),
                        verdict: row.get(4)?,
                        reason: row.get(5)?,
                        job: row.get(6)?,
                        evidence: row.get(7)?,
                        facts: row.get(8)?,
                        outcome: row.get(9)?,
                    })
                })
                .map_err(sql_error)?;
            Ok(rows.filter_map(Result::ok).collect())
        })
    }
}
