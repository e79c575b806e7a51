-- Pluto sync server, SQLite schema version 2: provenance, roles and the campaigns' creations.

-- Which token pushed each event, and the site the server knew that token by: attested by the
-- server, not claimed by the laptop. Empty for events stored before this version.
ALTER TABLE events ADD COLUMN token_id TEXT;
ALTER TABLE events ADD COLUMN site TEXT;

-- What a token pushed (`pluto-server events --token`).
CREATE INDEX events_by_token ON events (token_id, position);

-- A campaign's creation, looked up for every pushed event of the campaign.
CREATE INDEX events_creations ON events (stream_id, id) WHERE event_type = 'CampaignCreated';

-- `site`: records what the site policy allows; `admin`: records anything.
ALTER TABLE tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'site' CHECK (role IN ('site', 'admin'));
