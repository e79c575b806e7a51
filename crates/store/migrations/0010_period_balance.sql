-- Pluto Tracker local store, schema version 10: the period mass balance.
--
-- What the balance needs of a campaign (each step's day and quantities, and the corrections and
-- voids that changed them), as JSON, so that a report over many campaigns reads one row per
-- campaign instead of folding every event. NULL when the campaign has no step yet.
ALTER TABLE campaign_projections ADD COLUMN flows TEXT;

-- Campaigns stored before this version get their flows from their events when the store is
-- next opened (see `maintenance::fill_flows_if_needed`).
INSERT INTO meta (key, value)
SELECT 'flows_pending', '1' WHERE EXISTS (SELECT 1 FROM campaign_projections);
