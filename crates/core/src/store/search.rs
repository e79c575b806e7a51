//! Find: campaigns by their code, description and every reference their entries carry (tracking
//! references, tickets, batch and PO numbers, carriers, approvers), through an SQLite FTS5 index.
//!
//! Each campaign has one search document: the set of its entries' text values, each with where it
//! was recorded (`Granulation — MBA process ticket`). The set is a pure function of the
//! campaign's events, whatever order they arrived in, so adding an event's values to it gives
//! what a rebuild gives. It changes in the transaction that stores the event; `rebuild` builds
//! it again and `verify` checks it.

use std::collections::BTreeSet;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;

use super::query::{summary, CampaignSummary, SUMMARY_COLUMNS};
use super::sync::{get_meta, set_meta};
use super::{Result, Store, StoreError};
use crate::event::Event;
use crate::event_type::FieldKind;
use crate::ids::CampaignId;
use crate::payload::EventType;

/// Separates an entry's place from its value in the stored document.
const PLACE_END: char = '\t';

/// Which fields the index holds and how; stored in meta, so that a build that indexes
/// differently builds the index again when it first opens the file.
const SEARCH_VERSION: &str = "1";
const SEARCH_META: &str = "search_index";

/// The searchable entries of one event: `place\tvalue` for each text value it records, a
/// correction's new text values included. Nothing for an event this build does not know.
pub(super) fn entries_of(event: &Event) -> Vec<String> {
    let mut out = Vec::new();
    let step = event.event_type.label();
    let mut text = |place: String, value: &Value| {
        if let Some(value) = value.as_str().map(str::trim).filter(|v| !v.is_empty()) {
            // One line per entry: line breaks inside a value become spaces.
            let value: String = value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            out.push(format!("{place}{PLACE_END}{value}"));
        }
    };
    if event.event_type == EventType::EventCorrected {
        let corrected = event.data.get("correctsEventType").and_then(Value::as_str).map(EventType::parse);
        let (Some(Ok(corrected)), Some(Value::Object(changes))) = (corrected, event.data.get("changes"))
        else {
            return out;
        };
        for (field, change) in changes {
            if let Some(spec) = corrected.field(field).filter(|s| s.kind == FieldKind::Text) {
                text(format!("{} — {} (corrected)", corrected.label(), spec.label), &change["now"]);
            }
        }
        return out;
    }
    for spec in event.event_type.fields().iter().filter(|s| s.kind == FieldKind::Text) {
        if let Some(value) = event.data.get(spec.name) {
            text(format!("{step} — {}", spec.label), value);
        }
    }
    out
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

    fn stored(&self, campaign: &CampaignId) -> Result<Option<(i64, BTreeSet<String>)>> {
        let row: Option<(i64, String)> = self
            .conn
            .prepare_cached("SELECT id, entries FROM search_docs WHERE campaign_id = ?1")?
            .query_row([campaign.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.map(|(id, entries)| (id, entries.lines().map(str::to_owned).collect())))
    }

    /// Adds entries to a campaign's document (set union); writes only when something is new.
    pub(super) fn add(&mut self, campaign: &CampaignId, entries: Vec<String>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let stored = self.stored(campaign)?;
        let mut all = stored.as_ref().map(|(_, e)| e.clone()).unwrap_or_default();
        let before = all.len();
        all.extend(entries);
        if all.len() == before && stored.is_some() {
            return Ok(());
        }
        self.write(campaign, stored, &all)
    }

    /// Replaces a campaign's document with exactly `entries`.
    pub(super) fn put(&mut self, campaign: &CampaignId, entries: &BTreeSet<String>) -> Result<()> {
        let stored = self.stored(campaign)?;
        if stored.as_ref().is_some_and(|(_, e)| e == entries) || (stored.is_none() && entries.is_empty()) {
            return Ok(());
        }
        self.write(campaign, stored, entries)
    }

    fn write(
        &mut self,
        campaign: &CampaignId,
        stored: Option<(i64, BTreeSet<String>)>,
        entries: &BTreeSet<String>,
    ) -> Result<()> {
        let text = entries.iter().map(String::as_str).collect::<Vec<_>>().join("\n");
        let refs = values(entries);
        if let Some((id, old)) = &stored {
            // External content: the index forgets the old words, given exactly as they were.
            self.conn
                .prepare_cached(
                    "INSERT INTO search_index (search_index, rowid, refs) VALUES ('delete', ?1, ?2)",
                )?
                .execute(params![id, values(old)])?;
        }
        let id: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO search_docs (campaign_id, entries, refs) VALUES (?1, ?2, ?3)
                 ON CONFLICT (campaign_id) DO UPDATE SET entries = excluded.entries, refs = excluded.refs
                 RETURNING id",
            )?
            .query_row(params![campaign.as_str(), text, refs], |r| r.get(0))?;
        self.conn
            .prepare_cached("INSERT INTO search_index (rowid, refs) VALUES (?1, ?2)")?
            .execute(params![id, refs])?;
        Ok(())
    }
}

