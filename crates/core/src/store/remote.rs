//! Events from elsewhere (sync, import): accepted when their envelope and payload are valid,
//! whatever the progression says, because they are facts recorded offline on another laptop.
//! Irregularities surface as anomalies in the fold. Applying is idempotent by event id.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};

use rusqlite::{Connection, TransactionBehavior};
use serde::Serialize;

use super::rows::{
    differing_fields, event_by_id, event_from_row, insert_event, insert_statement, stream_events_except,
    ProjectionRows, EVENT_COLUMNS,
};
use super::{Result, Store, StoreError};
use crate::event::Event;
use crate::fold::{can_continue, continue_projection, fold_projection_parsed, CampaignState};
use crate::ids::CampaignId;
use crate::payload::{EventType, Payload};

/// What applying remote events did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteReport {
    /// Events newly stored.
    pub inserted: usize,
    /// Events already stored with identical content.
    pub already_present: usize,
    /// Campaign projections updated (a campaign counts once per batch).
    pub campaigns_touched: usize,
}

impl RemoteReport {
    fn add(&mut self, other: RemoteReport) {
        self.inserted += other.inserted;
        self.already_present += other.already_present;
        self.campaigns_touched += other.campaigns_touched;
    }
}

/// Events applied together when importing a file (one projection update per campaign each).
const IMPORT_BATCH: usize = 1000;

impl Store {
    /// Applies events recorded elsewhere in one transaction: each is checked (envelope and
    /// payload, not the progression), and an id already stored with other content is refused,
    /// so either the whole batch is applied or nothing is.
    pub fn apply_remote(&mut self, events: &[Event]) -> Result<RemoteReport> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let report = apply_batch(&tx, events)?;
        tx.commit()?;
        Ok(report)
    }

    /// Writes every event as one JSON object per line, in id order. Returns how many.
    pub fn export(&self, out: &mut impl Write) -> Result<usize> {
        let io = |error| StoreError::Io { context: "cannot write the export".into(), error };
        let mut stmt = self.conn.prepare(&format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY id"))?;
        let mut rows = stmt.query([])?;
        let mut count = 0;
        while let Some(row) = rows.next()? {
            let event = event_from_row(row)?;
            serde_json::to_writer(&mut *out, &event).map_err(|e| io(e.into()))?;
            out.write_all(b"\n").map_err(io)?;
            count += 1;
        }
        out.flush().map_err(io)?;
        Ok(count)
    }

    /// Applies a JSON Lines export as remote events, in one transaction: a bad line (named by
    /// its number and field) leaves the database as it was.
    pub fn import(&mut self, input: impl BufRead) -> Result<RemoteReport> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut total = RemoteReport::default();
        let mut batch = Vec::with_capacity(IMPORT_BATCH);
        let mut first_line = 1;
        let flush = |batch: &mut Vec<Event>, first_line: usize, total: &mut RemoteReport| -> Result<()> {
            let report = apply_batch(&tx, batch).map_err(|error| StoreError::ImportLine {
                line: first_line + batch.len() - 1,
                error: Box::new(error),
            })?;
            total.add(report);
            batch.clear();
            Ok(())
        };
        for (index, line) in input.lines().enumerate() {
            let line_no = index + 1;
            let line = line
                .map_err(|error| StoreError::Io { context: format!("cannot read line {line_no}"), error })?;
            if line.trim().is_empty() {
                continue;
            }
            let event = Event::from_json(&line).map_err(|error| StoreError::ImportLine {
                line: line_no,
                error: Box::new(StoreError::InvalidEvent { id: "(unreadable)".into(), error }),
            })?;
            event.check().map_err(|error| StoreError::ImportLine {
                line: line_no,
                error: Box::new(StoreError::InvalidEvent { id: event.id.to_string(), error }),
            })?;
            if batch.is_empty() {
                first_line = line_no;
            }
            batch.push(event);
            if batch.len() == IMPORT_BATCH {
                flush(&mut batch, first_line, &mut total)?;
            }
        }
        if !batch.is_empty() {
            flush(&mut batch, first_line, &mut total)?;
        }
        tx.commit()?;
        Ok(total)
    }
}

