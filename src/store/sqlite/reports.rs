//! The SQLite store's reports: the rows the status page and `/api/…` read (answered
//! re-runs, recent runs, flaky jobs, "do re-runs help?", skip reasons), each a
//! read on the store thread's batches. A row that cannot be read is skipped and
//! reported to the store's watch, never an error for the whole page.

use rusqlite::{Connection, Row, params};

use super::{integer, run_row_name, shown, sql_error, text};
use crate::ids::RunKey;
use crate::run::{RerunRecord, RunState};
use crate::store::codec::{self, RerunRow};
use crate::store::{FlakyJob, RerunHelp, StoreError, StoreWatch};

/// A `reruns` row as read, or why it cannot be.
fn rerun_row(row: &Row<'_>) -> Result<RerunRow, String> {
    Ok(RerunRow {
        repo: text(row, 0)?,
        run_id: integer(row, 1)?,
        attempt: integer(row, 2)?,
        detail: text(row, 3)?,
        workflow: text(row, 4)?,
        branch: text(row, 5)?,
        failed_jobs: text(row, 6)?,
        finished_at: integer(row, 7)?,
    })
}

pub(super) fn recent(
    conn: &Connection,
    limit: u32,
    watch: &StoreWatch,
) -> Result<Vec<(RunKey, RerunRecord)>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT repo, run_id, attempt, detail, workflow, branch, failed_jobs, finished_at
             FROM reruns ORDER BY finished_at DESC LIMIT ?1",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map(params![limit], |row| {
            let record = rerun_row(row).and_then(|read| {
                codec::decode_record(read).map_err(|err| err.message().to_owned())
            });
            Ok(record.map_err(|why| (format!("{}@{}", run_row_name(row), shown(row, 2)), why)))
        })
        .map_err(sql_error)?;
    let mut records = Vec::new();
    for row in rows {
        match row.map_err(sql_error)? {
            Ok(record) => records.push(record),
            Err((name, why)) => watch.unreadable("reruns", &name, &why),
        }
    }
    Ok(records)
}

pub(super) fn runs(
    conn: &Connection,
    limit: u32,
    watch: &StoreWatch,
) -> Result<Vec<(RunKey, RunState)>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT repo, run_id, state FROM runs ORDER BY updated_at DESC LIMIT ?1")
        .map_err(sql_error)?;
    let rows = stmt
        .query_map(params![limit], |row| {
            let run = text(row, 0)
                .and_then(|repo| Ok((repo, integer(row, 1)?, text(row, 2)?)))
                .and_then(|(repo, run_id, json)| {
                    let key =
                        codec::run_key(&repo, run_id).map_err(|err| err.message().to_owned())?;
                    let state =
                        codec::decode_state(&key, &json).map_err(|err| err.message().to_owned())?;
                    Ok((key, state))
                });
            Ok(run.map_err(|why: String| (run_row_name(row), why)))
        })
        .map_err(sql_error)?;
    let mut runs = Vec::new();
    for row in rows {
        match row.map_err(sql_error)? {
            Ok(run) => runs.push(run),
            Err((name, why)) => watch.unreadable("runs", &name, &why),
        }
    }
    Ok(runs)
}

pub(super) fn flaky(
    conn: &Connection,
    limit: u32,
    watch: &StoreWatch,
) -> Result<Vec<FlakyJob>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT repo, workflow, job, times, last_seen FROM flaky_jobs
             ORDER BY times DESC, last_seen DESC LIMIT ?1",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map(params![limit], |row| {
            let job = (|| {
                Ok(FlakyJob {
                    repo: text(row, 0)?,
                    workflow: text(row, 1)?,
                    job: text(row, 2)?,
                    times: integer(row, 3)? as u64,
                    last_seen: integer(row, 4)? as u64,
                })
            })();
            let name = || format!("{}/{}/{}", shown(row, 0), shown(row, 1), shown(row, 2));
            Ok(job.map_err(|why: String| (name(), why)))
        })
        .map_err(sql_error)?;
    let mut jobs = Vec::new();
    for row in rows {
        match row.map_err(sql_error)? {
            Ok(job) => jobs.push(job),
            Err((name, why)) => watch.unreadable("flaky_jobs", &name, &why),
        }
    }
    Ok(jobs)
}

/// Same SQL as the PostgreSQL backend's `rerun_help`.
pub(super) fn rerun_help(
    conn: &Connection,
    since: u64,
    limit: u32,
) -> Result<Vec<RerunHelp>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT repo, workflow, job, COUNT(*), SUM(CASE WHEN passed THEN 1 ELSE 0 END)
             FROM job_reruns WHERE at >= ?1
             GROUP BY repo, workflow, job
             ORDER BY COUNT(*) DESC, repo, workflow, job LIMIT ?2",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map(params![since as i64, limit], |row| {
            let reruns: i64 = row.get(3)?;
            let passed: i64 = row.get(4)?;
            Ok(RerunHelp {
                repo: row.get(0)?,
                workflow: row.get(1)?,
                job: row.get(2)?,
                reruns: reruns.max(0) as u64,
                passed: passed.max(0) as u64,
                failed_again: (reruns - passed).max(0) as u64,
            })
        })
        .map_err(sql_error)?;
    rows.collect::<Result<_, _>>().map_err(sql_error)
}

/// Same SQL as the PostgreSQL backend's `skip_reasons`.
pub(super) fn skip_reasons(
    conn: &Connection,
    since: u64,
) -> Result<Vec<(String, u64)>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT COALESCE(reason, verdict), COUNT(*) FROM decisions
             WHERE verdict IN ('skip', 'shadow') AND decided_at >= ?1
             GROUP BY COALESCE(reason, verdict)
             ORDER BY COUNT(*) DESC, COALESCE(reason, verdict)",
        )
        .map_err(sql_error)?;
    let rows = stmt
        .query_map(params![since as i64], |row| {
            let count: i64 = row.get(1)?;
            Ok((row.get::<_, String>(0)?, count.max(0) as u64))
        })
        .map_err(sql_error)?;
    rows.collect::<Result<_, _>>().map_err(sql_error)
}
