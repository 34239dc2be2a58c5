-- A run now remembers the deliveries that changed it inside its own state (runs.state,
-- field "answered"): a redelivery carries the same run, so its row is where it is
-- recognised. The separate table, its random-key index and its purge are gone.
DROP TABLE deliveries;

-- Runs are keyed run id first: GitHub numbers runs in one increasing sequence across
-- all repositories, so new and live runs sit together at the end of the index instead
-- of at one insertion point per repository.
ALTER TABLE runs DROP CONSTRAINT runs_pkey;
ALTER TABLE runs ADD PRIMARY KEY (run_id, repo);
