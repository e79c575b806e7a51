-- Pluto Tracker local store, schema version 4: every field of a campaign's projection in a column
-- of its own, instead of the list columns plus the whole state again as JSON. Parsing and writing
-- that JSON was paid on every entry and on every campaign a sync page touches, and it doubled the
-- row. Projections are derived data: this copies them field for field from the JSON they held.

CREATE TABLE campaign_projections_v4 (
    id                       TEXT PRIMARY KEY NOT NULL,
    lego_campaign_code       TEXT,
    material_type            TEXT,
    description              TEXT,
    status                   TEXT NOT NULL,
    current_step             TEXT NOT NULL,
    next_expected_step       TEXT,
    current_weight_kg        REAL,
    inbound_net_weight_kg    REAL,
    echa_approved            INTEGER NOT NULL,
    created_at               TEXT,
    completed_at             TEXT,
    last_event_type          TEXT,
    last_event_at            TEXT,
    updated_at               TEXT NOT NULL,
    event_count              INTEGER NOT NULL,
    anomaly_count            INTEGER NOT NULL,
    status_since             TEXT NOT NULL,
    correction_count         INTEGER NOT NULL,
    last_event_id            TEXT NOT NULL,
    recorded_steps           INTEGER NOT NULL,     -- bit `rank` set for each recorded step
    manufacturing_start_date TEXT,
    manufacturing_end_date   TEXT,
    anomalies                TEXT                  -- JSON array, NULL when there are none
) STRICT;

INSERT INTO campaign_projections_v4
SELECT id, lego_campaign_code, material_type, description, status, current_step, next_expected_step,
       current_weight_kg, inbound_net_weight_kg, echa_approved, created_at, completed_at,
       last_event_type, last_event_at, updated_at, event_count, anomaly_count,
       json_extract(state, '$.statusSince'),
       json_extract(state, '$.correctionCount'),
       json_extract(state, '$.lastEventId'),
       json_extract(state, '$.recordedSteps'),
       json_extract(state, '$.manufacturingStartDate'),
       json_extract(state, '$.manufacturingEndDate'),
       CASE WHEN json_array_length(state, '$.anomalies') > 0 THEN json_extract(state, '$.anomalies') END
FROM campaign_projections;

DROP TABLE campaign_projections;
ALTER TABLE campaign_projections_v4 RENAME TO campaign_projections;

CREATE INDEX campaign_projections_by_activity ON campaign_projections (updated_at DESC, id);
CREATE INDEX campaign_projections_by_status ON campaign_projections (status, updated_at DESC, id);
