-- Pluto sync server, SQLite schema version 1 (PRAGMA user_version).
-- Shipped migrations are never edited: a change is a new file.

-- The log: every event any laptop pushed, in the order the pushes committed. Rows are
-- immutable (see the triggers below): a fact, once collected, is served back unchanged.
CREATE TABLE events (
    position    INTEGER PRIMARY KEY,                -- global, assigned max + 1 in commit order
    id          TEXT NOT NULL UNIQUE,               -- evt_<ULID>; a push is idempotent by id
    stream_id   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    device_seq  INTEGER NOT NULL CHECK (device_seq >= 1),
    created_at  TEXT NOT NULL,                      -- the laptop's clock: RFC 3339 UTC, milliseconds
    received_at TEXT NOT NULL,                      -- the server's clock, same form
    envelope    TEXT NOT NULL                       -- the whole event as canonical JSON
) STRICT;

-- Completeness (which of a device's sequence numbers are here) reads this index. Unique: a
-- device numbers its events once each, and every laptop's store relies on it.
CREATE UNIQUE INDEX events_by_device_seq ON events (device_id, device_seq);

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: a collected event cannot be changed');
END;

CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: a collected event cannot be deleted');
END;

-- What the server holds of each device, maintained in the push transaction.
CREATE TABLE devices (
    device_id        TEXT PRIMARY KEY NOT NULL,
    contiguous_up_to INTEGER NOT NULL,              -- every device_seq 1..=N is stored
    highest_seq      INTEGER NOT NULL,
    event_count      INTEGER NOT NULL,
    last_received_at TEXT
) STRICT;

-- One bearer token per laptop. Only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY NOT NULL,           -- tok_<ULID>, shown by `token list`
    token_hash TEXT NOT NULL UNIQUE,                -- hex SHA-256 of the secret
    device_id  TEXT NOT NULL,
    site       TEXT NOT NULL,
    label      TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;
