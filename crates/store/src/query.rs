//! Reading the store: one campaign's state, history and past state, and the paged campaign list.

use rusqlite::types::Value as SqlValue;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use super::rows::{stream_events, ProjectionRows};
use super::{Result, Store, StoreError};
use pluto_domain::event::Event;
use pluto_domain::fold::{fold, fold_as_of};
use pluto_domain::ids::{CampaignId, EventId};
use pluto_domain::refusal::Refusal;
use pluto_domain::registry::fields::MaterialType;
use pluto_domain::registry::{CampaignStatus, EventType};
use pluto_domain::state::CampaignState;
use pluto_domain::time::Timestamp;

/// How the list is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum SortOrder {
    /// Most recently changed first.
    #[default]
    LastActivity,
    /// By LEGO campaign code, A to Z.
    Code,
    /// Newest campaign first.
    Created,
}

/// A page of the campaign list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Only campaigns at this status.
    pub status: Option<CampaignStatus>,
    /// Only campaigns whose code or description contains this text (case-insensitive).
    pub search: Option<String>,
    /// Order.
    pub sort: SortOrder,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

impl ListQuery {
    /// The search as a LIKE pattern, wildcards in the text taken literally.
    fn search_pattern(&self) -> Option<String> {
        let search = self.search.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
        let escaped = search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        Some(format!("%{escaped}%"))
    }
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery { status: None, search: None, sort: SortOrder::LastActivity, limit: 50, offset: 0 }
    }
}

/// One row of the campaign list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CampaignSummary {
    /// The campaign.
    pub id: String,
    /// LEGO's code.
    pub lego_campaign_code: Option<String>,
    /// PI or PCR.
    pub material_type: Option<MaterialType>,
    /// Description.
    pub description: Option<String>,
    /// Status.
    pub status: CampaignStatus,
    /// Step last completed.
    pub current_step: String,
    /// Step expected next.
    pub next_expected_step: Option<String>,
    /// Current weight.
    pub current_weight_kg: Option<f64>,
    /// Whether ECHA approved it.
    pub echa_approved: bool,
    /// Latest step event type.
    pub last_event_type: Option<EventType>,
    /// Latest change.
    pub updated_at: String,
    /// Events, corrections included.
    pub event_count: u32,
    /// Anomalies nobody has reviewed.
    pub anomaly_count: u32,
    /// Whether any of the events this laptop recorded on it is not on the sync server yet
    /// (entries from other laptops, imported or pulled, are theirs to send).
    pub unsynced: bool,
    /// Its events that a newer Pluto recorded and this build does not fully show.
    pub newer_entries: u32,
    /// When it reached its current status.
    pub status_since: String,
}

/// A page of campaigns and how many match in all.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ListPage {
    /// The rows of this page.
    pub rows: Vec<CampaignSummary>,
    /// How many campaigns match the filter.
    pub total: u64,
}

impl Store {
    /// The current state of a campaign with every step's details, folded from its events.
    pub fn campaign(&self, id: &CampaignId) -> Result<Option<CampaignState>> {
        Ok(fold(&stream_events(&self.conn, id)?))
    }

    /// The stored projection of a campaign: its state without step details, as the list and
    /// new entries use it. Equal to `campaign(id)?.map(CampaignState::into_projection)`.
    pub fn projection(&self, id: &CampaignId) -> Result<Option<CampaignState>> {
        ProjectionRows::new(&self.conn)?.load(id)
    }

    /// A campaign's events in the canonical order (the server's, then this laptop's unconfirmed ones
    /// in the order they reached it); a campaign with none is
    /// [`Refusal::UnknownCampaign`].
    pub fn history(&self, id: &CampaignId) -> Result<Vec<Event>> {
        let events = stream_events(&self.conn, id)?;
        if events.is_empty() {
            return Err(Refusal::UnknownCampaign(id.clone()).into());
        }
        Ok(events)
    }

