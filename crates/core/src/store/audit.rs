//! Audit exports from the store: the chosen events in log order, signed with this
//! installation's key (see [`crate::audit`]).

use std::io::Write;

use rusqlite::types::Value as SqlValue;

use super::rows::{event_from_row, EVENT_COLUMNS};
use super::sync::get_meta;
use super::{Result, Store, StoreError};
use crate::audit::{AuditKey, AuditWriter, Manifest, Selection};
use crate::time::Timestamp;

/// Where the installation's audit key is kept in `meta`.
const AUDIT_KEY_META: &str = "audit_key";

impl Store {
    /// This installation's audit key, made the first time it is asked for. It is kept in the
    /// database, so it is as private as the records and travels with a backup of them.
    pub fn audit_key(&mut self) -> Result<AuditKey> {
        if let Some(stored) = get_meta(&self.conn, AUDIT_KEY_META)? {
            return Ok(AuditKey::from_stored(&stored)?);
        }
        let key = AuditKey::generate()?;
        // OR IGNORE: another process may have made one at the same moment; use the one kept.
        self.conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
            [AUDIT_KEY_META, key.to_stored().as_str()],
        )?;
        let stored = get_meta(&self.conn, AUDIT_KEY_META)?
            .ok_or_else(|| StoreError::Corrupt("meta.audit_key vanished".into()))?;
        Ok(AuditKey::from_stored(&stored)?)
    }

    /// Writes the events `selection` chooses, in this installation's log order, each line as
    /// [`Store::export`] writes it, then the signed manifest. Returns the manifest.
    pub fn export_audit(&mut self, selection: &Selection, out: impl Write) -> Result<Manifest> {
        let key = self.audit_key()?;
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
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {EVENT_COLUMNS}, raw, seq, server_position FROM events {filter} ORDER BY seq"
        ))?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut writer = AuditWriter::new(out);
        let mut line = Vec::new();
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            line.clear();
            match row.get_ref(10)?.as_str_or_null().map_err(|e| StoreError::Corrupt(e.to_string()))? {
                Some(raw) => line.extend_from_slice(raw.as_bytes()),
                None => serde_json::to_writer(&mut line, &event_from_row(row)?)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            }
            writer.event(&id, row.get(11)?, row.get(12)?, &line)?;
        }
        let (manifest, _) =
            writer.finish(&key, self.device_id.as_str(), &Timestamp::now().to_string(), selection.clone())?;
        Ok(manifest)
    }
}
