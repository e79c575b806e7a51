//! Find: campaigns by their code, description and every reference their entries carry (tracking
//! references, tickets, batch and PO numbers, carriers, approvers), through an SQLite FTS5 index.
//!
//! Each entry with text values is one row of the index, under its place in the log (`seq`). An
//! entry recorded on this laptop is written, in its own transaction, to `search_pending` (a small
//! table find reads beside the index) and moves into the index with the next entries, 64 at a
//! time: the index's own cost of a write (a new segment, its place in the structure) is paid once
//! per batch, and a find never misses a recorded entry. A sync page or an import is indexed at
//! once, as one batch. The index keeps no copy of the text (the events hold it): only which
//! entries hold which words, and every word's first one to four characters, so that a word typed
//! in part is one list to read, not a merge of every word it begins. `rebuild` builds the index
//! again from the events, and `verify` checks that it holds exactly the entries that have
//! something to find. Where a value was recorded (`Granulation — MBA process ticket`) is read
//! from the found campaigns' entries when a find shows them.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::query::{summary, CampaignSummary, SUMMARY_COLUMNS};
use super::rows::{event_from_row, EVENT_COLUMNS};
use super::{Result, Store, StoreError};
use crate::meta::{get_meta, set_meta};
use pluto_domain::event::Event;
use pluto_domain::ids::CampaignId;
use pluto_domain::registry::fields::FieldKind;
use pluto_domain::registry::EventType;

/// Which fields the index holds and how; stored in meta, so that a build that indexes
/// differently builds the index again when it first opens the file. Version 2: one row per
/// entry, with prefix indexes and the pending entries beside it.
const SEARCH_VERSION: &str = "2";
const SEARCH_META: &str = "search_index";

/// The longest prefix the index keeps of each word (migration 13's `prefix='1 2 3 4'`).
const INDEXED_PREFIX: usize = 4;

/// How many entries recorded here wait in `search_pending` before they move into the index.
const PENDING_BATCH: i64 = 64;

/// One searchable value of an entry, with where it was recorded.
struct Entry<'e> {
    /// The type of the entry the value belongs to (a correction's: the corrected type).
    event_type: EventType,
    /// The field's label.
    label: &'static str,
    /// Whether a correction set it.
    corrected: bool,
    value: &'e str,
}

impl Entry<'_> {
    /// Where it was recorded, in words (`Granulation — MBA process ticket`).
    fn place(&self) -> String {
        let corrected = if self.corrected { " (corrected)" } else { "" };
        format!("{} — {}{corrected}", self.event_type.label(), self.label)
    }

    /// The value as the index keeps it: one line (line breaks inside become spaces).
    fn text(&self) -> String {
        self.value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
    }
}

/// The searchable entries of one event: each text value it records, a correction's new text
/// values included. Nothing for an event this build does not know, a void or a review. Borrows from the event, so
/// that building documents allocates only the values kept.
fn entries_of(event: &Event) -> Vec<Entry<'_>> {
    fn text(value: &Value) -> Option<&str> {
        value.as_str().map(str::trim).filter(|v| !v.is_empty())
    }
    let mut out = Vec::new();
    if matches!(event.event_type, EventType::EntryVoided | EventType::AnomalyReviewed) {
        // Reasons and notes about other entries, not references anyone searches by.
        return out;
    }
    if event.event_type == EventType::EventCorrected {
        let corrected = event.data.get("correctsEventType").and_then(Value::as_str).map(EventType::parse);
        let (Some(Ok(corrected)), Some(Value::Object(changes))) = (corrected, event.data.get("changes"))
        else {
            return out;
        };
        for (field, change) in changes {
            let spec = corrected.field(field).filter(|s| s.kind == FieldKind::Text);
            if let (Some(spec), Some(value)) = (spec, change.get("now").and_then(text)) {
                out.push(Entry { event_type: corrected, label: spec.label, corrected: true, value });
            }
        }
        return out;
    }
    for spec in event.event_type.fields().iter().filter(|s| s.kind == FieldKind::Text) {
        if let Some(value) = event.data.get(spec.name).and_then(text) {
            out.push(Entry { event_type: event.event_type, label: spec.label, corrected: false, value });
        }
    }
    out
}

/// The values one event adds to its campaign's document.
pub(super) fn values_of(event: &Event) -> Vec<String> {
    entries_of(event).iter().map(Entry::text).collect()
}

/// The words of `text` as the index splits them: runs of letters and digits, lower case.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

/// Where a find matched: the entry's place and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FoundIn {
    /// Where it was recorded (`Inbound Shipment — Tracking reference`).
    pub place: String,
    /// The value that matched.
    pub value: String,
}

/// A campaign a find matched, with the entries that matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FoundCampaign {
    /// The campaign as the list shows it.
    pub campaign: CampaignSummary,
    /// The entries whose words start with the words searched for.
    pub found_in: Vec<FoundIn>,
}

