//! Events from elsewhere (sync, import): accepted when their envelope and payload are valid,
//! whatever the progression says, because they are facts recorded offline on another laptop.
//! Irregularities surface as anomalies in the fold. Applying is idempotent by event id. Events
//! that a newer Pluto wrote are kept as received (see [`pluto_domain::incoming`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, Write};

use rusqlite::{params, Connection, TransactionBehavior};
use serde::Serialize;
use serde_json::Value;

use super::rows::{
    differing_fields, event_by_id, event_from_row, insert_event, insert_statement, stream_events_marked,
    OrderMark, ProjectionRows, RowText, CANONICAL_ORDER, EVENT_COLUMNS,
};
use super::search::{values_of, SearchRows};
use super::{Result, Store, StoreError};
use pluto_domain::event::Event;
use pluto_domain::fold::{can_continue, continue_projection, fold_projection_parsed};
use pluto_domain::ids::{CampaignId, EventId};
use pluto_domain::incoming::Incoming;
use pluto_domain::registry::{EventType, Payload};
use pluto_domain::state::CampaignState;

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
                position: None,
                site: None,
            });
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let report = apply_batch(&tx, arrivals, None)?;
        tx.commit()?;
        Ok(report)
    }

    /// Writes every event as one JSON object per line, in the log's order (the server's order,
    /// then this laptop's). Returns how many. An event written by a newer Pluto is written
    /// exactly as it was received.
    pub fn export(&self, out: &mut impl Write) -> Result<usize> {
        let io = |error| StoreError::Io { context: "cannot write the export".into(), error };
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {EVENT_COLUMNS}, raw FROM events ORDER BY {CANONICAL_ORDER}"))?;
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
    /// Its position in the sync server's log, when it was pulled from there.
    pub position: Option<i64>,
    /// The site the sync server attests for it, when it was pulled from there.
    pub site: Option<&'a str>,
}

/// The arrivals of events read with the tolerant reader (their payloads move into them).
pub(super) fn arrivals(incoming: &mut [Incoming]) -> Vec<Arrival<'_>> {
    incoming
        .iter_mut()
        .map(|i| {
            let payload = i.payload.take();
            Arrival {
                event: &i.event,
                type_name: &i.type_name,
                payload,
                raw: i.raw.as_deref(),
                position: None,
                site: None,
            }
        })
        .collect()
}

/// What a batch brought to one campaign.
#[derive(Default)]
struct Touched<'a> {
    /// New events this build reads fully, with their server position if pulled.
    fresh: Vec<(&'a Event, Payload, Option<i64>)>,
    /// Events stored before that the server now confirmed: (local seq, server position).
    confirmed: Vec<(i64, i64)>,
    /// Whether a new event this build does not read fully arrived (the stream is folded again).
    replay: bool,
}

