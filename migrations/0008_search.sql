-- Pluto Tracker local store, schema version 8: find a campaign by any reference its entries
-- carry. One document per campaign (its entries' text values with where each was recorded) and
-- an FTS5 index over the values, kept in the transaction that stores each event. The store
-- fills both from the events when it first opens a file without them (see store/search.rs).

CREATE TABLE search_docs (
    id          INTEGER PRIMARY KEY,
    campaign_id TEXT NOT NULL UNIQUE,
    entries     TEXT NOT NULL,   -- "place<TAB>value" lines, sorted and unique
    refs        TEXT NOT NULL    -- the values alone, one per line: what the index holds
) STRICT;

CREATE VIRTUAL TABLE search_index USING fts5(
    refs,
    content = 'search_docs',
    content_rowid = 'id',
    tokenize = 'unicode61'
);