    /// Why an entry made against version `since` of a campaign (its first `since` events) was
    /// refused as a conflict, in words: who recorded what on it, at what time on this laptop's
    /// clock, while the entry was being typed.
    pub fn changed_since(&self, id: &CampaignId, since: u32) -> Result<String> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT event_type, user_id, created_at FROM events WHERE stream_id = ?1 ORDER BY seq LIMIT -1 OFFSET ?2",
        )?;
        let rows = stmt.query_map(rusqlite::params![id.as_str(), since], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })?;
        let mut parts = Vec::new();
        for row in rows {
            let (event_type, user, at) = row?;
            let label = EventType::parse(&event_type).map_or("an entry", EventType::label);
            let who = pluto_domain::ids::UserId::parse(&user).map_or(user, |u| u.display_name());
            let when = Timestamp::parse(&at).map(pluto_domain::time::local_when).unwrap_or_default();
            parts.push(format!("{who} recorded {label} {when}").trim_end().to_owned());
        }
        Ok(match parts.len() {
            0 => "This campaign changed while you were typing; check it, then record again.".to_owned(),
            1 => format!("{} on this campaign while you were typing; check it, then record again.", parts[0]),
            _ => format!(
                "{} on this campaign while you were typing; check them, then record again.",
                parts.join(", and ")
            ),
        })
    }

    /// The site whose token pushed each of the campaign's events, as the sync server attested
    /// it when the event came back from the server (events not yet back are left out).
    pub fn server_sites(&self, id: &CampaignId) -> Result<std::collections::HashMap<EventId, String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, server_site FROM events WHERE stream_id = ?1 AND server_site IS NOT NULL",
        )?;
        let rows = stmt.query_map([id.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut sites = std::collections::HashMap::new();
        for row in rows {
            let (event, site) = row?;
            let event = EventId::parse(&event).map_err(|e| super::StoreError::Corrupt(e.to_string()))?;
            sites.insert(event, site);
        }
        Ok(sites)
    }

    /// The campaign as it was recorded at `instant`; `None` if it had no events then.
    pub fn campaign_as_of(&self, id: &CampaignId, instant: Timestamp) -> Result<Option<CampaignState>> {
        Ok(fold_as_of(&stream_events(&self.conn, id)?, instant))
    }

    /// Every campaign `query` matches, in its order (its page size and offset aside): what the
    /// list's saved workbook holds.
    pub fn list_every(&self, query: &ListQuery) -> Result<Vec<CampaignSummary>> {
        Ok(self.list(&ListQuery { limit: u32::MAX, offset: 0, ..query.clone() })?.rows)
    }

    /// One page of the campaign list.
    pub fn list(&self, query: &ListQuery) -> Result<ListPage> {
        let mut conditions = Vec::new();
        let mut args: Vec<SqlValue> = Vec::new();
        if let Some(status) = query.status {
            args.push(SqlValue::Text(status.as_str().to_owned()));
            conditions.push(format!("status = ?{}", args.len()));
        }
        if let Some(pattern) = query.search_pattern() {
            args.push(SqlValue::Text(pattern));
            let n = args.len();
            conditions.push(format!(
                "(lego_campaign_code LIKE ?{n} ESCAPE '\\' OR description LIKE ?{n} ESCAPE '\\')"
            ));
        }
        let filter =
            if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let order = match query.sort {
            // Ties (campaigns active in the same millisecond) newest first, as ids are made in
            // order; SQLite sorts only each tie, walking the index for the rest.
            SortOrder::LastActivity => "updated_at DESC, id DESC",
            SortOrder::Code => "lego_campaign_code COLLATE NOCASE, id",
            SortOrder::Created => "id DESC",
        };
        // Without a text search the count is kept per status (migration 3); a search must scan.
        let total: i64 = match (&query.search_pattern(), query.status) {
            (None, Some(status)) => self
                .conn
                .prepare_cached("SELECT COALESCE(SUM(n), 0) FROM campaign_status_counts WHERE status = ?1")?
                .query_row([status.as_str()], |r| r.get(0))?,
            (None, None) => self
                .conn
                .prepare_cached("SELECT COALESCE(SUM(n), 0) FROM campaign_status_counts")?
                .query_row([], |r| r.get(0))?,
            (Some(_), _) => self.conn.query_row(
                &format!("SELECT COUNT(*) FROM campaign_projections {filter}"),
                rusqlite::params_from_iter(args.iter()),
                |r| r.get(0),
            )?,
        };
        args.push(SqlValue::Integer(i64::from(query.limit)));
        args.push(SqlValue::Integer(i64::from(query.offset)));
        let sql = format!(
            "SELECT {SUMMARY_COLUMNS} FROM campaign_projections {filter} ORDER BY {order} LIMIT ?{} OFFSET ?{}",
            args.len() - 1,
            args.len()
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), summary)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(ListPage { rows, total: u64::try_from(total).map_err(|e| StoreError::Corrupt(e.to_string()))? })
    }
}