/// Adds entries to find inside the caller's transaction.
pub(super) struct SearchRows<'c> {
    conn: &'c Connection,
}

impl<'c> SearchRows<'c> {
    pub(super) fn new(conn: &'c Connection) -> Self {
        SearchRows { conn }
    }

    /// Indexes the text values of the entry stored at `seq`, in the batch being written (a sync
    /// page, an import, a rebuild); nothing for an entry without any.
    pub(super) fn add(&mut self, seq: i64, values: &[String]) -> Result<()> {
        if !values.is_empty() {
            self.conn
                .prepare_cached("INSERT INTO search_index (rowid, refs) VALUES (?1, ?2)")?
                .execute(params![seq, values.join("\n")])?;
        }
        Ok(())
    }

    /// Makes the entry at `seq`, recorded on its own, findable: it waits in `search_pending`,
    /// and with the entries before it moves into the index once they are [`PENDING_BATCH`].
    pub(super) fn add_recorded(&mut self, seq: i64, values: &[String]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        self.conn
            .prepare_cached("INSERT INTO search_pending (seq, refs) VALUES (?1, ?2)")?
            .execute(params![seq, values.join("\n")])?;
        let pending: i64 =
            self.conn.prepare_cached("SELECT COUNT(*) FROM search_pending")?.query_row([], |r| r.get(0))?;
        if pending >= PENDING_BATCH {
            self.conn
                .prepare_cached(
                    "INSERT INTO search_index (rowid, refs) SELECT seq, refs FROM search_pending",
                )?
                .execute([])?;
            self.conn.prepare_cached("DELETE FROM search_pending")?.execute([])?;
        }
        Ok(())
    }
}

/// Indexes the entry at `seq` again with `values`, in place of what the index held of it (after
/// an update taught this build to read an entry it had kept as received).
pub(super) fn reindex(conn: &Connection, seq: i64, values: &[String]) -> Result<()> {
    conn.prepare_cached("DELETE FROM search_pending WHERE seq = ?1")?.execute([seq])?;
    conn.prepare_cached("DELETE FROM search_index WHERE rowid = ?1")?.execute([seq])?;
    SearchRows::new(conn).add(seq, values)
}

/// Empties the index, so that [`SearchRows::add`] can fill it again from every entry, and marks
/// it built the way this build builds it.
pub(super) fn clear(conn: &Connection) -> Result<()> {
    conn.execute("INSERT INTO search_index (search_index) VALUES ('delete-all')", [])?;
    conn.execute("DELETE FROM search_pending", [])?;
    set_meta(conn, SEARCH_META, Some(SEARCH_VERSION))
}

/// Whether the stored index was built the way this build builds it.
pub(super) fn is_current(conn: &Connection) -> Result<bool> {
    Ok(get_meta(conn, SEARCH_META)?.as_deref() == Some(SEARCH_VERSION))
}

/// The entries (their `seq`) find holds, in the index or waiting beside it; an entry in both
/// is listed twice.
pub(super) fn indexed_entries(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare("SELECT rowid FROM search_index UNION ALL SELECT seq FROM search_pending")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Checks the index's own structure (FTS5's integrity check); `Err` holds the problem.
pub(super) fn check_index(conn: &Connection) -> Result<std::result::Result<(), String>> {
    match conn.execute("INSERT INTO search_index (search_index, rank) VALUES ('integrity-check', 1)", []) {
        Ok(_) => Ok(Ok(())),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            Ok(Err(e.to_string()))
        }
        Err(e) => Err(StoreError::from(e)),
    }
}

/// The index query for `wanted`: every word whole, or (`whole` false) every word as a prefix,
/// cut to the longest prefix the index keeps, so that each is one list the index reads in order
/// and can skip through. A cut word finds more than it asks for; [`Store::find`] keeps only the
/// entries that hold every word.
fn index_query(wanted: &[String], whole: bool) -> String {
    // Each word quoted (it holds only letters and digits).
    let term = |w: &String| match whole {
        true => format!("\"{w}\""),
        false => format!("\"{}\"*", w.chars().take(INDEXED_PREFIX).collect::<String>()),
    };
    wanted.iter().map(term).collect::<Vec<_>>().join(" AND ")
}

/// The campaigns found so far, in the order found, each with the values that matched (and how
/// many of the words each holds).
type Found = Vec<(CampaignId, Vec<(usize, FoundIn)>)>;

