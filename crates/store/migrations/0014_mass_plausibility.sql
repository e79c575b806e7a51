-- Pluto Tracker local store, schema version 14: mass plausibility.
--
-- A step that takes in more weight than the campaign weighed before it, beyond the 0.5 %
-- tolerance, is now an anomaly of the fold (implausible_weight): material cannot appear between
-- two steps. Projections folded before knew nothing of it, so every one is folded again when the
-- store is next opened (see `maintenance::refold_if_needed`); the events are not touched.
INSERT OR REPLACE INTO meta (key, value)
SELECT 'refold_pending', 'mass plausibility' WHERE EXISTS (SELECT 1 FROM campaign_projections);
