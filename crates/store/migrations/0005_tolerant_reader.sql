-- Pluto Tracker local store, schema version 5: events from other versions of Pluto.
--
-- An event this build cannot fully read (a type it does not know, a newer schema version,
-- fields it does not know) is kept with its envelope exactly as received, so that export and
-- sync serve it again unchanged and a later build can read it. Like every other column of an
-- event, the copy is written once and never changed.
ALTER TABLE events ADD COLUMN raw TEXT;

CREATE INDEX events_kept_raw ON events (stream_id) WHERE raw IS NOT NULL;

CREATE TRIGGER events_raw_final
BEFORE UPDATE OF raw ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: an event cannot be changed; record a correction instead');
END;

-- How many of a campaign's events a newer Pluto recorded that this build does not fully show.
ALTER TABLE campaign_projections ADD COLUMN newer_entries INTEGER NOT NULL DEFAULT 0;

-- Events of a pulled page that no version of Pluto could read. The rest of the page was
-- applied; these are kept, with the server's position and the text, for support to look at.
CREATE TABLE pull_refusals (
    position   INTEGER PRIMARY KEY NOT NULL,   -- the event's position in the server's log
    event_id   TEXT,                           -- its id, when that much was readable
    field      TEXT NOT NULL,
    message    TEXT NOT NULL,
    raw        TEXT NOT NULL,
    refused_at TEXT NOT NULL
) STRICT;