/// Checks and stores `events` and updates the projections they touch, inside the caller's
/// transaction.
pub(super) fn apply_batch(conn: &Connection, events: &[Event]) -> Result<RemoteReport> {
    let mut checked = Vec::with_capacity(events.len());
    for event in events {
        let payload =
            event.check().map_err(|error| StoreError::InvalidEvent { id: event.id.to_string(), error })?;
        checked.push((event, payload));
    }
    let mut report = RemoteReport::default();
    let mut fresh: BTreeMap<&CampaignId, Vec<(&Event, Payload)>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut insert = insert_statement(conn)?;
    for (event, payload) in checked {
        if !seen.insert(&event.id) {
            report.already_present += 1;
            continue;
        }
        let data = serde_json::to_string(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if !insert_event(conn, &mut insert, event, &data)? {
            // Already stored (a redelivery): only then build the canonical envelope to compare.
            let existing = event_by_id(conn, event.id.as_str())?
                .ok_or_else(|| StoreError::Corrupt(format!("event {} vanished", event.id)))?;
            let canonical = Event { data: payload.to_value(), ..event.clone() };
            if existing != canonical {
                return Err(StoreError::IdReused {
                    id: event.id.clone(),
                    detail: differences(&existing, &canonical),
                });
            }
            report.already_present += 1;
            continue;
        }
        report.inserted += 1;
        fresh.entry(&event.stream_id).or_default().push((event, payload));
    }
    let mut projections = ProjectionRows::new(conn)?;
    for (campaign, mut new_events) in fresh {
        new_events.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        let before = projections.load(campaign)?;
        let before_status = before.as_ref().map(|s| s.status);
        // Continued from the stored projection where that provably equals a replay (see
        // `can_continue`); otherwise the stream is replayed (design invariant 4).
        let state = if can_continue(before.as_ref(), &new_events) {
            let canonical = canonical(&new_events, &[]);
            let payloads = new_events.into_iter().map(|(_, payload)| payload);
            continue_projection(before, canonical.iter().map(Cow::as_ref).zip(payloads).collect())
        } else {
            replay(conn, campaign, new_events)?
        };
        let state = state.ok_or_else(|| StoreError::Corrupt(format!("campaign {campaign} has no events")))?;
        projections.save(&state, before_status)?;
        report.campaigns_touched += 1;
    }
    Ok(report)
}

/// A campaign's projection folded from its stored events and the batch's new ones
/// (`new_events`, sorted by id). The new events are already parsed: they are folded from memory,
/// and only the older ones are read.
fn replay(
    conn: &Connection,
    campaign: &CampaignId,
    new_events: Vec<(&Event, Payload)>,
) -> Result<Option<CampaignState>> {
    let older = stream_events_except(conn, campaign, |id| {
        new_events.binary_search_by(|(e, _)| e.id.as_str().cmp(id)).is_ok()
    })?;
    let canonical = canonical(&new_events, &older);
    let parsed = new_events.into_iter().map(|(_, payload)| Some(payload));
    let new = canonical.iter().map(Cow::as_ref).zip(parsed);
    Ok(fold_projection_parsed(older.iter().map(|e| (e, None)).chain(new)))
}

/// New events as a fold of the stored stream would see them. A correction compares its `was`
/// with its target's stored payload, which is the canonical form of the checked one, so the
/// corrections and the events that any correction (of `events` or of `older`) names get that
/// form; the fold reads no other event's `data`, since their parsed payloads are used.
fn canonical<'e>(events: &[(&'e Event, Payload)], older: &[Event]) -> Vec<Cow<'e, Event>> {
    fn target(e: &Event) -> Option<&str> {
        (e.event_type == EventType::EventCorrected).then(|| e.data.get("correctsEventId")?.as_str()).flatten()
    }
    let named: BTreeSet<&str> = events.iter().map(|(e, _)| *e).chain(older).filter_map(target).collect();
    events
        .iter()
        .map(|(e, payload)| {
            if e.event_type == EventType::EventCorrected || named.contains(e.id.as_str()) {
                Cow::Owned(Event { data: payload.to_value(), ..(*e).clone() })
            } else {
                Cow::Borrowed(*e)
            }
        })
        .collect()
}

fn differences(a: &Event, b: &Event) -> String {
    let fields: Vec<String> = differing_fields(a, b).into_iter().map(|(k, _, _)| k).collect();
    format!("it differs in {}", fields.join(", "))
}
