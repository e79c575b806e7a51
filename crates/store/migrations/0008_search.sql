-- Pluto Tracker local store, schema version 8: find a campaign by any reference its entries
-- carry. One document per campaign (the set of its entries' text values, one per line) and an
-- FTS5 index over them, kept in the transaction that stores each event. Only words are needed
-- (no phrases, no ranking by position), hence detail=none and no column sizes: a smaller index
-- that is cheaper to write. The store fills both from the events when it first opens a file
-- without them (see store/search.rs).

CREATE TABLE search_docs (
    id          INTEGER PRIMARY KEY,
    campaign_id TEXT NOT NULL UNIQUE,
    refs        TEXT NOT NULL    -- the values, sorted and unique, one per line
) STRICT;

CREATE VIRTUAL TABLE search_index USING fts5(
    refs,
    content = 'search_docs',
    content_rowid = 'id',
    tokenize = 'unicode61',
    detail = none,
    columnsize = 0
);
