-- Pluto Tracker local store, schema version 11: each campaign's flows in a compact binary form.
--
-- Version 10 kept them as JSON, about 1.3 KB per campaign, which made a rebuild a third slower.
-- They are now a few bytes per step (see `period::stored`), and no longer name the entry of each
-- step. The flows are derived, so they are dropped here and folded again from the events when the
-- store is next opened (see `maintenance::fill_flows_if_needed`); a build of version 10 refuses
-- the file instead of misreading the new form.
ALTER TABLE campaign_projections DROP COLUMN flows;
ALTER TABLE campaign_projections ADD COLUMN flows BLOB;

INSERT OR REPLACE INTO meta (key, value)
SELECT 'flows_pending', '1' WHERE EXISTS (SELECT 1 FROM campaign_projections);
