-- Pluto Tracker local store, schema version 16: a sync server restored from a backup.
--
-- A synced event's server position stays final, with one exception: when the sync server
-- (same log id) turns out to have lost its log after some position P, as a server restored
-- from an earlier backup has, the positions it gave after P no longer name anything, and the
-- laptop resets them (the events stay, unchanged) to send its own again and take the others
-- back at their new positions. The reset names P in `meta` (`sync_rewind_after`) inside its
-- own transaction and removes it before committing; nothing else may move a position.
DROP TRIGGER events_server_position_final;

CREATE TRIGGER events_server_position_final
BEFORE UPDATE OF server_position ON events
WHEN OLD.server_position IS NOT NULL
 AND NOT (NEW.server_position IS NULL
          AND EXISTS (SELECT 1 FROM meta
                      WHERE key = 'sync_rewind_after' AND CAST(value AS INTEGER) < OLD.server_position))
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: a synced event''s server position is final');
END;
