-- Pluto Tracker local store, schema version 1.
-- Shipped migrations are never edited: a change is a new file.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- The event log: the source of truth. Rows are immutable (see the triggers below); the only
-- write after insertion is setting server_position once, when sync confirms the event.
CREATE TABLE events (
    seq             INTEGER PRIMARY KEY,          -- local insertion order
    id              TEXT NOT NULL UNIQUE,         -- evt_<ULID>; streams fold in id order
    stream_type     TEXT NOT NULL,
    stream_id       TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    schema_version  INTEGER NOT NULL,
    data            TEXT NOT NULL,                -- canonical JSON payload
    user_id         TEXT NOT NULL,
    device_id       TEXT NOT NULL,
    device_seq      INTEGER NOT NULL CHECK (device_seq >= 1),
    created_at      TEXT NOT NULL,                -- RFC 3339 UTC, milliseconds, fixed width
    server_position INTEGER,                      -- NULL until the server has it
    UNIQUE (device_id, device_seq)
) STRICT;

CREATE INDEX events_by_stream ON events (stream_id, id);
CREATE INDEX events_unsynced ON events (seq) WHERE server_position IS NULL;

CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: an event cannot be deleted; record a correction instead');
END;

CREATE TRIGGER events_append_only_update
BEFORE UPDATE OF seq, id, stream_type, stream_id, event_type, schema_version, data, user_id,
                 device_id, device_seq, created_at ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: an event cannot be changed; record a correction instead');
END;

CREATE TRIGGER events_server_position_final
BEFORE UPDATE OF server_position ON events
WHEN OLD.server_position IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: a synced event''s server position is final');
END;

-- Current state of each campaign, derived from its events and rebuildable at any time.
-- The queryable columns serve the list; `state` holds the whole folded state as JSON.
CREATE TABLE campaign_projections (
    id                    TEXT PRIMARY KEY NOT NULL,
    lego_campaign_code    TEXT,
    material_type         TEXT,
    description           TEXT,
    status                TEXT NOT NULL,
    current_step          TEXT NOT NULL,
    next_expected_step    TEXT,
    current_weight_kg     REAL,
    inbound_net_weight_kg REAL,
    echa_approved         INTEGER NOT NULL,
    created_at            TEXT,
    completed_at          TEXT,
    last_event_type       TEXT,
    last_event_at         TEXT,
    updated_at            TEXT NOT NULL,
    event_count           INTEGER NOT NULL,
    anomaly_count         INTEGER NOT NULL,
    state                 TEXT NOT NULL
) STRICT;

CREATE INDEX campaign_projections_by_activity ON campaign_projections (updated_at DESC, id);
CREATE INDEX campaign_projections_by_status ON campaign_projections (status, updated_at DESC, id);
