//! What the store keeps for sync: which of this laptop's events still need pushing, the server
//! positions of events it holds, the pull cursor, refusals, and the last outcome for the app's
//! status bar. Every change here is one transaction with the data it describes, so an
//! interrupted sync never leaves the cursor ahead of the events it stands for.

use rusqlite::{params, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::remote::{apply_batch, arrivals, RemoteReport};
use super::rows::{event_from_row, EVENT_COLUMNS};
use super::{Result, Store};
use crate::meta::{get_meta, set_meta, site_policy, SITE_POLICY};
use pluto_domain::event::Event;
use pluto_domain::ids::EventId;
use pluto_domain::incoming::Incoming;
use pluto_domain::policy::SitePolicy;
use pluto_domain::time::Timestamp;
use pluto_protocol::{DeviceStatus, PulledEvent};

/// The steps that can follow a campaign's creation, as "Record another step" offers them: the
/// ones this laptop's site may record first, each part in the order a campaign goes through them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct StepOffer {
    /// The site the offer is for: the sync token's, else the profile's.
    pub site: String,
    /// The steps the site may record.
    pub mine: Vec<pluto_domain::registry::EventType>,
    /// The other sites' steps (refused at entry once the server's policy is known).
    pub others: Vec<pluto_domain::registry::EventType>,
    /// Why this laptop would refuse to create a campaign, in words: the server's site policy,
    /// once known, leaves creating campaigns to another site. `None` when it may.
    pub create_refused: Option<String>,
}

/// How a server begins its refusal of an event type it does not know ([`pluto_domain::registry::EventType::parse`]'s
/// words); a refusal of a known type by a rule (the site policy, a second creation) does not.
const UNKNOWN_TYPE: &str = "unknown event type ";

/// A pushed event the server refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Rejection {
    /// The refused event.
    pub event_id: EventId,
    /// `refused`, `conflict` or `forbidden`.
    pub outcome: String,
    /// The field the server named, if any.
    pub field: Option<String>,
    /// The server's reason.
    pub message: String,
    /// When it was refused.
    pub rejected_at: Timestamp,
}

/// One of this laptop's entries the server refused, as the app lists it: which campaign and
/// step, the server's reason, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RefusedEntry {
    /// The refusal.
    pub rejection: Rejection,
    /// The campaign of the entry.
    pub campaign_id: String,
    /// Its LEGO code, when known.
    pub campaign_code: Option<String>,
    /// What the entry records, in words (`Granulation`).
    pub step: String,
    /// When it was recorded on this laptop (the refusal came later, at a sync).
    pub recorded_at: Timestamp,
    /// What the coordinator can do about it.
    pub remedy: String,
}

impl Rejection {
    /// Whether the server refused the entry only because it did not know its type or version
    /// (a server older than this laptop), as opposed to a rule it applied to a type it reads.
    pub fn server_did_not_know_it(&self) -> bool {
        match self.field.as_deref() {
            Some("schemaVersion") => true,
            Some("eventType") => self.message.starts_with(UNKNOWN_TYPE),
            _ => false,
        }
    }

    /// What to do about the refusal, in words.
    pub fn remedy(&self) -> &'static str {
        let site_policy =
            self.message.contains(" may not record ") || self.message.contains(" may not correct ");
        match (self.outcome.as_str(), self.field.as_deref()) {
            ("forbidden", _) | (_, Some("eventType")) if site_policy => {
                "Your site may not record this step. It stays on this laptop, marked, and is never sent: \
                 ask the site whose step it is to record it."
            }
            ("conflict", _) => {
                "The server holds a different entry under the same id. Nothing was overwritten; tell \
                 support and give them the entry's id."
            }
            _ if self.server_did_not_know_it() => {
                "The sync server is older than this Pluto Tracker. The entry is sent again by itself once \
                 the server is updated; nothing to do here."
            }
            _ => {
                "The server found the entry invalid. If a value is wrong, correct it in the campaign's \
                 history; otherwise tell support and give them the entry's id."
            }
        }
    }
}

/// A pulled event this laptop could not take: no version of Pluto could read it, or its id or
/// sequence number already holds another event here. The rest of its page was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PullRefusal {
    /// The event's position in the server's log.
    #[cfg_attr(feature = "specta", specta(type = f64))]
    pub position: i64,
    /// Its id, when that much was readable.
    pub event_id: Option<String>,
    /// The field that is wrong.
    pub field: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// When this laptop refused it.
    pub refused_at: Timestamp,
}

