-- Pluto Tracker local store, schema version 7: the home screen's work queue. Per stage, the
-- campaigns that have waited longest come first and the stalled ones are counted by a range of
-- this index; the campaigns with anomalies to review are found without a scan.

CREATE INDEX campaign_projections_by_stage_age ON campaign_projections (status, status_since, id);
CREATE INDEX campaign_projections_with_anomalies ON campaign_projections (updated_at DESC, id)
    WHERE anomaly_count > 0;
