//! What an audit export reads from the store: the chosen events in this installation's log
//! order, and the secret it is signed with. The export's format (its hash chain, manifest and
//! signature) is the reports' (`pluto_reports::audit`).

use std::fmt;

use rusqlite::types::Value as SqlValue;
use serde::{Deserialize, Serialize};

use crate::meta::get_meta;
use crate::rows::{event_from_row, EVENT_COLUMNS};
use crate::{Store, StoreError};

/// An audit export's last line, its manifest, begins so (no space); `import` skips it, so that
/// an audit export imports as a plain export.
pub const MANIFEST_PREFIX: &str = "{\"plutoAuditManifest\":";

/// Which events an export holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selection {
    /// Only these campaigns' events; `None`: every campaign's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaigns: Option<Vec<String>>,
    /// Only events recorded at or after this instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Only events recorded before this instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Whether the events are the training database's practice data, not a real record.
    /// Written only when set, so that the manifests of earlier builds read the same.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub training: bool,
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.campaigns {
            Some(ids) => write!(f, "campaigns {}", ids.join(", "))?,
            None => f.write_str("every campaign")?,
        }
        match (&self.from, &self.to) {
            (Some(from), Some(to)) => write!(f, ", recorded from {from} and before {to}")?,
            (Some(from), None) => write!(f, ", recorded from {from}")?,
            (None, Some(to)) => write!(f, ", recorded before {to}")?,
            (None, None) => {}
        }
        if self.training {
            f.write_str(" (TRAINING: practice data, not a real record)")?;
        }
        Ok(())
    }
}

/// One event of the log, as an export writes it.
#[derive(Debug, Clone, Copy)]
pub struct LogLine<'a> {
    /// The event id.
    pub id: &'a str,
    /// Its position in this installation's log.
    pub seq: i64,
    /// Its position in the server's log, when the server has confirmed it.
    pub server_position: Option<i64>,
    /// Its line: the event exactly as it was received, else as this build writes it.
    pub json: &'a [u8],
}

impl Store {
    /// The secret kept under `name` in this installation's database, made by `make` the first
    /// time it is asked for. It is as private as the records and travels with a backup of them.
    pub fn installation_secret<E: From<StoreError>>(
        &mut self,
        name: &str,
        make: impl FnOnce() -> std::result::Result<String, E>,
    ) -> std::result::Result<String, E> {
        if let Some(stored) = get_meta(&self.conn, name)? {
            return Ok(stored);
        }
        let made = make()?;
        // OR IGNORE: another process may have made one at the same moment; use the one kept.
        self.conn
            .execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)", [name, made.as_str()])
            .map_err(StoreError::from)?;
        Ok(get_meta(&self.conn, name)?.ok_or_else(|| StoreError::Corrupt(format!("meta.{name} vanished")))?)
    }

    /// Gives `each` the events `selection` chooses, in this installation's log order, each as
    /// [`Store::export`] writes it.
    pub fn log_lines<E: From<StoreError>>(
        &self,
        selection: &Selection,
        mut each: impl FnMut(LogLine<'_>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut conditions = Vec::new();
        let mut params: Vec<SqlValue> = Vec::new();
        if let Some(campaigns) = &selection.campaigns {
            // One parameter however many campaigns: a period's report may stand on 100,000 of
            // them, past SQLite's limit on parameters.
            conditions.push("stream_id IN (SELECT value FROM json_each(?))".to_owned());
            let ids = serde_json::to_string(campaigns).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            params.push(SqlValue::Text(ids));
        }
        if let Some(from) = &selection.from {
            conditions.push("created_at >= ?".into());
            params.push(SqlValue::Text(from.clone()));
        }
        if let Some(to) = &selection.to {
            conditions.push("created_at < ?".into());
            params.push(SqlValue::Text(to.clone()));
        }
        let filter =
            if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS}, raw, seq, server_position FROM events {filter} ORDER BY seq"
            ))
            .map_err(StoreError::from)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(StoreError::from)?;
        let mut line = Vec::new();
        while let Some(row) = rows.next().map_err(StoreError::from)? {
            let id: String = row.get(0).map_err(StoreError::from)?;
            line.clear();
            let raw = row.get_ref(10).map_err(StoreError::from)?;
            match raw.as_str_or_null().map_err(|e| StoreError::Corrupt(e.to_string()))? {
                Some(raw) => line.extend_from_slice(raw.as_bytes()),
                None => serde_json::to_writer(&mut line, &event_from_row(row)?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            }
            let (seq, server_position) =
                (row.get(11).map_err(StoreError::from)?, row.get(12).map_err(StoreError::from)?);
            each(LogLine { id: &id, seq, server_position, json: &line })?;
        }
        Ok(())
    }
}
