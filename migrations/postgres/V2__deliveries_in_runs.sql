-- A run now remembers the deliveries that changed it inside its own state (runs.state,
-- field "answered"): a redelivery carries the same run, so its row is where it is
-- recognised. This version neither reads nor writes the `deliveries` table, but it is
-- kept: during a zero-downtime deploy the previous version still runs on the same
-- database for a while, and it needs the table. A later version drops it.

-- Runs are keyed run id first: GitHub numbers runs in one increasing sequence across
-- all repositories, so new and live runs sit together at the end of the index instead
-- of at one insertion point per repository.
ALTER TABLE runs DROP CONSTRAINT runs_pkey;
ALTER TABLE runs ADD PRIMARY KEY (run_id, repo);