impl Store {
    /// The campaigns with an entry (its code and description included) whose words start with
    /// the words of `text` (any order, any case; punctuation ignored, so `DHL-123456`,
    /// `dhl 123456` and `123456` all find the same bag), at most `limit`, each with the entries
    /// that matched. Entries holding every word whole come first (a code or reference typed out
    /// or scanned: `LEGO-2026-1` before `LEGO-2026-12`, which holds `1` only as a beginning), then
    /// the others; within each, the most recently recorded match first.
    pub fn find(&self, text: &str, limit: u32) -> Result<Vec<FoundCampaign>> {
        let wanted: Vec<String> = words(text).collect();
        if wanted.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let columns = EVENT_COLUMNS.split(", ").map(|c| format!("e.{c}")).collect::<Vec<_>>().join(", ");
        // The entries waiting beside the index (at most a batch), newest first.
        let mut pending = self.conn.prepare_cached(&format!(
            "SELECT {columns}, p.seq FROM search_pending p JOIN events e ON e.seq = p.seq ORDER BY p.seq DESC"
        ))?;
        let mut waiting = Vec::new();
        let mut rows = pending.query([])?;
        while let Some(row) = rows.next()? {
            waiting.push((row.get::<_, i64>(10)?, event_from_row(row)?));
        }
        drop(rows);
        let mut found: Found = Vec::new();
        for whole in [true, false] {
            if found.len() >= limit as usize {
                break;
            }
            self.find_pass(&columns, &wanted, whole, &waiting, limit as usize, &mut found)?;
        }
        let mut campaign = self
            .conn
            .prepare_cached(&format!("SELECT {SUMMARY_COLUMNS} FROM campaign_projections WHERE id = ?1"))?;
        let mut out = Vec::with_capacity(found.len());
        for (id, places) in found {
            let Some(summary) = campaign.query_row([id.as_str()], summary).optional()? else {
                continue;
            };
            // Where it matched: the values that hold the most of the words.
            let most = places.iter().map(|(n, _)| *n).max().unwrap_or(0);
            // Each value once: an entry holding every word whole matched in both passes.
            let mut found_in: Vec<FoundIn> = Vec::new();
            for (_, place) in places.into_iter().filter(|(n, _)| *n == most) {
                if !found_in.contains(&place) {
                    found_in.push(place);
                }
            }
            out.push(FoundCampaign { campaign: summary, found_in });
        }
        Ok(out)
    }

    /// Adds to `found`, up to `limit` campaigns, those with an entry holding every word of
    /// `wanted` (whole, or as the beginning of a word), the most recent match first: the entries
    /// `waiting` beside the index and the index's, merged by their place in the log.
    fn find_pass(
        &self,
        columns: &str,
        wanted: &[String],
        whole: bool,
        waiting: &[(i64, Event)],
        limit: usize,
        found: &mut Found,
    ) -> Result<()> {
        let mut waiting = waiting.iter().peekable();
        let mut hits = self.conn.prepare_cached(&format!(
            "SELECT {columns}, search_index.rowid FROM search_index JOIN events e ON e.seq = search_index.rowid
             WHERE search_index MATCH ?1 ORDER BY search_index.rowid DESC"
        ))?;
        let mut rows = hits.query([index_query(wanted, whole)])?;
        let mut indexed = std::iter::from_fn(|| {
            rows.next().transpose().map(|row| {
                let row = row?;
                Ok::<_, StoreError>((row.get::<_, i64>(10)?, event_from_row(row)?))
            })
        })
        .peekable();
        loop {
            let newer_waiting = match (waiting.peek(), indexed.peek()) {
                (None, None) => break,
                (Some((w, _)), Some(Ok((i, _)))) => w > i,
                (Some(_), None) => true,
                (_, Some(_)) => false,
            };
            let event = if newer_waiting {
                match waiting.next() {
                    Some((_, event)) => std::borrow::Cow::Borrowed(event),
                    None => break,
                }
            } else {
                match indexed.next() {
                    Some(next) => std::borrow::Cow::Owned(next?.1),
                    None => break,
                }
            };
            // The index was read by the words' first characters: keep the entries that hold
            // every word.
            let matched = matches(&event, wanted, whole);
            if matched.is_empty() {
                continue;
            }
            match found.iter().position(|(id, _)| *id == event.stream_id) {
                Some(at) => found[at].1.extend(matched),
                None if found.len() < limit => found.push((event.stream_id.clone(), matched)),
                None => break,
            }
        }
        Ok(())
    }
}

/// Where `event` holds every word of `wanted` (each one of its values' words, or with `whole`
/// false the beginning of one): each of its values that holds any, with how many. Empty when it
/// does not hold them all.
fn matches(event: &Event, wanted: &[String], whole: bool) -> Vec<(usize, FoundIn)> {
    let entries = entries_of(event);
    let held: Vec<Vec<bool>> = entries
        .iter()
        .map(|e| {
            let have: Vec<String> = words(e.value).collect();
            let holds =
                |q: &String| have.iter().any(|w| if whole { w == q } else { w.starts_with(q.as_str()) });
            wanted.iter().map(holds).collect()
        })
        .collect();
    if !(0..wanted.len()).all(|i| held.iter().any(|h| h[i])) {
        return Vec::new();
    }
    entries
        .iter()
        .zip(&held)
        .map(|(e, h)| (h.iter().filter(|x| **x).count(), e))
        .filter(|(n, _)| *n > 0)
        .map(|(n, e)| (n, FoundIn { place: e.place(), value: e.text() }))
        .collect()
}
