-- Only new tables: the previous version neither reads nor writes them, so it keeps
-- working on this schema while both run during a deploy.

-- One row that `/readyz` updates in a transaction of its own: readiness means a write
-- commits, not merely that the database answers a read.
CREATE TABLE heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    beat INTEGER NOT NULL
);
INSERT INTO heartbeat (id, beat) VALUES (1, 0);

-- Stored run states this version could not read, moved out of `runs` when a change to
-- the run needed its state (the run then starts afresh). Kept, as they were, for a
-- person to look at; nothing reads them.
CREATE TABLE quarantine (
    repo TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    quarantined_at INTEGER NOT NULL
);
