-- Pluto Tracker local store, schema version 12: the canonical order.
--
-- A campaign's events used to fold in id order, and an id is whatever the recording laptop
-- makes it: one event with a chosen id could reorder a campaign, or freeze it, on every laptop.
-- They now fold in the sync server's commit order (server_position), followed by the entries the
-- server has not confirmed yet, in the order they reached this laptop (seq). The stream index
-- follows that order, so a campaign's events and a rebuild are read without sorting.
DROP INDEX events_by_stream;
CREATE INDEX events_by_stream ON events (stream_id, server_position IS NULL, server_position, seq);

-- Where each campaign's projection stands in that order: the highest server position it folded
-- and how many of the events it folded the server has not confirmed. A sync page or an entry
-- that comes after all of them continues the projection; anything else folds it again.
ALTER TABLE campaign_projections ADD COLUMN order_position INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaign_projections ADD COLUMN order_pending INTEGER NOT NULL DEFAULT 0;

-- What the server answered to a push, kept until it serves the event back. An event counts as
-- on the server (server_position) only once a pull returns it at that position, so a server that
-- answers "stored" and then does not serve the event cannot make this laptop drop it.
CREATE TABLE push_receipts (
    event_id    TEXT PRIMARY KEY NOT NULL REFERENCES events (id),
    position    INTEGER NOT NULL,
    received_at TEXT NOT NULL
) STRICT;

-- Every projection is folded again in the new order when the store is next opened
-- (see `maintenance::refold_if_needed`).
INSERT OR REPLACE INTO meta (key, value)
SELECT 'refold_pending', 'canonical order' WHERE EXISTS (SELECT 1 FROM campaign_projections);
