-- The same schema change as migrations/sqlite/V3, in PostgreSQL's types. Only new
-- tables: the previous version keeps working on this schema during a deploy.

-- One row that `/readyz` updates in a transaction of its own: readiness means a write
-- commits, not merely that the database answers a read.
CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    beat BIGINT NOT NULL
);
INSERT INTO heartbeat (id, beat) VALUES (1, 0);

-- Stored run states this version could not read, moved out of `runs` when a change to
-- the run needed its state (the run then starts afresh). Kept for a person to look at.
CREATE TABLE quarantine (
    repo TEXT NOT NULL,
    run_id BIGINT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    quarantined_at BIGINT NOT NULL
);
