-- A run now remembers the deliveries that changed it inside its own state (runs.state,
-- field "answered"): a redelivery carries the same run, so its row is where it is
-- recognised. This version neither reads nor writes the `deliveries` table, but it is
-- kept: during a zero-downtime deploy the previous version still runs on the same
-- database for a while, and it needs the table. A later version drops it.

-- Runs are keyed run id first: GitHub numbers runs in one increasing sequence across
-- all repositories, so new runs (and the live ones, which are the newest) sit together
-- at the end of the table instead of at one insertion point per repository. A commit
-- then writes a page or two, not one page per repository it touched.
CREATE TABLE runs_by_id (
    run_id INTEGER NOT NULL,
    repo TEXT NOT NULL,
    state TEXT NOT NULL,
    pending_rerun_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, repo)
) WITHOUT ROWID;

INSERT INTO runs_by_id (run_id, repo, state, pending_rerun_at, updated_at)
    SELECT run_id, repo, state, pending_rerun_at, updated_at FROM runs;
DROP TABLE runs;
ALTER TABLE runs_by_id RENAME TO runs;
CREATE INDEX runs_pending_rerun ON runs (pending_rerun_at) WHERE pending_rerun_at IS NOT NULL;
CREATE INDEX runs_updated ON runs (updated_at);
