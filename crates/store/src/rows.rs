//! Mapping between rows and domain values: events in and out of `events`, folded states into
//! `campaign_projections`.

use std::sync::LazyLock;

use rusqlite::{params, CachedStatement, Connection, OptionalExtension, Row, Statement};

use super::{Result, StoreError};
use pluto_domain::event::Event;
use pluto_domain::flows::Flows;
use pluto_domain::ids::{CampaignId, DeviceId, EventId, UserId};
use pluto_domain::registry::fields::MaterialType;
use pluto_domain::registry::{CampaignStatus, EventType, Steps};
use pluto_domain::state::CampaignState;
use pluto_domain::time::{parse_date, IsoDate, Timestamp};

/// Columns of `events` in the order [`event_from_row`] reads them.
pub const EVENT_COLUMNS: &str =
    "id, stream_type, stream_id, event_type, schema_version, data, user_id, device_id, device_seq, created_at";

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// Reads an event from a row selected with [`EVENT_COLUMNS`].
pub fn event_from_row(row: &Row<'_>) -> Result<Event> {
    let id: String = row.get(0)?;
    let stream_id: String = row.get(2)?;
    let event_type: String = row.get(3)?;
    let data: String = row.get(5)?;
    let user_id: String = row.get(6)?;
    let device_id: String = row.get(7)?;
    let created_at: String = row.get(9)?;
    Ok(Event {
        id: EventId::parse(&id).map_err(|e| corrupt("events.id", e))?,
        stream_type: row.get(1)?,
        stream_id: CampaignId::parse(&stream_id).map_err(|e| corrupt("events.stream_id", e))?,
        // A type this build does not know was recorded by a newer Pluto (the row keeps its JSON).
        event_type: EventType::parse(&event_type).unwrap_or(EventType::Newer),
        schema_version: row.get(4)?,
        data: serde_json::from_str(&data).map_err(|e| corrupt("events.data", e))?,
        user_id: UserId::parse(&user_id).map_err(|e| corrupt("events.user_id", e))?,
        device_id: DeviceId::parse(&device_id).map_err(|e| corrupt("events.device_id", e))?,
        device_seq: u64::try_from(row.get::<_, i64>(8)?).map_err(|e| corrupt("events.device_seq", e))?,
        created_at: Timestamp::parse(&created_at).map_err(|e| corrupt("events.created_at", e))?,
    })
}

/// The statement [`insert_event`] runs, prepared once for a batch of inserts.
pub fn insert_statement(conn: &Connection) -> Result<CachedStatement<'_>> {
    Ok(conn.prepare_cached(
        "INSERT INTO events (id, stream_type, stream_id, event_type, schema_version, data, user_id, device_id, device_seq, created_at, raw, server_position, server_site)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (id) DO NOTHING",
    )?)
}

/// What [`insert_event`] stores besides the event itself.
pub struct RowText<'a> {
    /// The type's name: the event's own, or as received for a type this build does not know.
    pub event_type: &'a str,
    /// The payload's JSON: canonical for an event this build reads fully, as received otherwise.
    pub data: &'a str,
    /// The envelope as received, for an event this build does not read fully.
    pub raw: Option<&'a str>,
    /// Its position in the sync server's log, for an event pulled from it.
    pub position: Option<i64>,
    /// The site the sync server attests for it, for an event pulled from it.
    pub site: Option<&'a str>,
}

