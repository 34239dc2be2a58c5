-- One row per tracked workflow run: its whole state as JSON (RunState), plus the
-- columns start-up and clean-up search on.
CREATE TABLE runs (
    repo TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    -- Unix ms at which a decided but unanswered re-run is due; NULL when none is.
    pending_rerun_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo, run_id)
) WITHOUT ROWID;

CREATE INDEX runs_pending_rerun ON runs (pending_rerun_at) WHERE pending_rerun_at IS NOT NULL;
CREATE INDEX runs_updated ON runs (updated_at);

-- One row per answered re-run: what GitHub said, for the record and the reports.
CREATE TABLE reruns (
    repo TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    workflow TEXT NOT NULL,
    branch TEXT NOT NULL,
    failed_jobs TEXT NOT NULL,
    finished_at INTEGER NOT NULL,
    PRIMARY KEY (repo, run_id, attempt)
);

-- Delivery ids of events that changed a run, with the status they were answered:
-- a redelivery is answered alike and changes nothing.
CREATE TABLE deliveries (
    delivery TEXT PRIMARY KEY,
    status INTEGER NOT NULL,
    at INTEGER NOT NULL
);

CREATE INDEX deliveries_at ON deliveries (at);

-- Jobs that failed, were re-run by the service and then passed: the flaky-job report.
CREATE TABLE flaky_jobs (
    repo TEXT NOT NULL,
    workflow TEXT NOT NULL,
    job TEXT NOT NULL,
    times INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (repo, workflow, job)
);
