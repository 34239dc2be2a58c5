-- The same schema change as migrations/sqlite/V7, in PostgreSQL's types. Only new
-- tables: the previous version keeps working on this schema during a deploy.

-- The redelivery sweep's one row: the lease that lets one instance sweep at a time
-- (owner, lease_until), how far back the last complete look reached (seen_until, the
-- `delivered_at` of a delivery, unix ms), and what the last sweep did, for the page.
CREATE TABLE redelivery_sweep (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    owner BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT NOT NULL DEFAULT 0,
    seen_until BIGINT,
    last_sweep_at BIGINT,
    last_outcome TEXT,
    last_asked BIGINT NOT NULL DEFAULT 0
);
INSERT INTO redelivery_sweep (id) VALUES (1);

-- Delivery guids GitHub was asked to redeliver, so each is asked for once, whichever
-- instance sweeps; purged after GitHub's 3-day window.
CREATE TABLE redelivery_asked (
    guid TEXT PRIMARY KEY,
    delivery_id BIGINT NOT NULL,
    asked_at BIGINT NOT NULL
);
CREATE INDEX redelivery_asked_at ON redelivery_asked (asked_at);
