-- Pluto Tracker local store, schema version 3: campaigns per status, so the list can say
-- "1–50 of 70,042" without counting 70,042 index entries on every page. The store updates a
-- count in the same transaction as the projection whose status changes; `verify` checks them.

CREATE TABLE campaign_status_counts (
    status TEXT PRIMARY KEY NOT NULL,
    n      INTEGER NOT NULL CHECK (n >= 0)
) STRICT;

INSERT INTO campaign_status_counts (status, n)
SELECT status, COUNT(*) FROM campaign_projections GROUP BY status;
