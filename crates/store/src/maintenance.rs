//! Keeping projections honest: rebuild them all from the event log, verify that the stored ones
//! equal a fresh fold, and take an online backup of the whole file.

use std::path::Path;

use rusqlite::TransactionBehavior;
use serde::Serialize;

use super::rows::{
    differing_fields, event_from_row, stream_events_marked, OrderMark, ProjectionRows, CANONICAL_ORDER,
    EVENT_COLUMNS,
};
use super::search::{self, SearchRows};
use super::{Result, Store, StoreError};
use crate::meta::{get_meta, set_meta};
use pluto_domain::event::Event;
use pluto_domain::fold::fold_projection;
use pluto_domain::ids::CampaignId;
use pluto_domain::registry::EventType;

/// The meta key under which the store remembers which event types and versions its projections
/// were folded with ([`EventType::registry_fingerprint`]).
const REGISTRY: &str = "event_registry";

/// After an update (or a downgrade) that changed which event types and versions this build
/// reads, folds again every campaign holding an event kept as received, so that what the new
/// build can read shows without anyone acting. One meta lookup when nothing changed. Returns
/// the number of campaigns folded again.
pub(super) fn refold_for_registry(conn: &mut rusqlite::Connection) -> Result<u64> {
    let fingerprint = EventType::registry_fingerprint();
    if get_meta(conn, REGISTRY)?.as_deref() == Some(fingerprint.as_str()) {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut refolded = 0;
    if get_meta(&tx, REGISTRY)?.as_deref() != Some(fingerprint.as_str()) {
        let streams: Vec<String> = tx
            .prepare("SELECT DISTINCT stream_id FROM events WHERE raw IS NOT NULL ORDER BY stream_id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut projections = ProjectionRows::new(&tx)?;
        for stream in streams {
            let campaign = CampaignId::parse(&stream)
                .map_err(|e| StoreError::Corrupt(format!("events.stream_id: {e}")))?;
            let before = projections.load(&campaign)?.map(|s| s.status);
            let (events, mark) = stream_events_marked(&tx, &campaign)?;
            if let Some(state) = fold_projection(&events) {
                projections.save(&state, mark, before)?;
                refolded += 1;
            }
        }
        drop(projections);
        // Entries this build now reads become findable.
        let mut kept =
            tx.prepare(&format!("SELECT {EVENT_COLUMNS}, seq FROM events WHERE raw IS NOT NULL"))?;
        let mut rows = kept.query([])?;
        while let Some(row) = rows.next()? {
            search::reindex(&tx, row.get(10)?, &search::values_of(&event_from_row(row)?))?;
        }
        drop(rows);
        drop(kept);
        set_meta(&tx, REGISTRY, Some(&fingerprint))?;
    }
    tx.commit()?;
    Ok(refolded)
}

/// Fills the search index from the events when the file has none yet (a store made before
/// find existed) or one built differently by another build. One meta lookup otherwise.
pub(super) fn build_search_if_needed(conn: &mut rusqlite::Connection) -> Result<()> {
    if search::is_current(conn)? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !search::is_current(&tx)? {
        search::clear(&tx)?;
        let mut search = SearchRows::new(&tx);
        for_each_stream(&tx, |stream| index_stream(&mut search, &stream).map(drop))?;
    }
    tx.commit()?;
    Ok(())
}

/// Folds every campaign of a store made before the period balance again, so that its
/// projections hold their flows. One meta lookup otherwise.
pub(super) fn fill_flows_if_needed(conn: &mut rusqlite::Connection) -> Result<()> {
    if get_meta(conn, FLOWS_PENDING)?.is_none() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if get_meta(&tx, FLOWS_PENDING)?.is_some() {
        let mut projections = ProjectionRows::new(&tx)?;
        for_each_stream(&tx, |stream| match fold_projection(stream.events) {
            Some(state) => projections.write(&state, stream.mark),
            None => Ok(()),
        })?;
        drop(projections);
        set_meta(&tx, FLOWS_PENDING, None)?;
    }
    tx.commit()?;
    Ok(())
}

/// Set by migration 10 when it finds campaigns whose flows are not filled yet.
const FLOWS_PENDING: &str = "flows_pending";

/// Set by a migration that changes how events fold (12: the canonical order), with the reason.
const REFOLD_PENDING: &str = "refold_pending";

/// Folds every campaign again, as `rebuild` does, when a migration asked for it: the first
/// opening by a build that folds differently, in one transaction, before anything else reads a
/// projection. One meta lookup otherwise.
pub(super) fn refold_if_needed(conn: &mut rusqlite::Connection) -> Result<()> {
    if get_meta(conn, REFOLD_PENDING)?.is_none() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if get_meta(&tx, REFOLD_PENDING)?.is_some() {
        rebuild_in(&tx)?;
        set_meta(&tx, REFOLD_PENDING, None)?;
        // The refold filled the flows too.
        set_meta(&tx, FLOWS_PENDING, None)?;
    }
    tx.commit()?;
    Ok(())
}

/// Deletes every projection and folds them again from the events, with the counts per status,
/// inside the caller's transaction. Returns the number of campaigns. The find index is left as
/// it is: it holds each entry's own values, which no fold decides (see [`Store::rebuild_find`]).
fn rebuild_in(tx: &rusqlite::Transaction<'_>) -> Result<u64> {
    // Bulk load: the list indexes are dropped and built again from their own stored
    // definitions at the end, which is much cheaper than 80,000 inserts in random key order.
    let indexes: Vec<(String, String)> = tx
        .prepare(
            "SELECT name, sql FROM sqlite_schema
             WHERE type = 'index' AND tbl_name = 'campaign_projections' AND sql IS NOT NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, _) in &indexes {
        tx.execute_batch(&format!("DROP INDEX \"{name}\""))?;
    }
    tx.execute("DELETE FROM campaign_projections", [])?;
    let mut projections = ProjectionRows::new(tx)?;
    let mut rebuilt = 0;
    for_each_stream(tx, |stream| {
        let state = fold_projection(stream.events).expect("streams are never empty");
        projections.write(&state, stream.mark)?;
        rebuilt += 1;
        Ok(())
    })?;
    drop(projections);
    for (_, sql) in &indexes {
        tx.execute_batch(sql)?;
    }
    tx.execute_batch(
        "DELETE FROM campaign_status_counts;
         INSERT INTO campaign_status_counts (status, n)
         SELECT status, COUNT(*) FROM campaign_projections GROUP BY status;",
    )?;
    Ok(rebuilt)
}

/// A difference between a stored projection and a fresh fold of its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// The campaign.
    pub campaign_id: String,
    /// What differs.
    pub problem: String,
}

/// One campaign's events in canonical order, each with its place in the log (`seq`), and where
/// they leave its projection.
struct Stream<'a> {
    events: &'a [Event],
    seqs: &'a [i64],
    mark: OrderMark,
}