/// The indexed text of a document: its values only, so that searching "ticket" does not match
/// every campaign by the word in a place's name.
fn values(entries: &BTreeSet<String>) -> String {
    let values: Vec<&str> = entries.iter().filter_map(|e| e.split_once(PLACE_END).map(|(_, v)| v)).collect();
    values.join("\n")
}

/// A campaign's document as its events give it.
pub(super) fn document(events: &[Event]) -> BTreeSet<String> {
    events.iter().flat_map(entries_of).collect()
}

/// Empties the index and its documents (before a rebuild fills them again).
pub(super) fn clear(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "DELETE FROM search_docs;
         INSERT INTO search_index (search_index) VALUES ('delete-all');",
    )?;
    Ok(())
}

/// Whether the stored index was built the way this build builds it.
pub(super) fn is_current(conn: &Connection) -> Result<bool> {
    Ok(get_meta(conn, SEARCH_META)?.as_deref() == Some(SEARCH_VERSION))
}

/// Notes that the index is built the way this build builds it.
pub(super) fn mark_current(conn: &Connection) -> Result<()> {
    set_meta(conn, SEARCH_META, Some(SEARCH_VERSION))
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
            "SELECT d.campaign_id, d.entries FROM search_index JOIN search_docs d ON d.id = search_index.rowid
             WHERE search_index MATCH ?1 ORDER BY search_index.rowid DESC LIMIT ?2",
        )?;
        let rows: Vec<(String, String)> = hits
            .query_map(params![query, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut campaign = self
            .conn
            .prepare_cached(&format!("SELECT {SUMMARY_COLUMNS} FROM campaign_projections WHERE id = ?1"))?;
        let mut found = Vec::with_capacity(rows.len());
        for (id, entries) in rows {
            let Some(summary) = campaign.query_row([&id], summary).optional()? else {
                continue;
            };
            // The entries that hold every word searched for; else those holding any of them.
            let matched = |value: &str| -> usize {
                let have: Vec<String> = words(value).collect();
                wanted.iter().filter(|q| have.iter().any(|w| w.starts_with(q.as_str()))).count()
            };
            let lines: Vec<(&str, &str, usize)> = entries
                .lines()
                .filter_map(|line| line.split_once(PLACE_END))
                .map(|(place, value)| (place, value, matched(value)))
                .filter(|(_, _, n)| *n > 0)
                .collect();
            let best = lines.iter().map(|(_, _, n)| *n).max().unwrap_or(0);
            let found_in = lines
                .into_iter()
                .filter(|(_, _, n)| *n == best)
                .map(|(place, value, _)| FoundIn { place: place.to_owned(), value: value.to_owned() })
                .collect();
            found.push(FoundCampaign { campaign: summary, found_in });
        }
        Ok(found)
    }
}
