-- Pluto sync server, SQLite schema version 4: the log's identity, and what laptops say they hold.

-- One row per setting of the server's own. `log_id` is made once, when the database is created
-- or first migrated to this version, and travels with every backup of it: a laptop that finds
-- the same log id with fewer entries than it saw knows the server was restored from a backup,
-- and sends its lost entries again; a different log id is another server.
CREATE TABLE server_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;
INSERT INTO server_meta (key, value) VALUES ('log_id', 'log_' || lower(hex(randomblob(16))));

-- The highest sequence number each laptop last said it holds (`pluto-holds` header of its
-- status request), and when: a device that holds more than the server has is behind.
ALTER TABLE devices ADD COLUMN reported_seq INTEGER;
ALTER TABLE devices ADD COLUMN reported_at TEXT;
