//! The `meta` table: one value per key, for what the store keeps besides events and projections
//! (the device id, the sync state, the site policy, the installation's secrets).

use pluto_domain::SitePolicy;
use rusqlite::{params, Connection, OptionalExtension};

use crate::Result;

/// The sync server's site policy for this laptop's token (JSON of [`SitePolicy`]).
pub(crate) const SITE_POLICY: &str = "sync_site_policy";

/// The cached site policy (see [`crate::Store::site_policy`]); unreadable text reads as none.
pub(crate) fn site_policy(conn: &Connection) -> Result<Option<SitePolicy>> {
    Ok(get_meta(conn, SITE_POLICY)?.and_then(|text| serde_json::from_str(&text).ok()))
}

/// The value kept under `key`.
pub(crate) fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
}

/// Keeps `value` under `key`, or forgets the key for `None`.
pub(crate) fn set_meta(conn: &Connection, key: &str, value: Option<&str>) -> Result<()> {
    match value {
        Some(v) => conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, v],
        )?,
        None => conn.execute("DELETE FROM meta WHERE key = ?1", [key])?,
    };
    Ok(())
}