/// Where sync stands, as the status bar shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SyncState {
    /// This laptop's events not yet on the server (refused ones excluded).
    pub pending: u64,
    /// This laptop's events the server refused.
    pub rejected: u64,
    /// The highest device sequence number recorded on this laptop.
    pub highest_local_seq: u64,
    /// The server's last word on this laptop: everything up to this sequence number is there.
    pub server_contiguous_up_to: Option<u64>,
    /// Position in the server's log up to which events have been pulled.
    pub cursor: i64,
    /// When a sync last completed.
    pub last_success_at: Option<Timestamp>,
    /// When a sync was last tried.
    pub last_attempt_at: Option<Timestamp>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// Pulled events this laptop could not take (see [`Store::pull_refusals`]).
    pub pull_refused: u64,
    /// Event types (`Name@version`) the server reads and this build does not, from its last
    /// answer: when any, the server is newer, and an update of this laptop is needed to show
    /// what it may serve.
    pub server_newer_types: Vec<String>,
    /// Entries held here that a newer Pluto recorded and this build does not fully show.
    pub newer_entries: u64,
    /// The last time the sync server was found to have lost entries it had confirmed (restored
    /// from a backup), and what this laptop did about it.
    pub last_rewind: Option<Rewind>,
}

const CURSOR: &str = "sync_cursor";
const CONTIGUOUS: &str = "sync_server_contiguous_up_to";
const LAST_SUCCESS: &str = "sync_last_success_at";
const LAST_ATTEMPT: &str = "sync_last_attempt_at";
const LAST_ERROR: &str = "sync_last_error";
const SERVER_NEWER_TYPES: &str = "sync_server_newer_types";
const SERVER_LOG: &str = "sync_server_log_id";
const LAST_REWIND: &str = "sync_last_rewind";
const LAST_HELD: &str = "sync_last_held_event";
const LAST_HELD_RECEIVED: &str = "sync_last_held_received_at";
/// Names, inside a rewind's transaction only, the position after which server positions may be
/// reset (see migration 16's trigger).
const REWIND_AFTER: &str = "sync_rewind_after";

/// An event this laptop holds at a position of the server's log, as `POST /v1/attest` compares
/// it: its id and the SHA-256 of its canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldEvent {
    /// Its position in the server's log.
    pub position: i64,
    /// The event id.
    pub id: String,
    /// [`pluto_domain::canonical::canonical_sha256`] of the event as this laptop keeps it.
    pub sha256: String,
    /// When the server said it received it, where this laptop kept that (the last entry a
    /// page brought).
    pub received_at: Option<Timestamp>,
}

/// What a rewind did (see [`Store::rewind_after`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Rewind {
    /// The last position at which the server's log still held what this laptop pulled.
    pub after: i64,
    /// Where this laptop's pull cursor stood before.
    pub cursor_was: i64,
    /// This laptop's entries the server had confirmed and lost: sent again by the next push.
    pub own: u64,
    /// Other laptops' entries the server lost: kept here, and taken back at their new positions
    /// when their laptops send them again.
    pub others: u64,
    /// When it happened.
    pub at: Timestamp,
}

