-- Pluto sync server, PostgreSQL schema version 1 (table pluto_server_schema).
-- Shipped migrations are never edited: a change is a new file.

-- The log: every event any laptop pushed, in the order the pushes committed. Positions are
-- assigned max + 1 under a transaction-level advisory lock, never from a sequence, so a reader
-- that saw position N has already seen every position below it. Rows are immutable (see the
-- triggers below).
CREATE TABLE events (
    position    BIGINT PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,               -- evt_<ULID>; a push is idempotent by id
    stream_id   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    device_seq  BIGINT NOT NULL CHECK (device_seq >= 1),
    created_at  TIMESTAMPTZ NOT NULL,               -- the laptop's clock
    received_at TIMESTAMPTZ NOT NULL,               -- the server's clock
    envelope    TEXT NOT NULL                       -- the whole event as canonical JSON
);

-- Completeness (which of a device's sequence numbers are here) reads this index. Unique: a
-- device numbers its events once each, and every laptop's store relies on it.
CREATE UNIQUE INDEX events_by_device_seq ON events (device_id, device_seq);

CREATE FUNCTION pluto_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % is not allowed on a collected event', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION pluto_events_append_only();

CREATE TRIGGER events_append_only_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION pluto_events_append_only();

-- What the server holds of each device, maintained in the push transaction.
CREATE TABLE devices (
    device_id        TEXT PRIMARY KEY,
    contiguous_up_to BIGINT NOT NULL,               -- every device_seq 1..=N is stored
    highest_seq      BIGINT NOT NULL,
    event_count      BIGINT NOT NULL,
    last_received_at TIMESTAMPTZ
);

-- One bearer token per laptop. Only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,                    -- tok_<ULID>, shown by `token list`
    token_hash TEXT NOT NULL UNIQUE,                -- hex SHA-256 of the secret
    device_id  TEXT NOT NULL,
    site       TEXT NOT NULL,
    label      TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
