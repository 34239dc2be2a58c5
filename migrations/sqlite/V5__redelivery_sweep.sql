-- Only new tables: the previous version neither reads nor writes them, so it keeps
-- working on this schema while both run during a deploy.

-- The redelivery sweep's one row: the lease that lets one instance sweep at a time
-- (owner, lease_until), how far back the last complete look reached (seen_until, the
-- `delivered_at` of a delivery, unix ms), and what the last sweep did, for the page.
CREATE TABLE redelivery_sweep (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    owner INTEGER NOT NULL DEFAULT 0,
    lease_until INTEGER NOT NULL DEFAULT 0,
    seen_until INTEGER,
    last_sweep_at INTEGER,
    last_outcome TEXT,
    last_asked INTEGER NOT NULL DEFAULT 0
);
INSERT INTO redelivery_sweep (id) VALUES (1);

-- Delivery guids GitHub was asked to redeliver, so each is asked for once, whichever
-- instance sweeps; purged after GitHub's 3-day window.
CREATE TABLE redelivery_asked (
    guid TEXT PRIMARY KEY,
    delivery_id INTEGER NOT NULL,
    asked_at INTEGER NOT NULL
);
CREATE INDEX redelivery_asked_at ON redelivery_asked (asked_at);