/// Inserts an event with `stmt` from [`insert_statement`] on `conn` and returns its place in the
/// log (`seq`). Returns `None`, inserting nothing, when an event with this id is already stored
/// (the caller compares them): one index descent serves both the idempotency check and the
/// insert.
pub fn insert_event(
    conn: &Connection,
    stmt: &mut Statement<'_>,
    event: &Event,
    text: RowText<'_>,
) -> Result<Option<i64>> {
    let inserted = stmt.execute(params![
        event.id.as_str(),
        event.stream_type,
        event.stream_id.as_str(),
        text.event_type,
        event.schema_version,
        text.data,
        event.user_id.as_str(),
        event.device_id.as_str(),
        i64::try_from(event.device_seq).unwrap_or(i64::MAX),
        event.created_at.to_string(),
        text.raw,
        text.position,
        text.site,
    ]);
    match inserted {
        Ok(rows) => Ok((rows == 1).then(|| conn.last_insert_rowid())),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
            let holder: Option<String> = conn
                .query_row(
                    "SELECT id FROM events WHERE device_id = ?1 AND device_seq = ?2",
                    params![event.device_id.as_str(), i64::try_from(event.device_seq).unwrap_or(i64::MAX)],
                    |r| r.get(0),
                )
                .optional()?;
            match holder {
                Some(other) => Err(StoreError::InvalidEvent {
                    id: event.id.to_string(),
                    error: pluto_domain::field::FieldError::new(
                        "deviceSeq",
                        format!(
                            "device {} sequence number {} already belongs to event {other}",
                            event.device_id, event.device_seq
                        ),
                    ),
                }),
                None => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The stored event with `id`, if any.
pub fn event_by_id(conn: &Connection, id: &str) -> Result<Option<Event>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1"))?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(row) => Ok(Some(event_from_row(row)?)),
        None => Ok(None),
    }
}

/// The canonical order of a campaign's events (see [`mod@pluto_domain::fold`]): the sync server's positions
/// first, then the events the server has not confirmed, in the order they reached this laptop.
/// `events_by_stream` is in this order.
pub const CANONICAL_ORDER: &str = "server_position IS NULL, server_position, seq";

/// Where a campaign's stored projection stands in the canonical order: what an entry or a sync
/// page needs to know whether its events come after everything folded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderMark {
    /// The highest server position among the events folded (0: none).
    pub position: i64,
    /// How many of the events folded the server has not confirmed: they follow the confirmed
    /// ones, and an event the server places before them makes the campaign fold again.
    pub pending: u32,
}

impl OrderMark {
    /// Notes one more folded event at the end of the order (`position`: the server's, if any).
    pub fn push(&mut self, position: Option<i64>) {
        match position {
            Some(p) => self.position = self.position.max(p),
            None => self.pending += 1,
        }
    }
}

/// All events of one campaign, in canonical order.
pub fn stream_events(conn: &Connection, campaign: &CampaignId) -> Result<Vec<Event>> {
    Ok(stream_events_marked(conn, campaign)?.0)
}

/// All events of one campaign in canonical order, and where they leave its projection.
pub fn stream_events_marked(conn: &Connection, campaign: &CampaignId) -> Result<(Vec<Event>, OrderMark)> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS}, server_position FROM events WHERE stream_id = ?1 ORDER BY {CANONICAL_ORDER}"
    ))?;
    let mut rows = stmt.query([campaign.as_str()])?;
    let mut events = Vec::new();
    let mut mark = OrderMark::default();
    while let Some(row) = rows.next()? {
        mark.push(row.get(10)?);
        events.push(event_from_row(row)?);
    }
    Ok((events, mark))
}

/// Columns of `campaign_projections`, in the order [`state_from_row`] reads them and
/// [`ProjectionRows::write`] binds them.
const PROJECTION_COLUMNS: [&str; 29] = [
    "id",
    "lego_campaign_code",
    "material_type",
    "description",
    "status",
    "current_step",
    "next_expected_step",
    "current_weight_kg",
    "inbound_net_weight_kg",
    "echa_approved",
    "created_at",
    "completed_at",
    "last_event_type",
    "last_event_at",
    "updated_at",
    "event_count",
    "anomaly_count",
    "status_since",
    "correction_count",
    "last_event_id",
    "recorded_steps",
    "manufacturing_start_date",
    "manufacturing_end_date",
    "anomalies",
    "newer_entries",
    "pending_reviews",
    "flows",
    "order_position",
    "order_pending",
];

static SELECT_PROJECTION: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {} FROM campaign_projections WHERE id = ?1", PROJECTION_COLUMNS.join(", "))
});

static UPSERT_PROJECTION: LazyLock<String> = LazyLock::new(|| {
    let placeholders: Vec<String> = (1..=PROJECTION_COLUMNS.len()).map(|i| format!("?{i}")).collect();
    let updates: Vec<String> =
        PROJECTION_COLUMNS[1..].iter().map(|c| format!("{c} = excluded.{c}")).collect();
    format!(
        "INSERT INTO campaign_projections ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {}",
        PROJECTION_COLUMNS.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    )
});