/// Calls `each` with every campaign's events, one campaign at a time, so memory stays bounded
/// by the largest campaign rather than the log. The stream index is in this order: nothing is
/// sorted.
fn for_each_stream(
    conn: &rusqlite::Connection,
    mut each: impl FnMut(Stream<'_>) -> Result<()>,
) -> Result<u64> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {EVENT_COLUMNS}, server_position, seq FROM events ORDER BY stream_id, {CANONICAL_ORDER}"
    ))?;
    let mut rows = stmt.query([])?;
    let (mut events, mut seqs): (Vec<Event>, Vec<i64>) = (Vec::new(), Vec::new());
    let mut mark = OrderMark::default();
    let mut streams = 0;
    while let Some(row) = rows.next()? {
        let event = event_from_row(row)?;
        if events.first().is_some_and(|first| first.stream_id != event.stream_id) {
            each(Stream { events: &events, seqs: &seqs, mark })?;
            streams += 1;
            events.clear();
            seqs.clear();
            mark = OrderMark::default();
        }
        mark.push(row.get(10)?);
        seqs.push(row.get(11)?);
        events.push(event);
    }
    if !events.is_empty() {
        each(Stream { events: &events, seqs: &seqs, mark })?;
        streams += 1;
    }
    Ok(streams)
}

/// Indexes every entry of `stream` for find.
fn index_stream(search: &mut SearchRows<'_>, stream: &Stream<'_>) -> Result<u64> {
    let mut indexed = 0;
    for (event, &seq) in stream.events.iter().zip(stream.seqs) {
        let values = search::values_of(event);
        indexed += u64::from(!values.is_empty());
        search.add(seq, &values)?;
    }
    Ok(indexed)
}

impl Store {
    /// Deletes every projection and folds them again from the events, in one transaction.
    /// Returns the number of campaigns rebuilt. The find index, one row per entry that no fold
    /// decides, is rebuilt apart by [`Store::rebuild_find`].
    pub fn rebuild(&mut self) -> Result<u64> {
        // A larger page cache for the duration: every projection page is written once.
        let cache: i64 = self.conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
        self.conn.pragma_update(None, "cache_size", -65_536)?;
        let result = (|| {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let rebuilt = rebuild_in(&tx)?;
            tx.commit()?;
            Ok(rebuilt)
        })();
        self.conn.pragma_update(None, "cache_size", cache)?;
        result
    }

