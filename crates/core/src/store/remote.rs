//! Events from elsewhere (sync, import): accepted when their envelope and payload are valid,
//! whatever the progression says, because they are facts recorded offline on another laptop.
//! Irregularities surface as anomalies in the fold. Applying is idempotent by event id. Events
//! that a newer Pluto wrote are kept as received (see [`crate::incoming`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use serde_json::Value;

use super::rows::{
    differing_fields, event_by_id, event_from_row, insert_event, insert_statement, stream_events,
    stream_events_except, ProjectionRows, RowText, EVENT_COLUMNS,
};
use super::search::{values_of, SearchRows};
use super::{Result, Store, StoreError};
use crate::event::Event;
use crate::fold::{
    can_continue, continue_projection, fold_projection, fold_projection_parsed, CampaignState,
};
use crate::ids::CampaignId;
use crate::incoming::Incoming;
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
    /// Pulled events left out because no version of Pluto could read them, or because their id
    /// or sequence number already holds another event here (see [`Store::pull_refusals`]).
    pub refused: usize,
}

impl RemoteReport {
    fn add(&mut self, other: RemoteReport) {
        self.inserted += other.inserted;
        self.already_present += other.already_present;
        self.campaigns_touched += other.campaigns_touched;
        self.refused += other.refused;
    }
}

/// Events applied together when importing a file (one projection update per campaign each).
const IMPORT_BATCH: usize = 1000;

