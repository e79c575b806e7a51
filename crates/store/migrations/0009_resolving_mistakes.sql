-- Pluto Tracker local store, schema version 9: mistakes resolved as events (EntryVoided,
-- AnomalyReviewed).
--
-- `anomaly_count` now counts the anomalies nobody has reviewed (what badges and the home
-- screen show); `anomalies` keeps every anomaly with its review. Reviews that match no anomaly
-- yet (it arrives later from a laptop whose clock ran ahead) are kept here as JSON, so that
-- folding on from the stored projection equals a replay. NULL when there are none.
ALTER TABLE campaign_projections ADD COLUMN pending_reviews TEXT;