    /// Empties the find index and indexes every entry of the log again, in one transaction (what
    /// `verify` reports as search drift is repaired so). Returns the number of entries that hold
    /// something to find.
    pub fn rebuild_find(&mut self) -> Result<u64> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        search::clear(&tx)?;
        let mut search = SearchRows::new(&tx);
        let mut indexed = 0;
        for_each_stream(&tx, |stream| {
            indexed += index_stream(&mut search, &stream)?;
            Ok(())
        })?;
        tx.commit()?;
        Ok(indexed)
    }

    /// Compares every stored projection with a fresh fold of its events; an empty list means
    /// no drift. Reads inside one transaction, so a concurrent writer cannot cause false alarms.
    pub fn verify(&self) -> Result<Vec<Drift>> {
        // A read transaction: `unchecked` only because it borrows the connection shared.
        let tx = self.conn.unchecked_transaction()?;
        let mut drift = Vec::new();
        let mut seen = 0u64;
        let mut projections = ProjectionRows::new(&tx)?;
        // Find must hold exactly the entries that have something to find, each once.
        let mut unindexed = std::collections::BTreeSet::new();
        for seq in search::indexed_entries(&tx)? {
            if !unindexed.insert(seq) {
                drift.push(Drift {
                    campaign_id: "(all)".into(),
                    problem: format!("search: entry #{seq} is indexed twice"),
                });
            }
        }
        for_each_stream(&tx, |stream| {
            let (events, mark) = (stream.events, stream.mark);
            let fresh = fold_projection(events).expect("streams are never empty");
            seen += 1;
            for (event, seq) in events.iter().zip(stream.seqs) {
                let findable = !search::values_of(event).is_empty();
                if unindexed.remove(seq) != findable {
                    let problem = if findable {
                        format!("search: entry {} is missing from the index", event.id)
                    } else {
                        format!("search: the index holds entry {}, which has nothing to find", event.id)
                    };
                    drift.push(Drift { campaign_id: fresh.id.to_string(), problem });
                }
            }
            match projections.load_marked(&fresh.id)? {
                None => drift
                    .push(Drift { campaign_id: fresh.id.to_string(), problem: "projection missing".into() }),
                Some((stored, _)) if stored != fresh => drift.push(Drift {
                    campaign_id: fresh.id.to_string(),
                    problem: describe_drift(&stored, &fresh),
                }),
                Some((_, stored)) if stored != mark => drift.push(Drift {
                    campaign_id: fresh.id.to_string(),
                    problem: format!("order: stored {stored:?} but events give {mark:?}"),
                }),
                Some(_) => {}
            }
            Ok(())
        })?;
        for seq in unindexed {
            drift.push(Drift {
                campaign_id: "(all)".into(),
                problem: format!("search: the index holds entry #{seq}, which the log does not"),
            });
        }
        let projections: i64 = tx.query_row("SELECT COUNT(*) FROM campaign_projections", [], |r| r.get(0))?;
        if u64::try_from(projections).ok() != Some(seen) {
            let mut stmt = tx.prepare(
                "SELECT id FROM campaign_projections p WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.stream_id = p.id)",
            )?;
            let orphans = stmt.query_map([], |r| r.get::<_, String>(0))?;
            for id in orphans {
                drift.push(Drift { campaign_id: id?, problem: "projection without events".into() });
            }
        }
        let miscounted: i64 = tx.query_row(
            "WITH actual AS (SELECT status, COUNT(*) AS n FROM campaign_projections GROUP BY status),
                  kept AS (SELECT status, n FROM campaign_status_counts WHERE n > 0)
             SELECT (SELECT COUNT(*) FROM (SELECT * FROM actual EXCEPT SELECT * FROM kept))
                  + (SELECT COUNT(*) FROM (SELECT * FROM kept EXCEPT SELECT * FROM actual))",
            [],
            |r| r.get(0),
        )?;
        if let Err(problem) = search::check_index(&tx)? {
            drift.push(Drift { campaign_id: "(all)".into(), problem: format!("search index: {problem}") });
        }
        if miscounted > 0 {
            drift.push(Drift {
                campaign_id: "(all)".into(),
                problem: "campaigns per status disagree with the projections".into(),
            });
        }
        Ok(drift)
    }

    /// Writes a consistent copy of the whole database to `target` with SQLite's online backup,
    /// while others may keep writing. Refuses to overwrite an existing file.
    pub fn backup(&self, target: &Path) -> Result<()> {
        if target.exists() {
            return Err(StoreError::Io {
                context: format!("cannot back up to {}", target.display()),
                error: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "the file already exists; choose a new name",
                ),
            });
        }
        let partial = target.with_extension("partial");
        pluto_files::create_owner_only(&partial).map_err(|error| StoreError::Io {
            context: format!("cannot back up to {}", target.display()),
            error,
        })?;
        self.conn.backup(rusqlite::MAIN_DB, &partial, None::<fn(rusqlite::backup::Progress)>)?;
        pluto_files::replace(&partial, target).map_err(|error| StoreError::Io {
            context: format!("cannot move the backup to {}", target.display()),
            error,
        })
    }
}

fn describe_drift(
    stored: &pluto_domain::state::CampaignState,
    fresh: &pluto_domain::state::CampaignState,
) -> String {
    let fields: Vec<String> = differing_fields(stored, fresh)
        .into_iter()
        .map(|(k, stored, fresh)| format!("{k}: stored {stored} but events give {fresh}"))
        .collect();
    fields.join("; ")
}