impl Store {
    /// Applies events recorded elsewhere in one transaction: each is checked (envelope and
    /// payload, not the progression), and an id already stored with other content is refused,
    /// so either the whole batch is applied or nothing is. For events this build writes itself;
    /// events that other versions of Pluto may have written arrive through [`Store::import`] and
    /// [`Store::apply_pulled`], which read them with [`Incoming::read`].
    pub fn apply_remote(&mut self, events: &[Event]) -> Result<RemoteReport> {
        let mut arrivals = Vec::with_capacity(events.len());
        for event in events {
            let payload = event
                .check()
                .map_err(|error| StoreError::InvalidEvent { id: event.id.to_string(), error })?;
            arrivals.push(Arrival {
                event,
                type_name: event.event_type.as_str(),
                payload: Some(payload),
                raw: None,
            });
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let report = apply_batch(&tx, arrivals, None)?;
        tx.commit()?;
        Ok(report)
    }

    /// Writes every event as one JSON object per line, in id order. Returns how many. An event
    /// written by a newer Pluto is written exactly as it was received.
    pub fn export(&self, out: &mut impl Write) -> Result<usize> {
        let io = |error| StoreError::Io { context: "cannot write the export".into(), error };
        let mut stmt = self.conn.prepare(&format!("SELECT {EVENT_COLUMNS}, raw FROM events ORDER BY id"))?;
        let mut rows = stmt.query([])?;
        let mut count = 0;
        while let Some(row) = rows.next()? {
            match row.get_ref(10)?.as_str_or_null().map_err(|e| StoreError::Corrupt(e.to_string()))? {
                Some(raw) => out.write_all(raw.as_bytes()).map_err(io)?,
                None => serde_json::to_writer(&mut *out, &event_from_row(row)?).map_err(|e| io(e.into()))?,
            }
            out.write_all(b"\n").map_err(io)?;
            count += 1;
        }
        out.flush().map_err(io)?;
        Ok(count)
    }

    /// Applies a JSON Lines export as remote events, in one transaction: a line that no version
    /// of Pluto could read (named by its number and field) leaves the database as it was; events
    /// of a newer Pluto are kept as they are.
    pub fn import(&mut self, input: impl BufRead) -> Result<RemoteReport> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut total = RemoteReport::default();
        let mut batch = Vec::with_capacity(IMPORT_BATCH);
        let mut first_line = 1;
        let flush = |batch: &mut Vec<Incoming>, first_line: usize, total: &mut RemoteReport| -> Result<()> {
            let last_line = first_line + batch.len() - 1;
            let report = apply_batch(&tx, arrivals(batch), None)
                .map_err(|error| StoreError::ImportLine { line: last_line, error: Box::new(error) })?;
            total.add(report);
            batch.clear();
            Ok(())
        };
        for (index, line) in input.lines().enumerate() {
            let line_no = index + 1;
            let line = line
                .map_err(|error| StoreError::Io { context: format!("cannot read line {line_no}"), error })?;
            // A file saved by Windows' Notepad or Excel may start with a byte-order mark: it marks
            // the file's encoding and is no part of the first event.
            let line = if line_no == 1 { line.strip_prefix('\u{feff}').unwrap_or(&line) } else { &line };
            // An audit export's manifest line describes the events; it is not one.
            if line.trim().is_empty() || line.starts_with(crate::audit::MANIFEST_PREFIX) {
                continue;
            }
            let incoming = Incoming::read(line).map_err(|malformed| StoreError::ImportLine {
                line: line_no,
                error: Box::new(StoreError::InvalidEvent {
                    id: malformed.id.unwrap_or_else(|| "(unreadable)".into()),
                    error: malformed.error,
                }),
            })?;
            if batch.is_empty() {
                first_line = line_no;
            }
            batch.push(incoming);
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

/// One event to store: borrowed from the caller, with its checked payload when this build
/// reads it fully, or the envelope as received when it does not.
pub(super) struct Arrival<'a> {
    pub event: &'a Event,
    pub type_name: &'a str,
    pub payload: Option<Payload>,
    pub raw: Option<&'a str>,
}

/// The arrivals of events read with the tolerant reader (their payloads move into them).
pub(super) fn arrivals(incoming: &mut [Incoming]) -> Vec<Arrival<'_>> {
    incoming
        .iter_mut()
        .map(|i| {
            let payload = i.payload.take();
            Arrival { event: &i.event, type_name: &i.type_name, payload, raw: i.raw.as_deref() }
        })
        .collect()
}

/// Stores `arrivals` and updates the projections they touch, inside the caller's transaction.
/// An event whose id or device sequence number already holds another event fails the batch,
/// or, given `clashes`, is left out and listed there by its index in `arrivals`.
pub(super) fn apply_batch(
    conn: &Connection,
    arrivals: Vec<Arrival<'_>>,
    mut clashes: Option<&mut Vec<(usize, StoreError)>>,
) -> Result<RemoteReport> {
    let mut report = RemoteReport::default();
    let mut fresh: BTreeMap<&CampaignId, Vec<(&Event, Payload)>> = BTreeMap::new();
    // Streams with an event this build does not fully read: folded again from the store.
    let mut replayed: BTreeSet<&CampaignId> = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut insert = insert_statement(conn)?;
    // The new entries' text values per campaign: each document is written once per batch.
    let mut findable: BTreeMap<&CampaignId, Vec<String>> = BTreeMap::new();
    for (index, arrival) in arrivals.into_iter().enumerate() {
        let event = arrival.event;
        if !seen.insert(&event.id) {
            report.already_present += 1;
            continue;
        }
        match store(conn, &mut insert, &arrival) {
            Ok(true) => {
                report.inserted += 1;
                findable.entry(&event.stream_id).or_default().extend(values_of(event));
            }
            Ok(false) => {
                report.already_present += 1;
                continue;
            }
            Err(error) if error.is_refusal() && clashes.is_some() => {
                if let Some(clashes) = clashes.as_mut() {
                    clashes.push((index, error));
                }
                continue;
            }
            Err(error) => return Err(error),
        }
        match (arrival.payload, arrival.raw) {
            (Some(payload), None) => fresh.entry(&event.stream_id).or_default().push((event, payload)),
            _ => {
                replayed.insert(&event.stream_id);
            }
        }
    }
    let mut search = SearchRows::new(conn);
    for (campaign, entries) in findable {
        search.add(campaign, entries)?;
    }
    let mut projections = ProjectionRows::new(conn)?;
    for campaign in &replayed {
        let before = projections.load(campaign)?.map(|s| s.status);
        let state = fold_projection(&stream_events(conn, campaign)?)
            .ok_or_else(|| StoreError::Corrupt(format!("campaign {campaign} has no events")))?;
        projections.save(&state, before)?;
        report.campaigns_touched += 1;
    }
    for (campaign, mut new_events) in fresh {
        if replayed.contains(campaign) {
            continue;
        }
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

/// Inserts one arrival; `false` when the same event is stored already. The same id with other
/// content is [`StoreError::IdReused`].
fn store(conn: &Connection, insert: &mut rusqlite::Statement<'_>, arrival: &Arrival<'_>) -> Result<bool> {
    let event = arrival.event;
    let data = match (&arrival.payload, arrival.raw) {
        (Some(payload), None) => event.canonical_text(payload),
        _ => event.data.to_string(),
    };
    if insert_event(
        conn,
        insert,
        event,
        RowText { event_type: arrival.type_name, data: &data, raw: arrival.raw },
    )? {
        return Ok(true);
    }
    // Already stored (a redelivery): only then build the forms to compare.
    let existing = event_by_id(conn, event.id.as_str())?
        .ok_or_else(|| StoreError::Corrupt(format!("event {} vanished", event.id)))?;
    let received = Event {
        data: arrival.payload.as_ref().map_or_else(|| event.data.clone(), |p| event.canonical_data(p)),
        ..event.clone()
    };
    let same = match (arrival.raw, stored_raw(conn, event.id.as_str())?) {
        (Some(raw), Some(stored)) => {
            serde_json::from_str::<Value>(raw).ok() == serde_json::from_str::<Value>(&stored).ok()
        }
        (None, None) => existing == received,
        _ => false,
    };
    if same {
        return Ok(false);
    }
    Err(StoreError::IdReused { id: event.id.clone(), detail: differences(&existing, &received) })
}

/// The envelope kept as received for the stored event `id`, if it has one.
fn stored_raw(conn: &Connection, id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT raw FROM events WHERE id = ?1")?
        .query_row([id], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
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
                Cow::Owned(Event { data: e.canonical_data(payload), ..(*e).clone() })
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
