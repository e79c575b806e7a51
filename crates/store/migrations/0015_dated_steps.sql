-- Pluto Tracker local store, schema version 15: every step states its day.
--
-- The processing steps now record the day they were completed (`completedOn`, payload version
-- 2); one recorded before counts on the day it was recorded in the sites' calendar
-- (Europe/Copenhagen) rather than UTC's, as does a correction recorded after a period's last
-- day. Projections keep each step's day for the period balance, so every one is folded again
-- when the store is next opened (see `maintenance::refold_if_needed`); the events are not
-- touched.
INSERT OR REPLACE INTO meta (key, value)
SELECT 'refold_pending', 'dated steps' WHERE EXISTS (SELECT 1 FROM campaign_projections);