/// Reads and writes campaign projections with statements prepared once, so that work touching
/// many campaigns (a sync page, a rebuild) does not look each statement up again per campaign.
pub struct ProjectionRows<'c> {
    conn: &'c Connection,
    select: CachedStatement<'c>,
    upsert: CachedStatement<'c>,
}

impl<'c> ProjectionRows<'c> {
    /// Prepares the statements on `conn`.
    pub fn new(conn: &'c Connection) -> Result<Self> {
        Ok(ProjectionRows {
            conn,
            select: conn.prepare_cached(&SELECT_PROJECTION)?,
            upsert: conn.prepare_cached(&UPSERT_PROJECTION)?,
        })
    }

    /// The stored projection of one campaign, if any.
    pub fn load(&mut self, campaign: &CampaignId) -> Result<Option<CampaignState>> {
        Ok(self.load_marked(campaign)?.map(|(state, _)| state))
    }

    /// The stored projection of one campaign and where it stands in the canonical order.
    pub fn load_marked(&mut self, campaign: &CampaignId) -> Result<Option<(CampaignState, OrderMark)>> {
        let mut rows = self.select.query([campaign.as_str()])?;
        let Some(row) = rows.next()? else { return Ok(None) };
        let mark = OrderMark { position: row.get(27)?, pending: row.get(28)? };
        Ok(Some((state_from_row(row)?, mark)))
    }

    /// Writes (inserts or replaces) the projection of one campaign with its place in the
    /// canonical order, and moves it between the per-status counts when its status changed from
    /// `before` (`None`: a new campaign).
    pub fn save(
        &mut self,
        st: &CampaignState,
        mark: OrderMark,
        before: Option<CampaignStatus>,
    ) -> Result<()> {
        if before != Some(st.status) {
            if let Some(old) = before {
                self.conn
                    .prepare_cached("UPDATE campaign_status_counts SET n = n - 1 WHERE status = ?1")?
                    .execute([old.as_str()])?;
            }
            self.conn
                .prepare_cached(
                    "INSERT INTO campaign_status_counts (status, n) VALUES (?1, 1)
                     ON CONFLICT (status) DO UPDATE SET n = n + 1",
                )?
                .execute([st.status.as_str()])?;
        }
        self.write(st, mark)
    }

    /// Writes the projection of one campaign without touching the counts (a rebuild recounts).
    pub fn write(&mut self, st: &CampaignState, mark: OrderMark) -> Result<()> {
        let anomalies = json_unless_empty(&st.anomalies)?;
        let pending_reviews = json_unless_empty(&st.pending_reviews)?;
        let flows = (!st.flows.is_empty()).then(|| crate::flows::encode(&st.flows));
        self.upsert.execute(params![
            st.id.as_str(),
            st.lego_campaign_code,
            st.material_type.map(|m| m.as_str()),
            st.description,
            st.status.as_str(),
            st.current_step,
            st.next_expected_step,
            st.current_weight_kg,
            st.inbound_net_weight_kg,
            st.echa_approved,
            st.created_at.map(|t| t.to_string()),
            st.completed_at.map(|t| t.to_string()),
            st.last_event_type.map(|t| t.as_str()),
            st.last_event_at.map(|t| t.to_string()),
            st.updated_at.to_string(),
            st.event_count,
            st.unreviewed_anomalies() as u32,
            st.status_since.to_string(),
            st.correction_count,
            st.last_event_id.as_str(),
            st.recorded_steps,
            st.manufacturing_start_date.map(|d| d.to_string()),
            st.manufacturing_end_date.map(|d| d.to_string()),
            anomalies,
            st.newer_entries,
            pending_reviews,
            flows,
            mark.position,
            mark.pending,
        ])?;
        Ok(())
    }
}

/// A list as JSON text, or `None` (NULL) when it is empty, as most are.
fn json_unless_empty<T: serde::Serialize>(items: &[T]) -> Result<Option<String>> {
    if items.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(items).map(Some).map_err(|e| corrupt("projection", e))
}