/// The columns of [`summary`], from `campaign_projections`.
pub(super) const SUMMARY_COLUMNS: &str =
    "id, lego_campaign_code, material_type, description, status, current_step, next_expected_step,
     current_weight_kg, echa_approved, last_event_type, updated_at, event_count, anomaly_count,
     EXISTS (SELECT 1 FROM events e WHERE e.stream_id = campaign_projections.id AND e.server_position IS NULL
             AND e.device_id = (SELECT value FROM meta WHERE key = 'device_id')),
     newer_entries, status_since";

/// How many columns [`SUMMARY_COLUMNS`] selects: the index of the first column after them.
pub(super) const SUMMARY_COLUMN_COUNT: usize = 16;

/// One list row, from a row that starts with [`SUMMARY_COLUMNS`].
pub(super) fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<CampaignSummary> {
    Ok(CampaignSummary {
        id: r.get(0)?,
        lego_campaign_code: r.get(1)?,
        material_type: stored(r, 2, MaterialType::parse)?,
        description: r.get(3)?,
        status: stored(r, 4, CampaignStatus::parse)?.ok_or(rusqlite::Error::InvalidColumnType(
            4,
            "status".into(),
            rusqlite::types::Type::Null,
        ))?,
        current_step: r.get(5)?,
        next_expected_step: r.get(6)?,
        current_weight_kg: r.get(7)?,
        echa_approved: r.get(8)?,
        last_event_type: stored(r, 9, |t| EventType::parse(t).ok())?,
        updated_at: r.get(10)?,
        event_count: r.get(11)?,
        anomaly_count: r.get(12)?,
        unsynced: r.get(13)?,
        newer_entries: r.get(14)?,
        status_since: r.get(15)?,
    })
}

/// Reads the stored name in column `i` with `parse`; a name this build cannot read is a damaged
/// row, not input.
fn stored<T>(
    r: &rusqlite::Row<'_>,
    i: usize,
    parse: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<Option<T>> {
    let Some(text) = r.get::<_, Option<String>>(i)? else {
        return Ok(None);
    };
    parse(&text).map(Some).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("campaign_projections: unknown name {text:?}").into(),
        )
    })
}

/// Fields whose last value on this laptop is the next form's default: a site ships with the same
/// carrier and classifies its waste with the same code, entry after entry.
const REMEMBERED: [&str; 2] = ["carrier", "wasteCode"];

impl Store {
    /// What a form for `event_type` on campaign `id` starts with: the starting weight carried
    /// from the campaign's last output, and the carrier and waste code this laptop recorded last
    /// (for any campaign). Dates are the person's today, which only the app knows.
    pub fn form_defaults(
        &self,
        id: Option<&CampaignId>,
        event_type: EventType,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        let mut defaults = serde_json::Map::new();
        let fields = event_type.fields();
        if let (Some(id), Some(spec)) = (id, fields.iter().find(|f| f.name == "startingWeightKg")) {
            if let Some(weight) = self.projection(id)?.and_then(|s| s.current_weight_kg) {
                defaults.insert(spec.name.to_owned(), serde_json::json!(weight));
            }
        }
        // This laptop's entries, newest first, up to the first that holds the field.
        let mut last = self.conn.prepare_cached(
            "SELECT json_extract(data, '$.' || ?2) FROM events
             WHERE device_id = ?1 AND json_type(data, '$.' || ?2) = 'text'
             ORDER BY device_seq DESC LIMIT 1",
        )?;
        for spec in fields.iter().filter(|f| REMEMBERED.contains(&f.name)) {
            let value: Option<String> = last
                .query_row(rusqlite::params![self.device_id().as_str(), spec.name], |r| r.get(0))
                .optional()?;
            if let Some(value) = value {
                defaults.insert(spec.name.to_owned(), serde_json::Value::String(value));
            }
        }
        Ok(defaults)
    }
}
