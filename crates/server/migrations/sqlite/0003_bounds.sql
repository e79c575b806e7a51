-- Pluto sync server, SQLite schema version 3: bounds on what a token may claim and hold.

-- The highest sequence number each device has sent, stored or refused: a device's sequence may
-- move past it by at most the number of events of one push, so no push can take a device's
-- numbers to their end.
ALTER TABLE devices ADD COLUMN highest_seen_seq INTEGER NOT NULL DEFAULT 0;
UPDATE devices SET highest_seen_seq = highest_seq;

-- Bytes each token pushed per day (UTC), for the daily quota (`serve --daily-push-quota-mb`).
CREATE TABLE token_usage (
    token_id TEXT NOT NULL,
    day      TEXT NOT NULL,                         -- YYYY-MM-DD, UTC
    bytes    INTEGER NOT NULL,
    PRIMARY KEY (token_id, day)
) STRICT;
