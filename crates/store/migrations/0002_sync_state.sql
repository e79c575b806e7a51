-- Pluto Tracker local store, schema version 2: what sync needs to remember.

-- Events the server refused, with its reason. They stay in the log (nothing is ever deleted)
-- and are not pushed again; the app shows them so a coordinator can act on them.
CREATE TABLE sync_rejections (
    event_id    TEXT PRIMARY KEY NOT NULL REFERENCES events (id),
    outcome     TEXT NOT NULL,          -- refused | conflict | forbidden
    field       TEXT,                   -- the field the server named, if any
    message     TEXT NOT NULL,
    rejected_at TEXT NOT NULL
) STRICT;
