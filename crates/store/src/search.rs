//! Find: campaigns by their code, description and every reference their entries carry (tracking
//! references, tickets, batch and PO numbers, carriers, approvers), through an SQLite FTS5 index.
//!
//! Each campaign has one search document: the set of its entries' text values. The set is a
//! pure function of the campaign's events, whatever order they arrived in, so adding an event's
//! values to it gives what a rebuild gives. It changes in the transaction that stores the event;
//! `rebuild` builds all of them again (FTS5's own bulk rebuild from the documents) and `verify`
//! checks them. Where a value was recorded (`Granulation — MBA process ticket`) is read from the
//! found campaigns' events when a find shows them, so the index holds only what is searched.

use std::collections::BTreeSet;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::query::{summary, CampaignSummary, SUMMARY_COLUMNS};
use super::rows::stream_events;
use super::{Result, Store, StoreError};
use crate::meta::{get_meta, set_meta};
use pluto_domain::event::Event;
use pluto_domain::ids::CampaignId;
use pluto_domain::registry::fields::FieldKind;
use pluto_domain::registry::EventType;

/// Which fields the index holds and how; stored in meta, so that a build that indexes
/// differently builds the index again when it first opens the file.
const SEARCH_VERSION: &str = "1";
const SEARCH_META: &str = "search_index";

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

/// A campaign's document as its events give it.
pub(super) fn document(events: &[Event]) -> BTreeSet<String> {
    events.iter().flat_map(|e| entries_of(e).iter().map(Entry::text).collect::<Vec<_>>()).collect()
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

/// Reads and writes the search documents inside the caller's transaction.
pub(super) struct SearchRows<'c> {
    conn: &'c Connection,
}

impl<'c> SearchRows<'c> {
    pub(super) fn new(conn: &'c Connection) -> Self {
        SearchRows { conn }
    }

    /// Adds values to a campaign's document (set union); writes only when something is new.
    pub(super) fn add(
        &mut self,
        campaign: &CampaignId,
        values: impl IntoIterator<Item = String>,
    ) -> Result<()> {
        let mut values = values.into_iter().peekable();
        if values.peek().is_none() {
            return Ok(());
        }
        let stored: Option<(i64, String)> = self
            .conn
            .prepare_cached("SELECT id, refs FROM search_docs WHERE campaign_id = ?1")?
            .query_row([campaign.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let mut all: BTreeSet<String> =
            stored.as_ref().map(|(_, refs)| refs.lines().map(str::to_owned).collect()).unwrap_or_default();
        let before = all.len();
        all.extend(values);
        if all.len() == before {
            return Ok(());
        }
        let refs = join(&all);
        let id = match stored {
            Some((id, old)) => {
                // External content: the index forgets the old words, given exactly as they were.
                self.conn
                    .prepare_cached(
                        "INSERT INTO search_index (search_index, rowid, refs) VALUES ('delete', ?1, ?2)",
                    )?
                    .execute(params![id, old])?;
                self.conn
                    .prepare_cached("UPDATE search_docs SET refs = ?2 WHERE id = ?1")?
                    .execute(params![id, refs])?;
                id
            }
            None => self.insert(campaign, &refs)?,
        };
        self.index(id, &refs)
    }

    /// Stores a document without indexing it (bulk loads index everything at the end).
    fn insert(&mut self, campaign: &CampaignId, refs: &str) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("INSERT INTO search_docs (campaign_id, refs) VALUES (?1, ?2) RETURNING id")?
            .query_row(params![campaign.as_str(), refs], |r| r.get(0))?)
    }

    fn index(&mut self, id: i64, refs: &str) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO search_index (rowid, refs) VALUES (?1, ?2)")?
            .execute(params![id, refs])?;
        Ok(())
    }
}

fn join(values: &BTreeSet<String>) -> String {
    values.iter().map(String::as_str).collect::<Vec<_>>().join("\n")
}

