-- Pluto Tracker local store, schema version 13: find indexes each entry on its own, in batches.
--
-- Version 8 kept one document per campaign (the set of its text values) and indexed it again,
-- whole, whenever an entry added a value: every entry paid for the index's machinery (a new
-- segment, its place in the index's structure), about four pages of each entry's commit. Now an
-- entry recorded here adds one row to search_pending (its text values, under its place in the
-- log), which find reads beside the index; every 64 such entries move into the index together.
-- A sync page or an import is indexed at once, as one batch.
--
-- The index keeps no copy of the text (content=''), only which entries hold which words, and
-- the first one to four characters of every word (prefix=), so that a word typed in part is read
-- as one list. Its list of entries (columnsize, the default) lets `verify` compare it with the
-- log and an entry be indexed again after an update. Case is folded, other marks are kept, as
-- the app compares them. The store fills the index from the events when it next opens the file
-- (see search.rs).

DROP TABLE search_index;
DROP TABLE search_docs;

CREATE VIRTUAL TABLE search_index USING fts5(
    refs,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0',
    detail = none,
    prefix = '1 2 3 4'
);

CREATE TABLE search_pending (
    seq  INTEGER PRIMARY KEY,   -- the entry's place in the log (events.seq)
    refs TEXT NOT NULL          -- its text values, one per line
) STRICT;

DELETE FROM meta WHERE key = 'search_index';
