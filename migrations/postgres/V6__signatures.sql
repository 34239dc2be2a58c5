-- The same schema change as migrations/sqlite/V6, in PostgreSQL's types.
-- Only new tables and new nullable columns: the previous version neither reads nor
-- writes them (its INSERT into `decisions` names its columns), so it keeps working on
-- this schema while both run during a deploy.

-- What each decision was decided on (JSON: the attempt's jobs and each failed job's
-- judgement, never the log), so that `job-rerunner what-if` can decide it again under
-- another policy; and what the next attempt's jobs did (`passed`, `failed_again`),
-- whoever re-ran it. NULL in rows written before this version, and until known.
ALTER TABLE decisions ADD COLUMN facts TEXT;
ALTER TABLE decisions ADD COLUMN outcome TEXT;
-- What reading the decision's evidence cost: GitHub API requests and log bytes read
-- (NULL for a decision made without evidence).
ALTER TABLE decisions ADD COLUMN api_calls BIGINT;
ALTER TABLE decisions ADD COLUMN log_bytes BIGINT;

-- The failed jobs' own run time, ms (what their re-run would have cost about): what a
-- skip saved. NULL when GitHub did not say.
ALTER TABLE decisions ADD COLUMN failed_ms BIGINT;

CREATE INDEX decisions_decided ON decisions (decided_at);

-- What an automatic re-run did: the runner time its jobs took, ms, and 1 when every job
-- it re-ran passed (it turned the run green). NULL until its jobs say.
ALTER TABLE reruns ADD COLUMN runner_ms BIGINT;
ALTER TABLE reruns ADD COLUMN green BIGINT;

-- The status page sums the re-runs of the last day and month by when they were
-- answered: without this index every page load read the whole table.
CREATE INDEX reruns_finished ON reruns (finished_at);

-- Per repository and failure signature (the decisive line with what varies
-- normalised away): how often it was seen, how often a re-run of it (the service's
-- or a person's) then passed or failed again, the latest outcomes (P/F, oldest
-- first, at most 16). What learning reads; pruned by age and bounded in rows.
CREATE TABLE signatures (
    repo TEXT NOT NULL,
    signature TEXT NOT NULL,
    -- transient, broken, not_started; NULL when no family knows it.
    class TEXT,
    -- The family and pattern that know it (network:connection_reset), or NULL.
    family TEXT,
    -- The latest decisive line with this signature (masked, at most 200 characters).
    example TEXT NOT NULL,
    seen BIGINT NOT NULL,
    reruns BIGINT NOT NULL,
    passed BIGINT NOT NULL,
    -- Of `reruns`, those a person started.
    people BIGINT NOT NULL,
    recent TEXT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (repo, signature)
);

CREATE INDEX signatures_everywhere ON signatures (signature);
CREATE INDEX signatures_last_seen ON signatures (last_seen);
