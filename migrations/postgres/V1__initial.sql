-- The same schema as migrations/sqlite, in PostgreSQL's types.
CREATE TABLE runs (
    repo TEXT NOT NULL,
    run_id BIGINT NOT NULL,
    state TEXT NOT NULL,
    -- Unix ms at which a decided re-run is due, or its claim runs out; NULL when none.
    pending_rerun_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repo, run_id)
);

CREATE INDEX runs_pending_rerun ON runs (pending_rerun_at) WHERE pending_rerun_at IS NOT NULL;
CREATE INDEX runs_updated ON runs (updated_at);

CREATE TABLE reruns (
    repo TEXT NOT NULL,
    run_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    workflow TEXT NOT NULL,
    branch TEXT NOT NULL,
    failed_jobs TEXT NOT NULL,
    finished_at BIGINT NOT NULL,
    PRIMARY KEY (repo, run_id, attempt)
);

CREATE TABLE deliveries (
    delivery TEXT PRIMARY KEY,
    status INTEGER NOT NULL,
    at BIGINT NOT NULL
);

CREATE INDEX deliveries_at ON deliveries (at);

CREATE TABLE flaky_jobs (
    repo TEXT NOT NULL,
    workflow TEXT NOT NULL,
    job TEXT NOT NULL,
    times BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (repo, workflow, job)
);
