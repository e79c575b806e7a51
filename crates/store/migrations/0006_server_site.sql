-- Pluto Tracker local store, schema version 6: the site the sync server attests for each event.
--
-- When a laptop pulls an event, the server says which site's token pushed it: a fact the server
-- vouches for, unlike the event's own userId. It is written once, when the event first comes
-- back from the server, and never changed.
ALTER TABLE events ADD COLUMN server_site TEXT;

CREATE TRIGGER events_server_site_final
BEFORE UPDATE OF server_site ON events
WHEN OLD.server_site IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: the site the server attested for an event is final');
END;