/// A list stored by [`json_unless_empty`] in column `column`.
fn json_list<T: serde::de::DeserializeOwned>(json: Option<&str>, column: usize) -> Result<Vec<T>> {
    json.map_or(Ok(Vec::new()), |json| serde_json::from_str(json).map_err(|e| bad_column(column, e)))
}

fn bad_column(column: usize, e: impl std::fmt::Display) -> StoreError {
    corrupt(&format!("campaign_projections.{}", PROJECTION_COLUMNS[column]), e)
}

/// The flows [`ProjectionRows::write`] stored, read from `row`'s column `index`, if any.
pub(super) fn stored_flows(row: &Row<'_>, index: usize) -> Result<Option<Flows>> {
    let bad = |e: &dyn std::fmt::Display| corrupt("campaign_projections.flows", e);
    let bytes = row.get_ref(index)?.as_blob_or_null().map_err(|e| bad(&e))?;
    bytes.map(|b| crate::flows::decode(b).map_err(|e| bad(&e))).transpose()
}

/// Reads a projection from a row selected with [`PROJECTION_COLUMNS`].
fn state_from_row(row: &Row<'_>) -> Result<CampaignState> {
    let text =
        |i: usize| -> Result<Option<&str>> { row.get_ref(i)?.as_str_or_null().map_err(|e| bad_column(i, e)) };
    let required = |i: usize| text(i)?.ok_or_else(|| bad_column(i, "NULL"));
    let timestamp = |i: usize| -> Result<Option<Timestamp>> {
        text(i)?.map(|t| Timestamp::parse(t).map_err(|e| bad_column(i, e))).transpose()
    };
    let date = |i: usize| -> Result<Option<IsoDate>> {
        text(i)?.map(|d| parse_date(d).map_err(|e| bad_column(i, e.message))).transpose()
    };
    let status = required(4)?;
    let anomalies = json_list(text(23)?, 23)?;
    let pending_reviews = json_list(text(25)?, 25)?;
    Ok(CampaignState {
        id: CampaignId::parse(required(0)?).map_err(|e| bad_column(0, e))?,
        lego_campaign_code: text(1)?.map(str::to_owned),
        material_type: text(2)?
            .map(|m| MaterialType::parse(m).ok_or_else(|| bad_column(2, m)))
            .transpose()?,
        description: text(3)?.map(str::to_owned),
        status: CampaignStatus::parse(status).ok_or_else(|| bad_column(4, status))?,
        current_step: required(5)?.to_owned(),
        next_expected_step: text(6)?.map(str::to_owned),
        current_weight_kg: row.get(7)?,
        inbound_net_weight_kg: row.get(8)?,
        echa_approved: row.get(9)?,
        created_at: timestamp(10)?,
        completed_at: timestamp(11)?,
        last_event_type: text(12)?
            .map(|t| EventType::parse(t).map_err(|e| bad_column(12, e.message)))
            .transpose()?,
        last_event_at: timestamp(13)?,
        updated_at: timestamp(14)?.ok_or_else(|| bad_column(14, "NULL"))?,
        event_count: row.get(15)?,
        status_since: timestamp(17)?.ok_or_else(|| bad_column(17, "NULL"))?,
        correction_count: row.get(18)?,
        last_event_id: EventId::parse(required(19)?).map_err(|e| bad_column(19, e))?,
        recorded_steps: row.get(20)?,
        manufacturing_start_date: date(21)?,
        manufacturing_end_date: date(22)?,
        steps: Steps::default(),
        anomalies,
        newer_entries: row.get(24)?,
        pending_reviews,
        flows: stored_flows(row, 26)?.unwrap_or_default(),
    })
}

/// The top-level fields in which the JSON forms of `a` and `b` differ, with both values (`null`
/// where one side lacks the field), in `b`'s field order. For messages about what differs.
pub fn differing_fields<T: serde::Serialize>(
    a: &T,
    b: &T,
) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    let (a, b) = (serde_json::to_value(a).unwrap_or_default(), serde_json::to_value(b).unwrap_or_default());
    b.as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| a.get(k.as_str()) != Some(v))
        .map(|(k, v)| (k.clone(), a.get(k.as_str()).cloned().unwrap_or_default(), v.clone()))
        .collect()
}