/// Builds every document again from `streams` (each campaign's events, one campaign at a time)
/// and then the index from the documents in one pass, which FTS5 does several times faster
/// than indexing them one by one.
pub(super) fn fill(
    conn: &Connection,
    streams: impl FnOnce(&mut dyn FnMut(&[Event]) -> Result<()>) -> Result<u64>,
) -> Result<()> {
    conn.execute("DELETE FROM search_docs", [])?;
    let mut rows = SearchRows::new(conn);
    streams(&mut |events: &[Event]| {
        let document = document(events);
        if !document.is_empty() {
            rows.insert(&events[0].stream_id, &join(&document))?;
        }
        Ok(())
    })?;
    conn.execute("INSERT INTO search_index (search_index) VALUES ('rebuild')", [])?;
    set_meta(conn, SEARCH_META, Some(SEARCH_VERSION))
}

/// Whether the stored index was built the way this build builds it.
pub(super) fn is_current(conn: &Connection) -> Result<bool> {
    Ok(get_meta(conn, SEARCH_META)?.as_deref() == Some(SEARCH_VERSION))
}

/// A campaign's stored document (empty when it has none).
pub(super) fn stored_document(conn: &Connection, campaign: &CampaignId) -> Result<BTreeSet<String>> {
    let refs: Option<String> = conn
        .prepare_cached("SELECT refs FROM search_docs WHERE campaign_id = ?1")?
        .query_row([campaign.as_str()], |r| r.get(0))
        .optional()?;
    Ok(refs.iter().flat_map(|r| r.lines().map(str::to_owned)).collect())
}

/// Checks the index against its documents (FTS5's own integrity check); `Err` holds the problem.
pub(super) fn check_index(conn: &Connection) -> Result<std::result::Result<(), String>> {
    match conn.execute("INSERT INTO search_index (search_index, rank) VALUES ('integrity-check', 1)", []) {
        Ok(_) => Ok(Ok(())),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
            Ok(Err(e.to_string()))
        }
        Err(e) => Err(StoreError::from(e)),
    }
}

impl Store {
    /// The campaigns whose code, description or entries hold words starting with the words of
    /// `text` (any order, any case; punctuation ignored, so `DHL-123456`, `dhl 123456` and
    /// `123456` all find the same bag), newest campaign first, at most `limit`.
    pub fn find(&self, text: &str, limit: u32) -> Result<Vec<FoundCampaign>> {
        let wanted: Vec<String> = words(text).collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // Each word quoted (it holds only letters and digits) and taken as a prefix.
        let query = wanted.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" AND ");
        let mut hits = self.conn.prepare_cached(
            "SELECT d.campaign_id FROM search_index JOIN search_docs d ON d.id = search_index.rowid
             WHERE search_index MATCH ?1 ORDER BY search_index.rowid DESC LIMIT ?2",
        )?;
        let ids: Vec<String> =
            hits.query_map(params![query, limit], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        let mut campaign = self
            .conn
            .prepare_cached(&format!("SELECT {SUMMARY_COLUMNS} FROM campaign_projections WHERE id = ?1"))?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(summary) = campaign.query_row([&id], summary).optional()? else {
                continue;
            };
            let campaign_id = CampaignId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            // Where it matched: the entries holding most of the words searched for.
            let matched = |value: &str| -> usize {
                let have: Vec<String> = words(value).collect();
                wanted.iter().filter(|q| have.iter().any(|w| w.starts_with(q.as_str()))).count()
            };
            let events = stream_events(&self.conn, &campaign_id)?;
            let entries: Vec<(Entry, usize)> = events
                .iter()
                .flat_map(entries_of)
                .map(|e| {
                    let n = matched(e.value);
                    (e, n)
                })
                .filter(|(_, n)| *n > 0)
                .collect();
            let best = entries.iter().map(|(_, n)| *n).max().unwrap_or(0);
            let mut found_in: Vec<FoundIn> = entries
                .iter()
                .filter(|(_, n)| *n == best)
                .map(|(e, _)| FoundIn { place: e.place(), value: e.text() })
                .collect();
            found_in.dedup();
            found.push(FoundCampaign { campaign: summary, found_in });
        }
        Ok(found)
    }
}