impl Store {
    /// Up to `limit` of this laptop's events the server does not have yet, in device order.
    /// Events the server refused are not offered again, nor are those it answered for and has
    /// not served back yet (see [`Store::expire_receipts`]).
    pub fn unsynced(&self, limit: usize) -> Result<Vec<Event>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE device_id = ?1 AND server_position IS NULL
               AND NOT EXISTS (SELECT 1 FROM sync_rejections r WHERE r.event_id = events.id)
               AND NOT EXISTS (SELECT 1 FROM push_receipts p WHERE p.event_id = events.id)
             ORDER BY device_seq LIMIT ?2"
        ))?;
        let mut rows = stmt.query(params![self.device_id.as_str(), limit as i64])?;
        let mut events = Vec::new();
        while let Some(row) = rows.next()? {
            events.push(event_from_row(row)?);
        }
        Ok(events)
    }

    /// Records the outcome of a push in one transaction: the positions the server gave the
    /// accepted events (receipts, until a pull serves them back), refusals with their reasons,
    /// and the server's completeness figure for this laptop.
    pub fn record_push(
        &mut self,
        accepted: &[(EventId, i64)],
        refused: &[Rejection],
        device: &DeviceStatus,
    ) -> Result<()> {
        let mine = device.device_id == self.device_id;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let now = Timestamp::now().to_string();
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO push_receipts (event_id, position, received_at)
                 SELECT id, ?2, ?3 FROM events WHERE id = ?1 AND server_position IS NULL",
            )?;
            for (id, position) in accepted {
                stmt.execute(params![id.as_str(), position, now])?;
            }
        }
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO sync_rejections (event_id, outcome, field, message, rejected_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in refused {
                stmt.execute(params![
                    r.event_id.as_str(),
                    r.outcome,
                    r.field,
                    r.message,
                    r.rejected_at.to_string()
                ])?;
            }
        }
        if mine {
            set_meta(&tx, CONTIGUOUS, Some(&device.contiguous_up_to.to_string()))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Applies one pulled page and advances the cursor in the same transaction, so a crash
    /// between pages loses nothing and repeats nothing. Each event is read on its own with the
    /// tolerant reader and checked with the rules the server applies (`docs/security.md`): one that
    /// this laptop cannot or may not take is recorded as a pull refusal and the rest of the page
    /// is applied, so one bad event never stops a sync.
    pub fn apply_pulled(&mut self, page: &[PulledEvent], next_after: i64) -> Result<RemoteReport> {
        let now = Timestamp::now();
        let mut refusals = Vec::new();
        let mut read = Vec::with_capacity(page.len());
        let policy = site_policy(&self.conn)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut checks = super::admit::PullChecks::new(&tx, &self.device_id, policy);
        for pulled in page {
            let refusal = |field: String, message: String, event_id: Option<String>| PullRefusal {
                position: pulled.position,
                event_id,
                field,
                message,
                refused_at: now,
            };
            match Incoming::read(pulled.event.get()) {
                Ok(incoming) => match checks.admit(pulled, &incoming)? {
                    Ok(()) => read.push((pulled, incoming)),
                    Err(error) => refusals.push(refusal(
                        error.field,
                        error.message,
                        Some(incoming.event.id.to_string()),
                    )),
                },
                Err(malformed) => {
                    refusals.push(refusal(malformed.error.field, malformed.error.message, malformed.id))
                }
            }
        }
        let (served, mut incoming): (Vec<&PulledEvent>, Vec<Incoming>) = read.into_iter().unzip();
        let positions: Vec<i64> = served.iter().map(|p| p.position).collect();
        let mut clashes = Vec::new();
        let mut batch = arrivals(&mut incoming);
        for (arrival, pulled) in batch.iter_mut().zip(&served) {
            arrival.position = Some(pulled.position);
            arrival.site = pulled.site.as_deref();
        }
        let mut report = apply_batch(&tx, batch, Some(&mut clashes))?;
        let mut taken = vec![true; incoming.len()];
        for (index, error) in clashes {
            taken[index] = false;
            refusals.push(PullRefusal {
                position: positions[index],
                event_id: Some(incoming[index].event.id.to_string()),
                field: "id".into(),
                message: error.to_string(),
                refused_at: now,
            });
        }
        // The page is in position order: its last entry taken is what the server must still
        // hold at the next sync (see `Store::last_held`), found then by id, not by a scan.
        if let Some(last) = (0..incoming.len()).rev().find(|&i| taken[i]) {
            set_meta(&tx, LAST_HELD, Some(incoming[last].event.id.as_str()))?;
            let received = served[last].received_at.map(|t| t.to_string());
            set_meta(&tx, LAST_HELD_RECEIVED, received.as_deref())?;
        }
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO pull_refusals (position, event_id, field, message, raw, refused_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for r in &refusals {
                let raw = page.iter().find(|p| p.position == r.position).map_or("", |p| p.event.get());
                stmt.execute(params![
                    r.position,
                    r.event_id,
                    r.field,
                    r.message,
                    raw,
                    r.refused_at.to_string()
                ])?;
            }
        }
        report.refused = refusals.len();
        let cursor: i64 = get_meta(&tx, CURSOR)?.and_then(|c| c.parse().ok()).unwrap_or(0);
        set_meta(&tx, CURSOR, Some(&cursor.max(next_after).to_string()))?;
        tx.commit()?;
        Ok(report)
    }

    /// Ends the receipts of pushed events that a pull up to `cursor` should have served back and
    /// did not: the server answered that it stored them, but does not serve them where it said.
    /// They are pushed again at the next sync. Returns how many.
    pub fn expire_receipts(&mut self, cursor: i64) -> Result<u64> {
        let expired = self.conn.execute(
            "DELETE FROM push_receipts WHERE position <= ?1
               AND event_id IN (SELECT id FROM events WHERE server_position IS NULL)",
            [cursor],
        )?;
        Ok(expired as u64)
    }

    /// Pulled events this laptop could not take, newest first.
    pub fn pull_refusals(&self) -> Result<Vec<PullRefusal>> {
        let mut stmt = self.conn.prepare(
            "SELECT position, event_id, field, message, refused_at FROM pull_refusals ORDER BY position DESC",
        )?;
        let rows =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (position, event_id, field, message, at) = row?;
            let refused_at = Timestamp::parse(&at).map_err(super::StoreError::Corrupt)?;
            out.push(PullRefusal { position, event_id, field, message, refused_at });
        }
        Ok(out)
    }

    /// Remembers which event types the server reads and this build does not (empty: none).
    pub fn record_server_types(&mut self, newer: &[&str]) -> Result<()> {
        let value = (!newer.is_empty()).then(|| newer.join(","));
        set_meta(&self.conn, SERVER_NEWER_TYPES, value.as_deref())
    }

    /// Remembers the sync server's site policy for this laptop's token, so that entry refuses
    /// what the server would refuse ([`Store::record`]).
    /// Returns whether it differs from the policy kept before (what entry may record changed).
    pub fn set_site_policy(&mut self, policy: &SitePolicy) -> Result<bool> {
        let changed = site_policy(&self.conn)?.as_ref() != Some(policy);
        let text = serde_json::to_string(policy).map_err(|e| super::StoreError::Corrupt(e.to_string()))?;
        set_meta(&self.conn, SITE_POLICY, Some(&text))?;
        Ok(changed)
    }

    /// The sync server's site policy for this laptop, as last fetched; `None` before the first
    /// sync with a server that has one (entry is then not restricted).
    pub fn site_policy(&self) -> Result<Option<SitePolicy>> {
        site_policy(&self.conn)
    }

    /// The steps to offer first: those the server's policy lets this laptop's token record, or,
    /// before the first sync with a server, those the default policy gives `profile_site`.
    pub fn step_offer(&self, profile_site: &str) -> Result<StepOffer> {
        let server = self.site_policy()?;
        let create_refused = server.as_ref().and_then(|policy| {
            let create = pluto_domain::registry::EventType::CampaignCreated;
            let message = policy.check(create, None).err()?;
            let creators: Vec<&str> = policy
                .sites
                .iter()
                .filter(|(_, types)| types.iter().any(|t| t == create.as_str()))
                .map(|(site, _)| site.as_str())
                .collect();
            Some(match creators[..] {
                [] => message,
                _ => format!(
                    "{message}; campaigns are created at {} and arrive here with sync",
                    creators.join(", ")
                ),
            })
        });
        let policy = server.unwrap_or_else(|| SitePolicy::default_for(profile_site));
        let steps = pluto_domain::registry::EventType::STEPS
            .iter()
            .copied()
            .filter(|t| *t != pluto_domain::registry::EventType::CampaignCreated);
        let (mine, others) = steps.partition(|t| policy.check(*t, None).is_ok());
        Ok(StepOffer { site: policy.site, mine, others, create_refused })
    }

    /// Offers again the events the server refused because it did not know their type or
    /// version (a server older than this laptop), now that it reads them: `server_types` is its
    /// health answer's `eventTypes` (`Name@version`). Returns how many are offered again.
    pub fn retry_refusals_the_server_now_reads(&mut self, server_types: &[String]) -> Result<u64> {
        if server_types.is_empty() {
            return Ok(0);
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut retried = 0;
        {
            let mut stmt = tx.prepare_cached(
                "DELETE FROM sync_rejections
                 WHERE (field = 'schemaVersion' OR (field = 'eventType' AND substr(message, 1, ?3) = ?4))
                   AND event_id IN (SELECT id FROM events WHERE event_type = ?1 AND schema_version = ?2)",
            )?;
            for entry in server_types {
                let Some((name, version)) = entry.rsplit_once('@') else { continue };
                let Ok(version) = version.parse::<u32>() else { continue };
                retried +=
                    stmt.execute(params![name, version, UNKNOWN_TYPE.len() as i64, UNKNOWN_TYPE])? as u64;
            }
        }
        tx.commit()?;
        Ok(retried)
    }

    /// The identity of the sync server's log this laptop has synced with, once known.
    pub fn server_log_id(&self) -> Result<Option<String>> {
        get_meta(&self.conn, SERVER_LOG)
    }

    /// Remembers the identity of the sync server's log (see [`Store::server_log_id`]).
    pub fn set_server_log_id(&mut self, log_id: &str) -> Result<()> {
        set_meta(&self.conn, SERVER_LOG, Some(log_id))
    }

    /// The entry this laptop holds at the highest server position up to its cursor, if any:
    /// what the server must still hold there for the cursor to stand. The last entry a pulled
    /// page brought, found by its id; else (after a rewind, or a page of refusals only) looked
    /// for among every position.
    pub fn last_held(&self) -> Result<Option<HeldEvent>> {
        let cursor: i64 = get_meta(&self.conn, CURSOR)?.and_then(|c| c.parse().ok()).unwrap_or(0);
        if let Some(id) = get_meta(&self.conn, LAST_HELD)? {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS}, raw, server_position FROM events
                 WHERE id = ?1 AND server_position <= ?2"
            ))?;
            let mut rows = stmt.query(params![id, cursor])?;
            if let Some(row) = rows.next()? {
                let received_at =
                    get_meta(&self.conn, LAST_HELD_RECEIVED)?.and_then(|t| Timestamp::parse(&t).ok());
                return Ok(Some(HeldEvent { received_at, ..held_event(row)? }));
            }
        }
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS}, raw, server_position FROM events
             WHERE server_position IS NOT NULL AND server_position <= ?1
             ORDER BY server_position DESC LIMIT 1"
        ))?;
        let mut rows = stmt.query([cursor])?;
        rows.next()?.map(held_event).transpose()
    }

    /// At most `limit` of the events this laptop holds at server positions in `after + 1 ..=
    /// up_to`, spread evenly over them, in position order: the probes of a search for where a
    /// restored server's log stops holding what this laptop pulled.
    pub fn held_between(&self, after: i64, up_to: i64, limit: usize) -> Result<Vec<HeldEvent>> {
        let positions: Vec<i64> = self
            .conn
            .prepare_cached(
                "SELECT server_position FROM events WHERE server_position > ?1 AND server_position <= ?2
                 ORDER BY server_position",
            )?
            .query_map([after, up_to], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let step = positions.len().div_ceil(limit.max(1)).max(1);
        // The last one always, so that the search narrows to a single position.
        let mut chosen: Vec<i64> = positions.iter().rev().step_by(step).copied().collect();
        chosen.reverse();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS}, raw, server_position FROM events WHERE server_position = ?1"
        ))?;
        let mut held = Vec::with_capacity(chosen.len());
        for position in chosen {
            let mut rows = stmt.query([position])?;
            if let Some(row) = rows.next()? {
                held.push(held_event(row)?);
            }
        }
        Ok(held)
    }

    /// At most `limit` of this laptop's entries the server answered it stored and has not
    /// served back yet, at the positions it gave them.
    pub fn receipts(&self, limit: usize) -> Result<Vec<HeldEvent>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS}, raw, p.position FROM events JOIN push_receipts p ON p.event_id = events.id
             ORDER BY p.position LIMIT ?1"
        ))?;
        let mut rows = stmt.query([limit as i64])?;
        let mut held = Vec::new();
        while let Some(row) = rows.next()? {
            held.push(held_event(row)?);
        }
        Ok(held)
    }

    /// Forgets the receipts of `ids`: the server no longer holds them where it said (restored
    /// from a backup), so they are pushed again.
    pub fn forget_receipts(&mut self, ids: &[String]) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM push_receipts WHERE event_id = ?1")?;
            for id in ids {
                stmt.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The sync server lost its log after position `after` (restored from an earlier backup):
    /// in one transaction, every event held at a later position keeps its content and loses
    /// the position, so that this laptop's own are pushed again and the others' taken back at
    /// their new positions; receipts and pull refusals of those positions are void, the cursor
    /// moves back to `after`, the server's completeness figure is forgotten until it answers
    /// again, and the campaigns concerned are folded again in their new order.
    pub fn rewind_after(&mut self, after: i64) -> Result<Rewind> {
        self.reset_positions_after(after, true)
    }

    /// A new sync server replaces the old one (`pluto sync --adopt-server`): every position of
    /// the old log is forgotten as a rewind to its start forgets them, and so is the old log's
    /// identity, so that the next sync sends this laptop's entries to the new server and takes
    /// its log. Returns how many positions were forgotten.
    pub fn forget_server(&mut self) -> Result<u64> {
        let rewind = self.reset_positions_after(0, false)?;
        set_meta(&self.conn, SERVER_LOG, None)?;
        Ok(rewind.own + rewind.others)
    }

    /// Resets the positions after `after` (see [`Store::rewind_after`]); `remember` keeps the
    /// rewind for the status bar.
    fn reset_positions_after(&mut self, after: i64, remember: bool) -> Result<Rewind> {
        let me = self.device_id.as_str().to_owned();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let cursor_was: i64 = get_meta(&tx, CURSOR)?.and_then(|c| c.parse().ok()).unwrap_or(0);
        let (own, others): (i64, i64) = tx.query_row(
            "SELECT COUNT(*) FILTER (WHERE device_id = ?2), COUNT(*) FILTER (WHERE device_id <> ?2)
             FROM events WHERE server_position > ?1",
            params![after, me],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let campaigns: Vec<String> = tx
            .prepare("SELECT DISTINCT stream_id FROM events WHERE server_position > ?1")?
            .query_map([after], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        set_meta(&tx, REWIND_AFTER, Some(&after.to_string()))?;
        tx.execute("UPDATE events SET server_position = NULL WHERE server_position > ?1", [after])?;
        set_meta(&tx, REWIND_AFTER, None)?;
        tx.execute("DELETE FROM push_receipts WHERE position > ?1", [after])?;
        tx.execute("DELETE FROM pull_refusals WHERE position > ?1", [after])?;
        set_meta(&tx, CURSOR, Some(&cursor_was.min(after).to_string()))?;
        set_meta(&tx, CONTIGUOUS, None)?;
        set_meta(&tx, LAST_HELD, None)?;
        set_meta(&tx, LAST_HELD_RECEIVED, None)?;
        super::remote::refold(&tx, &campaigns)?;
        let rewind =
            Rewind { after, cursor_was, own: own as u64, others: others as u64, at: Timestamp::now() };
        if remember {
            let text =
                serde_json::to_string(&rewind).map_err(|e| super::StoreError::Corrupt(e.to_string()))?;
            set_meta(&tx, LAST_REWIND, Some(&text))?;
        }
        tx.commit()?;
        Ok(rewind)
    }

    /// Remembers the outcome of a sync attempt for the status bar.
    pub fn record_sync_attempt(&mut self, at: Timestamp, error: Option<&str>) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        set_meta(&tx, LAST_ATTEMPT, Some(&at.to_string()))?;
        set_meta(&tx, LAST_ERROR, error)?;
        if error.is_none() {
            set_meta(&tx, LAST_SUCCESS, Some(&at.to_string()))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The highest device sequence number recorded on this laptop: one index lookup, cheap
    /// enough to poll for new local entries.
    pub fn highest_local_seq(&self) -> Result<u64> {
        let seq: i64 = self
            .conn
            .prepare_cached("SELECT COALESCE(MAX(device_seq), 0) FROM events WHERE device_id = ?1")?
            .query_row([self.device_id.as_str()], |r| r.get(0))?;
        Ok(seq as u64)
    }

    /// Where sync stands.
    pub fn sync_state(&self) -> Result<SyncState> {
        let me = self.device_id.as_str();
        let (pending, highest): (i64, i64) = self.conn.query_row(
            "SELECT COUNT(*) FILTER (WHERE server_position IS NULL
                                       AND NOT EXISTS (SELECT 1 FROM sync_rejections r WHERE r.event_id = events.id)
                                       AND NOT EXISTS (SELECT 1 FROM push_receipts p WHERE p.event_id = events.id)),
                    COALESCE(MAX(device_seq), 0)
             FROM events WHERE device_id = ?1",
            [me],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let rejected: i64 = self.conn.query_row("SELECT COUNT(*) FROM sync_rejections", [], |r| r.get(0))?;
        let pull_refused: i64 =
            self.conn.query_row("SELECT COUNT(*) FROM pull_refusals", [], |r| r.get(0))?;
        let newer_entries: i64 = self.conn.query_row(
            "SELECT COALESCE(SUM(newer_entries), 0) FROM campaign_projections",
            [],
            |r| r.get(0),
        )?;
        let last_rewind = get_meta(&self.conn, LAST_REWIND)?.and_then(|t| serde_json::from_str(&t).ok());
        let server_newer_types = get_meta(&self.conn, SERVER_NEWER_TYPES)?
            .map(|types| types.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        let time = |key| -> Result<Option<Timestamp>> {
            Ok(get_meta(&self.conn, key)?.and_then(|t| Timestamp::parse(&t).ok()))
        };
        Ok(SyncState {
            pending: pending as u64,
            rejected: rejected as u64,
            highest_local_seq: highest as u64,
            server_contiguous_up_to: get_meta(&self.conn, CONTIGUOUS)?.and_then(|v| v.parse().ok()),
            cursor: get_meta(&self.conn, CURSOR)?.and_then(|c| c.parse().ok()).unwrap_or(0),
            last_success_at: time(LAST_SUCCESS)?,
            last_attempt_at: time(LAST_ATTEMPT)?,
            last_error: get_meta(&self.conn, LAST_ERROR)?,
            pull_refused: pull_refused as u64,
            server_newer_types,
            newer_entries: newer_entries as u64,
            last_rewind,
        })
    }

    /// Events the server refused, newest first.
    pub fn rejections(&self) -> Result<Vec<Rejection>> {
        let mut stmt = self.conn.prepare(
            "SELECT event_id, outcome, field, message, rejected_at FROM sync_rejections ORDER BY rejected_at DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, outcome, field, message, at) = row?;
            out.push(Rejection {
                event_id: EventId::parse(&id).map_err(|e| super::StoreError::Corrupt(e.to_string()))?,
                outcome,
                field,
                message,
                rejected_at: Timestamp::parse(&at).map_err(super::StoreError::Corrupt)?,
            });
        }
        Ok(out)
    }
}

impl Store {
    /// This laptop's entries the server refused, newest refusal first, with their campaign
    /// and step.
    pub fn refused_entries(&self) -> Result<Vec<RefusedEntry>> {
        let mut places = self.conn.prepare_cached(
            "SELECT e.stream_id, p.lego_campaign_code, e.event_type, e.created_at FROM events e
             LEFT JOIN campaign_projections p ON p.id = e.stream_id WHERE e.id = ?1",
        )?;
        let mut out = Vec::new();
        for rejection in self.rejections()? {
            let (campaign_id, campaign_code, event_type, recorded_at): (
                String,
                Option<String>,
                String,
                String,
            ) = places.query_row([rejection.event_id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            let step = pluto_domain::registry::EventType::parse(&event_type)
                .map_or(event_type, |t| t.label().to_owned());
            let recorded_at = Timestamp::parse(&recorded_at).map_err(super::StoreError::Corrupt)?;
            let remedy = rejection.remedy().to_owned();
            out.push(RefusedEntry { rejection, campaign_id, campaign_code, step, recorded_at, remedy });
        }
        Ok(out)
    }
}

/// A row of `EVENT_COLUMNS, raw, server_position` as a [`HeldEvent`]: the event as an export
/// writes it (exactly as received when a newer Pluto wrote it), hashed in canonical form.
fn held_event(row: &rusqlite::Row<'_>) -> Result<HeldEvent> {
    let corrupt = |e: serde_json::Error| super::StoreError::Corrupt(e.to_string());
    let text = match row.get::<_, Option<String>>(10)? {
        Some(raw) => raw,
        None => serde_json::to_string(&event_from_row(row)?).map_err(corrupt)?,
    };
    let event_id: String = row.get(0)?;
    Ok(HeldEvent {
        position: row.get(11)?,
        id: event_id,
        sha256: pluto_domain::canonical::canonical_sha256(text.as_bytes()).map_err(corrupt)?,
        received_at: None,
    })
}
