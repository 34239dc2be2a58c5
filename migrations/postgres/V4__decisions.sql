-- The same schema change as migrations/sqlite/V4, in PostgreSQL's types. Only new
-- tables: the previous version keeps working on this schema during a deploy.

-- One row per decision of the failure policy (a re-run decided, skipped, or shadow's
-- would-be re-run): what `budget_per_hour` counts, and the record of why.
CREATE TABLE decisions (
    repo TEXT NOT NULL,
    run_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    decided_at BIGINT NOT NULL,
    verdict TEXT NOT NULL,
    reason TEXT,
    job TEXT,
    evidence TEXT,
    pattern TEXT,
    -- TRUE when it counts against budget_per_hour (a re-run, or shadow's would-be one).
    counts BOOLEAN NOT NULL,
    PRIMARY KEY (repo, run_id, attempt)
);

-- The budget's count: a repository's counted decisions of the last hour.
CREATE INDEX decisions_budget ON decisions (repo, decided_at) WHERE counts;

-- What each job did after an automatic re-run of its failed attempt: passed (flaky)
-- or failed again. `stop_when_useless` reads a workflow's latest rows.
CREATE TABLE job_reruns (
    repo TEXT NOT NULL,
    workflow TEXT NOT NULL,
    job TEXT NOT NULL,
    at BIGINT NOT NULL,
    passed BOOLEAN NOT NULL
);

CREATE INDEX job_reruns_latest ON job_reruns (repo, workflow, at);