/// Stores `arrivals` and updates the projections they touch, inside the caller's transaction.
/// A pulled event already stored here without a server position is confirmed at its position.
/// An event whose id or device sequence number already holds another event fails the batch,
/// or, given `clashes`, is left out and listed there by its index in `arrivals`.
pub(super) fn apply_batch(
    conn: &Connection,
    arrivals: Vec<Arrival<'_>>,
    mut clashes: Option<&mut Vec<(usize, StoreError)>>,
) -> Result<RemoteReport> {
    let mut report = RemoteReport::default();
    let mut touched: BTreeMap<&CampaignId, Touched> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut insert = insert_statement(conn)?;
    // The new entries' text values are indexed as each is stored; the index writes them at the
    // batch's commit, as one segment.
    let mut search = SearchRows::new(conn);
    for (index, arrival) in arrivals.into_iter().enumerate() {
        let event = arrival.event;
        if !seen.insert(&event.id) {
            report.already_present += 1;
            continue;
        }
        match store(conn, &mut insert, &arrival) {
            Ok(Stored::New(seq)) => {
                report.inserted += 1;
                search.add(seq, &values_of(event))?;
            }
            Ok(Stored::Present) => {
                report.already_present += 1;
                continue;
            }
            Ok(Stored::Confirmed { seq, position }) => {
                report.already_present += 1;
                touched.entry(&event.stream_id).or_default().confirmed.push((seq, position));
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
        let campaign = touched.entry(&event.stream_id).or_default();
        match (arrival.payload, arrival.raw) {
            (Some(payload), None) => campaign.fresh.push((event, payload, arrival.position)),
            _ => campaign.replay = true,
        }
    }
    let mut projections = ProjectionRows::new(conn)?;
    for (campaign, batch) in touched {
        let loaded = projections.load_marked(campaign)?;
        let before_status = loaded.as_ref().map(|(s, _)| s.status);
        let (before, mut mark) = loaded.map_or((None, OrderMark::default()), |(s, m)| (Some(s), m));
        let mut fresh = batch.fresh;
        // Pulled events in the server's order, then imported ones as they came.
        fresh.sort_by_key(|(_, _, position)| (position.is_none(), *position));
        let in_place = !batch.replay && order_kept(conn, campaign, mark, &fresh, &batch.confirmed)?;
        let new_events: Vec<(&Event, Payload)> = fresh.iter().map(|(e, p, _)| (*e, p.clone())).collect();
        // Continued from the stored projection where that provably equals a replay (see
        // `can_continue`); otherwise the stream is folded again in its canonical order.
        let (state, mark) = if in_place && can_continue(before.as_ref(), &new_events) {
            for &(_, position) in &batch.confirmed {
                mark.position = mark.position.max(position);
                mark.pending -= 1;
            }
            for (_, _, position) in &fresh {
                mark.push(*position);
            }
            let state = if new_events.is_empty() {
                before
            } else {
                let canonical = canonical(&new_events);
                let payloads = new_events.into_iter().map(|(_, payload)| payload);
                continue_projection(before, canonical.iter().map(Cow::as_ref).zip(payloads).collect())
            };
            (state, mark)
        } else {
            replay(conn, campaign, fresh)?
        };
        let state = state.ok_or_else(|| StoreError::Corrupt(format!("campaign {campaign} has no events")))?;
        projections.save(&state, mark, before_status)?;
        report.campaigns_touched += 1;
    }
    Ok(report)
}

/// Whether the campaign's canonical order is the folded one with `fresh` (sorted, pulled ones
/// first) appended, given that the server just confirmed `confirmed` (local seq, position):
/// with nothing folded unconfirmed, when every pulled event lies after the folded positions;
/// with unconfirmed events folded (they come last), when nothing new was pulled and the server
/// confirmed the first of them, in their order, after the folded positions.
fn order_kept(
    conn: &Connection,
    campaign: &CampaignId,
    mark: OrderMark,
    fresh: &[(&Event, Payload, Option<i64>)],
    confirmed: &[(i64, i64)],
) -> Result<bool> {
    let mut pulled = fresh.iter().filter_map(|(_, _, position)| *position);
    if mark.pending == 0 {
        return Ok(confirmed.is_empty() && pulled.all(|p| p > mark.position));
    }
    if pulled.next().is_some() {
        return Ok(false);
    }
    if confirmed.is_empty() {
        return Ok(true);
    }
    let mut confirmed = confirmed.to_vec();
    confirmed.sort_unstable();
    let positions_follow = confirmed.windows(2).all(|w| w[0].1 < w[1].1) && confirmed[0].1 > mark.position;
    let still_pending: Option<i64> = conn
        .prepare_cached("SELECT MIN(seq) FROM events WHERE stream_id = ?1 AND server_position IS NULL")?
        .query_row([campaign.as_str()], |r| r.get(0))?;
    let last_confirmed = confirmed.last().map_or(0, |c| c.0);
    Ok(positions_follow && still_pending.is_none_or(|seq| seq > last_confirmed))
}

/// What became of one arrival in the store.
enum Stored {
    /// Inserted, at this place in the log.
    New(i64),
    /// Already stored, identical.
    Present,
    /// Already stored, identical, and confirmed now at the server's position.
    Confirmed {
        /// Its local insertion number.
        seq: i64,
        /// The position the server serves it at.
        position: i64,
    },
}

/// Inserts one arrival, or compares it with the event already stored under its id: the same id
/// with other content is [`StoreError::IdReused`].
fn store(conn: &Connection, insert: &mut rusqlite::Statement<'_>, arrival: &Arrival<'_>) -> Result<Stored> {
    let event = arrival.event;
    let data = match (&arrival.payload, arrival.raw) {
        (Some(payload), None) => event.canonical_text(payload),
        _ => event.data.to_string(),
    };
    let text = RowText {
        event_type: arrival.type_name,
        data: &data,
        raw: arrival.raw,
        position: arrival.position,
        site: arrival.site,
    };
    if let Some(seq) = insert_event(conn, insert, event, text)? {
        return Ok(Stored::New(seq));
    }
    // Already stored (a redelivery): only then build the forms to compare.
    let existing = event_by_id(conn, event.id.as_str())?
        .ok_or_else(|| StoreError::Corrupt(format!("event {} vanished", event.id)))?;
    let received = Event {
        data: arrival.payload.as_ref().map_or_else(|| event.data.clone(), |p| event.canonical_data(p)),
        ..event.clone()
    };
    let (seq, stored_position, stored_site, stored_raw): (i64, Option<i64>, Option<String>, Option<String>) =
        conn.prepare_cached("SELECT seq, server_position, server_site, raw FROM events WHERE id = ?1")?
            .query_row([event.id.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    let same = match (arrival.raw, stored_raw) {
        (Some(raw), Some(stored)) => {
            serde_json::from_str::<Value>(raw).ok() == serde_json::from_str::<Value>(&stored).ok()
        }
        (None, None) => existing == received,
        _ => false,
    };
    if !same {
        return Err(StoreError::IdReused { id: event.id.clone(), detail: differences(&existing, &received) });
    }
    // The site the server attests is kept once, as the event first comes back from it.
    if let (None, Some(site)) = (stored_site, arrival.site) {
        conn.prepare_cached("UPDATE events SET server_site = ?2 WHERE id = ?1")?
            .execute(params![event.id.as_str(), site])?;
    }
    match (stored_position, arrival.position) {
        (None, Some(position)) => {
            conn.prepare_cached("UPDATE events SET server_position = ?2 WHERE id = ?1")?
                .execute(params![event.id.as_str(), position])?;
            conn.prepare_cached("DELETE FROM push_receipts WHERE event_id = ?1")?
                .execute([event.id.as_str()])?;
            Ok(Stored::Confirmed { seq, position })
        }
        _ => Ok(Stored::Present),
    }
}

/// Folds `campaigns` again from their stored events, in their canonical order as it stands
/// now (after server positions changed), inside the caller's transaction.
pub(super) fn refold(conn: &Connection, campaigns: &[String]) -> Result<()> {
    let mut projections = ProjectionRows::new(conn)?;
    for campaign in campaigns {
        let campaign = CampaignId::parse(campaign).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let before_status = projections.load_marked(&campaign)?.map(|(s, _)| s.status);
        let (state, mark) = replay(conn, &campaign, Vec::new())?;
        let state = state.ok_or_else(|| StoreError::Corrupt(format!("campaign {campaign} has no events")))?;
        projections.save(&state, mark, before_status)?;
    }
    Ok(())
}

/// A campaign's projection folded again from all its stored events in canonical order, and
/// where it stands. The batch's new events (`fresh`) are parsed already, and a parsed payload
/// is used as it is.
fn replay(
    conn: &Connection,
    campaign: &CampaignId,
    fresh: Vec<(&Event, Payload, Option<i64>)>,
) -> Result<(Option<CampaignState>, OrderMark)> {
    let (events, mark) = stream_events_marked(conn, campaign)?;
    let mut parsed: HashMap<&EventId, Payload> = fresh.into_iter().map(|(e, p, _)| (&e.id, p)).collect();
    let state = fold_projection_parsed(events.iter().map(|e| (e, parsed.remove(&e.id))));
    Ok((state, mark))
}

/// New events as a fold of the stored stream would see them. A correction compares its `was`
/// with its target's stored payload, which is the canonical form of the checked one, so the
/// corrections and the events they name get that form; the fold reads no other event's `data`,
/// since their parsed payloads are used.
fn canonical<'e>(events: &[(&'e Event, Payload)]) -> Vec<Cow<'e, Event>> {
    fn target(e: &Event) -> Option<&str> {
        (e.event_type == EventType::EventCorrected).then(|| e.data.get("correctsEventId")?.as_str()).flatten()
    }
    let named: BTreeSet<&str> = events.iter().filter_map(|(e, _)| target(e)).collect();
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
